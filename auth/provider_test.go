package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"maps"
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

const testAudience = "https://eps-fhir-tracker.test/FHIR/R4"

// provider is a real OIDC provider over HTTP for the tests: discovery, a
// JWKS that can rotate, and a UserInfo endpoint.
type provider struct {
	srv      *httptest.Server
	jwksHits atomic.Int32
	infoHits atomic.Int32

	mu       sync.Mutex
	key      jwk.Key // current signing key
	public   jwk.Set
	userInfo map[string]any // served to any bearer; nil answers 401
}

func newProvider(t *testing.T) *provider {
	t.Helper()
	p := &provider{}
	p.rotate(t, "key-1")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/jwks", "userinfo_endpoint": p.srv.URL + "/userinfo",
			"authorization_endpoint": p.srv.URL + "/authorize", "token_endpoint": p.srv.URL + "/token",
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		json.NewEncoder(w).Encode(p.public)
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		p.infoHits.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.userInfo == nil || !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ey") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(p.userInfo)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// rotate replaces the provider's key, as an issuer rotating its keys does.
func (p *provider) rotate(t *testing.T, kid string) {
	t.Helper()
	key := newKey(t, kid)
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.key, p.public = key, set
	p.mu.Unlock()
}

func newKey(t *testing.T, kid string) jwk.Key {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	return key
}

func (p *provider) config() Config {
	return Config{Issuer: p.srv.URL, Audience: testAudience, RequireAccessTokenType: true, JWKSMinRefresh: time.Hour}
}

// claims are those of an allowed prescriber; cases change what they test.
func (p *provider) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": p.srv.URL, "aud": testAudience, "sub": "sub-1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"client_id": "smart-app", "scope": "user/MedicationRequest.rs user/Patient.read",
		"nhsid_useruid": "555555555555", "selected_roleid": "666666666666",
		"nhsid_nrbac_roles": []any{
			map[string]any{"person_roleid": "777777777777", "org_code": "X1", "role_code": "R1", "activity_codes": []any{"B0001"}},
			map[string]any{"person_roleid": "666666666666", "org_code": "A83008", "role_code": "S8000:G8000:R8000", "activity_codes": []any{"B0570"}},
		},
		"authentication_assurance_level": "3",
	}
}

// sign signs claims with the provider's current key and header typ.
func (p *provider) sign(t *testing.T, claims map[string]any, typ string) string {
	t.Helper()
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	kid, _ := key.KeyID()
	return signWith(t, claims, typ, kid, jwa.ES256(), key)
}

func signWith(t *testing.T, claims map[string]any, typ, kid string, alg jwa.SignatureAlgorithm, key any) string {
	t.Helper()
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if typ != "" {
		hdr.Set(jws.TypeKey, typ)
	}
	if kid != "" {
		hdr.Set(jws.KeyIDKey, kid)
	}
	out, err := jws.Sign(body, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func with(claims map[string]any, changes map[string]any) map[string]any {
	out := maps.Clone(claims)
	for k, v := range changes {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}
