package cache_test

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

var trackerCache = attribute.String("cache.name", "tracker")

func TestTrackerStaysWithinItsByteBoundUnderAFlood(t *testing.T) {
	const patients = 150
	const maxBytes = 48 << 10
	e := newEnv(t, sandbox.Options{Patients: patients, Seed: 3})
	c := e.tracker(t, cache.Config{MaxBytes: maxBytes}, nil)
	search := func(i int) {
		t.Helper()
		if _, err := c.Search(t.Context(), alice, tracker.SearchQuery{NHSNumber: e.srv.Sandbox.GeneratedNHSNumber(i)}); err != nil {
			t.Fatalf("patient %d: %v", i, err)
		}
	}

	for i := range patients {
		search(i)
		if size := e.metric(t, "cache.size", trackerCache); size > maxBytes {
			t.Fatalf("after %d patients the cache holds %d bytes, more than its bound of %d", i+1, size, maxBytes)
		}
	}
	entries := e.metric(t, "cache.entries", trackerCache)
	if entries <= 1 || entries >= patients {
		t.Fatalf("the cache holds %d of %d patients: want the bound to keep some and evict others", entries, patients)
	}
	if got, want := e.metric(t, "cache.evictions", trackerCache, attribute.String("cache.eviction.reason", "capacity")), patients-entries; got != want {
		t.Errorf("evictions = %d, want %d", got, want)
	}

	t.Run("the newest patient is still cached", func(t *testing.T) {
		before := e.calls("search")
		search(patients - 1)
		if got := e.calls("search"); got != before {
			t.Errorf("Spine searches went from %d to %d, want no new call", before, got)
		}
	})
	t.Run("the oldest patient was evicted", func(t *testing.T) {
		before := e.calls("search")
		search(0)
		if got, want := e.calls("search"), before+1; got != want {
			t.Errorf("Spine searches = %d, want %d", got, want)
		}
	})
}

func TestTrackerStaysWithinItsEntryBound(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	c := e.tracker(t, cache.Config{MaxEntries: 2}, nil)
	patients := []string{sandbox.PatientAcuteAndRepeat, sandbox.PatientRepeatDispensing, sandbox.PatientR1}
	for _, nhs := range patients {
		if _, err := c.Search(t.Context(), alice, tracker.SearchQuery{NHSNumber: nhs}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := e.metric(t, "cache.entries", trackerCache), int64(2); got != want {
		t.Errorf("entries = %d, want %d", got, want)
	}
	// The first was evicted, the two most recent were not.
	for _, nhs := range []string{patients[2], patients[1], patients[0]} {
		if _, err := c.Search(t.Context(), alice, tracker.SearchQuery{NHSNumber: nhs}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := e.calls("search"), 4; got != want {
		t.Errorf("Spine searches = %d, want %d", got, want)
	}
}
