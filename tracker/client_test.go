package tracker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Fixture paths and the values they hold.
const (
	searchFixture      = "spine-eps-tracker-docs/search_111branch_scenario1_acute_and_repeat.json"
	searchNHSNumber    = "9691003120"
	retrieveFixture    = "spine-eps-tracker-docs/retrieve_111branch_scenario1_repeat_prescribing.json"
	retrieveID         = "48A894-C86002-00009E"
	summaryFixture     = "spine-eps-tracker-docs/nhs111itemsummary_scenario2_r2.json"
	summaryNHSNumber   = "9467157969"
	detailsFixture     = "spine-eps-tracker-docs/nhs111itemdetails_scenario2_erd_issue1.json"
	detailsID          = "74A4DF-N82668-00005V"
	plusID             = "A3B4D9-Z42475-11E6B+"
	testASID           = "200000000946"
	testUserID         = "313175813564"
	testRoleProfileID  = "562926913100"
	otherUserID        = "111111111111"
	otherRoleProfileID = "222222222222"
)

// spine is a test Spine over real mutual TLS: it counts requests and keeps the last one.
type spine struct {
	*httptest.Server
	attempts atomic.Int32
	mu       sync.Mutex
	last     *http.Request
}

func newSpine(t *testing.T, pki *testPKI, h http.HandlerFunc) *spine {
	t.Helper()
	s := &spine{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.attempts.Add(1)
		s.mu.Lock()
		s.last = r.Clone(context.Background())
		s.mu.Unlock()
		h(w, r)
	}))
	s.TLS = pki.serverTLS(t)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *spine) request(t *testing.T) *http.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		t.Fatal("Spine received no request")
	}
	return s.last
}

// newTestClient returns a client for s with small timeouts; change adjusts the configuration.
func newTestClient(t *testing.T, pki *testPKI, s *spine, change func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL:       s.URL,
		ASID:          testASID,
		UserID:        testUserID,
		RoleProfileID: testRoleProfileID,
		Timeout:       5 * time.Second,
		MaxRetries:    2,
		RetryBackoff:  time.Millisecond,
	}
	if change != nil {
		change(&cfg)
	}
	hc := NewHTTPClient(pki.clientTLS(t))
	t.Cleanup(hc.CloseIdleConnections)
	c, err := New(cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func serve(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

func TestClientHeaders(t *testing.T) {
	pki := newTestPKI(t)
	tests := []struct {
		name   string
		config func(*Config)
		caller Caller
		want   map[string]string // header -> value; "" means absent
	}{
		{
			name:   "the caller's user, role and trace id are sent",
			caller: Caller{UserID: otherUserID, RoleProfileID: otherRoleProfileID, TraceID: "req-1234"},
			want: map[string]string{
				"Accept": "application/json", "Spine-From-Asid": testASID,
				"Spine-UserId": otherUserID, "Spine-RoleProfileId": otherRoleProfileID, "Eps-TraceId": "req-1234",
			},
		},
		{
			name: "the configured user and role stand in for an anonymous caller",
			want: map[string]string{
				"Accept": "application/json", "Spine-From-Asid": testASID,
				"Spine-UserId": testUserID, "Spine-RoleProfileId": testRoleProfileID, "Eps-TraceId": "",
			},
		},
		{
			name:   "user and role are left out when neither caller nor configuration has them",
			config: func(c *Config) { c.UserID, c.RoleProfileID = "", "" },
			want: map[string]string{
				"Accept": "application/json", "Spine-From-Asid": testASID,
				"Spine-UserId": "", "Spine-RoleProfileId": "",
			},
		},
		{
			name:   "a trace id Spine would refuse is not sent",
			caller: Caller{TraceID: "0f8fad5b-d9cb-469f-a165-70867728950e"},
			want:   map[string]string{"Eps-TraceId": ""},
		},
		{
			name:   "a trace id with an underscore is not sent",
			caller: Caller{TraceID: "req_1"},
			want:   map[string]string{"Eps-TraceId": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpine(t, pki, serve(readFixture(t, searchFixture)))
			c := newTestClient(t, pki, s, tt.config)
			if _, err := c.Search(t.Context(), tt.caller, SearchQuery{NHSNumber: searchNHSNumber}); err != nil {
				t.Fatal(err)
			}
			h := s.request(t).Header
			for name, want := range tt.want {
				if want == "" {
					if got := h.Values(name); len(got) != 0 {
						t.Errorf("%s = %q, want it absent", name, got)
					}
					continue
				}
				if got := h.Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want exactly %q", name, got, want)
				}
			}
		})
	}

	t.Run("every attempt of a retried call carries the same headers", func(t *testing.T) {
		var mu sync.Mutex
		var seen []http.Header
		fixture := readFixture(t, searchFixture)
		s := newSpine(t, pki, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Header.Clone())
			n := len(seen)
			mu.Unlock()
			if n < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			serve(fixture)(w, r)
		})
		c := newTestClient(t, pki, s, nil)
		who := Caller{UserID: otherUserID, RoleProfileID: otherRoleProfileID, TraceID: "req-1234"}
		if _, err := c.Search(t.Context(), who, SearchQuery{NHSNumber: searchNHSNumber}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 3 {
			t.Fatalf("%d attempts, want 3", len(seen))
		}
		for i, h := range seen[1:] {
			if diff := cmp.Diff(seen[0], h); diff != "" {
				t.Errorf("attempt %d's headers differ from the first's (-first +this):\n%s", i+2, diff)
			}
		}
		if got := seen[2].Values("Spine-UserId"); len(got) != 1 || got[0] != otherUserID {
			t.Errorf("Spine-UserId = %q on the last attempt", got)
		}
	})

	t.Run("a malformed caller identity is refused before Spine is called", func(t *testing.T) {
		s := newSpine(t, pki, serve(readFixture(t, searchFixture)))
		c := newTestClient(t, pki, s, nil)
		for _, who := range []Caller{{UserID: "12345"}, {RoleProfileID: "role\r\nX-Injected: 1"}} {
			_, err := c.Search(t.Context(), who, SearchQuery{NHSNumber: searchNHSNumber})
			if !errors.Is(err, ErrRejected) {
				t.Errorf("Search(%+v) err = %v, want kind %v", who, err, ErrRejected)
			}
		}
		if got, want := s.attempts.Load(), int32(0); got != want {
			t.Errorf("Spine was called %d times, want %d", got, want)
		}
	})
}

func TestClientRequests(t *testing.T) {
	pki := newTestPKI(t)
	minus5 := time.FixedZone("-05:00", -5*3600)
	plusFixture := bytes.ReplaceAll(readFixture(t, retrieveFixture), []byte(retrieveID), []byte(plusID))
	plusFixture = bytes.Replace(plusFixture, []byte(`"issueNumber": "1"`), []byte(`"issueNumber": "2"`), 1)
	plusDetails := bytes.ReplaceAll(readFixture(t, detailsFixture), []byte(detailsID), []byte(plusID))

	tests := []struct {
		name        string
		reply       []byte
		call        func(ctx context.Context, c *Client) error
		path        string // as sent, escaped
		query       url.Values
		decodedPath string // as the server decodes it, when it differs
	}{
		{
			name:  "a search sends the NHS number, the fixed format and every filter, dates as UTC days",
			reply: readFixture(t, searchFixture),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Search(ctx, Caller{}, SearchQuery{
					NHSNumber:    searchNHSNumber,
					EarliestDate: time.Date(2020, 1, 7, 23, 30, 0, 0, minus5), // 2020-01-08 04:30 UTC
					LatestDate:   time.Date(2020, 2, 1, 0, 0, 0, 0, time.UTC),
					Status:       StatusWithDispenser,
					Version:      "R2",
				})
				return err
			},
			path: "/mm/prescriptions",
			query: url.Values{
				"nhsNumber": {searchNHSNumber}, "format": {"trace-summary"}, "earliestDate": {"20200108"},
				"latestDate": {"20200201"}, "prescriptionStatus": {"0002"}, "prescriptionVersion": {"R2"},
			},
		},
		{
			name:  "a search without filters sends only the NHS number and format",
			reply: readFixture(t, searchFixture),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Search(ctx, Caller{}, SearchQuery{NHSNumber: searchNHSNumber})
				return err
			},
			path:  "/mm/prescriptions",
			query: url.Values{"nhsNumber": {searchNHSNumber}, "format": {"trace-summary"}},
		},
		{
			name:  "a retrieve escapes a '+' in the path and sends the issue number",
			reply: plusFixture,
			call: func(ctx context.Context, c *Client) error {
				p, err := c.Retrieve(ctx, Caller{}, RetrieveQuery{PrescriptionID: plusID, IssueNumber: 2})
				if err == nil && p.ID != plusID {
					return errors.New("wrong prescription returned")
				}
				return err
			},
			path:        "/mm/prescriptions/A3B4D9-Z42475-11E6B%2B",
			decodedPath: "/mm/prescriptions/A3B4D9-Z42475-11E6B+",
			query:       url.Values{"format": {"trace"}, "issueNumber": {"2"}},
		},
		{
			name:  "a retrieve of the current issue sends no issue number",
			reply: readFixture(t, retrieveFixture),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Retrieve(ctx, Caller{}, RetrieveQuery{PrescriptionID: retrieveID})
				return err
			},
			path:  "/mm/prescriptions/" + retrieveID,
			query: url.Values{"format": {"trace"}},
		},
		{
			name:  "an item summary sends the NHS number and filters but no format",
			reply: readFixture(t, summaryFixture),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ItemSummary(ctx, Caller{}, SearchQuery{
					NHSNumber:    summaryNHSNumber,
					EarliestDate: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
					LatestDate:   time.Date(2020, 1, 31, 0, 0, 0, 0, time.UTC),
					Status:       StatusWithDispenserActive,
				})
				return err
			},
			path: "/mm/nhs111itemsummary",
			query: url.Values{
				"nhsNumber": {summaryNHSNumber}, "earliestDate": {"20200101"}, "latestDate": {"20200131"},
				"prescriptionStatus": {"0003"},
			},
		},
		{
			name:  "item details send the ID, issue number and the line item in upper case",
			reply: readFixture(t, detailsFixture),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ItemDetails(ctx, Caller{}, DetailQuery{
					PrescriptionID: detailsID, IssueNumber: 1, LineItemID: "9c18ae6f-513d-f7a3-e050-d20ae3a231c8",
				})
				return err
			},
			path: "/mm/nhs111itemdetails",
			query: url.Values{
				"prescriptionId": {detailsID}, "issueNumber": {"1"}, "lineitemid": {"9C18AE6F-513D-F7A3-E050-D20AE3A231C8"},
			},
		},
		{
			name:  "item details escape a '+' in the query",
			reply: plusDetails,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ItemDetails(ctx, Caller{}, DetailQuery{PrescriptionID: plusID})
				return err
			},
			path:  "/mm/nhs111itemdetails",
			query: url.Values{"prescriptionId": {plusID}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpine(t, pki, serve(tt.reply))
			c := newTestClient(t, pki, s, nil)
			if err := tt.call(t.Context(), c); err != nil {
				t.Fatal(err)
			}
			r := s.request(t)
			if got, want := r.Method, http.MethodGet; got != want {
				t.Errorf("method = %s, want %s", got, want)
			}
			if got, want := r.URL.EscapedPath(), tt.path; got != want {
				t.Errorf("path = %q, want %q", got, want)
			}
			if tt.decodedPath != "" {
				if got, want := r.URL.Path, tt.decodedPath; got != want {
					t.Errorf("decoded path = %q, want %q", got, want)
				}
			}
			if diff := cmp.Diff(tt.query, r.URL.Query()); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			if strings.Contains(r.URL.RawQuery, "+") {
				t.Errorf("raw query %q has a bare '+', which Spine would read as a space", r.URL.RawQuery)
			}
		})
	}
}

func TestClientRefusesBadInput(t *testing.T) {
	pki := newTestPKI(t)
	s := newSpine(t, pki, serve(readFixture(t, searchFixture)))
	c := newTestClient(t, pki, s, nil)
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"a search for an NHS number with a wrong check digit", func(ctx context.Context) error {
			return noDataWithError(c.Search(ctx, Caller{}, SearchQuery{NHSNumber: "9691003121"}))
		}},
		{"a search for an unknown status", func(ctx context.Context) error {
			return noDataWithError(c.Search(ctx, Caller{}, SearchQuery{NHSNumber: searchNHSNumber, Status: "0010"}))
		}},
		{"a search for an unknown version", func(ctx context.Context) error {
			return noDataWithError(c.Search(ctx, Caller{}, SearchQuery{NHSNumber: searchNHSNumber, Version: "R3"}))
		}},
		{"an item summary for a nine-digit NHS number", func(ctx context.Context) error {
			return noDataWithError(c.ItemSummary(ctx, Caller{}, SearchQuery{NHSNumber: "969100312"}))
		}},
		{"a retrieve of an ID with a wrong check character", func(ctx context.Context) error {
			return noDataWithError(c.Retrieve(ctx, Caller{}, RetrieveQuery{PrescriptionID: "000136-ZC2D5C-11E38K"}))
		}},
		{"a retrieve of a lower-case ID", func(ctx context.Context) error {
			return noDataWithError(c.Retrieve(ctx, Caller{}, RetrieveQuery{PrescriptionID: strings.ToLower(retrieveID)}))
		}},
		{"a retrieve of a negative issue", func(ctx context.Context) error {
			return noDataWithError(c.Retrieve(ctx, Caller{}, RetrieveQuery{PrescriptionID: retrieveID, IssueNumber: -1}))
		}},
		{"item details for a malformed line item", func(ctx context.Context) error {
			return noDataWithError(c.ItemDetails(ctx, Caller{}, DetailQuery{PrescriptionID: detailsID, LineItemID: "item-1"}))
		}},
		{"item details for an empty ID", func(ctx context.Context) error {
			return noDataWithError(c.ItemDetails(ctx, Caller{}, DetailQuery{}))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is an invalid request", func(t *testing.T) {
			if err := tt.call(t.Context()); !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("err = %v, want kind %v", err, ErrInvalidRequest)
			}
		})
	}
	if got, want := s.attempts.Load(), int32(0); got != want {
		t.Errorf("Spine was called %d times, want %d", got, want)
	}
}

// resetConnection answers nothing: it resets the TCP connection.
func resetConnection(w http.ResponseWriter, r *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*tls.Conn); ok {
		if nc, ok := tc.NetConn().(*net.TCPConn); ok {
			nc.SetLinger(0)
			nc.Close()
			return
		}
	}
	conn.Close()
}

func TestClientErrors(t *testing.T) {
	pki := newTestPKI(t)
	search := func(ctx context.Context, c *Client) error {
		return noDataWithError(c.Search(ctx, Caller{}, SearchQuery{NHSNumber: searchNHSNumber}))
	}
	retrieve := func(ctx context.Context, c *Client) error {
		return noDataWithError(c.Retrieve(ctx, Caller{}, RetrieveQuery{PrescriptionID: retrieveID}))
	}
	details := func(ctx context.Context, c *Client) error {
		return noDataWithError(c.ItemDetails(ctx, Caller{}, DetailQuery{PrescriptionID: detailsID, IssueNumber: 3}))
	}
	statusReply := func(code, reason string) http.HandlerFunc {
		return serve([]byte(`{"reason":"` + reason + `","version":"1","prescriptions":{},"statusCode":"` + code + `"}`))
	}
	var flaky atomic.Int32
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		config     func(*Config)
		call       func(context.Context, *Client) error
		want       error // nil: success
		statusCode string
		httpStatus int
		attempts   int32
	}{
		{
			name: "a retrieve of an unknown prescription is not found", handler: serve(readFixture(t, "spine-eps-tracker-docs/retrieve_111branch_error_1_not_found.json")),
			call: retrieve, want: ErrNotFound, statusCode: "1", httpStatus: 0, attempts: 1,
		},
		{
			name: "Spine's missing NHS number answer is an invalid request", handler: serve(readFixture(t, "spine-eps-tracker-docs/search_111branch_error_61.json")),
			call: search, want: ErrInvalidRequest, statusCode: "61", attempts: 1,
		},
		{
			name: "statusCode 3 is issue not found", handler: statusReply("3", "Issue not found"),
			call: retrieve, want: ErrIssueNotFound, statusCode: "3", attempts: 1,
		},
		{
			name: "statusCode 52 means Spine rejected our ASID", handler: statusReply("52", "Invalid or missing asid"),
			call: search, want: ErrRejected, statusCode: "52", attempts: 1,
		},
		{
			name: "statusCode 8 from the item details is issue not found", handler: serve(readFixture(t, "eps-fhir-api-coordinator-tests/nhs111_detail_error-no-issue-number.json")),
			call: details, want: ErrIssueNotFound, statusCode: "8", attempts: 1,
		},
		{
			name: "an HTTP 200 with statusCode 5 is an upstream failure and is not retried", handler: statusReply("5", "Unexpected exception"),
			call: search, want: ErrUpstream, statusCode: "5", attempts: 1,
		},
		{
			name: "an HTTP 500 with a text body is retried, then an upstream failure",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			},
			call: search, want: ErrUpstream, httpStatus: 500, attempts: 3,
		},
		{
			name: "retries stop at MaxRetries",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "Bad Gateway", http.StatusBadGateway)
			},
			config: func(c *Config) { c.MaxRetries = 1 },
			call:   search, want: ErrUpstream, httpStatus: 502, attempts: 2,
		},
		{
			name: "a negative MaxRetries makes one attempt only",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
			},
			config: func(c *Config) { c.MaxRetries = -1 },
			call:   search, want: ErrUpstream, httpStatus: 503, attempts: 1,
		},
		{
			name: "a 5xx followed by a good answer succeeds",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if flaky.Add(1) < 3 {
					http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
					return
				}
				serve(readFixture(t, searchFixture))(w, r)
			},
			call: search, want: nil, attempts: 3,
		},
		{
			name: "an HTTP 404 is an upstream failure and is not retried",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.NotFound(w, r)
			},
			call: search, want: ErrUpstream, httpStatus: 404, attempts: 1,
		},
		{
			name: "an HTTP 400 carrying a statusCode takes the statusCode's kind",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(`{"statusCode":"61","reason":"Invalid or missing NHS number","prescriptions":{}}`))
			},
			call: search, want: ErrInvalidRequest, statusCode: "61", httpStatus: 400, attempts: 1,
		},
		{
			name: "a redirect is not followed",
			handler: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
			},
			call: search, want: ErrUpstream, httpStatus: 302, attempts: 1,
		},
		{
			name: "malformed JSON is an upstream failure and is not retried", handler: serve([]byte(`{"statusCode":"0","prescriptionList":{`)),
			call: search, want: ErrUpstream, attempts: 1,
		},
		{
			name: "a reply bigger than MaxResponseBytes is an upstream failure", handler: serve(readFixture(t, searchFixture)),
			config: func(c *Config) { c.MaxResponseBytes = 512 },
			call:   search, want: ErrUpstream, httpStatus: 200, attempts: 1,
		},
		{
			name: "a reset connection is retried, then an upstream failure", handler: resetConnection,
			call: search, want: ErrUpstream, attempts: 3,
		},
		{
			name:    "a search answering for another patient is an upstream failure",
			handler: serve(bytes.ReplaceAll(readFixture(t, searchFixture), []byte(searchNHSNumber), []byte("9691003139"))),
			call:    search, want: ErrUpstream, attempts: 1,
		},
		{
			name:    "a retrieve answering for another prescription is an upstream failure",
			handler: serve(bytes.ReplaceAll(readFixture(t, retrieveFixture), []byte(retrieveID), []byte("3AF2CB-C86002-0000BX"))),
			call:    retrieve, want: ErrUpstream, attempts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpine(t, pki, tt.handler)
			c := newTestClient(t, pki, s, tt.config)
			err := tt.call(t.Context(), c)
			if got, want := s.attempts.Load(), tt.attempts; got != want {
				t.Errorf("attempts = %d, want %d", got, want)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want kind %v", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %T, want *Error", err)
			}
			if got, want := e.StatusCode, tt.statusCode; got != want {
				t.Errorf("StatusCode = %q, want %q", got, want)
			}
			if got, want := e.HTTPStatus, tt.httpStatus; got != want {
				t.Errorf("HTTPStatus = %d, want %d", got, want)
			}
		})
	}
}

func TestClientDeadlines(t *testing.T) {
	pki := newTestPKI(t)
	hang := func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

	t.Run("Spine hanging past the call's timeout is a timeout, not retried", func(t *testing.T) {
		s := newSpine(t, pki, hang)
		c := newTestClient(t, pki, s, func(c *Config) { c.Timeout = 100 * time.Millisecond })
		_, err := c.Search(t.Context(), Caller{}, SearchQuery{NHSNumber: searchNHSNumber})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want kind %v", err, ErrTimeout)
		}
		if got, want := s.attempts.Load(), int32(1); got != want {
			t.Errorf("attempts = %d, want %d", got, want)
		}
	})

	t.Run("the caller's own deadline passing is a timeout", func(t *testing.T) {
		s := newSpine(t, pki, hang)
		c := newTestClient(t, pki, s, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		_, err := c.Search(ctx, Caller{}, SearchQuery{NHSNumber: searchNHSNumber})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want kind %v", err, ErrTimeout)
		}
	})

	t.Run("the caller giving up mid-call is a cancellation", func(t *testing.T) {
		arrived := make(chan struct{}, 1)
		s := newSpine(t, pki, func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			<-r.Context().Done()
		})
		c := newTestClient(t, pki, s, nil)
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-arrived
			cancel()
		}()
		_, err := c.Retrieve(ctx, Caller{}, RetrieveQuery{PrescriptionID: retrieveID})
		if !errors.Is(err, ErrCanceled) {
			t.Fatalf("err = %v, want kind %v", err, ErrCanceled)
		}
	})

	t.Run("a call with an already cancelled context never reaches Spine", func(t *testing.T) {
		s := newSpine(t, pki, serve(readFixture(t, searchFixture)))
		c := newTestClient(t, pki, s, nil)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.Search(ctx, Caller{}, SearchQuery{NHSNumber: searchNHSNumber})
		if !errors.Is(err, ErrCanceled) {
			t.Fatalf("err = %v, want kind %v", err, ErrCanceled)
		}
		if got, want := s.attempts.Load(), int32(0); got != want {
			t.Errorf("attempts = %d, want %d", got, want)
		}
	})

	t.Run("the caller giving up during a backoff is a cancellation", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		s := newSpine(t, pki, func(w http.ResponseWriter, r *http.Request) {
			cancel() // the client will find out while waiting to retry
			http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		})
		c := newTestClient(t, pki, s, func(c *Config) { c.RetryBackoff = time.Second })
		_, err := c.Search(ctx, Caller{}, SearchQuery{NHSNumber: searchNHSNumber})
		if !errors.Is(err, ErrCanceled) {
			t.Fatalf("err = %v, want kind %v", err, ErrCanceled)
		}
	})
}

func TestClientTLS(t *testing.T) {
	pki := newTestPKI(t)
	s := newSpine(t, pki, serve(readFixture(t, searchFixture)))
	cfg := Config{BaseURL: s.URL, ASID: testASID, MaxRetries: -1}
	search := func(c *Client) error {
		return noDataWithError(c.Search(t.Context(), Caller{}, SearchQuery{NHSNumber: searchNHSNumber}))
	}

	t.Run("mutual TLS with the right certificates works", func(t *testing.T) {
		c, err := New(cfg, NewHTTPClient(pki.clientTLS(t)))
		if err != nil {
			t.Fatal(err)
		}
		if err := search(c); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a client without a certificate is refused, an upstream failure", func(t *testing.T) {
		tlsCfg := pki.clientTLS(t)
		tlsCfg.Certificates = nil
		c, err := New(cfg, NewHTTPClient(tlsCfg))
		if err != nil {
			t.Fatal(err)
		}
		if err := search(c); !errors.Is(err, ErrUpstream) {
			t.Fatalf("err = %v, want kind %v", err, ErrUpstream)
		}
	})

	t.Run("a server certificate from another CA is refused", func(t *testing.T) {
		other := newTestPKI(t)
		tlsCfg, err := TLSConfigFromPEM(pki.clientCertPEM, pki.clientKey, other.caPEM)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(cfg, NewHTTPClient(tlsCfg))
		if err != nil {
			t.Fatal(err)
		}
		if err := search(c); !errors.Is(err, ErrUpstream) {
			t.Fatalf("err = %v, want kind %v", err, ErrUpstream)
		}
	})

	t.Run("a server certificate for another name is refused", func(t *testing.T) {
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		byName := cfg
		byName.BaseURL = "https://localhost:" + u.Port() // the certificate names only 127.0.0.1
		c, err := New(byName, NewHTTPClient(pki.clientTLS(t)))
		if err != nil {
			t.Fatal(err)
		}
		err = search(c)
		if !errors.Is(err, ErrUpstream) {
			t.Fatalf("err = %v, want kind %v", err, ErrUpstream)
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("err = %v, want a certificate error", err)
		}
	})
}

func TestConfig(t *testing.T) {
	good := Config{BaseURL: "https://msg.int.spine2.ncrs.nhs.uk", ASID: testASID, UserID: testUserID, RoleProfileID: testRoleProfileID}
	tests := []struct {
		name   string
		change func(*Config)
		want   []string // substrings of the error; none for valid
	}{
		{"a complete configuration is valid", func(*Config) {}, nil},
		{"user and role may be left out", func(c *Config) { c.UserID, c.RoleProfileID = "", "" }, nil},
		{"a base URL with a path is valid", func(c *Config) { c.BaseURL = "https://spine.example/prefix/" }, nil},
		{"plain HTTP is refused", func(c *Config) { c.BaseURL = "http://msg.int.spine2.ncrs.nhs.uk" }, []string{"base URL"}},
		{"a relative URL is refused", func(c *Config) { c.BaseURL = "/mm" }, []string{"base URL"}},
		{"a URL with a query is refused", func(c *Config) { c.BaseURL = "https://spine.example/?x=1" }, []string{"base URL"}},
		{"an ASID of 11 digits is refused", func(c *Config) { c.ASID = "20000000094" }, []string{"ASID"}},
		{"negative durations are refused", func(c *Config) { c.Timeout, c.RetryBackoff = -1, -1 }, []string{"timeout", "backoff"}},
		{"negative limits are refused", func(c *Config) { c.MaxConcurrency, c.MaxWaiting, c.BreakerOpenFor = -1, -1, -1 },
			[]string{"max concurrency", "max waiting", "breaker open time"}},
		{"a negative breaker threshold turns the breaker off", func(c *Config) { c.BreakerFailures = -1 }, nil},
		{"every problem is reported at once", func(c *Config) { *c = Config{UserID: "x", RoleProfileID: "y", MaxResponseBytes: -1} },
			[]string{"base URL", "ASID", "user ID", "role profile ID", "response bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %q, want it to mention %q", err, want)
				}
			}
		})
	}

	t.Run("New refuses an invalid configuration", func(t *testing.T) {
		if _, err := New(Config{}, http.DefaultClient); err == nil {
			t.Error("err = nil")
		}
	})
	t.Run("New refuses a nil HTTP client", func(t *testing.T) {
		if _, err := New(good, nil); err == nil {
			t.Error("err = nil")
		}
	})
	t.Run("New fills in the defaults", func(t *testing.T) {
		c, err := New(good, http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		if c.cfg.Timeout != DefaultTimeout || c.cfg.MaxRetries != DefaultMaxRetries ||
			c.cfg.RetryBackoff != DefaultRetryBackoff || c.cfg.MaxResponseBytes != DefaultMaxResponseBytes {
			t.Errorf("config = %+v, want the defaults", c.cfg)
		}
		if got, want := cap(c.limit.slots), DefaultMaxConcurrency; got != want {
			t.Errorf("concurrency bound = %d, want %d", got, want)
		}
		if got, want := c.limit.maxWaiting, int64(16*DefaultMaxConcurrency); got != want {
			t.Errorf("waiting bound = %d, want %d", got, want)
		}
		if c.breaker == nil || c.breaker.openFor != DefaultBreakerOpenFor {
			t.Errorf("breaker = %+v, want one open for %v", c.breaker, DefaultBreakerOpenFor)
		}
	})
	t.Run("a negative breaker threshold leaves the breaker out", func(t *testing.T) {
		cfg := good
		cfg.BreakerFailures = -1
		c, err := New(cfg, http.DefaultClient)
		if err != nil {
			t.Fatal(err)
		}
		if c.breaker != nil {
			t.Error("breaker present")
		}
	})
}

func TestBackoffStaysWithinItsCeiling(t *testing.T) {
	for attempt := range 40 {
		ceiling := min(time.Millisecond<<min(attempt, 16), maxBackoff)
		for range 20 {
			if got := backoff(time.Millisecond, attempt); got < 0 || got > ceiling {
				t.Fatalf("backoff(1ms, %d) = %v, want within [0, %v]", attempt, got, ceiling)
			}
		}
	}
}

// TestReadBodyGivesEachReplyItsOwnBytes: replies are read through a pooled buffer, and each must
// keep its bytes when the next reply is read into the same buffer.
func TestReadBodyGivesEachReplyItsOwnBytes(t *testing.T) {
	c := &Client{}
	first, err := c.readBody(strings.NewReader("first reply"), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.readBody(strings.NewReader("a second, longer reply"), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) != "first reply" || string(second) != "a second, longer reply" {
		t.Errorf("got %q and %q", first, second)
	}
	if cut, _ := c.readBody(strings.NewReader("0123456789"), 4); string(cut) != "0123" {
		t.Errorf("a reply over the limit read as %q, want its first 4 bytes", cut)
	}
	if empty, err := c.readBody(strings.NewReader(""), 4); err != nil || empty == nil || len(empty) != 0 {
		t.Errorf("an empty reply read as %#v, %v; want an empty slice", empty, err)
	}
}
