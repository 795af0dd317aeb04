package config

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	t.Run("no configuration runs the embedded sandbox with its identities and detail calls on", func(t *testing.T) {
		c, err := Load(nil, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Sandbox() || !c.Detailed || c.SpineASID != SandboxASID {
			t.Errorf("got sandbox=%v detailed=%v asid=%q", c.Sandbox(), c.Detailed, c.SpineASID)
		}
		if got, want := c.BaseURL, "http://127.0.0.1:8080/FHIR/R4"; got != want {
			t.Errorf("BaseURL = %q, want %q", got, want)
		}
	})
	t.Run("a real Spine turns the detail calls off by default", func(t *testing.T) {
		c, err := Load(nil, env(map[string]string{
			"SPINE_BASE_URL": "https://spine.example", "SPINE_CLIENT_CERT": "c", "SPINE_CLIENT_KEY": "k",
			"SPINE_CA_CERT": "ca", "SPINE_ASID": "123456789012", "EPS_AUTH_ISSUER": "https://auth.example",
			"EPS_AUTH_AUDIENCE": "https://fhir.example/FHIR/R4", "EPS_AUDIT_KEY": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM=",
		}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.Sandbox() || c.Detailed {
			t.Errorf("got sandbox=%v detailed=%v, want both false", c.Sandbox(), c.Detailed)
		}
	})
	t.Run("settings only a real Spine uses never start the sandbox", func(t *testing.T) {
		for name, e := range map[string]map[string]string{
			"a Spine URL of spaces": {"SPINE_BASE_URL": "   ", "SPINE_ASID": "123456789012"},
			"client files without a Spine URL": {"SPINE_CLIENT_CERT": "/etc/eps/endpoint.crt",
				"SPINE_CLIENT_KEY": "/etc/eps/endpoint.key", "SPINE_CA_CERT": "/etc/eps/ca.crt"},
		} {
			c, err := Load(nil, env(e), io.Discard)
			if err == nil {
				t.Errorf("%s: accepted, sandbox %v", name, c.Sandbox())
				continue
			}
			if !strings.Contains(err.Error(), "SPINE_") {
				t.Errorf("%s: %v does not name the setting", name, err)
			}
		}
	})
	t.Run("a real Spine needs the issuer, a JWKS URL or not", func(t *testing.T) {
		_, err := Load(nil, env(map[string]string{
			"SPINE_BASE_URL": "https://spine.example", "SPINE_CLIENT_CERT": "c", "SPINE_CLIENT_KEY": "k",
			"SPINE_CA_CERT": "ca", "SPINE_ASID": "123456789012", "EPS_AUTH_JWKS_URL": "https://auth.example/jwks",
			"EPS_AUTH_AUDIENCE": "https://fhir.example/FHIR/R4", "EPS_AUDIT_KEY": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM=",
		}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "EPS_AUTH_ISSUER is required") {
			t.Errorf("a JWKS URL without an issuer: %v", err)
		}
	})
	t.Run("every problem is reported at once", func(t *testing.T) {
		_, err := Load(nil, env(map[string]string{
			"SPINE_BASE_URL": "http://spine.example", "SPINE_ASID": "12", "EPS_FHIR_TLS_CERT": "x",
			"SPINE_DETAILED_INTERACTIONS": "maybe", "EPS_SANDBOX_PATIENTS": "-1", "SPINE_USER_ID": "abc",
			"EPS_AUTH_CLOCK_SKEW": "soon", "EPS_AUDIT_COMMIT_DELAY": "5s",
		}), io.Discard)
		if err == nil {
			t.Fatal("want an error")
		}
		for _, want := range []string{"SPINE_BASE_URL", "SPINE_CLIENT_CERT", "SPINE_CLIENT_KEY", "SPINE_CA_CERT",
			"SPINE_ASID", "EPS_FHIR_TLS_CERT", "SPINE_DETAILED_INTERACTIONS", "EPS_SANDBOX_PATIENTS", "SPINE_USER_ID",
			"EPS_AUTH_CLOCK_SKEW", "EPS_AUDIT_COMMIT_DELAY"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %s:\n%v", want, err)
			}
		}
	})
	t.Run("the audit commit delay defaults to 5 ms and may be set up to 100 ms", func(t *testing.T) {
		c, err := Load(nil, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.AuditCommitDelay != 5*time.Millisecond {
			t.Errorf("AuditCommitDelay = %s, want 5ms", c.AuditCommitDelay)
		}
		if c, err = Load(nil, env(map[string]string{"EPS_AUDIT_COMMIT_DELAY": "100ms"}), io.Discard); err != nil || c.AuditCommitDelay != 100*time.Millisecond {
			t.Errorf("EPS_AUDIT_COMMIT_DELAY=100ms: %v, %v", c, err)
		}
	})
	t.Run("the base URL is never taken from anything but configuration", func(t *testing.T) {
		c, err := Load([]string{"--addr", "0.0.0.0:9000", "--allow-plain-http"}, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.BaseURL, "http://localhost:9000/FHIR/R4"; got != want {
			t.Errorf("BaseURL = %q, want %q", got, want)
		}
		c, err = Load(nil, env(map[string]string{"EPS_FHIR_BASE_URL": "https://fhir.example.nhs.uk/FHIR/R4/"}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.BaseURL, "https://fhir.example.nhs.uk/FHIR/R4"; got != want {
			t.Errorf("BaseURL = %q, want %q", got, want)
		}
	})
	t.Run("a flag choosing a real Spine drops every sandbox default, as the variable would", func(t *testing.T) {
		_, err := Load([]string{"--spine-base-url", "https://spine.example"}, env(nil), io.Discard)
		if err == nil {
			t.Fatal("want an error: a real Spine needs its certificates, ASID and authentication")
		}
		for _, want := range []string{"SPINE_CLIENT_CERT", "SPINE_ASID", "EPS_AUTH_ISSUER", "EPS_AUTH_AUDIENCE", "EPS_AUDIT_KEY"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %s:\n%v", want, err)
			}
		}
		c, err := Load([]string{"--spine-base-url", "https://spine.example", "--spine-client-cert", "c",
			"--spine-client-key", "k", "--spine-ca-cert", "ca", "--spine-asid", "123456789012",
			"--auth-issuer", "https://auth.example", "--auth-audience", "aud", "--audit-key", "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM="}, env(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.Sandbox() || c.Detailed || c.SpineUserID != "" || c.SpineRoleProfileID != "" {
			t.Errorf("got sandbox=%v detailed=%v user=%q role=%q: sandbox defaults leaked into a real Spine",
				c.Sandbox(), c.Detailed, c.SpineUserID, c.SpineRoleProfileID)
		}
	})
	t.Run("identities in configuration are refused with a real Spine", func(t *testing.T) {
		_, err := Load(nil, env(map[string]string{"SPINE_BASE_URL": "https://spine.example", "SPINE_USER_ID": "555555555555"}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "SPINE_USER_ID") || !strings.Contains(err.Error(), "sandbox only") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("flags are validated like the environment", func(t *testing.T) {
		for _, args := range [][]string{
			{"--sandbox-patients", "-5"},
			{"--spine-timeout", "soon"},
			{"--rate-limit", "lots"},
			{"--log-format", "xml"},
			{"--cors-origins", "*"},
		} {
			if _, err := Load(args, env(nil), io.Discard); err == nil {
				t.Errorf("%v accepted", args)
			}
		}
	})
	t.Run("plain HTTP off loopback needs to be asked for", func(t *testing.T) {
		_, err := Load(nil, env(map[string]string{"EPS_FHIR_ADDR": "0.0.0.0:8080"}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "EPS_FHIR_ALLOW_PLAIN_HTTP") {
			t.Errorf("got %v", err)
		}
		if _, err := Load(nil, env(map[string]string{"EPS_FHIR_ADDR": "0.0.0.0:8080", "EPS_FHIR_ALLOW_PLAIN_HTTP": "true"}), io.Discard); err != nil {
			t.Error(err)
		}
	})
	t.Run("an unknown argument is an error, not a silent start", func(t *testing.T) {
		if _, err := Load([]string{"serve"}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "serve") {
			t.Errorf("got %v", err)
		}
		if _, err := Load([]string{"--no-such-flag"}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("--version and --help", func(t *testing.T) {
		if _, err := Load([]string{"--version"}, env(nil), io.Discard); !errors.Is(err, ErrVersion) {
			t.Errorf("--version gave %v", err)
		}
		var help strings.Builder
		if _, err := Load([]string{"--help"}, env(nil), &help); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("--help gave %v", err)
		}
		for _, s := range settings {
			if !strings.Contains(help.String(), "--"+s.flag) || !strings.Contains(help.String(), s.env) {
				t.Errorf("--help does not list --%s (%s)", s.flag, s.env)
			}
		}
		for _, want := range []string{"sandbox", "token", "audit verify", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
			if !strings.Contains(help.String(), want) {
				t.Errorf("--help does not mention %s", want)
			}
		}
		if n := strings.Count(help.String(), "Usage: eps-fhir-tracker"); n != 1 {
			t.Errorf("--help printed the usage %d times, want once", n)
		}
		var bad strings.Builder
		if _, err := Load([]string{"--no-such-flag"}, env(nil), &bad); err == nil || bad.Len() != 0 {
			t.Errorf("an unknown flag gave %v and wrote %q; want an error and nothing written (the caller reports it)", err, bad.String())
		}
	})
	t.Run("paging keys rotate: several keys, the first signs", func(t *testing.T) {
		c, err := Load(nil, env(map[string]string{"EPS_FHIR_PAGE_KEY": strings.Repeat("a", 32) + "," + strings.Repeat("b", 32)}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.PageKeys) != 2 || string(c.PageKeys[0]) != strings.Repeat("a", 32) {
			t.Errorf("got %q", c.PageKeys)
		}
	})
	t.Run("authentication's own variables are read too", func(t *testing.T) {
		c, err := Load([]string{"--auth-audience", "https://flag.example/FHIR/R4"}, env(map[string]string{
			"EPS_AUTH_USER_CLAIM": "uid", "EPS_AUTH_REQUIRE_AT_JWT": "true", "EPS_AUTH_AUDIENCE": "https://env.example",
		}), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if c.AuthEnv.UserClaim != "uid" || !c.AuthEnv.RequireAccessTokenType || c.AuthAudience != "https://flag.example/FHIR/R4" {
			t.Errorf("user claim %q, at+jwt %v, audience %q", c.AuthEnv.UserClaim, c.AuthEnv.RequireAccessTokenType, c.AuthAudience)
		}
	})
	t.Run("rates", func(t *testing.T) {
		for in, want := range map[string]Rate{"20/s": {20, 20}, "600/m": {10, 10}, "20/s:40": {20, 40}, "off": {}} {
			got, ok := ParseRate(in)
			if !ok || got != want {
				t.Errorf("ParseRate(%q) = %v %v, want %v", in, got, ok, want)
			}
		}
		// NaN passes both n <= 0 and IsInf, and as a rate let every request through.
		for _, in := range []string{"NaN/s", "nan/m", "Inf/s", "-1/s", "0/s", "20", "20/h"} {
			if got, ok := ParseRate(in); ok {
				t.Errorf("ParseRate(%q) = %v, want refused", in, got)
			}
		}
	})
}

// SPINE_BREAKER_FAILURES' help says what it takes (0 or -1: no breaker; it said "0 or less", and -2
// was refused), and a SPINE_BASE_URL that the Spine client would refuse (a query, a fragment, user
// information) is refused here, with every other problem, rather than alone at start-up.
func TestSpineSettingsAreCheckedWhereTheyAreRead(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, v := range []string{"0", "-1"} {
		if _, err := Load(nil, env(map[string]string{"SPINE_BREAKER_FAILURES": v}), io.Discard); err != nil {
			t.Errorf("SPINE_BREAKER_FAILURES=%s: %v", v, err)
		}
	}
	var help strings.Builder
	Usage(&help)
	if !strings.Contains(help.String(), "0 or -1: no breaker") {
		t.Error("--help does not say which values switch the breaker off")
	}
	for _, base := range []string{"https://spine.example/?x=1", "https://spine.example/#f", "https://u:p@spine.example/"} {
		_, err := Load(nil, env(map[string]string{
			"SPINE_BASE_URL": base, "SPINE_CLIENT_CERT": "c", "SPINE_CLIENT_KEY": "k", "SPINE_CA_CERT": "ca",
			"SPINE_ASID": "123456789012", "EPS_AUTH_ISSUER": "https://idp.example", "EPS_AUTH_AUDIENCE": "x", "EPS_AUDIT_KEY": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM=",
		}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "SPINE_BASE_URL") {
			t.Errorf("SPINE_BASE_URL=%s: %v, want it refused", base, err)
		}
	}
}

// Every configuration problem is listed at once, those of the tracing settings, the environment-only
// authentication settings and the audit key's form included (each failed alone, one at a time, some
// after the listeners had started); a variable this package owns is parsed and reported once, and
// its flag overrides it (EPS_AUTH_USERINFO was parsed again by package auth, twice reported, and its
// flag could not override a bad value).
func TestEveryProblemIsListedAtOnce(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := Load(nil, env(map[string]string{
		"SPINE_TIMEOUT": "x", "OTEL_TRACES_SAMPLER": "bogus", "EPS_AUTH_CLOCK_SKEW": "10m",
		"EPS_AUTH_ALGORITHMS": "HS256", "EPS_AUDIT_KEY": "bad", "EPS_AUTH_USERINFO": "maybe",
	}), io.Discard)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"SPINE_TIMEOUT", "OTEL_TRACES_SAMPLER", "EPS_AUTH_CLOCK_SKEW", "EPS_AUTH_ALGORITHMS", "EPS_AUDIT_KEY", "EPS_AUTH_USERINFO"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "EPS_AUTH_USERINFO"); n != 1 {
		t.Errorf("EPS_AUTH_USERINFO reported %d times:\n%v", n, err)
	}
	if _, err := Load([]string{"--auth-userinfo=false"}, env(map[string]string{"EPS_AUTH_USERINFO": "maybe"}), io.Discard); err != nil {
		t.Errorf("--auth-userinfo=false over a bad EPS_AUTH_USERINFO: %v", err)
	}
}

// An environment-only authentication setting that does not parse does not hide the others' problems
// (an HMAC algorithm came only on the next run).
func TestEnvironmentOnlyProblemsAreListedWithAParseError(t *testing.T) {
	env := map[string]string{"EPS_AUTH_CLOCK_SKEW": "x", "EPS_AUTH_ALGORITHMS": "HS256"}
	_, err := Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"EPS_AUTH_CLOCK_SKEW", "EPS_AUTH_ALGORITHMS"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}
}
