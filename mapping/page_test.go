package mapping_test

import (
	"net/url"
	"testing"

	oopb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/operation_outcome_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
)

func expandAll(t *testing.T, srcs []mapping.Source) [][]mapping.Match {
	t.Helper()
	expanded := make([][]mapping.Match, len(srcs))
	for i, src := range srcs {
		ms, err := mapping.Expand(src)
		if err != nil {
			t.Fatal(err)
		}
		expanded[i] = ms
	}
	return expanded
}

// TestKeepNamesEachMatchsSource: each match Keep returns names the source it was expanded from, so
// that a caller can find what it holds per source (routes' entry memo), and the matches are in the
// search's order.
func TestKeepNamesEachMatchsSource(t *testing.T) {
	srcs := manyItems(t)
	srch, err := mapping.ParseSearch(url.Values{"patient:identifier": {fhir.SystemNHSNumber + "|9990000018"}}, benchNow, false)
	if err != nil {
		t.Fatal(err)
	}
	expanded := expandAll(t, srcs)
	kept := mapping.Keep(expanded, srch)
	if len(kept) != 60 {
		t.Fatalf("Keep kept %d matches, want 60", len(kept))
	}
	for i, m := range kept {
		if m.Source < 0 || m.Source >= len(srcs) || srcs[m.Source].Prescription.ID != m.PrescriptionID {
			t.Fatalf("match %d (%s) names source %d", i, m.PrescriptionID, m.Source)
		}
		found := false
		for _, e := range expanded[m.Source] {
			found = found || e.Request == m.Request
		}
		if !found {
			t.Errorf("match %d's MedicationRequest is not among its source's", i)
		}
		if i > 0 {
			prev := kept[i-1]
			if prev.AuthoredOn.Before(m.AuthoredOn) ||
				prev.AuthoredOn.Equal(m.AuthoredOn) && prev.PrescriptionID == m.PrescriptionID && prev.Ordinal >= m.Ordinal {
				t.Errorf("match %d (%s, %s, line %d) comes after %s, %s, line %d", i, m.AuthoredOn, m.PrescriptionID,
					m.Ordinal, prev.AuthoredOn, prev.PrescriptionID, prev.Ordinal)
			}
		}
	}
}

// TestMatchesElsewhereLeavesTheRest: a Bundle built with MatchesElsewhere holds what follows the
// matches in the whole Bundle (the includes and the notes, in the same order) and the same envelope.
func TestMatchesElsewhereLeavesTheRest(t *testing.T) {
	srcs := manyItems(t)
	var page []mapping.Match
	for _, ms := range expandAll(t, srcs[:3]) {
		page = append(page, ms...)
	}
	p := mapping.Page{BaseURL: benchBase, Total: 40, Matches: page, Self: benchBase + "/MedicationRequest?a=b",
		Next: benchBase + "/MedicationRequest?_page=x", IncludePatient: true,
		Outcomes: []*oopb.OperationOutcome{fhir.Outcome(fhir.Issue{Severity: "information", Code: "informational", Diagnostics: "a note"})}}
	whole, err := mapping.SearchBundle(p)
	if err != nil {
		t.Fatal(err)
	}
	p.MatchesElsewhere = true
	rest, err := mapping.SearchBundle(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rest.Entry), len(whole.Entry)-len(page); got != want || want != 2 {
		t.Fatalf("%d entries left, want %d (a Patient and a note)", got, want)
	}
	for i, e := range rest.Entry {
		if !proto.Equal(e, whole.Entry[len(page)+i]) {
			t.Errorf("entry %d differs from the whole Bundle's entry %d", i, len(page)+i)
		}
	}
	rest.Entry, whole.Entry = nil, nil
	if !proto.Equal(rest, whole) {
		t.Error("the envelopes differ")
	}
}
