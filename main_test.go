package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // as main does
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
	// Read the whole welcome (it ends with the Capability line), then let the rest go.
	out = &strings.Builder{}
	lines := bufio.NewScanner(pr)
	for lines.Scan() {
		line := lines.Text()
		out.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "FHIR base:"); ok {
			base = strings.TrimSpace(rest)
		}
		if strings.Contains(line, "Capability:") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
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
