package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// With EPS_AUTH_JWKS_URL set but no EPS_AUTH_AUTHORIZATION_URL/TOKEN_URL, discovery still names the
// authorization_endpoint and token_endpoint that SMART App Launch 2 requires in smart-configuration
// (before, discovery was skipped and both were missing).
func TestAJWKSURLStillDiscoversSMARTsEndpoints(t *testing.T) {
	p := newProvider(t)
	c := p.config()
	c.JWKSURL = p.srv.URL + "/jwks"
	doc := newVerifier(t, c).SMARTConfiguration()
	for _, k := range []string{"authorization_endpoint", "token_endpoint"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("smart-configuration has no %s (REQUIRED by SMART App Launch 2): %v", k, doc)
		}
	}
}

// OIDC Core 5.3.2: the UserInfo sub MUST be verified to match; a UserInfo answer without sub is not
// a valid answer and its claims must not be used (before, its roles decided RBAC).
func TestAUserInfoAnswerWithoutSubIsNotUsed(t *testing.T) {
	p := newProvider(t)
	full := p.claims()
	p.userInfo = map[string]any{ // no "sub"
		"nhsid_useruid": "999999999999", "selected_roleid": "666666666666", "nhsid_nrbac_roles": full["nhsid_nrbac_roles"],
	}
	c := p.config()
	c.UserInfo = true
	v := newVerifier(t, c)
	token := p.sign(t, with(full, map[string]any{"nhsid_useruid": nil, "selected_roleid": nil, "nhsid_nrbac_roles": nil}), "at+jwt")
	id, err := v.Authenticate(t.Context(), "Bearer "+token)
	if err == nil {
		t.Errorf("a UserInfo answer without sub was used: user %s role %s codes %v", id.UserID, id.RoleProfileID, id.ActivityCodes)
	}
}

// RFC 7515 4.1.11: a JWS whose crit names an extension the recipient does not understand MUST be
// rejected. jwt.Parse with a key provider goes through jws.Verify, whose crit validation is off by
// default in jwx v3, so provideKey refuses it.
func TestATokenWithCriticalHeaderParametersIsRefused(t *testing.T) {
	p := newProvider(t)
	v := newVerifier(t, p.config())
	body, _ := json.Marshal(p.claims())
	hdr := jws.NewHeaders()
	hdr.Set(jws.TypeKey, "at+jwt")
	hdr.Set(jws.KeyIDKey, "key-1")
	hdr.Set("urn:example:must-understand", true)
	hdr.Set(jws.CriticalKey, []string{"urn:example:must-understand"})
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	tok, err := jws.Sign(body, jws.WithKey(jwa.ES256(), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Authenticate(t.Context(), "Bearer "+string(tok)); err == nil {
		t.Error("a token with an unknown critical header parameter was accepted")
	}
}

// EPS_AUTH_CLOCK_SKEW=0s is documented as allowed ("between 0 and 5m") and tolerates nothing (it
// became the 30 s default).
func TestAZeroClockSkewToleratesNone(t *testing.T) {
	c, err := ConfigFromEnv(func(k string) string {
		if k == "EPS_AUTH_CLOCK_SKEW" {
			return "0s"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	p := newProvider(t)
	pc := p.config()
	pc.ClockSkew = c.ClockSkew
	v := newVerifier(t, pc)
	expired := p.sign(t, with(p.claims(), map[string]any{"exp": time.Now().Add(-10 * time.Second).Unix()}), "at+jwt")
	if _, err := v.Authenticate(t.Context(), "Bearer "+expired); err == nil {
		t.Errorf("EPS_AUTH_CLOCK_SKEW=0s: a token expired 10 s ago was accepted (skew in effect %s)", v.cfg.ClockSkew)
	}
}

// The verified-token cache holds a token only while the key set that verified it is current
// (verified.go): a token verified with key-1 while a refresh withdraws key-1 is not remembered under
// the new set (it was, and then served for up to five minutes without any key that verifies it).
func TestATokenVerifiedWhileItsKeyIsWithdrawnIsNotRemembered(t *testing.T) {
	var (
		mu       sync.Mutex
		key      = newKey(t, "key-1")
		pubSet   = publicSet(t, key)
		release  = make(chan struct{})
		entered  = make(chan struct{}, 1)
		blocking atomic.Bool
	)
	blocking.Store(true)
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks", "userinfo_endpoint": srv.URL + "/userinfo"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		json.NewEncoder(w).Encode(pubSet)
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if blocking.Load() {
			entered <- struct{}{}
			<-release
		}
		json.NewEncoder(w).Encode(map[string]any{"sub": "sub-1"})
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()

	v := newVerifier(t, Config{Issuer: srv.URL, Audience: testAudience, UserInfo: true, JWKSMinRefresh: time.Nanosecond})
	claims := map[string]any{
		"iss": srv.URL, "aud": testAudience, "sub": "sub-1", "exp": time.Now().Add(time.Hour).Unix(),
		"scope": "user/MedicationRequest.rs", "nhsid_useruid": "555555555555", "selected_roleid": "666666666666",
		"nhsid_nrbac_roles": []any{map[string]any{"person_roleid": "666666666666", "activity_codes": []any{"B0570"}}},
	}
	old := signWith(t, claims, "", "key-1", jwa.ES256(), key)

	done := make(chan error, 1)
	go func() { _, err := v.Authenticate(t.Context(), "Bearer "+old); done <- err }()
	<-entered // the signature with key-1 is verified; UserInfo is being asked

	// Meanwhile the issuer withdraws key-1, and a token with its new kid makes the adapter refresh.
	key2 := newKey(t, "key-2")
	mu.Lock()
	pubSet = publicSet(t, key2)
	mu.Unlock()
	blocking.Store(false)
	if _, err := v.Authenticate(t.Context(), "Bearer "+signWith(t, with(claims, map[string]any{"jti": "x"}), "", "key-2", jwa.ES256(), key2)); err != nil {
		t.Fatalf("token with the new key: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first verification: %v", err)
	}
	// key-1 is in no current set, yet the token signed with it is still accepted.
	if _, err := v.Authenticate(t.Context(), "Bearer "+old); err == nil {
		t.Error("a token signed with a withdrawn key is accepted after the key set that withdrew it is current")
	}
}

func publicSet(t *testing.T, key jwk.Key) jwk.Set {
	t.Helper()
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	set.AddKey(pub)
	return set
}

// An outage of the issuer's UserInfo endpoint (HTTP 503) is a 503 transient with Retry-After and no
// challenge, not a 401 invalid_token, which would tell a SMART client to throw its valid token away
// (RFC 6750 3.1: invalid_token is for a token that is "expired, revoked, malformed, or invalid").
// UserInfo refusing the token (401) stays a 401.
func TestAUserInfoOutageIsA503NotABadToken(t *testing.T) {
	var down, forbid atomic.Bool
	var srv *httptest.Server
	key := newKey(t, "key-1")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks", "userinfo_endpoint": srv.URL + "/userinfo"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(publicSet(t, key)) })
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if forbid.Load() {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"sub": "sub-1"})
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	v := newVerifier(t, Config{Issuer: srv.URL, Audience: testAudience, UserInfo: true})
	down.Store(true)
	tok := signWith(t, map[string]any{"iss": srv.URL, "aud": testAudience, "sub": "sub-1", "exp": time.Now().Add(time.Hour).Unix()}, "", "key-1", jwa.ES256(), key)
	_, err := v.Authenticate(t.Context(), "Bearer "+tok)
	e, ok := err.(*Error)
	if !ok || e.Status != http.StatusServiceUnavailable || e.IssueCode != "transient" || e.RetryAfter <= 0 || e.WWWAuthenticate() != "" {
		t.Fatalf("UserInfo answering 503: %#v, want a 503 transient with a Retry-After and no challenge", err)
	}
	// The issuer refusing the token is still the token's fault.
	down.Store(false)
	refused := signWith(t, map[string]any{"iss": srv.URL, "aud": testAudience, "sub": "sub-2", "exp": time.Now().Add(time.Hour).Unix()}, "", "key-1", jwa.ES256(), key)
	forbid.Store(true)
	_, err = v.Authenticate(t.Context(), "Bearer "+refused)
	if e, ok := err.(*Error); !ok || e.Status != http.StatusUnauthorized || e.BearerCode != InvalidToken {
		t.Errorf("UserInfo answering 401: %#v, want a 401 invalid_token", err)
	}
}

// The jwks_uri and userinfo_endpoint OIDC discovery names are held to the rule of the configured
// URLs, https (http only on loopback): here the issuer is https and names plain-HTTP endpoints on a
// host that is not loopback, and the verifier refuses to start without fetching from them.
func TestDiscoveredEndpointsMustBeHTTPS(t *testing.T) {
	key := newKey(t, "key-1")
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(publicSet(t, key))
	}))
	defer plain.Close()
	var issuer *httptest.Server
	issuer = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": issuer.URL, "jwks_uri": "http://keys.example.test/jwks",
			"userinfo_endpoint": "http://keys.example.test/userinfo"})
	}))
	defer issuer.Close()
	client := issuer.Client()
	tr := client.Transport.(*http.Transport).Clone()
	var plainHits atomic.Int32
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "keys.example.test:80" { // stands in for DNS: the host is not loopback
			plainHits.Add(1)
			addr = plain.Listener.Addr().String()
		}
		return dial(ctx, network, addr)
	}
	client.Transport = tr
	v, err := NewVerifier(t.Context(), Config{Issuer: issuer.URL, Audience: testAudience, HTTPClient: client}, nil)
	if err == nil {
		t.Fatalf("NewVerifier accepted keys fetched over plain HTTP from http://keys.example.test/jwks (%d plain fetches); SMART jwks_uri = %v",
			plainHits.Load(), v.SMARTConfiguration()["jwks_uri"])
	}
	if plainHits.Load() != 0 || !strings.Contains(err.Error(), "jwks_uri") {
		t.Errorf("err = %v after %d plain fetches, want the jwks_uri named and nothing fetched", err, plainHits.Load())
	}
	// UserInfo, when the verifier asks it, is held to the same rule.
	v, err = NewVerifier(t.Context(), Config{Issuer: issuer.URL, Audience: testAudience, HTTPClient: client,
		JWKSURL: "https://127.0.0.1:1/jwks", UserInfo: true}, nil)
	if err == nil || !strings.Contains(err.Error(), "userinfo_endpoint") {
		t.Errorf("a plain-HTTP userinfo_endpoint for UserInfo: %v", err)
	}
}

// With EPS_AUTH_JWKS_URL, discovery is asked only for what smart-configuration advertises, so an
// issuer without a discovery document still starts (it did before discovery was asked for SMART's
// endpoints), with a warning naming the variables that would complete it; configured, they are
// advertised.
func TestAJWKSURLWithoutDiscoveryStillStarts(t *testing.T) {
	p := newProvider(t)
	jwks := p.srv.URL + "/jwks"
	noDiscovery := httptest.NewServer(http.NotFoundHandler())
	defer noDiscovery.Close()
	c := p.config()
	c.Issuer, c.JWKSURL = noDiscovery.URL, jwks
	var logs strings.Builder
	v, err := NewVerifier(t.Context(), c, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("a JWKS URL and an issuer without discovery: %v", err)
	}
	if doc := v.SMARTConfiguration(); doc["jwks_uri"] != jwks || doc["authorization_endpoint"] != nil {
		t.Errorf("smart-configuration = %v", doc)
	}
	if !strings.Contains(logs.String(), "EPS_AUTH_AUTHORIZATION_URL") {
		t.Errorf("no warning naming the variables: %s", logs.String())
	}
	c.AuthorizationEndpoint, c.TokenEndpoint = "https://idp.example/authorize", "https://idp.example/token"
	doc := newVerifier(t, c).SMARTConfiguration()
	if doc["authorization_endpoint"] != c.AuthorizationEndpoint || doc["token_endpoint"] != c.TokenEndpoint || doc["jwks_uri"] != jwks {
		t.Errorf("smart-configuration = %v", doc)
	}
}
