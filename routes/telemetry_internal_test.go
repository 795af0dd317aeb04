package routes

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	eptel "github.com/nhs-eps/eps-fhir-tracker/telemetry"
)

// discardWriter is a ResponseWriter that keeps nothing but the header map.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkServerMiddleware measures what every request pays before and after its handler: the
// server span and HTTP metrics (with the adapter's telemetry as Setup builds it with nothing
// exported), the request ids and the request log line (JSON, written to io.Discard).
func BenchmarkServerMiddleware(b *testing.B) {
	prev := gin.Mode()
	gin.SetMode(gin.ReleaseMode)
	b.Cleanup(func() { gin.SetMode(prev) })
	tel, shutdown, err := eptel.Setup(context.Background(), eptel.Config{ServiceVersion: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = shutdown(context.Background()) })
	logger, err := eptel.NewLogger(io.Discard, "json")
	if err != nil {
		b.Fatal(err)
	}
	t := newInstruments(Deps{Tracing: tel.TracerProvider, Meters: tel.MeterProvider, Propagator: tel.Propagator})
	r := gin.New()
	r.Use(t.serverSpans()...)
	r.Use(withRequestIDs(), logRequests(logger))
	body := make([]byte, 1024)
	r.GET("/FHIR/R4/MedicationRequest", func(c *gin.Context) { c.Data(http.StatusOK, "application/fhir+json", body) })
	u, err := url.Parse("http://127.0.0.1:8080/FHIR/R4/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C9990000018&_count=50&_summary=true")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		req := &http.Request{Method: http.MethodGet, URL: u, RequestURI: u.RequestURI(), Host: u.Host,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RemoteAddr: "127.0.0.1:50000",
			Header: http.Header{"Authorization": {"Bearer x"}}}
		r.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	}
}

// TestTraceResponseIsTheSpanContext: the header is 00-<trace-id>-<span-id>-<flags> in lower-case hex,
// the flags 01 for a sampled span and 00 otherwise, as fmt formats them.
func TestTraceResponseIsTheSpanContext(t *testing.T) {
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled, 0xff} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
			TraceFlags: flags,
		})
		want := fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-%02x", byte(flags&trace.FlagsSampled))
		if got := traceResponse(sc); got != want {
			t.Errorf("flags %02x: traceResponse = %q, want %q", byte(flags), got, want)
		}
	}
}

// TestNewUUIDIsARandomVersion4UUID: RFC 9562 layout, version 4, variant 10, and not repeated.
func TestNewUUIDIsARandomVersion4UUID(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := newUUID()
		if !v4.MatchString(id) {
			t.Fatalf("newUUID() = %q, not a version 4 UUID", id)
		}
		if seen[id] {
			t.Fatalf("newUUID() repeated %q", id)
		}
		seen[id] = true
	}
}
