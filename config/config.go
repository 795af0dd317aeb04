// Package config loads the adapter's configuration from the environment and flags, and checks it
// whole: every problem is reported at once, before anything starts.
//
// Every setting is an environment variable with a flag of its own that overrides it. Values are read
// first, flags parsed, and only then interpreted: so whether the embedded sandbox runs, and with it
// the sandbox-only defaults (identities, detailed interactions, authentication by the sandbox
// issuer), follows the final value, whether it came from the environment or a flag.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/audit"
	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/telemetry"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Identities the embedded sandbox is called with: the ASID, user and role of the T-111 sample request
// (SPEC 1.4). A real Spine needs the ASID its endpoint was registered with.
const (
	SandboxASID          = "200000000946"
	SandboxUserID        = "313175813564"
	SandboxRoleProfileID = "562926913100"
)

// maxAuditCommitDelay bounds EPS_AUDIT_COMMIT_DELAY: a typo such as 5s would hold every commit of a
// busy instance for that long, and its requests past their deadlines.
const maxAuditCommitDelay = 100 * time.Millisecond

// Config is everything the adapter needs to start.
type Config struct {
	// Spine. An empty SpineBaseURL means: run the embedded sandbox and talk to it.
	SpineBaseURL       string
	SpineClientCert    string
	SpineClientKey     string
	SpineCACert        string
	SpineASID          string
	SpineUserID        string // sandbox only: with a real Spine, identity comes from tokens
	SpineRoleProfileID string
	SpineTimeout       time.Duration
	SpineConcurrency   int // SPINE_MAX_CONCURRENCY
	SpineMaxWaiting    int // SPINE_MAX_WAITING; 0 is the client's default
	BreakerFailures    int // SPINE_BREAKER_FAILURES; negative: no breaker
	BreakerOpenFor     time.Duration
	Detailed           bool // use the 111 detail interaction for medication

	// The FHIR server.
	Addr    string // EPS_FHIR_ADDR
	BaseURL string // EPS_FHIR_BASE_URL: the public base used in absolute links
	// BaseURLDerived is true when BaseURL came from Addr: main derives it again from the address it
	// really listens on (port 0 picks one).
	BaseURLDerived bool
	TLSCert        string
	TLSKey         string
	AllowPlainHTTP bool // EPS_FHIR_ALLOW_PLAIN_HTTP: plain HTTP off loopback, behind a TLS proxy
	CORSOrigins    []string
	RateLimit      Rate // EPS_RATE_LIMIT, e.g. "20/s:40"; zero is off
	MaxActive      int  // EPS_MAX_ACTIVE_REQUESTS: patient-data requests in progress; 0 is no bound
	UnauthLimit    Rate // EPS_UNAUTH_RATE_LIMIT: per client address, requests without a valid token

	// Authentication. Outside sandbox mode it cannot be switched off.
	AuthIssuer         string
	AuthJWKSURL        string
	AuthAudience       string
	AuthActivityCodes  []string
	AuthAuditorCodes   []string
	AuthUserInfo       bool
	AuthAssuranceClaim string
	AuthAssuranceValue string
	// AuthEnv is everything else package auth reads (claim names, clock skew, algorithms, at+jwt,
	// UserInfo and endpoint overrides: AuthVariables), from the environment only.
	AuthEnv auth.Config

	// The audit trail.
	AuditDSN         string // EPS_AUDIT_DSN; default a SQLite file in the state folder
	AuditKey         string // EPS_AUDIT_KEY; sandbox default a key kept in the state folder
	AuditRetention   time.Duration
	AuditCommitDelay time.Duration // EPS_AUDIT_COMMIT_DELAY
	InstanceID       string

	// Caching.
	CacheTTL         time.Duration
	CacheMaxBytes    int64
	CacheShareAcross bool
	MemoTTL          time.Duration
	MemoMaxBytes     int64

	// Operations.
	StateDir  string // EPS_STATE_DIR: the sandbox issuer's key, the default audit database
	AdminAddr string // EPS_ADMIN_ADDR: /metrics
	LogFormat string // EPS_LOG_FORMAT: json, text, or "" (JSON unless on a terminal)
	// ShutdownGrace is how long /readyz reports not ready, on SIGTERM, before the listener closes.
	ShutdownGrace time.Duration

	SandboxPatients int
	SandboxControl  string // EPS_SANDBOX_CONTROL

	// PageKeys sign paging tokens (EPS_FHIR_PAGE_KEY, comma-separated: the first signs, all verify):
	// give every instance behind one base URL the same keys. Empty: a random key per process.
	PageKeys [][]byte
}

// RequestTimeout is the budget for all of one request's work with Spine: a read makes two calls in
// turn (retrieve, then item details), so twice the Spine deadline and a little more.
func (c *Config) RequestTimeout() time.Duration { return 2*c.SpineTimeout + 2*time.Second }

// Sandbox reports whether the adapter runs with its embedded Spine sandbox.
func (c *Config) Sandbox() bool { return c.SpineBaseURL == "" }

// setting is one environment variable and the flag that mirrors it.
type setting struct {
	env, flag, help string
	def             string // shown in --help; "" for none
}

// settings lists every variable the adapter reads, in the order --help shows them.
var settings = []setting{
	{"SPINE_BASE_URL", "spine-base-url", "Spine base URL; empty runs the embedded sandbox", ""},
	{"SPINE_CLIENT_CERT", "spine-client-cert", "PEM client certificate for Spine's mutual TLS (reloaded when it changes)", ""},
	{"SPINE_CLIENT_KEY", "spine-client-key", "PEM private key of the client certificate", ""},
	{"SPINE_CA_CERT", "spine-ca-cert", "PEM CA certificates that Spine's server certificate must chain to", ""},
	{"SPINE_ASID", "spine-asid", "the 12-digit ASID Spine registered (sandbox: " + SandboxASID + ")", ""},
	{"SPINE_USER_ID", "spine-user-id", "sandbox only: Spine-UserId when a call has no user", SandboxUserID},
	{"SPINE_ROLE_PROFILE_ID", "spine-role-profile-id", "sandbox only: Spine-RoleProfileId likewise", SandboxRoleProfileID},
	{"SPINE_DETAILED_INTERACTIONS", "spine-detailed-interactions", "use Spine's 111 detail calls for medication (real Spine: smartcard users only)", "true with the sandbox"},
	{"SPINE_TIMEOUT", "spine-timeout", "deadline of one Spine call, retries included", "10s"},
	{"SPINE_MAX_CONCURRENCY", "spine-max-concurrency", "concurrent Spine calls per instance (fleet load is instances x this)", "64"},
	{"SPINE_MAX_WAITING", "spine-max-waiting", "calls that may wait for a Spine slot; more are a fast 503", "16 x SPINE_MAX_CONCURRENCY"},
	{"SPINE_BREAKER_FAILURES", "spine-breaker-failures", "consecutive connection failures or timeouts that open the circuit breaker (0 or -1: no breaker)", "5"},
	{"SPINE_BREAKER_OPEN_FOR", "spine-breaker-open-for", "how long an open breaker answers 503 before a trial call", "10s"},
	{"EPS_FHIR_ADDR", "addr", "listen address", "127.0.0.1:8080"},
	{"EPS_FHIR_BASE_URL", "base-url", "public FHIR base URL used in links", "derived from the address"},
	{"EPS_FHIR_TLS_CERT", "tls-cert", "serve HTTPS with this PEM certificate", ""},
	{"EPS_FHIR_TLS_KEY", "tls-key", "and this PEM key", ""},
	{"EPS_FHIR_ALLOW_PLAIN_HTTP", "allow-plain-http", "serve plain HTTP off loopback (behind a TLS-terminating proxy)", "false"},
	{"EPS_FHIR_PAGE_KEY", "page-key", "secrets signing paging links, comma-separated: the first signs, all verify", "random per process"},
	{"EPS_CORS_ORIGINS", "cors-origins", "browser origins allowed to call the API, comma-separated", ""},
	{"EPS_RATE_LIMIT", "rate-limit", "per-client rate limit such as 20/s:40 (429 past it)", "off"},
	{"EPS_MAX_ACTIVE_REQUESTS", "max-active-requests", "patient-data requests worked on at once; the rest wait their turn (0: no bound)", "2 x SPINE_MAX_CONCURRENCY"},
	{"EPS_UNAUTH_RATE_LIMIT", "unauth-rate-limit", "per-address limit on requests without a valid token", "5/s:20"},
	{"EPS_AUTH_ISSUER", "auth-issuer", "OIDC issuer of access tokens (discovery); sandbox: the embedded issuer", ""},
	{"EPS_AUTH_JWKS_URL", "auth-jwks-url", "JWKS URL, when not found by discovery", ""},
	{"EPS_AUTH_AUDIENCE", "auth-audience", "the audience access tokens must carry", "the FHIR base URL in the sandbox"},
	{"EPS_AUTH_ACTIVITY_CODES", "auth-activity-codes", "national RBAC activity codes that allow clinical access", "B0570,B0278"},
	{"EPS_AUTH_AUDITOR_CODES", "auth-auditor-codes", "activity codes that allow reading the audit trail (no national code means this)", "EPS-AUDIT"},
	{"EPS_AUTH_USERINFO", "auth-userinfo", "read CIS2 roles from the issuer's UserInfo endpoint", "false"},
	{"EPS_AUTH_ASSURANCE_CLAIM", "auth-assurance-claim", "claim that shows smartcard authentication", "authentication_assurance_level"},
	{"EPS_AUTH_ASSURANCE_VALUE", "auth-assurance-value", "its value for a smartcard", "3"},
	{"EPS_AUDIT_DSN", "audit-dsn", "audit store: a SQLite file path or file: URI, or a postgres:// URL", "STATE_DIR/audit.db"},
	{"EPS_AUDIT_KEY", "audit-key", "audit HMAC keys id:base64secret, comma-separated, the first signs", "sandbox: made in the state folder"},
	{"EPS_AUDIT_RETENTION", "audit-retention", "remove audit records older than this (e.g. 2920h); empty keeps all", ""},
	{"EPS_AUDIT_COMMIT_DELAY", "audit-commit-delay", "how long a group commit of audit records may wait for those of requests in progress; 0 never waits", "5ms"},
	{"EPS_INSTANCE_ID", "instance-id", "this instance's audit chain (unique per live process)", "the host name"},
	{"EPS_CACHE_TTL", "cache-ttl", "how long Spine answers are reused; 0 disables", "30s"},
	{"EPS_CACHE_MAX_BYTES", "cache-max-bytes", "bound of each cache (Spine answers, whole answers) in bytes", "16777216"},
	{"EPS_CACHE_SHARE_ACROSS_USERS", "cache-share-across-users", "let one user's cached Spine answer serve another", "false"},
	{"EPS_MEMO_TTL", "memo-ttl", "how long each Spine record's mapped entries are kept for reuse when Spine sends it unchanged; 0 disables", "5m"},
	{"EPS_MEMO_MAX_BYTES", "memo-max-bytes", "bound of the entry memo in bytes", "16777216"},
	{"EPS_STATE_DIR", "state-dir", "local state: the sandbox issuer's key, the default audit database", ".eps-state"},
	{"EPS_ADMIN_ADDR", "admin-addr", "admin listener for /metrics", "127.0.0.1:9464"},
	{"EPS_LOG_FORMAT", "log-format", "json or text", "json unless on a terminal"},
	{"EPS_SHUTDOWN_GRACE", "shutdown-grace", "on SIGTERM, how long /readyz says not ready before the listener closes", "5s"},
	{"EPS_SANDBOX_PATIENTS", "sandbox-patients", "generated patients in the embedded sandbox", "0"},
	{"EPS_SANDBOX_CONTROL", "sandbox-control", "a file whose contents set the embedded sandbox's fault, or rotate its certificates (load/soak.sh)", ""},
}

// boolSettings are the settings whose flag needs no value: --allow-plain-http means true.
var boolSettings = map[string]bool{"SPINE_DETAILED_INTERACTIONS": true, "EPS_FHIR_ALLOW_PLAIN_HTTP": true,
	"EPS_AUTH_USERINFO": true, "EPS_CACHE_SHARE_ACROSS_USERS": true}

// Subcommands are the commands besides serving, for --help.
var Subcommands = []struct{ Name, Help string }{
	{"sandbox", "run the Spine sandbox alone (--addr, --certs, --patients, --strict, --fault)"},
	{"token", "print an access token from the sandbox issuer (--user, --role, --scope)"},
	{"audit verify", "check every audit chain and name the first broken link"},
}

// OTelVariables are read by package telemetry, listed here for --help.
var OTelVariables = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_EXPORTER"}

// SplitArgs separates, in a subcommand's arguments, the server's own flags (--addr, --state-dir...,
// for Load) from the subcommand's, so that `token` and `audit verify` take the flags the server was
// started with and mean the same server. Order is kept; a server flag's value given as the next
// argument goes with it.
func SplitArgs(args []string) (server, own []string) {
	flags := make(map[string]bool, len(settings)) // flag name -> whether it takes a value
	for _, s := range settings {
		flags[s.flag] = !boolSettings[s.env]
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			own = append(own, args[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") { // the subcommand's: a value of its own flag, or an argument
			own = append(own, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, isServer := flags[name]
		if !isServer {
			own = append(own, a)
			continue
		}
		server = append(server, a)
		if takesValue && !hasValue && i+1 < len(args) {
			i++
			server = append(server, args[i])
		}
	}
	return server, own
}

// Value is what a setting, named by its variable, is set to by args (its flag, the last one given)
// or else the environment, as Load would read it, before any default.
func Value(args []string, getenv func(string) string, env string) string {
	v := getenv(env)
	for _, s := range settings {
		if s.env != env {
			continue
		}
		for i := 0; i < len(args); i++ {
			name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
			if name != s.flag {
				continue
			}
			if !hasValue && i+1 < len(args) {
				i++
				value = args[i]
			}
			v = value
		}
	}
	return strings.TrimSpace(v)
}

// ErrVersion is returned by Load for --version.
var ErrVersion = errors.New("version requested")

// Load reads the configuration from getenv, with flags in args overriding it, and validates it.
func Load(args []string, getenv func(string) string, stderr io.Writer) (*Config, error) {
	raw := make(map[string]string, len(settings))
	var blank []error
	for _, s := range settings {
		v := getenv(s.env)
		raw[s.env] = strings.TrimSpace(v)
		if v != "" && raw[s.env] == "" {
			// It would read as unset: for SPINE_BASE_URL, the embedded sandbox instead of Spine.
			blank = append(blank, fmt.Errorf("%s is set to spaces only: unset it or give it a value", s.env))
		}
	}
	fs := flag.NewFlagSet("eps-fhir-tracker", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller
	for _, s := range settings {
		set := func(v string) error { raw[s.env] = strings.TrimSpace(v); return nil }
		if boolSettings[s.env] {
			fs.BoolFunc(s.flag, s.help+" ("+s.env+")", set)
		} else {
			fs.Func(s.flag, s.help+" ("+s.env+")", set)
		}
	}
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {} // --help prints the usage once, below; other parse errors are reported by the caller
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			Usage(stderr)
		}
		return nil, err
	}
	if *version {
		return nil, ErrVersion
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unknown argument %q: see --help for the flags and subcommands", fs.Arg(0))
	}
	// The auth package reads its environment-only settings; the variables this package owns (and
	// their flags override) are hidden from it, so that each is parsed, and reported, once.
	authEnv, authErr := auth.ConfigFromEnv(func(k string) string {
		if _, owned := raw[k]; owned {
			return ""
		}
		return getenv(k)
	})
	authErr = errors.Join(authErr, authEnv.CheckEnvironmentOnly()) // a value that did not parse is left zero: not reported twice
	c, err := parse(raw)
	// Every problem at once: the tracing settings and the audit key's form too, which would
	// otherwise fail one at a time, later, after the listeners have started.
	var keyErr error
	if key := raw["EPS_AUDIT_KEY"]; key != "" && raw["EPS_AUDIT_DSN"] != "off" {
		if _, kerr := audit.ParseKeys(key); kerr != nil {
			keyErr = kerr // it names EPS_AUDIT_KEY
		}
	}
	if err = errors.Join(append(blank, err, authErr, telemetry.CheckSettings(getenv), keyErr)...); err != nil {
		return nil, err
	}
	c.AuthEnv = authEnv
	return c, nil
}

// AuthVariables are the authentication settings read from the environment alone, with their
// defaults, for --help.
var AuthVariables = []struct{ Name, Default string }{
	{"EPS_AUTH_ALGORITHMS", strings.Join(auth.DefaultAlgorithms, ",")},
	{"EPS_AUTH_CLOCK_SKEW", auth.DefaultClockSkew.String()},
	{"EPS_AUTH_REQUIRE_AT_JWT", "false"},
	{"EPS_AUTH_USER_CLAIM", "nhsid_useruid"},
	{"EPS_AUTH_SELECTED_ROLE_CLAIM", "selected_roleid"},
	{"EPS_AUTH_ROLES_CLAIM", "nhsid_nrbac_roles"},
	{"EPS_AUTH_USERINFO_URL", "discovered"},
	{"EPS_AUTH_USERINFO_CACHE_SIZE", "10000"},
	{"EPS_AUTH_JWKS_MIN_REFRESH", "1m"},
	{"EPS_AUTH_AUTHORIZATION_URL", "discovered"},
	{"EPS_AUTH_TOKEN_URL", "discovered"},
}

// Usage prints every flag, subcommand and environment variable.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: eps-fhir-tracker [flags]        serve the FHIR API")
	for _, s := range Subcommands {
		fmt.Fprintf(w, "       eps-fhir-tracker %-16s %s\n", s.Name, s.Help)
	}
	fmt.Fprintln(w, "\nFlags (each overrides the environment variable named):")
	for _, s := range settings {
		def := ""
		if s.def != "" {
			def = " [" + s.def + "]"
		}
		fmt.Fprintf(w, "  --%-28s %s%s\n      %s\n", s.flag, s.env, def, s.help)
	}
	fmt.Fprintln(w, "  --version                      print the version")
	fmt.Fprintln(w, "\nAuthentication also reads, from the environment only:")
	for _, v := range AuthVariables {
		fmt.Fprintf(w, "  %-30s [%s]\n", v.Name, v.Default)
	}
	fmt.Fprintln(w, "\nTelemetry follows the standard OpenTelemetry variables:", strings.Join(OTelVariables, ", "))
}

// parse interprets the raw values: defaults that depend on sandbox mode are chosen here, after
// flags, so that a flag and its variable mean the same thing.
func parse(raw map[string]string) (*Config, error) {
	var problems []error
	bad := func(key, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s=%q: %s", key, raw[key], fmt.Sprintf(format, args...)))
	}
	str := func(key, def string) string {
		if v := raw[key]; v != "" {
			return v
		}
		return def
	}
	boolean := func(key string, def bool) bool {
		v := raw[key]
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(key, "want true or false")
		}
		return b
	}
	duration := func(key string, def time.Duration, zeroOK bool) time.Duration {
		v := raw[key]
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d == 0 && !zeroOK {
			bad(key, "want a positive duration such as 10s")
		}
		return d
	}
	integer := func(key string, def, lo, hi int64) int64 {
		v := raw[key]
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < lo || n > hi {
			bad(key, "want a whole number from %d to %d", lo, hi)
		}
		return n
	}
	list := func(key, def string) []string {
		var out []string
		for _, v := range strings.Split(str(key, def), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
		return out
	}

	c := &Config{SpineBaseURL: raw["SPINE_BASE_URL"]}
	sandbox := c.Sandbox()
	c.SpineClientCert, c.SpineClientKey, c.SpineCACert = raw["SPINE_CLIENT_CERT"], raw["SPINE_CLIENT_KEY"], raw["SPINE_CA_CERT"]
	if sandbox {
		c.SpineASID = str("SPINE_ASID", SandboxASID)
		c.SpineUserID = str("SPINE_USER_ID", SandboxUserID)
		c.SpineRoleProfileID = str("SPINE_ROLE_PROFILE_ID", SandboxRoleProfileID)
	} else {
		c.SpineASID = raw["SPINE_ASID"]
		// With a real Spine, who asks always comes from the access token.
		for _, k := range []string{"SPINE_USER_ID", "SPINE_ROLE_PROFILE_ID"} {
			if raw[k] != "" {
				bad(k, "sandbox only: with a real Spine the user and role come from each request's access token")
			}
		}
	}
	// The 111 detail calls need a smartcard-authenticated user on a real Spine (SPEC 1.3).
	c.Detailed = boolean("SPINE_DETAILED_INTERACTIONS", sandbox)
	c.SpineTimeout = duration("SPINE_TIMEOUT", 10*time.Second, false)
	c.SpineConcurrency = int(integer("SPINE_MAX_CONCURRENCY", 64, 1, 10_000))
	c.SpineMaxWaiting = int(integer("SPINE_MAX_WAITING", 0, 0, 1_000_000))
	c.BreakerFailures = int(integer("SPINE_BREAKER_FAILURES", 5, -1, 1_000))
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = -1 // the client's "no breaker"
	}
	c.BreakerOpenFor = duration("SPINE_BREAKER_OPEN_FOR", 10*time.Second, false)

	c.Addr = str("EPS_FHIR_ADDR", "127.0.0.1:8080")
	c.BaseURL = raw["EPS_FHIR_BASE_URL"]
	c.TLSCert, c.TLSKey = raw["EPS_FHIR_TLS_CERT"], raw["EPS_FHIR_TLS_KEY"]
	c.AllowPlainHTTP = boolean("EPS_FHIR_ALLOW_PLAIN_HTTP", false)
	c.CORSOrigins = list("EPS_CORS_ORIGINS", "")
	rate := func(key, def string) Rate {
		r, ok := ParseRate(str(key, def))
		if !ok {
			bad(key, "want a rate such as 20/s, 600/m or 20/s:40 (burst), or off")
		}
		return r
	}
	c.RateLimit = rate("EPS_RATE_LIMIT", "off")
	c.MaxActive = int(integer("EPS_MAX_ACTIVE_REQUESTS", int64(2*c.SpineConcurrency), 0, 1_000_000))
	c.UnauthLimit = rate("EPS_UNAUTH_RATE_LIMIT", "5/s:20")
	for _, k := range list("EPS_FHIR_PAGE_KEY", "") {
		if len(k) < 32 {
			problems = append(problems, errors.New("EPS_FHIR_PAGE_KEY: want each key at least 32 characters of secret"))
		}
		c.PageKeys = append(c.PageKeys, []byte(k))
	}

	c.AuthIssuer, c.AuthJWKSURL, c.AuthAudience = raw["EPS_AUTH_ISSUER"], raw["EPS_AUTH_JWKS_URL"], raw["EPS_AUTH_AUDIENCE"]
	c.AuthActivityCodes = list("EPS_AUTH_ACTIVITY_CODES", "B0570,B0278")
	c.AuthAuditorCodes = list("EPS_AUTH_AUDITOR_CODES", "EPS-AUDIT")
	c.AuthUserInfo = boolean("EPS_AUTH_USERINFO", false)
	c.AuthAssuranceClaim = str("EPS_AUTH_ASSURANCE_CLAIM", "authentication_assurance_level")
	c.AuthAssuranceValue = str("EPS_AUTH_ASSURANCE_VALUE", "3")

	c.StateDir = str("EPS_STATE_DIR", ".eps-state")
	c.AuditDSN, c.AuditKey = raw["EPS_AUDIT_DSN"], raw["EPS_AUDIT_KEY"]
	c.AuditRetention = duration("EPS_AUDIT_RETENTION", 0, true)
	c.AuditCommitDelay = duration("EPS_AUDIT_COMMIT_DELAY", 5*time.Millisecond, true)
	if c.AuditCommitDelay > maxAuditCommitDelay {
		bad("EPS_AUDIT_COMMIT_DELAY", "at most %s: a busy instance's every commit may wait this long", maxAuditCommitDelay)
	}
	c.InstanceID = raw["EPS_INSTANCE_ID"]

	c.CacheTTL = duration("EPS_CACHE_TTL", 30*time.Second, true)
	c.CacheMaxBytes = integer("EPS_CACHE_MAX_BYTES", cache.DefaultMaxBytes, 0, 1<<40)
	c.CacheShareAcross = boolean("EPS_CACHE_SHARE_ACROSS_USERS", false)
	c.MemoTTL = duration("EPS_MEMO_TTL", 5*time.Minute, true)
	c.MemoMaxBytes = integer("EPS_MEMO_MAX_BYTES", cache.DefaultMemoMaxBytes, 0, 1<<40)

	c.AdminAddr = str("EPS_ADMIN_ADDR", "127.0.0.1:9464")
	c.LogFormat = raw["EPS_LOG_FORMAT"]
	c.ShutdownGrace = duration("EPS_SHUTDOWN_GRACE", 5*time.Second, true)
	c.SandboxPatients = int(integer("EPS_SANDBOX_PATIENTS", 0, 0, 10_000_000))
	c.SandboxControl = raw["EPS_SANDBOX_CONTROL"]

	if c.BaseURL == "" {
		c.BaseURL = DeriveBaseURL(c.Addr, c.TLSCert != "")
		c.BaseURLDerived = true
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	problems = append(problems, c.validate())
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return c, nil
}

// DeriveBaseURL builds the public base from a listen address, never from a request's Host header.
func DeriveBaseURL(addr string, https bool) string {
	scheme := "http"
	if https {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr + "/FHIR/R4"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/FHIR/R4"
}

// Loopback reports whether addr listens on loopback only.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validate() error {
	var problems []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Errorf("EPS_FHIR_ADDR=%q: want host:port", c.Addr))
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("EPS_FHIR_BASE_URL=%q: want an absolute http(s) URL", c.BaseURL))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		problems = append(problems, errors.New("EPS_FHIR_TLS_CERT and EPS_FHIR_TLS_KEY go together: set both or neither"))
	}
	if c.TLSCert == "" && !c.AllowPlainHTTP && !Loopback(c.Addr) {
		problems = append(problems, fmt.Errorf("EPS_FHIR_ADDR=%q: plain HTTP off loopback carries bearer tokens in clear; serve HTTPS (EPS_FHIR_TLS_CERT, EPS_FHIR_TLS_KEY) or, behind a TLS-terminating proxy, set EPS_FHIR_ALLOW_PLAIN_HTTP=true", c.Addr))
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); o == "*" || err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			problems = append(problems, fmt.Errorf("EPS_CORS_ORIGINS: %q is not an origin such as https://app.example.nhs.uk (no wildcard)", o))
		}
	}
	// Spine's mutual TLS files: required with a real Spine; with the sandbox, a sign that someone
	// meant a real one, so never answered by the sandbox.
	for _, f := range []struct{ name, value string }{
		{"SPINE_CLIENT_CERT", c.SpineClientCert},
		{"SPINE_CLIENT_KEY", c.SpineClientKey},
		{"SPINE_CA_CERT", c.SpineCACert},
	} {
		switch {
		case c.Sandbox() && f.value != "":
			problems = append(problems, fmt.Errorf("%s is set but SPINE_BASE_URL is not, so the embedded sandbox would answer in Spine's place: set SPINE_BASE_URL, or unset %s to run the sandbox", f.name, f.name))
		case !c.Sandbox() && f.value == "":
			problems = append(problems, fmt.Errorf("%s is required with SPINE_BASE_URL (Spine requires mutual TLS)", f.name))
		}
	}
	if !c.Sandbox() {
		if u, err := url.Parse(c.SpineBaseURL); err != nil || u.Scheme != "https" || u.Host == "" ||
			u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.User != nil {
			problems = append(problems, fmt.Errorf("SPINE_BASE_URL=%q: want an absolute https URL without query, fragment or user", c.SpineBaseURL))
		}
		// Authentication cannot be switched off against a real Spine.
		if c.AuthIssuer == "" { // the verifier checks every token's iss against it, JWKS URL or not
			problems = append(problems, errors.New("EPS_AUTH_ISSUER is required with a real Spine: end users must be authenticated (EPS_AUTH_JWKS_URL only says where its keys are)"))
		}
		if c.AuthAudience == "" {
			problems = append(problems, errors.New("EPS_AUTH_AUDIENCE is required with a real Spine: the audience this adapter's access tokens carry"))
		}
		if c.AuditDSN == "off" {
			problems = append(problems, errors.New("EPS_AUDIT_DSN=off: the audit trail can be switched off only in sandbox mode, for benchmarks"))
		}
		if c.AuditKey == "" {
			problems = append(problems, errors.New("EPS_AUDIT_KEY is required with a real Spine: the audit trail's HMAC key, kept outside its database"))
		}
	}
	for _, u := range []struct{ name, value string }{{"EPS_AUTH_ISSUER", c.AuthIssuer}, {"EPS_AUTH_JWKS_URL", c.AuthJWKSURL}} {
		if u.value == "" {
			continue
		}
		if p, err := url.Parse(u.value); err != nil || (p.Scheme != "https" && !(p.Scheme == "http" && Loopback(p.Host+portOf(p)))) || p.Host == "" {
			problems = append(problems, fmt.Errorf("%s=%q: want an absolute https URL", u.name, u.value))
		}
	}
	if len(c.AuthActivityCodes) == 0 {
		problems = append(problems, errors.New("EPS_AUTH_ACTIVITY_CODES: want at least one activity code"))
	}
	if slices.ContainsFunc(c.AuthActivityCodes, func(s string) bool { return len(s) > 16 }) {
		problems = append(problems, errors.New("EPS_AUTH_ACTIVITY_CODES: an activity code is a short code such as B0570"))
	}
	if !tracker.ValidASID(c.SpineASID) {
		problems = append(problems, fmt.Errorf("SPINE_ASID=%q: want the 12-digit ASID Spine registered", c.SpineASID))
	}
	if c.SpineUserID != "" && !tracker.ValidUserID(c.SpineUserID) {
		problems = append(problems, fmt.Errorf("SPINE_USER_ID=%q: want 12 digits", c.SpineUserID))
	}
	if c.SpineRoleProfileID != "" && !tracker.ValidRoleProfileID(c.SpineRoleProfileID) {
		problems = append(problems, fmt.Errorf("SPINE_ROLE_PROFILE_ID=%q: want 12 digits", c.SpineRoleProfileID))
	}
	if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
		problems = append(problems, fmt.Errorf("EPS_ADMIN_ADDR=%q: want host:port", c.AdminAddr))
	}
	if c.LogFormat != "" && c.LogFormat != "json" && c.LogFormat != "text" {
		problems = append(problems, fmt.Errorf("EPS_LOG_FORMAT=%q: want json or text", c.LogFormat))
	}
	return errors.Join(problems...)
}

// portOf is ":port" of u, or "" when it has none, for Loopback's host:port form.
func portOf(u *url.URL) string {
	if u.Port() != "" {
		return ""
	}
	return ":0"
}

// Rate is a token-bucket rate: PerSecond on average, Burst at once. The zero Rate is no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// ParseRate reads "N/s", "N/m" or "N/s:burst" (e.g. "20/s:40"); "" or "off" is no limit.
func ParseRate(s string) (Rate, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return Rate{}, true
	}
	spec, burstText, hasBurst := strings.Cut(s, ":")
	num, unit, ok := strings.Cut(spec, "/")
	if !ok {
		return Rate{}, false
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || !(n > 0) || math.IsInf(n, 0) { // NaN is not > 0: as a rate it allowed everything
		return Rate{}, false
	}
	switch unit {
	case "s":
	case "m":
		n /= 60
	default:
		return Rate{}, false
	}
	r := Rate{PerSecond: n, Burst: int(math.Ceil(n))}
	if hasBurst {
		b, err := strconv.Atoi(burstText)
		if err != nil || b < 1 {
			return Rate{}, false
		}
		r.Burst = b
	}
	r.Burst = max(r.Burst, 1)
	return r, true
}
