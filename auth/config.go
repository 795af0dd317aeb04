package auth

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Default national RBAC activity codes: NHS England's own Clinical
// Prescription Tracker accepts B0570 and B0278.
var DefaultActivityCodes = []string{"B0570", "B0278"}

// SandboxAuditorCode is the activity code the sandbox auditor carries and the
// default of Config.AuditorCodes. No national RBAC activity code means "may
// read this adapter's audit trail", and borrowing a clinical one would open
// the trail to every clinician; a local code that no national role carries
// keeps AuditEvent closed in a real deployment until an operator names the
// code (EPS_AUTH_AUDITOR_CODES) that their organisation gives its auditors.
const SandboxAuditorCode = "EPS-AUDIT"

// DefaultClockSkew is the tolerance on exp and nbf when EPS_AUTH_CLOCK_SKEW is unset.
const DefaultClockSkew = 30 * time.Second

// DefaultAlgorithms is the signature allow-list: asymmetric algorithms only,
// so that neither "none" nor an HMAC keyed with a public key can pass.
var DefaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Config is the auth package's configuration. Each field names the
// environment variable it is read from (ConfigFromEnv, called by package
// config, whose flags override the common ones) and its default.
type Config struct {
	// Issuer is the expected iss, and the base of OIDC discovery
	// ({Issuer}/.well-known/openid-configuration). EPS_AUTH_ISSUER, required.
	Issuer string
	// JWKSURL sets the key set directly instead of discovering it.
	// EPS_AUTH_JWKS_URL, default: discovered from Issuer.
	JWKSURL string
	// Audience is the adapter's own aud; an ID token (aud = an app's client
	// id) cannot match it. EPS_AUTH_AUDIENCE, required.
	Audience string
	// ActivityCodes are the national RBAC activity codes allowing clinical
	// reads. EPS_AUTH_ACTIVITY_CODES (comma-separated), default B0570,B0278.
	ActivityCodes []string
	// AuditorCodes are the activity codes allowing AuditEvent reads.
	// EPS_AUTH_AUDITOR_CODES (comma-separated), default EPS-AUDIT (see SandboxAuditorCode).
	AuditorCodes []string
	// UserInfo fetches the CIS2 claims from the issuer's UserInfo endpoint
	// with the bearer token, as CIS2 keeps them there. EPS_AUTH_USERINFO, default false.
	UserInfo bool
	// UserInfoURL overrides the discovered userinfo_endpoint. EPS_AUTH_USERINFO_URL.
	UserInfoURL string
	// UserInfoCacheSize bounds the UserInfo answers kept (one per token, until
	// it expires). EPS_AUTH_USERINFO_CACHE_SIZE, default 10000.
	UserInfoCacheSize int
	// AuthorizationEndpoint and TokenEndpoint are advertised to SMART apps;
	// by default they come from OIDC discovery. EPS_AUTH_AUTHORIZATION_URL, EPS_AUTH_TOKEN_URL.
	AuthorizationEndpoint, TokenEndpoint string

	// Claim names, NHS CIS2 style by default.
	UserClaim         string // EPS_AUTH_USER_CLAIM, default nhsid_useruid
	SelectedRoleClaim string // EPS_AUTH_SELECTED_ROLE_CLAIM, default selected_roleid
	RolesClaim        string // EPS_AUTH_ROLES_CLAIM, default nhsid_nrbac_roles
	AssuranceClaim    string // EPS_AUTH_ASSURANCE_CLAIM, default authentication_assurance_level
	AssuranceValue    string // EPS_AUTH_ASSURANCE_VALUE, default 3 (smartcard)

	// ClockSkew is tolerated on exp and nbf. EPS_AUTH_CLOCK_SKEW, default (when the variable is
	// unset) DefaultClockSkew, at most 5m; 0 tolerates none.
	ClockSkew time.Duration
	// Algorithms is the signature allow-list. EPS_AUTH_ALGORITHMS, default DefaultAlgorithms.
	Algorithms []string
	// RequireAccessTokenType requires the RFC 9068 header typ at+jwt, for
	// issuers that mark their access tokens. EPS_AUTH_REQUIRE_AT_JWT, default false.
	RequireAccessTokenType bool
	// JWKSMinRefresh is the least time between key set refreshes caused by an
	// unknown kid, so that forged kids cannot hammer the issuer.
	// EPS_AUTH_JWKS_MIN_REFRESH, default 1m.
	JWKSMinRefresh time.Duration

	// HTTPClient fetches discovery, JWKS and UserInfo. Default: a client with a 10s timeout.
	HTTPClient *http.Client
	// Keys are static verification keys (the in-process sandbox issuer's);
	// when set, neither discovery nor JWKSURL is used for keys.
	Keys jwk.Set
}

// withDefaults fills every unset field with its default.
func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.UserClaim, "nhsid_useruid")
	def(&c.SelectedRoleClaim, "selected_roleid")
	def(&c.RolesClaim, "nhsid_nrbac_roles")
	def(&c.AssuranceClaim, "authentication_assurance_level")
	def(&c.AssuranceValue, "3")
	if c.ActivityCodes == nil {
		c.ActivityCodes = DefaultActivityCodes
	}
	if c.AuditorCodes == nil {
		c.AuditorCodes = []string{SandboxAuditorCode}
	}
	if c.Algorithms == nil {
		c.Algorithms = DefaultAlgorithms
	}
	if c.JWKSMinRefresh == 0 {
		c.JWKSMinRefresh = time.Minute
	}
	if c.UserInfoCacheSize == 0 {
		c.UserInfoCacheSize = 10000
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return c
}

// Validate reports every problem with c at once, after defaults are applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	// With static keys the issuer is only compared with iss, never fetched:
	// the in-process sandbox issuer may sit behind plain HTTP on any host.
	if c.Keys != nil {
		if u, err := url.Parse(c.Issuer); err != nil || !u.IsAbs() || u.Host == "" {
			errs = append(errs, fmt.Errorf("EPS_AUTH_ISSUER %q must be an absolute URL", c.Issuer))
		}
	} else if err := checkURL("EPS_AUTH_ISSUER", c.Issuer); err != nil {
		errs = append(errs, err)
	}
	if c.JWKSURL != "" {
		if err := checkURL("EPS_AUTH_JWKS_URL", c.JWKSURL); err != nil {
			errs = append(errs, err)
		}
	}
	if strings.TrimSpace(c.Audience) == "" {
		errs = append(errs, errors.New("EPS_AUTH_AUDIENCE is required: the adapter's own audience, never an app's client id"))
	}
	if len(c.ActivityCodes) == 0 {
		errs = append(errs, errors.New("EPS_AUTH_ACTIVITY_CODES must name at least one national RBAC activity code"))
	}
	errs = append(errs, c.checkTuning())
	return errors.Join(errs...)
}

// CheckEnvironmentOnly reports every problem with the settings read from the environment alone
// (EPS_AUTH_ALGORITHMS, EPS_AUTH_CLOCK_SKEW, the URLs and sizes: AuthVariables in package config),
// so that they are listed with every other configuration problem at start-up rather than later.
func (c Config) CheckEnvironmentOnly() error {
	return c.withDefaults().checkTuning()
}

// checkTuning checks the environment-only settings of c, defaults applied.
func (c Config) checkTuning() error {
	var errs []error
	for _, u := range []struct{ name, url string }{
		{"EPS_AUTH_USERINFO_URL", c.UserInfoURL}, {"EPS_AUTH_AUTHORIZATION_URL", c.AuthorizationEndpoint},
		{"EPS_AUTH_TOKEN_URL", c.TokenEndpoint},
	} {
		if u.url != "" && c.Keys == nil {
			if err := checkURL(u.name, u.url); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, a := range c.Algorithms {
		if _, ok := asymmetric[a]; !ok {
			errs = append(errs, fmt.Errorf("EPS_AUTH_ALGORITHMS: %q is not allowed (asymmetric signatures only)", a))
		}
	}
	if len(c.Algorithms) == 0 {
		errs = append(errs, errors.New("EPS_AUTH_ALGORITHMS must allow at least one algorithm"))
	}
	if c.ClockSkew < 0 || c.ClockSkew > 5*time.Minute {
		errs = append(errs, fmt.Errorf("EPS_AUTH_CLOCK_SKEW %s must be between 0 and 5m", c.ClockSkew))
	}
	if c.JWKSMinRefresh < 0 {
		errs = append(errs, errors.New("EPS_AUTH_JWKS_MIN_REFRESH must not be negative"))
	}
	if c.UserInfoCacheSize < 0 {
		errs = append(errs, errors.New("EPS_AUTH_USERINFO_CACHE_SIZE must not be negative"))
	}
	return errors.Join(errs...)
}

var asymmetric = map[string]struct{}{
	"RS256": {}, "RS384": {}, "RS512": {}, "PS256": {}, "PS384": {}, "PS512": {},
	"ES256": {}, "ES384": {}, "ES512": {}, "EdDSA": {},
}

func checkURL(name, s string) error {
	if s == "" {
		return fmt.Errorf("%s is required", name)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return fmt.Errorf("%s %q must be an https URL (http only on loopback)", name, s)
	}
	return nil
}

// isLoopback reports whether host is localhost or a loopback address. A name that merely starts
// with "127." (127.attacker.example) is not.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ConfigFromEnv reads the variables documented on Config through getenv
// (main's, injected) and reports every malformed value at once. Unset
// variables leave defaults in place; Validate checks what is required.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	c.Issuer = getenv("EPS_AUTH_ISSUER")
	c.JWKSURL = getenv("EPS_AUTH_JWKS_URL")
	c.Audience = getenv("EPS_AUTH_AUDIENCE")
	c.ActivityCodes = list(getenv("EPS_AUTH_ACTIVITY_CODES"))
	c.AuditorCodes = list(getenv("EPS_AUTH_AUDITOR_CODES"))
	c.Algorithms = list(getenv("EPS_AUTH_ALGORITHMS"))
	c.UserInfoURL = getenv("EPS_AUTH_USERINFO_URL")
	c.AuthorizationEndpoint = getenv("EPS_AUTH_AUTHORIZATION_URL")
	c.TokenEndpoint = getenv("EPS_AUTH_TOKEN_URL")
	c.UserClaim = getenv("EPS_AUTH_USER_CLAIM")
	c.SelectedRoleClaim = getenv("EPS_AUTH_SELECTED_ROLE_CLAIM")
	c.RolesClaim = getenv("EPS_AUTH_ROLES_CLAIM")
	c.AssuranceClaim = getenv("EPS_AUTH_ASSURANCE_CLAIM")
	c.AssuranceValue = getenv("EPS_AUTH_ASSURANCE_VALUE")
	boolean := func(name string, dst *bool) {
		if s := getenv(name); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %q is not a boolean", name, s))
			}
			*dst = b
		}
	}
	duration := func(name string, dst *time.Duration) {
		if s := getenv(name); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %q is not a duration", name, s))
			}
			*dst = d
		}
	}
	boolean("EPS_AUTH_USERINFO", &c.UserInfo)
	boolean("EPS_AUTH_REQUIRE_AT_JWT", &c.RequireAccessTokenType)
	c.ClockSkew = DefaultClockSkew
	duration("EPS_AUTH_CLOCK_SKEW", &c.ClockSkew)
	duration("EPS_AUTH_JWKS_MIN_REFRESH", &c.JWKSMinRefresh)
	if s := getenv("EPS_AUTH_USERINFO_CACHE_SIZE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("EPS_AUTH_USERINFO_CACHE_SIZE %q is not a number", s))
			n = 0 // reported here: not again as out of range
		}
		c.UserInfoCacheSize = n
	}
	return c, errors.Join(errs...)
}

// list splits a comma-separated value; nil when unset, so defaults apply.
func list(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}
