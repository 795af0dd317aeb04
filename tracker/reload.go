package tracker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReloadCheckInterval is how often, at most, ReloadingTLS looks at its files' size and
// modification time. Checks happen only when a new connection to Spine is made, so an idle adapter
// does no work, and a busy one stats three files once a second at most.
const DefaultReloadCheckInterval = time.Second

// ReloadingTLS holds Spine's mutual TLS material (the client certificate and key Spine issued this
// system, and the CA that signs Spine's server certificates) and reloads it when its files change,
// without a restart: Spine's endpoint certificate and ours are rotated yearly, and an adapter that
// read them once would fail every call with "unknown authority" until someone restarted it. A new
// file that does not load keeps the material in use and is logged; the next change is tried again.
type ReloadingTLS struct {
	files    [3]string // cert, key, CA
	log      *slog.Logger
	interval time.Duration

	cur atomic.Pointer[tlsMaterial]

	mu        sync.Mutex // serialises checks
	lastCheck time.Time
	seen      [3]fileStamp // what the files looked like at the last load attempt, good or bad
}

type tlsMaterial struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// fileStamp is what a cheap change check compares: a rotation rewrites a file, which changes its
// modification time even when the size stays the same (ECDSA PEM files often do).
type fileStamp struct {
	size    int64
	modTime time.Time
}

// NewReloadingTLS loads the three PEM files. Unlike later reloads, a first load that fails is an
// error: there is nothing to fall back on. logger may be nil.
func NewReloadingTLS(certFile, keyFile, caFile string, logger *slog.Logger) (*ReloadingTLS, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &ReloadingTLS{files: [3]string{certFile, keyFile, caFile}, log: logger, interval: DefaultReloadCheckInterval}
	stamps, _ := r.stamps()
	m, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cur.Store(m)
	r.seen, r.lastCheck = stamps, time.Now()
	return r, nil
}

// load reads and checks all three files.
func (r *ReloadingTLS) load() (*tlsMaterial, error) {
	cfg, err := LoadTLSConfig(r.files[0], r.files[1], r.files[2])
	if err != nil {
		return nil, err
	}
	return &tlsMaterial{cert: cfg.Certificates[0], pool: cfg.RootCAs}, nil
}

func (r *ReloadingTLS) stamps() ([3]fileStamp, error) {
	var s [3]fileStamp
	var errs []error
	for i, name := range r.files {
		fi, err := os.Stat(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s[i] = fileStamp{size: fi.Size(), modTime: fi.ModTime()}
	}
	return s, errors.Join(errs...)
}

// current returns the material to use for a new connection, first reloading it if the files
// changed since the last look (at most once per interval).
func (r *ReloadingTLS) current() *tlsMaterial {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.lastCheck) < r.interval {
		return r.cur.Load()
	}
	r.lastCheck = now
	stamps, statErr := r.stamps()
	if stamps == r.seen {
		return r.cur.Load()
	}
	// Remember the attempt whatever its outcome, so that one bad file is logged once, not on every
	// connection; the next write to any of the files is tried again.
	r.seen = stamps
	if statErr != nil {
		r.log.Warn("spine TLS files changed but cannot be read; keeping the certificates in use", slog.Any("error", statErr))
		return r.cur.Load()
	}
	m, err := r.load()
	if err != nil {
		r.log.Warn("spine TLS files changed but do not load; keeping the certificates in use", slog.Any("error", err))
		return r.cur.Load()
	}
	r.cur.Store(m)
	r.log.Info("spine TLS certificates reloaded", slog.String("cert_file", r.files[0]), slog.String("ca_file", r.files[2]))
	return m
}

// TLSConfig returns a configuration made from the material in use now, after checking the files
// for a change. A config cannot change once a transport holds it, so NewReloadingHTTPClient calls
// this for every new connection instead.
func (r *ReloadingTLS) TLSConfig() *tls.Config {
	m := r.current()
	return &tls.Config{
		Certificates: []tls.Certificate{m.cert},
		RootCAs:      m.pool,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"}, // as http.Transport offers with ForceAttemptHTTP2
	}
}

// DialTLSContext dials addr and completes the TLS handshake with the material in use now, verifying
// the server certificate against the current CA and addr's host (an IP address or a DNS name).
func (r *ReloadingTLS) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cfg := r.TLSConfig()
	cfg.ServerName = host
	raw, err := spineDialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
	defer cancel()
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tls handshake: %w", err)
	}
	return conn, nil
}

// NewReloadingHTTPClient is NewHTTPClient for certificates that may change while running: every new
// connection is made with the material r holds at that moment. It dials Spine directly (no proxy
// from the environment): through a proxy net/http would use a fixed TLS configuration instead.
// Connections already open keep working with the certificates they were made with.
func NewReloadingHTTPClient(r *ReloadingTLS) *http.Client {
	hc := NewHTTPClient(nil)
	t := hc.Transport.(*http.Transport)
	t.Proxy = nil
	t.DialTLSContext = r.DialTLSContext
	return hc
}
