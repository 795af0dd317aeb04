package telemetry

import (
	"encoding/base32"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// GinOptions are the otelgin options for the adapter's router: this Telemetry's providers (never
// the globals), and spans named by route template. Use them as
// r.Use(otelgin.Middleware(service, t.GinOptions()...), telemetry.TraceResponse(), t.InFlight()).
//
// What otelgin v0.65.0 records, read from its source: on the server span http.request.method,
// url.scheme, server.address/port, network.peer.address/port, client.address, user.agent.original,
// network.protocol.version, http.route, url.path (the raw path, which holds read ids: dropped by the
// redacting TracerProvider), and afterwards http.response.status_code and http.response.body.size;
// it never records the query. Its metrics (http.server.request.duration, request and response body
// size) carry method, scheme, server address, protocol, status and http.route, never the path.
func (t *Telemetry) GinOptions() []otelgin.Option {
	return []otelgin.Option{
		otelgin.WithTracerProvider(t.TracerProvider),
		otelgin.WithMeterProvider(t.MeterProvider),
		otelgin.WithPropagators(t.Propagator),
		otelgin.WithSpanNameFormatter(SpanName),
	}
}

// SpanName names a server span "METHOD /route/:template", or "METHOD unmatched route" when no route
// matched, so the name never holds the raw path.
func SpanName(c *gin.Context) string {
	method := strings.ToUpper(c.Request.Method)
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
	default:
		method = "HTTP"
	}
	if route := c.FullPath(); route != "" {
		return method + " " + route
	}
	return method + " unmatched route"
}

// TraceResponse returns middleware, placed after otelgin, that sends the request's trace in a
// traceresponse header (W3C Trace Context Level 2 draft: 00-<trace-id>-<span-id>-<flags>), so a
// caller who sent no traceparent can still quote its trace id.
func TraceResponse() gin.HandlerFunc {
	return func(c *gin.Context) {
		if v := TraceResponseValue(trace.SpanContextFromContext(c.Request.Context())); v != "" {
			c.Header("traceresponse", v)
		}
		c.Next()
	}
}

// TraceResponseValue formats sc as a traceresponse header value, or "" when sc is not valid.
func TraceResponseValue(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// InFlight returns middleware that counts requests being served in http.server.active_requests
// (OTel HTTP semantic conventions), which otelgin does not record. Request count and duration by
// route and status come from otelgin's http.server.request.duration histogram.
func (t *Telemetry) InFlight() gin.HandlerFunc {
	active, err := t.Meter().Int64UpDownCounter("http.server.active_requests",
		metric.WithUnit("{request}"), metric.WithDescription("Number of active HTTP server requests."))
	if err != nil {
		// Only an invalid instrument name fails, and this one is fixed: serve without the metric.
		return func(c *gin.Context) { c.Next() }
	}
	return func(c *gin.Context) {
		scheme := "http"
		if c.Request.TLS != nil {
			scheme = "https"
		}
		attrs := metric.WithAttributeSet(attribute.NewSet(
			semconv.HTTPRequestMethodKey.String(standardMethod(c.Request.Method)),
			semconv.URLScheme(scheme),
		))
		ctx := c.Request.Context()
		active.Add(ctx, 1, attrs)
		defer active.Add(ctx, -1, attrs)
		c.Next()
	}
}

// standardMethod keeps the metric's cardinality bounded: unknown methods become _OTHER.
func standardMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

var epsTraceEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// EpsTraceID derives Spine's Eps-TraceId from a span's trace id: unpadded base32 of its 16 bytes, 26
// characters of [A-Z2-7], within Spine's limit of 30 characters of [A-Za-z0-9-]. Deriving it from the
// span context rather than the raw traceparent header means it names the trace that was actually
// recorded, including when the adapter started a new one or the header was malformed. It returns ""
// when sc has no trace id.
func EpsTraceID(sc trace.SpanContext) string {
	if !sc.HasTraceID() {
		return ""
	}
	id := sc.TraceID()
	return epsTraceEncoding.EncodeToString(id[:])
}
