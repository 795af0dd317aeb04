package tracker

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// instrumentationName names this package's tracer and meter.
const instrumentationName = "github.com/nhs-eps/eps-fhir-tracker/tracker"

// Telemetry never carries an NHS number or a prescription ID: they are in Spine's URLs (the query
// and the retrieve path), so otelhttp, which records url.full with its query (v0.72.0
// internal/semconv/client.go), only ever sees a redacted URL; see redactURL. Span and metric
// attributes hold the interaction, statuses and counts, and span status descriptions only the
// error kind, because an error's text can quote a reply.

// Attribute keys of the spine.* spans and metrics.
const (
	attrInteraction = attribute.Key("spine.interaction")
	attrOutcome     = attribute.Key("spine.outcome")
	attrStatusCode  = attribute.Key("spine.status_code")
	attrRetries     = attribute.Key("spine.retries")
	attrHTTPStatus  = attribute.Key("http.response.status_code")
	attrTraceID     = attribute.Key("eps.trace_id")
	attrState       = attribute.Key("spine.breaker.state")
)

// instruments are the client's tracer and metric instruments.
type instruments struct {
	tracer      trace.Tracer
	duration    metric.Float64Histogram
	active      metric.Int64UpDownCounter
	transitions metric.Int64Counter
}

func newInstruments(tp trace.TracerProvider, mp metric.MeterProvider) (*instruments, error) {
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	m := mp.Meter(instrumentationName)
	in := &instruments{tracer: tp.Tracer(instrumentationName)}
	var errs [3]error
	in.duration, errs[0] = m.Float64Histogram("spine.client.call.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of Spine interaction calls, retries and waiting for a slot included."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	in.active, errs[1] = m.Int64UpDownCounter("spine.client.active_calls", metric.WithUnit("{call}"),
		metric.WithDescription("Spine requests in flight from this instance (at most SPINE_MAX_CONCURRENCY)."))
	in.transitions, errs[2] = m.Int64Counter("spine.client.breaker.transitions", metric.WithUnit("{transition}"),
		metric.WithDescription("Changes of the Spine circuit breaker's state, by the state entered."))
	return in, errors.Join(errs[:]...)
}

// callRecord follows one interaction call for its span and duration metric.
type callRecord struct {
	in          *instruments
	ctx         context.Context
	span        trace.Span
	interaction string
	start       time.Time
	retries     int
	httpStatus  int
}

// begin starts the span of one interaction call, named spine.<interaction>.
func (c *Client) begin(ctx context.Context, interaction string, who Caller) (context.Context, *callRecord) {
	attrs := []attribute.KeyValue{attrInteraction.String(interaction)}
	if ValidTraceID(who.TraceID) {
		attrs = append(attrs, attrTraceID.String(who.TraceID))
	}
	ctx, span := c.in.tracer.Start(ctx, "spine."+interaction,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx, &callRecord{in: c.in, ctx: ctx, span: span, interaction: interaction, start: time.Now()}
}

// end records the call's outcome. err is what the caller gets.
func (r *callRecord) end(err error) {
	outcome, status := "success", "0"
	var e *Error
	if errors.As(err, &e) {
		outcome, status = outcomeName(e.Kind), e.StatusCode
	} else if err != nil {
		outcome = "error"
	}
	r.span.SetAttributes(attrRetries.Int(r.retries), attrOutcome.String(outcome))
	if r.httpStatus != 0 {
		r.span.SetAttributes(attrHTTPStatus.Int(r.httpStatus))
	}
	if status != "" {
		r.span.SetAttributes(attrStatusCode.String(status))
	}
	if err != nil {
		// The kind only: an error's text may quote Spine's reply, which can hold identifiers.
		r.span.SetStatus(codes.Error, outcome)
	}
	r.span.End()
	attrs := []attribute.KeyValue{attrInteraction.String(r.interaction), attrOutcome.String(outcome)}
	if status != "" {
		attrs = append(attrs, attrStatusCode.String(status))
	}
	r.in.duration.Record(r.ctx, time.Since(r.start).Seconds(), metric.WithAttributes(attrs...))
}

// outcomeName is a kind as a low-cardinality metric value.
func outcomeName(kind error) string {
	switch kind {
	case ErrNotFound:
		return "not_found"
	case ErrIssueNotFound:
		return "issue_not_found"
	case ErrInvalidRequest:
		return "invalid_request"
	case ErrRejected:
		return "rejected"
	case ErrUpstream:
		return "upstream_error"
	case ErrTimeout:
		return "timeout"
	case ErrCanceled:
		return "canceled"
	case ErrOverloaded:
		return "overloaded"
	case ErrCircuitOpen:
		return "circuit_open"
	}
	return "error"
}

// routeKey carries the interaction's path template from call to redactURL.
type routeKey struct{}

// realURLKey carries the real URL past otelhttp, from redactURL to restoreURL.
type realURLKey struct{}

// spineRoutes are the paths otelhttp may see: the retrieve path's prescription ID is replaced.
var spineRoutes = map[string]string{
	interactionSearch:      "/mm/prescriptions",
	interactionRetrieve:    "/mm/prescriptions/:id",
	interactionItemSummary: "/mm/nhs111itemsummary",
	interactionItemDetails: "/mm/nhs111itemdetails",
}

// redactURL hands the next RoundTripper (otelhttp) a request whose URL has the interaction's path
// template and no query, and keeps the real URL in the context for restoreURL.
type redactURL struct {
	next http.RoundTripper
	base http.RoundTripper // for CloseIdleConnections, which otelhttp's Transport does not pass on
}

func (t *redactURL) RoundTrip(r *http.Request) (*http.Response, error) {
	path, ok := r.Context().Value(routeKey{}).(string)
	if !ok {
		path = "/" // a request not made by call: show nothing of its URL
	}
	r2 := r.WithContext(context.WithValue(r.Context(), realURLKey{}, r.URL))
	r2.URL = &url.URL{Scheme: r.URL.Scheme, Host: r.URL.Host, Path: path}
	return t.next.RoundTrip(r2)
}

func (t *redactURL) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// restoreURL puts the real URL back before the request reaches the network.
type restoreURL struct{ next http.RoundTripper }

func (t restoreURL) RoundTrip(r *http.Request) (*http.Response, error) {
	u, ok := r.Context().Value(realURLKey{}).(*url.URL)
	if !ok {
		return nil, errors.New("tracker: request without its URL") // never sent anywhere unintended
	}
	r2 := r.WithContext(r.Context())
	r2.URL = u
	return t.next.RoundTrip(r2)
}

// instrumentHTTP returns a copy of hc whose transport is traced by otelhttp, with the URL redacted
// around it. No trace context is propagated to Spine: Spine documents exactly the headers it takes
// (SPEC 1.4), and its own correlation is Eps-TraceId. otelhttp records no metrics: each Spine call's
// duration, outcome and HTTP status are spine.client.call.duration's, and otelhttp's per-attempt
// http.client.* instruments, which said nothing more, built their attribute sets on every attempt
// (3% of a flood's CPU).
func instrumentHTTP(hc *http.Client, tp trace.TracerProvider) *http.Client {
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	otel := otelhttp.NewTransport(restoreURL{next: base},
		otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()))
	out := *hc
	out.Transport = &redactURL{next: otel, base: base}
	return &out
}
