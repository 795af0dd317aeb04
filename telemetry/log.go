package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"go.opentelemetry.io/otel/trace"
)

// NewLogger returns a logger writing to w. format is EPS_LOG_FORMAT: "json", "text", or "" for JSON
// unless w is a terminal (text is easier to read at a desk; anything else is collected by a machine).
// Every record logged with a context (logger.InfoContext, LogAttrs) that holds a span carries its
// trace_id and span_id, so a log line leads to its trace in Jaeger.
func NewLogger(w io.Writer, format string) (*slog.Logger, error) {
	var h slog.Handler
	switch format {
	case "json":
		h = slog.NewJSONHandler(w, nil)
	case "text":
		h = slog.NewTextHandler(w, nil)
	case "":
		if isTerminal(w) {
			h = slog.NewTextHandler(w, nil)
		} else {
			h = slog.NewJSONHandler(w, nil)
		}
	default:
		return nil, fmt.Errorf("EPS_LOG_FORMAT=%q: want json or text", format)
	}
	return slog.New(TraceHandler(h)), nil
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// TraceHandler wraps h so that records carry trace_id and span_id from the span in their context.
func TraceHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(traceHandler); ok {
		return h
	}
	return traceHandler{h}
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
