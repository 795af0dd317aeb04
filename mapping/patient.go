package mapping

import (
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	patpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
)

// Patient is the patient a prescription is for, as far as the adapter knows them: the NHS number,
// which is also the id, and nothing else. Spine's tracker gives no name or demographics, so the
// resource is tagged SUBSETTED: it says there is more to the patient than it shows. It is what
// Patient/{nhsNumber} answers for a valid NHS number (tracker.ValidNHSNumber), and what
// _include=MedicationRequest:patient adds.
func Patient(nhsNumber string) *patpb.Patient {
	return &patpb.Patient{
		Id:         &d4pb.Id{Value: nhsNumber},
		Meta:       &d4pb.Meta{Tag: subsettedTag},
		Identifier: []*d4pb.Identifier{identifier(fhir.SystemNHSNumber, nhsNumber)},
	}
}

// patientReference points at Patient(nhsNumber), with the NHS number for clients that do not resolve
// references.
func patientReference(nhsNumber string) *d4pb.Reference {
	return &d4pb.Reference{
		Reference:  &d4pb.Reference_PatientId{PatientId: &d4pb.ReferenceId{Value: nhsNumber}},
		Identifier: identifier(fhir.SystemNHSNumber, nhsNumber),
	}
}
