package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/nhs-eps/eps-fhir-tracker/telemetry"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// demo serves a stand-in adapter for `.ci/jaeger.sh selftest`: the telemetry package exporting by
// the OTEL_* variables, otelgin, and spans shaped like the wired adapter's (a whole-answer cache, a
// cache.Search span, a spine.* span, mapping and marshalling). It proves the Jaeger half of the
// check (build, config, OTLP, query API, the checks themselves) without depending on the adapter's
// wiring. Its Spine spans record the raw Spine URL on purpose: the redacting TracerProvider must
// keep it out of Jaeger, and the leak check proves it did.
func demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tel, shutdown, err := telemetry.Setup(ctx, telemetry.Config{Getenv: os.Getenv, ServiceVersion: "selftest"})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = shutdown(sctx)
	}()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// The stand-in's server span, as the adapter's routes make theirs: otelgin on this Telemetry's
	// providers, named by route template, with the trace's traceresponse and Eps-TraceId.
	r.Use(otelgin.Middleware("eps-fhir-tracker",
		otelgin.WithTracerProvider(tel.TracerProvider), otelgin.WithMeterProvider(tel.MeterProvider),
		otelgin.WithPropagators(tel.Propagator),
		otelgin.WithSpanNameFormatter(func(c *gin.Context) string { return c.Request.Method + " " + c.FullPath() })),
		func(c *gin.Context) {
			sc := trace.SpanContextFromContext(c.Request.Context())
			c.Header("traceresponse", "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-"+sc.TraceFlags().String())
			trace.SpanFromContext(c.Request.Context()).SetAttributes(attribute.String("eps.trace_id", telemetry.EpsTraceID(sc.TraceID())))
		})
	d := &demoAdapter{tracer: tel.Tracer(), answers: map[string][]byte{}}
	r.GET("/FHIR/R4/MedicationRequest", d.search)
	r.GET("/FHIR/R4/MedicationRequest/:id", d.read)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type demoAdapter struct {
	tracer  trace.Tracer
	mu      sync.Mutex
	answers map[string][]byte // the whole-answer cache: a hit makes no Spine call and no spans
}

func (d *demoAdapter) search(c *gin.Context) {
	nhs := c.Query("patient")
	d.mu.Lock()
	b, ok := d.answers[nhs]
	d.mu.Unlock()
	if ok {
		c.Data(http.StatusOK, "application/fhir+json", b)
		return
	}
	ctx, lookup := d.tracer.Start(c.Request.Context(), "cache.Search", trace.WithAttributes(attribute.String("cache.result", "miss")))
	status := d.spine(ctx, "prescription-search", "https://spine.invalid/mm/patientfacingprescriptions?nhsNumber="+nhs, nhs == sandbox.PatientFaultHTTP500)
	lookup.End()
	if status != http.StatusOK {
		c.Data(http.StatusBadGateway, "application/fhir+json", []byte(`{"resourceType":"OperationOutcome"}`))
		return
	}
	_, mapping := d.tracer.Start(c.Request.Context(), "mapping.bundle")
	id := sandbox.RxAcuteToBeDispensed + "-1-1"
	mapping.End()
	_, marshal := d.tracer.Start(c.Request.Context(), "fhir.marshal")
	b = []byte(fmt.Sprintf(`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"MedicationRequest","id":%q}}]}`, id))
	marshal.End()
	d.mu.Lock()
	d.answers[nhs] = b
	d.mu.Unlock()
	c.Data(http.StatusOK, "application/fhir+json", b)
}

func (d *demoAdapter) read(c *gin.Context) {
	rx, _, _ := strings.Cut(c.Param("id"), "-1-")
	ctx, lookup := d.tracer.Start(c.Request.Context(), "cache.Retrieve", trace.WithAttributes(attribute.String("cache.result", "miss")))
	d.spine(ctx, "prescription-retrieve", "https://spine.invalid/mm/prescriptions/"+rx, false)
	lookup.End()
	_, marshal := d.tracer.Start(c.Request.Context(), "fhir.marshal")
	marshal.End()
	c.Data(http.StatusOK, "application/fhir+json", []byte(`{"resourceType":"MedicationRequest"}`))
}

// spine records a Spine call's span as the tracker does, with the raw URL a careless client would.
func (d *demoAdapter) spine(ctx context.Context, interaction, rawURL string, fail bool) int {
	_, span := d.tracer.Start(ctx, "spine."+interaction, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("spine.interaction", interaction), attribute.String("url.full", rawURL)))
	defer span.End()
	status, code := http.StatusOK, "0"
	if fail {
		status, code = http.StatusInternalServerError, ""
		span.RecordError(fmt.Errorf("GET %s: HTTP 500", rawURL))
		span.SetStatus(codes.Error, "Spine answered 500 for "+rawURL)
	}
	span.SetAttributes(attribute.Int("http.response.status_code", status), attribute.String("spine.status_code", code),
		attribute.Int("spine.retries", 0))
	return status
}
