package mapping

import (
	"regexp"

	"strings"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
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
		Identifier: []*d4pb.Identifier{identifier(fhir.SystemODSOrganization, org.ODS)},
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

var (
	odsShape  = regexp.MustCompile(`^[A-Z0-9]{3,10}$`)
	allDigits = regexp.MustCompile(`^[0-9]{10}$`)
)

// OrganizationByCode is an Organization known by its ODS code alone, tagged SUBSETTED: what the
// adapter can say of an organisation Spine has not described to it. It is nil for what cannot be an
// ODS code (3 to 10 upper-case letters and digits, not an NHS number's 10 digits), so that a read of
// anything else is a 404 rather than an organisation made up from the id.
func OrganizationByCode(ods string) *orgpb.Organization {
	if !odsShape.MatchString(ods) || allDigits.MatchString(ods) {
		return nil
	}
	o := Organization(tracker.Organisation{ODS: ods})
	if o != nil {
		o.Meta = &d4pb.Meta{Tag: subsettedTag}
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
	return MergeOrganisation(src.Prescription.Prescriber, d)
}

// Organisations lists the ODS-coded organisations src mentions, each once, in this order: the
// prescriber, the nominated dispenser, the dispenser of the issue shown (each completed from the 111
// details when they name the same one). They are what the resources mapped from src reference as
// Organization/{ods}; organisations are not patient data, so a cache shared across users may keep
// them to answer Organization/{ods} with Organization(org). An error means src cannot be mapped.
func Organisations(src Source) ([]tracker.Organisation, error) {
	v, err := newView(src)
	if err != nil {
		return nil, err
	}
	var out []tracker.Organisation
	for _, org := range [...]tracker.Organisation{v.prescriber(), v.nominatedDispenser(), v.dispenser()} {
		if org.ODS == "" {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || strings.EqualFold(o.ODS, org.ODS)
		}
		if !dup {
			out = append(out, org)
		}
	}
	return out, nil
}

// organizationReference points at Organization(org), with the ODS code and name for clients that do
// not resolve references.
func organizationReference(org tracker.Organisation) *d4pb.Reference {
	r := &d4pb.Reference{
		Reference:  &d4pb.Reference_OrganizationId{OrganizationId: &d4pb.ReferenceId{Value: org.ODS}},
		Identifier: identifier(fhir.SystemODSOrganization, org.ODS),
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
