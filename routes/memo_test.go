package routes_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// memoLookups reads the entry memo's hits and misses from the adapter's metrics.
func memoLookups(t *testing.T, a *adapter) (hits, misses int64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := a.Metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != "cache.lookups" || !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				if name, _ := dp.Attributes.Value("cache.name"); name.AsString() != "entries" {
					continue
				}
				switch result, _ := dp.Attributes.Value(attribute.Key("cache.result")); result.AsString() {
				case "hit":
					hits += dp.Value
				case "miss":
					misses += dp.Value
				}
			}
		}
	}
	return hits, misses
}

// changingSpine is the real client, except that, once changed is set, the first prescription of every
// search comes back with a new last-event date: Spine's record of it changed.
type changingSpine struct {
	routes.Tracker
	changed atomic.Bool
}

func (c *changingSpine) Search(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error) {
	res, err := c.Tracker.Search(ctx, who, q)
	if err != nil || !c.changed.Load() || len(res.Prescriptions) == 0 {
		return res, err
	}
	changed := *res
	changed.Prescriptions = append([]tracker.Prescription(nil), res.Prescriptions...)
	p := &changed.Prescriptions[0]
	p.Issues = append([]tracker.Issue(nil), p.Issues...)
	for i := range p.Issues {
		p.Issues[i].Status = tracker.StatusCancelled
		p.Issues[i].LineItems = append([]tracker.LineItem(nil), p.Issues[i].LineItems...)
		for j := range p.Issues[i].LineItems {
			p.Issues[i].LineItems[j].Status = tracker.ItemCancelled
		}
	}
	return &changed, nil
}

// TestUnchangedPrescriptionsAreNotMappedOrMarshalledAgain: once a prescription's Spine record has been
// mapped, a search that gets the same record again (another page, another filter, another user, the
// answer cache gone) reuses its entries, yet still makes its own Spine call; a changed record is
// mapped afresh. Every answer here is also checked byte for byte against jsonformat (validate).
func TestUnchangedPrescriptionsAreNotMappedOrMarshalledAgain(t *testing.T) {
	spine := &changingSpine{}
	a := start(t, setup{traced: true, tracker: spine})
	spine.Tracker = a.Client
	path := search(sandbox.PatientManyItems, "_count=10", "_summary=true")
	first := a.get(t, path)
	if first.Status != http.StatusOK || len(entries(first.JSON, "match")) != 10 {
		t.Fatalf("first search: %d, %d matches", first.Status, len(entries(first.JSON, "match")))
	}
	hits, misses := memoLookups(t, a)
	if misses == 0 || hits != 0 {
		t.Fatalf("first search: %d memo hits and %d misses, want misses only", hits, misses)
	}
	records := misses // one per prescription

	for _, tc := range []struct {
		name    string
		path    string
		headers []string
	}{
		{"the same search again, with no answer cache", path, nil},
		{"the next page", link(first.JSON, "next"), nil},
		{"another filter", path + "&status=active,completed,cancelled,stopped,on-hold", nil},
		{"another user", path, []string{"Authorization", "Bearer " + a.tokenFor(t, pharmacist)}},
		{"_pretty", path + "&_pretty=true", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h0, m0 := memoLookups(t, a)
			a.Spine.Sandbox.ResetCalls()
			got := a.get(t, tc.path, tc.headers...)
			if got.Status != http.StatusOK {
				t.Fatalf("status %d", got.Status)
			}
			if n := a.Spine.Sandbox.CallCount("search"); n != 1 {
				t.Errorf("%d Spine searches: the memo must never stand in for the request's own", n)
			}
			h1, m1 := memoLookups(t, a)
			if m1 != m0 || h1-h0 != records {
				t.Errorf("%d memo hits and %d misses, want %d hits and none missed", h1-h0, m1-m0, records)
			}
		})
	}
	if again := a.get(t, path); string(again.Body) != string(first.Body) {
		t.Error("the answer from memoized entries differs from the first")
	}

	t.Run("a changed record is mapped afresh", func(t *testing.T) {
		spine.changed.Store(true)
		h0, m0 := memoLookups(t, a)
		got := a.get(t, search(sandbox.PatientManyItems, "_count=50", "_summary=true"))
		if got.Status != http.StatusOK {
			t.Fatalf("status %d", got.Status)
		}
		h1, m1 := memoLookups(t, a)
		if m1-m0 != 1 || h1-h0 != records-1 {
			t.Errorf("%d memo hits and %d misses, want %d and 1", h1-h0, m1-m0, records-1)
		}
		cancelled := 0
		for _, e := range entries(got.JSON, "match") {
			if resource(e)["status"] == "cancelled" {
				cancelled++
			}
		}
		if cancelled == 0 {
			t.Error("the changed prescription's new status is not in the answer")
		}
	})
}

// TestTheFullFormReusesEntriesToo: a full-form search maps each prescription's retrieve (and
// details); the next full-form search for the patient, by another user, maps none of them again.
func TestTheFullFormReusesEntriesToo(t *testing.T) {
	a := start(t, setup{traced: true, detailed: true})
	path := search(sandbox.PatientAcuteAndRepeat, "_include=MedicationRequest:requester", "_revinclude=MedicationDispense:prescription")
	first := a.get(t, path)
	if first.Status != http.StatusOK || len(entries(first.JSON, "include")) == 0 {
		t.Fatalf("first search: %d, includes %v", first.Status, ids(first.JSON, "include"))
	}
	_, misses := memoLookups(t, a)
	a.Spine.Sandbox.ResetCalls()
	second := a.get(t, path, "Authorization", "Bearer "+a.tokenFor(t, pharmacist))
	hits, misses2 := memoLookups(t, a)
	if misses2 != misses || hits == 0 {
		t.Errorf("second full-form search: %d hits, %d new misses", hits, misses2-misses)
	}
	if n := a.Spine.Sandbox.CallCount("retrieve"); n == 0 {
		t.Error("the second search made no retrieves of its own")
	}
	if !strings.Contains(string(second.Body), `"resourceType":"MedicationDispense"`) {
		t.Error("the memoized dispenses are missing from the second answer")
	}
	if string(second.Body) != string(first.Body) {
		t.Error("the second answer differs from the first")
	}
}

// TestMemoizedAnswersAreTheFreshOnes: for every shape a search answers in (summary form, full form
// with the requester, the patient and the dispenses, a prescription's line items, the notes), an
// answer written from memoized entries is byte for byte the answer of an adapter with no memo.
func TestMemoizedAnswersAreTheFreshOnes(t *testing.T) {
	memo := start(t, setup{detailed: true, traced: true})
	fresh := start(t, setup{detailed: true, noMemo: true})
	pageToken := regexp.MustCompile(`_page=[^"&]+`)
	normalise := func(a *adapter, body []byte) string {
		return pageToken.ReplaceAllString(strings.ReplaceAll(string(body), a.URL, "BASE"), "_page=TOKEN")
	}
	for _, path := range []string{
		search(sandbox.PatientManyItems, "_count=10", "_summary=true"),
		search(sandbox.PatientManyItems, "_count=10"),
		search(sandbox.PatientAcuteAndRepeat, "_include=MedicationRequest:requester",
			"_include=MedicationRequest:patient", "_revinclude=MedicationDispense:prescription"),
		search(sandbox.PatientAcuteAndRepeat, "_summary=true", "_revinclude=MedicationDispense:prescription"),
		"/MedicationRequest?group-identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/prescription-order-number|"+sandbox.RxAcuteDispensed),
		"/MedicationRequest?group-identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/prescription-order-number|"+sandbox.RxAcuteDispensed) +
			"&_include=MedicationRequest:requester&_include=MedicationRequest:patient&_revinclude=MedicationDispense:prescription",
	} {
		t.Run(path, func(t *testing.T) {
			memo.get(t, path) // fills the memo
			h0, m0 := memoLookups(t, memo)
			got := memo.get(t, path)
			h1, m1 := memoLookups(t, memo)
			if h1 == h0 || m1 != m0 {
				t.Fatalf("the second answer took %d entries from the memo and missed %d: it proves nothing", h1-h0, m1-m0)
			}
			want := fresh.get(t, path)
			if got.Status != http.StatusOK || want.Status != http.StatusOK {
				t.Fatalf("status %d and %d", got.Status, want.Status)
			}
			if g, w := normalise(memo, got.Body), normalise(fresh, want.Body); g != w {
				t.Errorf("memoized answer differs from the fresh one:\n got %.2000s\nwant %.2000s", g, w)
			}
		})
	}
}

// movedOnSpine is the real client, except that its retrieves show every issue at status to: the
// prescription moved on between the search that found it and the retrieve of its full form.
type movedOnSpine struct {
	routes.Tracker
	to tracker.PrescriptionStatus
}

func (m *movedOnSpine) Retrieve(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (*tracker.Prescription, error) {
	p, err := m.Tracker.Retrieve(ctx, who, q)
	if err != nil {
		return p, err
	}
	moved := *p
	moved.Issues = append([]tracker.Issue(nil), p.Issues...)
	for i := range moved.Issues {
		moved.Issues[i].Status = m.to
	}
	return &moved, nil
}

// TestAFullFormThatLeftTheBusinessStatusIsNotShownAsMatching: a search for prescriptions to be
// dispensed (0001) never shows an entry whose full form says it is with a dispenser (0002): the entry
// stays in the summary form that matched, with a warning, as for a status or a date that moved on.
func TestAFullFormThatLeftTheBusinessStatusIsNotShownAsMatching(t *testing.T) {
	spine := &movedOnSpine{}
	a := start(t, setup{tracker: spine})
	spine.Tracker = a.Client
	path := search(sandbox.PatientAcuteAndRepeat, "business-status="+string(tracker.StatusToBeDispensed))
	spine.to = tracker.StatusToBeDispensed // nothing moved on yet
	if before := a.get(t, path); before.Status != http.StatusOK || len(entries(before.JSON, "match")) == 0 {
		t.Fatalf("no prescription of %s is to be dispensed: the test proves nothing (%d)", sandbox.PatientAcuteAndRepeat, before.Status)
	}
	spine.to = tracker.StatusWithDispenser
	got := a.get(t, path)
	if got.Status != http.StatusOK || len(entries(got.JSON, "match")) == 0 {
		t.Fatalf("status %d, %d entries: %s", got.Status, len(entries(got.JSON, "match")), got.Body)
	}
	for _, e := range entries(got.JSON, "match") {
		res := e["resource"].(map[string]any)
		if got := businessStatus(res); got != string(tracker.StatusToBeDispensed) {
			t.Errorf("%v shows business status %q, not %s, which the search asked for", res["id"], got, tracker.StatusToBeDispensed)
		}
	}
	if !strings.Contains(string(got.Body), "no longer matched the search in their full form") {
		t.Error("no warning that entries are shown in summary form because their full form moved on")
	}
}
