package routes

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
)

// admission bounds the patient-data requests being worked on at once (Config.MaxActive,
// EPS_MAX_ACTIVE_REQUESTS). The rest wait for a slot in arrival order, holding little more than
// their connection: without the bound, a thousand clients make a thousand requests' worth of Spine
// answers, protos and marshalled bytes live at once, the collector runs without pause under the memory
// limit, and every request gets slower. A request that cannot get a slot within its wait (a quarter of
// its deadline), or arrives when too many are waiting already, gets a fast 503 with Retry-After
// (issue code transient), before anything is authenticated, audited or asked of Spine.
type admission struct {
	slots      chan struct{}
	waiting    atomic.Int64
	maxWaiting int64
	wait       time.Duration
	rd         *renderer
}

// newAdmission returns nil, for no bound, when active is not positive.
func newAdmission(active int, wait time.Duration, rd *renderer) *admission {
	if active <= 0 {
		return nil
	}
	return &admission{slots: make(chan struct{}, active), maxWaiting: 16 * int64(active), wait: wait, rd: rd}
}

// admit is the first handler of every patient-data route.
func (a *admission) admit(c *gin.Context) {
	if a == nil {
		return
	}
	select {
	case a.slots <- struct{}{}:
	default:
		if !a.queue(c) {
			return
		}
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
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}: // goroutines blocked on a channel are woken in arrival order
		return true
	case <-t.C:
		a.refuse(c)
	case <-c.Request.Context().Done(): // the client has gone: nobody to answer
		c.Abort()
	}
	return false
}

// refuse answers 503 before the request's audit entry exists: nothing was read, nothing is recorded.
func (a *admission) refuse(c *gin.Context) {
	b, err := a.rd.enc.Marshal(fhir.Outcome(fhir.Issue{Severity: "error", Code: "transient",
		Diagnostics: "This server is at its limit of requests in progress: try again after the time Retry-After gives."}), false)
	if err != nil {
		b = []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"transient"}]}`)
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Retry-After", "1")
	c.Data(http.StatusServiceUnavailable, fhir.ContentType, b)
	c.Abort()
}
