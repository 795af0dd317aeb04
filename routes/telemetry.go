package routes

import (
	"context"
	"encoding/hex"
	"net/url"
	"sync"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

const instrumentation = "github.com/nhs-eps/eps-fhir-tracker/routes"

// instruments are the routes' share of OpenTelemetry: the server span of each request (otelgin), the
// spans of its mapping and marshalling, and the in-flight gauge. Paths and queries hold NHS numbers
// and prescription IDs, so no span or metric ever sees them: only the route template.
type instruments struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	prop     propagation.TextMapPropagator
	tracer   trace.Tracer
	inFlight metric.Int64UpDownCounter
	routes   sync.Map // route template -> its metric.MeasurementOption, made once
}

func newInstruments(d Deps) *instruments {
	t := &instruments{tp: d.Tracing, mp: d.Meters, prop: d.Propagator}
	if t.tp == nil {
		t.tp = tracenoop.NewTracerProvider()
	}
	if t.mp == nil {
		t.mp = metricnoop.NewMeterProvider()
	}
	if t.prop == nil {
		t.prop = propagation.TraceContext{}
	}
	t.tracer = t.tp.Tracer(instrumentation)
	t.inFlight, _ = t.mp.Meter(instrumentation).Int64UpDownCounter("http.server.active_requests",
		metric.WithUnit("{request}"), metric.WithDescription("Requests being served now."))
	return t
}

// traceResponse is the traceresponse header's value for sc: 00-<trace-id>-<span-id>-<flags>.
func traceResponse(sc trace.SpanContext) string {
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [55]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	flags := sc.TraceFlags() & trace.FlagsSampled
	hex.Encode(b[53:], []byte{byte(flags)})
	return string(b[:])
}

// routeAttrs is the in-flight gauge's attributes for a route template. Templates are the fixed set
// the router knows (and "" for no route), so each is built once rather than on every request.
func (t *instruments) routeAttrs(route string) metric.MeasurementOption {
	if o, ok := t.routes.Load(route); ok {
		return o.(metric.MeasurementOption)
	}
	o, _ := t.routes.LoadOrStore(route, metric.WithAttributeSet(attribute.NewSet(attribute.String("http.route", route))))
	return o.(metric.MeasurementOption)
}

// start opens a child span of the request's.
func (t *instruments) start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// serverSpans opens the request's server span with otelgin, named by method and route template.
// otelgin records the request's path (url.path) as it is, and a read's path holds a prescription ID:
// it is shown a copy of the request whose path is the route template, and the real request is put
// back for the handlers. The trace id goes back to the client in a traceresponse header (W3C Trace
// Context level 2 draft), so that a support desk can find the trace.
func (t *instruments) serverSpans() []gin.HandlerFunc {
	type saved struct {
		url        *url.URL
		requestURI string
	}
	const key = "routes.savedURL"
	hide := func(c *gin.Context) {
		route := c.FullPath()
		if route == "" {
			route = "/(no route)"
		}
		c.Set(key, saved{c.Request.URL, c.Request.RequestURI})
		r := c.Request.WithContext(c.Request.Context())
		r.URL = &url.URL{Path: route}
		r.RequestURI = route
		c.Request = r
		c.Next()
	}
	restore := func(c *gin.Context) {
		s := c.MustGet(key).(saved)
		// c.Request is otelgin's own copy, made as it started the span: the real URL goes back on it.
		r := c.Request
		r.URL, r.RequestURI = s.url, s.requestURI
		sc := trace.SpanContextFromContext(r.Context())
		if sc.IsValid() {
			c.Header("Traceresponse", traceResponse(sc))
		}
		ctx, route := r.Context(), t.routeAttrs(c.FullPath())
		t.inFlight.Add(ctx, 1, route)
		defer t.inFlight.Add(ctx, -1, route)
		c.Next()
	}
	return []gin.HandlerFunc{
		hide,
		otelgin.Middleware("eps-fhir-tracker",
			otelgin.WithTracerProvider(t.tp),
			otelgin.WithMeterProvider(t.mp),
			otelgin.WithPropagators(t.prop),
			otelgin.WithSpanNameFormatter(func(c *gin.Context) string {
				if c.FullPath() == "" {
					return c.Request.Method + " (no route)"
				}
				return c.Request.Method + " " + c.FullPath()
			}),
		),
		restore,
	}
}
