package tracker

import "strings"

// PrescriptionStatus is the four-digit EPS prescription (issue) status code (SPEC 4.1).
type PrescriptionStatus string

// The prescription statuses Spine knows (SPEC 4.1, from Spine's own statuses.py).
const (
	StatusAwaitingReleaseReady    PrescriptionStatus = "0000"
	StatusToBeDispensed           PrescriptionStatus = "0001"
	StatusWithDispenser           PrescriptionStatus = "0002"
	StatusWithDispenserActive     PrescriptionStatus = "0003"
	StatusExpired                 PrescriptionStatus = "0004"
	StatusCancelled               PrescriptionStatus = "0005"
	StatusDispensed               PrescriptionStatus = "0006"
	StatusNotDispensed            PrescriptionStatus = "0007"
	StatusClaimed                 PrescriptionStatus = "0008"
	StatusNoClaimed               PrescriptionStatus = "0009"
	StatusRepeatDispenseFuture    PrescriptionStatus = "9000"
	StatusFutureDatedPrescription PrescriptionStatus = "9001"
	StatusPendingCancellation     PrescriptionStatus = "9005"
)

var prescriptionStatusDisplay = map[PrescriptionStatus]string{
	StatusAwaitingReleaseReady:    "Awaiting Release Ready",
	StatusToBeDispensed:           "To Be Dispensed",
	StatusWithDispenser:           "With Dispenser",
	StatusWithDispenserActive:     "With Dispenser - Active",
	StatusExpired:                 "Expired",
	StatusCancelled:               "Cancelled",
	StatusDispensed:               "Dispensed",
	StatusNotDispensed:            "Not Dispensed",
	StatusClaimed:                 "Claimed",
	StatusNoClaimed:               "No-Claimed",
	StatusRepeatDispenseFuture:    "Repeat Dispense future instance",
	StatusFutureDatedPrescription: "Prescription future instance",
	StatusPendingCancellation:     "Cancelled future instance",
}

// PrescriptionStatuses lists every known prescription status in code order.
var PrescriptionStatuses = []PrescriptionStatus{
	StatusAwaitingReleaseReady, StatusToBeDispensed, StatusWithDispenser, StatusWithDispenserActive,
	StatusExpired, StatusCancelled, StatusDispensed, StatusNotDispensed, StatusClaimed, StatusNoClaimed,
	StatusRepeatDispenseFuture, StatusFutureDatedPrescription, StatusPendingCancellation,
}

// Valid reports whether s is a status Spine knows.
func (s PrescriptionStatus) Valid() bool { _, ok := prescriptionStatusDisplay[s]; return ok }

// Display is Spine's display text for the status (statuses.py PRESCRIPTION_DISPLAY_LOOKUP).
func (s PrescriptionStatus) Display() string { return prescriptionStatusDisplay[s] }

// LineItemStatus is the four-digit EPS line-item status code (SPEC 4.2).
type LineItemStatus string

// The line-item statuses Spine knows (SPEC 4.2).
const (
	ItemFullyDispensed    LineItemStatus = "0001"
	ItemNotDispensed      LineItemStatus = "0002"
	ItemPartialDispensed  LineItemStatus = "0003"
	ItemNotDispensedOwing LineItemStatus = "0004"
	ItemCancelled         LineItemStatus = "0005"
	ItemExpired           LineItemStatus = "0006"
	ItemToBeDispensed     LineItemStatus = "0007"
	ItemWithDispenser     LineItemStatus = "0008"
)

// lineItemStatusDisplay holds the basic interactions' statusText and the 111 interactions' itemStatus.
var lineItemStatusDisplay = map[LineItemStatus]struct{ basic, detail string }{
	ItemFullyDispensed:    {"Item fully dispensed", "Dispensed"},
	ItemNotDispensed:      {"Item not dispensed", "Not Dispensed"},
	ItemPartialDispensed:  {"Item dispensed - partial", "Dispensed - Partial"},
	ItemNotDispensedOwing: {"Item not dispensed owing", "Not Dispensed - Owing"},
	ItemCancelled:         {"Item Cancelled", "Cancelled"},
	ItemExpired:           {"Expired", "Expired"},
	ItemToBeDispensed:     {"To Be Dispensed", "To be Dispensed"},
	ItemWithDispenser:     {"Item with dispenser", "With Dispenser"},
}

// LineItemStatuses lists every known line-item status in code order.
var LineItemStatuses = []LineItemStatus{
	ItemFullyDispensed, ItemNotDispensed, ItemPartialDispensed, ItemNotDispensedOwing,
	ItemCancelled, ItemExpired, ItemToBeDispensed, ItemWithDispenser,
}

// Valid reports whether s is a line-item status Spine knows.
func (s LineItemStatus) Valid() bool { _, ok := lineItemStatusDisplay[s]; return ok }

// Display is the basic interactions' statusText for the status.
func (s LineItemStatus) Display() string { return lineItemStatusDisplay[s].basic }

// DetailDisplay is the 111 interactions' itemStatus text for the status.
func (s LineItemStatus) DetailDisplay() string { return lineItemStatusDisplay[s].detail }

// TreatmentType is the prescription treatment type code (SPEC 4.3).
type TreatmentType string

// The treatment types.
const (
	TreatmentAcute             TreatmentType = "0001"
	TreatmentRepeatPrescribing TreatmentType = "0002"
	TreatmentRepeatDispensing  TreatmentType = "0003"
)

var treatmentTypeDisplay = map[TreatmentType]string{
	TreatmentAcute:             "Acute Prescription",
	TreatmentRepeatPrescribing: "Repeat Prescribing",
	TreatmentRepeatDispensing:  "Repeat Dispensing",
}

// Valid reports whether t is a treatment type Spine knows.
func (t TreatmentType) Valid() bool { _, ok := treatmentTypeDisplay[t]; return ok }

// Display is Spine's display text for the treatment type.
func (t TreatmentType) Display() string { return treatmentTypeDisplay[t] }

// IsRepeat reports whether the prescription is issued more than once.
func (t TreatmentType) IsRepeat() bool {
	return t == TreatmentRepeatPrescribing || t == TreatmentRepeatDispensing
}

// ValidItemStatuses lists the line-item statuses Spine allows under each prescription status
// (SPEC 4.2, Spine's VALID_STATES). The sandbox keeps its data consistent with it.
var ValidItemStatuses = map[PrescriptionStatus][]LineItemStatus{
	StatusAwaitingReleaseReady:    {ItemCancelled, ItemExpired, ItemToBeDispensed},
	StatusToBeDispensed:           {ItemCancelled, ItemExpired, ItemToBeDispensed},
	StatusRepeatDispenseFuture:    {ItemCancelled, ItemExpired, ItemToBeDispensed},
	StatusFutureDatedPrescription: {ItemCancelled, ItemExpired, ItemToBeDispensed},
	StatusWithDispenser:           {ItemCancelled, ItemExpired, ItemWithDispenser},
	StatusWithDispenserActive: {ItemFullyDispensed, ItemNotDispensed, ItemPartialDispensed,
		ItemNotDispensedOwing, ItemCancelled, ItemExpired, ItemWithDispenser},
	StatusExpired:      {ItemCancelled, ItemExpired},
	StatusCancelled:    {ItemCancelled, ItemExpired},
	StatusDispensed:    {ItemFullyDispensed, ItemNotDispensed, ItemCancelled, ItemExpired},
	StatusClaimed:      {ItemFullyDispensed, ItemNotDispensed, ItemCancelled, ItemExpired},
	StatusNoClaimed:    {ItemFullyDispensed, ItemNotDispensed, ItemCancelled, ItemExpired},
	StatusNotDispensed: {ItemNotDispensed, ItemCancelled, ItemExpired},
	// SPEC 4.2's table has no row for 9005: a cancelled future issue's items are cancelled.
	StatusPendingCancellation: {ItemCancelled},
}

// foldText normalises display text for matching: case, spacing and hyphen variants fold together, so
// "With dispenser active", "With Dispenser - Active" and "WITH DISPENSER-ACTIVE" are one key.
func foldText(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer("-", " ", "_", " ").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

// prescriptionStatusByText maps every display variant Spine is known to send (SPEC 4.1) to its code.
var prescriptionStatusByText = func() map[string]PrescriptionStatus {
	m := make(map[string]PrescriptionStatus)
	for code, text := range prescriptionStatusDisplay {
		m[foldText(text)] = code
	}
	// 9000's own text is ambiguous in the docs: the examples print "Prescription future instance" for
	// 9000, which is 9001's text in Spine's table. Text cannot tell them apart; the code wins where
	// Spine gives one, and the 111 calls give text only for the current issue, never a future one.
	m[foldText("No Claimed")] = StatusNoClaimed
	return m
}()

// PrescriptionStatusFromText maps the 111 interactions' display text back to a status code, tolerant of
// case and the variants SPEC lists. Unknown text is not guessed: ok is false.
func PrescriptionStatusFromText(text string) (s PrescriptionStatus, ok bool) {
	s, ok = prescriptionStatusByText[foldText(text)]
	return s, ok
}

var lineItemStatusByText = func() map[string]LineItemStatus {
	m := make(map[string]LineItemStatus)
	for code, d := range lineItemStatusDisplay {
		m[foldText(d.basic)] = code
		m[foldText(d.detail)] = code
	}
	// "Dispensed" (111) and "Expired" appear in both columns; they agree.
	return m
}()

// LineItemStatusFromText maps a line item's display text (basic statusText or 111 itemStatus) back to
// its code. Unknown text is not guessed: ok is false.
func LineItemStatusFromText(text string) (s LineItemStatus, ok bool) {
	s, ok = lineItemStatusByText[foldText(text)]
	return s, ok
}

var treatmentTypeByText = func() map[string]TreatmentType {
	m := make(map[string]TreatmentType)
	for code, text := range treatmentTypeDisplay {
		m[foldText(text)] = code
	}
	// Variants: the swagger's enum text, and the bare "Acute" some pages print, and the 111 swagger
	// summary example's "Acute Prescribing".
	m[foldText("Acute")] = TreatmentAcute
	m[foldText("Acute Prescribing")] = TreatmentAcute
	m[foldText("Repeat Prescribing Prescription")] = TreatmentRepeatPrescribing
	m[foldText("Repeat Dispensing Prescription")] = TreatmentRepeatDispensing
	m[foldText("Repeat Dispensing (eRD)")] = TreatmentRepeatDispensing
	return m
}()

// TreatmentTypeFromText maps a treatment type's display text back to its code.
func TreatmentTypeFromText(text string) (t TreatmentType, ok bool) {
	t, ok = treatmentTypeByText[foldText(text)]
	return t, ok
}
