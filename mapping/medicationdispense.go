package mapping

import (
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	mdpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_dispense_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// MedicationDispenses maps the issue src shows to one MedicationDispense per line item with dispense
// activity, in ordinal order: dispensed (completed), partly dispensed or owing (in-progress), not
// dispensed (declined), and with a known dispenser (preparation). Only a retrieve (src.Full) or the 111
// details say who dispensed; from a search's summary alone there are none.
func MedicationDispenses(src Source, o Options) ([]*mdpb.MedicationDispense, error) {
	v, err := newView(src)
	if err != nil {
		return nil, err
	}
	if !v.full && v.detail == nil {
		return nil, nil
	}
	dispenser := v.dispenser()
	var out []*mdpb.MedicationDispense
	for i := range v.issue.LineItems {
		li := &v.issue.LineItems[i]
		status, ok := dispenseStatus[li.Status]
		if !ok || li.Status == tracker.ItemWithDispenser && dispenser.ODS == "" {
			continue
		}
		med := v.medication(li)
		md := &mdpb.MedicationDispense{
			Id:     &d4pb.Id{Value: MedicationDispenseID(v.p.ID, v.issue.Number, li.Ordinal)},
			Meta:   v.meta(),
			Status: &mdpb.MedicationDispense_StatusCode{Value: status},
			Medication: &mdpb.MedicationDispense_MedicationX{
				Choice: &mdpb.MedicationDispense_MedicationX_CodeableConcept{CodeableConcept: med},
			},
			Subject: patientReference(v.p.PatientNHSNumber),
			AuthorizingPrescription: []*d4pb.Reference{{
				Reference: &d4pb.Reference_MedicationRequestId{MedicationRequestId: &d4pb.ReferenceId{
					Value: MedicationRequestID(v.p.ID, v.issue.Number, li.Ordinal),
				}},
			}},
			Type: &d4pb.CodeableConcept{Coding: []*d4pb.Coding{dispenseTypeCoding(li.Status)}},
		}
		if dispenser.ODS != "" {
			md.Performer = []*mdpb.MedicationDispense_Performer{{Actor: organizationReference(dispenser)}}
		}
		// Only what was (partly) dispensed was handed over; the issue's last dispense date says when.
		if d := v.lastDispenseDate(); !d.IsZero() &&
			(li.Status == tracker.ItemFullyDispensed || li.Status == tracker.ItemPartialDispensed) {
			md.WhenHandedOver = dateTimeDay(d)
		}
		out = append(out, md)
	}
	return out, nil
}
