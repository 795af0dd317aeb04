package cache_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

func TestTrackerSpansSayHowEachLookupWasAnswered(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	g := newGate(t)
	c := e.tracker(t, cache.Config{}, upstream{Upstream: e.client, search: g.search(e.client)})
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := c.Search(context.Background(), alice, q); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "the second search joins the first", func() bool { return e.lookups(t, "coalesced") == 1 })
	g.open()
	wg.Wait()
	if _, err := c.Search(t.Context(), alice, q); err != nil {
		t.Fatal(err)
	}

	spans := e.spans.GetSpans()
	byResult := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		if s.Name != "cache.Search" {
			continue
		}
		for _, kv := range s.Attributes {
			if kv.Key == "cache.result" {
				byResult[kv.Value.AsString()] = append(byResult[kv.Value.AsString()], s)
			}
		}
	}
	for _, result := range []string{"miss", "coalesced", "hit"} {
		if got := len(byResult[result]); got != 1 {
			t.Fatalf("%d cache.Search spans with cache.result=%s, want 1 (spans: %v)", got, result, names(spans))
		}
	}
	// Only the miss called Spine, so only its span has the client's span below it.
	for result, wantChildren := range map[string]bool{"miss": true, "coalesced": false, "hit": false} {
		parent := byResult[result][0].SpanContext.SpanID()
		children := 0
		for _, s := range spans {
			if s.Parent.SpanID() == parent {
				children++
			}
		}
		if got := children > 0; got != wantChildren {
			t.Errorf("the %s span has %d child spans, want children: %v", result, children, wantChildren)
		}
	}
}

func TestTrackerSpanStatusShowsFailuresButNotNotFound(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	c := e.tracker(t, cache.Config{}, nil)
	_, _ = c.Search(t.Context(), alice, tracker.SearchQuery{NHSNumber: sandbox.PatientFaultHTTP500})
	_, _ = c.Retrieve(t.Context(), alice, tracker.RetrieveQuery{PrescriptionID: unknownRx})

	want := map[string]codes.Code{"cache.Search": codes.Error, "cache.Retrieve": codes.Unset}
	for _, s := range e.spans.GetSpans() {
		if code, ok := want[s.Name]; ok && s.Status.Code != code {
			t.Errorf("%s status = %v %q, want %v", s.Name, s.Status.Code, s.Status.Description, code)
		}
	}
}

func TestTrackerMetricsCountLookupsByResult(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	c := e.tracker(t, cache.Config{}, nil)
	for range 3 {
		if _, err := c.Retrieve(t.Context(), alice, tracker.RetrieveQuery{PrescriptionID: sandbox.RxAcuteDispensed}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := e.lookups(t, "miss"), int64(1); got != want {
		t.Errorf("misses = %d, want %d", got, want)
	}
	if got, want := e.lookups(t, "hit"), int64(2); got != want {
		t.Errorf("hits = %d, want %d", got, want)
	}
	if got, want := e.metric(t, "cache.entries", trackerCache), int64(1); got != want {
		t.Errorf("entries = %d, want %d", got, want)
	}
	if got := e.metric(t, "cache.size", trackerCache); got < 1000 {
		t.Errorf("size = %d bytes, want a prescription's worth (at least 1000)", got)
	}

	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	units := map[string]string{"cache.lookups": "{lookup}", "cache.evictions": "{entry}", "cache.size": "By", "cache.entries": "{entry}"}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if want, ok := units[m.Name]; ok && m.Unit != want {
				t.Errorf("%s unit = %q, want %q", m.Name, m.Unit, want)
			}
		}
	}
}

// No NHS number or prescription ID may reach a span or a metric, in any spelling.
func TestTelemetryHoldsNoIdentifiers(t *testing.T) {
	e := newEnv(t, sandbox.Options{})
	c := e.tracker(t, cache.Config{NotFoundTTL: -1}, nil)
	answers, err := cache.NewAnswers(cache.Config{TTL: cache.DefaultTTL}, e.mp)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for range 2 {
		_, _ = c.Search(ctx, alice, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat})
		_, _ = c.Search(ctx, alice, tracker.SearchQuery{NHSNumber: sandbox.PatientFaultStatus5})
		_, _ = c.Retrieve(ctx, alice, tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatDispensing})
		_, _ = c.Retrieve(ctx, alice, tracker.RetrieveQuery{PrescriptionID: unknownRx})
		_, _ = c.ItemDetails(ctx, alice, tracker.DetailQuery{PrescriptionID: sandbox.RxR1Acute})
		answers.Put(sandbox.PatientAcuteAndRepeat+sandbox.RxRepeatDispensing, cache.Answer{Body: []byte("{}"),
			PatientNHSNumber: sandbox.PatientAcuteAndRepeat, PrescriptionIDs: []string{sandbox.RxRepeatDispensing}})
		answers.Get(sandbox.PatientAcuteAndRepeat + sandbox.RxRepeatDispensing)
	}

	var dump strings.Builder
	for _, s := range e.spans.GetSpans() {
		if !strings.HasPrefix(s.Name, "cache.") {
			continue // the client's own spans are the tracker's to keep clean
		}
		fmt.Fprintf(&dump, "%s %v %v %v\n", s.Name, s.Attributes, s.Events, s.Status)
	}
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/nhs-eps/eps-fhir-tracker/cache" {
			continue
		}
		fmt.Fprintf(&dump, "%+v\n", sm.Metrics)
	}
	text := strings.ToLower(dump.String())
	// The dump must hold attribute values, or finding no identifier in it would prove nothing.
	for _, want := range []string{"cache.result", "cache.lookups", "tracker", "answers"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the dump lacks %q: %s", want, text)
		}
	}
	for _, id := range []string{sandbox.PatientAcuteAndRepeat, sandbox.PatientFaultStatus5, sandbox.RxRepeatDispensing,
		unknownRx, sandbox.RxR1Acute} {
		for _, spelling := range []string{id, strings.ReplaceAll(id, "+", "%2b"), strings.ReplaceAll(id, "+", "."),
			strings.ReplaceAll(id, "-", "")} {
			if strings.Contains(text, strings.ToLower(spelling)) {
				t.Errorf("telemetry holds the identifier %q", spelling)
			}
		}
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
