package tracker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// encodings are the forms an identifier could take in telemetry: as sent, in either case, percent-
// encoded in a query or a path, with '+' as %2B, and a read id's '.' for '+'.
func encodings(id string) []string {
	forms := []string{id, url.QueryEscape(id), url.PathEscape(id),
		strings.ReplaceAll(id, "+", "%2B"), strings.ReplaceAll(id, "+", "."), strings.ReplaceAll(id, "+", " ")}
	var out []string
	for _, f := range forms {
		out = append(out, f, strings.ToLower(f), strings.ToUpper(f))
	}
	return out
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// Issue 6: one span per Spine call with what it did, a duration metric by interaction, outcome and
// statusCode, and no NHS number or prescription ID anywhere in either.
func TestTelemetryDescribesCallsWithoutIdentifiers(t *testing.T) {
	spine := startCountingSpine(t)
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := newClient(t, spine.URL, spine.Certs, func(c *tracker.Config) {
		c.TracerProvider, c.MeterProvider, c.MaxRetries = tp, mp, 1
	})
	ctx := context.Background()
	who := tracker.Caller{TraceID: "eps-trace-1"}

	// Every call below carries identifiers: in the query, in the path, in the reply.
	if _, err := c.Search(ctx, who, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Retrieve(ctx, who, tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatDispensing}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ItemSummary(ctx, who, tracker.SearchQuery{NHSNumber: sandbox.PatientRepeatDispensing}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ItemDetails(ctx, who, tracker.DetailQuery{PrescriptionID: sandbox.RxR1Acute}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ItemSummary(ctx, who, tracker.SearchQuery{NHSNumber: sandbox.PatientNoPrescriptions}); !errors.Is(err, tracker.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	if _, err := c.Retrieve(ctx, who, tracker.RetrieveQuery{PrescriptionID: unknownRx}); !errors.Is(err, tracker.ErrNotFound) {
		t.Fatalf("err = %v, want not found", err)
	}
	spine.Sandbox.SetFault(fault(t, "reset"))
	if _, err := c.Retrieve(ctx, who, tracker.RetrieveQuery{PrescriptionID: sandbox.RxAcuteDispensed}); !errors.Is(err, tracker.ErrUpstream) {
		t.Fatalf("err = %v, want upstream failure", err)
	}
	spine.Sandbox.SetFault(fault(t, "malformed"))
	if _, err := c.Search(ctx, who, tracker.SearchQuery{NHSNumber: sandbox.PatientAllStatuses}); !errors.Is(err, tracker.ErrUpstream) {
		t.Fatalf("err = %v, want upstream failure", err)
	}
	spine.Sandbox.SetFault(sandbox.Fault{})

	spans := exporter.GetSpans()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}

	t.Run("each call has a span with its interaction, statuses, retries and trace id", func(t *testing.T) {
		var calls []map[string]string
		for _, s := range spans {
			if strings.HasPrefix(s.Name, "spine.") {
				a := attrMap(s.Attributes)
				a["name"], a["status"] = s.Name, s.Status.Code.String()
				calls = append(calls, a)
			}
		}
		want := []map[string]string{
			{"name": "spine.search", "spine.interaction": "search", "http.response.status_code": "200", "spine.status_code": "0", "spine.retries": "0", "spine.outcome": "success", "eps.trace_id": "eps-trace-1", "status": "Unset"},
			{"name": "spine.retrieve", "spine.interaction": "retrieve", "http.response.status_code": "200", "spine.status_code": "0", "spine.retries": "0", "spine.outcome": "success", "eps.trace_id": "eps-trace-1", "status": "Unset"},
			{"name": "spine.nhs111itemsummary", "spine.interaction": "nhs111itemsummary", "http.response.status_code": "200", "spine.status_code": "0", "spine.retries": "0", "spine.outcome": "success", "eps.trace_id": "eps-trace-1", "status": "Unset"},
			{"name": "spine.nhs111itemdetails", "spine.interaction": "nhs111itemdetails", "http.response.status_code": "200", "spine.status_code": "0", "spine.retries": "0", "spine.outcome": "success", "eps.trace_id": "eps-trace-1", "status": "Unset"},
			{"name": "spine.nhs111itemsummary", "spine.interaction": "nhs111itemsummary", "http.response.status_code": "200", "spine.status_code": "1", "spine.retries": "0", "spine.outcome": "not_found", "eps.trace_id": "eps-trace-1", "status": "Error"},
			{"name": "spine.retrieve", "spine.interaction": "retrieve", "http.response.status_code": "200", "spine.status_code": "1", "spine.retries": "0", "spine.outcome": "not_found", "eps.trace_id": "eps-trace-1", "status": "Error"},
			{"name": "spine.retrieve", "spine.interaction": "retrieve", "spine.retries": "1", "spine.outcome": "upstream_error", "eps.trace_id": "eps-trace-1", "status": "Error"},
			{"name": "spine.search", "spine.interaction": "search", "http.response.status_code": "200", "spine.retries": "0", "spine.outcome": "upstream_error", "eps.trace_id": "eps-trace-1", "status": "Error"},
		}
		if len(calls) != len(want) {
			t.Fatalf("%d spine.* spans, want %d: %v", len(calls), len(want), calls)
		}
		for i := range want {
			if fmt.Sprint(calls[i]) != fmt.Sprint(want[i]) {
				t.Errorf("span %d:\n got %v\nwant %v", i, calls[i], want[i])
			}
		}
	})
	t.Run("otelhttp's spans are children and carry a URL without query or prescription ID", func(t *testing.T) {
		parents := map[string]string{}
		for _, s := range spans {
			parents[s.SpanContext.SpanID().String()] = s.Name
		}
		var urls []string
		for _, s := range spans {
			if strings.HasPrefix(s.Name, "spine.") {
				continue
			}
			if p := parents[s.Parent.SpanID().String()]; !strings.HasPrefix(p, "spine.") {
				t.Errorf("span %q has parent %q, want a spine.* span", s.Name, p)
			}
			urls = append(urls, strings.TrimPrefix(attrMap(s.Attributes)["url.full"], spine.URL))
		}
		want := "[/mm/prescriptions /mm/prescriptions/:id /mm/nhs111itemsummary /mm/nhs111itemdetails /mm/nhs111itemsummary /mm/prescriptions/:id /mm/prescriptions/:id /mm/prescriptions/:id /mm/prescriptions]"
		if got := fmt.Sprint(urls); got != want {
			t.Errorf("url.full paths = %s\nwant %s", got, want)
		}
	})
	t.Run("the duration metric is by interaction, outcome and statusCode", func(t *testing.T) {
		points := map[string]uint64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name != "spine.client.call.duration" {
					continue
				}
				for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
					a := attrMap(dp.Attributes.ToSlice())
					points[a["spine.interaction"]+"/"+a["spine.outcome"]+"/"+a["spine.status_code"]] += dp.Count
				}
			}
		}
		want := map[string]uint64{"search/success/0": 1, "retrieve/success/0": 1, "nhs111itemsummary/success/0": 1,
			"nhs111itemdetails/success/0": 1, "nhs111itemsummary/not_found/1": 1, "retrieve/not_found/1": 1,
			"retrieve/upstream_error/": 1, "search/upstream_error/": 1}
		if fmt.Sprint(points) != fmt.Sprint(want) {
			t.Errorf("duration points = %v\nwant %v", points, want)
		}
	})
	t.Run("the client's metrics are its own: otelhttp records none per attempt", func(t *testing.T) {
		var names []string
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				names = append(names, m.Name)
			}
		}
		for _, n := range names {
			if !strings.HasPrefix(n, "spine.client.") {
				t.Errorf("metric %q: only spine.client.* instruments are expected", n)
			}
		}
		if !slices.Contains(names, "spine.client.call.duration") {
			t.Errorf("metrics %v lack spine.client.call.duration", names)
		}
	})
	t.Run("no identifier appears in any span or metric in any encoding", func(t *testing.T) {
		spanJSON, err := json.Marshal(spans.Snapshots())
		if err != nil {
			t.Fatal(err)
		}
		metricJSON, err := json.Marshal(rm)
		if err != nil {
			t.Fatal(err)
		}
		dump := string(spanJSON) + fmt.Sprintf("%+v", spans) + string(metricJSON) + fmt.Sprintf("%+v", rm)
		ids := []string{sandbox.PatientAcuteAndRepeat, sandbox.PatientRepeatDispensing, sandbox.PatientNoPrescriptions,
			sandbox.PatientAllStatuses, sandbox.RxRepeatDispensing, sandbox.RxR1Acute, sandbox.RxAcuteDispensed, unknownRx,
			sandbox.RxR1AcuteWithDispenser, sandbox.RxRepeatPrescribingClaimed, sandbox.RxAcuteToBeDispensed}
		for _, id := range ids {
			for _, form := range encodings(id) {
				if strings.Contains(dump, form) {
					t.Errorf("telemetry holds %q (a form of an identifier)", form)
				}
			}
		}
		// The check would be worthless if the dump held nothing.
		if !strings.Contains(dump, "spine.search") || !strings.Contains(dump, "spine.client.call.duration") {
			t.Fatal("the dump holds no spans or metrics")
		}
	})
}
