package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		in      string
		want    Fault
		wantErr bool
	}{
		{"", Fault{}, false},
		{"none", Fault{}, false},
		{"latency", Fault{Kind: FaultLatency, Latency: time.Second}, false},
		{"latency=250ms", Fault{Kind: FaultLatency, Latency: 250 * time.Millisecond}, false},
		{"HTTP500", Fault{Kind: FaultHTTP500}, false},
		{"malformed", Fault{Kind: FaultMalformed}, false},
		{"status5", Fault{Kind: FaultStatus5}, false},
		{"hang", Fault{Kind: FaultHang}, false},
		{"reset", Fault{Kind: FaultReset}, false},
		{"latency=soon", Fault{}, true},
		{"latency=-1s", Fault{}, true},
		{"hang=1s", Fault{}, true},
		{"explode", Fault{}, true},
	}
	for _, tt := range tests {
		t.Run("parsing "+tt.in, func(t *testing.T) {
			got, err := ParseFault(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseFault(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestFaultsAreObservable(t *testing.T) {
	e := startEnv(t, Options{})
	ok := searchPath(PatientAcuteAndRepeat)
	tests := []struct {
		name   string
		path   string
		header string
		check  func(t *testing.T, r response)
	}{
		{"http500 is a 500 without JSON", ok, "http500", func(t *testing.T, r response) {
			if r.status != 500 || json.Valid(r.raw) {
				t.Errorf("HTTP %d %q", r.status, r.raw)
			}
		}},
		{"the HTTP 500 patient gets a 500", searchPath(PatientFaultHTTP500), "", func(t *testing.T, r response) {
			if r.status != 500 || json.Valid(r.raw) {
				t.Errorf("HTTP %d %q", r.status, r.raw)
			}
		}},
		{"malformed is a 200 with broken JSON", ok, "malformed", func(t *testing.T, r response) {
			if r.status != 200 || json.Valid(r.raw) || len(r.raw) == 0 {
				t.Errorf("HTTP %d %q", r.status, r.raw)
			}
		}},
		{"the malformed patient gets broken JSON from the 111 summary too", "/mm/nhs111itemsummary?nhsNumber=" + PatientFaultMalformed, "", func(t *testing.T, r response) {
			if r.status != 200 || json.Valid(r.raw) {
				t.Errorf("HTTP %d %q", r.status, r.raw)
			}
		}},
		{"status5 is statusCode 5 with an empty body", ok, "status5", func(t *testing.T, r response) {
			if r.str("statusCode") != "5" || r.str("reason") != "Unexpected exception" || len(r.obj("prescriptions")) != 0 {
				t.Errorf("%s", r.raw)
			}
		}},
		{"the status5 patient gets statusCode 5", searchPath(PatientFaultStatus5), "", func(t *testing.T, r response) {
			if r.str("statusCode") != "5" {
				t.Errorf("%s", r.raw)
			}
		}},
		{"status5 on a retrieve keeps the retrieve's body key", retrievePath(RxAcuteDispensed), "status5", func(t *testing.T, r response) {
			if _, has := r.body["prescription"]; r.str("statusCode") != "5" || !has {
				t.Errorf("%s", r.raw)
			}
		}},
		{"latency answers normally", ok, "latency=20ms", func(t *testing.T, r response) {
			if r.str("statusCode") != "0" || len(r.obj("prescriptionList")) == 0 {
				t.Errorf("%s", r.raw)
			}
		}},
		{"an unknown fault header is a 400", ok, "explode", func(t *testing.T, r response) {
			if r.status != 400 {
				t.Errorf("HTTP %d", r.status)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, e.get(t, tt.path, map[string]string{FaultHeader: tt.header}))
		})
	}
}

func TestFaultPatientsAreWired(t *testing.T) {
	if got := patientFaults[PatientFaultLatency]; got.Kind != FaultLatency || got.Latency < 500*time.Millisecond {
		t.Errorf("latency patient: %+v", got)
	}
	kinds := map[FaultKind]bool{}
	for _, f := range patientFaults {
		kinds[f.Kind] = true
	}
	for _, k := range []FaultKind{FaultLatency, FaultHTTP500, FaultMalformed, FaultStatus5, FaultHang, FaultReset} {
		if !kinds[k] {
			t.Errorf("no patient for %s", k)
		}
	}
}

func TestAGlobalFaultAppliesUntilCleared(t *testing.T) {
	e := startEnv(t, Options{})
	e.srv.Sandbox.SetFault(Fault{Kind: FaultHTTP500})
	if r := e.get(t, searchPath(PatientAcuteAndRepeat), nil); r.status != 500 {
		t.Errorf("with the fault: HTTP %d", r.status)
	}
	if r := e.get(t, searchPath(PatientAcuteAndRepeat), map[string]string{FaultHeader: "none"}); r.status != 200 {
		t.Errorf("with a header saying none: HTTP %d", r.status)
	}
	e.srv.Sandbox.SetFault(Fault{})
	if r := e.get(t, searchPath(PatientAcuteAndRepeat), nil); r.status != 200 {
		t.Errorf("after clearing: HTTP %d", r.status)
	}
}

func TestAHangReturnsWhenTheClientGivesUp(t *testing.T) {
	e := startEnv(t, Options{})
	for _, tt := range []struct{ name, path, header string }{
		{"the hang patient", searchPath(PatientFaultHang), ""},
		{"the hang header", retrievePath(RxAcuteDispensed), "hang"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+tt.path, nil)
			req.Header = spineHeaders()
			if tt.header != "" {
				req.Header.Set(FaultHeader, tt.header)
			}
			res, err := e.client.Do(req)
			if err == nil {
				res.Body.Close()
				t.Fatalf("got HTTP %d, want no answer", res.StatusCode)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want the client's deadline", err)
			}
		})
	}
}

func TestAHangEndsWhenTheServerCloses(t *testing.T) {
	o := Options{Now: fixedClock}
	srv, err := Start(o, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := srv.Certs.ClientTLSConfig()
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	srv.Sandbox.SetFault(Fault{Kind: FaultHang})
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+searchPath(PatientAcuteAndRepeat), nil)
		req.Header = spineHeaders()
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	// Wait until the request hangs in the handler.
	for srv.Sandbox.hangs.Load() == 0 {
		select {
		case err := <-done:
			t.Fatalf("the request ended before hanging: %v", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the hung request did not end")
	}
}

func TestAResetDropsTheConnection(t *testing.T) {
	e := startEnv(t, Options{})
	for _, tt := range []struct{ name, path, header string }{
		{"the reset patient", searchPath(PatientFaultReset), ""},
		{"the reset header", "/mm/nhs111itemdetails?prescriptionId=" + RxAcuteDispensed, "reset"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+tt.path, nil)
			req.Header = spineHeaders()
			if tt.header != "" {
				req.Header.Set(FaultHeader, tt.header)
			}
			res, err := e.client.Do(req)
			if err == nil {
				res.Body.Close()
				t.Fatalf("got HTTP %d, want a connection error", res.StatusCode)
			}
		})
	}
}
