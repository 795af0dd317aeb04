package routes

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// errorRule is one row of the table that maps a kind of failure to what the client sees.
type errorRule struct {
	kind     error
	status   int
	code     string
	severity string
	say      string
}

// errorTable is the one place a failure becomes an HTTP status and an OperationOutcome
// (FHIR-API.md section 5). Not-found kinds are not here: a search turns them into an empty searchset
// and a read into a 404, where the handler knows which it is.
var errorTable = []errorRule{
	{tracker.ErrInvalidRequest, http.StatusBadRequest, "invalid", "error",
		"Spine refused a search parameter as invalid."},
	{tracker.ErrRejected, http.StatusBadGateway, "exception", "error",
		"Spine refused this system's own request (its identity or configuration); this is not the client's fault."},
	{tracker.ErrTimeout, http.StatusGatewayTimeout, "timeout", "error",
		"Spine did not answer in time."},
	{tracker.ErrCanceled, 499, "timeout", "error",
		"The request was cancelled before Spine answered."},
	{tracker.ErrUpstream, http.StatusBadGateway, "transient", "error",
		"Spine failed or sent an answer the adapter cannot use."},
	{tracker.ErrOverloaded, http.StatusServiceUnavailable, "transient", "error",
		"This server is at its limit of calls to Spine, a shared national service, and could not serve the request in time: try again after the time Retry-After gives."},
	{tracker.ErrCircuitOpen, http.StatusServiceUnavailable, "transient", "error",
		"Spine is not answering, so the adapter is not calling it for a short while: try again after the time Retry-After gives."},
	{errUnmappable, http.StatusBadGateway, "exception", "error",
		"Spine sent data the adapter cannot map to FHIR."},
	{errForbiddenPage, http.StatusForbidden, "forbidden", "error",
		"This paging link was issued to another user: repeat the search."},
	{errAuditRead, http.StatusServiceUnavailable, "transient", "error",
		"The audit trail could not be read. Try again shortly."},
}

var (
	// errForbiddenPage marks a paging link opened by a user other than the one it was made for.
	errForbiddenPage = errors.New("paging link of another user")
	// errAuditRead marks a failure to read the audit trail for an auditor.
	errAuditRead = errors.New("audit trail unreadable")
)

// spineParameter names the search parameter behind each of Spine's "invalid parameter" statusCodes
// (SPEC 3), for the OperationOutcome's expression.
var spineParameter = map[string]string{
	"51": "group-identifier",
	"57": "authoredon",
	"59": "business-status",
	"60": "prescription-version",
	"61": "patient",
	"2":  "patient", // the 111 interactions' "Invalid or missing NHS number"
}

// errUnmappable marks a mapping failure: Spine's data held a code the adapter does not know.
var errUnmappable = errors.New("unmappable Spine data")

// fail writes the OperationOutcome for err and logs it once, here at the HTTP boundary.
func (rd *renderer) fail(c *gin.Context, err error) {
	ctx := c.Request.Context()
	ids := idsFrom(ctx)

	if perrs := mapping.ParamErrors(err); len(perrs) > 0 {
		issues := make([]fhir.Issue, 0, len(perrs))
		for _, pe := range perrs {
			issues = append(issues, fhir.Issue{
				Severity: "error", Code: "invalid", Diagnostics: pe.Msg, Expression: []string{pe.Param},
			})
		}
		rd.logger.InfoContext(ctx, "bad request", "request_id", ids.RequestID, "problems", len(issues))
		rd.outcome(c, http.StatusBadRequest, issues...)
		return
	}
	for _, rule := range errorTable {
		if !errors.Is(err, rule.kind) {
			continue
		}
		level := slog.LevelWarn
		if rule.status < 500 {
			level = slog.LevelInfo
		}
		rd.logger.Log(ctx, level, "request failed", "err", err, "status", rule.status,
			"request_id", ids.RequestID, "eps_trace_id", ids.EpsTraceID)
		issue := fhir.Issue{Severity: rule.severity, Code: rule.code, Diagnostics: rule.say}
		var te *tracker.Error
		if errors.As(err, &te) && te.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(te.RetryAfter.Seconds())))))
		}
		if errors.As(err, &te) && te.StatusCode != "" {
			// Spine's own words help the client's support desk and hold no patient data.
			issue.Diagnostics += " Spine said: statusCode " + te.StatusCode + " " + te.Reason + "."
			switch rule.kind {
			case tracker.ErrInvalidRequest:
				if param, ok := spineParameter[te.StatusCode]; ok {
					issue.Expression = []string{param}
				}
			case tracker.ErrUpstream:
				issue.Code = "exception"
			}
		}
		rd.outcome(c, rule.status, issue)
		return
	}
	rd.logger.ErrorContext(ctx, "request failed", "err", err, "request_id", ids.RequestID)
	rd.outcome(c, http.StatusInternalServerError, internalIssue)
}

func handleNoRoute(rd *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		rd.outcome(c, http.StatusNotFound, fhir.Issue{
			Severity: "error", Code: "not-found",
			Diagnostics: "No such resource type or interaction here; see /FHIR/R4/metadata for what this server supports.",
		})
	}
}

func handleNoMethod(rd *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		rd.outcome(c, http.StatusMethodNotAllowed, fhir.Issue{
			Severity: "error", Code: "not-supported",
			Diagnostics: "This server is read-only: only GET (and HEAD) is supported.",
		})
	}
}
