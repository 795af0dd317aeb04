package fhir

import (
	"time"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	cspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/capability_statement_go_proto"
	vs4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/valuesets_go_proto"
)

// CapabilityOptions is what the CapabilityStatement needs to know about this instance.
type CapabilityOptions struct {
	// BaseURL is the public base of the FHIR API, e.g. http://127.0.0.1:8080/FHIR/R4.
	BaseURL string
	// SoftwareName and SoftwareVersion name the build; the name defaults to eps-fhir-tracker.
	SoftwareName, SoftwareVersion string
	// Now is the statement's date (start-up time); zero means the current time.
	Now time.Time
	// DetailedInteractions reports whether Spine's 111 detail calls are on, i.e. whether
	// MedicationRequests name their medication.
	DetailedInteractions bool
	// Security is the markdown describing how clients authenticate and what they may do.
	Security string
	// AuthorizeURL and TokenURL are the authorization server's endpoints, advertised with SMART's
	// oauth-uris extension; empty leaves the extension out.
	AuthorizeURL, TokenURL string
	// CORS says whether browser origins are allowed (EPS_CORS_ORIGINS).
	CORS bool
	// AuditEvent says whether the audit trail can be searched (GET AuditEvent).
	AuditEvent bool
}

const defaultSecurity = "Bearer access tokens (SMART on FHIR) are required on every resource but this " +
	"statement, the SearchParameters and SMART discovery."

// SMART on FHIR's security service coding and its oauth-uris extension (SMART App Launch 1.0, which
// 2.x keeps beside .well-known/smart-configuration).
const (
	systemRestfulSecurityService = "http://terminology.hl7.org/CodeSystem/restful-security-service"
	extensionOAuthURIs           = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
)

// CapabilityStatement describes exactly what the adapter serves: MedicationRequest read and search,
// the includes and revinclude it honours, and the resources that appear only through them.
func CapabilityStatement(o CapabilityOptions) *cspb.CapabilityStatement {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.Truncate(time.Second) // the precision the date is written with
	software := o.SoftwareName
	if software == "" {
		software = "eps-fhir-tracker"
	}
	security := o.Security
	if security == "" {
		security = defaultSecurity
	}
	cs := &cspb.CapabilityStatement{
		Name:   &d4pb.String{Value: "EPSPrescriptionTrackerFHIRAdapter"},
		Title:  &d4pb.String{Value: "EPS Prescription Tracker FHIR R4 adapter"},
		Status: &cspb.CapabilityStatement_StatusCode{Value: c4pb.PublicationStatusCode_ACTIVE},
		Date: &d4pb.DateTime{
			ValueUs:   now.UnixMicro(),
			Timezone:  "Z",
			Precision: d4pb.DateTime_SECOND,
		},
		Description: markdown("A read-only FHIR R4 view of NHS England's EPS Prescription Tracker " +
			"(Spine): the prescriptions of a patient, and a prescription's line items, as " +
			"MedicationRequests."),
		Kind:        &cspb.CapabilityStatement_KindCode{Value: c4pb.CapabilityStatementKindCode_INSTANCE},
		Software:    &cspb.CapabilityStatement_Software{Name: &d4pb.String{Value: software}},
		FhirVersion: &cspb.CapabilityStatement_FhirVersionCode{Value: c4pb.FHIRVersionCode_V_4_0_1},
		Format: []*cspb.CapabilityStatement_FormatCode{
			{Value: "application/fhir+json"},
			{Value: "json"},
		},
		Implementation: &cspb.CapabilityStatement_Implementation{
			Description: &d4pb.String{Value: "EPS Prescription Tracker FHIR R4 adapter"},
		},
		Rest: []*cspb.CapabilityStatement_Rest{{
			Mode: &cspb.CapabilityStatement_Rest_ModeCode{Value: c4pb.RestfulCapabilityModeCode_SERVER},
			Documentation: markdown("Answers are FHIR JSON: `application/fhir+json`, or " +
				"`application/json` when the client asks for it (`_format`, `Accept`); anything else " +
				"is a 406. `_pretty=true` indents them. Errors are always `application/fhir+json` " +
				"OperationOutcomes. Unknown search parameters are ignored and left out of the " +
				"`self` link unless the request carries `Prefer: handling=strict`, which makes " +
				"them a 400."),
			Security: restSecurity(o, security),
			Resource: []*cspb.CapabilityStatement_Rest_Resource{
				medicationRequest(o),
				readOnly(c4pb.ResourceTypeCode_MEDICATION_DISPENSE, "One per line item a pharmacy acted on "+
					"(fully dispensed `completed`, not dispensed `declined`, partly dispensed or owing "+
					"`in-progress`), from the same Spine data as its MedicationRequest: returned by "+
					"`_revinclude=MedicationDispense:prescription` and readable at the id it gives "+
					"(`d-` and the MedicationRequest's id)."),
				readOnly(c4pb.ResourceTypeCode_PATIENT, "The adapter has no demographics: a Patient holds "+
					"only the NHS number identifier, tagged SUBSETTED. Readable for any valid NHS number "+
					"(audited as an access to patient data); returned once per Bundle by "+
					"`_include=MedicationRequest:patient`."),
				readOnly(c4pb.ResourceTypeCode_ORGANIZATION, "Prescribers and pharmacies (ODS code as id), "+
					"as Spine named them in the answers this server has given: an ODS code never seen "+
					"is a 404 that says so. Returned once per Bundle by `_include=MedicationRequest:requester`."),
				{
					Type: &cspb.CapabilityStatement_Rest_Resource_TypeCode{Value: c4pb.ResourceTypeCode_SEARCH_PARAMETER},
					Interaction: []*cspb.CapabilityStatement_Rest_Resource_ResourceInteraction{
						interaction(vs4pb.TypeRestfulInteractionValueSet_READ,
							"The definitions of the custom MedicationRequest search parameters, at the "+
								"canonical URLs this statement gives them."),
					},
				},
			},
		}},
	}
	if o.AuditEvent {
		cs.Rest[0].Resource = append(cs.Rest[0].Resource, auditEvent())
	}
	if o.BaseURL != "" {
		cs.Implementation.Url = &d4pb.Url{Value: o.BaseURL}
	}
	if o.SoftwareVersion != "" {
		cs.Software.Version = &d4pb.String{Value: o.SoftwareVersion}
	}
	return cs
}

func medicationRequest(o CapabilityOptions) *cspb.CapabilityStatement_Rest_Resource {
	medication := "Without Spine's detail calls (`SPINE_DETAILED_INTERACTIONS`) Spine does not " +
		"say which medication was prescribed: `medicationCodeableConcept` then carries only a " +
		"`data-absent-reason` (`unknown`) extension."
	if o.DetailedInteractions {
		medication = "Where the user may have Spine's detail calls, the full form names the " +
			"medication (dm+d code and description) and the summary form names it for a " +
			"single-line prescription only (from Spine's item summary); otherwise " +
			"`medicationCodeableConcept` carries only a `data-absent-reason` (`unknown`) extension."
	}
	r := &cspb.CapabilityStatement_Rest_Resource{
		Type: &cspb.CapabilityStatement_Rest_Resource_TypeCode{Value: c4pb.ResourceTypeCode_MEDICATION_REQUEST},
		Documentation: markdown("One MedicationRequest per line item of the issue shown. Ids are " +
			"`{prescription ID with its + check character written .}-{issue}-{line}`, e.g. " +
			"`3AF2CB-C86002-0000BX-2-1`. A patient search returns the current issue of each " +
			"prescription in the full form (one Spine retrieve per prescription on the page), or " +
			"with `_summary=true` in the summary form (Spine's one search: no line-item id or " +
			"prescriber), tagged SUBSETTED. A `group-identifier` search and a read return the " +
			"full form. Searches need a patient or a `group-identifier`. " +
			medication),
		Interaction: []*cspb.CapabilityStatement_Rest_Resource_ResourceInteraction{
			interaction(vs4pb.TypeRestfulInteractionValueSet_READ, "Unknown or malformed ids are a 404."),
			interaction(vs4pb.TypeRestfulInteractionValueSet_SEARCH_TYPE, "Results in a stable "+
				"order: authoredOn descending, then prescription, issue and line."),
		},
		// Every spelling the search accepts: with and without the target type, and subject as patient.
		SearchInclude: []*d4pb.String{
			{Value: "MedicationRequest:patient"},
			{Value: "MedicationRequest:patient:Patient"},
			{Value: "MedicationRequest:subject"},
			{Value: "MedicationRequest:subject:Patient"},
			{Value: "MedicationRequest:requester"},
			{Value: "MedicationRequest:requester:Organization"},
		},
		SearchRevInclude: []*d4pb.String{
			{Value: "MedicationDispense:prescription"},
			{Value: "MedicationDispense:prescription:MedicationRequest"},
		},
		SearchParam: []*cspb.CapabilityStatement_Rest_Resource_SearchParam{
			searchParam("patient", c4pb.SearchParamTypeCode_REFERENCE,
				"http://hl7.org/fhir/SearchParameter/clinical-patient",
				"One patient per search, by NHS number: `patient:identifier="+SystemNHSNumber+
					"|9691003120` (the system may be omitted), `patient.identifier=...`, "+
					"`patient=Patient/9691003120` or `patient=9691003120`."),
			searchParam("subject", c4pb.SearchParamTypeCode_REFERENCE,
				"http://hl7.org/fhir/SearchParameter/MedicationRequest-subject",
				"As `patient`, for a Patient only: `subject:identifier="+SystemNHSNumber+
					"|9691003120`, `subject.identifier=...` or `subject=Patient/9691003120` (a bare "+
					"`subject=9691003120` is a 400, since a subject may be a Group)."),
			searchParam("authoredon", c4pb.SearchParamTypeCode_DATE,
				"http://hl7.org/fhir/SearchParameter/MedicationRequest-authoredon",
				"Prefixes `eq`, `ge`, `gt`, `le`, `lt` (others are a 400), any precision from the "+
					"year to the second (a year or month is the range it spans; `eq` finer than a "+
					"second is a 400), in UTC, up to two values forming a range. Without one the search "+
					"covers Spine's default of the last 28 days, shown in the `self` link."),
			searchParam("status", c4pb.SearchParamTypeCode_TOKEN,
				"http://hl7.org/fhir/SearchParameter/medications-status",
				"Filters on the status mapped from each line item's status."),
		},
	}
	for _, p := range customParams {
		r.SearchParam = append(r.SearchParam,
			searchParam(p.code, p.typ, SearchParameterURL(o.BaseURL, p.code), p.description))
	}
	// Result parameters, listed so that a client can see which work; R4 defines no
	// SearchParameter for them.
	r.SearchParam = append(r.SearchParam,
		searchParam("_count", c4pb.SearchParamTypeCode_NUMBER, "",
			"Page size. Further pages are reached through the `next` and `previous` links."),
		searchParam("_summary", c4pb.SearchParamTypeCode_TOKEN, "",
			"`true`: a patient search in the summary form (one Spine search, no prescriber or "+
				"line-item id); a `group-identifier` search always answers in the full form, so "+
				"there it is ignored (a 400 with `Prefer: handling=strict`). `count`: a Bundle "+
				"with `total` and no entries."),
	)
	return r
}

// readOnly is a resource type the server reads by id but does not search.
func readOnly(typ c4pb.ResourceTypeCode_Value, doc string) *cspb.CapabilityStatement_Rest_Resource {
	return &cspb.CapabilityStatement_Rest_Resource{
		Type:          &cspb.CapabilityStatement_Rest_Resource_TypeCode{Value: typ},
		Documentation: markdown(doc),
		Interaction: []*cspb.CapabilityStatement_Rest_Resource_ResourceInteraction{
			interaction(vs4pb.TypeRestfulInteractionValueSet_READ, "Every reference this server emits to one resolves."),
		},
	}
}

// auditEvent declares the audit trail's search, for auditors.
func auditEvent() *cspb.CapabilityStatement_Rest_Resource {
	r := &cspb.CapabilityStatement_Rest_Resource{
		Type: &cspb.CapabilityStatement_Rest_Resource_TypeCode{Value: c4pb.ResourceTypeCode_AUDIT_EVENT},
		Documentation: markdown("The local audit trail of every access to patient data (IHE BALP), newest " +
			"first, for users whose role carries an auditor activity code and scope " +
			"`user/AuditEvent.rs`. Reading it is itself audited."),
		Interaction: []*cspb.CapabilityStatement_Rest_Resource_ResourceInteraction{
			interaction(vs4pb.TypeRestfulInteractionValueSet_SEARCH_TYPE, "At least one of patient, agent or date."),
		},
		SearchParam: []*cspb.CapabilityStatement_Rest_Resource_SearchParam{
			searchParam("patient", c4pb.SearchParamTypeCode_REFERENCE, "http://hl7.org/fhir/SearchParameter/AuditEvent-patient",
				"`Patient/{NHS number}`, an NHS number, or `patient:identifier="+SystemNHSNumber+"|{NHS number}`."),
			searchParam("agent", c4pb.SearchParamTypeCode_REFERENCE, "http://hl7.org/fhir/SearchParameter/AuditEvent-agent",
				"The user id of who accessed: `agent={user id}`, or "+
					"`agent:identifier=https://fhir.nhs.uk/Id/sds-user-id|{user id}`."),
			searchParam("date", c4pb.SearchParamTypeCode_DATE, "http://hl7.org/fhir/SearchParameter/AuditEvent-date",
				"Prefixes `eq`, `ge`, `gt`, `le`, `lt`."),
			searchParam("_count", c4pb.SearchParamTypeCode_NUMBER, "", "Page size; further pages by the `next` link."),
		},
	}
	return r
}

// restSecurity is rest.security: SMART on FHIR, with the authorization server's endpoints.
func restSecurity(o CapabilityOptions, description string) *cspb.CapabilityStatement_Rest_Security {
	sec := &cspb.CapabilityStatement_Rest_Security{
		Cors: &d4pb.Boolean{Value: o.CORS},
		Service: []*d4pb.CodeableConcept{{
			Coding: []*d4pb.Coding{{
				System:  &d4pb.Uri{Value: systemRestfulSecurityService},
				Code:    &d4pb.Code{Value: "SMART-on-FHIR"},
				Display: &d4pb.String{Value: "SMART-on-FHIR"},
			}},
			Text: &d4pb.String{Value: "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)"},
		}},
		Description: markdown(description),
	}
	if o.AuthorizeURL != "" && o.TokenURL != "" {
		uri := func(url, value string) *d4pb.Extension {
			return &d4pb.Extension{
				Url:   &d4pb.Uri{Value: url},
				Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Uri{Uri: &d4pb.Uri{Value: value}}},
			}
		}
		sec.Extension = []*d4pb.Extension{{
			Url:       &d4pb.Uri{Value: extensionOAuthURIs},
			Extension: []*d4pb.Extension{uri("authorize", o.AuthorizeURL), uri("token", o.TokenURL)},
		}}
	}
	return sec
}

func interaction(code vs4pb.TypeRestfulInteractionValueSet_Value, doc string) *cspb.CapabilityStatement_Rest_Resource_ResourceInteraction {
	return &cspb.CapabilityStatement_Rest_Resource_ResourceInteraction{
		Code:          &cspb.CapabilityStatement_Rest_Resource_ResourceInteraction_CodeType{Value: code},
		Documentation: markdown(doc),
	}
}

func searchParam(name string, typ c4pb.SearchParamTypeCode_Value, definition, doc string) *cspb.CapabilityStatement_Rest_Resource_SearchParam {
	sp := &cspb.CapabilityStatement_Rest_Resource_SearchParam{
		Name:          &d4pb.String{Value: name},
		Type:          &cspb.CapabilityStatement_Rest_Resource_SearchParam_TypeCode{Value: typ},
		Documentation: markdown(doc),
	}
	if definition != "" {
		sp.Definition = &d4pb.Canonical{Value: definition}
	}
	return sp
}

func markdown(s string) *d4pb.Markdown { return &d4pb.Markdown{Value: s} }
