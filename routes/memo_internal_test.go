package routes

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

var memoNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// The audit store is told of the records on their way; a renamed method would quietly end that.
var _ expecter = (*audit.Store)(nil)

// fixedSpine answers every search with the same result: 15 prescriptions of 4 line items, shaped like
// the sandbox's PatientManyItems and mapping's BenchmarkSearchBundle50.
type fixedSpine struct{ res *tracker.SearchResult }

func (f fixedSpine) Search(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.SearchResult, error) {
	return f.res, nil
}

func (fixedSpine) Retrieve(context.Context, tracker.Caller, tracker.RetrieveQuery) (*tracker.Prescription, error) {
	return nil, tracker.ErrNotFound
}

func (fixedSpine) ItemDetails(context.Context, tracker.Caller, tracker.DetailQuery) (*tracker.PrescriptionDetail, error) {
	return nil, tracker.ErrNotFound
}

func (fixedSpine) ItemSummary(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.ItemSummaryResult, error) {
	return nil, tracker.ErrNotFound
}

func manyPrescriptions(tb testing.TB, n, lines int) *tracker.SearchResult {
	tb.Helper()
	res := &tracker.SearchResult{Fetched: memoNow}
	for i := range n {
		payload := fmt.Sprintf("%06X-C86002-%05X", 0xB00000+i, 0x100+i)
		c, _ := tracker.CheckCharacter(payload)
		issued := memoNow.AddDate(0, 0, -1-i%27).Truncate(time.Minute)
		items := make([]tracker.LineItem, lines)
		for k := range items {
			items[k] = tracker.LineItem{Ordinal: k + 1, Status: tracker.ItemFullyDispensed}
		}
		res.Prescriptions = append(res.Prescriptions, tracker.Prescription{
			ID: payload + string(c), PatientNHSNumber: "9990000018", TreatmentType: tracker.TreatmentAcute,
			IssueDate: issued, LastEventDate: issued.Add(2 * time.Hour), CurrentIssueNumber: 1,
			Issues: []tracker.Issue{{Number: 1, Date: issued.Truncate(24 * time.Hour), Status: tracker.StatusDispensed, LineItems: items}},
		})
	}
	return res
}

func newMemoService(tb testing.TB, res *tracker.SearchResult, memo *EntryMemo) (*service, *fhir.Encoder) {
	tb.Helper()
	enc, err := fhir.NewEncoder()
	if err != nil {
		tb.Fatal(err)
	}
	return &service{cfg: Config{BaseURL: "http://127.0.0.1:8080/FHIR/R4", FanOut: 4}, tracker: fixedSpine{res: res},
		orgs: NewOrganizations(0, 0), memo: memo, enc: enc, logger: slog.New(slog.DiscardHandler),
		tel: newInstruments(Deps{})}, enc
}

func page50(tb testing.TB) searchPage {
	tb.Helper()
	q := url.Values{"patient:identifier": {fhir.SystemNHSNumber + "|9990000018"}, "_count": {"50"}, "_summary": {"true"}}
	srch, err := mapping.ParseSearch(q, memoNow, false)
	if err != nil {
		tb.Fatal(err)
	}
	return searchPage{Search: srch, Token: func(url.Values, int) string { return "token" }}
}

// searchAndMarshal is a summary search's page, from Spine's answer to marshalled bytes.
func searchAndMarshal(tb testing.TB, s *service, enc *fhir.Encoder, p searchPage) []byte {
	b, f, err := s.search(context.Background(), asker{}, p)
	if err != nil {
		tb.Fatal(err)
	}
	j, err := marshalSearchset(enc, b, f.Entries)
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

// BenchmarkSearchPage50 is the work of a summary search's miss once Spine has answered: map the 60
// line items, keep the 50-entry page, build and marshal the Bundle. "fresh" does all of it;
// "memoized" finds every prescription unchanged in the entry memo.
func BenchmarkSearchPage50(b *testing.B) {
	res, p := manyPrescriptions(b, 15, 4), page50(b)
	b.Run("fresh", func(b *testing.B) {
		s, enc := newMemoService(b, res, nil)
		b.ReportAllocs()
		for b.Loop() {
			searchAndMarshal(b, s, enc, p)
		}
	})
	b.Run("memoized", func(b *testing.B) {
		memo, err := NewEntryMemo(cache.Config{TTL: time.Hour}, nil)
		if err != nil {
			b.Fatal(err)
		}
		s, enc := newMemoService(b, res, memo)
		searchAndMarshal(b, s, enc, p)
		b.ReportAllocs()
		for b.Loop() {
			searchAndMarshal(b, s, enc, p)
		}
	})
}

// TestMemoizedAnswersAreIdentical: the same page from memoized entries, from fresh ones, and from
// marshalling the whole Bundle at once are the same bytes.
func TestMemoizedAnswersAreIdentical(t *testing.T) {
	res, p := manyPrescriptions(t, 15, 4), page50(t)
	memo, err := NewEntryMemo(cache.Config{TTL: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, enc := newMemoService(t, res, nil)
	memoized, _ := newMemoService(t, res, memo)
	b, _, err := plain.search(context.Background(), asker{}, p)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := enc.Marshal(b, false)
	if err != nil {
		t.Fatal(err)
	}
	first := searchAndMarshal(t, memoized, enc, p)
	again := searchAndMarshal(t, memoized, enc, p)
	if string(first) != string(whole) || string(again) != string(whole) {
		t.Errorf("memoized answers differ from the Bundle marshalled whole:\n%.400s\n%.400s", again, whole)
	}
	if n := len(b.Entry); n < 50 {
		t.Fatalf("%d entries: the page proves little", n)
	}
}

// TestAMemoizedPageIsWrittenAroundItsEntries: when the memo holds every match of a page, the Bundle
// is built without the matches' entries (only the notes are left to marshal) and their memoized bytes
// are written in page order; when one record is missing from the memo, the page is built whole. Both
// give the bytes of the Bundle marshalled whole.
func TestAMemoizedPageIsWrittenAroundItsEntries(t *testing.T) {
	res, p := manyPrescriptions(t, 15, 4), page50(t)
	memo, err := NewEntryMemo(cache.Config{TTL: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, enc := newMemoService(t, res, nil)
	svc, _ := newMemoService(t, res, memo)
	want := searchAndMarshal(t, plain, enc, p)
	searchAndMarshal(t, svc, enc, p) // fills the memo

	b, f, err := svc.search(context.Background(), asker{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Entries.matches) != 50 || f.Entries.byResource != nil {
		t.Fatalf("the memo gave %d matches' entries and %d by resource, want 50 and none", len(f.Entries.matches), len(f.Entries.byResource))
	}
	for i, e := range b.Entry {
		if memoResource(e) != nil {
			t.Fatalf("entry %d of the Bundle is a match: the memoized matches should have been left out", i)
		}
	}
	if got, err := marshalSearchset(enc, b, f.Entries); err != nil || string(got) != string(want) {
		t.Errorf("memoized page (err %v) differs from the Bundle marshalled whole:\n%.300s\n%.300s", err, got, want)
	}

	// One prescription the memo could not keep: the page is built and marshalled with every match.
	memo.Clear()
	first := res.Prescriptions[0]
	searchAndMarshal(t, svc, enc, p)
	memo.memo.Put(mapping.Source{Prescription: &first}.Key(), &memoized{matches: mustExpand(t, first)}, 1)
	b, f, err = svc.search(context.Background(), asker{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Entries.matches != nil || len(f.Entries.byResource) == 0 {
		t.Fatalf("with a record missing, the memo gave %d matches' entries and %d by resource, want none and some",
			len(f.Entries.matches), len(f.Entries.byResource))
	}
	if got, err := marshalSearchset(enc, b, f.Entries); err != nil || string(got) != string(want) {
		t.Errorf("page with a record missing from the memo (err %v) differs from the Bundle marshalled whole", err)
	}
}

func mustExpand(t *testing.T, p tracker.Prescription) []mapping.Match {
	t.Helper()
	ms, err := mapping.Expand(mapping.Source{Prescription: &p})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestEntryMemoSizeEstimate: what a memoized record is said to hold is at least the heap it takes,
// so that EPS_MEMO_MAX_BYTES bounds the memory for real: for summary-form records, and for full-form
// ones with the 111 details and dispenses (mapping's golden inputs, many times over).
func TestEntryMemoSizeEstimate(t *testing.T) {
	enc, err := fhir.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	summary := func() []mapping.Source {
		res := manyPrescriptions(t, 400, 4)
		srcs := make([]mapping.Source, len(res.Prescriptions))
		for i := range res.Prescriptions {
			srcs[i] = mapping.Source{Prescription: &res.Prescriptions[i]}
		}
		return srcs
	}
	full := func() []mapping.Source {
		files, err := filepath.Glob("../mapping/testdata/*.tracker.json")
		if err != nil || len(files) == 0 {
			t.Fatalf("no mapping inputs: %v", err)
		}
		var srcs []mapping.Source
		for range 40 {
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				var src mapping.Source // decoded afresh each time: no record shares another's memory
				if err := json.Unmarshal(b, &src); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				srcs = append(srcs, src)
			}
		}
		return srcs
	}
	for name, sources := range map[string]func() []mapping.Source{"summary form": summary, "full form": full} {
		t.Run(name, func(t *testing.T) {
			srcs := sources()
			// Warm the encoder (its pools and plans are not the records' memory), then measure.
			warm := &memoized{matches: must(mapping.Expand(srcs[0]))}
			warm.marshal(enc, "http://127.0.0.1:8080/FHIR/R4")
			var before, after runtime.MemStats
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&before)
			kept := make([]*memoized, 0, len(srcs))
			var estimate int64
			for _, src := range srcs {
				ms, err := mapping.Expand(src)
				if err != nil {
					t.Fatal(err)
				}
				m := &memoized{matches: ms}
				size, ok := m.marshal(enc, "http://127.0.0.1:8080/FHIR/R4")
				if !ok {
					t.Fatal("not marshalled")
				}
				kept = append(kept, m)
				estimate += size
			}
			srcs = nil // the Spine records are the tracker cache's memory, not the memo's
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			runtime.KeepAlive(kept)
			t.Logf("%d records: estimated %d bytes, heap grew %d", len(kept), estimate, held)
			if estimate < held {
				t.Errorf("the estimate (%d bytes) is below the heap the records hold (%d): raise memoOverhead", estimate, held)
			}
			if estimate > 4*held {
				t.Errorf("the estimate (%d bytes) is over four times the heap held (%d): the bound wastes memory", estimate, held)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
