package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	_ "modernc.org/sqlite"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/config"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // as main does
	if os.Getenv("EPS_TEST_RUN_ADAPTER") == "1" {
		// Re-executed by a test that needs the adapter in a process of its own (to kill it).
		if err := run(context.Background(), nil, os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startRun runs the adapter as main would, on a free port, and returns the FHIR base it printed.
func startRun(t *testing.T, env map[string]string, args ...string) (base string, out *strings.Builder, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := run(ctx, args, func(k string) string { return env[k] }, pw, io.Discard)
		pw.CloseWithError(io.EOF)
		errc <- err
	}()
	out = &strings.Builder{}
	out.WriteString(readWelcome(pr))
	base = welcomeValue(out.String(), "FHIR base:")
	if base == "" {
		cancel()
		t.Fatalf("run printed no FHIR base: %v (%s)", <-errc, out)
	}
	t.Cleanup(cancel)
	stopped := make(chan error, 1)
	go func() { stopped <- <-errc }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("run returned %v after shutdown", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not return after its context was cancelled")
		}
	})
	return base, out, stopped
}

// testEnv is the environment of an adapter run in a test: free ports, its own state folder, and no
// grace period on shutdown.
func testEnv(t *testing.T, extra ...string) map[string]string {
	env := map[string]string{
		"EPS_FHIR_ADDR": "127.0.0.1:0", "EPS_ADMIN_ADDR": "127.0.0.1:0",
		"EPS_STATE_DIR": t.TempDir(), "EPS_SHUTDOWN_GRACE": "0s",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

// readWelcome reads the adapter's welcome, which ends with the Capability line, and lets the rest of
// r go.
func readWelcome(r io.Reader) string {
	var welcome strings.Builder
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		welcome.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "Capability:") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	return welcome.String()
}

// welcomeValue is what the welcome prints after label (e.g. "Token:").
func welcomeValue(out, label string) string {
	for _, line := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(line, label); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

func TestRunServesFHIRFromTheEmbeddedSandbox(t *testing.T) {
	base, out, _ := startRun(t, testEnv(t))

	res, err := http.Get(strings.TrimSuffix(base, "/FHIR/R4") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", res.StatusCode)
	}

	if got := welcomeValue(out.String(), "Transport:"); got != "plain HTTP on loopback only" {
		t.Errorf("the welcome's transport is %q, want plain HTTP on loopback only", got)
	}

	// The welcome names a token and a ready-to-paste curl: the search it shows must return a Bundle,
	// and without the token a 401.
	token := strings.TrimPrefix(welcomeValue(out.String(), "Token:"), "TOKEN=")
	try := welcomeValue(out.String(), "Try:")
	_, quoted, ok := strings.Cut(try, "'")
	if !ok || token == "" || !strings.Contains(try, `Authorization: Bearer $TOKEN`) {
		t.Fatalf("no token or curl in the welcome:\n%s", out)
	}
	target := strings.TrimSuffix(quoted, "'")
	res, err = http.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("without a token: %d %q, want 401 with WWW-Authenticate: Bearer", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b struct {
		ResourceType string
		Total        int
	}
	if err := json.NewDecoder(res.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || b.ResourceType != "Bundle" || b.Total == 0 {
		t.Errorf("the welcome's curl gave %d %s with %d entries", res.StatusCode, b.ResourceType, b.Total)
	}
}

func TestRunRefusesInvalidConfigurationListingEveryProblem(t *testing.T) {
	err := run(context.Background(), nil, func(k string) string {
		return map[string]string{"SPINE_BASE_URL": "http://spine", "SPINE_ASID": "1"}[k]
	}, io.Discard, io.Discard)
	for _, want := range []string{"EPS_AUTH_ISSUER", "EPS_AUTH_AUDIENCE", "EPS_AUDIT_KEY"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("outside sandbox mode authentication and audit cannot be left out: error does not mention %s", want)
		}
	}
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"SPINE_BASE_URL", "SPINE_CLIENT_CERT", "SPINE_ASID"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestRunSandboxWritesClientFiles(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	pr, pw := io.Pipe()
	go func() {
		errc <- run(ctx, []string{"sandbox", "--addr", "127.0.0.1:0", "--certs", dir}, os.Getenv, pw, io.Discard)
	}()
	// Wait for the sandbox to say it is serving, then check what a client needs is there.
	lines := bufio.NewScanner(pr)
	for lines.Scan() && !strings.Contains(lines.Text(), "curl") {
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	for _, f := range []string{"ca.pem", "client.pem", "client-key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("sandbox returned %v", err)
	}
}

func TestShutdownTurnsReadinessOffBeforeTheListenerCloses(t *testing.T) {
	env := testEnv(t, "EPS_SHUTDOWN_GRACE", "2s")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, nil, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	var base string
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(lines.Text()), "FHIR base:"); ok {
			base = strings.TrimSpace(rest)
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	root := strings.TrimSuffix(base, "/FHIR/R4")
	status := func() int {
		res, err := http.Get(root + "/readyz")
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := status(); got != http.StatusOK {
		t.Fatalf("readyz before shutdown: %d", got)
	}
	cancel()
	sawUnready := false
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s := status()
		if s == http.StatusServiceUnavailable {
			sawUnready = true
		}
		if s == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !sawUnready {
		t.Error("readyz never said 503 before the listener closed")
	}
	if err := <-errc; err != nil {
		t.Errorf("run: %v", err)
	}
}

func TestAnAuditRecordSurvivesTheProcessBeingKilled(t *testing.T) {
	env := testEnv(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EPS_TEST_RUN_ADAPTER=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	welcome := readWelcome(out)
	base := welcomeValue(welcome, "FHIR base:")
	token := strings.TrimPrefix(welcomeValue(welcome, "Token:"), "TOKEN=")
	if base == "" || token == "" {
		t.Fatalf("no base or token in the welcome:\n%s", welcome)
	}

	req, _ := http.NewRequest(http.MethodGet, base+"/MedicationRequest?patient=9691003120", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Request-ID", "killed-right-after")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// The trail, opened afresh as another process would, holds the record and verifies.
	key, err := os.ReadFile(filepath.Join(env["EPS_STATE_DIR"], "sandbox-audit-key"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := audit.ParseKeys(strings.TrimSpace(string(key)))
	if err != nil {
		t.Fatal(err)
	}
	store, err := audit.Open(context.Background(), audit.Config{DSN: filepath.Join(env["EPS_STATE_DIR"], "audit.db"), Keys: keys, Instance: "verifier"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	recs, _, err := store.Search(context.Background(), audit.Query{PatientNHS: "9691003120"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		found = found || r.RequestID == "killed-right-after" && r.Status == http.StatusOK
	}
	if !found {
		t.Errorf("the answered request's audit record is gone after SIGKILL (%d records)", len(recs))
	}
	if rep, err := store.Verify(context.Background()); err != nil || !rep.OK() {
		t.Errorf("verify after SIGKILL: %v %+v", err, rep)
	}
}

func TestMetricsOnTheAdminListener(t *testing.T) {
	base, out, _ := startRun(t, testEnv(t))
	token := strings.TrimPrefix(welcomeValue(out.String(), "Token:"), "TOKEN=")
	metricsURL := welcomeValue(out.String(), "Metrics:")
	for _, path := range []string{"/MedicationRequest?patient=9691003120", "/MedicationRequest?patient=9691003120", "/MedicationRequest/3AF2CB-C86002-0000BX-1-1"} {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if res, err := http.Get(strings.TrimSuffix(base, "/FHIR/R4") + "/metrics"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Error("/metrics answers on the FHIR port")
		}
	}
	res, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	text := string(b)
	for _, want := range []string{"http_server_request_duration", "spine_client_call_duration", "cache_lookups",
		"fhir_encoder_fallbacks", "audit_records", "http_server_active_requests"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	for _, id := range []string{"9691003120", "3AF2CB", "3af2cb"} {
		if strings.Contains(text, id) {
			t.Errorf("/metrics holds an identifier %q", id)
		}
	}
}

// TestTokenAndAuditVerifyCommands runs the two subcommands as a user would beside a running sandbox
// adapter: `token` prints a token the server accepts, and `audit verify` checks the trail the server
// wrote, naming a record changed behind its back.
func TestTokenAndAuditVerifyCommands(t *testing.T) {
	env := testEnv(t)
	getenv := func(k string) string { return env[k] }
	base, _, _ := startRun(t, env)

	// The token command names the issuer from configuration; this server listens on a port the
	// kernel picked, so the command is told its base, as EPS_FHIR_BASE_URL tells a deployment's.
	env["EPS_FHIR_BASE_URL"] = base
	var tok strings.Builder
	if err := run(context.Background(), []string{"token", "--user", "555555555556"}, getenv, &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	if status := searchWithToken(t, base, tok.String()); status != http.StatusOK {
		t.Fatalf("the token command's token: %d", status)
	}

	var out strings.Builder
	if err := run(context.Background(), []string{"audit", "verify"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "BROKEN") || strings.Contains(out.String(), "no audit records") {
		t.Errorf("audit verify on an untouched trail:\n%s", out.String())
	}

	// Change a record directly in the database: verify names the break.
	db, err := sql.Open("sqlite", filepath.Join(env["EPS_STATE_DIR"], "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_records SET user_id = '555555555557' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = run(context.Background(), []string{"audit", "verify"}, getenv, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "BROKEN") {
		t.Errorf("audit verify after tampering: %v\n%s", err, out.String())
	}
}

// TestTuneCollectorKeepsWhatTheEnvironmentSets: unset, GOGC and GOMEMLIMIT get the adapter's
// defaults; set, they are left as the runtime read them.
// TestTheWelcomeSaysHowTheFHIRPortIsServed: HTTPS, plain HTTP behind a proxy, or loopback only.
func TestTheWelcomeSaysHowTheFHIRPortIsServed(t *testing.T) {
	for _, c := range []struct {
		cfg  config.Config
		want string
	}{
		{config.Config{Addr: "127.0.0.1:8080"}, "plain HTTP on loopback only"},
		{config.Config{Addr: "0.0.0.0:8080", AllowPlainHTTP: true}, "plain HTTP, relying on a TLS-terminating proxy in front (EPS_FHIR_ALLOW_PLAIN_HTTP)"},
		{config.Config{Addr: "0.0.0.0:8443", TLSCert: "cert.pem", TLSKey: "key.pem"}, "HTTPS (EPS_FHIR_TLS_CERT)"},
	} {
		if got := transport(&c.cfg); got != c.want {
			t.Errorf("%+v: transport %q, want %q", c.cfg, got, c.want)
		}
	}
}

func TestTuneCollectorKeepsWhatTheEnvironmentSets(t *testing.T) {
	prevPercent, prevLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) })

	tuneCollector(func(string) string { return "" })
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != defaultMemoryLimit {
		t.Errorf("GOMEMLIMIT unset: memory limit %d, want %d", got, defaultMemoryLimit)
	}

	set := map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}
	tuneCollector(func(k string) string { return set[k] })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent changed to %d", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: memory limit changed to %d", got)
	}
}

// TestShutdownLetsARequestUseItsWholeBudget: a search in flight when shutdown begins, slower than the
// 10 s shutdown used to wait but within its own budget (2 × SPINE_TIMEOUT + 2 s), still gets its
// answer, and run returns cleanly after it.
func TestShutdownLetsARequestUseItsWholeBudget(t *testing.T) {
	control := filepath.Join(t.TempDir(), "control")
	if err := os.WriteFile(control, []byte("latency=11s"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, "SPINE_TIMEOUT", "15s", "EPS_SANDBOX_CONTROL", control, "EPS_CACHE_TTL", "0s",
		"SPINE_DETAILED_INTERACTIONS", "false") // one Spine call of 11 s, not two
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, nil, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	welcome := readWelcome(pr)
	base := welcomeValue(welcome, "FHIR base:")
	token := strings.TrimPrefix(welcomeValue(welcome, "Token:"), "TOKEN=")
	if base == "" || token == "" {
		t.Fatalf("no base or token in the welcome:\n%s", welcome)
	}
	type result struct {
		status int
		err    error
	}
	answered := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, base+"/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C9691003120&_summary=true", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- result{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		answered <- result{status: res.StatusCode}
	}()
	time.Sleep(500 * time.Millisecond) // the search is waiting for Spine
	cancel()                           // SIGTERM
	r := <-answered
	if r.err != nil || r.status != http.StatusOK {
		t.Errorf("the search in flight at shutdown: %d %v, want 200", r.status, r.err)
	}
	if err := <-errc; err != nil {
		t.Errorf("run returned %v", err)
	}
}

// token and audit verify take the server's flags as well as their own, so that they mean the server
// started with them: a token minted with `token --base-url B` is accepted by a server whose base is
// B, and `audit verify --state-dir D` reads D's trail (both ignored the server's flags, and their
// tokens were refused by a server started with flags). token's own word for a real Spine comes
// before that configuration's problems.
func TestTheSubcommandsTakeTheServersFlags(t *testing.T) {
	env := testEnv(t)
	base, _, _ := startRun(t, env)
	dir := env["EPS_STATE_DIR"]
	bareenv := func(string) string { return "" } // the flags alone say which server

	var tok strings.Builder
	if err := run(context.Background(), []string{"token", "--base-url", base, "--user", "555555555556", "--state-dir=" + dir}, bareenv, &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	if status := searchWithToken(t, base, tok.String()); status != http.StatusOK {
		t.Errorf("a token minted with the server's --base-url and --state-dir: %d", status)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"audit", "verify", "--state-dir", dir}, bareenv, &out, io.Discard); err != nil || !strings.Contains(out.String(), "ok chain") {
		t.Errorf("audit verify --state-dir: %v\n%s", err, out.String())
	}
	real := func(k string) string {
		if k == "SPINE_BASE_URL" {
			return "https://spine.example"
		}
		return ""
	}
	if err := run(context.Background(), []string{"token"}, real, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "exists only with the embedded sandbox") {
		t.Errorf("token against a real Spine: %v", err)
	}
}

// SMART App Launch 2's aud is the FHIR server's base URL. The sandbox issuer compared it with the token
// audience, so a sandbox started with its own EPS_AUTH_AUDIENCE refused every SMART app, which sends
// aud = the base it calls (fhirclient does).
func TestTheSandboxAuthorizeTakesTheBaseURLAsAud(t *testing.T) {
	env := testEnv(t, "EPS_AUTH_AUDIENCE", "api://eps-fhir-tracker")
	base, _, _ := startRun(t, env)
	u, _ := url.Parse(base)
	sum := sha256.Sum256([]byte("verifier"))
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"http://127.0.0.1:9999/cb"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"state": {"s"}, "scope": {"user/*.rs"}, "aud": {base}}
	resp, err := http.Get(u.Scheme + "://" + u.Host + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("authorize with aud = the FHIR base %s: %d %s", base, resp.StatusCode, strings.TrimSpace(string(body)))
	}
}

// token says it needs the embedded sandbox only when the effective SPINE_BASE_URL names a Spine: a
// --spine-base-url= overriding the environment's means the sandbox, and the real problem is shown.
func TestTokensSandboxCheckHonoursTheFlagOverride(t *testing.T) {
	env := func(k string) string {
		if k == "SPINE_BASE_URL" {
			return "https://spine.example"
		}
		return ""
	}
	err := run(context.Background(), []string{"token", "--spine-base-url=", "--state-dir", t.TempDir(), "--addr", "nonsense"}, env, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "EPS_FHIR_ADDR") {
		t.Errorf("token --spine-base-url= --addr nonsense: %v; want the EPS_FHIR_ADDR problem", err)
	}
}

// A server started with --addr localhost:PORT and token given the same flag agree on the base (and so
// the issuer): the server derived its base from the bound address (127.0.0.1), token from the name.
func TestATokenForAddrLocalhostIsAcceptedByThatServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("localhost:%d", port)
	env := testEnv(t)
	delete(env, "EPS_FHIR_ADDR")
	base, _, _ := startRun(t, env, "--addr", addr)
	var tok strings.Builder
	if err := run(context.Background(), []string{"token", "--addr", addr, "--state-dir", env["EPS_STATE_DIR"]}, func(string) string { return "" }, &tok, io.Discard); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/MedicationRequest?patient=9691003120&_summary=count", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok.String()))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("server --addr %s (base %s), token --addr %s: %d %.300s", addr, base, addr, res.StatusCode, b)
	}
}

// A tracing setting that neither subcommand uses does not stop audit verify or token.
func TestTheSubcommandsIgnoreTracingSettings(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string {
		if k == "OTEL_TRACES_SAMPLER" {
			return "bogus"
		}
		return ""
	}
	var out strings.Builder
	err := run(context.Background(), []string{"audit", "verify", "--state-dir", dir}, env, &out, io.Discard)
	if err != nil && strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER") {
		t.Errorf("audit verify: %v", err)
	}
	err = run(context.Background(), []string{"token", "--help"}, env, &out, io.Discard)
	if err != nil {
		t.Errorf("token --help: %v", err)
	}
}

// A port the kernel chooses, however it is spelled (":0", an empty port, "00"), gets its base from the
// listener: only ":0" did, after the base was kept for fixed ports.
func TestAKernelChosenPortIsInTheBaseHoweverSpelled(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.1:", "127.0.0.1:00"} {
		t.Run(addr, func(t *testing.T) {
			base, _, _ := startRun(t, testEnv(t, "EPS_FHIR_ADDR", addr))
			resp, err := http.Get(base + "/metadata")
			if err != nil {
				t.Fatalf("the advertised base %s does not reach the server: %v", base, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s/metadata: %d", base, resp.StatusCode)
			}
		})
	}
}

// searchWithToken is the status of a summary search for the sandbox patient with token on base.
func searchWithToken(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/MedicationRequest?patient=9691003120&_summary=true", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
