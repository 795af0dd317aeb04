package tracker

import (
	"strconv"
	"strings"
	"testing"
)

func TestValidNHSNumber(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"the SPEC worked example is valid", "9691003139", true},
		{"an example payload's number is valid", "9691003120", true},
		{"another example payload's number is valid", "9467157349", true},
		{"the 111 summary fixture's number is valid", "9449304106", true},
		{"a remainder of 0 gives check digit 0", "1000000060", true},
		{"a wrong check digit is invalid", "9691003138", false},
		{"letters are invalid", "96910031A9", false},
		{"nine digits are invalid", "969100313", false},
		{"eleven digits are invalid", "96910031390", false},
		{"spaces are invalid", "969 100 3139", false},
		{"empty is invalid", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := ValidNHSNumber(tt.in), tt.want; got != want {
				t.Errorf("ValidNHSNumber(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
	t.Run("a check digit of 10 makes every ending invalid", func(t *testing.T) {
		// 1*10 + 1*2 = 12, remainder 1, check digit 11-1 = 10: no NHS number starts 100000001.
		for d := 0; d <= 9; d++ {
			in := "100000001" + strconv.Itoa(d)
			if ValidNHSNumber(in) {
				t.Errorf("ValidNHSNumber(%q) = true, want false", in)
			}
		}
	})
}

func TestPrescriptionIDs(t *testing.T) {
	valid := []string{
		"7D9625-Z72BF2-11E3AC",                  // SPEC 5.1 worked example
		"E7ZG38-ZBACYU-V38SR+",                  // non-hex older ID, '+' check character
		"3AF2CB-C86002-0000BX",                  //
		"48A894-C86002-00009E",                  // retrieve_111branch_scenario1
		"A3B4D9-Z42475-11E6B+",                  // search_ghpages_single_repeat_dispensing
		"000136-ZC2D5C-11E38N",                  // the gh-pages retrieve example, corrected
		"9C18AE6F-510C-F7A3-E050-D20AE3A231C8C", // R1 long form
		"D2A080EE-475C-11E6-A68F-08002732570CN", // R1 long form
		"9BA2F6BD-14FD-6F8B-E050-D20AE3A254FDA", // search_111branch_scenario1
		"9BA2F6BD-14FE-6F8B-E050-D20AE3A254FDI", // search_111branch_scenario1
	}
	for _, id := range valid {
		t.Run(id+" is valid", func(t *testing.T) {
			if !ValidPrescriptionID(id) {
				t.Errorf("ValidPrescriptionID(%q) = false, want true", id)
			}
			norm, ok := NormalisePrescriptionID(strings.ToLower(id))
			if !ok || norm != id {
				t.Errorf("NormalisePrescriptionID(lower case) = %q, %v, want %q, true", norm, ok, id)
			}
			if ValidPrescriptionID(strings.ToLower(id)) && strings.ToLower(id) != id {
				t.Errorf("ValidPrescriptionID(%q) = true, want false: Spine IDs are upper case", strings.ToLower(id))
			}
		})
	}
	t.Run("versions are told by length", func(t *testing.T) {
		if got, want := VersionOf("3AF2CB-C86002-0000BX"), VersionR2; got != want {
			t.Errorf("VersionOf(short) = %q, want %q", got, want)
		}
		if got, want := VersionOf("9C18AE6F-510C-F7A3-E050-D20AE3A231C8C"), VersionR1; got != want {
			t.Errorf("VersionOf(long) = %q, want %q", got, want)
		}
	})

	invalid := []struct{ name, id string }{
		{"the gh-pages example's wrong check character", "000136-ZC2D5C-11E38K"},
		{"a wrong check character on a long form", "9C18AE6F-510C-F7A3-E050-D20AE3A231C8D"},
		{"a missing check character", "3AF2CB-C86002-0000B"},
		{"a long form without its check character", "9C18AE6F-510C-F7A3-E050-D20AE3A231C8"},
		{"missing hyphens", "3AF2CBC860020000BX"},
		{"hyphens in the wrong places", "3AF2C-BC86002-0000BX"},
		{"a non-hex GUID", "9C18AE6G-510C-F7A3-E050-D20AE3A231C8C"},
		{"a character outside the alphabet", "3AF2CB-C86002-0000_X"},
		{"a '+' inside the payload", "3AF2CB-C860+2-0000BX"},
		{"empty", ""},
	}
	for _, tt := range invalid {
		t.Run(tt.name+" is invalid", func(t *testing.T) {
			if ValidPrescriptionID(tt.id) {
				t.Errorf("ValidPrescriptionID(%q) = true, want false", tt.id)
			}
		})
	}
}

func TestCheckCharacter(t *testing.T) {
	tests := []struct {
		payload string
		want    byte
	}{
		{"7D9625-Z72BF2-11E3A", 'C'}, // SPEC 5.1 worked example
		{"7D9625Z72BF211E3A", 'C'},   // hyphens are ignored
		{"000136-ZC2D5C-11E38", 'N'},
		{"E7ZG38-ZBACYU-V38SR", '+'},
		{"D2A080EE-475C-11E6-A68F-08002732570C", 'N'},
	}
	for _, tt := range tests {
		t.Run("the check character of "+tt.payload+" is "+string(tt.want), func(t *testing.T) {
			got, ok := CheckCharacter(tt.payload)
			if !ok {
				t.Fatal("ok = false")
			}
			if got != tt.want {
				t.Errorf("CheckCharacter(%q) = %q, want %q", tt.payload, got, tt.want)
			}
		})
	}
	t.Run("a lower-case payload is refused", func(t *testing.T) {
		if _, ok := CheckCharacter("7d9625-z72bf2-11e3a"); ok {
			t.Error("ok = true, want false")
		}
	})
}

func TestSpineIdentities(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"twelve digits are valid", "200000000946", true},
		{"eleven digits are invalid", "20000000094", false},
		{"thirteen digits are invalid", "2000000009460", false},
		{"letters are invalid", "20000000094A", false},
		{"empty is invalid", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []struct {
				name  string
				valid func(string) bool
			}{{"ValidASID", ValidASID}, {"ValidUserID", ValidUserID}, {"ValidRoleProfileID", ValidRoleProfileID}} {
				if got := f.valid(tt.in); got != tt.want {
					t.Errorf("%s(%q) = %v, want %v", f.name, tt.in, got, tt.want)
				}
			}
		})
	}
}

func TestValidTraceID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"thirty characters are valid", strings.Repeat("a", 29) + "-", true},
		{"letters, digits and hyphens are valid", "Req-42-abc", true},
		{"thirty-one characters are invalid", strings.Repeat("a", 31), false},
		{"an underscore is invalid", "req_42", false},
		{"a UUID is too long", "0f8fad5b-d9cb-469f-a165-70867728950e", false},
		{"empty is invalid", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := ValidTraceID(tt.in), tt.want; got != want {
				t.Errorf("ValidTraceID(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}

func TestValidLineItemID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"9BA2F6BD-1524-6F8B-E050-D20AE3A254FD", true},
		{"30b7e9cf-6f42-40a8-84c1-e61ef638eee2", true},
		{"30b7e9cf6f4240a884c1e61ef638eee2", false},
		{"9BA2F6BD-1524-6F8B-E050-D20AE3A254FDX", false},
	} {
		t.Run("line item ID "+tt.in, func(t *testing.T) {
			if got, want := ValidLineItemID(tt.in), tt.want; got != want {
				t.Errorf("ValidLineItemID(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}
