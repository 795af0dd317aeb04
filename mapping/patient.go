package mapping

import (
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	patpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
)

// Patient is the patient a prescription is for, as far as Spine describes them: the NHS number, which is
// also the id. Spine gives no name or demographics.
func Patient(nhsNumber string) *patpb.Patient {
	return &patpb.Patient{
		Id:         &d4pb.Id{Value: nhsNumber},
		Identifier: []*d4pb.Identifier{identifier(SystemNHSNumber, nhsNumber)},
	}
}

// patientReference points at Patient(nhsNumber), with the NHS number for clients that do not resolve
// references.
func patientReference(nhsNumber string) *d4pb.Reference {
	return &d4pb.Reference{
		Reference:  &d4pb.Reference_PatientId{PatientId: &d4pb.ReferenceId{Value: nhsNumber}},
		Identifier: identifier(SystemNHSNumber, nhsNumber),
	}
}
