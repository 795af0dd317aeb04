package cache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

const (
	testASID  = "200000000946"
	unknownRx = "7D9625-Z72BF2-11E3AC" // well formed, check character right, in no data set
)

// Two end users, as Spine knows them.
var (
	alice = tracker.Caller{UserID: "313175813564", RoleProfileID: "562926913100"}
	bob   = tracker.Caller{UserID: "555021935107", RoleProfileID: "555021936108"}
)

// env is the real tracker client talking to the real sandbox over mutual TLS, with in-memory telemetry
// and a clock the test moves.
type env struct {
	srv    *sandbox.Server
	client *tracker.Client
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	clock  *clock
}

func newEnv(t testing.TB, o sandbox.Options) *env {
	t.Helper()
	srv, err := sandbox.Start(o, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("closing the sandbox: %v", err)
		}
	})
	tlsConfig, err := tracker.TLSConfigFromPEM(srv.Certs.ClientCertPEM, srv.Certs.ClientKeyPEM, srv.Certs.CAPEM)
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	hc := tracker.NewHTTPClient(tlsConfig)
	t.Cleanup(hc.CloseIdleConnections)
	// No retries and no breaker: each call is one Spine call, so the sandbox's count says what the
	// cache did. The client's spans go to the same exporter, below the cache's.
	client, err := tracker.New(tracker.Config{BaseURL: srv.URL, ASID: testASID, Timeout: 10 * time.Second,
		MaxRetries: -1, BreakerFailures: -1, TracerProvider: tp}, hc)
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, client: client, spans: spans, tp: tp, reader: reader, mp: mp,
		clock: &clock{now: time.Date(2026, 3, 14, 10, 30, 0, 0, time.UTC)}}
}

// tracker is a cache in front of next (the real client when nil), with the env's clock and telemetry.
func (e *env) tracker(t testing.TB, c cache.Config, next cache.Upstream) *cache.Tracker {
	t.Helper()
	if next == nil {
		next = e.client
	}
	if c.TTL == 0 {
		c.TTL = cache.DefaultTTL
	}
	c.Now = e.clock.Now
	ct, err := cache.New(next, c, e.tp, e.mp)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

// calls is how many calls of the interaction Spine has had.
func (e *env) calls(interaction string) int { return e.srv.Sandbox.CallCount(interaction) }

// metric sums the data points of the named metric whose attributes include every one of attrs.
func (e *env) metric(t testing.TB, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					if hasAll(dp.Attributes, attrs) {
						total += dp.Value
					}
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					if hasAll(dp.Attributes, attrs) {
						total += dp.Value
					}
				}
			default:
				t.Fatalf("metric %s has unexpected data %T", name, m.Data)
			}
		}
	}
	return total
}

func hasAll(set attribute.Set, attrs []attribute.KeyValue) bool {
	for _, kv := range attrs {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// lookups is the count of tracker-cache lookups with the result.
func (e *env) lookups(t testing.TB, result string) int64 {
	t.Helper()
	return e.metric(t, "cache.lookups", attribute.String("cache.name", "tracker"), attribute.String("cache.result", result))
}

// waitFor polls cond until it holds. It bounds the wait only so that a broken cache fails rather
// than hangs; nothing is asserted about how long anything took.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// clock is a clock the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// upstream is a function-field fake of cache.Upstream that passes every call it does not override to
// the real client, so that a test can hold a Spine call or watch how it ended.
type upstream struct {
	cache.Upstream
	search func(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error)
}

func (u upstream) Search(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error) {
	if u.search != nil {
		return u.search(ctx, who, q)
	}
	return u.Upstream.Search(ctx, who, q)
}

// gate holds Spine calls until released, saying when the first one arrived.
type gate struct {
	arrived     chan struct{}
	arrivedOnce sync.Once
	release     chan struct{}
	releaseOnce sync.Once
}

// newGate returns a closed gate, opened at the end of the test at the latest.
func newGate(t testing.TB) *gate {
	g := &gate{arrived: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

// open lets every held call, and every later one, through.
func (g *gate) open() { g.releaseOnce.Do(func() { close(g.release) }) }

// search is the real client's Search, held at the gate. It waits even when ctx ends, so that a test
// can prove that the call made afterwards is not cancelled with the caller that started it.
func (g *gate) search(next cache.Upstream) func(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.SearchResult, error) {
	return func(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error) {
		g.arrivedOnce.Do(func() { close(g.arrived) })
		<-g.release
		return next.Search(ctx, who, q)
	}
}
