package mapping

// Sub-extension names.
const (
	subDispenseStatus        = "dispenseStatus"
	subDateLastDispensed     = "dateLastDispensed"
	subDateLastIssued        = "dateLastIssuedDispensed"
	subDateDownloaded        = "dateDownloaded"
	subDateClaimed           = "dateClaimed"
	subPrescriptionsIssued   = "numberOfPrescriptionsIssued"
	subPrescriptionPendingCx = "prescriptionPendingCancellation"
)

// TagSubsetted marks a resource that shows less than the adapter could: a MedicationRequest built from
// a search's summary (no line-item UUID, prescriber or medication), a Patient (no demographics).
const TagSubsetted = "SUBSETTED"
