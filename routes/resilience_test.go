package routes_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// outcomeTexts gathers the diagnostics of a Bundle's outcome entries.
func outcomeTexts(b map[string]any) []string {
	var out []string
	for _, e := range entries(b, "outcome") {
		for _, is := range resource(e)["issue"].([]any) {
			d, _ := is.(map[string]any)["diagnostics"].(string)
			out = append(out, is.(map[string]any)["severity"].(string)+": "+d)
		}
	}
	return out
}

func anyContains(list []string, part string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, part) })
}

func TestSearchAnswersExplainThemselves(t *testing.T) {
	a := start(t, setup{})

	t.Run("a window with nothing in it says so", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "authoredon=ge2020-01-01", "authoredon=le2020-02-01"))
		if total(got.JSON) != 0 || !anyContains(outcomeTexts(got.JSON), "information: ") {
			t.Errorf("total %d, outcomes %v", total(got.JSON), outcomeTexts(got.JSON))
		}
	})

	t.Run("filters that leave nothing say so", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "status=on-hold"))
		if total(got.JSON) != 0 || !anyContains(outcomeTexts(got.JSON), "none matched") {
			t.Errorf("total %d, outcomes %v", total(got.JSON), outcomeTexts(got.JSON))
		}
	})

	t.Run("a one-sided authoredon says which bound the adapter supplied", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientOnlyOld, "authoredon=le2026-11-01"))
		if !anyContains(outcomeTexts(got.JSON), "Only one authoredon bound") {
			t.Errorf("outcomes %v", outcomeTexts(got.JSON))
		}
		if self := link(got.JSON, "self"); !strings.Contains(self, "authoredon=ge") {
			t.Errorf("self link does not show the supplied bound: %s", self)
		}
	})

	t.Run("searchsets carry no bogus timestamp", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat))
		if ts, ok := got.JSON["timestamp"].(string); ok && strings.HasPrefix(ts, "0001") {
			t.Errorf("timestamp %s", ts)
		}
	})

	t.Run("an unchanged search answers 304 to its ETag", func(t *testing.T) {
		first := a.get(t, search(sandbox.PatientAcuteAndRepeat))
		etag := first.Header.Get("ETag")
		again := a.get(t, search(sandbox.PatientAcuteAndRepeat), "If-None-Match", etag)
		if etag == "" || again.Status != http.StatusNotModified {
			t.Errorf("ETag %q, then status %d", etag, again.Status)
		}
		other := a.get(t, search(sandbox.PatientR1), "If-None-Match", etag)
		if other.Status != http.StatusOK {
			t.Errorf("another search with the same ETag: status %d", other.Status)
		}
	})

}

func TestGroupIdentifierWithPatient(t *testing.T) {
	a := start(t, setup{})
	own := a.get(t, "/MedicationRequest?group-identifier="+sandbox.RxAcuteDispensed+"&patient="+sandbox.PatientAcuteAndRepeat)
	if own.Status != http.StatusOK || total(own.JSON) == 0 {
		t.Fatalf("the patient's own prescription: status %d total %d: %s", own.Status, total(own.JSON), own.Body)
	}
	other := a.get(t, "/MedicationRequest?group-identifier="+sandbox.RxAcuteDispensed+"&patient="+sandbox.PatientR1)
	unknown := a.get(t, "/MedicationRequest?group-identifier=7D9625-Z72BF2-11E3AC&patient="+sandbox.PatientR1)
	if other.Status != http.StatusOK || total(other.JSON) != 0 {
		t.Fatalf("another patient's prescription: status %d total %d", other.Status, total(other.JSON))
	}
	if !slices.Equal(outcomeTexts(other.JSON), outcomeTexts(unknown.JSON)) {
		t.Errorf("another patient's prescription is told apart from an unknown one:\n%v\n%v",
			outcomeTexts(other.JSON), outcomeTexts(unknown.JSON))
	}
}

func TestFanOutKeepsTheSearchFilters(t *testing.T) {
	a := start(t, setup{})
	// Windows that start between a prescription's signing and its issue: the full form (signingDate)
	// falls outside, the summary form (prescriptionIssueDate) inside.
	plain := a.get(t, search(sandbox.PatientAcuteAndRepeat, "authoredon=ge2026-10-01"))
	tried := map[string]bool{}
	for _, e := range entries(plain.JSON, "match") {
		ao := resource(e)["authoredOn"].(string)
		if tried[ao] {
			continue
		}
		tried[ao] = true
		lo, _ := time.Parse(time.RFC3339, ao)
		window := "authoredon=" + url.QueryEscape("ge"+lo.Format(time.RFC3339)) + "&authoredon=le2026-11-23"
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, window, "_include=MedicationRequest:requester"))
		for _, m := range entries(got.JSON, "match") {
			// A full form without authoredOn (R1 has no signing date) is kept in any window.
			if ao2, ok := resource(m)["authoredOn"].(string); ok && ao2 < lo.Format(time.RFC3339) {
				t.Errorf("window from %s returned an entry authored %s after the fan-out", ao, ao2)
			}
		}
	}
}

func TestARequestHasOneDeadline(t *testing.T) {
	a := start(t, setup{budget: time.Second})
	a.Spine.Sandbox.SetFault(sandbox.Fault{Kind: sandbox.FaultLatency, Latency: 300 * time.Millisecond})
	defer a.Spine.Sandbox.SetFault(sandbox.Fault{})

	// 15 prescriptions, 4 retrieves at a time, 300 ms each, after a 300 ms search: more than the budget.
	got := a.get(t, search(sandbox.PatientManyItems, "_count=60", "_include=MedicationRequest:requester"))
	if got.Status != http.StatusOK {
		t.Fatalf("status %d: %s", got.Status, got.Body)
	}
	if !anyContains(outcomeTexts(got.JSON), "warning: Partial result") {
		t.Errorf("no partial-result warning: %v", outcomeTexts(got.JSON))
	}
	summary := 0
	for _, e := range entries(got.JSON, "match") {
		if meta, _ := resource(e)["meta"].(map[string]any); meta["tag"] != nil {
			summary++
		}
	}
	if summary == 0 {
		t.Error("every entry reached its full form within the budget; the test proves nothing")
	}
}

func TestDetailsFailing(t *testing.T) {
	a := start(t, setup{})
	b := start(t, setup{detailed: true, tracker: fakeTracker{search: a.Client.Search, retrieve: a.Client.Retrieve}})

	t.Run("a read answers with the medication absent because of an error", func(t *testing.T) {
		got := b.get(t, "/MedicationRequest/"+sandbox.RxAcuteDispensed+"-1-1")
		if got.Status != http.StatusOK {
			t.Fatalf("status %d: %s", got.Status, got.Body)
		}
		med := got.JSON["medicationCodeableConcept"].(map[string]any)
		ext := med["extension"].([]any)[0].(map[string]any)
		if ext["valueCode"] != "error" {
			t.Errorf("medication %v, want data-absent-reason error", med)
		}
	})

	t.Run("a group-identifier search warns", func(t *testing.T) {
		got := b.get(t, "/MedicationRequest?group-identifier="+sandbox.RxAcuteDispensed)
		if !anyContains(outcomeTexts(got.JSON), "warning: ") {
			t.Errorf("outcomes %v", outcomeTexts(got.JSON))
		}
	})
}

func TestSpineRefusingAParameterNamesIt(t *testing.T) {
	for code, param := range map[string]string{"57": "authoredon", "61": "patient", "59": "business-status"} {
		a := start(t, setup{tracker: fakeTracker{
			search: func(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.SearchResult, error) {
				return nil, &tracker.Error{Kind: tracker.ErrInvalidRequest, Interaction: "search", StatusCode: code, Reason: "refused"}
			},
		}})
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat))
		if got.Status != http.StatusBadRequest {
			t.Fatalf("statusCode %s: status %d", code, got.Status)
		}
		if exprs := toStrings(issue(t, got)["expression"]); !slices.Equal(exprs, []string{param}) {
			t.Errorf("statusCode %s: expression %v, want %s", code, exprs, param)
		}
	}
}

func TestEveryAcceptHeaderCounts(t *testing.T) {
	a := start(t, setup{})
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/metadata", nil)
	req.Header.Add("Accept", "text/html")
	req.Header.Add("Accept", "application/fhir+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200: the second Accept header names FHIR JSON", res.StatusCode)
	}
}
