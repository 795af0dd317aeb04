package mapping

import (
	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Organization is an ODS-coded organisation (prescriber or pharmacy); its id is the ODS code. It is nil
// when Spine gives no ODS code, or one that cannot be a FHIR id.
func Organization(org tracker.Organisation) *orgpb.Organization {
	if !odsCode.MatchString(org.ODS) {
		return nil
	}
	o := &orgpb.Organization{
		Id:         &d4pb.Id{Value: org.ODS},
		Identifier: []*d4pb.Identifier{identifier(SystemODSOrganization, org.ODS)},
	}
	if name := orgName(org); name != "" {
		o.Name = &d4pb.String{Value: name}
	}
	if org.Phone != "" {
		o.Telecom = []*d4pb.ContactPoint{{
			System: &d4pb.ContactPoint_SystemCode{Value: c4pb.ContactPointSystemCode_PHONE},
			Value:  &d4pb.String{Value: org.Phone},
		}}
	}
	if org.Address != "" {
		o.Address = []*d4pb.Address{{Text: &d4pb.String{Value: org.Address}}}
	}
	return o
}

// Prescriber is the prescribing organisation src knows of: the retrieve's, completed from the 111
// details (or theirs alone). Its ODS code is empty when neither says. It is what a MedicationRequest's
// requester points at.
func Prescriber(src Source) tracker.Organisation {
	var d tracker.Organisation
	if src.Detail != nil {
		d = src.Detail.Prescriber
	}
	if src.Prescription == nil {
		return d
	}
	return merge(src.Prescription.Prescriber, d)
}

// organizationReference points at Organization(org), with the ODS code and name for clients that do
// not resolve references.
func organizationReference(org tracker.Organisation) *d4pb.Reference {
	r := &d4pb.Reference{
		Reference:  &d4pb.Reference_OrganizationId{OrganizationId: &d4pb.ReferenceId{Value: org.ODS}},
		Identifier: identifier(SystemODSOrganization, org.ODS),
	}
	if name := orgName(org); name != "" {
		r.Display = &d4pb.String{Value: name}
	}
	return r
}

// orgName drops Spine's "Not Found" stand-in for a name it does not know.
func orgName(org tracker.Organisation) string {
	if strings.EqualFold(strings.TrimSpace(org.Name), "Not Found") {
		return ""
	}
	return org.Name
}
