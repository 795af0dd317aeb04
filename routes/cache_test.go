package routes_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
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
