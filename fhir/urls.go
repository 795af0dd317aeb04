package fhir

// The one home of the FHIR identifier systems, code systems and extension URLs the adapter emits and
// reads (SPEC 4.5, FHIR-API.md section 4): part of the wire format, used by mapping and by this
// package's SearchParameters and CapabilityStatement. A URL spelled twice drifts.
//
// The prescription-ID rules (shape, check character, normalisation) live with the domain, in
// tracker (ValidPrescriptionID, NormalisePrescriptionID, CheckCharacter); the resource-id rules that
// build on them live in mapping's id.go.

// Identifier systems.
const (
	SystemNHSNumber       = "https://fhir.nhs.uk/Id/nhs-number"
	SystemPrescriptionID  = "https://fhir.nhs.uk/Id/prescription-order-number"
	SystemLineItemID      = "https://fhir.nhs.uk/Id/prescription-order-item-number"
	SystemODSOrganization = "https://fhir.nhs.uk/Id/ods-organization-code"
)

// Code systems.
const (
	SystemSNOMED           = "http://snomed.info/sct"
	SystemUCUM             = "http://unitsofmeasure.org"
	SystemObservationValue = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	SystemHL7CourseTherapy = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
	SystemNHSCourseTherapy = "https://fhir.nhs.uk/CodeSystem/medicationrequest-course-of-therapy"
	SystemBusinessStatus   = "https://fhir.nhs.uk/CodeSystem/EPS-task-business-status"
	SystemDispenseType     = "https://fhir.nhs.uk/CodeSystem/medicationdispense-type"
	SystemPrescriptionType = "https://fhir.nhs.uk/CodeSystem/prescription-type"
	SystemRequestStatus    = "http://hl7.org/fhir/CodeSystem/medicationrequest-status"
)

// Extensions, each with the sub-extensions the adapter fills.
const (
	ExtensionDataAbsent = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
	// ExtensionBusinessStatus is the prescription's current EPS status (valueCoding,
	// SystemBusinessStatus), on a MedicationRequest and a MedicationDispense.
	ExtensionBusinessStatus = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-TaskBusinessStatus"
	// ExtensionDispensingInfo: dispenseStatus (valueCoding, SystemDispenseType) and dateLastDispensed.
	ExtensionDispensingInfo = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-DispensingInformation"
	// ExtensionDispensingRelease: dateLastIssuedDispensed, dateDownloaded, dateClaimed (valueDate).
	ExtensionDispensingRelease = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-DispensingReleaseInformation"
	// ExtensionMedicationRepeatInfo is UK Core's repeat information, as NHS England puts it on a
	// MedicationRequest: numberOfPrescriptionsIssued (valueUnsignedInt) is the issue number.
	ExtensionMedicationRepeatInfo = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicationRepeatInformation"
	// ExtensionPendingCancel: prescriptionPendingCancellation (valueBoolean).
	ExtensionPendingCancel    = "https://fhir.nhs.uk/StructureDefinition/Extension-PendingCancellation"
	ExtensionPrescriptionType = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionType"
)
