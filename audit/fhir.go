package audit

import (
	"fmt"
	"strconv"
	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	aepb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/audit_event_go_proto"
)

// Code systems of IHE Basic Audit Log Patterns (BALP) and FHIR R4.
const (
	systemEventType      = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	systemInteraction    = "http://hl7.org/fhir/restful-interaction"
	systemDCM            = "http://dicom.nema.org/resources/ontology/DCM"
	systemSecurityRole   = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
	systemEntityType     = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	systemObjectRole     = "http://terminology.hl7.org/CodeSystem/object-role"
	systemSourceType     = "http://terminology.hl7.org/CodeSystem/security-source-type"
	systemBALPEntityType = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType" // BALP's canonical URL
	systemRoleClass      = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"

	systemNHSNumber      = "https://fhir.nhs.uk/Id/nhs-number"
	systemPrescriptionID = "https://fhir.nhs.uk/Id/prescription-order-number"
	systemODS            = "https://fhir.nhs.uk/Id/ods-organization-code"
	systemUserID         = "https://fhir.nhs.uk/Id/sds-user-id"
	systemRoleProfile    = "https://fhir.nhs.uk/Id/sds-role-profile-id"
	systemClientID       = "urn:ietf:params:oauth:client-id"
)

// AuditEvent renders a record as a FHIR R4 AuditEvent. Access records follow BALP's Query pattern
// (a search: action E, the query as entity.query) or Read pattern (action R, the resource read as
// entity.what); the patient is an entity with role Patient; each agent (user, their organisation,
// the client application, this adapter) is named by identifier. A retention record becomes an
// application-activity event with action D describing what was removed.
func AuditEvent(r Record) (*aepb.AuditEvent, error) {
	if r.MAC == "" {
		return nil, fmt.Errorf("audit: AuditEvent: record %s/%d is not sealed", r.Chain, r.Seq)
	}
	ae := &aepb.AuditEvent{
		Id:       &d4pb.Id{Value: r.ID()},
		Recorded: &d4pb.Instant{ValueUs: r.Time.UnixMicro(), Timezone: "Z", Precision: d4pb.Instant_MICROSECOND},
		Source: &aepb.AuditEvent_Source{
			Site:     str("eps-fhir-tracker"),
			Observer: &d4pb.Reference{Display: str(r.Chain)},
			Type:     []*d4pb.Coding{coding(systemSourceType, "4", "Application Server")},
		},
	}
	if r.Kind == KindRetention {
		retention(ae, r)
		return ae, nil
	}
	ae.Type = coding(systemEventType, "rest", "Restful Operation")
	ae.Action = &aepb.AuditEvent_ActionCode{Value: c4pb.AuditEventActionCode_E}
	ae.Subtype = []*d4pb.Coding{coding(systemInteraction, "search-type", "search")}
	if r.Interaction == "read" {
		ae.Action.Value = c4pb.AuditEventActionCode_R
		ae.Subtype = []*d4pb.Coding{coding(systemInteraction, "read", "read")}
	}
	ae.Outcome, ae.OutcomeDesc = outcome(r.Status, r.Outcome)
	ae.Agent = agents(r)
	ae.Entity = entities(r)
	return ae, nil
}

// outcome maps the HTTP status onto AuditEvent's outcome: refusals are minor failures (the adapter
// worked as intended), server errors serious ones.
func outcome(status int, code string) (*aepb.AuditEvent_OutcomeCode, *d4pb.String) {
	v := c4pb.AuditEventOutcomeCode_SUCCESS
	switch {
	case status >= 500:
		v = c4pb.AuditEventOutcomeCode_SERIOUS_FAILURE
	case status >= 400:
		v = c4pb.AuditEventOutcomeCode_MINOR_FAILURE
	}
	desc := "HTTP " + strconv.Itoa(status)
	if code != "" {
		desc += " " + code
	}
	return &aepb.AuditEvent_OutcomeCode{Value: v}, str(desc)
}

func agents(r Record) []*aepb.AuditEvent_Agent {
	user := &aepb.AuditEvent_Agent{
		Type:      concept(systemSecurityRole, "humanuser", "human user"),
		Who:       &d4pb.Reference{Identifier: identifier(systemUserID, orUnknown(r.UserID))},
		Requestor: &d4pb.Boolean{Value: true},
	}
	if r.RoleProfileID != "" {
		user.Role = []*d4pb.CodeableConcept{concept(systemRoleProfile, r.RoleProfileID, "")}
	}
	out := []*aepb.AuditEvent_Agent{user}
	if r.OrgCode != "" {
		out = append(out, &aepb.AuditEvent_Agent{
			Type: concept(systemRoleClass, "PROV", "healthcare provider"),
			Who: &d4pb.Reference{
				Reference:  &d4pb.Reference_OrganizationId{OrganizationId: &d4pb.ReferenceId{Value: r.OrgCode}},
				Identifier: identifier(systemODS, r.OrgCode),
			},
			Requestor: &d4pb.Boolean{Value: false},
		})
	}
	client := &aepb.AuditEvent_Agent{
		Type:      concept(systemDCM, "110153", "Source Role ID"),
		Requestor: &d4pb.Boolean{Value: false},
	}
	if r.ClientID != "" {
		client.Who = &d4pb.Reference{Identifier: identifier(systemClientID, r.ClientID)}
	}
	if r.ClientAddr != "" {
		client.Network = &aepb.AuditEvent_Agent_Network{
			Address: str(r.ClientAddr),
			Type:    &aepb.AuditEvent_Agent_Network_TypeCode{Value: c4pb.AuditEventAgentNetworkTypeCode_IP_ADDRESS},
		}
	}
	server := &aepb.AuditEvent_Agent{
		Type:      concept(systemDCM, "110152", "Destination Role ID"),
		Who:       &d4pb.Reference{Display: str("eps-fhir-tracker " + r.Chain)},
		Requestor: &d4pb.Boolean{Value: false},
	}
	return append(out, client, server)
}

func entities(r Record) []*aepb.AuditEvent_Entity {
	var out []*aepb.AuditEvent_Entity
	if r.PatientNHS != "" {
		out = append(out, &aepb.AuditEvent_Entity{
			What: &d4pb.Reference{
				Reference:  &d4pb.Reference_PatientId{PatientId: &d4pb.ReferenceId{Value: r.PatientNHS}},
				Identifier: identifier(systemNHSNumber, r.PatientNHS),
			},
			Type: coding(systemEntityType, "1", "Person"),
			Role: coding(systemObjectRole, "1", "Patient"),
		})
	}
	if r.Interaction == "read" {
		if ref := readTarget(r.Query); ref != "" {
			out = append(out, &aepb.AuditEvent_Entity{
				What: &d4pb.Reference{Reference: &d4pb.Reference_Uri{Uri: str(ref)}},
				Type: coding(systemEntityType, "2", "System Object"),
				Role: coding(systemObjectRole, "4", "Domain Resource"),
			})
		}
	}
	if r.Query != "" {
		out = append(out, &aepb.AuditEvent_Entity{
			Type:        coding(systemEntityType, "2", "System Object"),
			Role:        coding(systemObjectRole, "24", "Query"),
			Description: str(r.ResourceType),
			Query:       &d4pb.Base64Binary{Value: []byte(r.Query)},
		})
	}
	for _, id := range r.PrescriptionIDs {
		out = append(out, &aepb.AuditEvent_Entity{
			What: &d4pb.Reference{Identifier: identifier(systemPrescriptionID, id)},
			Type: coding(systemEntityType, "2", "System Object"),
			Role: coding(systemObjectRole, "4", "Domain Resource"),
		})
	}
	if r.RequestID != "" || r.TraceID != "" {
		e := &aepb.AuditEvent_Entity{Type: coding(systemBALPEntityType, "XrequestId", "X-Request-Id")}
		if r.RequestID != "" {
			e.What = &d4pb.Reference{Identifier: &d4pb.Identifier{Value: str(r.RequestID)}}
		}
		if r.TraceID != "" {
			e.Detail = []*aepb.AuditEvent_Entity_Detail{detailString("trace-id", r.TraceID)}
		}
		out = append(out, e)
	}
	return out
}

// readTarget is the "Type/id" a read's path ends with, "" when the path has no such tail.
func readTarget(query string) string {
	path, _, _ := strings.Cut(query, "?")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) < 2 || parts[len(parts)-1] == "" || parts[len(parts)-2] == "" {
		return ""
	}
	return parts[len(parts)-2] + "/" + parts[len(parts)-1]
}

func retention(ae *aepb.AuditEvent, r Record) {
	ae.Type = coding(systemDCM, "110100", "Application Activity")
	ae.Action = &aepb.AuditEvent_ActionCode{Value: c4pb.AuditEventActionCode_D}
	ae.Outcome = &aepb.AuditEvent_OutcomeCode{Value: c4pb.AuditEventOutcomeCode_SUCCESS}
	ae.Agent = []*aepb.AuditEvent_Agent{{
		Type:      concept(systemDCM, "110150", "Application"),
		Who:       &d4pb.Reference{Display: str("eps-fhir-tracker " + r.Chain)},
		Requestor: &d4pb.Boolean{Value: true},
	}}
	if p := r.Pruned; p != nil {
		ae.OutcomeDesc = str(fmt.Sprintf("retention removed %d audit records (seq %d to %d) older than %s",
			p.Removed, p.FromSeq, p.ThroughSeq, p.Before))
	}
}

func str(s string) *d4pb.String { return &d4pb.String{Value: s} }

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func coding(system, code, display string) *d4pb.Coding {
	c := &d4pb.Coding{System: &d4pb.Uri{Value: system}, Code: &d4pb.Code{Value: code}}
	if display != "" {
		c.Display = str(display)
	}
	return c
}

func concept(system, code, display string) *d4pb.CodeableConcept {
	return &d4pb.CodeableConcept{Coding: []*d4pb.Coding{coding(system, code, display)}}
}

func identifier(system, value string) *d4pb.Identifier {
	return &d4pb.Identifier{System: &d4pb.Uri{Value: system}, Value: str(value)}
}

func detailString(typ, value string) *aepb.AuditEvent_Entity_Detail {
	return &aepb.AuditEvent_Entity_Detail{
		Type: str(typ),
		Value: &aepb.AuditEvent_Entity_Detail_ValueX{
			Choice: &aepb.AuditEvent_Entity_Detail_ValueX_StringValue{StringValue: str(value)},
		},
	}
}
