package telemetry

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// rawURLKeys are the attributes in which HTTP instrumentation records the request's own URL. On this
// service that URL holds NHS numbers (?patient=, Spine's ?nhsNumber=) and prescription IDs (read ids,
// Spine paths), so they are dropped. otelgin v0.65.0 sets url.path on server spans; otelhttp v0.72.0
// sets url.full on client spans; the rest are older or optional names of the same thing.
var rawURLKeys = map[attribute.Key]bool{
	"url.path":     true,
	"url.query":    true,
	"url.original": true,
	"url.fragment": true,
	"http.target":  true,
	"http.url":     true,
}

// RedactingTracerProvider wraps tp so that no span it makes carries a raw request URL: the attributes
// in rawURLKeys are dropped, url.full is cut to scheme and host, error messages and status
// descriptions (which may quote a URL, as *url.Error does) are left out. A SpanProcessor cannot do
// this: it sees attributes only after they are set, and cannot remove them.
//
// Setup already applies it; use it directly only around a provider built elsewhere. Its sampler
// should not decide on span attributes: a span's attributes are set once it is known to be recorded.
func RedactingTracerProvider(tp trace.TracerProvider) trace.TracerProvider {
	if r, ok := tp.(*redactingProvider); ok {
		return r
	}
	return &redactingProvider{tp: tp}
}

type redactingProvider struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p *redactingProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return &redactingTracer{t: p.tp.Tracer(name, opts...), p: p}
}

type redactingTracer struct {
	embedded.Tracer
	t trace.Tracer
	p *redactingProvider
}

// Start starts the span without its attributes and sets them, redacted, only if it records: a span
// that is not recorded (nothing exports, or the sampler said no) would drop them anyway, and building
// the redacted copy was most of what such a span cost. Every sampler Setup builds (the OTEL_TRACES_SAMPLER
// names) decides on the trace id and the parent alone, so it decides as it would with them.
func (t *redactingTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	clean := make([]trace.SpanStartOption, 1, 4)
	clean[0] = trace.WithSpanKind(cfg.SpanKind())
	if links := cfg.Links(); len(links) > 0 {
		clean = append(clean, trace.WithLinks(links...))
	}
	if !cfg.Timestamp().IsZero() {
		clean = append(clean, trace.WithTimestamp(cfg.Timestamp()))
	}
	if cfg.NewRoot() {
		clean = append(clean, trace.WithNewRoot())
	}
	ctx, span := t.t.Start(ctx, name, clean...)
	if attrs := cfg.Attributes(); len(attrs) > 0 && span.IsRecording() {
		span.SetAttributes(redactAttrs(attrs)...)
	}
	wrapped := &redactingSpan{Span: span, p: t.p}
	return trace.ContextWithSpan(ctx, wrapped), wrapped
}

// redactingSpan filters what is added after Start. It also returns the redacting provider from
// TracerProvider(), because otelhttp takes its tracer from the span in the context when none is
// configured.
type redactingSpan struct {
	trace.Span
	p *redactingProvider
}

func (s *redactingSpan) SetAttributes(kv ...attribute.KeyValue) {
	if !s.Span.IsRecording() {
		return
	}
	s.Span.SetAttributes(redactAttrs(kv)...)
}

func (s *redactingSpan) TracerProvider() trace.TracerProvider { return s.p }

func (s *redactingSpan) AddEvent(name string, opts ...trace.EventOption) {
	cfg := trace.NewEventConfig(opts...)
	s.Span.AddEvent(name, trace.WithAttributes(redactAttrs(cfg.Attributes())...), trace.WithTimestamp(cfg.Timestamp()))
}

// RecordError records the error's type but not its message: messages quote URLs and ids.
func (s *redactingSpan) RecordError(err error, opts ...trace.EventOption) {
	if err == nil {
		return
	}
	cfg := trace.NewEventConfig(opts...)
	attrs := append(redactAttrs(cfg.Attributes()), attribute.String("exception.type", fmt.Sprintf("%T", err)))
	s.Span.AddEvent("exception", trace.WithAttributes(attrs...), trace.WithTimestamp(cfg.Timestamp()))
}

// SetStatus keeps the code and drops the description, which otelgin fills with error messages.
func (s *redactingSpan) SetStatus(code codes.Code, _ string) { s.Span.SetStatus(code, "") }

func redactAttrs(kv []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(kv))
	for _, a := range kv {
		switch {
		case rawURLKeys[a.Key]:
			continue
		case a.Key == "url.full":
			out = append(out, attribute.String("url.full", originOnly(a.Value.AsString())))
		default:
			out = append(out, a)
		}
	}
	return out
}

// originOnly cuts a URL to scheme://host, dropping user info, path, query and fragment.
func originOnly(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "redacted"
	}
	return u.Scheme + "://" + u.Host
}
