package tracker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a throwaway CA with a server certificate for 127.0.0.1 (only) and a client certificate,
// so that tests speak real mutual TLS as Spine does.
type testPKI struct {
	caPEM                    []byte
	serverCertPEM, serverKey []byte
	clientCertPEM, clientKey []byte
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, caCert, caPEM := issue(t, nil, nil, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "test Spine CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	})
	serverKey, _, serverPEM := issue(t, caKey, caCert, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "test Spine"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	})
	clientKey, _, clientPEM := issue(t, caKey, caCert, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "200000000946"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	})
	return &testPKI{
		caPEM:         caPEM,
		serverCertPEM: serverPEM, serverKey: keyPEM(t, serverKey),
		clientCertPEM: clientPEM, clientKey: keyPEM(t, clientKey),
	}
}

// issue makes a key and a certificate from tmpl, signed by parent (self-signed when parent is nil).
func issue(t *testing.T, parentKey *ecdsa.PrivateKey, parent, tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// serverTLS is the server side of mutual TLS: Spine's certificate, and client certificates required.
func (p *testPKI) serverTLS(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair(p.serverCertPEM, p.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
}

func (p *testPKI) clientTLS(t *testing.T) *tls.Config {
	t.Helper()
	cfg, err := TLSConfigFromPEM(p.clientCertPEM, p.clientKey, p.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestTLSConfigFromPEM(t *testing.T) {
	pki := newTestPKI(t)
	t.Run("a certificate, key and CA make a TLS 1.2+ client configuration", func(t *testing.T) {
		cfg := pki.clientTLS(t)
		if got, want := len(cfg.Certificates), 1; got != want {
			t.Errorf("len(Certificates) = %d, want %d", got, want)
		}
		if cfg.RootCAs == nil {
			t.Error("RootCAs = nil, want the CA pool")
		}
		if got, want := cfg.MinVersion, uint16(tls.VersionTLS12); got != want {
			t.Errorf("MinVersion = %#x, want %#x", got, want)
		}
		if cfg.InsecureSkipVerify || cfg.ServerName != "" {
			t.Errorf("InsecureSkipVerify, ServerName = %v, %q, want false and empty (verified against the URL host)", cfg.InsecureSkipVerify, cfg.ServerName)
		}
	})
	t.Run("a key that does not match the certificate is refused", func(t *testing.T) {
		if _, err := TLSConfigFromPEM(pki.clientCertPEM, pki.serverKey, pki.caPEM); err == nil {
			t.Error("err = nil")
		}
	})
	t.Run("a CA file without certificates is refused", func(t *testing.T) {
		if _, err := TLSConfigFromPEM(pki.clientCertPEM, pki.clientKey, []byte("not PEM")); err == nil {
			t.Error("err = nil")
		}
	})
}

func TestLoadTLSConfig(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cert, key, ca := write("client.pem", pki.clientCertPEM), write("client-key.pem", pki.clientKey), write("ca.pem", pki.caPEM)

	t.Run("PEM files load", func(t *testing.T) {
		cfg, err := LoadTLSConfig(cert, key, ca)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(cfg.Certificates), 1; got != want {
			t.Errorf("len(Certificates) = %d, want %d", got, want)
		}
	})
	t.Run("every missing file is reported", func(t *testing.T) {
		_, err := LoadTLSConfig(filepath.Join(dir, "no-cert"), key, filepath.Join(dir, "no-ca"))
		if err == nil {
			t.Fatal("err = nil")
		}
		for _, want := range []string{"client certificate", "CA certificate"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q, want it to mention %q", err, want)
			}
		}
	})
}

func TestNewHTTPClient(t *testing.T) {
	hc := NewHTTPClient(newTestPKI(t).clientTLS(t))
	if got := hc.Timeout; got != 0 {
		t.Errorf("Timeout = %v, want 0: the call's context rules", got)
	}
	tr, ok := hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("Transport = %T, want *http.Transport", hc.Transport)
	}
	if got, want := tr.MaxIdleConnsPerHost, 64; got != want {
		t.Errorf("MaxIdleConnsPerHost = %d, want %d", got, want)
	}
	if tr.DisableKeepAlives || !tr.ForceAttemptHTTP2 || tr.ResponseHeaderTimeout != 0 || tr.TLSHandshakeTimeout == 0 {
		t.Errorf("DisableKeepAlives %v, ForceAttemptHTTP2 %v, ResponseHeaderTimeout %v, TLSHandshakeTimeout %v: want false, true, 0, set",
			tr.DisableKeepAlives, tr.ForceAttemptHTTP2, tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout)
	}
	if tr.TLSClientConfig == nil || len(tr.TLSClientConfig.Certificates) != 1 {
		t.Error("TLSClientConfig does not carry the client certificate")
	}
}
