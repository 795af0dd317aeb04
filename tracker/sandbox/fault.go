package sandbox

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// FaultKind names a way Spine can fail.
type FaultKind string

// The faults the sandbox can inject.
const (
	FaultLatency   FaultKind = "latency"   // answer normally, after Fault.Latency
	FaultHTTP500   FaultKind = "http500"   // HTTP 500 with a text body, no JSON
	FaultMalformed FaultKind = "malformed" // HTTP 200, application/json, the real answer cut in half
	FaultStatus5   FaultKind = "status5"   // HTTP 200, statusCode "5" "Unexpected exception"
	FaultHang      FaultKind = "hang"      // no answer until the client goes away
	FaultReset     FaultKind = "reset"     // the connection is dropped without an answer
)

// FaultHeader is the request header that injects a fault into one request, in ParseFault's syntax.
const FaultHeader = "Sandbox-Fault"

// Fault is an injected failure. The zero Fault is no fault.
type Fault struct {
	Kind    FaultKind
	Latency time.Duration // FaultLatency only
}

const (
	defaultLatency = time.Second
	// maxHang bounds a hang in case neither the client nor the server ever ends it.
	maxHang = 10 * time.Minute
)

func (f Fault) String() string {
	if f.Kind == FaultLatency {
		return fmt.Sprintf("%s=%s", f.Kind, f.Latency)
	}
	return string(f.Kind)
}

// ParseFault reads a fault: "latency" (one second), "latency=250ms", "http500", "malformed",
// "status5", "hang" or "reset". "" and "none" are no fault.
func ParseFault(s string) (Fault, error) {
	s = strings.TrimSpace(s)
	kind, arg, hasArg := strings.Cut(s, "=")
	switch k := FaultKind(strings.ToLower(kind)); k {
	case "", "none":
		if hasArg {
			return Fault{}, fmt.Errorf("fault %q takes no value", s)
		}
		return Fault{}, nil
	case FaultLatency:
		if !hasArg {
			return Fault{Kind: k, Latency: defaultLatency}, nil
		}
		d, err := time.ParseDuration(arg)
		if err != nil || d < 0 {
			return Fault{}, fmt.Errorf("fault %q: latency must be a duration such as 250ms", s)
		}
		return Fault{Kind: k, Latency: d}, nil
	case FaultHTTP500, FaultMalformed, FaultStatus5, FaultHang, FaultReset:
		if hasArg {
			return Fault{}, fmt.Errorf("fault %q takes no value", s)
		}
		return Fault{Kind: k}, nil
	}
	return Fault{}, fmt.Errorf("unknown fault %q (want latency[=DURATION], http500, malformed, status5, hang or reset)", s)
}

// wait blocks for d, or until the request or the sandbox ends; it reports whether d passed.
func (s *Sandbox) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.stop:
	}
	return false
}

// reset drops the connection without answering. Over HTTP/1 the handler takes the connection and
// closes it (with SO_LINGER 0 where it can, so the client sees a reset rather than a clean close);
// otherwise net/http's ErrAbortHandler panic aborts the stream.
func reset(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			raw := conn
			if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
				raw = nc.NetConn()
			}
			if tcp, ok := raw.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0)
			}
			_ = raw.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
