// Command eps-fhir-tracker is a FHIR R4 facade over Spine's EPS Tracker API: it answers
// MedicationRequest searches and reads from Spine's prescription tracker.
//
// With no configuration it runs against its embedded Spine sandbox over mutual TLS on loopback;
// `eps-fhir-tracker sandbox` runs the sandbox alone.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/config"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

var _ routes.Tracker = (*tracker.Client)(nil)

func main() {
	gin.SetMode(gin.ReleaseMode) // gin's mode is global: set once, here
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "eps-fhir-tracker:", err)
		os.Exit(1)
	}
}

// run starts the adapter and serves until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "sandbox" {
		if err := sandbox.Run(ctx, args[1:], stdout, stderr); !errors.Is(err, flag.ErrHelp) {
			return err
		}
		return nil
	}
	cfg, err := config.Load(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	spine, stopSpine, err := connectSpine(cfg, logger)
	if err != nil {
		return err
	}
	defer stopSpine()

	enc, err := fhir.NewEncoder()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if cfg.BaseURLDerived {
		cfg.BaseURL = config.DeriveBaseURL(ln.Addr().String(), cfg.TLSCert != "")
	}
	handler := routes.New(routes.Config{
		BaseURL:         cfg.BaseURL,
		Detailed:        cfg.Detailed,
		UserID:          cfg.SpineUserID,
		RoleProfileID:   cfg.SpineRoleProfileID,
		PageKey:         cfg.PageKey,
		RequestTimeout:  cfg.RequestTimeout(),
		SoftwareVersion: version,
	}, spine, enc, logger)

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      cfg.RequestTimeout() + 10*time.Second, // a slow Spine still gets its 504 written
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			serveErr <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	printWelcome(stdout, cfg)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// connectSpine builds the tracker client: for the configured Spine, or for an embedded sandbox that
// it starts on loopback with certificates made for the occasion.
func connectSpine(cfg *config.Config, logger *slog.Logger) (*tracker.Client, func(), error) {
	tcfg := tracker.Config{
		BaseURL:       cfg.SpineBaseURL,
		ASID:          cfg.SpineASID,
		UserID:        cfg.SpineUserID,
		RoleProfileID: cfg.SpineRoleProfileID,
		Timeout:       cfg.SpineTimeout,
	}
	if !cfg.Sandbox() {
		tlsConfig, err := tracker.LoadTLSConfig(cfg.SpineClientCert, cfg.SpineClientKey, cfg.SpineCACert)
		if err != nil {
			return nil, nil, fmt.Errorf("spine TLS: %w", err)
		}
		c, err := tracker.New(tcfg, tracker.NewHTTPClient(tlsConfig))
		return c, func() {}, err
	}

	sb, err := sandbox.Start(sandbox.Options{Patients: cfg.SandboxPatients, Logger: logger.With("component", "sandbox")}, "")
	if err != nil {
		return nil, nil, fmt.Errorf("start embedded Spine sandbox: %w", err)
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sb.Close(ctx)
	}
	tlsConfig, err := tracker.TLSConfigFromPEM(sb.Certs.ClientCertPEM, sb.Certs.ClientKeyPEM, sb.Certs.CAPEM)
	if err == nil {
		tcfg.BaseURL = sb.URL
		var c *tracker.Client
		if c, err = tracker.New(tcfg, tracker.NewHTTPClient(tlsConfig)); err == nil {
			return c, stop, nil
		}
	}
	stop()
	return nil, nil, fmt.Errorf("connect to embedded Spine sandbox: %w", err)
}

func printWelcome(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, "EPS Tracker FHIR adapter %s\n", version)
	fmt.Fprintf(w, "  FHIR base:  %s\n", cfg.BaseURL)
	if !cfg.Sandbox() {
		fmt.Fprintf(w, "  Spine:      %s\n", cfg.SpineBaseURL)
		return
	}
	nhs := sandbox.PatientAcuteAndRepeat
	fmt.Fprintf(w, "  Spine:      embedded sandbox (mutual TLS on loopback, certificates made at start-up)\n")
	fmt.Fprintf(w, "  Patient:    NHS number %s (more test patients in README.md)\n", nhs)
	fmt.Fprintf(w, "  Auth:       none yet: serve on loopback only (bearer tokens come with a later release)\n")
	fmt.Fprintf(w, "  Try:        curl -s '%s/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|%s&_pretty=true'\n", cfg.BaseURL, nhs)
	fmt.Fprintf(w, "  Capability: curl -s '%s/metadata'\n", cfg.BaseURL)
}
