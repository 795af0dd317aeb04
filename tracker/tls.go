package tracker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// LoadTLSConfig reads the client certificate and key Spine issued this system, and the CA that signs
// Spine's server certificates, from PEM files (SPEC 1.4: Spine speaks only TLS mutual authentication).
func LoadTLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	var errs []error
	read := func(what, name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("tracker: reading %s: %w", what, err))
		}
		return b
	}
	certPEM := read("client certificate", certFile)
	keyPEM := read("client key", keyFile)
	caPEM := read("CA certificate", caFile)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return TLSConfigFromPEM(certPEM, keyPEM, caPEM)
}

// TLSConfigFromPEM builds the mutual TLS configuration from PEM bytes: the client certificate and key
// presented to Spine, and the CA pool that alone is trusted for Spine's server certificate. The server
// name is verified against the URL's host (crypto/tls's default when ServerName is left empty).
func TLSConfigFromPEM(certPEM, keyPEM, caPEM []byte) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tracker: client certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("tracker: CA certificate: no PEM certificate found")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// spineDialer and tlsHandshakeTimeout bound connecting to Spine, well inside a call's deadline.
var spineDialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

const tlsHandshakeTimeout = 5 * time.Second

// NewHTTPClient returns an *http.Client for Spine over tlsConfig. It sets no overall Timeout and no
// response-header timeout: each call's context carries the one deadline that rules (Config.Timeout).
// Telemetry can wrap its Transport (otelhttp.NewTransport) where the client is wired.
func NewHTTPClient(tlsConfig *tls.Config) *http.Client {
	if tlsConfig != nil {
		tlsConfig = tlsConfig.Clone() // the transport adds its ALPN protocols to the one it holds
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           spineDialer.DialContext,
			TLSClientConfig:       tlsConfig,
			TLSHandshakeTimeout:   tlsHandshakeTimeout,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		// Spine never redirects a query; following one would send the patient's NHS number elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
