package cache_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
)

var answersCache = attribute.String("cache.name", "answers")

// answersEnv is an Answers store with a clock the test moves and metrics it reads.
func answersEnv(t *testing.T, c cache.Config) (*cache.Answers, *clock, *env) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	e := &env{reader: reader, mp: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		clock: &clock{now: time.Date(2026, 3, 14, 10, 30, 0, 0, time.UTC)}}
	c.Now = e.clock.Now
	a, err := cache.NewAnswers(c, e.mp)
	if err != nil {
		t.Fatal(err)
	}
	return a, e.clock, e
}

func answer(size int) cache.Answer {
	return cache.Answer{Body: bytes.Repeat([]byte("x"), size), ETag: `W/"1"`, PatientNHSNumber: "9691003120",
		PrescriptionIDs: []string{"3AF2CB-C86002-0000BX"}}
}

func TestAnswersKeepsAnswersUntilTheirDataIsTTLOld(t *testing.T) {
	a, clk, _ := answersEnv(t, cache.Config{TTL: 30 * time.Second})
	fetched := clk.Now().Add(-10 * time.Second) // built from a tracker result cached 10s ago
	want := answer(100)
	want.Fetched = fetched
	a.Put("page1", want)

	got, ok := a.Get("page1")
	if !ok {
		t.Fatal("a fresh answer was not found")
	}
	if !bytes.Equal(got.Body, want.Body) || got.ETag != want.ETag || !got.Fetched.Equal(fetched) ||
		got.PatientNHSNumber != want.PatientNHSNumber || len(got.PrescriptionIDs) != 1 {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if !got.Stored.Equal(clk.Now()) {
		t.Errorf("Stored = %v, want the time of Put, %v", got.Stored, clk.Now())
	}
	clk.Advance(20*time.Second - time.Nanosecond)
	if _, ok := a.Get("page1"); !ok {
		t.Error("the answer expired before its data was TTL old")
	}
	clk.Advance(time.Nanosecond)
	if _, ok := a.Get("page1"); ok {
		t.Error("the answer outlived its data's TTL")
	}
	if _, ok := a.Get("page2"); ok {
		t.Error("an answer never stored was found")
	}
}

func TestAnswersStaysWithinItsBounds(t *testing.T) {
	t.Run("by bytes", func(t *testing.T) {
		a, _, e := answersEnv(t, cache.Config{TTL: time.Minute, MaxBytes: 64 << 10})
		for i := range 100 {
			a.Put(fmt.Sprint("key", i), answer(4<<10))
			if size := e.metric(t, "cache.size", answersCache); size > 64<<10 {
				t.Fatalf("after %d answers the store holds %d bytes, more than its bound", i+1, size)
			}
		}
		entries := e.metric(t, "cache.entries", answersCache)
		if entries < 10 || entries > 15 {
			t.Errorf("entries = %d, want the 4 KiB answers that fit in 64 KiB (10 to 15)", entries)
		}
		if _, ok := a.Get("key0"); ok {
			t.Error("the oldest answer was not evicted")
		}
		if _, ok := a.Get("key99"); !ok {
			t.Error("the newest answer was evicted")
		}
		if got, want := e.metric(t, "cache.evictions", answersCache), 100-entries; got != want {
			t.Errorf("evictions = %d, want %d", got, want)
		}
	})
	t.Run("by entries", func(t *testing.T) {
		a, _, e := answersEnv(t, cache.Config{TTL: time.Minute, MaxEntries: 3})
		for i := range 5 {
			a.Put(fmt.Sprint("key", i), answer(10))
		}
		if got, want := e.metric(t, "cache.entries", answersCache), int64(3); got != want {
			t.Errorf("entries = %d, want %d", got, want)
		}
		for i, want := range []bool{false, false, true, true, true} {
			if _, ok := a.Get(fmt.Sprint("key", i)); ok != want {
				t.Errorf("key%d found = %v, want %v", i, ok, want)
			}
		}
	})
	t.Run("an answer bigger than the bound is not kept", func(t *testing.T) {
		a, _, e := answersEnv(t, cache.Config{TTL: time.Minute, MaxBytes: 1 << 10})
		a.Put("small", answer(10))
		a.Put("huge", answer(2<<10))
		if _, ok := a.Get("huge"); ok {
			t.Error("the answer bigger than the bound was kept")
		}
		if _, ok := a.Get("small"); !ok {
			t.Error("a huge answer evicted the others")
		}
		if got := e.metric(t, "cache.evictions", answersCache); got != 0 {
			t.Errorf("evictions = %d, want 0", got)
		}
	})
	t.Run("replacing an answer does not count it twice", func(t *testing.T) {
		a, _, e := answersEnv(t, cache.Config{TTL: time.Minute})
		a.Put("key", answer(1000))
		before := e.metric(t, "cache.size", answersCache)
		a.Put("key", answer(1000))
		if got := e.metric(t, "cache.size", answersCache); got != before {
			t.Errorf("size = %d after replacing, want %d", got, before)
		}
		if got, want := e.metric(t, "cache.entries", answersCache), int64(1); got != want {
			t.Errorf("entries = %d, want %d", got, want)
		}
	})
}

func TestAnswersCountsHitsAndMisses(t *testing.T) {
	a, _, e := answersEnv(t, cache.Config{TTL: time.Minute})
	a.Get("key")
	a.Put("key", answer(10))
	a.Get("key")
	a.Get("key")
	for result, want := range map[string]int64{"hit": 2, "miss": 1} {
		if got := e.metric(t, "cache.lookups", answersCache, attribute.String("cache.result", result)); got != want {
			t.Errorf("%s = %d, want %d", result, got, want)
		}
	}
}

func TestAnswersWithZeroTTLKeepsNothing(t *testing.T) {
	a, _, _ := answersEnv(t, cache.Config{TTL: 0})
	a.Put("key", answer(10))
	if _, ok := a.Get("key"); ok {
		t.Error("a disabled store returned an answer")
	}
}

// Two requests share one answer's bytes at once: under -race, any write to them fails the test.
func TestAnswersShareOneImmutableAnswer(t *testing.T) {
	a, _, _ := answersEnv(t, cache.Config{TTL: time.Minute})
	a.Put("key", answer(4096))
	var wg sync.WaitGroup
	bodies := make([][]byte, 2)
	for i := range bodies {
		wg.Go(func() {
			got, ok := a.Get("key")
			if !ok {
				t.Error("missing")
				return
			}
			bodies[i] = got.Body
			_ = bytes.Count(got.Body, []byte("x")) + len(got.PrescriptionIDs[0])
		})
	}
	wg.Wait()
	if &bodies[0][0] != &bodies[1][0] {
		t.Error("the two requests got copies, want the one shared body")
	}
}
