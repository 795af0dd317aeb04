package routes_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

func startCached(t *testing.T) *adapter {
	t.Helper()
	answers, err := cache.NewAnswers(cache.Config{TTL: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, setup{answers: answers})
}

func TestARepeatedRequestIsAnsweredFromTheAnswerCache(t *testing.T) {
	a := startCached(t)
	path := search(sandbox.PatientManyItems, "_count=5", "_summary=true")
	first := a.get(t, path)
	if first.Status != http.StatusOK {
		t.Fatalf("status %d", first.Status)
	}
	a.Spine.Sandbox.ResetCalls()
	again := a.get(t, path)
	if again.Status != http.StatusOK || string(again.Body) != string(first.Body) {
		t.Fatalf("the second answer differs: %d", again.Status)
	}
	if n := a.Spine.Sandbox.CallCount(""); n != 0 {
		t.Errorf("the repeat made %d Spine calls, want 0", n)
	}
	if again.Header.Get("ETag") != first.Header.Get("ETag") || again.Header.Get("Cache-Control") != "private, no-cache" {
		t.Errorf("headers %v", again.Header)
	}
	t.Run("it is audited like a miss", func(t *testing.T) {
		if r := a.lastRecord(t); r.Status != 200 || r.PatientNHS != sandbox.PatientManyItems || len(r.PrescriptionIDs) == 0 {
			t.Errorf("record of the hit %+v", r.Event)
		}
	})
	t.Run("If-None-Match still gives a 304", func(t *testing.T) {
		if got := a.get(t, path, "If-None-Match", first.Header.Get("ETag")); got.Status != http.StatusNotModified {
			t.Errorf("status %d", got.Status)
		}
	})
	t.Run("If-None-Match on several field lines still gives a 304", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, a.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+a.Token)
		req.Header.Add("If-None-Match", `"something-else"`)
		req.Header.Add("If-None-Match", first.Header.Get("ETag"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("status %d, want 304", res.StatusCode)
		}
	})
	t.Run("If-Match: the current ETag gives the answer, any other a 412 without data", func(t *testing.T) {
		tag := first.Header.Get("ETag")
		if got := a.get(t, path, "If-Match", tag); got.Status != http.StatusOK {
			t.Errorf("If-Match %s: status %d, want 200", tag, got.Status)
		}
		if got := a.get(t, path, "If-Match", "*"); got.Status != http.StatusOK {
			t.Errorf("If-Match *: status %d, want 200", got.Status)
		}
		for _, other := range []string{`"nope"`, "W/" + tag} { // If-Match compares strongly
			got := a.get(t, path, "If-Match", other)
			if got.Status != http.StatusPreconditionFailed || got.JSON["resourceType"] != "OperationOutcome" {
				t.Errorf("If-Match %s: status %d, body %.200s; want a 412 OperationOutcome", other, got.Status, got.Body)
			}
		}
		if r := a.lastRecord(t); r.Status != http.StatusPreconditionFailed {
			t.Errorf("the 412 was recorded with status %d", r.Status)
		}
	})
	t.Run("paging does not call Spine again while the entry lives", func(t *testing.T) {
		a.Spine.Sandbox.ResetCalls()
		next := link(first.JSON, "next")
		for i := 0; i < 2; i++ {
			if got := a.get(t, next); got.Status != http.StatusOK {
				t.Fatalf("next page: %d", got.Status)
			}
		}
		if n := a.Spine.Sandbox.CallCount(""); n > 1 {
			t.Errorf("following the same next link twice made %d Spine calls", n)
		}
	})
	t.Run("another user's identical request is not answered from this user's entry", func(t *testing.T) {
		a.Spine.Sandbox.ResetCalls()
		a.get(t, path, "Authorization", "Bearer "+a.tokenFor(t, pharmacist))
		if n := a.Spine.Sandbox.CallCount("search"); n != 1 {
			t.Errorf("another user's request made %d Spine searches, want 1", n)
		}
	})
	t.Run("_pretty is served from the same entry", func(t *testing.T) {
		a.Spine.Sandbox.ResetCalls()
		got := a.get(t, path+"&_pretty=true")
		if n := a.Spine.Sandbox.CallCount(""); n != 0 || got.Status != http.StatusOK || len(got.Body) <= len(first.Body) {
			t.Errorf("pretty: %d calls, status %d, %d bytes", n, got.Status, len(got.Body))
		}
		// Other bytes, another strong ETag: neither form's tag revalidates the other.
		tag := got.Header.Get("ETag")
		if tag == "" || tag == first.Header.Get("ETag") {
			t.Errorf("pretty ETag %q, compact %q", tag, first.Header.Get("ETag"))
		}
		if again := a.get(t, path+"&_pretty=true", "If-None-Match", tag); again.Status != http.StatusNotModified {
			t.Errorf("pretty revalidated with its own ETag: %d", again.Status)
		}
		if cross := a.get(t, path+"&_pretty=true", "If-None-Match", first.Header.Get("ETag")); cross.Status != http.StatusOK {
			t.Errorf("pretty revalidated with the compact form's ETag: %d, want 200", cross.Status)
		}
	})
}

func TestACachedAnswerSaysItsAge(t *testing.T) {
	a := startCached(t)
	path := search(sandbox.PatientAcuteAndRepeat)
	first := a.get(t, path)
	if first.Header.Get("Age") != "" {
		t.Errorf("a fresh answer has Age %q", first.Header.Get("Age"))
	}
	time.Sleep(1100 * time.Millisecond) // Age counts whole seconds
	got := a.get(t, path)
	age, err := strconv.Atoi(got.Header.Get("Age"))
	if err != nil || age < 1 {
		t.Errorf("Age %q, want at least 1", got.Header.Get("Age"))
	}
}

// A search's answer carries paging links bound to its user, so it is never another user's, even
// with answers shared across users: the other user gets its own answer, whose links are its own, and
// the first user's link is refused to it. A read, with no links, is shared when answers are.
func TestPagingLinksOfSharedAnswers(t *testing.T) {
	path := search(sandbox.PatientManyItems, "_count=2", "_summary=true")
	read := "/MedicationRequest/" + sandbox.RxAcuteDispensed + "-1-1"
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared %v", shared), func(t *testing.T) {
			answers, err := cache.NewAnswers(cache.Config{TTL: time.Hour}, nil)
			if err != nil {
				t.Fatal(err)
			}
			a := start(t, setup{answers: answers, configure: func(c *routes.Config) { c.ShareAnswersAcrossUsers = shared }})
			other := "Bearer " + a.tokenFor(t, pharmacist)
			first := a.get(t, path)
			next := link(first.JSON, "next")
			second := a.get(t, next)
			if next == "" || second.Status != http.StatusOK {
				t.Fatalf("the first user's own next link %q: %d", next, second.Status)
			}
			a.Spine.Sandbox.ResetCalls()
			mine := a.get(t, path, "Authorization", other)
			if n := a.Spine.Sandbox.CallCount("search"); n != 1 {
				t.Errorf("the other user's search made %d Spine searches, want its own 1", n)
			}
			got := a.get(t, link(mine.JSON, "next"), "Authorization", other)
			if got.Status != http.StatusOK || !slices.Equal(ids(got.JSON, "match"), ids(second.JSON, "match")) {
				t.Errorf("the other user's own next link: %d, %v; want 200 and %v", got.Status, ids(got.JSON, "match"), ids(second.JSON, "match"))
			}
			if theirs := a.get(t, next, "Authorization", other); theirs.Status != http.StatusForbidden {
				t.Errorf("the first user's next link followed by another: %d, want 403", theirs.Status)
			}
			a.get(t, read)
			a.Spine.Sandbox.ResetCalls()
			a.get(t, read, "Authorization", other)
			if n := a.Spine.Sandbox.CallCount(""); shared != (n == 0) {
				t.Errorf("the other user's read made %d Spine calls", n)
			}
		})
	}
}

// An answer that is incomplete because a Spine call failed is sent but not kept: asking again once
// Spine has recovered asks Spine again, and gets the whole answer.
func TestAnIncompleteAnswerIsNotCached(t *testing.T) {
	t.Run("a partial result", func(t *testing.T) {
		answers, err := cache.NewAnswers(cache.Config{TTL: time.Hour}, nil)
		if err != nil {
			t.Fatal(err)
		}
		a := start(t, setup{answers: answers, budget: time.Second})
		path := search(sandbox.PatientManyItems, "_count=60", "_include=MedicationRequest:requester")
		a.Spine.Sandbox.SetFault(sandbox.Fault{Kind: sandbox.FaultLatency, Latency: 300 * time.Millisecond})
		partial := a.get(t, path)
		a.Spine.Sandbox.SetFault(sandbox.Fault{})
		if partial.Status != http.StatusOK || !anyContains(outcomeTexts(partial.JSON), "warning: Partial result") {
			t.Fatalf("the slow Spine gave no partial result (%d): %v", partial.Status, outcomeTexts(partial.JSON))
		}
		a.Spine.Sandbox.ResetCalls()
		whole := a.get(t, path)
		if n := a.Spine.Sandbox.CallCount("search"); n != 1 || anyContains(outcomeTexts(whole.JSON), "warning") {
			t.Errorf("asked again: %d Spine searches, outcomes %v; want 1 and no warning", n, outcomeTexts(whole.JSON))
		}
		a.Spine.Sandbox.ResetCalls()
		if again := a.get(t, path); a.Spine.Sandbox.CallCount("") != 0 || string(again.Body) != string(whole.Body) {
			t.Errorf("the whole answer was not kept: %d Spine calls", a.Spine.Sandbox.CallCount(""))
		}
	})

	t.Run("a read whose item details failed", func(t *testing.T) {
		answers, err := cache.NewAnswers(cache.Config{TTL: time.Hour}, nil)
		if err != nil {
			t.Fatal(err)
		}
		spine := start(t, setup{})
		var retrieves atomic.Int32
		a := start(t, setup{detailed: true, answers: answers, tracker: fakeTracker{search: spine.Client.Search,
			retrieve: func(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (*tracker.Prescription, error) {
				retrieves.Add(1)
				return spine.Client.Retrieve(ctx, who, q)
			}}})
		for i := range 2 {
			got := a.get(t, "/MedicationRequest/"+sandbox.RxAcuteDispensed+"-1-1")
			if got.Status != http.StatusOK {
				t.Fatalf("read %d: %d", i, got.Status)
			}
		}
		if n := retrieves.Load(); n != 2 {
			t.Errorf("two reads with the medication absent because of an error made %d retrieves, want 2", n)
		}
	})
}

// A search that gave no authoredon and one that gave the same window explicitly have the same
// canonical query, but only the first says the adapter chose the window: each keeps its own answer.
func TestTheDefaultWindowNoteIsNotShared(t *testing.T) {
	const note = "No authoredon was given"
	for _, explicitFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("explicit first %v", explicitFirst), func(t *testing.T) {
			a := startCached(t)
			plain := search(sandbox.PatientManyItems)
			explicit := search(sandbox.PatientManyItems, "authoredon=ge2026-10-26", "authoredon=le2026-11-23")
			order := []string{plain, explicit}
			if explicitFirst {
				order = []string{explicit, plain}
			}
			got := map[string]answer{}
			for _, p := range order {
				got[p] = a.get(t, p)
			}
			if link(got[plain].JSON, "self") != link(got[explicit].JSON, "self") {
				t.Fatalf("the two searches' windows differ: %s and %s", link(got[plain].JSON, "self"), link(got[explicit].JSON, "self"))
			}
			if !anyContains(outcomeTexts(got[plain].JSON), note) {
				t.Errorf("the search without authoredon lost its note: %v", outcomeTexts(got[plain].JSON))
			}
			if anyContains(outcomeTexts(got[explicit].JSON), note) {
				t.Errorf("the search with authoredon says none was given: %v", outcomeTexts(got[explicit].JSON))
			}
		})
	}
}

// A read carries its resource's meta.lastUpdated as Last-Modified (R4 http.html, resource metadata),
// from Spine and from the answer cache alike; it had only the ETag. A search's Bundle has none.
func TestAReadSaysLastModified(t *testing.T) {
	a := start(t, setup{})
	for _, p := range []string{"/MedicationRequest/" + sandbox.RxAcuteDispensed + "-1-1", "/MedicationDispense/d-" + sandbox.RxAcuteDispensed + "-1-1"} {
		for _, from := range []string{"Spine", "the answer cache"} {
			got := a.get(t, p)
			updated, err := time.Parse(time.RFC3339, jsonPath(got.JSON, "meta", "lastUpdated"))
			if got.Status != http.StatusOK || err != nil {
				t.Fatalf("%s: %d, meta.lastUpdated %q", p, got.Status, jsonPath(got.JSON, "meta", "lastUpdated"))
			}
			if lm, want := got.Header.Get("Last-Modified"), updated.UTC().Format(http.TimeFormat); lm != want {
				t.Errorf("%s from %s: Last-Modified %q, want %q", p, from, lm, want)
			}
		}
	}
	if got := a.get(t, search(sandbox.PatientAcuteAndRepeat)); got.Header.Get("Last-Modified") != "" {
		t.Errorf("a search's Bundle says Last-Modified %q", got.Header.Get("Last-Modified"))
	}
}
