package tracker

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets read Spine's JSON for each interaction. Their seed corpora (testdata/fuzz) hold
// the published payloads and the hostile envelopes of issue 11, so `go test` runs them all as
// ordinary tests; `go test -fuzz FuzzParseSearch` explores further. Properties: no panic; a failure
// is an *Error of a known kind for the right interaction; success and failure alike are the same on
// a second parse of the same bytes (issue 11 problem 5: no map-order dependence); and the answer is
// encoding/json's (reference_test.go).

var knownKinds = []error{ErrNotFound, ErrIssueNotFound, ErrInvalidRequest, ErrRejected, ErrUpstream}

func checkParse[T any](t *testing.T, interaction string, parse func() (*T, error)) {
	t.Helper()
	got, err := parse()
	again, errAgain := parse()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		if e.Interaction != interaction {
			t.Errorf("error for interaction %q, want %q", e.Interaction, interaction)
		}
		known := false
		for _, k := range knownKinds {
			known = known || e.Kind == k
		}
		if !known {
			t.Errorf("error kind %v is not one a parse may give", e.Kind)
		}
		if got != nil {
			t.Error("both a result and an error")
		}
		if errAgain == nil || errAgain.Error() != err.Error() {
			t.Errorf("a second parse gave %v, the first %v", errAgain, err)
		}
		return
	}
	if got == nil {
		t.Fatal("neither a result nor an error")
	}
	if errAgain != nil {
		t.Fatalf("a second parse failed: %v", errAgain)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("a second parse differs (-first +second):\n%s", diff)
	}
}

func FuzzParseSearch(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, interactionSearch, func() (*SearchResult, error) { return parseSearch(data) })
		sameAsReference(t, data, func(r wireReader) (*SearchResult, error) { return r.search(data) })
	})
}

func FuzzParseRetrieve(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, interactionRetrieve, func() (*Prescription, error) { return parseRetrieve(data) })
		sameAsReference(t, data, func(r wireReader) (*Prescription, error) { return r.retrieve(data) })
	})
}

func FuzzParseItemSummary(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParse(t, interactionItemSummary, func() (*ItemSummaryResult, error) { return parseItemSummary(data) })
		sameAsReference(t, data, func(r wireReader) (*ItemSummaryResult, error) { return r.itemSummary(data) })
	})
}

func FuzzParseItemDetails(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, wantID string) {
		checkParse(t, interactionItemDetails, func() (*PrescriptionDetail, error) { return parseItemDetails(data, wantID) })
		sameAsReference(t, data, func(r wireReader) (*PrescriptionDetail, error) { return r.itemDetails(data, wantID) })
	})
}
