package mapping

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// A resource id names one line item of one issue of one prescription, so that a read can go back to
// Spine with nothing but the id: the prescription ID with its '+' check character written as '.'
// ('+' is not legal in a FHIR id, '.' never occurs in a prescription ID), the issue number and the
// line ordinal, hyphen-joined: "A3B4D9-Z42475-11E6B.-1-2". An R1 (37-character) ID gives at most 43
// characters with EPS's four lines and two-digit issue numbers; the FHIR limit is 64.

// dispensePrefix keeps a MedicationDispense's id apart from its MedicationRequest's (FHIR ids are per
// type, but a distinct id reads better in logs and Bundles).
const dispensePrefix = "d-"

// maxNumberDigits bounds issue numbers and ordinals in an id (Spine's are far smaller).
const (
	maxNumberDigits = 4
	maxNumber       = 9999
)

var fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// MedicationRequestID is the id of the MedicationRequest for one line item of one issue.
func MedicationRequestID(prescriptionID string, issue, ordinal int) string {
	return strings.ReplaceAll(prescriptionID, "+", ".") + "-" + strconv.Itoa(issue) + "-" + strconv.Itoa(ordinal)
}

// ParseMedicationRequestID reverses MedicationRequestID. ok is false unless id is exactly what
// MedicationRequestID gives for a valid prescription ID (shape and check character, case-sensitive),
// an issue >= 1 and an ordinal >= 1, without leading zeros: an id has one spelling.
func ParseMedicationRequestID(id string) (prescriptionID string, issue, ordinal int, ok bool) {
	if !fhirID.MatchString(id) {
		return "", 0, 0, false
	}
	rest, ord, ok := cutNumber(id)
	if !ok {
		return "", 0, 0, false
	}
	rest, iss, ok := cutNumber(rest)
	if !ok {
		return "", 0, 0, false
	}
	// Only the check character may be '+': any other '.' makes the ID invalid below.
	pid := strings.ReplaceAll(rest, ".", "+")
	if !tracker.ValidPrescriptionID(pid) {
		return "", 0, 0, false
	}
	return pid, iss, ord, true
}

// MedicationDispenseID is the id of the MedicationDispense for one line item of one issue: its
// MedicationRequest's id prefixed with "d-".
func MedicationDispenseID(prescriptionID string, issue, ordinal int) string {
	return dispensePrefix + MedicationRequestID(prescriptionID, issue, ordinal)
}

// ParseMedicationDispenseID reverses MedicationDispenseID, with ParseMedicationRequestID's rules.
func ParseMedicationDispenseID(id string) (prescriptionID string, issue, ordinal int, ok bool) {
	rest, found := strings.CutPrefix(id, dispensePrefix)
	if !found {
		return "", 0, 0, false
	}
	return ParseMedicationRequestID(rest)
}

// cutNumber cuts "-N" off the end of s, N a positive decimal without leading zeros.
func cutNumber(s string) (rest string, n int, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", 0, false
	}
	digits := s[i+1:]
	if digits == "" || len(digits) > maxNumberDigits || digits[0] == '0' {
		return "", 0, false
	}
	for j := 0; j < len(digits); j++ {
		if digits[j] < '0' || digits[j] > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return "", 0, false
	}
	return s[:i], n, true
}
