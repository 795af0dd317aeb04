package routes

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
)

// statusClientClosedRequest is what the request log and the audit record say of a request whose
// client went away before its turn came (nginx's 499; nothing is written to the gone client).
const statusClientClosedRequest = 499

// admission bounds the patient-data requests being worked on at once (Config.MaxActive,
// EPS_MAX_ACTIVE_REQUESTS). The rest wait for a slot in arrival order, holding little more than
// their connection: without the bound, a thousand clients make a thousand requests' worth of Spine
// answers, protos and marshalled bytes live at once, the collector runs without pause under the memory
// limit, and every request gets slower.
//
// It runs after authentication and the client's own rate limit, so that a client refused for its own
// sake never takes a place other users wait for. The wait counts against the request's deadline
// (Config.RequestTimeout from arrival here). A request whose turn has not come within a quarter of
// that deadline, or that arrives when 16 × MaxActive are waiting already, gets a fast 503 with
// Retry-After (issue code transient), audited like any other answer, before anything is asked of Spine.
type admission struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	deadline   time.Duration // a request's whole budget, the wait included
	rd         *renderer
}

// newAdmission returns nil, for no bound, when active is not positive.
func newAdmission(active int, deadline time.Duration, rd *renderer) *admission {
	if active <= 0 {
		return nil
	}
	return &admission{slots: make(chan struct{}, active), maxWaiting: 16 * int64(active), deadline: deadline, rd: rd}
}

// admit holds the request until it has a slot. One that had to wait gets a deadline counted from its
// arrival; one admitted at once needs none here, as the handler's own starts within microseconds.
func (a *admission) admit(c *gin.Context) {
	if a == nil {
		return
	}
	select {
	case a.slots <- struct{}{}:
	default:
		arrived := time.Now()
		if !a.queue(c) {
			return
		}
		ctx, cancel := context.WithDeadline(c.Request.Context(), arrived.Add(a.deadline))
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
	}
	defer func() { <-a.slots }()
	c.Next()
}

// queue waits for a slot; it answers the request itself and reports false when none comes in time.
func (a *admission) queue(c *gin.Context) bool {
	if a.waiting.Add(1) > a.maxWaiting {
		a.waiting.Add(-1)
		a.refuse(c)
		return false
	}
	defer a.waiting.Add(-1)
	t := time.NewTimer(a.deadline / 4)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}: // goroutines blocked on a channel are woken in arrival order
		return true
	case <-t.C:
		a.refuse(c)
	case <-c.Request.Context().Done(): // the client has gone: nobody to answer, but the trail says so
		a.rd.gone(c)
	}
	return false
}

func (a *admission) refuse(c *gin.Context) {
	c.Header("Retry-After", "1")
	a.rd.outcome(c, http.StatusServiceUnavailable, fhir.Issue{Severity: "error", Code: "transient",
		Diagnostics: "This server is at its limit of requests in progress: try again after the time Retry-After gives."})
	c.Abort()
}
