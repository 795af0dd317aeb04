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

func TestTrackerCoalescesConcurrentIdenticalMisses(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	g := newGate(t)
	c := e.tracker(t, cache.Config{}, upstream{Upstream: e.client, search: g.search(e.client)})
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}

	const n = 8
	var wg sync.WaitGroup
	got := make([]*tracker.SearchResult, n)
	for i := range n {
		wg.Go(func() {
			res, err := c.Search(context.Background(), alice, q)
			if err != nil {
				t.Error(err)
			}
			got[i] = res
		})
	}
	// Hold Spine's answer until every request is waiting for it.
	waitFor(t, "every request waits for the one Spine call", func() bool { return e.lookups(t, "coalesced") == n-1 })
	g.open()
	wg.Wait()

	if got, want := e.calls("search"), 1; got != want {
		t.Errorf("Spine searches = %d, want %d", got, want)
	}
	for i, res := range got {
		if res == nil || res != got[0] {
			t.Errorf("request %d got %p, want the shared result %p", i, res, got[0])
		}
	}
	if got, want := e.lookups(t, "miss"), int64(1); got != want {
		t.Errorf("misses = %d, want %d", got, want)
	}
}

func TestTrackerCallOutlivesTheCallerThatStartedIt(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	// Spine is slow, so the shared call is still in flight when its starter has gone.
	e.srv.Sandbox.SetFault(sandbox.Fault{Kind: sandbox.FaultLatency, Latency: 200 * time.Millisecond})
	g := newGate(t)
	c := e.tracker(t, cache.Config{}, upstream{Upstream: e.client, search: g.search(e.client)})
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}

	starterCtx, hangUp := context.WithCancel(context.Background())
	starter := make(chan error, 1)
	go func() {
		_, err := c.Search(starterCtx, alice, q)
		starter <- err
	}()
	<-g.arrived // the starter's call is on its way to Spine

	type answer struct {
		res *tracker.SearchResult
		err error
	}
	other := make(chan answer, 1)
	go func() {
		res, err := c.Search(context.Background(), alice, q)
		other <- answer{res, err}
	}()
	waitFor(t, "the second request waits for the first one's call", func() bool { return e.lookups(t, "coalesced") == 1 })

	hangUp()
	if err := <-starter; !errors.Is(err, tracker.ErrCanceled) {
		t.Errorf("the caller that hung up got %v, want %v", err, tracker.ErrCanceled)
	}
	// Only now does the call reach Spine: had it kept the starter's cancellation, it would fail.
	g.open()
	got := <-other
	if got.err != nil {
		t.Fatalf("the request still waiting got %v, want the answer", got.err)
	}
	if len(got.res.Prescriptions) == 0 || got.res.Prescriptions[0].PatientNHSNumber != sandbox.PatientAcuteAndRepeat {
		t.Errorf("the request still waiting got %+v, want the patient's prescriptions", got.res)
	}
	if got, want := e.calls("search"), 1; got != want {
		t.Errorf("Spine searches = %d, want %d", got, want)
	}
}

func TestTrackerCancelsTheCallWhenEveryWaiterHasGone(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	ended := make(chan error, 4)
	watched := upstream{Upstream: e.client, search: func(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error) {
		res, err := e.client.Search(ctx, who, q)
		ended <- err
		return res, err
	}}
	// A minute's deadline: the call can only end sooner by being cancelled.
	c := e.tracker(t, cache.Config{CallTimeout: time.Minute}, watched)
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientFaultHang} // Spine never answers

	var cancels []context.CancelFunc
	results := make(chan error, 2)
	for range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		go func() {
			_, err := c.Search(ctx, alice, q)
			results <- err
		}()
	}
	waitFor(t, "both requests wait on one call", func() bool { return e.lookups(t, "coalesced") == 1 })
	waitFor(t, "the call reaches Spine", func() bool { return e.calls("search") == 1 })

	cancels[0]()
	if err := <-results; !errors.Is(err, tracker.ErrCanceled) {
		t.Errorf("the first request to hang up got %v, want %v", err, tracker.ErrCanceled)
	}
	select {
	case err := <-ended:
		t.Fatalf("the call ended (%v) while a request still waited for it", err)
	default:
	}
	cancels[1]()
	if err := <-results; !errors.Is(err, tracker.ErrCanceled) {
		t.Errorf("the last request to hang up got %v, want %v", err, tracker.ErrCanceled)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, tracker.ErrCanceled) {
			t.Errorf("the abandoned call ended with %v, want %v", err, tracker.ErrCanceled)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the abandoned call was never cancelled")
	}

	t.Run("a later request starts a new call", func(t *testing.T) {
		// Hung up once Spine has the new call; the deadline only stops a broken cache from hanging.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		go func() {
			for e.calls("search") < 2 && ctx.Err() == nil {
				time.Sleep(2 * time.Millisecond)
			}
			cancel()
		}()
		if _, err := c.Search(ctx, alice, q); !errors.Is(err, tracker.ErrCanceled) {
			t.Errorf("err = %v, want %v", err, tracker.ErrCanceled)
		}
		if got, want := e.lookups(t, "miss"), int64(2); got != want {
			t.Errorf("misses = %d, want %d", got, want)
		}
	})
}

func TestTrackerWaiterHonoursItsOwnDeadline(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	c := e.tracker(t, cache.Config{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Search(ctx, alice, tracker.SearchQuery{NHSNumber: sandbox.PatientFaultHang})
	if !errors.Is(err, tracker.ErrTimeout) {
		t.Errorf("err = %v, want %v", err, tracker.ErrTimeout)
	}
	var te *tracker.Error
	if !errors.As(err, &te) || te.Interaction != "search" {
		t.Errorf("err = %#v, want a *tracker.Error for the search interaction", err)
	}
}
