package cache_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// BenchmarkTrackerHit is a lookup answered from the cache, a recorded span and metrics included.
func BenchmarkTrackerHit(b *testing.B) {
	e := newEnv(b, sandbox.Options{})
	// Spans are recorded but not kept: the test exporter would hold every one of them.
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	c, err := cache.New(e.client, cache.Config{TTL: cache.DefaultTTL}, tp, e.mp)
	if err != nil {
		b.Fatal(err)
	}
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}
	ctx := context.Background()
	if _, err := c.Search(ctx, alice, q); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Search(ctx, alice, q); err != nil {
			b.Fatal(err)
		}
	}
	if got := e.calls("search"); got != 1 {
		b.Fatalf("Spine searches = %d, want 1", got)
	}
}

// BenchmarkAnswersHit is a whole answer found again.
func BenchmarkAnswersHit(b *testing.B) {
	a, err := cache.NewAnswers(cache.Config{TTL: cache.DefaultTTL}, nil)
	if err != nil {
		b.Fatal(err)
	}
	a.Put("key", answer(16<<10))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := a.Get("key"); !ok {
			b.Fatal("miss")
		}
	}
}
