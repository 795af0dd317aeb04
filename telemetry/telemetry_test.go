package telemetry

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// env turns a map into the injected getenv.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// setup runs Setup and shuts it down when the test ends.
func setup(t *testing.T, cfg Config) *Telemetry {
	t.Helper()
	tel, shutdown, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() {
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return tel
}

// scrape fetches the Prometheus text from the metrics handler over a real HTTP server.
func scrape(t *testing.T, tel *Telemetry) string {
	t.Helper()
	srv := httptest.NewServer(tel.MetricsHandler)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Header.Get("Content-Type"), "text/plain"; !strings.HasPrefix(got, want) {
		t.Errorf("metrics Content-Type = %q, want %s...", got, want)
	}
	return string(body)
}

func TestSetupRejectsEveryInvalidVariableAtOnce(t *testing.T) {
	_, _, err := Setup(context.Background(), Config{Getenv: env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4317",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
		"OTEL_TRACES_EXPORTER":        "otlp,zipkin",
		"OTEL_TRACES_SAMPLER":         "traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":     "1.5",
	})})
	if err == nil {
		t.Fatal("Setup accepted invalid OTEL_* variables")
	}
	for _, want := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "zipkin", "OTEL_TRACES_SAMPLER_ARG"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// NaN is neither below 0 nor above 1, and TraceIDRatioBased(NaN) sampled every trace.
func TestASamplerRatioMustBeAProbability(t *testing.T) {
	for _, arg := range []string{"NaN", "-0.1", "1.5", "x"} {
		if _, err := parseSampler("traceidratio", arg); err == nil {
			t.Errorf("OTEL_TRACES_SAMPLER_ARG=%s accepted", arg)
		}
	}
	for _, arg := range []string{"0", "0.25", "1"} {
		if _, err := parseSampler("parentbased_traceidratio", arg); err != nil {
			t.Errorf("OTEL_TRACES_SAMPLER_ARG=%s: %v", arg, err)
		}
	}
}

func TestSettingsChooseExporters(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"nothing set exports nothing", nil, ""},
		{"an endpoint alone means otlp", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp"},
		{"none wins over an endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, ""},
		{"console alone", map[string]string{"OTEL_TRACES_EXPORTER": "console"}, "console"},
		{"a list", map[string]string{"OTEL_TRACES_EXPORTER": "otlp, console"}, "otlp,console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSettings(env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(s.exporters, ","); got != tt.want {
				t.Errorf("exporters = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSamplersFollowTheSpecNames(t *testing.T) {
	tests := []struct{ name, arg, want string }{
		{"", "", "ParentBased{root:AlwaysOnSampler"},
		{"always_off", "", "AlwaysOffSampler"},
		{"traceidratio", "0.25", "TraceIDRatioBased{0.25}"},
		{"parentbased_traceidratio", "0.5", "ParentBased{root:TraceIDRatioBased{0.5}"},
	}
	for _, tt := range tests {
		t.Run("OTEL_TRACES_SAMPLER="+tt.name, func(t *testing.T) {
			s, err := parseSampler(tt.name, tt.arg)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Description(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("sampler = %s, want %s...", got, tt.want)
			}
		})
	}
}

func TestSpansCarryTheServiceNameAndVersion(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel := setup(t, Config{Getenv: env(map[string]string{"OTEL_SERVICE_NAME": "tracker-test"}), ServiceVersion: "1.2.3", SpanExporter: exp})
	_, span := tel.Tracer().Start(context.Background(), "work")
	span.End()
	if err := tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("exported %d spans, want 1", len(spans))
	}
	attrs := attribute.NewSet(spans[0].Resource.Attributes()...)
	if v, _ := attrs.Value("service.name"); v.AsString() != "tracker-test" {
		t.Errorf("service.name = %q, want tracker-test", v.AsString())
	}
	if v, _ := attrs.Value("service.version"); v.AsString() != "1.2.3" {
		t.Errorf("service.version = %q, want 1.2.3", v.AsString())
	}
}

func TestConsoleExporterWritesSpans(t *testing.T) {
	var out syncBuffer
	tel := setup(t, Config{Getenv: env(map[string]string{"OTEL_TRACES_EXPORTER": "console"}), Console: &out})
	_, span := tel.Tracer().Start(context.Background(), "console-span")
	span.End()
	if err := tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "console-span") {
		t.Errorf("console output lacks the span: %q", out.String())
	}
}

// TestOTLPHTTPExportsToTheEndpoint runs a real OTLP/HTTP receiver and checks the request the SDK sends.
func TestOTLPHTTPExportsToTheEndpoint(t *testing.T) {
	got := make(chan *collectortrace.ExportTraceServiceRequest, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/base/v1/traces" {
			t.Errorf("export path = %s, want /base/v1/traces", r.URL.Path)
		}
		req := &collectortrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			t.Errorf("export body: %v", err)
		}
		select {
		case got <- req:
		default:
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()

	tel := setup(t, Config{Getenv: env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL + "/base/",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
	})})
	_, span := tel.Tracer().Start(context.Background(), "otlp-span")
	span.End()
	if err := tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	req := <-got
	if name := req.GetResourceSpans()[0].GetScopeSpans()[0].GetSpans()[0].GetName(); name != "otlp-span" {
		t.Errorf("exported span %q, want otlp-span", name)
	}
}

// TestCollectorDownCountsExportFailures exports to a port nobody listens on: the span ends as usual
// and the failure shows in the Prometheus metrics.
func TestCollectorDownCountsExportFailures(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now: connection refused

	tel := setup(t, Config{Getenv: env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr})})
	_, span := tel.Tracer().Start(context.Background(), "lost")
	span.End()
	if err := tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := scrape(t, tel); !strings.Contains(m, "eps_telemetry_errors_total") || strings.Contains(m, "eps_telemetry_errors_total 0") {
		t.Errorf("no export failure counted:\n%s", m)
	}
}

// blockingExporter holds every export until release is closed, like a collector that never answers.
type blockingExporter struct {
	release chan struct{}
	mu      sync.Mutex
	spans   int
}

func (e *blockingExporter) ExportSpans(ctx context.Context, s []sdktrace.ReadOnlySpan) error {
	select {
	case <-e.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	e.mu.Lock()
	e.spans += len(s)
	e.mu.Unlock()
	return nil
}

func (e *blockingExporter) Shutdown(context.Context) error { return nil }

func TestAFullQueueDropsAndCountsInsteadOfBlocking(t *testing.T) {
	exp := &blockingExporter{release: make(chan struct{})}
	const queue, batch = 4, 2
	tel := setup(t, Config{SpanExporter: exp, QueueSize: queue, BatchSize: batch})
	// At most queue spans wait and batch are held by the stuck export; the rest must be dropped, and
	// End must return for every one of them (the test would hang otherwise).
	const ended = 20
	for range ended {
		_, span := tel.Tracer().Start(context.Background(), "s")
		span.End()
	}
	close(exp.release)
	if err := tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	exp.mu.Lock()
	exported := exp.spans
	exp.mu.Unlock()
	var dropped int
	for _, line := range strings.Split(scrape(t, tel), "\n") {
		if strings.HasPrefix(line, "eps_telemetry_spans_dropped_total{") {
			fields := strings.Fields(line)
			dropped, _ = strconv.Atoi(fields[len(fields)-1])
		}
	}
	if dropped == 0 || exported > queue+batch {
		t.Errorf("dropped %d and exported %d of %d spans, want drops and at most %d exported", dropped, exported, ended, queue+batch)
	}
	// Every span is either exported or counted as dropped: none vanishes unseen.
	if dropped+exported != ended {
		t.Errorf("dropped %d + exported %d = %d, want the %d spans ended", dropped, exported, dropped+exported, ended)
	}
}

func TestShutdownExportsWhatIsQueued(t *testing.T) {
	// Not tracetest's InMemoryExporter: its Shutdown forgets what it holds.
	exp := &blockingExporter{release: make(chan struct{})}
	close(exp.release)
	tel, shutdown, err := Setup(context.Background(), Config{SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.Tracer().Start(context.Background(), "last")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := exp.spans; got != 1 {
		t.Errorf("after shutdown %d spans exported, want 1", got)
	}
}

// syncBuffer is a bytes.Buffer safe for the exporter goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWithNoExporterSpansAreNotRecordedButHaveIDs: with nothing to export to (the default), spans
// keep nothing, yet each still has a trace id for eps.trace_id and traceresponse, and a child keeps
// its parent's. With an exporter, spans are recorded.
func TestWithNoExporterSpansAreNotRecordedButHaveIDs(t *testing.T) {
	tel := setup(t, Config{Getenv: env(nil)})
	ctx, parent := tel.Tracer().Start(context.Background(), "parent")
	_, child := tel.Tracer().Start(ctx, "child")
	if parent.IsRecording() || child.IsRecording() {
		t.Error("a span is recorded with no exporter")
	}
	if !parent.SpanContext().IsValid() || !child.SpanContext().IsValid() {
		t.Fatal("a span has no ids")
	}
	if child.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Error("the child is not in its parent's trace")
	}
	child.End()
	parent.End()

	exporting := setup(t, Config{Getenv: env(nil), SpanExporter: tracetest.NewInMemoryExporter()})
	_, span := exporting.Tracer().Start(context.Background(), "recorded")
	defer span.End()
	if !span.IsRecording() {
		t.Error("a span is not recorded with an exporter")
	}
}
