package sandbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOnlyClientsWithACertificateGetIn(t *testing.T) {
	e := startEnv(t, Options{})
	other, err := GenerateCerts()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.srv.Certs.CAPEM)
	foreign, err := tls.X509KeyPair(other.ClientCertPEM, other.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	good, err := e.srv.Certs.ClientTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		config *tls.Config
		wantOK bool
	}{
		{"a client without a certificate is refused", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, false},
		{"a client with a certificate from another CA is refused", &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{foreign}, MinVersion: tls.VersionTLS12}, false},
		{"a client that does not trust the sandbox CA refuses it", &tls.Config{Certificates: good.Certificates, MinVersion: tls.VersionTLS12}, false},
		{"a client with the sandbox's client certificate gets in", good, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: tt.config}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+searchPath(PatientAcuteAndRepeat), nil)
			req.Header = spineHeaders()
			res, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
			if err == nil {
				res.Body.Close()
			}
			if got := err == nil && res.StatusCode == 200; got != tt.wantOK {
				t.Errorf("got through %v (err %v), want %v", got, err, tt.wantOK)
			}
		})
	}
}

func TestTheCertificatesAreFitForPurpose(t *testing.T) {
	c, err := GenerateCerts("sandbox.example", "10.1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CAPEM) {
		t.Fatal("no CA")
	}
	server, _ := tls.X509KeyPair(c.ServerCertPEM, c.ServerKeyPEM)
	client, _ := tls.X509KeyPair(c.ClientCertPEM, c.ClientKeyPEM)
	tests := []struct {
		name  string
		cert  *x509.Certificate
		opts  x509.VerifyOptions
		valid bool
	}{
		{"the server certificate is valid for its DNS name", server.Leaf, x509.VerifyOptions{Roots: pool, DNSName: "sandbox.example"}, true},
		{"the server certificate is valid for its IP address", server.Leaf, x509.VerifyOptions{Roots: pool, DNSName: "10.1.2.3"}, true},
		{"the server certificate is not valid for other names", server.Leaf, x509.VerifyOptions{Roots: pool, DNSName: "localhost"}, false},
		{"the client certificate is for client authentication", client.Leaf, x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, true},
		{"the server certificate is not for client authentication", server.Leaf, x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.cert.Verify(tt.opts); (err == nil) != tt.valid {
				t.Errorf("verify: %v, want valid %v", err, tt.valid)
			}
		})
	}
	if got := server.Leaf.NotAfter.Sub(server.Leaf.NotBefore); got > 8*24*time.Hour {
		t.Errorf("validity %v is not short", got)
	}
}

func TestClientFilesAreWrittenPrivately(t *testing.T) {
	c, err := GenerateCerts()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "certs")
	if err := c.WriteClientFiles(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	for name, want := range map[string]os.FileMode{CAFile: 0o644, ClientFile: 0o644, ClientKeyFile: 0o600} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
	certPEM, _ := os.ReadFile(filepath.Join(dir, ClientFile))
	keyPEM, _ := os.ReadFile(filepath.Join(dir, ClientKeyFile))
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Errorf("written key pair: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe to read while Run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRunServesUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--addr", "127.0.0.1:0", "--certs", dir, "--patients", "10", "--strict"}, &stdout, &stderr)
	}()
	var url string
	for url == "" {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v\n%s", err, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
		for _, f := range strings.Fields(stdout.String()) {
			if strings.HasPrefix(f, "https://") && strings.Contains(stdout.String(), "Test patients") {
				url = f
				break
			}
		}
	}
	if !strings.Contains(stdout.String(), "curl --cacert "+filepath.Join(dir, CAFile)) {
		t.Errorf("no ready curl in:\n%s", stdout.String())
	}

	// A client built from the written files gets in.
	ca, _ := os.ReadFile(filepath.Join(dir, CAFile))
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, ClientFile), filepath.Join(dir, ClientKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, url+searchPath(PatientAcuteAndRepeat), nil)
	req.Header = spineHeaders()
	res, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("HTTP %d", res.StatusCode)
	}
	if strings.Contains(stderr.String(), PatientAcuteAndRepeat) {
		t.Errorf("the log shows an NHS number unredacted:\n%s", stderr.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"--certs is required", nil},
		{"a bad fault is refused", []string{"--certs", t.TempDir(), "--fault", "explode"}},
		{"negative patients are refused", []string{"--certs", t.TempDir(), "--patients", "-1"}},
		{"unknown flags are refused", []string{"--certs", t.TempDir(), "--nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := Run(context.Background(), tt.args, &out, &errOut); err == nil {
				t.Error("Run accepted the flags")
			}
		})
	}
}
