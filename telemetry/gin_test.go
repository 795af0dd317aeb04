package telemetry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The identifiers the requests below carry (the sandbox's documented patient and prescriptions).
const (
	nhsNumber  = "9691003120"
	rxPlain    = "6C0F3B-C86002-00013Q"
	rxWithPlus = "A3B4D9-Z42475-11E6B+"
)

// leakForms lists every spelling of the identifiers that must not reach telemetry: plain, lower
// case, percent-encoded (+ as %2B, | as %7C around it), and a read id's '.' for '+'. The ID without
// its check character catches any other spelling of the check character.
func leakForms() []string {
	var forms []string
	for _, id := range []string{nhsNumber, rxPlain, rxWithPlus} {
		forms = append(forms, id, strings.ToLower(id), url.QueryEscape(id), url.PathEscape(id),
			strings.ReplaceAll(id, "+", "."), id[:len(id)-1], strings.ToLower(id[:len(id)-1]))
	}
	forms = append(forms, "%7C"+url.QueryEscape(rxWithPlus), "%2B")
	return forms
}

// serverSpans is what a router on this Telemetry puts first: otelgin on its providers, with spans
// named by route template as package routes names them.
func serverSpans(tel *Telemetry) gin.HandlerFunc {
	return otelgin.Middleware("eps-fhir-tracker",
		otelgin.WithTracerProvider(tel.TracerProvider), otelgin.WithMeterProvider(tel.MeterProvider),
		otelgin.WithPropagators(tel.Propagator),
		otelgin.WithSpanNameFormatter(func(c *gin.Context) string {
			if c.FullPath() == "" {
				return c.Request.Method + " unmatched route"
			}
			return c.Request.Method + " " + c.FullPath()
		}))
}

// routerUnderTest is a tiny adapter: otelgin on this Telemetry's providers, a search, a read, and a
// failing route. Handlers do what real ones may: quote ids in errors, call Spine through otelhttp
// with the ids in the URL.
func routerUnderTest(t *testing.T, tel *Telemetry, spine string) http.Handler {
	gin.SetMode(gin.TestMode)
	spineClient := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport,
		otelhttp.WithTracerProvider(tel.TracerProvider), otelhttp.WithMeterProvider(tel.MeterProvider),
		otelhttp.WithPropagators(tel.Propagator))}
	callSpine := func(c *gin.Context, path string, q url.Values) int {
		ctx, span := tel.Tracer().Start(c.Request.Context(), "spine.prescription-search",
			trace.WithAttributes(attribute.String("spine.interaction", "prescription-search")))
		defer span.End()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, spine+path+"?"+q.Encode(), nil)
		resp, err := spineClient.Do(req)
		if err != nil {
			t.Errorf("spine call: %v", err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode), attribute.String("url.full", req.URL.String()))
		return resp.StatusCode
	}

	r := gin.New()
	r.Use(serverSpans(tel))
	r.GET("/FHIR/R4/MedicationRequest", func(c *gin.Context) {
		q := url.Values{"nhsNumber": {c.Query("patient")}}
		callSpine(c, "/mm/patientfacingprescriptions", q)
		c.String(http.StatusOK, "{}")
	})
	r.GET("/FHIR/R4/MedicationRequest/:id", func(c *gin.Context) {
		id := c.Param("id")
		callSpine(c, "/mm/prescriptions/"+url.PathEscape(strings.ReplaceAll(id, ".", "+")), url.Values{"nhsNumber": {c.Query("patient")}})
		_, span := tel.Tracer().Start(c.Request.Context(), "mapping.bundle")
		span.RecordError(&url.Error{Op: "Get", URL: "https://spine/" + id, Err: fmt.Errorf("no such prescription %s", id)})
		span.SetStatus(codes.Error, "mapping "+id)
		span.End()
		_ = c.Error(fmt.Errorf("read %s for %s failed", id, c.Query("patient")))
		c.String(http.StatusBadGateway, "{}")
	})
	return r
}

func TestNoIdentifierReachesSpansOrMetrics(t *testing.T) {
	spine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	defer spine.Close()
	exp := tracetest.NewInMemoryExporter()
	reader := sdkmetric.NewManualReader()
	tel := setup(t, Config{SpanExporter: exp, MetricReader: reader})
	srv := httptest.NewServer(routerUnderTest(t, tel, spine.URL))
	defer srv.Close()

	paths := []string{
		"/FHIR/R4/MedicationRequest/" + rxPlain + "-1-1?patient=" + nhsNumber,
		"/FHIR/R4/MedicationRequest/" + strings.ToLower(rxPlain) + "-1-1?patient=" + nhsNumber,
		"/FHIR/R4/MedicationRequest/" + strings.ReplaceAll(rxWithPlus, "+", ".") + "-1-1?patient=" + nhsNumber,
		"/FHIR/R4/MedicationRequest?patient=" + nhsNumber + "&identifier=https://fhir.nhs.uk/Id/prescription-order-number%7C" + url.QueryEscape(rxWithPlus),
		"/FHIR/R4/Patient/" + nhsNumber, // no such route: 404
	}
	for _, p := range paths {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()

	// The route template names the server spans and is their http.route.
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	for _, want := range []string{"GET /FHIR/R4/MedicationRequest/:id", "GET /FHIR/R4/MedicationRequest", "GET unmatched route", "spine.prescription-search", "mapping.bundle"} {
		if !strings.Contains(strings.Join(names, "\n"), want) {
			t.Errorf("no span named %q among %q", want, names)
		}
	}
	routes := map[string]bool{}
	for _, s := range spans {
		for _, a := range s.Attributes {
			if a.Key == "http.route" {
				routes[a.Value.AsString()] = true
			}
		}
	}
	if !routes["/FHIR/R4/MedicationRequest/:id"] || !routes["/FHIR/R4/MedicationRequest"] {
		t.Errorf("http.route values = %v, want both templates", routes)
	}

	// Everything a span exports, as text.
	var exported strings.Builder
	for _, s := range spans {
		fmt.Fprintln(&exported, "name", s.Name, "status", s.Status.Description)
		for _, a := range s.Attributes {
			fmt.Fprintln(&exported, a.Key, a.Value.Emit())
		}
		for _, e := range s.Events {
			fmt.Fprintln(&exported, "event", e.Name)
			for _, a := range e.Attributes {
				fmt.Fprintln(&exported, a.Key, a.Value.Emit())
			}
		}
		for _, a := range s.Resource.Attributes() {
			fmt.Fprintln(&exported, a.Key, a.Value.Emit())
		}
	}
	// Everything a metric exports: the ManualReader's data and the Prometheus text.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&exported, "%+v\n", rm)
	exported.WriteString(scrape(t, tel))

	for _, form := range leakForms() {
		if i := strings.Index(exported.String(), form); i >= 0 {
			t.Errorf("identifier form %q leaked into telemetry: ...%s...", form, exported.String()[max(0, i-80):min(exported.Len(), i+40)])
		}
	}

	// A 5xx is an error.
	for _, s := range spans {
		if s.Name == "GET /FHIR/R4/MedicationRequest/:id" && s.Status.Code != codes.Error {
			t.Errorf("502 read span status = %v, want Error", s.Status.Code)
		}
	}
}

func TestACallersTraceparentContinuesItsTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tel := setup(t, Config{SpanExporter: exp})
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(serverSpans(tel))
	r.GET("/FHIR/R4/metadata", func(c *gin.Context) { c.Status(http.StatusOK) })
	srv := httptest.NewServer(r)
	defer srv.Close()

	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/FHIR/R4/metadata", nil)
	req.Header.Set("traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := tel.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].SpanContext.TraceID().String() != callerTrace {
		t.Fatalf("spans = %v, want one in trace %s", spans, callerTrace)
	}
	if got, want := spans[0].Parent.SpanID().String(), "00f067aa0ba902b7"; got != want {
		t.Errorf("server span parent = %s, want the caller's %s", got, want)
	}
}

func TestEpsTraceIDFitsSpine(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	got := EpsTraceID(tid)
	if len(got) != 26 || strings.Trim(got, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Errorf("EpsTraceID = %q, want 26 characters of base32", got)
	}
	if EpsTraceID(trace.TraceID{}) != "" {
		t.Error("EpsTraceID of no trace is not empty")
	}
}
