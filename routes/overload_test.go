package routes_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

func retryAfter(t *testing.T, got answer) int {
	t.Helper()
	n, err := strconv.Atoi(got.Header.Get("Retry-After"))
	if err != nil || n < 1 {
		t.Errorf("Retry-After %q, want whole seconds", got.Header.Get("Retry-After"))
	}
	return n
}

func TestSpineCapacityExhaustedIsAFast503(t *testing.T) {
	a := start(t, setup{spine: func(c *tracker.Config) { c.MaxConcurrency, c.MaxWaiting = 1, 1 }})
	slow := make(chan answer, 2)
	// One request holds the one Spine slot for about a second; a second waits for it.
	go func() { slow <- a.get(t, search(sandbox.PatientFaultLatency)) }()
	deadline := time.Now().Add(5 * time.Second)
	for a.Spine.Sandbox.CallCount("search") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	go func() { slow <- a.get(t, search(sandbox.PatientFaultLatency)) }()
	time.Sleep(200 * time.Millisecond) // let it join the queue
	got := a.get(t, search(sandbox.PatientAcuteAndRepeat))
	if got.Status != http.StatusServiceUnavailable || issue(t, got)["code"] != "transient" {
		t.Fatalf("while Spine's slot is taken: %d %s, want 503 transient", got.Status, got.Body)
	}
	retryAfter(t, got)
	for range 2 {
		if first := <-slow; first.Status != http.StatusOK {
			t.Errorf("a request holding or waiting for the slot: %d", first.Status)
		}
	}
}

func TestAnOpenCircuitAnswersAtOnce(t *testing.T) {
	a := start(t, setup{spine: func(c *tracker.Config) {
		c.BreakerFailures, c.BreakerOpenFor, c.MaxRetries = 2, time.Minute, -1
	}})
	for i := 0; i < 2; i++ {
		if got := a.get(t, search(sandbox.PatientFaultReset)); got.Status != http.StatusBadGateway {
			t.Fatalf("reset %d: %d, want 502", i, got.Status)
		}
	}
	a.Spine.Sandbox.ResetCalls()
	got := a.get(t, search(sandbox.PatientAcuteAndRepeat))
	if got.Status != http.StatusServiceUnavailable || issue(t, got)["code"] != "transient" {
		t.Fatalf("with the circuit open: %d %s, want 503 transient", got.Status, got.Body)
	}
	retryAfter(t, got)
	if n := a.Spine.Sandbox.CallCount(""); n != 0 {
		t.Errorf("an open circuit still called Spine %d times", n)
	}
}

func TestPerClientRateLimit(t *testing.T) {
	a := start(t, setup{configure: func(c *routes.Config) { c.RateLimit = routes.Rate{PerSecond: 0.5, Burst: 2} }})
	path := "/Patient/" + sandbox.PatientAcuteAndRepeat
	var statuses []int
	for i := 0; i < 3; i++ {
		statuses = append(statuses, a.get(t, path).Status)
	}
	if statuses[0] != 200 || statuses[1] != 200 || statuses[2] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v, want 200 200 429", statuses)
	}
	got := a.get(t, path)
	if issue(t, got)["code"] != "throttled" || retryAfter(t, got) < 2 {
		t.Errorf("429: %v %q", issue(t, got), got.Header.Get("Retry-After"))
	}
	t.Run("refusals by role count too", func(t *testing.T) {
		b := start(t, setup{configure: func(c *routes.Config) { c.RateLimit = routes.Rate{PerSecond: 0.1, Burst: 2} }})
		var statuses []int
		for range 4 {
			statuses = append(statuses, b.get(t, "/AuditEvent?date=ge2000-01-01").Status) // a prescriber is no auditor
		}
		if !slices.Equal(statuses, []int{403, 403, 429, 429}) {
			t.Errorf("statuses %v, want 403 403 429 429", statuses)
		}
		if r := b.lastRecord(t); r.Status != http.StatusTooManyRequests || r.UserID != prescriber {
			t.Errorf("the throttled refusal is recorded as %+v", r.Event)
		}
	})
}

func TestATokenlessFloodIsLimitedBeforeItBecomesAuditWrites(t *testing.T) {
	// Every way of failing to authenticate counts: no token, a malformed header (a 400), a bad token.
	for _, tc := range []struct {
		name, authorization string
		status              int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a malformed Authorization header", "Bearer x y", http.StatusBadRequest},
		{"a token that does not verify", "Bearer not.a.jwt", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := start(t, setup{configure: func(c *routes.Config) { c.UnauthenticatedLimit = routes.Rate{PerSecond: 0.1, Burst: 3} }})
			path := search(sandbox.PatientAcuteAndRepeat)
			before := len(a.auditRecords(t))
			var mu sync.Mutex
			counts := map[int]int{}
			var wg sync.WaitGroup
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got := a.get(t, path, "Authorization", tc.authorization)
					mu.Lock()
					counts[got.Status]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			if counts[tc.status] != 3 || counts[http.StatusTooManyRequests] != 17 {
				t.Errorf("statuses %v, want 3 %ds and 17 429s", counts, tc.status)
			}
			if written := len(a.auditRecords(t)) - before; written != 3 {
				t.Errorf("%d audit records for the flood, want 3 (the %ds)", written, tc.status)
			}
			if got := a.get(t, path); got.Status != http.StatusOK {
				t.Errorf("an authenticated user from the same address: %d", got.Status)
			}
		})
	}
}

// TestRequestsBeyondTheActiveBoundWaitTheirTurn: with one request in progress allowed, one that
// cannot get its turn within a quarter of the deadline gets a fast 503 with Retry-After, audited like
// any answer, before anything is asked of Spine.
func TestRequestsBeyondTheActiveBoundWaitTheirTurn(t *testing.T) {
	a := start(t, setup{budget: 2 * time.Second, configure: func(c *routes.Config) { c.MaxActive = 1 }})
	slow := make(chan answer, 1)
	go func() { slow <- a.get(t, search(sandbox.PatientFaultLatency, "_summary=true")) }() // about a second at Spine
	deadline := time.Now().Add(5 * time.Second)
	for a.Spine.Sandbox.CallCount("search") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	records := len(a.auditRecords(t))
	calls := a.Spine.Sandbox.CallCount("")
	refused := a.get(t, search(sandbox.PatientAcuteAndRepeat)) // waits 500 ms, the slot still taken
	if refused.Status != http.StatusServiceUnavailable || issue(t, refused)["code"] != "transient" {
		t.Fatalf("beyond the bound: %d %s, want 503 transient", refused.Status, refused.Body)
	}
	if n := retryAfter(t, refused); n != 1 {
		t.Errorf("Retry-After %d, want 1", n)
	}
	if n := a.Spine.Sandbox.CallCount(""); n != calls {
		t.Errorf("a refused request made %d Spine calls", n-calls)
	}
	if first := <-slow; first.Status != http.StatusOK {
		t.Fatalf("the request in progress: %d", first.Status)
	}
	recs := a.auditRecords(t)
	if len(recs) != records+2 {
		t.Fatalf("%d new audit records, want 2: the refusal's and the slow request's", len(recs)-records)
	}
	// Refused before the handler read the search, so its query, not a subject, says whom it was for.
	if r := recs[records]; r.Status != http.StatusServiceUnavailable || r.Outcome != "transient" ||
		!strings.Contains(r.Query, sandbox.PatientAcuteAndRepeat) {
		t.Errorf("the refusal's record: %+v", r.Event)
	}
}

// TestARequestThatGetsItsTurnInTimeIsAnswered: the second request waits (its wait is 2 s, a quarter of
// its deadline) for the first, which holds the only slot for about a second, and is answered.
func TestARequestThatGetsItsTurnInTimeIsAnswered(t *testing.T) {
	a := start(t, setup{budget: 8 * time.Second, configure: func(c *routes.Config) { c.MaxActive = 1 }})
	slow := make(chan answer, 1)
	go func() { slow <- a.get(t, search(sandbox.PatientFaultLatency, "_summary=true")) }()
	deadline := time.Now().Add(5 * time.Second)
	for a.Spine.Sandbox.CallCount("search") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := a.get(t, search(sandbox.PatientAcuteAndRepeat))
	if got.Status != http.StatusOK {
		t.Fatalf("the waiting request: %d %s", got.Status, got.Body)
	}
	if first := <-slow; first.Status != http.StatusOK {
		t.Fatalf("the request in progress: %d", first.Status)
	}
	// It waited its turn: the first request's audit record was committed before it began.
	recs := a.auditRecords(t)
	if len(recs) < 2 || recs[len(recs)-2].PatientNHS != sandbox.PatientFaultLatency ||
		recs[len(recs)-1].PatientNHS != sandbox.PatientAcuteAndRepeat {
		t.Errorf("audit order %+v: the waiting request did not wait for the one in progress", recs)
	}
}
