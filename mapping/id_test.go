package mapping

import (
	"strings"
	"testing"
)

func TestMedicationRequestIDRoundTrips(t *testing.T) {
	tests := []struct {
		name           string
		prescriptionID string
		issue, ordinal int
		want           string
	}{
		{"a short-form ID keeps its shape", "3AF2CB-C86002-0000BX", 2, 1, "3AF2CB-C86002-0000BX-2-1"},
		{"a '+' check character is written as '.'", "A3B4D9-Z42475-11E6B+", 1, 2, "A3B4D9-Z42475-11E6B.-1-2"},
		{"an R1 long-form ID fits in 43 characters", "9C18AE6F-510C-F7A3-E050-D20AE3A231C8C", 1, 1,
			"9C18AE6F-510C-F7A3-E050-D20AE3A231C8C-1-1"},
		{"an R1 ID with two-digit numbers is at most 43 characters", "D2A080EE-475C-11E6-A68F-08002732570CN", 12, 4,
			"D2A080EE-475C-11E6-A68F-08002732570CN-12-4"},
		{"multi-digit issues and ordinals", "E7ZG38-ZBACYU-V38SR+", 123, 45, "E7ZG38-ZBACYU-V38SR.-123-45"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := MedicationRequestID(tt.prescriptionID, tt.issue, tt.ordinal)
			if id != tt.want {
				t.Errorf("MedicationRequestID = %q, want %q", id, tt.want)
			}
			if !fhirID.MatchString(id) || len(id) > 43 {
				t.Errorf("%q is not a FHIR id of at most 43 characters", id)
			}
			pid, issue, ordinal, ok := ParseMedicationRequestID(id)
			if !ok || pid != tt.prescriptionID || issue != tt.issue || ordinal != tt.ordinal {
				t.Errorf("ParseMedicationRequestID(%q) = %q, %d, %d, %v; want %q, %d, %d, true",
					id, pid, issue, ordinal, ok, tt.prescriptionID, tt.issue, tt.ordinal)
			}

			did := MedicationDispenseID(tt.prescriptionID, tt.issue, tt.ordinal)
			if did == id || !fhirID.MatchString(did) {
				t.Errorf("MedicationDispenseID = %q: not a distinct FHIR id", did)
			}
			pid, issue, ordinal, ok = ParseMedicationDispenseID(did)
			if !ok || pid != tt.prescriptionID || issue != tt.issue || ordinal != tt.ordinal {
				t.Errorf("ParseMedicationDispenseID(%q) = %q, %d, %d, %v", did, pid, issue, ordinal, ok)
			}
			if _, _, _, ok := ParseMedicationDispenseID(id); ok {
				t.Errorf("ParseMedicationDispenseID accepted the request id %q", id)
			}
			if _, _, _, ok := ParseMedicationRequestID(did); ok {
				t.Errorf("ParseMedicationRequestID accepted the dispense id %q", did)
			}
		})
	}
}

func TestParseMedicationRequestIDRejects(t *testing.T) {
	tests := []struct{ name, id string }{
		{"the empty string", ""},
		{"junk", "hello"},
		{"a prescription ID alone", "3AF2CB-C86002-0000BX"},
		{"a missing ordinal", "3AF2CB-C86002-0000BX-2"},
		{"a wrong check character", "3AF2CB-C86002-0000BY-2-1"},
		{"a known-bad documentation ID", "000136-ZC2D5C-11E38K-1-1"},
		{"issue 0", "3AF2CB-C86002-0000BX-0-1"},
		{"ordinal 0", "3AF2CB-C86002-0000BX-1-0"},
		{"a leading zero", "3AF2CB-C86002-0000BX-01-1"},
		{"a negative number", "3AF2CB-C86002-0000BX--1-1"},
		{"a non-numeric issue", "3AF2CB-C86002-0000BX-a-1"},
		{"a number too long", "3AF2CB-C86002-0000BX-12345-1"},
		{"a raw '+' (not a FHIR id)", "A3B4D9-Z42475-11E6B+-1-1"},
		{"a '.' outside the check character", "A3B4D9-Z4247.-11E6B.-1-1"},
		{"lower case", "3af2cb-c86002-0000bx-2-1"},
		{"a space", "3AF2CB-C86002-0000BX -2-1"},
		{"more than 64 characters", strings.Repeat("A", 60) + "-1-1"},
		{"an R1 ID with a wrong check character", "9C18AE6F-510C-F7A3-E050-D20AE3A231C8D-1-1"},
		{"trailing junk", "3AF2CB-C86002-0000BX-2-1-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if pid, issue, ordinal, ok := ParseMedicationRequestID(tt.id); ok {
				t.Errorf("ParseMedicationRequestID(%q) = %q, %d, %d, true; want ok false", tt.id, pid, issue, ordinal)
			}
		})
	}
}

func TestPrescriptionIDShapeIgnoresOnlyTheCheckCharacter(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"3AF2CB-C86002-0000BX", true},                   // valid
		{"3AF2CB-C86002-0000BY", true},                   // wrong check character: shape is right
		{"A3B4D9-Z42475-11E6B+", true},                   // '+' check character
		{"9C18AE6F-510C-F7A3-E050-D20AE3A231C8A", true},  // R1, wrong check character
		{"3AF2CB-C86002-0000B#", false},                  // not a check character
		{"3AF2CB-C86002-0000B", false},                   // too short
		{"3AF2CBC86002-0000BXX", false},                  // hyphens misplaced
		{"9C18AE6F-510C-F7A3-E050-D20AE3A231CZC", false}, // R1 payload not hex
		{"", false},
	}
	for _, tt := range tests {
		if got := prescriptionIDShape(tt.id); got != tt.want {
			t.Errorf("prescriptionIDShape(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
