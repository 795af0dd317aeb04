package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestLogLinesCarryTheSpansIDs(t *testing.T) {
	tel := setup(t, Config{SpanExporter: tracetest.NewInMemoryExporter()})
	var out bytes.Buffer
	logger, err := NewLogger(&out, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tel.Tracer().Start(context.Background(), "request")
	logger.InfoContext(ctx, "inside")
	span.End()
	logger.InfoContext(context.Background(), "outside")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d log lines, want 2 JSON lines (a buffer is not a terminal): %q", len(lines), out.String())
	}
	var inside, outside map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &inside); err != nil {
		t.Fatalf("default format is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &outside); err != nil {
		t.Fatal(err)
	}
	sc := span.SpanContext()
	if got, want := inside["trace_id"], sc.TraceID().String(); got != want {
		t.Errorf("trace_id = %v, want %s", got, want)
	}
	if got, want := inside["span_id"], sc.SpanID().String(); got != want {
		t.Errorf("span_id = %v, want %s", got, want)
	}
	if _, ok := outside["trace_id"]; ok {
		t.Errorf("a line logged without a span has a trace_id: %s", lines[1])
	}
}

func TestLogFormats(t *testing.T) {
	var out bytes.Buffer
	logger, err := NewLogger(&out, "text")
	if err != nil {
		t.Fatal(err)
	}
	logger.With("component", "test").Info("hello")
	if got := out.String(); !strings.Contains(got, "msg=hello component=test") {
		t.Errorf("text format wrote %q", got)
	}
	if _, err := NewLogger(&out, "xml"); err == nil || !strings.Contains(err.Error(), "EPS_LOG_FORMAT") {
		t.Errorf("NewLogger(xml) error = %v, want one naming EPS_LOG_FORMAT", err)
	}
}

func TestIdentifierTypesNeverPrintTheirValue(t *testing.T) {
	values := []struct {
		raw string
		v   any
	}{
		{nhsNumber, NHSNumber(nhsNumber)},
		{rxWithPlus, PrescriptionID(rxWithPlus)},
		{"eyJhbGciOiJSUzI1NiJ9.secret", Token("eyJhbGciOiJSUzI1NiJ9.secret")},
	}
	for _, tt := range values {
		t.Run(fmt.Sprintf("%T", tt.v), func(t *testing.T) {
			var out bytes.Buffer
			logger, _ := NewLogger(&out, "json")
			logger.Info("json", "id", tt.v)
			text := slog.New(slog.NewTextHandler(&out, nil))
			text.Info("text", "id", tt.v)
			text.Info("group", slog.Group("g", "id", tt.v))
			fmt.Fprintf(&out, "%v %s %+v %#v %q\n", tt.v, tt.v, tt.v, tt.v, tt.v)
			b, _ := json.Marshal(map[string]any{"id": tt.v})
			out.Write(b)
			if strings.Contains(out.String(), tt.raw) {
				t.Errorf("value printed:\n%s", out.String())
			}
			if !strings.Contains(out.String(), redacted) {
				t.Errorf("no %s marker:\n%s", redacted, out.String())
			}
		})
	}
	if got := string(NHSNumber(nhsNumber)); got != nhsNumber {
		t.Errorf("string(NHSNumber) = %q, want the value itself for Spine", got)
	}
}
