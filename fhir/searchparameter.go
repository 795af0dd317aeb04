package fhir

import (
	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	sppb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/search_parameter_go_proto"
)

// customParam is a MedicationRequest search parameter R4 does not define: it is declared in the
// CapabilityStatement with a definition pointing at the SearchParameter built from it.
type customParam struct {
	code        string
	name        string // computer-friendly (spd-0: [A-Z][A-Za-z0-9_]*)
	typ         c4pb.SearchParamTypeCode_Value
	expression  string // FHIRPath; empty where no element of the resource carries the value
	comparator  []c4pb.SearchComparatorCode_Value
	description string // markdown, also the CapabilityStatement's documentation
}

// customParams are the adapter's own parameters, in the order the CapabilityStatement lists them.
var customParams = []customParam{
	{
		code:       "business-status",
		name:       "MedicationRequestBusinessStatus",
		typ:        c4pb.SearchParamTypeCode_TOKEN,
		expression: "MedicationRequest.extension('" + ExtensionBusinessStatus + "').value",
		description: "The prescription's current EPS status, a code from `" + SystemBusinessStatus +
			"` (e.g. `0006`; the system may be omitted). Sent to Spine's prescription search as " +
			"`prescriptionStatus`. One value per search.",
	},
	{
		code: "prescription-version",
		name: "MedicationRequestPrescriptionVersion",
		typ:  c4pb.SearchParamTypeCode_TOKEN,
		description: "The EPS release the prescription was written under: `1` or `R1` (Release 1, " +
			"GUID-shaped prescription IDs), `2` or `R2` (Release 2, short-form IDs). Sent to Spine's " +
			"prescription search as `prescriptionVersion`; no element of the MedicationRequest " +
			"carries it. One value per search.",
	},
	{
		code:       "group-identifier",
		name:       "MedicationRequestGroupIdentifier",
		typ:        c4pb.SearchParamTypeCode_TOKEN,
		expression: "MedicationRequest.groupIdentifier",
		description: "The prescription ID (`" + SystemPrescriptionID + "|3AF2CB-C86002-0000BX`; the " +
			"system may be omitted), check character included. Retrieves that prescription from " +
			"Spine: one MedicationRequest per line item of the issue shown. Write a `+` check " +
			"character as `%2B`; one left unencoded arrives as a space and is read as `+`.",
	},
	{
		code: "issue",
		name: "MedicationRequestIssue",
		typ:  c4pb.SearchParamTypeCode_NUMBER,
		expression: "MedicationRequest.extension('" + ExtensionMedicationRepeatInfo +
			"').extension('numberOfPrescriptionsIssued').value",
		comparator: []c4pb.SearchComparatorCode_Value{c4pb.SearchComparatorCode_EQ},
		description: "With `group-identifier` only: the issue of a repeat-dispensing prescription " +
			"to show (1 is the first). Without it Spine shows the current issue.",
	},
}

// SearchParameterID is the logical id of the SearchParameter defining the custom MedicationRequest
// parameter code, e.g. "MedicationRequest-business-status".
func SearchParameterID(code string) string { return "MedicationRequest-" + code }

// SearchParameterURL is the canonical URL of that SearchParameter under baseURL, which is where the
// adapter would serve it: {baseURL}/SearchParameter/{id}.
func SearchParameterURL(baseURL, code string) string {
	return strings.TrimRight(baseURL, "/") + "/SearchParameter/" + SearchParameterID(code)
}

// SearchParameters builds the SearchParameter resources defining the adapter's custom
// MedicationRequest parameters (business-status, prescription-version, group-identifier, issue),
// with canonical URLs under baseURL, the same URLs the CapabilityStatement's definitions use.
func SearchParameters(baseURL string) []*sppb.SearchParameter {
	out := make([]*sppb.SearchParameter, 0, len(customParams))
	for _, p := range customParams {
		sp := &sppb.SearchParameter{
			Id:          &d4pb.Id{Value: SearchParameterID(p.code)},
			Url:         &d4pb.Uri{Value: SearchParameterURL(baseURL, p.code)},
			Name:        &d4pb.String{Value: p.name},
			Status:      &sppb.SearchParameter_StatusCode{Value: c4pb.PublicationStatusCode_ACTIVE},
			Description: &d4pb.Markdown{Value: p.description},
			Code:        &d4pb.Code{Value: p.code},
			Base: []*sppb.SearchParameter_BaseCode{
				{Value: c4pb.ResourceTypeCode_MEDICATION_REQUEST},
			},
			Type: &sppb.SearchParameter_TypeCode{Value: p.typ},
			// Spine takes one value of each: neither a,b nor a repeated parameter.
			MultipleOr:  &d4pb.Boolean{Value: false},
			MultipleAnd: &d4pb.Boolean{Value: false},
		}
		if p.expression != "" {
			sp.Expression = &d4pb.String{Value: p.expression}
		}
		for _, c := range p.comparator {
			sp.Comparator = append(sp.Comparator, &sppb.SearchParameter_ComparatorCode{Value: c})
		}
		out = append(out, sp)
	}
	return out
}
