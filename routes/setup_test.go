package routes_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/telemetry"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

var _ routes.Tracker = (*tracker.Client)(nil)

// now is the clock both the sandbox and the adapter run on, so the data set's dates are fixed.
var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type adapter struct {
	URL     string // the FHIR base, e.g. http://127.0.0.1:PORT/FHIR/R4
	Spine   *sandbox.Server
	Client  *tracker.Client // the real client, talking to Spine
	Handler http.Handler
	Issuer  *auth.Issuer                // the sandbox issuer the adapter trusts
	Audit   *audit.Store                // the adapter's audit trail (SQLite in the test's folder)
	Token   string                      // the sandbox prescriber's access token, sent by get unless told otherwise
	Spans   *tracetest.InMemoryExporter // with setup.traced
	Metrics *sdkmetric.ManualReader     // with setup.traced
	Logs    *syncBuffer                 // with setup.traced: the routes' JSON log lines
}

// syncBuffer is a log destination several goroutines write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tokenFor mints an access token for a sandbox user.
func (a *adapter) tokenFor(t testing.TB, userID string, scopes ...string) string {
	t.Helper()
	tok, err := a.Issuer.Mint(userID, "", scopes, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// auditRecords returns every access record, oldest first.
func (a *adapter) auditRecords(t testing.TB) []audit.Record {
	t.Helper()
	recs, _, err := a.Audit.Search(context.Background(), audit.Query{Count: audit.MaxCount, Since: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(recs)
	return recs
}

type setup struct {
	detailed bool
	strict   bool           // the sandbox requires user and role
	timeout  time.Duration  // the Spine client's deadline per call
	budget   time.Duration  // the routes' RequestTimeout
	tracker  routes.Tracker // replaces the real client, for failures the sandbox cannot make
	answers  routes.Answers // the answer cache; nil for none
	// configure changes the routes' configuration before the router is built.
	configure func(*routes.Config)
	traced    bool // record spans and metrics in memory (adapter.Spans, adapter.Metrics)
	// spine changes the tracker client's configuration (concurrency, breaker) before it is built.
	spine  func(*tracker.Config)
	cached bool // put the cache decorator between the routes and the tracker client
	noMemo bool // no entry memo: every answer mapped and marshalled afresh
}

// start runs the real sandbox over mutual TLS, the real tracker client and the real router.
func start(t testing.TB, s setup) *adapter {
	t.Helper()
	spine, err := sandbox.Start(sandbox.Options{Now: func() time.Time { return now }, Strict: s.strict}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = spine.Close(context.Background()) })

	tlsConfig, err := tracker.TLSConfigFromPEM(spine.Certs.ClientCertPEM, spine.Certs.ClientKeyPEM, spine.Certs.CAPEM)
	if err != nil {
		t.Fatal(err)
	}
	if s.timeout == 0 {
		s.timeout = 3 * time.Second
	}
	tcfg := tracker.Config{
		BaseURL: spine.URL, ASID: "200000000946", Timeout: s.timeout, RetryBackoff: time.Millisecond,
	}
	var (
		spans   *tracetest.InMemoryExporter
		metrics *sdkmetric.ManualReader
		tp      trace.TracerProvider
		mp      metric.MeterProvider
	)
	if s.spine != nil {
		s.spine(&tcfg)
	}
	if s.traced {
		spans, metrics = tracetest.NewInMemoryExporter(), sdkmetric.NewManualReader()
		tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
		mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(metrics))
		tcfg.TracerProvider, tcfg.MeterProvider = tp, mp
	}
	hc := tracker.NewHTTPClient(tlsConfig)
	// Before the sandbox shuts down (cleanups run last first): a connection a concurrent fan-out
	// dialled but never used is new to the sandbox's server, whose Shutdown waits five seconds for it.
	t.Cleanup(hc.CloseIdleConnections)
	client, err := tracker.New(tcfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	var tr routes.Tracker = client
	if s.tracker != nil {
		tr = s.tracker
	}
	if s.cached {
		c, err := cache.New(tr, cache.Config{TTL: time.Minute}, tp, mp)
		if err != nil {
			t.Fatal(err)
		}
		tr = c
	}
	enc, err := fhir.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	base := srv.URL + "/FHIR/R4"
	cfg := routes.Config{
		BaseURL:        base,
		Detailed:       s.detailed,
		Now:            func() time.Time { return now },
		RequestTimeout: s.budget,
	}
	if s.configure != nil {
		s.configure(&cfg)
	}
	var (
		logs   *syncBuffer
		logger *slog.Logger
	)
	if s.traced {
		logs = &syncBuffer{}
		logger = slog.New(telemetry.TraceHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	}
	dir := t.TempDir()
	issuer, err := auth.OpenIssuer(dir, srv.URL+"/oauth2", base)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(context.Background(), issuer.Config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := audit.ParseKeys("test:" + base64.StdEncoding.EncodeToString([]byte("a test key of thirty-two bytes!!")))
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.Open(context.Background(), audit.Config{DSN: filepath.Join(dir, "audit.db"), Keys: keys, Instance: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = trail.Close() })
	// Every test runs with the entry memo unless told otherwise, so that every answer below is also
	// a test of it.
	var memo *routes.EntryMemo
	if !s.noMemo {
		if memo, err = routes.NewEntryMemo(cache.Config{TTL: 5 * time.Minute}, mp); err != nil {
			t.Fatal(err)
		}
	}
	h, err := routes.New(cfg, routes.Deps{Tracker: tr, Encoder: enc, Auth: verifier, Audit: trail, Trail: trail,
		Answers: s.answers, Memo: memo, Tracing: tp, Meters: mp, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	a := &adapter{URL: base, Spine: spine, Client: client, Handler: h, Issuer: issuer, Audit: trail,
		Spans: spans, Metrics: metrics, Logs: logs}
	a.Token = a.tokenFor(t, prescriber)
	return a
}

// The sandbox issuer's users (docs/sandbox-users.md).
const (
	prescriber    = "555555555555"
	pharmacist    = "555555555556"
	administrator = "555555555557"
	auditor       = "555555555558"
	patientApp    = "555555555559"
	nurse         = "555555555560" // clinical, password login: no smartcard
)

type answer struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// get requests path (relative to the FHIR base, or absolute) with optional header pairs.
func (a *adapter) get(t testing.TB, path string, headers ...string) answer {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = a.URL + path
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
		if headers[i] == "Authorization" && headers[i+1] == "" {
			req.Header.Del("Authorization")
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	ans := answer{Status: res.StatusCode, Header: res.Header, Body: body}
	if len(body) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/fhir+json") {
		if err := json.Unmarshal(body, &ans.JSON); err != nil {
			t.Fatalf("GET %s: body is not JSON: %v\n%s", path, err, body)
		}
		validate(t, body)
	}
	return ans
}

var (
	r4        = must(jsonformat.NewUnmarshaller("UTC", fhirversion.R4))
	r4Compact = must(jsonformat.NewMarshaller(false, "", "", fhirversion.R4))
	r4Pretty  = must(jsonformat.NewPrettyMarshaller(fhirversion.R4))
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// validate checks a FHIR answer with google/fhir's R4 validation, and that jsonformat, the reference
// the fast encoder and the entry memo must match, writes the same resource byte for byte as the
// adapter did: the differential test over every answer the routes tests produce.
func validate(t testing.TB, body []byte) {
	t.Helper()
	res, err := r4.Unmarshal(body)
	if err != nil {
		t.Errorf("answer fails R4 validation: %v\n%.2000s", err, body)
		return
	}
	m := r4Compact
	if bytes.HasPrefix(body, []byte("{\n")) {
		m = r4Pretty
	}
	want, err := m.Marshal(res)
	if err != nil {
		t.Fatalf("jsonformat cannot marshal the answer: %v", err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("answer differs from jsonformat's marshalling of it:\n got %.3000s\nwant %.3000s", body, want)
	}
}

// search is a patient search with extra parameters.
func search(nhs string, extra ...string) string {
	q := "/MedicationRequest?patient:identifier=" + url.QueryEscape("https://fhir.nhs.uk/Id/nhs-number|"+nhs)
	for _, e := range extra {
		q += "&" + e
	}
	return q
}

// entries returns the bundle's entries of one search mode ("match", "include", "outcome").
func entries(b map[string]any, mode string) []map[string]any {
	var out []map[string]any
	list, _ := b["entry"].([]any)
	for _, e := range list {
		em := e.(map[string]any)
		if s, _ := em["search"].(map[string]any); s["mode"] == mode {
			out = append(out, em)
		}
	}
	return out
}

func resource(e map[string]any) map[string]any { return e["resource"].(map[string]any) }

func ids(b map[string]any, mode string) []string {
	var out []string
	for _, e := range entries(b, mode) {
		r := resource(e)
		out = append(out, r["resourceType"].(string)+"/"+r["id"].(string))
	}
	return out
}

func total(b map[string]any) int {
	n, _ := b["total"].(float64)
	return int(n)
}

func link(b map[string]any, rel string) string {
	list, _ := b["link"].([]any)
	for _, l := range list {
		lm := l.(map[string]any)
		if lm["relation"] == rel {
			return lm["url"].(string)
		}
	}
	return ""
}

// issue returns the first OperationOutcome issue of an error answer.
func issue(t testing.TB, a answer) map[string]any {
	t.Helper()
	if a.JSON["resourceType"] != "OperationOutcome" {
		t.Fatalf("want an OperationOutcome, got %d %s", a.Status, a.Body)
	}
	return a.JSON["issue"].([]any)[0].(map[string]any)
}

func groupedBy[T any](list []T, key func(T) string) map[string][]T {
	m := make(map[string][]T)
	for _, v := range list {
		m[key(v)] = append(m[key(v)], v)
	}
	return m
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}
