package routes_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// The tests behind docs/hazard-log.md's date-window hazards.

func groupIDs(got answer) []string {
	var out []string
	for _, e := range entries(got.JSON, "match") {
		gi := resource(e)["groupIdentifier"].(map[string]any)["value"].(string)
		if !slices.Contains(out, gi) {
			out = append(out, gi)
		}
	}
	return out
}

func notes(got answer) string {
	var b strings.Builder
	for _, e := range entries(got.JSON, "outcome") {
		b.WriteString(jsonText(resource(e)))
	}
	return b.String()
}

// H4: the default 28-day window hides older prescriptions. The answer says it applied one, and the
// self link shows it, so that a clinician is not told "no prescriptions" without a reason.
func TestTheDefaultWindowSaysWhatItHides(t *testing.T) {
	a := start(t, setup{})
	got := a.get(t, search(sandbox.PatientOnlyOld))
	if got.Status != http.StatusOK || total(got.JSON) != 0 {
		t.Fatalf("default search of a patient with only old prescriptions: %d, total %d", got.Status, total(got.JSON))
	}
	if n := notes(got); !strings.Contains(n, "28 days") {
		t.Errorf("no note about the default window: %s", n)
	}
	if self := link(got.JSON, "self"); !strings.Contains(self, "authoredon=ge") || !strings.Contains(self, "authoredon=le") {
		t.Errorf("self link %s does not show the window", self)
	}
	older := a.get(t, search(sandbox.PatientOnlyOld, "authoredon=ge2026-01-01"))
	if total(older.JSON) == 0 {
		t.Error("an explicit window does not find the older prescriptions")
	}
}

// H5: a post-dated prescription (issue date in the future) is outside the default window, which
// ends today; asking for a window into the future shows it.
func TestAPostDatedPrescriptionNeedsAWindowIntoTheFuture(t *testing.T) {
	a := start(t, setup{})
	if got := groupIDs(a.get(t, search(sandbox.PatientAllStatuses))); slices.Contains(got, sandbox.RxFutureDated) {
		t.Errorf("the default window (ending today) shows the post-dated %s", sandbox.RxFutureDated)
	}
	got := a.get(t, search(sandbox.PatientAllStatuses, "authoredon=ge2026-11-01", "authoredon=le2026-12-31"))
	if !slices.Contains(groupIDs(got), sandbox.RxFutureDated) {
		t.Errorf("a window into the future does not show the post-dated %s: %v", sandbox.RxFutureDated, groupIDs(got))
	}
}
