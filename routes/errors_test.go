package routes_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

func TestBadRequests(t *testing.T) {
	a := start(t, setup{})
	nhs := "patient:identifier=" + sandbox.PatientAcuteAndRepeat
	for _, tc := range []struct {
		name, query string
		expression  string
	}{
		{"an NHS number with a wrong check digit", "patient:identifier=9691003121", "patient:identifier"},
		{"an NHS number under another system", "patient:identifier=" + url.QueryEscape("http://example.org|9691003120"), "patient:identifier"},
		{"two different patients", nhs + "&patient=" + sandbox.PatientR1, "patient:identifier"},
		{"no patient and no prescription", "status=active", "patient"},
		{"a prescription ID with a wrong check character", "group-identifier=7D9625-Z72BF2-11E3AD", "group-identifier"},
		{"an issue without a prescription", nhs + "&issue=2", "issue"},
		{"a date that is not a date", nhs + "&authoredon=ge2026-13-45", "authoredon"},
		{"an unsupported date prefix", nhs + "&authoredon=ne2026-11-01", "authoredon"},
		{"an unknown business status", nhs + "&business-status=1234", "business-status"},
		{"an unknown FHIR status", nhs + "&status=finished", "status"},
		{"an unknown prescription version", nhs + "&prescription-version=3", "prescription-version"},
		{"a negative _count", nhs + "&_count=-1", "_count"},
		{"an unsupported modifier", nhs + "&status:not=active", "status:not"},
	} {
		t.Run(tc.name+" is a 400 naming the parameter", func(t *testing.T) {
			got := a.get(t, "/MedicationRequest?"+tc.query)
			if got.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", got.Status, got.Body)
			}
			is := issue(t, got)
			if is["code"] != "invalid" || is["severity"] != "error" {
				t.Errorf("issue %v", is)
			}
			if exprs := toStrings(is["expression"]); !slices.Contains(exprs, tc.expression) {
				t.Errorf("expression %v, want %s", exprs, tc.expression)
			}
			if strings.Contains(string(got.Body), "9691003121") {
				t.Error("the error repeats the NHS number")
			}
		})
	}
}

func TestFormats(t *testing.T) {
	a := start(t, setup{})
	path := search(sandbox.PatientAcuteAndRepeat)
	for _, tc := range []struct {
		name    string
		query   string
		headers []string
		want    int
	}{
		{"_format=json is served", "&_format=json", nil, http.StatusOK},
		{"_format=application/fhir+json is served", "&_format=" + url.QueryEscape("application/fhir+json"), nil, http.StatusOK},
		{"Accept application/fhir+json is served", "", []string{"Accept", "application/fhir+json"}, http.StatusOK},
		{"Accept */* is served", "", []string{"Accept", "*/*"}, http.StatusOK},
		{"_format=xml is a 406", "&_format=xml", nil, http.StatusNotAcceptable},
		{"Accept application/fhir+xml is a 406", "", []string{"Accept", "application/fhir+xml"}, http.StatusNotAcceptable},
		{"Accept text/html is a 406", "", []string{"Accept", "text/html"}, http.StatusNotAcceptable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := a.get(t, path+tc.query, tc.headers...)
			if got.Status != tc.want {
				t.Fatalf("status %d, want %d: %.300s", got.Status, tc.want, got.Body)
			}
			if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.want == http.StatusNotAcceptable {
				if is := issue(t, got); is["code"] != "not-supported" {
					t.Errorf("issue %v", is)
				}
			}
		})
	}

	t.Run("a client asking for application/json gets it, the same FHIR JSON under its own ETag", func(t *testing.T) {
		fhirJSON := a.get(t, path)
		for _, accept := range []string{"application/json", "application/fhir+json;q=0, */*"} {
			got := a.get(t, path, "Accept", accept)
			if got.Status != http.StatusOK || !strings.HasPrefix(got.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Accept %s: status %d, Content-Type %q; want 200 application/json", accept, got.Status, got.Header.Get("Content-Type"))
				continue
			}
			if string(got.Body) != string(fhirJSON.Body) {
				t.Errorf("Accept %s: the body differs from the application/fhir+json answer's", accept)
			}
			if got.Header.Get("ETag") == fhirJSON.Header.Get("ETag") || got.Header.Get("ETag") == "" {
				t.Errorf("Accept %s: ETag %q, want one of its own (not %q)", accept, got.Header.Get("ETag"), fhirJSON.Header.Get("ETag"))
			}
		}
		if got := a.get(t, path+"&_format="+url.QueryEscape("application/json")); !strings.HasPrefix(got.Header.Get("Content-Type"), "application/json") {
			t.Errorf("_format=application/json: Content-Type %q", got.Header.Get("Content-Type"))
		}
		if got := a.get(t, path, "Accept", "application/json"); !slices.Contains(got.Header.Values("Vary"), "Accept") {
			t.Errorf("Vary %v: the answer depends on Accept and does not say so", got.Header.Values("Vary"))
		}
		// Errors are always application/fhir+json (FHIR-API.md), whatever the client accepts.
		for _, h := range [][]string{{"Accept", "application/json", "Authorization", ""}, {"Accept", "application/json"}} {
			p := path
			if len(h) == 2 {
				p = "/MedicationRequest?patient=not-an-nhs-number" // a 400
			}
			got := a.get(t, p, h...)
			if got.Status < 400 || !strings.HasPrefix(got.Header.Get("Content-Type"), "application/fhir+json") {
				t.Errorf("%s %v: status %d, Content-Type %q; want an error in application/fhir+json", p, h, got.Status, got.Header.Get("Content-Type"))
			}
		}
	})

	t.Run("_pretty=true indents the same resource", func(t *testing.T) {
		compact := a.get(t, path)
		pretty := a.get(t, path+"&_pretty=true")
		if !strings.Contains(string(pretty.Body), "\n  ") || strings.Contains(string(compact.Body), "\n") {
			t.Errorf("pretty %d bytes, compact %d bytes: indentation not as asked", len(pretty.Body), len(compact.Body))
		}
		if !slices.Equal(ids(pretty.JSON, "match"), ids(compact.JSON, "match")) {
			t.Error("pretty and compact answers differ")
		}
	})
}

func TestSpineFailures(t *testing.T) {
	a := start(t, setup{timeout: 2500 * time.Millisecond}) // the latency patient answers after 1 s
	for _, tc := range []struct {
		name    string
		patient string
		status  int
		codes   []string
	}{
		{"Spine answering slowly within the deadline is still a 200", sandbox.PatientFaultLatency, http.StatusOK, nil},
		{"Spine answering HTTP 500 is a 502", sandbox.PatientFaultHTTP500, http.StatusBadGateway, []string{"transient", "exception"}},
		{"Spine sending malformed JSON is a 502", sandbox.PatientFaultMalformed, http.StatusBadGateway, []string{"transient", "exception"}},
		{"Spine's statusCode 5 is a 502", sandbox.PatientFaultStatus5, http.StatusBadGateway, []string{"exception"}},
		{"Spine dropping the connection is a 502", sandbox.PatientFaultReset, http.StatusBadGateway, []string{"transient", "exception"}},
		{"Spine hanging is a 504", sandbox.PatientFaultHang, http.StatusGatewayTimeout, []string{"timeout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := a.get(t, search(tc.patient))
			if got.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", got.Status, tc.status, got.Body)
			}
			if tc.codes == nil {
				return
			}
			is := issue(t, got)
			if !slices.Contains(tc.codes, is["code"].(string)) {
				t.Errorf("issue code %v, want one of %v", is["code"], tc.codes)
			}
			if d, _ := is["diagnostics"].(string); strings.Contains(d, "127.0.0.1") || strings.Contains(d, ".go:") {
				t.Errorf("diagnostics leak internals: %s", d)
			}
		})
	}

	t.Run("a read while Spine fails is a 502, not a 404", func(t *testing.T) {
		a.Spine.Sandbox.SetFault(sandbox.Fault{Kind: sandbox.FaultHTTP500})
		defer a.Spine.Sandbox.SetFault(sandbox.Fault{})
		got := a.get(t, "/MedicationRequest/"+sandbox.RxAcuteDispensed+"-1-1")
		if got.Status != http.StatusBadGateway {
			t.Errorf("status %d, want 502", got.Status)
		}
	})
}

func TestPartialFanOut(t *testing.T) {
	// A tracker whose search works and whose retrieves fail: the fan-out degrades, the search stands.
	a := start(t, setup{})
	b := start(t, setup{tracker: fakeTracker{
		search: a.Client.Search,
		retrieve: func(context.Context, tracker.Caller, tracker.RetrieveQuery) (*tracker.Prescription, error) {
			return nil, &tracker.Error{Kind: tracker.ErrUpstream, Interaction: "retrieve", Reason: "test"}
		},
	}})
	got := b.get(t, search(sandbox.PatientAcuteAndRepeat, "_include=MedicationRequest:requester"))
	if got.Status != http.StatusOK {
		t.Fatalf("status %d: %s", got.Status, got.Body)
	}
	var warned bool
	for _, e := range entries(got.JSON, "outcome") {
		for _, is := range resource(e)["issue"].([]any) {
			if is.(map[string]any)["severity"] == "warning" {
				warned = true
			}
		}
	}
	if !warned {
		t.Error("no warning outcome for the partial result")
	}
	if len(entries(got.JSON, "include")) != 0 {
		t.Error("organisations included although no retrieve worked")
	}
	for _, e := range entries(got.JSON, "match") {
		if meta, _ := resource(e)["meta"].(map[string]any); meta["tag"] == nil {
			t.Errorf("%v is not in summary form", resource(e)["id"])
		}
	}
}

func TestSpineRejectingOurRequest(t *testing.T) {
	a := start(t, setup{tracker: fakeTracker{
		search: func(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.SearchResult, error) {
			return nil, &tracker.Error{Kind: tracker.ErrRejected, Interaction: "search", StatusCode: "53", Reason: "Invalid ASID"}
		},
	}})
	got := a.get(t, search(sandbox.PatientAcuteAndRepeat))
	if got.Status != http.StatusBadGateway {
		t.Fatalf("status %d, want 502: %s", got.Status, got.Body)
	}
	if is := issue(t, got); is["code"] != "exception" {
		t.Errorf("issue %v", is)
	}
}

func TestSpineRefusingAParameter(t *testing.T) {
	a := start(t, setup{tracker: fakeTracker{
		search: func(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.SearchResult, error) {
			return nil, &tracker.Error{Kind: tracker.ErrInvalidRequest, Interaction: "search", StatusCode: "57", Reason: "Invalid search date"}
		},
	}})
	got := a.get(t, search(sandbox.PatientAcuteAndRepeat))
	if got.Status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", got.Status)
	}
	if is := issue(t, got); is["code"] != "invalid" || !strings.Contains(is["diagnostics"].(string), "57") {
		t.Errorf("issue %v", is)
	}
}

func TestAPanicIsA500ThatLeaksNothing(t *testing.T) {
	a := start(t, setup{tracker: fakeTracker{
		search: func(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.SearchResult, error) {
			panic("secret internal state 0xdeadbeef")
		},
	}})
	got := a.get(t, search(sandbox.PatientAcuteAndRepeat))
	if got.Status != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", got.Status)
	}
	if is := issue(t, got); is["code"] != "exception" {
		t.Errorf("issue %v", is)
	}
	if strings.Contains(string(got.Body), "deadbeef") {
		t.Error("the panic's text reached the client")
	}
	if again := a.get(t, "/metadata"); again.Status != http.StatusOK {
		t.Errorf("the server did not survive the panic: %d", again.Status)
	}
}

func TestHTTPEdges(t *testing.T) {
	a := start(t, setup{})

	t.Run("a request id is generated and echoed, a client's kept", func(t *testing.T) {
		got := a.get(t, "/metadata")
		if id := got.Header.Get("X-Request-ID"); len(id) != 36 {
			t.Errorf("generated X-Request-ID %q", id)
		}
		got = a.get(t, "/metadata", "X-Request-ID", "abc-123", "X-Correlation-ID", "corr-9")
		if got.Header.Get("X-Request-ID") != "abc-123" || got.Header.Get("X-Correlation-ID") != "corr-9" {
			t.Errorf("headers %v", got.Header)
		}
		got = a.get(t, "/metadata", "X-Request-ID", "bad id with spaces")
		if got.Header.Get("X-Request-ID") == "bad id with spaces" {
			t.Error("an unsafe request id was echoed")
		}
	})

	t.Run("a write is a 405", func(t *testing.T) {
		res, err := http.Post(a.URL+"/MedicationRequest", "application/fhir+json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("status %d, want 405", res.StatusCode)
		}
		if allow := res.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "HEAD") {
			t.Errorf("Allow %q, want GET and HEAD", allow)
		}
	})

	// HEAD is GET without the body (RFC 9110 9.3.2): the same status and headers, and on patient data
	// the same authentication and audit record.
	t.Run("HEAD answers as GET does, without a body", func(t *testing.T) {
		for _, path := range []string{"/metadata", "/MedicationRequest/" + sandbox.RxAcuteDispensed + "-1-1",
			search(sandbox.PatientAcuteAndRepeat), "/Patient/" + sandbox.PatientAcuteAndRepeat} {
			get := a.get(t, path)
			req, _ := http.NewRequest(http.MethodHead, a.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+a.Token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != get.Status || len(body) != 0 || res.Header.Get("Content-Type") != get.Header.Get("Content-Type") ||
				res.Header.Get("ETag") != get.Header.Get("ETag") {
				t.Errorf("HEAD %s: %d, %d bytes, %q %q; GET: %d, %q %q", path, res.StatusCode, len(body),
					res.Header.Get("Content-Type"), res.Header.Get("ETag"), get.Status, get.Header.Get("Content-Type"), get.Header.Get("ETag"))
			}
		}
		if res, err := http.Head(strings.TrimSuffix(a.URL, "/FHIR/R4") + "/healthz"); err != nil || res.StatusCode != http.StatusOK {
			t.Errorf("HEAD /healthz, as load balancers ask: %v %v", res, err)
		} else {
			res.Body.Close()
		}
		req, _ := http.NewRequest(http.MethodHead, a.URL+"/Patient/"+sandbox.PatientRepeatDispensing, nil)
		req.Header.Set("Authorization", "Bearer "+a.Token)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		if r := a.lastRecord(t); r.ResourceType != "Patient" || r.PatientNHS != sandbox.PatientRepeatDispensing || r.Status != http.StatusOK {
			t.Errorf("a HEAD of patient data is recorded as %+v", r.Event)
		}
		req, _ = http.NewRequest(http.MethodHead, a.URL+"/Patient/"+sandbox.PatientRepeatDispensing, nil)
		if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
			t.Errorf("a HEAD without a token: %v %v", res, err)
		} else {
			res.Body.Close()
		}
	})

	t.Run("an unknown resource type is a 404 OperationOutcome", func(t *testing.T) {
		got := a.get(t, "/Observation?patient=9691003120")
		if got.Status != http.StatusNotFound {
			t.Fatalf("status %d", got.Status)
		}
		if is := issue(t, got); is["code"] != "not-found" {
			t.Errorf("issue %v", is)
		}
	})

	t.Run("an over-long URL is a 414", func(t *testing.T) {
		got := a.get(t, search(sandbox.PatientAcuteAndRepeat, "x="+strings.Repeat("a", 5000)))
		if got.Status != http.StatusRequestURITooLong {
			t.Fatalf("status %d, want 414", got.Status)
		}
		issue(t, got)
	})

	t.Run("health and readiness answer", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz"} {
			res, err := http.Get(strings.TrimSuffix(a.URL, "/FHIR/R4") + p)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("%s: %d", p, res.StatusCode)
			}
		}
	})
}

// fakeTracker is a function-field fake of the routes' Tracker interface, for the failures the real
// sandbox cannot produce on demand.
type fakeTracker struct {
	search   func(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.SearchResult, error)
	retrieve func(context.Context, tracker.Caller, tracker.RetrieveQuery) (*tracker.Prescription, error)
}

func (f fakeTracker) Search(ctx context.Context, who tracker.Caller, q tracker.SearchQuery) (*tracker.SearchResult, error) {
	return f.search(ctx, who, q)
}

func (f fakeTracker) Retrieve(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (*tracker.Prescription, error) {
	if f.retrieve == nil {
		return nil, &tracker.Error{Kind: tracker.ErrNotFound, Interaction: "retrieve"}
	}
	return f.retrieve(ctx, who, q)
}

func (f fakeTracker) ItemDetails(context.Context, tracker.Caller, tracker.DetailQuery) (*tracker.PrescriptionDetail, error) {
	return nil, &tracker.Error{Kind: tracker.ErrUpstream, Interaction: "nhs111itemdetails"}
}

func (f fakeTracker) ItemSummary(context.Context, tracker.Caller, tracker.SearchQuery) (*tracker.ItemSummaryResult, error) {
	return nil, &tracker.Error{Kind: tracker.ErrUpstream, Interaction: "nhs111itemsummary"}
}
