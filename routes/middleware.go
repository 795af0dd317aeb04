package routes

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/telemetry"
)

// requestIDs are the identifiers a request carries through the adapter and into Spine.
type requestIDs struct {
	RequestID     string // X-Request-ID, the client's or ours
	CorrelationID string // X-Correlation-ID, echoed when the client sends one
	EpsTraceID    string // what Spine records, derived from the trace id or the request id
	TraceID       string // the W3C trace id of the request's span, hex ("" without tracing)
}

type idsKey struct{}

func idsFrom(ctx context.Context) requestIDs {
	ids, _ := ctx.Value(idsKey{}).(requestIDs)
	return ids
}

// clientID is what the adapter accepts as a client's request or correlation id: anything else is
// replaced, so that nothing a client injects reaches the logs or Spine.
var clientID = regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,128}$`)

var traceparent = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$`)

func withRequestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		ids := requestIDs{RequestID: c.GetHeader("X-Request-ID")}
		if !clientID.MatchString(ids.RequestID) {
			ids.RequestID = newUUID()
		}
		if cid := c.GetHeader("X-Correlation-ID"); clientID.MatchString(cid) {
			ids.CorrelationID = cid
			c.Header("X-Correlation-Id", cid)
		}
		// The span's own trace id, which continues a caller's traceparent, is what Spine gets, so that
		// a Spine-side search can be joined to the trace; without tracing, the header or request id.
		if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
			id := sc.TraceID()
			ids.TraceID = id.String()
			ids.EpsTraceID = telemetry.EpsTraceID(id)
		} else {
			ids.EpsTraceID = epsTraceID(c.GetHeader("traceparent"), ids.RequestID)
		}
		trace.SpanFromContext(c.Request.Context()).SetAttributes(attribute.String("eps.trace_id", ids.EpsTraceID))
		c.Header("X-Request-Id", ids.RequestID) // canonical spelling: Set need not make a copy of the name
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), idsKey{}, ids))
		c.Next()
	}
}

// epsTraceID derives Spine's Eps-TraceId from the W3C trace id when the request has one, else from
// the request id, so that a Spine-side search can be joined to the request.
func epsTraceID(traceparentHeader, requestID string) string {
	if m := traceparent.FindStringSubmatch(traceparentHeader); m != nil {
		if id, err := trace.TraceIDFromHex(m[1]); err == nil { // not all zeros
			return telemetry.EpsTraceID(id)
		}
	}
	if b, ok := uuidBytes(requestID); ok {
		if id := telemetry.EpsTraceID(trace.TraceID(b)); id != "" {
			return id
		}
	}
	out := make([]byte, 0, 30)
	for i := 0; i < len(requestID) && len(out) < 30; i++ {
		if ch := requestID[i]; ch == '-' || ch >= '0' && ch <= '9' || ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' {
			out = append(out, ch)
		}
	}
	if len(out) == 0 {
		b, _ := uuidBytes(newUUID())
		return telemetry.EpsTraceID(trace.TraceID(b))
	}
	return string(out)
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func uuidBytes(s string) ([]byte, bool) {
	if !uuidPattern.MatchString(s) {
		return nil, false
	}
	b, err := hex.DecodeString(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:])
	return b, err == nil
}

func newUUID() string { return uuid.NewString() }

// logRequests logs one line per request. It logs the route, never the query string: the query holds
// NHS numbers.
func logRequests(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		ids := idsFrom(c.Request.Context())
		route := c.FullPath()
		if route == "" {
			route = "(no route)"
		}
		level := slog.LevelInfo
		if c.Writer.Status() >= 500 {
			level = slog.LevelWarn
		}
		logger.LogAttrs(c.Request.Context(), level, "request",
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", c.Writer.Status()),
			slog.Duration("duration", time.Since(start)),
			slog.String("request_id", ids.RequestID),
			slog.String("eps_trace_id", ids.EpsTraceID),
		)
	}
}

// recoverPanics turns a panic into a 500 OperationOutcome that leaks nothing, and logs it.
func recoverPanics(rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				rend.logger.ErrorContext(c.Request.Context(), "panic serving request",
					"panic", fmt.Sprint(v), "request_id", idsFrom(c.Request.Context()).RequestID)
				if !c.Writer.Written() {
					rend.outcome(c, http.StatusInternalServerError, fhir.Issue{
						Severity: "fatal", Code: "exception",
						Diagnostics: "The server failed to handle the request. Quote the X-Request-ID when reporting it.",
					})
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}

// limitURL refuses request URIs longer than max with a 414, before anything parses them.
func limitURL(rend *renderer, max int) gin.HandlerFunc {
	return func(c *gin.Context) {
		if len(c.Request.RequestURI) > max {
			rend.outcome(c, http.StatusRequestURITooLong, fhir.Issue{
				Severity: "error", Code: "too-long",
				Diagnostics: fmt.Sprintf("The request URI is longer than %d bytes.", max),
			})
			c.Abort()
			return
		}
		c.Next()
	}
}

// contentTypeKey holds, in the gin context, the content type negotiate chose for the answer.
const contentTypeKey = "routes.contentType"

// contentType is the content type negotiated for c's answer: application/fhir+json unless the
// client asked for application/json, and for answers made before negotiation (an unknown route).
func contentType(c *gin.Context) string {
	if ct, ok := c.Get(contentTypeKey); ok {
		return ct.(string)
	}
	return fhir.ContentType
}

// negotiate refuses a query with broken percent-encoding (400, naming the parameter: net/url would
// drop it, and _pretty or _format with it, silently), then, with a 406, a response format other than
// FHIR JSON (_format or Accept), and keeps the content type the answer is to carry.
func negotiate(rend *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, err := parseQuery(c.Request.URL.RawQuery); err != nil {
			rend.fail(c, err)
			c.Abort()
			return
		}
		c.Writer.Header().Add("Vary", "Accept") // the answer, and whether there is one, depends on it
		ct := fhir.NegotiateRequest(c.Request)
		if ct == "" {
			rend.outcome(c, http.StatusNotAcceptable, fhir.Issue{
				Severity: "error", Code: "not-supported",
				Diagnostics: "Only FHIR JSON is supported: use _format=json or Accept: application/fhir+json.",
			})
			c.Abort()
			return
		}
		c.Set(contentTypeKey, ct)
		c.Next()
	}
}
