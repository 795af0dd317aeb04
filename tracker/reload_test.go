package tracker_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// syncBuffer is a log destination the client's goroutines and the test can share.
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

// Issue 11 problem 2: a Spine restarted with new certificates must not need an adapter restart.
func TestCertificateRotation(t *testing.T) {
	srv := startSandbox(t, sandbox.Options{})
	dir := t.TempDir()
	if err := srv.WriteClientFiles(dir); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	caFile := filepath.Join(dir, sandbox.CAFile)
	rt, err := tracker.NewReloadingTLS(filepath.Join(dir, sandbox.ClientFile), filepath.Join(dir, sandbox.ClientKeyFile), caFile, logger)
	if err != nil {
		t.Fatal(err)
	}
	rt.SetReloadCheckInterval(0)
	cfg := tracker.Config{BaseURL: srv.URL, ASID: testASID, UserID: testUserID, RoleProfileID: testRoleProfileID,
		Timeout: 5 * time.Second, RetryBackoff: time.Millisecond}

	reloadingHC := tracker.NewReloadingHTTPClient(rt)
	t.Cleanup(reloadingHC.CloseIdleConnections)
	reloading, err := tracker.New(cfg, reloadingHC)
	if err != nil {
		t.Fatal(err)
	}
	// The client as it was before: the PEM files read once.
	static, err := tracker.TLSConfigFromPEM(srv.Certs.ClientCertPEM, srv.Certs.ClientKeyPEM, srv.Certs.CAPEM)
	if err != nil {
		t.Fatal(err)
	}
	staticHC := tracker.NewHTTPClient(static)
	t.Cleanup(staticHC.CloseIdleConnections)
	once, err := tracker.New(cfg, staticHC)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	q := tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat}
	for name, c := range map[string]*tracker.Client{"reloading": reloading, "read-once": once} {
		if _, err := c.Search(ctx, tracker.Caller{}, q); err != nil {
			t.Fatalf("%s client before rotation: %v", name, err)
		}
	}

	if err := srv.RotateCerts(); err != nil {
		t.Fatal(err)
	}
	// Whatever the server closed or not, every next request needs a new handshake.
	reloadingHC.CloseIdleConnections()
	staticHC.CloseIdleConnections()

	t.Run("a client that read its files once fails with unknown authority", func(t *testing.T) {
		_, err := once.Search(ctx, tracker.Caller{}, q)
		var unknown x509.UnknownAuthorityError
		if !errors.Is(err, tracker.ErrUpstream) || !errors.As(err, &unknown) {
			t.Fatalf("err = %v, want an upstream failure from an unknown authority", err)
		}
	})
	t.Run("the reloading client's next request succeeds", func(t *testing.T) {
		res, err := reloading.Search(ctx, tracker.Caller{}, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Prescriptions) == 0 {
			t.Error("no prescriptions after rotation")
		}
		if !strings.Contains(logs.String(), "reloaded") {
			t.Errorf("no reload logged; logs:\n%s", logs.String())
		}
	})
	t.Run("a bad new CA file keeps the certificates in use and is logged", func(t *testing.T) {
		if err := os.WriteFile(caFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		reloadingHC.CloseIdleConnections()
		if _, err := reloading.Search(ctx, tracker.Caller{}, q); err != nil {
			t.Fatalf("search after a bad CA file: %v", err)
		}
		if !strings.Contains(logs.String(), "do not load") {
			t.Errorf("the bad file was not logged; logs:\n%s", logs.String())
		}
	})
	t.Run("the files written at the next rotation are picked up again", func(t *testing.T) {
		if err := srv.RotateCerts(); err != nil {
			t.Fatal(err)
		}
		reloadingHC.CloseIdleConnections()
		if _, err := reloading.Search(ctx, tracker.Caller{}, q); err != nil {
			t.Fatal(err)
		}
	})
	if strings.Contains(logs.String(), sandbox.PatientAcuteAndRepeat) {
		t.Errorf("the logs hold the NHS number:\n%s", logs.String())
	}
}

func TestNewReloadingTLSRefusesMissingFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := tracker.NewReloadingTLS(filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c"), nil)
	if err == nil {
		t.Fatal("no error for missing files")
	}
}

// The reloading client still checks that Spine's certificate names the host it dialled.
func TestReloadingClientVerifiesTheServerName(t *testing.T) {
	certs, err := sandbox.GenerateCerts("spine.example.invalid") // not 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := certs.ServerTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(sandbox.New(sandbox.Options{}))
	ts.TLS = serverTLS
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	if err := certs.WriteClientFiles(dir); err != nil {
		t.Fatal(err)
	}
	rt, err := tracker.NewReloadingTLS(filepath.Join(dir, sandbox.ClientFile), filepath.Join(dir, sandbox.ClientKeyFile), filepath.Join(dir, sandbox.CAFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := tracker.NewReloadingHTTPClient(rt)
	t.Cleanup(hc.CloseIdleConnections)
	c, err := tracker.New(tracker.Config{BaseURL: ts.URL, ASID: testASID, MaxRetries: -1}, hc)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Search(context.Background(), tracker.Caller{}, tracker.SearchQuery{NHSNumber: sandbox.PatientAcuteAndRepeat})
	var wrongHost x509.HostnameError
	if !errors.Is(err, tracker.ErrUpstream) || !errors.As(err, &wrongHost) {
		t.Fatalf("err = %v, want an upstream failure naming the wrong host", err)
	}
}
