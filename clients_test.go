package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// corsOrigin is the browser origin the client tests send: the adapter is started with it allowed.
const corsOrigin = "http://localhost:5173"

// TestRealFHIRClients proves the adapter with the FHIR clients integrators really use:
// fhir-kit-client and SMART's fhirclient from npm, run by `node --test` in clients/ against an adapter
// started here (issues 7 and 9). The assertions live in clients/*.test.mjs; this test starts the
// adapter, hands the tests its FHIR base and the welcome's token, and fails with node's output.
func TestRealFHIRClients(t *testing.T) {
	node := nodeTools(t)
	clients, err := filepath.Abs("clients")
	if err != nil {
		t.Fatal(err)
	}
	installClients(t, node, clients)

	base, out, _ := startRun(t, testEnv(t, "EPS_CORS_ORIGINS", corsOrigin))
	token := strings.TrimPrefix(welcomeValue(out.String(), "Token:"), "TOKEN=")
	if token == "" {
		t.Fatalf("the welcome shows no token:\n%s", out)
	}

	files, err := filepath.Glob(filepath.Join(clients, "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no clients/*.test.mjs: %v", err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f) // Node 20's --test takes files, not globs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node.node, append([]string{"--test", "--test-reporter=spec"}, files...)...)
	cmd.Dir = clients
	// The token goes to node through its environment only, never into a log line.
	cmd.Env = append(os.Environ(), "FHIR_BASE="+base, "FHIR_TOKEN="+token, "FHIR_CORS_ORIGIN="+corsOrigin, "NO_COLOR=1")
	output, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("node --test did not finish in 90 s:\n%s", output)
	}
	if err != nil {
		t.Fatalf("node --test in clients/ failed (%v):\n%s", err, output)
	}
	t.Logf("node --test in clients/:\n%s", output)
}

// nodeBinaries are the node and npm executables found on PATH.
type nodeBinaries struct{ node, npm string }

// nodeTools finds node 20+ and npm, or skips: CI installs them (.ci/run), a Go-only machine may not.
func nodeTools(t *testing.T) nodeBinaries {
	t.Helper()
	var b nodeBinaries
	var err error
	if b.node, err = exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the real FHIR client tests (clients/) need Node.js 20+ and npm")
	}
	if b.npm, err = exec.LookPath("npm"); err != nil {
		t.Skip("npm is not installed: the real FHIR client tests (clients/) need Node.js 20+ and npm")
	}
	v, err := exec.Command(b.node, "--version").Output()
	if err != nil {
		t.Skipf("node --version failed (%v): the real FHIR client tests need Node.js 20+", err)
	}
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), ".", 2)[0])
	if major < 20 {
		// fhir-kit-client 2 requires Node.js 20.
		t.Skipf("node %s is too old: the real FHIR client tests need Node.js 20+", strings.TrimSpace(string(v)))
	}
	return b
}

// installClients runs npm ci in clients/ unless node_modules already matches the lock file, which
// is how npm ci leaves it (CI runs npm ci before go test; a developer's tree keeps its install).
func installClients(t *testing.T, b nodeBinaries, dir string) {
	t.Helper()
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if err == nil && !installed.ModTime().Before(lock.ModTime()) {
		return
	}
	t.Log("clients/node_modules is missing or older than package-lock.json: running npm ci")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.npm, "ci", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in clients/: %v\n%s", err, out)
	}
}
