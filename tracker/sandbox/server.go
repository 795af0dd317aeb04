package sandbox

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a sandbox served over mutual TLS on a real listener.
type Server struct {
	URL     string // https://host:port, no trailing slash
	Certs   *Certs // as generated at Start; see CurrentCerts after RotateCerts
	Sandbox *Sandbox

	hosts     []string
	tls       atomic.Pointer[tls.Config] // the server's configuration now; RotateCerts swaps it
	certMu    sync.Mutex                 // guards current and certsDir
	current   *Certs
	certsDir  string
	srv       *http.Server
	done      chan error
	closeOnce sync.Once
	closeErr  error
}

// Start listens on addr ("" = 127.0.0.1:0, a free port) with certificates made for its host and
// serves the sandbox in a goroutine until Close.
func Start(o Options, addr string) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox address %q: %w", addr, err)
	}
	hosts := []string{"127.0.0.1", "localhost", "::1"}
	if host != "" && host != "0.0.0.0" && host != "::" && host != "127.0.0.1" && host != "localhost" && host != "::1" {
		hosts = append(hosts, host)
	}
	certs, err := GenerateCerts(hosts...)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := certs.ServerTLSConfig()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	sb := New(o)
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		Certs:   certs,
		Sandbox: sb,
		hosts:   hosts,
		current: certs,
		srv: &http.Server{
			Handler:           sb,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			// TLS handshake failures (a client without a certificate) are expected: debug level.
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
			// An empty, non-nil map keeps net/http from adding HTTP/2.
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		},
		done: make(chan error, 1),
	}
	s.tls.Store(tlsConfig)
	sb.control.mu.Lock()
	sb.control.onRotate = s.RotateCerts
	sb.control.mu.Unlock()
	// Each handshake takes the configuration in use at that moment, so that RotateCerts acts as a
	// Spine restarted with new certificates would, without a new port.
	dynamic := &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.tls.Load(), nil }}
	s.URL = "https://" + urlHost(ln.Addr().(*net.TCPAddr), host)
	go func() { s.done <- s.srv.Serve(tls.NewListener(ln, dynamic)) }()
	return s, nil
}

// urlHost is the address to dial: the listener's, with a wildcard host replaced by loopback.
func urlHost(a *net.TCPAddr, host string) string {
	port := fmt.Sprint(a.Port)
	switch {
	case a.IP.IsUnspecified():
		return net.JoinHostPort("127.0.0.1", port)
	case host == "localhost":
		return net.JoinHostPort("localhost", port)
	}
	return net.JoinHostPort(a.IP.String(), port)
}

// CurrentCerts returns the certificates in use now.
func (s *Server) CurrentCerts() *Certs {
	s.certMu.Lock()
	defer s.certMu.Unlock()
	return s.current
}

// WriteClientFiles writes the client's files for the current certificates into dir (see
// Certs.WriteClientFiles), and again there after every RotateCerts.
func (s *Server) WriteClientFiles(dir string) error {
	s.certMu.Lock()
	defer s.certMu.Unlock()
	if err := s.current.WriteClientFiles(dir); err != nil {
		return err
	}
	s.certsDir = dir
	return nil
}

// RotateCerts replaces the CA, the server certificate and the client certificate with new ones, as
// a Spine restarted with new certificates would present (issue 11): new handshakes use them at
// once, and idle connections are closed so that clients must make new ones. The client files are
// rewritten where WriteClientFiles last wrote them. Connections busy with a request finish on the
// old certificates.
func (s *Server) RotateCerts() error {
	certs, err := GenerateCerts(s.hosts...)
	if err != nil {
		return err
	}
	cfg, err := certs.ServerTLSConfig()
	if err != nil {
		return err
	}
	s.certMu.Lock()
	defer s.certMu.Unlock()
	// Files first: a client that reloads as soon as it sees the new server certificate must find
	// the new client certificate already there.
	if s.certsDir != "" {
		if err := certs.WriteClientFiles(s.certsDir); err != nil {
			return fmt.Errorf("writing client files: %w", err)
		}
	}
	s.current = certs
	s.tls.Store(cfg)
	// Turning keep-alives off closes idle connections; a restarted Spine would have dropped them.
	s.srv.SetKeepAlivesEnabled(false)
	s.srv.SetKeepAlivesEnabled(true)
	return nil
}

// Close shuts the server down gracefully: hung and delayed requests end at once, others may finish
// until ctx ends, after which connections are closed. Later calls return the first call's result.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.Sandbox.shutdown()
		err := s.srv.Shutdown(ctx)
		if err != nil {
			err = errors.Join(err, s.srv.Close())
		}
		if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
		s.closeErr = err
	})
	return s.closeErr
}

// Run is the `sandbox` subcommand: it makes certificates, writes the client's files into --certs,
// says how to call the sandbox, and serves until ctx is done.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9443", "listen address")
	dir := fs.String("certs", "", "directory to write ca.pem, client.pem and client-key.pem into (required)")
	patients := fs.Int("patients", 0, "number of generated patients beyond the documented ones")
	seed := fs.Int64("seed", 1, "seed of the generated patients")
	strict := fs.Bool("strict", false, "require Spine-UserId and Spine-RoleProfileId on the basic interactions too (the 111 ones always do)")
	faultFlag := fs.String("fault", "", "fault for every request: latency[=DURATION], http500, malformed, status5, hang or reset")
	controlFile := fs.String("control", "", "file whose contents, when changed, set the fault (as --fault) or rotate the certificates (\"rotate\")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var problems []error
	if *dir == "" {
		problems = append(problems, errors.New("--certs DIR is required"))
	}
	if *patients < 0 || *patients > genSpace {
		problems = append(problems, fmt.Errorf("--patients must be between 0 and %d", genSpace))
	}
	fault, err := ParseFault(*faultFlag)
	if err != nil {
		problems = append(problems, fmt.Errorf("--fault: %w", err))
	}
	if len(fs.Args()) > 0 {
		problems = append(problems, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := Start(Options{Patients: *patients, Seed: *seed, Strict: *strict, Logger: logger, ControlFile: *controlFile}, *addr)
	if err != nil {
		return err
	}
	srv.Sandbox.SetFault(fault)
	if err := srv.WriteClientFiles(*dir); err != nil {
		return errors.Join(fmt.Errorf("writing client files: %w", err), srv.Close(context.Background()))
	}
	printUsage(stdout, srv, *dir, *patients)

	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Close(shutdownCtx)
}

func printUsage(w io.Writer, srv *Server, dir string, patients int) {
	ca, cert, key := filepath.Join(dir, CAFile), filepath.Join(dir, ClientFile), filepath.Join(dir, ClientKeyFile)
	fmt.Fprintf(w, "EPS Tracker sandbox (Spine simulator) listening on %s (mutual TLS)\n\n", srv.URL)
	fmt.Fprintf(w, "  CA certificate:      %s\n  client certificate:  %s\n  client key:          %s\n\n", ca, cert, key)
	fmt.Fprintf(w, "Try:\n  curl --cacert %s --cert %s --key %s \\\n", ca, cert, key)
	fmt.Fprintf(w, "    -H 'Accept: application/json' -H 'Spine-From-Asid: 200000000946' \\\n")
	fmt.Fprintf(w, "    -H 'Spine-UserId: 313175813564' -H 'Spine-RoleProfileId: 562926913100' \\\n")
	fmt.Fprintf(w, "    '%s/mm/prescriptions?nhsNumber=%s&format=trace-summary'\n\n", srv.URL, PatientAcuteAndRepeat)
	fmt.Fprintf(w, "Test patients:\n")
	for _, p := range Patients {
		fmt.Fprintf(w, "  %s  %s\n", p.NHSNumber, p.Summary)
	}
	if patients > 0 {
		fmt.Fprintf(w, "  plus %d generated patients, e.g. %s\n", patients, srv.Sandbox.GeneratedNHSNumber(0))
	}
	fmt.Fprintf(w, "\nFaults for one request: header %s: latency=250ms|http500|malformed|status5|hang|reset\n", FaultHeader)
}
