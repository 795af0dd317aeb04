package tracker_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// checkError checks an error's kind and what Spine said: its statusCode and HTTP status, "" and 0
// when the client refused the call itself, Spine answered HTTP 200, or Spine never answered.
func checkError(t *testing.T, err error, kind error, statusCode string, httpStatus int) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want kind %v", err, kind)
	}
	var e *tracker.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want a *tracker.Error", err, err)
	}
	if got, want := e.StatusCode, statusCode; got != want {
		t.Errorf("StatusCode = %q, want %q (err: %v)", got, want, err)
	}
	if got, want := e.HTTPStatus, httpStatus; got != want {
		t.Errorf("HTTPStatus = %d, want %d (err: %v)", got, want, err)
	}
}

func TestIntegrationErrors(t *testing.T) {
	spine := observeSpine(t, sandbox.Options{}, nil)
	search := func(q tracker.SearchQuery) func(context.Context, *tracker.Client, tracker.Caller) error {
		return func(ctx context.Context, c *tracker.Client, who tracker.Caller) error {
			_, err := c.Search(ctx, who, q)
			return err
		}
	}
	summary := func(q tracker.SearchQuery) func(context.Context, *tracker.Client, tracker.Caller) error {
		return func(ctx context.Context, c *tracker.Client, who tracker.Caller) error {
			_, err := c.ItemSummary(ctx, who, q)
			return err
		}
	}
	retrieve := func(q tracker.RetrieveQuery) func(context.Context, *tracker.Client, tracker.Caller) error {
		return func(ctx context.Context, c *tracker.Client, who tracker.Caller) error {
			_, err := c.Retrieve(ctx, who, q)
			return err
		}
	}
	details := func(q tracker.DetailQuery) func(context.Context, *tracker.Client, tracker.Caller) error {
		return func(ctx context.Context, c *tracker.Client, who tracker.Caller) error {
			_, err := c.ItemDetails(ctx, who, q)
			return err
		}
	}
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // formats as nine digits

	type errorCase struct {
		name           string
		who            tracker.Caller
		call           func(context.Context, *tracker.Client, tracker.Caller) error
		wantKind       error
		wantStatusCode string
		wantHTTP       int
		wantRequests   int32 // 0: refused before reaching Spine; 3: retried twice
	}
	tests := []errorCase{
		{"an unknown prescription is not found",
			tracker.Caller{}, retrieve(tracker.RetrieveQuery{PrescriptionID: unknownRx}), tracker.ErrNotFound, "1", 0, 1},
		{"an unknown prescription has no item details",
			tracker.Caller{}, details(tracker.DetailQuery{PrescriptionID: unknownRx}), tracker.ErrNotFound, "6", 0, 1},
		{"an unknown line item of a known prescription is not found",
			tracker.Caller{}, details(tracker.DetailQuery{PrescriptionID: sandbox.RxR1Acute, LineItemID: "0DB4DE1E-29A2-4E39-9D58-1F3C4E5A6B7C"}),
			tracker.ErrNotFound, "7", 0, 1},
		{"a patient without prescriptions has no item summary",
			tracker.Caller{}, summary(tracker.SearchQuery{NHSNumber: sandbox.PatientNoPrescriptions}), tracker.ErrNotFound, "1", 0, 1},
		{"an issue the prescription does not have is not found",
			tracker.Caller{}, retrieve(tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatDispensing, IssueNumber: 99}),
			tracker.ErrIssueNotFound, "3", 0, 1},
		{"item details of an issue the prescription does not have are not found",
			tracker.Caller{}, details(tracker.DetailQuery{PrescriptionID: sandbox.RxRepeatDispensing, IssueNumber: 99}),
			tracker.ErrIssueNotFound, "8", 0, 1},
		{"item details of repeat dispensing without an issue number name no issue",
			tracker.Caller{}, details(tracker.DetailQuery{PrescriptionID: sandbox.RxRepeatDispensing}), tracker.ErrIssueNotFound, "8", 0, 1},
		{"an NHS number failing its check digit is refused before calling Spine",
			tracker.Caller{}, search(tracker.SearchQuery{NHSNumber: "9691003121"}), tracker.ErrInvalidRequest, "", 0, 0},
		{"a prescription ID failing its check character is refused before calling Spine",
			tracker.Caller{}, retrieve(tracker.RetrieveQuery{PrescriptionID: "7D9625-Z72BF2-11E3AD"}), tracker.ErrInvalidRequest, "", 0, 0},
		{"a date beyond year 9999 passes the client but Spine refuses it",
			tracker.Caller{}, search(tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat, EarliestDate: year10000}),
			tracker.ErrInvalidRequest, "57", 0, 1},
		{"a date beyond year 9999 in the item summary is refused by Spine too",
			tracker.Caller{}, summary(tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat, LatestDate: year10000}),
			tracker.ErrInvalidRequest, "57", 0, 1},
		{"a caller with a malformed user ID is rejected before calling Spine",
			tracker.Caller{UserID: "31317581356"}, search(tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}),
			tracker.ErrRejected, "", 0, 0},
		{"a caller with a malformed role is rejected before calling Spine",
			tracker.Caller{RoleProfileID: "role"}, retrieve(tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatDispensing}),
			tracker.ErrRejected, "", 0, 0},
	}
	for _, fault := range []struct {
		patient, name, statusCode string
		httpStatus                int
		requests                  int32
	}{
		{sandbox.PatientFaultHTTP500, "an HTTP 500, retried,", "", 500, 3},
		{sandbox.PatientFaultMalformed, "truncated JSON, not retried,", "", 0, 1},
		{sandbox.PatientFaultStatus5, "statusCode 5, not retried,", "5", 0, 1},
		{sandbox.PatientFaultReset, "a dropped connection, retried,", "", 0, 3},
	} {
		q := tracker.SearchQuery{NHSNumber: fault.patient}
		tests = append(tests,
			errorCase{"a search answered with " + fault.name + " is an upstream failure",
				tracker.Caller{}, search(q), tracker.ErrUpstream, fault.statusCode, fault.httpStatus, fault.requests},
			errorCase{"an item summary answered with " + fault.name + " is an upstream failure",
				tracker.Caller{}, summary(q), tracker.ErrUpstream, fault.statusCode, fault.httpStatus, fault.requests})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A fresh client, so that no attempt rides on a connection an earlier case left open.
			c := newClient(t, spine.URL, spine.Certs, nil)
			before := spine.requests.Load()
			err := tt.call(t.Context(), c, tt.who)
			checkError(t, err, tt.wantKind, tt.wantStatusCode, tt.wantHTTP)
			if got, want := spine.requests.Load()-before, tt.wantRequests; got != want {
				t.Errorf("requests reaching Spine = %d, want %d", got, want)
			}
		})
	}
}

func TestIntegrationRetries(t *testing.T) {
	tests := []struct {
		name           string
		fault          sandbox.FaultKind
		maxRetries     int
		wantStatusCode string
		wantHTTP       int
		wantRequests   int32
	}{
		{"an HTTP 500 is retried MaxRetries times", sandbox.FaultHTTP500, 2, "", 500, 3},
		{"an HTTP 500 is tried once when retries are off", sandbox.FaultHTTP500, -1, "", 500, 1},
		{"a dropped connection is retried MaxRetries times", sandbox.FaultReset, 3, "", 0, 4},
		{"statusCode 5 is Spine's final answer, not retried", sandbox.FaultStatus5, 2, "5", 0, 1},
		{"truncated JSON is not retried", sandbox.FaultMalformed, 2, "", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spine := observeSpine(t, sandbox.Options{}, nil)
			spine.Sandbox.SetFault(sandbox.Fault{Kind: tt.fault})
			c := newClient(t, spine.URL, spine.Certs, func(c *tracker.Config) { c.MaxRetries = tt.maxRetries })
			_, err := c.Retrieve(t.Context(), tracker.Caller{}, tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatPrescribingActive})
			checkError(t, err, tracker.ErrUpstream, tt.wantStatusCode, tt.wantHTTP)
			if got, want := spine.requests.Load(), tt.wantRequests; got != want {
				t.Errorf("requests reaching Spine = %d, want %d", got, want)
			}

			spine.Sandbox.SetFault(sandbox.Fault{})
			if _, err := c.Retrieve(t.Context(), tracker.Caller{}, tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatPrescribingActive}); err != nil {
				t.Errorf("after the fault is cleared: %v", err)
			}
		})
	}
}

func TestIntegrationStrictSpine(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{Strict: true})
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}
	tests := []struct {
		name           string
		user, role     string // configured
		who            tracker.Caller
		wantStatusCode string // "" for success
	}{
		{"a client without user or role is rejected for its user", "", "", tracker.Caller{}, "55"},
		{"a client with a user but no role is rejected for its role", testUserID, "", tracker.Caller{}, "56"},
		{"a client configured with both is served", testUserID, testRoleProfileID, tracker.Caller{}, ""},
		{"a caller's own user and role stand in for the configuration", "", "",
			tracker.Caller{UserID: testUserID, RoleProfileID: testRoleProfileID}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv.URL, srv.Certs, func(c *tracker.Config) { c.UserID, c.RoleProfileID = tt.user, tt.role })
			res, err := c.Search(t.Context(), tt.who, q)
			if tt.wantStatusCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Prescriptions) == 0 {
					t.Error("no prescriptions found")
				}
				return
			}
			checkError(t, err, tracker.ErrRejected, tt.wantStatusCode, 0)
		})
	}
}

func TestIntegrationTLS(t *testing.T) {
	spine := observeSpine(t, sandbox.Options{}, nil)
	other, err := sandbox.GenerateCerts() // another PKI altogether
	if err != nil {
		t.Fatal(err)
	}
	// Under TLS 1.3 a client learns that the server refused its certificate only when it reads, and
	// net/http may then report the failed write ("use of closed network connection") instead of the
	// alert. Only TLS 1.2 reliably tells the client why: the cases that check the reason use it.
	tests := []struct {
		name       string
		certs      *sandbox.Certs // client certificate and CA
		noCert     bool
		maxVersion uint16
		wantInErr  string // "" = not checked
		wantAs     any    // an error type in the chain, or nil
	}{
		{"a client without a certificate is refused", spine.Certs, true, 0, "", nil},
		{"a TLS 1.2 client without a certificate is told the handshake failed", spine.Certs, true, tls.VersionTLS12, "remote error: tls", nil},
		{"a client certificate from another CA is refused", &sandbox.Certs{
			ClientCertPEM: other.ClientCertPEM, ClientKeyPEM: other.ClientKeyPEM, CAPEM: spine.Certs.CAPEM}, false, 0, "", nil},
		{"a TLS 1.2 client certificate from another CA is told why", &sandbox.Certs{
			ClientCertPEM: other.ClientCertPEM, ClientKeyPEM: other.ClientKeyPEM, CAPEM: spine.Certs.CAPEM},
			false, tls.VersionTLS12, "remote error: tls", nil},
		{"a client that does not trust the sandbox's CA refuses the server", &sandbox.Certs{
			ClientCertPEM: spine.Certs.ClientCertPEM, ClientKeyPEM: spine.Certs.ClientKeyPEM, CAPEM: other.CAPEM},
			false, 0, "certificate", new(x509.UnknownAuthorityError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tlsConfig, err := tracker.TLSConfigFromPEM(tt.certs.ClientCertPEM, tt.certs.ClientKeyPEM, tt.certs.CAPEM)
			if err != nil {
				t.Fatal(err)
			}
			if tt.noCert {
				tlsConfig.Certificates = nil
			}
			tlsConfig.MaxVersion = tt.maxVersion
			hc := tracker.NewHTTPClient(tlsConfig)
			t.Cleanup(hc.CloseIdleConnections)
			c, err := tracker.New(tracker.Config{BaseURL: spine.URL, ASID: testASID, RetryBackoff: time.Millisecond}, hc)
			if err != nil {
				t.Fatal(err)
			}
			before := spine.requests.Load()
			_, err = c.Search(t.Context(), tracker.Caller{}, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat})
			checkError(t, err, tracker.ErrUpstream, "", 0)
			if got := spine.requests.Load() - before; got != 0 {
				t.Errorf("%d requests reached Spine, want none", got)
			}
			if !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantInErr)
			}
			if tt.wantAs != nil && !errors.As(err, tt.wantAs) {
				t.Errorf("err = %v, want a %T in its chain", err, tt.wantAs)
			}
		})
	}
}

func TestIntegrationDeadlines(t *testing.T) {
	// Hangs are served by an observedSpine: see there why a plain sandbox.Start would be flaky.
	spine := observeSpine(t, sandbox.Options{}, nil)

	t.Run("a hanging search times out at the client's timeout", func(t *testing.T) {
		c := newClient(t, spine.URL, spine.Certs, func(c *tracker.Config) { c.Timeout = 300 * time.Millisecond })
		_, err := c.Search(t.Context(), tracker.Caller{}, tracker.SearchQuery{NHSNumber: sandbox.PatientFaultHang})
		checkError(t, err, tracker.ErrTimeout, "", 0)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded in its chain", err)
		}
	})

	t.Run("a hanging item summary times out at the caller's deadline", func(t *testing.T) {
		c := newClient(t, spine.URL, spine.Certs, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		_, err := c.ItemSummary(ctx, tracker.Caller{}, tracker.SearchQuery{NHSNumber: sandbox.PatientFaultHang})
		checkError(t, err, tracker.ErrTimeout, "", 0)
	})

	t.Run("a caller giving up during a hang has cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		giving := observeSpine(t, sandbox.Options{}, cancel) // gives up as soon as Spine has the request
		c := newClient(t, giving.URL, giving.Certs, nil)
		_, err := c.Search(ctx, tracker.Caller{}, tracker.SearchQuery{NHSNumber: sandbox.PatientFaultHang})
		checkError(t, err, tracker.ErrCanceled, "", 0)
		if got, want := giving.requests.Load(), int32(1); got != want {
			t.Errorf("requests reaching Spine = %d, want %d", got, want)
		}
	})

	t.Run("a slow Spine within the timeout still answers", func(t *testing.T) {
		slow := startSandbox(t, sandbox.Options{})
		slow.Sandbox.SetFault(sandbox.Fault{Kind: sandbox.FaultLatency, Latency: 50 * time.Millisecond})
		c := newClient(t, slow.URL, slow.Certs, func(c *tracker.Config) { c.Timeout = 2 * time.Second })
		p, err := c.Retrieve(t.Context(), tracker.Caller{}, tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatPrescribingActive})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.ID, sandbox.RxRepeatPrescribingActive; got != want {
			t.Errorf("ID = %s, want %s", got, want)
		}
	})
}

func TestIntegrationTraceID(t *testing.T) {
	spine := observeSpine(t, sandbox.Options{}, nil)
	c := newClient(t, spine.URL, spine.Certs, nil)
	tests := []struct {
		name     string
		traceID  string
		wantSent string
	}{
		{"a valid trace id is sent, and Spine echoes it", "trace-0123456789", "trace-0123456789"},
		{"an invalid trace id is left out rather than have Spine reject the call", "not a trace id", ""},
		{"no trace id sends none", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Retrieve(t.Context(), tracker.Caller{TraceID: tt.traceID},
				tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatPrescribingActive}); err != nil {
				t.Fatal(err)
			}
			sent, echoed := spine.trace()
			if got, want := sent, tt.wantSent; got != want {
				t.Errorf("Eps-TraceId sent = %q, want %q", got, want)
			}
			if got, want := echoed, tt.wantSent; got != want {
				t.Errorf("Eps-TraceId echoed = %q, want %q", got, want)
			}
		})
	}
}

func TestIntegrationConnectionReuse(t *testing.T) {
	spine := observeSpine(t, sandbox.Options{}, nil)
	c := newClient(t, spine.URL, spine.Certs, nil)
	ctx, who := t.Context(), tracker.Caller{}
	const rounds = 5
	for range rounds {
		if _, err := c.Search(ctx, who, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Retrieve(ctx, who, tracker.RetrieveQuery{PrescriptionID: sandbox.RxRepeatPrescribingActive}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ItemSummary(ctx, who, tracker.SearchQuery{NHSNumber: sandbox.PatientManyItems}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ItemDetails(ctx, who, tracker.DetailQuery{PrescriptionID: sandbox.RxR1Acute}); err != nil {
			t.Fatal(err)
		}
		// Spine's error answers leave the connection fit for reuse too.
		if _, err := c.Retrieve(ctx, who, tracker.RetrieveQuery{PrescriptionID: unknownRx}); !errors.Is(err, tracker.ErrNotFound) {
			t.Fatalf("err = %v, want kind %v", err, tracker.ErrNotFound)
		}
	}
	if got, want := spine.requests.Load(), int32(rounds*5); got != want {
		t.Errorf("requests = %d, want %d", got, want)
	}
	if got, want := spine.conns.Load(), int32(1); got != want {
		t.Errorf("connections (TLS handshakes) = %d for %d sequential requests, want %d", got, spine.requests.Load(), want)
	}
}

func TestErrorsNeverCarryTheNHSNumber(t *testing.T) {
	// A Spine that is not there: the connection error would name the URL, which holds the NHS number.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := startSandbox(t, sandbox.Options{})
	c := newClient(t, "https://"+addr, srv.Certs, func(c *tracker.Config) { c.MaxRetries = -1 })
	_, err = c.Search(context.Background(), tracker.Caller{}, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat})
	if !errors.Is(err, tracker.ErrUpstream) {
		t.Fatalf("got %v, want ErrUpstream", err)
	}
	if strings.Contains(err.Error(), sandbox.PatientAcuteAndRepeat) {
		t.Errorf("the error names the NHS number: %v", err)
	}
}
