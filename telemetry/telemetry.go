// Package telemetry sets up OpenTelemetry for the adapter: traces exported by the standard OTEL_*
// variables, metrics served in Prometheus text format, and slog logs that carry the trace and span
// ids. Providers are returned, never installed globally, so tests run against in-memory exporters;
// the only global Setup touches is otel.SetErrorHandler, which counts export failures.
//
// Nothing here lets a patient identifier reach a span: the TracerProvider drops the raw URL
// attributes that HTTP instrumentation records (url.path, url.query, url.full...), and NHSNumber,
// PrescriptionID and Token redact themselves in logs.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName names the tracer and meter of this module's own spans and metrics.
const ScopeName = "github.com/nhs-eps/eps-fhir-tracker"

// Telemetry holds the providers Setup built. Pass them explicitly to otelgin, otelhttp and the
// packages that make spans; none of them is installed as the global provider.
type Telemetry struct {
	// TracerProvider redacts raw URL attributes before they reach the SDK (see RedactingTracerProvider).
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Propagator is W3C tracecontext plus baggage.
	Propagator propagation.TextMapPropagator
	// MetricsHandler serves every metric in Prometheus text format from the adapter's own registry;
	// mount it on the admin listener, not the FHIR port.
	MetricsHandler http.Handler

	sdkTracer *sdktrace.TracerProvider
	sdkMeter  *sdkmetric.MeterProvider
}

// ForceFlush exports every ended span and collects metrics now. Tests call it before reading an
// in-memory exporter.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	return errors.Join(t.sdkTracer.ForceFlush(ctx), t.sdkMeter.ForceFlush(ctx))
}

// Tracer is the tracer for the adapter's own spans (cache, Spine call, mapping, marshalling).
func (t *Telemetry) Tracer() trace.Tracer { return t.TracerProvider.Tracer(ScopeName) }

// Meter is the meter for the adapter's own metrics.
func (t *Telemetry) Meter() metric.Meter { return t.MeterProvider.Meter(ScopeName) }

// Setup builds the providers from cfg and the OTEL_* variables. Invalid variables are reported
// together in one error. shutdown flushes what is queued within its context's deadline; call it after
// the HTTP server has shut down.
func Setup(ctx context.Context, cfg Config) (*Telemetry, func(context.Context) error, error) {
	s, err := parseSettings(cfg.Getenv)
	if err != nil {
		return nil, nil, err
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(s.serviceName), semconv.ServiceVersion(cfg.ServiceVersion)),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry resource: %w", err)
	}

	registry := prometheus.NewRegistry()
	promExporter, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		return nil, nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	meterOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(promExporter)}
	if cfg.MetricReader != nil {
		meterOpts = append(meterOpts, sdkmetric.WithReader(cfg.MetricReader))
	}
	mp := sdkmetric.NewMeterProvider(meterOpts...)
	meter := mp.Meter(ScopeName)
	dropped, err1 := meter.Int64Counter("eps.telemetry.spans.dropped", metric.WithUnit("{span}"),
		metric.WithDescription("Spans dropped because the export queue was full (collector slow or down)."))
	failures, err2 := meter.Int64Counter("eps.telemetry.errors", metric.WithUnit("{error}"),
		metric.WithDescription("OpenTelemetry errors, chiefly failed span exports."))
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, err
	}
	// The one global: the SDK reports export failures through otel.Handle.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) { failures.Add(context.Background(), 1) }))

	exporters, err := spanExporters(ctx, s, cfg)
	if err != nil {
		return nil, nil, err
	}
	queueSize, batchSize := cfg.QueueSize, cfg.BatchSize
	if queueSize <= 0 {
		queueSize = 2048
	}
	if batchSize <= 0 || batchSize > queueSize {
		batchSize = min(512, queueSize)
	}
	sampler := s.sampler
	if len(exporters) == 0 {
		// Nothing would export a span, so none is recorded: each still has its trace and span ids
		// (eps.trace_id, traceresponse, Spine's Eps-TraceId), but attributes and events are not kept.
		// Recording them for nobody was a tenth of a request's allocation.
		sampler = sdktrace.NeverSample()
	}
	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	for _, exp := range exporters {
		traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(newQueueProcessor(exp, queueSize, batchSize, dropped)))
	}
	tp := sdktrace.NewTracerProvider(traceOpts...)

	t := &Telemetry{
		TracerProvider: RedactingTracerProvider(tp),
		MeterProvider:  mp,
		Propagator:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		MetricsHandler: promhttp.HandlerFor(registry, promhttp.HandlerOpts{}),
		sdkTracer:      tp,
		sdkMeter:       mp,
	}
	shutdown := func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}
	return t, shutdown, nil
}

// spanExporters builds the exporters OTEL_TRACES_EXPORTER names, or cfg.SpanExporter.
func spanExporters(ctx context.Context, s settings, cfg Config) ([]sdktrace.SpanExporter, error) {
	if cfg.SpanExporter != nil {
		return []sdktrace.SpanExporter{cfg.SpanExporter}, nil
	}
	var exps []sdktrace.SpanExporter
	for _, name := range s.exporters {
		var exp sdktrace.SpanExporter
		var err error
		switch name {
		case "console":
			w := cfg.Console
			if w == nil {
				w = io.Discard
			}
			exp, err = stdouttrace.New(stdouttrace.WithWriter(w))
		case "otlp":
			exp, err = otlpExporter(ctx, s)
		}
		if err != nil {
			return nil, fmt.Errorf("%s span exporter: %w", name, err)
		}
		exps = append(exps, exp)
	}
	return exps, nil
}

// otlpExporter builds the OTLP exporter. Neither constructor connects: a collector that is down shows
// up as counted export failures, never as a start-up error or a blocked request.
func otlpExporter(ctx context.Context, s settings) (sdktrace.SpanExporter, error) {
	if s.protocol == "grpc" {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithTimeout(exportTimeout)}
		if s.endpoint != nil {
			opts = append(opts, otlptracegrpc.WithEndpointURL(s.endpoint.String()))
		} else {
			opts = append(opts, otlptracegrpc.WithEndpoint("localhost:4317"), otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithTimeout(exportTimeout)}
	if s.endpoint != nil {
		// The signal-independent endpoint is a base URL: the spec appends /v1/traces for HTTP.
		u := *s.endpoint
		u.Path = trimSlash(u.Path) + "/v1/traces"
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	} else {
		opts = append(opts, otlptracehttp.WithEndpoint("localhost:4318"), otlptracehttp.WithInsecure())
	}
	return otlptracehttp.New(ctx, opts...)
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}
