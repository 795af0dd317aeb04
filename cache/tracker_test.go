package cache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// The decorator must stay a drop-in for the client: both have Upstream's method set, which is
// routes.Tracker's (main.go pins that; importing routes here would tie these tests to its build).
var (
	_ cache.Upstream = (*cache.Tracker)(nil)
	_ cache.Upstream = (*tracker.Client)(nil)
)

func TestTrackerAnswersRepeatsFromTheCache(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	c := e.tracker(t, cache.Config{}, nil)
	ctx := t.Context()
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}

	first, err := c.Search(ctx, alice, q)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Search(ctx, alice, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.calls("search"), 1; got != want {
		t.Errorf("Spine searches = %d, want %d", got, want)
	}
	if first != second {
		t.Error("a hit returned another value than the one Spine's answer was cached as")
	}
	if len(first.Prescriptions) == 0 || first.Fetched.IsZero() {
		t.Errorf("cached result has %d prescriptions, Fetched %v: want Spine's answer as the client returned it",
			len(first.Prescriptions), first.Fetched)
	}

	t.Run("each interaction is cached under its own key", func(t *testing.T) {
		for range 2 {
			if _, err := c.Retrieve(ctx, alice, tracker.RetrieveQuery{PrescriptionID: sandbox.RxAcuteDispensed}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ItemDetails(ctx, alice, tracker.DetailQuery{PrescriptionID: sandbox.RxR1Acute}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ItemSummary(ctx, alice, q); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := e.calls("nhs111itemsummary"), 1; got != want {
			t.Errorf("Spine item summaries = %d, want %d", got, want)
		}
		if got, want := e.calls("retrieve"), 1; got != want {
			t.Errorf("Spine retrieves = %d, want %d", got, want)
		}
		if got, want := e.calls("nhs111itemdetails"), 1; got != want {
			t.Errorf("Spine item details = %d, want %d", got, want)
		}
	})

	t.Run("a search differing only in the time of day is the same Spine call", func(t *testing.T) {
		e.srv.Sandbox.ResetCalls()
		morning := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		for _, earliest := range []time.Time{morning, morning.Add(9 * time.Hour)} {
			if _, err := c.Search(ctx, alice, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat, EarliestDate: earliest}); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := e.calls("search"), 1; got != want {
			t.Errorf("Spine searches = %d, want %d", got, want)
		}
	})
}

func TestTrackerEntriesExpireAfterTheTTL(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	c := e.tracker(t, cache.Config{TTL: 30 * time.Second}, nil)
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientRepeatDispensing}
	search := func() {
		t.Helper()
		if _, err := c.Search(t.Context(), alice, q); err != nil {
			t.Fatal(err)
		}
	}

	search()
	e.clock.Advance(30*time.Second - time.Nanosecond)
	search()
	if got, want := e.calls("search"), 1; got != want {
		t.Fatalf("Spine searches within the TTL = %d, want %d", got, want)
	}
	e.clock.Advance(time.Nanosecond)
	search()
	if got, want := e.calls("search"), 2; got != want {
		t.Errorf("Spine searches once the TTL has passed = %d, want %d", got, want)
	}
}

func TestTrackerKeysByEndUser(t *testing.T) {
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}
	tests := []struct {
		name      string
		share     bool
		callers   []tracker.Caller
		wantCalls int
	}{
		{"two users make two Spine calls", false, []tracker.Caller{alice, bob}, 2},
		{"one user in two roles makes two Spine calls", false,
			[]tracker.Caller{alice, {UserID: alice.UserID, RoleProfileID: bob.RoleProfileID}}, 2},
		{"one user under two trace ids makes one Spine call", false,
			[]tracker.Caller{{UserID: alice.UserID, RoleProfileID: alice.RoleProfileID, TraceID: "trace-1"},
				{UserID: alice.UserID, RoleProfileID: alice.RoleProfileID, TraceID: "trace-2"}}, 1},
		{"two users sharing across users make one Spine call", true, []tracker.Caller{alice, bob}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			c := e.tracker(t, cache.Config{ShareAcrossUsers: tt.share}, nil)
			for _, who := range tt.callers {
				if _, err := c.Search(t.Context(), who, q); err != nil {
					t.Fatal(err)
				}
			}
			calls, _ := e.srv.Sandbox.Calls()
			if got := len(calls); got != tt.wantCalls {
				t.Fatalf("Spine searches = %d, want %d", got, tt.wantCalls)
			}
			for i, call := range calls {
				if who := tt.callers[i]; call.UserID != who.UserID || call.RoleProfileID != who.RoleProfileID {
					t.Errorf("Spine call %d was for user %s role %s, want %s %s",
						i, call.UserID, call.RoleProfileID, who.UserID, who.RoleProfileID)
				}
			}
		})
	}
}

func TestTrackerKeepsNotFoundBriefly(t *testing.T) {
	notFound := []struct {
		name string
		q    tracker.RetrieveQuery
		kind error
	}{
		{"an unknown prescription", tracker.RetrieveQuery{PrescriptionID: unknownRx}, tracker.ErrNotFound},
		{"an issue the prescription does not have", tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatDispensing, IssueNumber: 99},
			tracker.ErrIssueNotFound},
	}
	for _, tt := range notFound {
		t.Run(tt.name+" is asked again after NotFoundTTL", func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			c := e.tracker(t, cache.Config{TTL: time.Minute, NotFoundTTL: 5 * time.Second}, nil)
			retrieve := func() {
				t.Helper()
				if _, err := c.Retrieve(t.Context(), alice, tt.q); !errors.Is(err, tt.kind) {
					t.Fatalf("err = %v, want %v", err, tt.kind)
				}
			}
			retrieve()
			e.clock.Advance(5*time.Second - time.Nanosecond)
			retrieve()
			if got, want := e.calls("retrieve"), 1; got != want {
				t.Fatalf("Spine retrieves within NotFoundTTL = %d, want %d", got, want)
			}
			e.clock.Advance(time.Nanosecond)
			retrieve()
			if got, want := e.calls("retrieve"), 2; got != want {
				t.Errorf("Spine retrieves after NotFoundTTL = %d, want %d", got, want)
			}
		})
	}

	t.Run("a negative NotFoundTTL keeps no not-found", func(t *testing.T) {
		e := newEnv(t, sandbox.Options{})
		c := e.tracker(t, cache.Config{NotFoundTTL: -1}, nil)
		for range 2 {
			if _, err := c.Retrieve(t.Context(), alice, tracker.RetrieveQuery{PrescriptionID: unknownRx}); !errors.Is(err, tracker.ErrNotFound) {
				t.Fatalf("err = %v, want %v", err, tracker.ErrNotFound)
			}
		}
		if got, want := e.calls("retrieve"), 2; got != want {
			t.Errorf("Spine retrieves = %d, want %d", got, want)
		}
	})
}

func TestTrackerNeverCachesErrors(t *testing.T) {
	tests := []struct {
		name    string
		patient string
		kind    error
	}{
		{"an HTTP 500", sandbox.PatientFaultHTTP500, tracker.ErrUpstream},
		{"statusCode 5", sandbox.PatientFaultStatus5, tracker.ErrUpstream},
		{"a malformed reply", sandbox.PatientFaultMalformed, tracker.ErrUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is asked again", func(t *testing.T) {
			e := newEnv(t, sandbox.Options{})
			c := e.tracker(t, cache.Config{}, nil)
			for range 2 {
				if _, err := c.Search(t.Context(), alice, tracker.SearchQuery{NHSNumber: tt.patient}); !errors.Is(err, tt.kind) {
					t.Fatalf("err = %v, want %v", err, tt.kind)
				}
			}
			if got, want := e.calls("search"), 2; got != want {
				t.Errorf("Spine searches = %d, want %d", got, want)
			}
		})
	}
}

func TestTrackerWithZeroTTLPassesEverythingThrough(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	c, err := cache.New(e.client, cache.Config{TTL: 0}, e.tp, e.mp)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Search(t.Context(), alice, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := e.calls("search"), 2; got != want {
		t.Errorf("Spine searches = %d, want %d", got, want)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	bad := []struct {
		name string
		c    cache.Config
	}{
		{"a negative TTL", cache.Config{TTL: -time.Second}},
		{"a negative byte bound", cache.Config{TTL: time.Second, MaxBytes: -1}},
		{"a negative entry bound", cache.Config{TTL: time.Second, MaxEntries: -1}},
		{"a negative call timeout", cache.Config{TTL: time.Second, CallTimeout: -1}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cache.New(upstream{}, tt.c, nil, nil); err == nil {
				t.Error("New accepted it")
			}
			if _, err := cache.NewAnswers(tt.c, nil); err == nil {
				t.Error("NewAnswers accepted it")
			}
		})
	}
}

// Two requests share one cached entry and read all of it at once: under -race, any write to a
// shared value, by the cache or the client, fails the test.
func TestTrackerSharesOneImmutableValue(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	c := e.tracker(t, cache.Config{}, nil)
	q := tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatDispensing}

	var wg sync.WaitGroup
	got := make([]*tracker.Prescription, 4)
	for i := range got {
		wg.Go(func() {
			p, err := c.Retrieve(context.Background(), alice, q)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = p
			readAll(p)
		})
	}
	wg.Wait()
	for i, p := range got {
		if p == nil || p != got[0] {
			t.Fatalf("request %d got %p, want the one shared value %p", i, p, got[0])
		}
	}
	if got, want := e.calls("retrieve"), 1; got != want {
		t.Errorf("Spine retrieves = %d, want %d", got, want)
	}
}

// readAll reads every field a route could read.
func readAll(p *tracker.Prescription) (n int) {
	n += len(p.ID) + len(p.PatientNHSNumber) + len(p.Prescriber.Name) + p.DaysSupply + p.Fetched.Nanosecond()
	for _, is := range p.Issues {
		n += is.Number + len(is.Status) + len(is.Dispenser.ODS)
		for _, li := range is.LineItems {
			n += li.Ordinal + len(li.ID) + len(li.Status)
		}
	}
	return n
}
