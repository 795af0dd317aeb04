package auth

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

func newVerifier(t *testing.T, c Config) *Verifier {
	t.Helper()
	v, err := NewVerifier(t.Context(), c, nil)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// refusal is what a refused request should get.
type refusal struct {
	status            int
	bearerCode, issue string
}

func refusalOf(t *testing.T, err error) *refusal {
	t.Helper()
	if err == nil {
		return nil
	}
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("error %v is a %T, want *auth.Error", err, err)
	}
	return &refusal{e.Status, e.BearerCode, e.IssueCode}
}

func TestTokenMatrix(t *testing.T) {
	p := newProvider(t)
	v := newVerifier(t, p.config())
	base := p.claims()
	unauthorized := &refusal{http.StatusUnauthorized, InvalidToken, "security"}

	tests := []struct {
		name      string
		token     func(t *testing.T) string
		authn     *refusal // from Authenticate
		authz     *refusal // from Authorize(MedicationRequest, search), when authenticated
		authzRead *refusal // from Authorize(MedicationRequest, read)
	}{
		{
			name:  "a request without a token is asked to log in",
			token: func(*testing.T) string { return "" },
			authn: &refusal{http.StatusUnauthorized, "", "login"},
		},
		{
			name: "an expired token is refused",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), "at+jwt")
			},
			authn: &refusal{http.StatusUnauthorized, InvalidToken, "login"},
		},
		{
			name: "a token that is not valid yet is refused",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}), "at+jwt")
			},
			authn: unauthorized,
		},
		{
			name:  "a token without an expiry is refused",
			token: func(t *testing.T) string { return p.sign(t, with(base, map[string]any{"exp": nil}), "at+jwt") },
			authn: unauthorized,
		},
		{
			name: "a token from another issuer is refused",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"iss": "https://other.example"}), "at+jwt")
			},
			authn: unauthorized,
		},
		{
			name: "a token for another audience is refused",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"aud": "https://other.example"}), "at+jwt")
			},
			authn: unauthorized,
		},
		{
			name: "an ID token is not a bearer token",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"aud": "smart-app", "nonce": "n-0S6_WzA2Mj", "auth_time": time.Now().Unix()}), "JWT")
			},
			authn: unauthorized,
		},
		{
			name:  "an access token not marked at+jwt is refused where the issuer marks them",
			token: func(t *testing.T) string { return p.sign(t, base, "JWT") },
			authn: unauthorized,
		},
		{
			name: "a token signed by another key under the issuer's kid is refused",
			token: func(t *testing.T) string {
				return signWith(t, base, "at+jwt", "key-1", jwa.ES256(), newKey(t, "key-1"))
			},
			authn: unauthorized,
		},
		{
			name: "a token with alg none is refused",
			token: func(t *testing.T) string {
				enc := func(v any) string {
					b, _ := json.Marshal(v)
					return base64.RawURLEncoding.EncodeToString(b)
				}
				return enc(map[string]string{"alg": "none", "typ": "at+jwt", "kid": "key-1"}) + "." + enc(base) + "."
			},
			authn: unauthorized,
		},
		{
			name: "a token HMAC-signed with the issuer's public key is refused",
			token: func(t *testing.T) string {
				pub, err := json.Marshal(p.public)
				if err != nil {
					t.Fatal(err)
				}
				return signWith(t, base, "at+jwt", "key-1", jwa.HS256(), pub)
			},
			authn: unauthorized,
		},
		{
			name: "a token with a patient scope is refused",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"scope": "patient/MedicationRequest.rs"}), "at+jwt")
			},
			authn: &refusal{http.StatusForbidden, InsufficientScope, "forbidden"},
		},
		{
			name: "a token with a patient launch scope is refused",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"scope": "launch/patient user/MedicationRequest.rs"}), "at+jwt")
			},
			authn: &refusal{http.StatusForbidden, InsufficientScope, "forbidden"},
		},
		{
			name:  "a token with a patient launch context is refused",
			token: func(t *testing.T) string { return p.sign(t, with(base, map[string]any{"patient": "123"}), "at+jwt") },
			authn: &refusal{http.StatusForbidden, InsufficientScope, "forbidden"},
		},
		{
			name: "a token with a fhirContext is refused",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"fhirContext": []any{map[string]any{"reference": "Patient/123"}}}), "at+jwt")
			},
			authn: &refusal{http.StatusForbidden, InsufficientScope, "forbidden"},
		},
		{
			name: "a user without a selected role is forbidden",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"selected_roleid": nil}), "at+jwt")
			},
			authz:     &refusal{http.StatusForbidden, "", "forbidden"},
			authzRead: &refusal{http.StatusForbidden, "", "forbidden"},
		},
		{
			name: "a user whose selected role is not among their roles is forbidden",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"selected_roleid": "888888888888"}), "at+jwt")
			},
			authz:     &refusal{http.StatusForbidden, "", "forbidden"},
			authzRead: &refusal{http.StatusForbidden, "", "forbidden"},
		},
		{
			name: "a role without an allowed activity code is forbidden",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"selected_roleid": "777777777777"}), "at+jwt")
			},
			authz:     &refusal{http.StatusForbidden, "", "forbidden"},
			authzRead: &refusal{http.StatusForbidden, "", "forbidden"},
		},
		{
			name:  "an allowed user may search and read",
			token: func(t *testing.T) string { return p.sign(t, base, "at+jwt") },
		},
		{
			name: "a SMART v1 user/*.read token may search and read",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"scope": "user/*.read"}), "at+jwt")
			},
		},
		{
			name: "a .r-only token may read but not search",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"scope": "user/MedicationRequest.r"}), "at+jwt")
			},
			authz:     &refusal{http.StatusForbidden, InsufficientScope, "forbidden"},
			authzRead: nil,
		},
		{
			name: "a token without a user scope for the type is refused",
			token: func(t *testing.T) string {
				return p.sign(t, with(base, map[string]any{"scope": "user/Patient.rs openid"}), "at+jwt")
			},
			authz:     &refusal{http.StatusForbidden, InsufficientScope, "forbidden"},
			authzRead: &refusal{http.StatusForbidden, InsufficientScope, "forbidden"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token(t)
			header := ""
			if token != "" {
				header = "Bearer " + token
			}
			id, err := v.Authenticate(t.Context(), header)
			if got, want := refusalOf(t, err), tt.authn; !equalRefusal(got, want) {
				t.Fatalf("Authenticate refusal = %+v, want %+v (error %v)", got, want, err)
			}
			if err != nil {
				t.Logf("refused: %v", err)
				assertNoToken(t, err.(*Error), token)
				return
			}
			err = v.Authorize(id, "MedicationRequest", Search)
			if got, want := refusalOf(t, err), tt.authz; !equalRefusal(got, want) {
				t.Errorf("Authorize(search) refusal = %+v, want %+v (error %v)", got, want, err)
			}
			err = v.Authorize(id, "MedicationRequest", Read)
			if got, want := refusalOf(t, err), tt.authzRead; !equalRefusal(got, want) {
				t.Errorf("Authorize(read) refusal = %+v, want %+v (error %v)", got, want, err)
			}
		})
	}
}

func equalRefusal(a, b *refusal) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func assertNoToken(t *testing.T, e *Error, token string) {
	t.Helper()
	if token == "" {
		return
	}
	sig := token[strings.LastIndex(token, ".")+1:]
	for _, s := range []string{e.Error(), e.WWWAuthenticate()} {
		if strings.Contains(s, token) || (len(sig) > 8 && strings.Contains(s, sig)) {
			t.Errorf("refusal %q repeats the token", s)
		}
	}
}

func TestAuthenticateReadsTheCIS2Identity(t *testing.T) {
	p := newProvider(t)
	v := newVerifier(t, p.config())
	id, err := v.Authenticate(t.Context(), "Bearer "+p.sign(t, with(p.claims(), map[string]any{"client_id": nil, "azp": "azp-app"}), "at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := id.UserID, "555555555555"; got != want {
		t.Errorf("UserID = %q, want %q", got, want)
	}
	if got, want := id.RoleProfileID, "666666666666"; got != want {
		t.Errorf("RoleProfileID = %q, want %q", got, want)
	}
	if got, want := id.OrgCode, "A83008"; got != want {
		t.Errorf("OrgCode = %q, want %q", got, want)
	}
	if got, want := id.ClientID, "azp-app"; got != want {
		t.Errorf("ClientID = %q, want %q", got, want)
	}
	if !slices.Equal(id.ActivityCodes, []string{"B0570"}) {
		t.Errorf("ActivityCodes = %v, want the selected role's [B0570]", id.ActivityCodes)
	}
	if !id.Smartcard {
		t.Error("Smartcard = false for assurance level 3")
	}
	if id.Expires.Before(time.Now()) {
		t.Errorf("Expires = %v, want the token's expiry", id.Expires)
	}

	low, err := v.Authenticate(t.Context(), "Bearer "+p.sign(t, with(p.claims(), map[string]any{"authentication_assurance_level": "2"}), "at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	if low.Smartcard {
		t.Error("Smartcard = true for assurance level 2")
	}
}

func TestMalformedAuthorizationHeaders(t *testing.T) {
	p := newProvider(t)
	v := newVerifier(t, p.config())
	tests := []struct {
		header string
		want   refusal
	}{
		{"Basic dXNlcjpwYXNz", refusal{http.StatusUnauthorized, "", "login"}},
		{"Bearer ", refusal{http.StatusBadRequest, InvalidRequest, "security"}},
		{"Bearer a b", refusal{http.StatusBadRequest, InvalidRequest, "security"}},
		{"Bearer not-a-jwt", refusal{http.StatusUnauthorized, InvalidToken, "security"}},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			_, err := v.Authenticate(t.Context(), tt.header)
			if got := refusalOf(t, err); !equalRefusal(got, &tt.want) {
				t.Errorf("refusal = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAnIDTokenFailsOnItsAudienceWhereAccessTokensAreUnmarked(t *testing.T) {
	p := newProvider(t)
	c := p.config()
	c.RequireAccessTokenType = false
	v := newVerifier(t, c)
	idToken := p.sign(t, with(p.claims(), map[string]any{"aud": "smart-app", "nonce": "n-0S6_WzA2Mj"}), "JWT")
	_, err := v.Authenticate(t.Context(), "Bearer "+idToken)
	if got, want := refusalOf(t, err), (&refusal{http.StatusUnauthorized, InvalidToken, "security"}); !equalRefusal(got, want) {
		t.Fatalf("refusal = %+v, want %+v", got, want)
	}
	if !strings.Contains(err.Error(), "(aud)") {
		t.Errorf("refusal %q does not name the audience", err)
	}
}
