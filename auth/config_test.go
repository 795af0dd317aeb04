package auth

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestValidateListsEveryProblem(t *testing.T) {
	err := Config{Issuer: "http://idp.example.com", ActivityCodes: []string{}, Algorithms: []string{"HS256", "none"}, ClockSkew: time.Hour}.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad configuration")
	}
	for _, want := range []string{"EPS_AUTH_ISSUER", "EPS_AUTH_AUDIENCE", "EPS_AUTH_ACTIVITY_CODES", `"HS256"`, `"none"`, "EPS_AUTH_CLOCK_SKEW"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q does not mention %s", err, want)
		}
	}
}

func TestValidateAcceptsAMinimalConfiguration(t *testing.T) {
	if err := (Config{Issuer: "https://am.nhsidentity.spineservices.nhs.uk/openam/oauth2/realms/root/realms/oidc", Audience: "eps-fhir-tracker"}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidateLetsAnInProcessIssuerUsePlainHTTP(t *testing.T) {
	c := Config{Issuer: "http://eps.internal:8080/oauth2", Audience: "eps"}
	if err := c.Validate(); err == nil {
		t.Error("Validate accepted a plain-HTTP issuer it would fetch keys from")
	}
	c.Keys = jwk.NewSet()
	if err := c.Validate(); err != nil {
		t.Errorf("Validate with static keys: %v", err)
	}
}

// A plain-HTTP UserInfo URL, fetched with the user's token, is allowed on loopback only; a host name
// that merely starts with "127." is not loopback.
func TestAPlainHTTPUserInfoURLMustBeLoopback(t *testing.T) {
	for u, ok := range map[string]bool{
		"http://127.0.0.1:9090/userinfo":       true,
		"http://[::1]:9090/userinfo":           true,
		"http://localhost/userinfo":            true,
		"https://idp.example.com/userinfo":     true,
		"http://127.attacker.example/userinfo": false,
		"http://127.0.0.1.nip.io/userinfo":     false,
		"http://idp.example.com/userinfo":      false,
	} {
		c := Config{Issuer: "https://idp.example.com", Audience: "eps", UserInfoURL: u}
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("UserInfoURL %s: %v", u, err)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"EPS_AUTH_ISSUER":         "https://idp.example.com",
		"EPS_AUTH_AUDIENCE":       "eps",
		"EPS_AUTH_ACTIVITY_CODES": "B0570, B0278,B0570",
		"EPS_AUTH_USERINFO":       "true",
		"EPS_AUTH_CLOCK_SKEW":     "10s",
	}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.ActivityCodes, []string{"B0570", "B0278"}) {
		t.Errorf("ActivityCodes = %v", c.ActivityCodes)
	}
	if !c.UserInfo || c.ClockSkew != 10*time.Second {
		t.Errorf("UserInfo = %v, ClockSkew = %v", c.UserInfo, c.ClockSkew)
	}
	if got := c.withDefaults().AuditorCodes; !slices.Equal(got, []string{SandboxAuditorCode}) {
		t.Errorf("default AuditorCodes = %v", got)
	}

	env["EPS_AUTH_USERINFO"] = "maybe"
	env["EPS_AUTH_CLOCK_SKEW"] = "soon"
	_, err = ConfigFromEnv(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "EPS_AUTH_USERINFO") || !strings.Contains(err.Error(), "EPS_AUTH_CLOCK_SKEW") {
		t.Errorf("ConfigFromEnv error = %v, want both malformed variables", err)
	}
}
