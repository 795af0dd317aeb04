package fhir

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestOutcome(t *testing.T) {
	enc := newEncoder(t)
	// Every code the adapter's error table uses, and the ones it may use later.
	codes := []string{
		"invalid", "value", "not-supported", "not-found", "exception", "transient", "timeout",
		"informational", "login", "security", "forbidden", "throttled", "processing",
		"required", "incomplete", "too-costly", "business-rule", "multiple-matches",
	}
	for _, code := range codes {
		for _, sev := range []string{"fatal", "error", "warning", "information"} {
			t.Run(sev+" "+code+" survives R4 validation with its codes intact", func(t *testing.T) {
				oo := Outcome(Issue{
					Severity:    sev,
					Code:        code,
					Diagnostics: "authoredon: prefix ne is not supported",
					Expression:  []string{"authoredon"},
					Details: &Coding{
						System:  "https://fhir.nhs.uk/CodeSystem/Spine-ErrorOrWarningCode",
						Code:    "INVALID_VALUE",
						Display: "Provided value is invalid",
					},
				})
				var got struct {
					ResourceType string
					Issue        []struct {
						Severity, Code, Diagnostics string
						Expression                  []string
					}
				}
				if err := json.Unmarshal(roundTrip(t, enc, oo), &got); err != nil {
					t.Fatal(err)
				}
				if got.ResourceType != "OperationOutcome" || len(got.Issue) != 1 {
					t.Fatalf("got %+v, want one OperationOutcome issue", got)
				}
				is := got.Issue[0]
				if is.Severity != sev || is.Code != code {
					t.Errorf("severity, code = %q, %q; want %q, %q", is.Severity, is.Code, sev, code)
				}
				if !slices.Equal(is.Expression, []string{"authoredon"}) {
					t.Errorf("expression = %q, want [authoredon]", is.Expression)
				}
			})
		}
	}
}

func TestOutcomeFallbacks(t *testing.T) {
	enc := newEncoder(t)
	tests := []struct {
		name     string
		issues   []Issue
		wantSev  []string
		wantCode []string
	}{
		{"an unknown code becomes exception", []Issue{{Severity: "error", Code: "kaboom"}}, []string{"error"}, []string{"exception"}},
		{"an empty code becomes exception", []Issue{{Severity: "error"}}, []string{"error"}, []string{"exception"}},
		{"the enum's placeholder is not a code", []Issue{{Severity: "error", Code: "invalid-uninitialized"}}, []string{"error"}, []string{"exception"}},
		{"an underscore spelling is not a code", []Issue{{Severity: "error", Code: "not_found"}}, []string{"error"}, []string{"exception"}},
		{"an unknown severity becomes error", []Issue{{Severity: "catastrophic", Code: "timeout"}}, []string{"error"}, []string{"timeout"}},
		{"no issues still make a valid outcome", nil, []string{"information"}, []string{"informational"}},
		{"issues keep their order", []Issue{
			{Severity: "information", Code: "informational", Diagnostics: "searched the last 28 days"},
			{Severity: "warning", Code: "incomplete"},
		}, []string{"information", "warning"}, []string{"informational", "incomplete"}},
		{"empty details and expressions are left out", []Issue{{Severity: "error", Code: "value", Details: &Coding{}, Expression: []string{""}}}, []string{"error"}, []string{"value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct{ Issue []map[string]any }
			if err := json.Unmarshal(roundTrip(t, enc, Outcome(tt.issues...)), &got); err != nil {
				t.Fatal(err)
			}
			var sev, code []string
			for _, is := range got.Issue {
				sev = append(sev, is["severity"].(string))
				code = append(code, is["code"].(string))
				if _, ok := is["details"]; ok && tt.issues[0].Details != nil && *tt.issues[0].Details == (Coding{}) {
					t.Errorf("empty details marshalled: %v", is["details"])
				}
				if _, ok := is["expression"]; ok && len(tt.issues) > 0 && slices.Equal(tt.issues[0].Expression, []string{""}) {
					t.Errorf("empty expression marshalled: %v", is["expression"])
				}
			}
			if !slices.Equal(sev, tt.wantSev) || !slices.Equal(code, tt.wantCode) {
				t.Errorf("severities %q codes %q, want %q %q", sev, code, tt.wantSev, tt.wantCode)
			}
		})
	}
}

// An issue naming what a client sent stays a valid FHIR string: control characters (but tab, CR and
// LF) and invalid UTF-8 are written percent-encoded, everything else as it is.
func TestOutcomeStringsAreValidFHIRStrings(t *testing.T) {
	for in, want := range map[string]string{
		"authoredon":       "authoredon",
		"patient:\x00":     "patient:%00",
		"status:\xff":      "status:%FF",
		"é and\ttab\r\n":   "é and\ttab\r\n",
		"del\x7f bell\x07": "del%7F bell%07",
		"cut \xe2\x82":     "cut %E2%82",
	} {
		oo := Outcome(Issue{Severity: "error", Code: "invalid", Diagnostics: in, Expression: []string{in}})
		is := oo.GetIssue()[0]
		if got := is.GetExpression()[0].GetValue(); got != want {
			t.Errorf("expression %q = %q, want %q", in, got, want)
		}
		if got := is.GetDiagnostics().GetValue(); got != want {
			t.Errorf("diagnostics %q = %q, want %q", in, got, want)
		}
	}
}
