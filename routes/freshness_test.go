package routes_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// notFoundFirst answers Spine's first search with "not found" (the patient has no prescriptions
// yet), and every later call from the real Spine (a prescription has been issued since).
type notFoundFirst struct {
	routes.Tracker // the real client, set after start
	searches       atomic.Int32
}

func (s *notFoundFirst) Search(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error) {
	if s.searches.Add(1) == 1 {
		return nil, &tracker.Error{Kind: tracker.ErrNotFound, Interaction: "search", StatusCode: "1", Reason: "Not found"}
	}
	return s.Tracker.Search(ctx, who, q)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// A not-found lives NotFoundTTL (5 s), as the README says, in the answer cache too: an answer built on
// Spine's not-found was kept for the whole TTL, so a prescription issued just after a search stayed
// invisible for 30 s.
func TestANotFoundAnswerIsNotKeptLongerThanNotFoundTTL(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	cfg := cache.Config{TTL: 30 * time.Second, Now: clock.Now} // main's defaults: NotFoundTTL 5 s
	stub := &notFoundFirst{}
	a := startOnCaches(t, stub, cfg, false)
	stub.Tracker = a.Client

	path := search(sandbox.PatientAcuteAndRepeat)
	first := a.get(t, path)
	if first.Status != http.StatusOK || total(first.JSON) != 0 {
		t.Fatalf("first: status %d total %d", first.Status, total(first.JSON))
	}
	clock.Add(6 * time.Second) // past NotFoundTTL, well within TTL
	again := a.get(t, path)
	if stub.searches.Load() < 2 || total(again.JSON) == 0 {
		t.Errorf("6 s after Spine said not found, the search was answered from the answer cache (%d Spine searches, total %d): the not-found lives for the full TTL, not NotFoundTTL", stub.searches.Load(), total(again.JSON))
	}
}

// clockedSpine is the real Spine on a fake clock: Fetched is the fake time of the answer, the item
// summary takes one second to answer, and Spine renames the medication ten seconds in.
type clockedSpine struct {
	routes.Tracker
	clock     *fakeClock
	start     time.Time
	summaries atomic.Int32
}

func (s *clockedSpine) Search(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error) {
	r, err := s.Tracker.Search(ctx, who, q)
	if err != nil {
		return nil, err
	}
	c := *r
	c.Fetched = s.clock.Now()
	return &c, nil
}

func (s *clockedSpine) ItemSummary(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.ItemSummaryResult, error) {
	s.summaries.Add(1)
	r, err := s.Tracker.ItemSummary(ctx, who, q)
	if err != nil {
		return nil, err
	}
	renamed := s.clock.Now().Sub(s.start) >= 10*time.Second
	out := &tracker.ItemSummaryResult{Fetched: s.clock.Now()}
	for _, p := range r.Prescriptions {
		p.Medications = append([]tracker.MedicationName(nil), p.Medications...)
		for i := range p.Medications {
			if renamed {
				p.Medications[i].Name += " (renamed)"
			}
		}
		out.Prescriptions = append(out.Prescriptions, p)
	}
	s.clock.Add(time.Second) // Spine's latency
	return out, nil
}

// A cached answer lives TTL from when Spine answered for the oldest data in it, the item summary's
// included: an answer whose search was fetched again but whose item summary came from the tracker
// cache lived on with names up to twice the TTL old (it was not counted).
func TestTheItemSummaryCountsInAnAnswersAge(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	cfg := cache.Config{TTL: 30 * time.Second, Now: clock.Now}
	stub := &clockedSpine{clock: clock, start: clock.Now()}
	a := startOnCaches(t, stub, cfg, true)
	stub.Tracker = a.Client

	path := search(sandbox.PatientAcuteAndRepeat, "_summary=true")
	first := a.get(t, path)
	if first.Status != http.StatusOK {
		t.Fatalf("status %d", first.Status)
	}
	if !strings.Contains(string(first.Body), `"text":"`) {
		t.Fatalf("no medication name in the summary form: %.600s", first.Body)
	}
	clock.Add(29*time.Second + 600*time.Millisecond) // t=30.6: the search and the answer have expired, the summary (stored at t=1) has not
	second := a.get(t, path)
	clock.Add(29 * time.Second) // t=59.6
	third := a.get(t, path)
	if !strings.Contains(string(third.Body), "(renamed)") {
		t.Errorf("at t=59.6 s the answer still shows the medication names Spine gave at t=0 (renamed at t=10): its item summary data is ~59 s old with TTL 30 s (second answer renamed: %v)",
			strings.Contains(string(second.Body), "(renamed)"))
	}
}

// startOnCaches starts the adapter with the tracker cache over spine and the answer cache, both on
// cfg (a fake clock's); the caller then points spine at the real client.
func startOnCaches(t *testing.T, spine routes.Tracker, cfg cache.Config, detailed bool) *adapter {
	t.Helper()
	cached, err := cache.New(spine, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	answers, err := cache.NewAnswers(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, setup{tracker: cached, answers: answers, detailed: detailed})
}
