package auth

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestUnknownKidRefreshesTheKeySetOnceRotated(t *testing.T) {
	p := newProvider(t)
	v := newVerifier(t, p.config())
	if got, want := p.jwksHits.Load(), int32(1); got != want {
		t.Fatalf("JWKS fetched %d times at start-up, want %d", got, want)
	}
	p.rotate(t, "key-2")
	if _, err := v.Authenticate(t.Context(), "Bearer "+p.sign(t, p.claims(), "at+jwt")); err != nil {
		t.Fatalf("token signed with the rotated key: %v", err)
	}
	if got, want := p.jwksHits.Load(), int32(2); got != want {
		t.Errorf("JWKS fetched %d times after rotation, want %d", got, want)
	}

	t.Run("and made-up kids do not make it fetch again within the refresh interval", func(t *testing.T) {
		forged := signWith(t, p.claims(), "at+jwt", "key-3", jwa.ES256(), newKey(t, "key-3"))
		for range 3 {
			if _, err := v.Authenticate(t.Context(), "Bearer "+forged); err == nil {
				t.Fatal("a token with an unknown kid was accepted")
			}
		}
		if got, want := p.jwksHits.Load(), int32(2); got != want {
			t.Errorf("JWKS fetched %d times, want %d", got, want)
		}
	})
}

func TestNewVerifierFailsAtStartUp(t *testing.T) {
	p := newProvider(t)
	tests := []struct {
		name   string
		config Config
	}{
		{"when discovery names another issuer", Config{Issuer: p.srv.URL + "/", Audience: testAudience}},
		{"when the JWKS cannot be fetched", Config{Issuer: p.srv.URL, JWKSURL: p.srv.URL + "/missing", Audience: testAudience}},
		{"when the configuration is invalid", Config{Issuer: p.srv.URL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewVerifier(context.Background(), tt.config, slog.New(slog.DiscardHandler)); err == nil {
				t.Error("NewVerifier succeeded")
			}
		})
	}
}

func TestStaticKeysNeedNoNetwork(t *testing.T) {
	key := newKey(t, "static")
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	set.AddKey(pub)
	c := Config{Issuer: "https://issuer.invalid", Audience: testAudience, Keys: set}
	v := newVerifier(t, c)
	claims := map[string]any{"iss": c.Issuer, "aud": testAudience, "exp": time.Now().Add(time.Minute).Unix(), "scope": "user/*.rs"}
	if _, err := v.Authenticate(t.Context(), "Bearer "+signWith(t, claims, "", "static", jwa.ES256(), key)); err != nil {
		t.Errorf("Authenticate: %v", err)
	}
}

func TestSMARTConfigurationAdvertisesTheDiscoveredServer(t *testing.T) {
	p := newProvider(t)
	doc := newVerifier(t, p.config()).SMARTConfiguration()
	for k, want := range map[string]string{
		"authorization_endpoint": p.srv.URL + "/authorize", "token_endpoint": p.srv.URL + "/token",
	} {
		if got := doc[k]; got != want {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	// SMART App Launch 2: issuer only with the sso-openid-connect capability, which is not offered.
	if caps, _ := doc["capabilities"].([]string); doc["issuer"] != nil || slices.Contains(caps, "sso-openid-connect") {
		t.Errorf("issuer = %v with capabilities %v, want no issuer and no sso-openid-connect", doc["issuer"], caps)
	}
	if caps, _ := doc["capabilities"].([]string); !slices.Contains(caps, "permission-v2") {
		t.Errorf("capabilities = %v, want permission-v2 among them", caps)
	}
}

func TestAWithdrawnKeyStopsVerifyingOnceTheSetIsOld(t *testing.T) {
	p := newProvider(t)
	v := newVerifier(t, p.config())
	old := p.sign(t, p.claims(), "at+jwt")
	if _, err := v.Authenticate(t.Context(), "Bearer "+old); err != nil {
		t.Fatalf("Authenticate before rotation: %v", err)
	}
	p.rotate(t, "key-2") // key-1 is withdrawn from the JWKS
	v.keys.mu.Lock()
	v.keys.fetched = time.Now().Add(-2 * keysMaxAge)
	v.keys.mu.Unlock()
	if _, err := v.Authenticate(t.Context(), "Bearer "+old); err == nil {
		t.Error("a token signed with a withdrawn key was accepted after the key set aged")
	}
	if got, want := p.jwksHits.Load(), int32(2); got != want {
		t.Errorf("JWKS fetched %d times, want %d", got, want)
	}
}
