// Command eps-fhir-tracker is a FHIR R4 facade over Spine's EPS Tracker API: it answers
// MedicationRequest searches and reads from Spine's prescription tracker, for authenticated
// healthcare workers, with every access to patient data kept in a local audit trail.
//
// With no configuration it runs against its embedded Spine sandbox over mutual TLS on loopback,
// with a sandbox token issuer and an embedded audit store; `eps-fhir-tracker sandbox` runs the
// sandbox alone, `token` prints a sandbox access token, `audit verify` checks the audit trail.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/metric"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/config"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/routes"
	"github.com/nhs-eps/eps-fhir-tracker/telemetry"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// defaultMemoryLimit is the soft heap limit when GOMEMLIMIT is unset: with the default caches (16 MiB
// each) and 1,000 connections in flight the process stays within 256 MB of RSS.
const defaultMemoryLimit = 192 << 20

// defaultGCPercent is GOGC when it is unset. A cache miss allocates about 0.4 MB and the live heap is
// tens of MB, so at Go's 100 the collector ran every hundred requests or so and took a tenth of the
// CPU; at 200 it runs half as often, and the miss path served about 15% more in the load script. It
// only moves the heap's target while that is below the memory limit: under a flood, as before, the
// limit decides when the collector runs, so the peak RSS does not change.
const defaultGCPercent = 200

var (
	_ routes.Tracker       = (*tracker.Client)(nil)
	_ routes.Tracker       = (*cache.Tracker)(nil)
	_ routes.Authenticator = (*auth.Verifier)(nil)
	_ routes.Auditor       = (*audit.Store)(nil)
	_ routes.AuditTrail    = (*audit.Store)(nil)
	_ routes.Answers       = (*cache.Answers)(nil)
)

func main() {
	gin.SetMode(gin.ReleaseMode) // gin's mode is global: set once, here
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "eps-fhir-tracker:", err)
		os.Exit(1)
	}
}

// run starts the adapter, or one of its subcommands, and serves until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "sandbox":
			if err := sandbox.Run(ctx, args[1:], stdout, stderr); !errors.Is(err, flag.ErrHelp) {
				return err
			}
			return nil
		case "token":
			return tokenCommand(ctx, args[1:], getenv, stdout, stderr)
		case "audit":
			if len(args) < 2 || args[1] != "verify" {
				return errors.New(`unknown audit command: the one there is is "audit verify"`)
			}
			return auditVerify(ctx, args[2:], getenv, stdout, stderr)
		}
	}
	cfg, err := config.Load(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil
	case errors.Is(err, config.ErrVersion):
		fmt.Fprintln(stdout, "eps-fhir-tracker", version)
		return nil
	case err != nil:
		return fmt.Errorf("configuration:\n%w", err)
	}
	logger, err := telemetry.NewLogger(stderr, cfg.LogFormat)
	if err != nil {
		return err
	}
	tuneCollector(getenv)
	tel, shutdownTelemetry, err := telemetry.Setup(ctx, telemetry.Config{Getenv: getenv, ServiceVersion: version, Console: stderr})
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = shutdownTelemetry(sctx)
	}()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	if _, port, _ := net.SplitHostPort(cfg.Addr); cfg.BaseURLDerived && strings.TrimLeft(port, "0") == "" {
		// The kernel chose the port: only the listener knows it. A port given keeps the base the
		// configuration derived, host name and all, which token derives too.
		cfg.BaseURL = config.DeriveBaseURL(ln.Addr().String(), cfg.TLSCert != "")
	}
	adminLn, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (EPS_ADMIN_ADDR): %w", cfg.AdminAddr, err)
	}
	defer adminLn.Close()

	spine, stopSpine, err := connectSpine(cfg, tel, logger)
	if err != nil {
		return err
	}
	defer stopSpine()
	cacheCfg := cache.Config{TTL: cfg.CacheTTL, MaxBytes: cfg.CacheMaxBytes, ShareAcrossUsers: cfg.CacheShareAcross,
		CallTimeout: cfg.SpineTimeout}
	cached, err := cache.New(spine, cacheCfg, tel.TracerProvider, tel.MeterProvider)
	if err != nil {
		return err
	}
	answers, err := cache.NewAnswers(cacheCfg, tel.MeterProvider)
	if err != nil {
		return err
	}
	memo, err := routes.NewEntryMemo(cache.Config{TTL: cfg.MemoTTL, MaxBytes: cfg.MemoMaxBytes}, tel.MeterProvider)
	if err != nil {
		return err
	}
	defer memo.Clear() // it holds patient data

	verifier, issuer, err := authenticator(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("authentication:\n%w", err)
	}
	trail, err := openAudit(ctx, cfg, logger)
	if err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	var (
		auditor routes.Auditor
		reader  routes.AuditTrail
		ready   = func(context.Context) error { return nil }
	)
	if trail != nil {
		defer func() {
			st := trail.Stats()
			logger.Info("audit trail closed", "commits", st.Commits, "records", st.Records,
				"records_per_commit", st.PerCommit(), "largest_commit", st.Largest)
			trail.Close()
		}()
		if cfg.AuditRetention > 0 {
			go trail.RunRetention(ctx, time.Hour)
		}
		auditor, reader, ready = trail, trail, trail.Ready
	}

	enc, err := fhir.NewEncoder()
	if err != nil {
		return err
	}
	if err := observe(tel, enc, trail); err != nil {
		return err
	}
	var stopping atomic.Bool
	handler, err := routes.New(routes.Config{
		BaseURL:                 cfg.BaseURL,
		Detailed:                cfg.Detailed,
		DetailedNeedsSmartcard:  !cfg.Sandbox(),
		PageKeys:                cfg.PageKeys,
		RequestTimeout:          cfg.RequestTimeout(),
		ShareAnswersAcrossUsers: cfg.CacheShareAcross,
		CORSOrigins:             cfg.CORSOrigins,
		RateLimit:               routes.Rate(cfg.RateLimit),
		MaxActive:               cfg.MaxActive,
		UnauthenticatedLimit:    routes.Rate(cfg.UnauthLimit),
		SecurityDescription:     securityDescription(cfg),
		SoftwareVersion:         version,
		Ready: func(ctx context.Context) error {
			if stopping.Load() {
				return errors.New("shutting down")
			}
			return ready(ctx)
		},
	}, routes.Deps{
		Tracker: cached, Encoder: enc, Auth: verifier, Audit: auditor, Trail: reader, Answers: answers,
		Memo: memo, Logger: logger, Tracing: tel.TracerProvider, Meters: tel.MeterProvider, Propagator: tel.Propagator,
	})
	if err != nil {
		return err
	}
	if issuer != nil {
		// The sandbox issuer shares the adapter's origin, under /oauth2.
		mux := http.NewServeMux()
		mux.Handle("/oauth2/", http.StripPrefix("/oauth2", issuer.Handler()))
		mux.Handle("/", handler)
		handler = mux
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      cfg.RequestTimeout() + 10*time.Second, // a slow Spine still gets its 504 written
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	admin := &http.Server{Handler: adminHandler(tel), ReadHeaderTimeout: 5 * time.Second}
	serveErr := make(chan error, 2)
	go func() {
		if cfg.TLSCert != "" {
			serveErr <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()
	go func() { serveErr <- admin.Serve(adminLn) }()
	printWelcome(stdout, cfg, issuer, adminLn.Addr().String())

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	// Readiness turns false first, so that a load balancer stops sending before the listener closes;
	// then requests in flight finish.
	stopping.Store(true)
	if grace := cfg.ShutdownGrace; grace > 0 {
		time.Sleep(grace)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout(cfg))
	defer cancel()
	err = errors.Join(srv.Shutdown(shutdownCtx), admin.Shutdown(shutdownCtx))
	for range 2 {
		if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	return err
}

// drainTimeout is how long shutdown waits for requests in flight: a request may use its whole budget
// with Spine (two calls in turn), then commit its audit record and write its answer. A fixed 10 s cut
// short requests still within the 22 s budget of the default SPINE_TIMEOUT.
func drainTimeout(cfg *config.Config) time.Duration { return cfg.RequestTimeout() + 5*time.Second }

// observe exports the counters the encoder and the audit store keep: jsonformat fallbacks (the fast
// encoder's misses, zero for every shape the adapter emits) and the audit trail's group commits.
func observe(tel *telemetry.Telemetry, enc *fhir.Encoder, trail *audit.Store) error {
	m := tel.Meter()
	_, err := m.Int64ObservableCounter("fhir.encoder.fallbacks", metric.WithUnit("{resource}"),
		metric.WithDescription("Resources the fast FHIR JSON encoder passed to jsonformat."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(enc.Fallbacks()))
			return nil
		}))
	if err != nil || trail == nil {
		return err
	}
	commits, err := m.Int64ObservableCounter("audit.commits", metric.WithUnit("{commit}"),
		metric.WithDescription("Durable commits of audit records."))
	if err != nil {
		return err
	}
	records, err := m.Int64ObservableCounter("audit.records", metric.WithUnit("{record}"),
		metric.WithDescription("Audit records committed."))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := trail.Stats()
		o.ObserveInt64(commits, st.Commits)
		o.ObserveInt64(records, st.Records)
		return nil
	}, commits, records)
	return err
}

func adminHandler(tel *telemetry.Telemetry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", tel.MetricsHandler)
	// Go's profiler, for measuring the adapter under load (load/README.md): stacks, timings and
	// sizes, never request data. The admin listener is loopback unless an operator says otherwise.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// connectSpine builds the tracker client: for the configured Spine, or for an embedded sandbox that
// it starts on loopback with certificates made for the occasion. Either way the client reads its
// certificate, key and CA from files and reloads them when they change, so that a rotated Spine
// endpoint certificate needs no restart (the sandbox's, in the state folder, rotate on demand).
func connectSpine(cfg *config.Config, tel *telemetry.Telemetry, logger *slog.Logger) (*tracker.Client, func(), error) {
	tcfg := tracker.Config{
		BaseURL:         cfg.SpineBaseURL,
		ASID:            cfg.SpineASID,
		UserID:          cfg.SpineUserID,
		RoleProfileID:   cfg.SpineRoleProfileID,
		Timeout:         cfg.SpineTimeout,
		MaxConcurrency:  cfg.SpineConcurrency,
		MaxWaiting:      cfg.SpineMaxWaiting,
		BreakerFailures: cfg.BreakerFailures,
		BreakerOpenFor:  cfg.BreakerOpenFor,
		Logger:          logger.With("component", "spine"),
		TracerProvider:  tel.TracerProvider,
		MeterProvider:   tel.MeterProvider,
	}
	certFile, keyFile, caFile := cfg.SpineClientCert, cfg.SpineClientKey, cfg.SpineCACert
	stop := func() {}
	if cfg.Sandbox() {
		sb, err := sandbox.Start(sandbox.Options{Patients: cfg.SandboxPatients, ControlFile: cfg.SandboxControl,
			Logger: logger.With("component", "sandbox")}, "")
		if err != nil {
			return nil, nil, fmt.Errorf("start embedded Spine sandbox: %w", err)
		}
		stop = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = sb.Close(ctx)
		}
		dir := filepath.Join(cfg.StateDir, "spine")
		if err := sb.WriteClientFiles(dir); err != nil {
			stop()
			return nil, nil, fmt.Errorf("embedded Spine sandbox: %w", err)
		}
		tcfg.BaseURL = sb.URL
		certFile, keyFile, caFile = filepath.Join(dir, sandbox.ClientFile), filepath.Join(dir, sandbox.ClientKeyFile), filepath.Join(dir, sandbox.CAFile)
	}
	certs, err := tracker.NewReloadingTLS(certFile, keyFile, caFile, logger.With("component", "spine-tls"))
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("spine TLS: %w", err)
	}
	c, err := tracker.New(tcfg, tracker.NewReloadingHTTPClient(certs))
	if err != nil {
		stop()
		return nil, nil, err
	}
	return c, stop, nil
}

// authenticator builds the token verifier: for the configured issuer, or, in sandbox mode without
// one, for the embedded sandbox issuer, which it also returns to be served.
func authenticator(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*auth.Verifier, *auth.Issuer, error) {
	acfg := cfg.AuthEnv // claim names, skew, algorithms...: the environment's
	acfg.Issuer, acfg.JWKSURL, acfg.Audience = cfg.AuthIssuer, cfg.AuthJWKSURL, cfg.AuthAudience
	acfg.ActivityCodes, acfg.AuditorCodes, acfg.UserInfo = cfg.AuthActivityCodes, cfg.AuthAuditorCodes, cfg.AuthUserInfo
	acfg.AssuranceClaim, acfg.AssuranceValue = cfg.AuthAssuranceClaim, cfg.AuthAssuranceValue
	var issuer *auth.Issuer
	if cfg.Sandbox() && cfg.AuthIssuer == "" && cfg.AuthJWKSURL == "" {
		var err error
		if issuer, err = auth.OpenIssuer(cfg.StateDir, sandboxIssuerURL(cfg), sandboxAudience(cfg), cfg.BaseURL); err != nil {
			return nil, nil, err
		}
		sc := issuer.Config()
		acfg.Issuer, acfg.Audience, acfg.Keys, acfg.JWKSURL = sc.Issuer, sc.Audience, sc.Keys, sc.JWKSURL
		acfg.RequireAccessTokenType = sc.RequireAccessTokenType
		acfg.AuthorizationEndpoint, acfg.TokenEndpoint, acfg.UserInfoURL = sc.AuthorizationEndpoint, sc.TokenEndpoint, sc.UserInfoURL
	}
	v, err := auth.NewVerifier(ctx, acfg, logger.With("component", "auth"))
	return v, issuer, err
}

// sandboxIssuerURL is the embedded issuer's identifier: the adapter's own origin, under /oauth2.
func sandboxIssuerURL(cfg *config.Config) string {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return cfg.BaseURL
	}
	return u.Scheme + "://" + u.Host + "/oauth2"
}

// sandboxAudience is what sandbox tokens are issued for: the FHIR base, as SMART's aud parameter has it.
func sandboxAudience(cfg *config.Config) string {
	if cfg.AuthAudience != "" {
		return cfg.AuthAudience
	}
	return cfg.BaseURL
}

// tokenCommand prints a sandbox access token that a server started with the same configuration accepts.
// It takes the server's flags as well as its own, so that it means the server started with them.
func tokenCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	server, own := config.SplitArgs(args)
	cfg, err := config.Load(server, commandEnv(getenv), io.Discard)
	if err != nil {
		if config.Value(server, getenv, "SPINE_BASE_URL") != "" {
			return errNoSandboxIssuer // said first: completing a real Spine's configuration would not help
		}
		return fmt.Errorf("configuration:\n%w", err)
	}
	if !cfg.Sandbox() {
		return errNoSandboxIssuer
	}
	return auth.TokenCommand(ctx, own, cfg.StateDir, sandboxIssuerURL(cfg), sandboxAudience(cfg), stdout, stderr)
}

// commandEnv is the environment token and audit verify read: without the settings only the server
// uses (tracing, the verifier's tuning), so that a problem with those does not stop a tool that
// does not use them.
func commandEnv(getenv func(string) string) func(string) string {
	serverOnly := map[string]bool{}
	for _, v := range config.OTelVariables {
		serverOnly[v] = true
	}
	for _, v := range config.AuthVariables {
		serverOnly[v.Name] = true
	}
	return func(k string) string {
		if serverOnly[k] {
			return ""
		}
		return getenv(k)
	}
}

var errNoSandboxIssuer = errors.New("token: the sandbox issuer exists only with the embedded sandbox; ask your identity provider for a token")

// openAudit opens the audit store: EPS_AUDIT_DSN, else a SQLite file in the state folder; with the
// key EPS_AUDIT_KEY, else, in sandbox mode only, one kept in the state folder.
//
// EPS_AUDIT_DSN=off, for the load script's audit-off comparison only, opens none; config refuses it
// outside sandbox mode.
func openAudit(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*audit.Store, error) {
	if cfg.AuditDSN == "off" {
		logger.Warn("audit trail OFF (EPS_AUDIT_DSN=off): sandbox benchmarking only")
		return nil, nil
	}
	dsn, keyText, err := auditSettings(cfg)
	if err != nil {
		return nil, err
	}
	keys, err := audit.ParseKeys(keyText)
	if err != nil {
		return nil, err
	}
	return audit.Open(ctx, audit.Config{DSN: dsn, Keys: keys, Instance: cfg.InstanceID,
		Retention: cfg.AuditRetention, CommitDelay: cfg.AuditCommitDelay, Logger: logger.With("component", "audit")})
}

func auditSettings(cfg *config.Config) (dsn, key string, err error) {
	dsn, key = cfg.AuditDSN, cfg.AuditKey
	if dsn == "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return "", "", err
		}
		dsn = filepath.Join(cfg.StateDir, "audit.db")
	}
	if key == "" && cfg.Sandbox() {
		key, err = sandboxAuditKey(cfg.StateDir)
	}
	return dsn, key, err
}

// sandboxAuditKey is the sandbox's audit HMAC key, made on first use and kept in the state folder
// (mode 0600), so that `audit verify` and a running sandbox agree. A real deployment sets
// EPS_AUDIT_KEY from its secret store.
func sandboxAuditKey(stateDir string) (string, error) {
	path := filepath.Join(stateDir, "sandbox-audit-key")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	key := "sandbox1:" + base64.StdEncoding.EncodeToString(secret)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process made it first
			return sandboxAuditKey(stateDir)
		}
		return "", err
	}
	defer f.Close()
	_, err = f.WriteString(key + "\n")
	return key, err
}

// auditVerify runs `audit verify` on the store this configuration uses.
// Like token, it takes the server's flags as well as its own.
func auditVerify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	server, args := config.SplitArgs(args)
	cfg, err := config.Load(server, commandEnv(getenv), io.Discard)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	dsn, key, err := auditSettings(cfg)
	if err != nil {
		return err
	}
	return audit.VerifyCommand(ctx, args, func(k string) string {
		switch k {
		case "EPS_AUDIT_DSN":
			return dsn
		case "EPS_AUDIT_KEY":
			return key
		}
		return getenv(k)
	}, stdout, stderr)
}

func securityDescription(cfg *config.Config) string {
	s := "Bearer access tokens (JWT, SMART on FHIR) are required on every resource except the CapabilityStatement, " +
		"the SearchParameters and SMART discovery. Users are healthcare workers: scopes `user/MedicationRequest.rs` " +
		"(or `.read`, and likewise for MedicationDispense, Patient, Organization; `user/AuditEvent.rs` for auditors); " +
		"`patient/` scopes and patient-context tokens are refused. The selected role must carry a national RBAC " +
		"activity code (" + strings.Join(cfg.AuthActivityCodes, ", ") + "). Every access to patient data is " +
		"recorded in a local audit trail before the answer is sent."
	if cfg.Sandbox() {
		s += " This instance runs against its embedded Spine sandbox with a sandbox token issuer."
	}
	return s
}

func printWelcome(w io.Writer, cfg *config.Config, issuer *auth.Issuer, adminAddr string) {
	fmt.Fprintf(w, "EPS Tracker FHIR adapter %s\n", version)
	fmt.Fprintf(w, "  FHIR base:  %s\n", cfg.BaseURL)
	fmt.Fprintf(w, "  Transport:  %s\n", transport(cfg))
	fmt.Fprintf(w, "  Metrics:    http://%s/metrics\n", adminAddr)
	if !cfg.Sandbox() {
		fmt.Fprintf(w, "  Spine:      %s\n", cfg.SpineBaseURL)
		fmt.Fprintf(w, "  Auth:       bearer tokens from %s, audience %s\n", firstOf(cfg.AuthIssuer, cfg.AuthJWKSURL), cfg.AuthAudience)
		return
	}
	nhs := sandbox.PatientAcuteAndRepeat
	fmt.Fprintf(w, "  Spine:      embedded sandbox (mutual TLS on loopback, certificates made at start-up)\n")
	fmt.Fprintf(w, "  Patient:    NHS number %s (more test patients in README.md)\n", nhs)
	if issuer != nil {
		fmt.Fprintf(w, "  Auth:       sandbox issuer %s (users in docs/sandbox-users.md; login page %s/authorize)\n", issuer.URL(), issuer.URL())
		token, err := issuer.Mint(auth.SandboxUsers[0].UserID, "", nil, 12*time.Hour)
		if err == nil {
			fmt.Fprintf(w, "  Token:      TOKEN=%s\n", token)
			fmt.Fprintf(w, "              (or: TOKEN=$(go run . token --user %s --role %s))\n", auth.SandboxUsers[0].UserID, auth.SandboxUsers[0].RoleProfileID)
		}
	}
	fmt.Fprintf(w, "  Audit:      every access recorded; check the trail with: go run . audit verify\n")
	fmt.Fprintf(w, "  Try:        curl -s -H \"Authorization: Bearer $TOKEN\" '%s/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|%s&_pretty=true'\n", cfg.BaseURL, nhs)
	fmt.Fprintf(w, "  Capability: curl -s '%s/metadata'\n", cfg.BaseURL)
}

// transport says how the FHIR port is served, for the banner.
func transport(cfg *config.Config) string {
	switch {
	case cfg.TLSCert != "":
		return "HTTPS (EPS_FHIR_TLS_CERT)"
	case cfg.AllowPlainHTTP && !config.Loopback(cfg.Addr):
		return "plain HTTP, relying on a TLS-terminating proxy in front (EPS_FHIR_ALLOW_PLAIN_HTTP)"
	default:
		return "plain HTTP on loopback only"
	}
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// tuneCollector sets the garbage collector's defaults where the environment leaves them: a soft
// memory limit, so that the collector works harder before the process grows past what an instance is
// sized for (the caches are bounded well below it), and GOGC. GOMEMLIMIT and GOGC, read by the runtime
// itself, override them.
func tuneCollector(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
