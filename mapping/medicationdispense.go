package mapping

import (
	"strings"

	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	mdpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_dispense_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// MedicationDispenses maps the issue src shows to one MedicationDispense per line item a pharmacy
// acted on, in ordinal order: dispensed (completed), not dispensed (declined), partly dispensed or
// owing (in-progress). Only a retrieve (src.Full) or the 111 details say who dispensed; from a
// search's summary alone there are none.
func MedicationDispenses(src Source) ([]*mdpb.MedicationDispense, error) {
	v, err := newView(src)
	if err != nil {
		return nil, err
	}
	return v.dispenses(), nil
}

// MedicationDispense is the MedicationDispense of line ordinal of the issue src shows, for a read of
// MedicationDispense/{id} (ParseMedicationDispenseID gives the prescription, issue and ordinal to
// retrieve). It is nil, without an error, when that line has no dispense: the read is a 404.
func MedicationDispense(src Source, ordinal int) (*mdpb.MedicationDispense, error) {
	v, err := newView(src)
	if err != nil {
		return nil, err
	}
	if !v.hasDispenses() {
		return nil, nil
	}
	for i := range v.issue.LineItems {
		if li := &v.issue.LineItems[i]; li.Ordinal == ordinal {
			return v.medicationDispense(li), nil
		}
	}
	return nil, nil
}

func (v *view) hasDispenses() bool { return v.full || v.detail != nil }

func (v *view) dispenses() []*mdpb.MedicationDispense {
	if !v.hasDispenses() {
		return nil
	}
	var out []*mdpb.MedicationDispense
	for i := range v.issue.LineItems {
		if md := v.medicationDispense(&v.issue.LineItems[i]); md != nil {
			out = append(out, md)
		}
	}
	return out
}

// medicationDispense maps one line item, nil when no pharmacy acted on it. It follows the
// NHSDigital-MedicationDispense profile where Spine has the data: the prescription's status extension
// (exactly one), the line item's identifier.
func (v *view) medicationDispense(li *tracker.LineItem) *mdpb.MedicationDispense {
	lc := lines[li.Status]
	if lc.dispenseStatus == nil {
		return nil
	}
	md := &mdpb.MedicationDispense{
		Id:        &d4pb.Id{Value: MedicationDispenseID(v.p.ID, v.issue.Number, li.Ordinal)},
		Meta:      v.meta,
		Extension: []*d4pb.Extension{v.businessStatus},
		Status:    lc.dispenseStatus,
		Medication: &mdpb.MedicationDispense_MedicationX{
			Choice: &mdpb.MedicationDispense_MedicationX_CodeableConcept{CodeableConcept: v.medication(li)},
		},
		Subject: patientReference(v.p.PatientNHSNumber),
		AuthorizingPrescription: []*d4pb.Reference{{
			Reference: &d4pb.Reference_MedicationRequestId{MedicationRequestId: &d4pb.ReferenceId{
				Value: MedicationRequestID(v.p.ID, v.issue.Number, li.Ordinal),
			}},
		}},
		Type: lc.dispenseType,
	}
	if id := v.lineItemID(li); id != "" {
		md.Identifier = []*d4pb.Identifier{identifier(fhir.SystemLineItemID, strings.ToLower(id))}
	}
	if org := v.dispenser(); org.ODS != "" {
		md.Performer = []*mdpb.MedicationDispense_Performer{{Actor: organizationReference(org)}}
	}
	// Only what was (partly) dispensed was handed over; the issue's last dispense date says when.
	if d := v.lastDispenseDate(); !d.IsZero() &&
		(li.Status == tracker.ItemFullyDispensed || li.Status == tracker.ItemPartialDispensed) {
		md.WhenHandedOver = dateTimeDay(d)
	}
	return md
}
