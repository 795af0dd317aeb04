package routes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// spanTree groups the recorded spans by trace: the server span and the names of its descendants.
func spansOfTrace(spans tracetest.SpanStubs, traceID string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.SpanContext.TraceID().String() == traceID {
			out = append(out, s)
		}
	}
	return out
}

func named(spans tracetest.SpanStubs, name string) (tracetest.SpanStub, bool) {
	for _, s := range spans {
		if s.Name == name {
			return s, true
		}
	}
	return tracetest.SpanStub{}, false
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func TestEachRequestIsOneTrace(t *testing.T) {
	a := start(t, setup{traced: true, cached: true, detailed: true})
	traceOf := func(got answer) tracetest.SpanStubs {
		t.Helper()
		tr := got.Header.Get("traceresponse")
		parts := strings.Split(tr, "-")
		if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 {
			t.Fatalf("traceresponse %q is not 00-<trace-id>-<span-id>-<flags>", tr)
		}
		return spansOfTrace(a.Spans.GetSpans(), parts[1])
	}

	t.Run("a miss: server span by route, cache lookup, Spine call, mapping and marshalling", func(t *testing.T) {
		spans := traceOf(a.get(t, search(sandbox.PatientAcuteAndRepeat)))
		server, ok := named(spans, "GET /FHIR/R4/MedicationRequest")
		if !ok {
			t.Fatalf("no server span named by route in %v", names(spans))
		}
		if attr(server, "http.route") != "/FHIR/R4/MedicationRequest" || attr(server, "eps.trace_id") == "" {
			t.Errorf("server span attributes %v", server.Attributes)
		}
		lookup, ok := named(spans, "cache.Search")
		if !ok || attr(lookup, "cache.result") != "miss" {
			t.Errorf("cache span %v (result %q)", ok, attr(lookup, "cache.result"))
		}
		call, ok := named(spans, "spine.search")
		if !ok || attr(call, "spine.interaction") == "" && attr(call, "interaction") == "" {
			t.Errorf("spine span %v attributes %v", ok, call.Attributes)
		}
		for _, want := range []string{"mapping.collect", "mapping.bundle", "fhir.marshal"} {
			if _, ok := named(spans, want); !ok {
				t.Errorf("no %s span in %v", want, names(spans))
			}
		}
	})
	t.Run("a hit: the cache says so and Spine is not called", func(t *testing.T) {
		spans := traceOf(a.get(t, search(sandbox.PatientAcuteAndRepeat)))
		if lookup, ok := named(spans, "cache.Search"); !ok || attr(lookup, "cache.result") != "hit" {
			t.Errorf("cache span %v (result %q)", ok, attr(lookup, "cache.result"))
		}
		if _, ok := named(spans, "spine.search"); ok {
			t.Error("a hit called Spine")
		}
	})
	t.Run("a caller's traceparent continues its trace", func(t *testing.T) {
		const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
		got := a.get(t, search(sandbox.PatientRepeatPrescribing), "traceparent", "00-"+tid+"-00f067aa0ba902b7-01")
		if !strings.HasPrefix(got.Header.Get("traceresponse"), "00-"+tid+"-") {
			t.Errorf("traceresponse %q does not continue %s", got.Header.Get("traceresponse"), tid)
		}
	})
	t.Run("a Spine fault is an error span and a 5xx server span", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientFaultMalformed))
		if got.Status < 500 {
			t.Fatalf("status %d", got.Status)
		}
		spans := traceOf(got)
		server, _ := named(spans, "GET /FHIR/R4/MedicationRequest")
		call, _ := named(spans, "spine.search")
		if server.Status.Code != codes.Error || call.Status.Code != codes.Error {
			t.Errorf("statuses: server %v, spine %v", server.Status, call.Status)
		}
	})
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// TestNoIdentifierReachesTelemetry runs searches, reads and errors with known identifiers, then looks
// for each in every exported span and metric and every log line, in every encoding a URL or a log
// could give it.
func TestNoIdentifierReachesTelemetry(t *testing.T) {
	a := start(t, setup{traced: true, cached: true, detailed: true})
	nhs := sandbox.PatientRepeatDispensing
	rx := sandbox.RxRepeatDispensing // ends in '+'
	readID := "48A894-C86002-00009E-1-1"
	for _, path := range []string{
		search(nhs),
		search(nhs, "_include=MedicationRequest:requester"),
		"/MedicationRequest?patient=" + nhs + "&status=completed%ZZ",
		"/MedicationRequest?group-identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/prescription-order-number|"+rx),
		"/MedicationRequest/" + readID,
		"/MedicationRequest/" + strings.ReplaceAll(rx, "+", ".") + "-3-1",
		"/MedicationDispense/d-" + readID,
		"/Patient/" + nhs,
		search(sandbox.PatientFaultMalformed),
		search("9434765919"), // valid, unknown
	} {
		a.get(t, path)
		a.get(t, path, "Authorization", "") // and refused
	}
	var rm metricdata.ResourceMetrics
	if err := a.Metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	spansJSON, _ := json.Marshal(a.Spans.GetSpans())
	metricsJSON, _ := json.Marshal(rm)
	exported := string(spansJSON) + fmt.Sprintf("%+v", rm) + string(metricsJSON) + a.Logs.String()
	if !strings.Contains(a.Logs.String(), `"trace_id"`) {
		t.Error("request log lines carry no trace_id")
	}
	for _, id := range []string{nhs, sandbox.PatientFaultMalformed, "9434765919", rx, "48A894-C86002-00009E", "A3B4D9-Z42475-11E6B"} {
		for _, form := range []string{id, strings.ToLower(id), url.QueryEscape(id), url.PathEscape(id),
			strings.ReplaceAll(id, "+", "."), strings.ReplaceAll(id, "+", "%2B"), "nhs-number%7C" + id, "nhs-number|" + id} {
			if strings.Contains(exported, form) {
				t.Errorf("%q (as %q) appears in exported telemetry", id, form)
			}
		}
	}
	if len(a.Spans.GetSpans()) == 0 || len(rm.ScopeMetrics) == 0 {
		t.Fatal("nothing exported: the test proves nothing")
	}
	if !strings.Contains(exported, "/FHIR/R4/MedicationRequest/:id") {
		t.Error("the read's route template is not in the spans")
	}
	_ = http.StatusOK
}

// TestActiveRequestsAreCountedByRoute: http.server.active_requests carries each request's route
// template, never its path, and is back to zero once the requests are answered.
func TestActiveRequestsAreCountedByRoute(t *testing.T) {
	a := start(t, setup{traced: true, cached: true})
	for _, path := range []string{search(sandbox.PatientAcuteAndRepeat), "/MedicationRequest/48A894-C86002-00009E-1-1", "/nowhere"} {
		a.get(t, path)
		a.get(t, path)
	}
	var rm metricdata.ResourceMetrics
	if err := a.Metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.active_requests" {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("http.server.active_requests is a %T", m.Data)
			}
			for _, dp := range sum.DataPoints {
				route, _ := dp.Attributes.Value("http.route")
				got[route.AsString()] += dp.Value
			}
		}
	}
	want := map[string]int64{"/FHIR/R4/MedicationRequest": 0, "/FHIR/R4/MedicationRequest/:id": 0, "": 0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("active requests by route = %v, want %v", got, want)
	}
}

// TestACallerThatHangsUpDoesNotFailTheOthers: two requests for the same slow Spine search share one
// Spine call; the one that started it hangs up, the other still gets its answer, and its trace says
// it joined the call in flight.
func TestACallerThatHangsUpDoesNotFailTheOthers(t *testing.T) {
	a := start(t, setup{traced: true, cached: true})
	a.Spine.Sandbox.ResetCalls()
	path := search(sandbox.PatientFaultLatency, "_summary=true") // Spine answers after about a second

	first, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		req, _ := http.NewRequestWithContext(first, http.MethodGet, a.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+a.Token)
		close(started)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	<-started
	deadline := time.Now().Add(5 * time.Second)
	for a.Spine.Sandbox.CallCount("search") == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	second := make(chan answer, 1)
	go func() { second <- a.get(t, path) }()
	time.Sleep(100 * time.Millisecond) // let the second join the call in flight
	cancel()                           // the first hangs up

	got := <-second
	if got.Status != http.StatusOK {
		t.Fatalf("the request that stayed: %d %s", got.Status, got.Body)
	}
	if n := a.Spine.Sandbox.CallCount("search"); n != 1 {
		t.Errorf("%d Spine searches, want the one both shared", n)
	}
	parts := strings.Split(got.Header.Get("traceresponse"), "-")
	if len(parts) != 4 {
		t.Fatalf("traceresponse %q", got.Header.Get("traceresponse"))
	}
	lookup, ok := named(spansOfTrace(a.Spans.GetSpans(), parts[1]), "cache.Search")
	if !ok || attr(lookup, "cache.result") != "coalesced" {
		t.Errorf("the second request's cache span: %v, result %q, want coalesced", ok, attr(lookup, "cache.result"))
	}
}

// TestUnmappableSpineDataIsLoggedWithoutIdentifiers: a Spine reply the mapping cannot map is an
// upstream fault (a 502 for a read, a partial result for a search's fan-out), and its error is
// logged with the offending code but without the prescription or the patient it came from.
func TestUnmappableSpineDataIsLoggedWithoutIdentifiers(t *testing.T) {
	spine := start(t, setup{})
	a := start(t, setup{traced: true, tracker: fakeTracker{search: spine.Client.Search,
		retrieve: func(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (*tracker.Prescription, error) {
			p, err := spine.Client.Retrieve(ctx, who, q)
			if err != nil {
				return nil, err
			}
			spoilt := *p
			spoilt.Issues = slices.Clone(p.Issues)
			for i := range spoilt.Issues {
				spoilt.Issues[i].LineItems = slices.Clone(p.Issues[i].LineItems)
				for j := range spoilt.Issues[i].LineItems {
					spoilt.Issues[i].LineItems[j].Status = "0099" // no line-item status Spine documents
				}
			}
			return &spoilt, nil
		}}})
	if got := a.get(t, "/MedicationRequest/"+sandbox.RxAcuteDispensed+"-1-1"); got.Status != http.StatusBadGateway {
		t.Errorf("read of unmappable data: %d, want 502", got.Status)
	}
	found := a.get(t, search(sandbox.PatientAcuteAndRepeat))
	if found.Status != http.StatusOK || !anyContains(outcomeTexts(found.JSON), "warning: Partial result") {
		t.Errorf("search whose full forms are unmappable: %d %v, want a partial result", found.Status, outcomeTexts(found.JSON))
	}
	logs := a.Logs.String()
	if strings.Count(logs, `unknown line-item status \"0099\"`) < 2 {
		t.Fatalf("the unmappable data's errors were not logged, the test proves nothing:\n%s", logs)
	}
	idents := []string{sandbox.RxAcuteDispensed, sandbox.PatientAcuteAndRepeat}
	for _, id := range ids(found.JSON, "match") {
		parts := strings.Split(strings.TrimPrefix(id, "MedicationRequest/"), "-") // id-issue-line
		idents = append(idents, strings.Join(parts[:len(parts)-2], "-"))
	}
	for _, id := range idents {
		if strings.Contains(logs, id) {
			t.Errorf("%q is in the logs", id)
		}
	}
}
