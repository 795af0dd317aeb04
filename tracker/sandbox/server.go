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
	"time"
)

// Server is a sandbox served over mutual TLS on a real listener.
type Server struct {
	URL     string // https://host:port, no trailing slash
	Certs   *Certs
	Sandbox *Sandbox

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
		srv: &http.Server{
			Handler:           sb,
			TLSConfig:         tlsConfig,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			// TLS handshake failures (a client without a certificate) are expected: debug level.
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
			// An empty, non-nil map keeps net/http from adding HTTP/2.
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		},
		done: make(chan error, 1),
	}
	s.URL = "https://" + urlHost(ln.Addr().(*net.TCPAddr), host)
	go func() { s.done <- s.srv.Serve(tls.NewListener(ln, tlsConfig)) }()
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
	strict := fs.Bool("strict", false, "require Spine-UserId and Spine-RoleProfileId")
	faultFlag := fs.String("fault", "", "fault for every request: latency[=DURATION], http500, malformed, status5, hang or reset")
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
	srv, err := Start(Options{Patients: *patients, Seed: *seed, Strict: *strict, Logger: logger}, *addr)
	if err != nil {
		return err
	}
	srv.Sandbox.SetFault(fault)
	if err := srv.Certs.WriteClientFiles(*dir); err != nil {
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
