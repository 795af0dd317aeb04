package cache

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

func TestSizeOfCountsWhatAValueHolds(t *testing.T) {
	p := &tracker.Prescription{ID: strings.Repeat("A", 20), PatientNHSNumber: strings.Repeat("9", 10),
		Issues: make([]tracker.Issue, 1, 4)}
	p.Issues[0].LineItems = []tracker.LineItem{{ID: strings.Repeat("B", 36)}}
	want := int64(unsafe.Sizeof(p)) + int64(unsafe.Sizeof(*p)) + 20 + 10 +
		4*int64(unsafe.Sizeof(tracker.Issue{})) + int64(unsafe.Sizeof(tracker.LineItem{})) + 36
	if got := sizeOf(p); got != want {
		t.Errorf("sizeOf = %d, want %d: the pointer, the struct, its strings and its slices to capacity", got, want)
	}

	t.Run("a time counts as its struct, not its shared location", func(t *testing.T) {
		now := time.Now() // a Local time, whose *Location is a big shared value
		if got, want := sizeOf(now), int64(unsafe.Sizeof(now)); got != want {
			t.Errorf("sizeOf(time) = %d, want %d", got, want)
		}
	})
	t.Run("a not-found counts its error", func(t *testing.T) {
		c := cached[*tracker.Prescription]{err: &tracker.Error{Kind: tracker.ErrNotFound, Reason: strings.Repeat("r", 100)}}
		if got := sizeOf(c); got < 100+int64(unsafe.Sizeof(tracker.Error{})) {
			t.Errorf("sizeOf(not-found) = %d, want at least the error and its reason", got)
		}
	})
	t.Run("a cycle ends the walk", func(t *testing.T) {
		type node struct{ next any }
		n := &node{}
		n.next = n
		if got := sizeOf(n); got <= 0 {
			t.Errorf("sizeOf(cycle) = %d", got)
		}
	})
}

func newTestStore(t *testing.T, c Config) *store {
	t.Helper()
	c.TTL = time.Minute
	c = c.withDefaults()
	in, err := newInstruments(nil, "test", func() (int, int64) { return 0, 0 })
	if err != nil {
		t.Fatal(err)
	}
	return newStore(c, in)
}

func TestStoreSettlesGoCachesOwnRemovals(t *testing.T) {
	s := newTestStore(t, Config{})
	s.put("a", "first", 10, time.Now().Add(time.Minute))
	stale, _ := s.gc.Get("a")
	s.put("a", "second", 10, time.Now().Add(time.Minute))
	n, bytes := s.size()

	// go-cache reporting the removal of a value the store has since replaced changes nothing.
	s.expired("a", stale)
	if gotN, gotBytes := s.size(); gotN != n || gotBytes != bytes {
		t.Errorf("after a stale removal: %d entries, %d bytes; want %d, %d", gotN, gotBytes, n, bytes)
	}
	// Removing the current value (as an expiry sweep does) drops it from the bound.
	s.gc.Delete("a")
	if gotN, gotBytes := s.size(); gotN != 0 || gotBytes != 0 {
		t.Errorf("after removing the entry: %d entries, %d bytes; want none", gotN, gotBytes)
	}
}

func TestStoreRefusesWhatHasAlreadyExpired(t *testing.T) {
	s := newTestStore(t, Config{})
	s.put("a", "v", 10, s.now().Add(-time.Second))
	if _, ok := s.get("a"); ok {
		t.Error("an expired value was stored")
	}
	if n, _ := s.size(); n != 0 {
		t.Errorf("entries = %d, want 0", n)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{TTL: -1, MaxBytes: -1, MaxEntries: -1, CallTimeout: -1}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"TTL", "max bytes", "max entries", "call timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 4 {
		t.Errorf("error %v is not the four problems joined", err)
	}
}

func TestNotFoundTTLNeverOutlivesTTL(t *testing.T) {
	if got := (Config{TTL: 2 * time.Second}).withDefaults().NotFoundTTL; got != 2*time.Second {
		t.Errorf("NotFoundTTL = %v, want the TTL, 2s", got)
	}
	if got := (Config{TTL: time.Minute, NotFoundTTL: -1}).withDefaults().NotFoundTTL; got != 0 {
		t.Errorf("NotFoundTTL = %v, want 0 (not cached)", got)
	}
}
