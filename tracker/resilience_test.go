package tracker_test

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// countingSpine serves a sandbox over mutual TLS and counts, on the server side, the requests in
// flight: what Spine would see of this instance.
type countingSpine struct {
	URL      string
	Certs    *sandbox.Certs
	Sandbox  *sandbox.Sandbox
	requests atomic.Int32
	inFlight atomic.Int32
	peak     atomic.Int32
	arrived  chan struct{} // one value per request, dropped when nobody reads
}

func startCountingSpine(t *testing.T) *countingSpine {
	t.Helper()
	certs, err := sandbox.GenerateCerts()
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := certs.ServerTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := &countingSpine{Certs: certs, Sandbox: sandbox.New(sandbox.Options{Now: func() time.Time { return testNow }}),
		arrived: make(chan struct{}, 16)}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for {
			p := s.peak.Load()
			if n <= p || s.peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case s.arrived <- struct{}{}:
		default:
		}
		s.Sandbox.ServeHTTP(w, r)
		if r.Context().Err() != nil {
			panic(http.ErrAbortHandler) // see observeSpine: a client that left gets nothing
		}
	}))
	ts.TLS = serverTLS
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

func fault(t *testing.T, s string) sandbox.Fault {
	t.Helper()
	f, err := sandbox.ParseFault(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Issue 11 problem 3: at most SPINE_MAX_CONCURRENCY calls reach Spine at once, whatever the load.
func TestConcurrentSpineCallsStayWithinTheBound(t *testing.T) {
	spine := startCountingSpine(t)
	spine.Sandbox.SetFault(fault(t, "latency=20ms"))
	const bound, callers = 4, 40
	c := newClient(t, spine.URL, spine.Certs, func(c *tracker.Config) {
		c.MaxConcurrency, c.MaxWaiting, c.Timeout = bound, callers, 20*time.Second
	})
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := c.Search(context.Background(), tracker.Caller{}, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a call within the waiting bound failed: %v", err)
		}
	}
	if got := spine.peak.Load(); got > bound {
		t.Errorf("peak concurrent Spine calls = %d, want at most %d", got, bound)
	}
	if got := spine.peak.Load(); got < 2 {
		t.Errorf("peak concurrent Spine calls = %d: the calls were never concurrent, so the bound was not tested", got)
	}
	if got, want := spine.requests.Load(), int32(callers); got != want {
		t.Errorf("Spine saw %d requests, want %d", got, want)
	}
}

// Issue 11 problem 3: what cannot be served in time is refused at once with a Retry-After, and
// never reaches Spine.
func TestOverloadIsShedBeforeSpine(t *testing.T) {
	spine := startCountingSpine(t)
	c := newClient(t, spine.URL, spine.Certs, func(c *tracker.Config) {
		c.MaxConcurrency, c.MaxWaiting, c.MaxRetries, c.Timeout = 1, 1, -1, 10*time.Second
	})
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}
	// A first call teaches the client that a Spine call takes about 300ms.
	spine.Sandbox.SetFault(fault(t, "latency=300ms"))
	if _, err := c.Search(context.Background(), tracker.Caller{}, q); err != nil {
		t.Fatal(err)
	}
	<-spine.arrived

	// A hangs and holds the only slot.
	spine.Sandbox.SetFault(fault(t, "hang"))
	ctxA, cancelA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() {
		_, err := c.Search(ctxA, tracker.Caller{}, q)
		errA <- err
	}()
	<-spine.arrived

	checkOverloaded := func(t *testing.T, err error) {
		t.Helper()
		var e *tracker.Error
		if !errors.Is(err, tracker.ErrOverloaded) || !errors.As(err, &e) {
			t.Fatalf("err = %v, want %v", err, tracker.ErrOverloaded)
		}
		if e.RetryAfter < time.Second {
			t.Errorf("RetryAfter = %v, want at least 1s", e.RetryAfter)
		}
	}
	t.Run("a call whose deadline is shorter than a typical call is refused at once", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		defer cancel()
		_, err := c.Search(ctx, tracker.Caller{}, q)
		checkOverloaded(t, err)
	})

	// D waits for A's slot; with the queue full, C is refused.
	errD := make(chan error, 1)
	go func() {
		_, err := c.Search(context.Background(), tracker.Caller{}, q)
		errD <- err
	}()
	for c.Waiting() < 1 {
		time.Sleep(time.Millisecond)
	}
	t.Run("a call finding the queue full is refused at once", func(t *testing.T) {
		_, err := c.Search(context.Background(), tracker.Caller{}, q)
		checkOverloaded(t, err)
	})

	spine.Sandbox.SetFault(sandbox.Fault{})
	cancelA()
	if err := <-errA; !errors.Is(err, tracker.ErrCanceled) {
		t.Errorf("A: err = %v, want %v", err, tracker.ErrCanceled)
	}
	if err := <-errD; err != nil {
		t.Errorf("the waiting call failed once the slot was free: %v", err)
	}
	if got, want := spine.requests.Load(), int32(3); got != want {
		t.Errorf("Spine saw %d requests, want %d (the warm-up, A and D; the refused calls none)", got, want)
	}
}

// breakerStates returns how often the breaker entered each state, from the metric.
func breakerStates(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "spine.client.breaker.transitions" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				state, _ := dp.Attributes.Value("spine.breaker.state")
				got[state.AsString()] += dp.Value
			}
		}
	}
	return got
}

// Issue 11 problem 4: repeated connection failures or timeouts open the breaker, which then
// answers at once without calling Spine; once Spine is back a trial call closes it.
func TestBreakerOpensAndClosesAgainstTheSandbox(t *testing.T) {
	for _, tt := range []struct {
		fault string
		kind  error
	}{
		{"reset", tracker.ErrUpstream},
		{"hang", tracker.ErrTimeout},
	} {
		t.Run("connections that "+tt.fault+" open it", func(t *testing.T) {
			spine := startCountingSpine(t)
			var logs syncBuffer
			reader := sdkmetric.NewManualReader()
			c := newClient(t, spine.URL, spine.Certs, func(c *tracker.Config) {
				c.MaxRetries, c.Timeout = -1, 200*time.Millisecond
				c.BreakerFailures, c.BreakerOpenFor = 3, 200*time.Millisecond
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			})
			ctx := context.Background()
			q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}
			spine.Sandbox.SetFault(fault(t, tt.fault))
			for i := range 3 {
				if _, err := c.Search(ctx, tracker.Caller{}, q); !errors.Is(err, tt.kind) {
					t.Fatalf("call %d: err = %v, want %v", i+1, err, tt.kind)
				}
			}
			before := spine.requests.Load()
			_, err := c.Search(ctx, tracker.Caller{}, q)
			var e *tracker.Error
			if !errors.Is(err, tracker.ErrCircuitOpen) || !errors.As(err, &e) {
				t.Fatalf("after 3 failures: err = %v, want %v", err, tracker.ErrCircuitOpen)
			}
			if e.RetryAfter < time.Second {
				t.Errorf("RetryAfter = %v, want at least 1s", e.RetryAfter)
			}
			if got := spine.requests.Load(); got != before {
				t.Errorf("an open breaker let %d requests reach Spine", got-before)
			}

			spine.Sandbox.SetFault(sandbox.Fault{})
			recovered := false
			for range 100 { // the breaker stays open for 200ms: a trial call then finds Spine back
				_, err := c.Search(ctx, tracker.Caller{}, q)
				if err == nil {
					recovered = true
					break
				}
				if !errors.Is(err, tracker.ErrCircuitOpen) {
					t.Fatalf("while recovering: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !recovered {
				t.Fatal("the breaker never closed after Spine recovered")
			}
			if _, err := c.Search(ctx, tracker.Caller{}, q); err != nil {
				t.Errorf("after recovery: %v", err)
			}
			states := breakerStates(t, reader)
			for _, s := range []string{"open", "half-open", "closed"} {
				if states[s] < 1 {
					t.Errorf("breaker transitions to %s = %d, want at least 1 (all: %v)", s, states[s], states)
				}
			}
			if got := strings.Count(logs.String(), "spine circuit breaker changed state"); got < 3 {
				t.Errorf("%d state changes logged, want at least 3; logs:\n%s", got, logs.String())
			}
		})
	}

	t.Run("Spine's own error answers do not open it", func(t *testing.T) {
		spine := startCountingSpine(t)
		c := newClient(t, spine.URL, spine.Certs, func(c *tracker.Config) {
			c.MaxRetries, c.BreakerFailures = -1, 2
		})
		for _, f := range []string{"status5", "http500", "malformed"} {
			spine.Sandbox.SetFault(fault(t, f))
			for range 3 {
				_, err := c.Search(context.Background(), tracker.Caller{}, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat})
				if !errors.Is(err, tracker.ErrUpstream) {
					t.Fatalf("%s: err = %v, want %v", f, err, tracker.ErrUpstream)
				}
			}
		}
		if got, want := spine.requests.Load(), int32(9); got != want {
			t.Errorf("Spine saw %d requests, want %d: the breaker opened on answers", got, want)
		}
	})
}

// A certificate one side of the handshake refuses is a configuration fault, not Spine being down:
// Spine's certificate not chaining to SPINE_CA_CERT (a CA rotation the files have not caught up
// with), or the adapter's client certificate refused by Spine. Each call fails as a 502-class upstream
// error, not retried, and the breaker stays closed however many calls fail (it opened after two calls,
// and every client was told Spine was not answering).
func TestARefusedCertificateIsNeitherRetriedNorAnOutage(t *testing.T) {
	spine := startCountingSpine(t)
	other, err := sandbox.GenerateCerts()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		certs *sandbox.Certs
	}{
		{"Spine's certificate is not from the configured CA",
			&sandbox.Certs{ClientCertPEM: spine.Certs.ClientCertPEM, ClientKeyPEM: spine.Certs.ClientKeyPEM, CAPEM: other.CAPEM}},
		{"Spine refuses the adapter's client certificate",
			&sandbox.Certs{ClientCertPEM: other.ClientCertPEM, ClientKeyPEM: other.ClientKeyPEM, CAPEM: spine.Certs.CAPEM}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, spine.URL, tc.certs, func(c *tracker.Config) {
				c.BreakerFailures, c.BreakerOpenFor = 2, time.Minute
			})
			before := spine.requests.Load()
			for i := range 5 {
				_, err := c.Search(context.Background(), tracker.Caller{}, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat})
				var e *tracker.Error
				if !errors.As(err, &e) || !errors.Is(err, tracker.ErrUpstream) || errors.Is(err, tracker.ErrCircuitOpen) || e.RetryAfter != 0 {
					t.Fatalf("call %d: %v, want an upstream error with the breaker closed", i+1, err)
				}
				if e.Reason != "TLS handshake refused" {
					t.Errorf("call %d: reason %q, want TLS handshake refused", i+1, e.Reason)
				}
			}
			if got := spine.requests.Load() - before; got != 0 {
				t.Errorf("%d requests reached Spine's handler through a refused handshake", got)
			}
		})
	}
}

// A hung Spine opens the breaker even when every caller gives up before SPINE_TIMEOUT (an EHR's own
// timeout, a proxy's): a request left unanswered for UnansweredAfter and then abandoned counts as a
// timeout does. Before, an abandoned call was never counted, so a hung Spine kept taking every
// request until each client gave up. A caller who leaves sooner still says nothing about Spine.
func TestAHungSpineOpensTheBreakerWhenCallersGiveUpFirst(t *testing.T) {
	spine := startCountingSpine(t)
	c := newClient(t, spine.URL, spine.Certs, func(c *tracker.Config) {
		c.MaxRetries, c.Timeout = -1, 5*time.Second
		c.BreakerFailures, c.BreakerOpenFor = 3, time.Minute
		c.UnansweredAfter = 150 * time.Millisecond
	})
	spine.Sandbox.SetFault(fault(t, "hang"))
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}
	call := func(patience time.Duration) error { // a client that hangs up: a cancellation, not a deadline
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(patience, cancel)
		_, err := c.Search(ctx, tracker.Caller{}, q)
		return err
	}
	for i := range 5 { // impatient callers: not a sign of anything
		if err := call(30 * time.Millisecond); errors.Is(err, tracker.ErrCircuitOpen) {
			t.Fatalf("call %d, abandoned after 30 ms: the breaker opened", i+1)
		}
	}
	for i := range 3 {
		if err := call(300 * time.Millisecond); errors.Is(err, tracker.ErrCircuitOpen) {
			t.Fatalf("call %d, abandoned after 300 ms: the breaker opened too early", i+1)
		}
	}
	before := spine.requests.Load()
	if err := call(300 * time.Millisecond); !errors.Is(err, tracker.ErrCircuitOpen) {
		t.Fatalf("after three calls left unanswered for 300 ms: %v, want the breaker open", err)
	}
	if got := spine.requests.Load() - before; got != 0 {
		t.Errorf("the open breaker let %d requests through to Spine", got)
	}
}

// A healthy Spine that answers every call in 2.6 s, well inside SPINE_TIMEOUT (10 s, the default),
// is not declared down when five clients hang up after 2.3 s: with a fixed 2 s for UnansweredAfter
// it was, and every other client was refused. The default is half the timeout.
func TestASlowButHealthySpineIsNotDeclaredDown(t *testing.T) {
	spine := startCountingSpine(t)
	c := newClient(t, spine.URL, spine.Certs, func(c *tracker.Config) {
		c.Timeout = 10 * time.Second // SPINE_TIMEOUT's default; breaker defaults (5, 10 s)
	})
	spine.Sandbox.SetFault(fault(t, "latency=2600ms"))
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			time.AfterFunc(2300*time.Millisecond, cancel) // a client that hangs up
			_, _ = c.Search(ctx, tracker.Caller{}, q)
		})
	}
	wg.Wait()
	_, err := c.Search(context.Background(), tracker.Caller{}, q) // a patient client
	if errors.Is(err, tracker.ErrCircuitOpen) {
		t.Errorf("Spine answers every call in 2.6 s (timeout 10 s), yet after five clients hung up at 2.3 s a patient client is refused: %v", err)
	}
}
