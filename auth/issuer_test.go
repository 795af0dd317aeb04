package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sandbox runs the sandbox issuer over real HTTP, mounted under /oauth2 as
// main mounts it.
func sandbox(t *testing.T) (*Issuer, *httptest.Server) {
	t.Helper()
	var iss *Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.StripPrefix("/oauth2", iss.Handler()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var err error
	iss, err = OpenIssuer(t.TempDir(), srv.URL+"/oauth2", testAudience)
	if err != nil {
		t.Fatal(err)
	}
	return iss, srv
}

// browser is an HTTP client that, like a SMART app, handles the redirect
// back itself.
var browser = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

const redirectURI = "http://127.0.0.1:9999/callback"

// login drives authorize -> login page -> form POST -> code, and returns the code.
func login(t *testing.T, iss *Issuer, user, password, challenge string) string {
	t.Helper()
	q := url.Values{
		"response_type": {"code"}, "client_id": {"smart-app"}, "redirect_uri": {redirectURI},
		"state": {"state-1"}, "scope": {"user/*.rs"}, "aud": {testAudience},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	page, err := browser.Get(iss.URL() + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`name="password"`)) {
		t.Fatalf("login page: status %d, body %s", page.StatusCode, body)
	}
	form := url.Values{"username": {user}, "password": {password}}
	for k, v := range q {
		form[k] = v
	}
	resp, err := browser.PostForm(iss.URL()+"/authorize?"+q.Encode(), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login POST: status %d, want 303", resp.StatusCode)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.Query().Get("state"), "state-1"; got != want {
		t.Errorf("state = %q, want %q", got, want)
	}
	if !strings.HasPrefix(back.String(), redirectURI) {
		t.Errorf("redirected to %s, want %s", back, redirectURI)
	}
	return back.Query().Get("code")
}

// redeem exchanges a code at the token endpoint.
func redeem(t *testing.T, iss *Issuer, code, verifier string) (int, map[string]any) {
	t.Helper()
	resp, err := browser.PostForm(iss.URL()+"/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {"smart-app"}, "code_verifier": {verifier},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestLoginFlowEndsInATokenTheVerifierAccepts(t *testing.T) {
	iss, _ := sandbox(t)
	// Discovery over HTTP, as a deployment pointing at the sandbox would.
	v := newVerifier(t, Config{Issuer: iss.URL(), Audience: testAudience, RequireAccessTokenType: true})
	verifier := "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk"

	code := login(t, iss, "555555555555", "sandbox-prescriber", challenge(verifier))
	status, tok := redeem(t, iss, code, verifier)
	if status != http.StatusOK {
		t.Fatalf("token endpoint: status %d, %v", status, tok)
	}
	if got, want := tok["token_type"], "Bearer"; got != want {
		t.Errorf("token_type = %v, want %v", got, want)
	}
	access, _ := tok["access_token"].(string)
	id, err := v.Authenticate(t.Context(), "Bearer "+access)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if id.UserID != "555555555555" || id.RoleProfileID != "666666666666" || !id.Smartcard || id.ClientID != "smart-app" {
		t.Errorf("identity = %+v, want the prescriber 555555555555/666666666666 with a smartcard via smart-app", id)
	}
	if err := v.Authorize(id, "MedicationRequest", Search); err != nil {
		t.Errorf("Authorize: %v", err)
	}

	t.Run("a code is used once", func(t *testing.T) {
		if status, _ := redeem(t, iss, code, verifier); status != http.StatusBadRequest {
			t.Errorf("second redemption: status %d, want 400", status)
		}
	})
	t.Run("a wrong code_verifier is refused", func(t *testing.T) {
		code := login(t, iss, "555555555555", "sandbox-prescriber", challenge(verifier))
		status, body := redeem(t, iss, code, "the-wrong-verifier-the-wrong-verifier-000000")
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("status %d, body %v; want 400 invalid_grant", status, body)
		}
	})
	t.Run("the patient app's token is refused by the adapter", func(t *testing.T) {
		code := login(t, iss, "555555555559", "sandbox-patient", challenge(verifier))
		_, tok := redeem(t, iss, code, verifier)
		_, err := v.Authenticate(t.Context(), "Bearer "+tok["access_token"].(string))
		if got := refusalOf(t, err); got == nil || got.status != http.StatusForbidden {
			t.Errorf("refusal = %+v, want 403", got)
		}
	})
	t.Run("the userinfo endpoint answers with the CIS2 claims", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, iss.URL()+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var info map[string]any
		json.NewDecoder(resp.Body).Decode(&info)
		if got, want := info["selected_roleid"], "666666666666"; got != want {
			t.Errorf("selected_roleid = %v, want %v", got, want)
		}
	})
}

func TestLoginRefusesAWrongPassword(t *testing.T) {
	iss, _ := sandbox(t)
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirectURI},
		"code_challenge": {challenge("v")}, "code_challenge_method": {"S256"}, "aud": {testAudience},
		"username": {"555555555555"}, "password": {"wrong"}}
	resp, err := browser.PostForm(iss.URL()+"/authorize", q)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Errorf("status %d, Location %q; want 401 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestAuthorizeRequiresPKCE(t *testing.T) {
	iss, _ := sandbox(t)
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirectURI}}
	resp, err := browser.Get(iss.URL() + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
}

func TestIssuerKeyIsMadeOnceAndKeptPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	first, err := OpenIssuer(dir, "http://127.0.0.1:8080/oauth2", testAudience)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, keyFile): 0o600} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", path, got, want)
		}
	}
	second, err := OpenIssuer(dir, "http://127.0.0.1:8080/oauth2", testAudience)
	if err != nil {
		t.Fatal(err)
	}
	k1, _ := first.PublicKeys().Key(0)
	k2, _ := second.PublicKeys().Key(0)
	kid1, _ := k1.KeyID()
	kid2, _ := k2.KeyID()
	if kid1 == "" || kid1 != kid2 {
		t.Errorf("kids %q and %q, want the same key reused", kid1, kid2)
	}
	if b, _ := json.Marshal(first.PublicKeys()); bytes.Contains(b, []byte(`"d"`)) {
		t.Errorf("PublicKeys holds a private key: %s", b)
	}

	os.Chmod(filepath.Join(dir, keyFile), 0o644)
	if _, err := OpenIssuer(dir, "http://127.0.0.1:8080/oauth2", testAudience); err == nil {
		t.Error("OpenIssuer accepted a key readable by others")
	}
}

func TestMint(t *testing.T) {
	iss, err := OpenIssuer(t.TempDir(), "http://127.0.0.1:8080/oauth2", testAudience)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, iss.Config())
	tests := []struct {
		name, user, role string
		wantMint         bool
		wantStatus       int // 0: Authorize allows a MedicationRequest search
		wantSmartcard    bool
	}{
		{"the prescriber is allowed", "555555555555", "666666666666", true, 0, true},
		{"the pharmacist is allowed", "555555555556", "", true, 0, true},
		{"the administrator is forbidden", "555555555557", "", true, http.StatusForbidden, true},
		{"the auditor is forbidden clinical data", "555555555558", "", true, http.StatusForbidden, false},
		{"the patient app is refused", "555555555559", "", true, http.StatusForbidden, false},
		{"an unknown user gets no token", "123456789012", "", false, 0, false},
		{"a role the user lacks gets no token", "555555555555", "666666666667", false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := iss.Mint(tt.user, tt.role, nil, time.Minute)
			if (err == nil) != tt.wantMint {
				t.Fatalf("Mint error = %v, want a token: %v", err, tt.wantMint)
			}
			if err != nil {
				return
			}
			id, err := v.Authenticate(t.Context(), "Bearer "+tok)
			if err == nil {
				err = v.Authorize(id, "MedicationRequest", Search)
			}
			got := 0
			if err != nil {
				got = err.(*Error).Status
			}
			if got != tt.wantStatus {
				t.Errorf("status = %d, want %d (%v)", got, tt.wantStatus, err)
			}
			if id.Smartcard != tt.wantSmartcard {
				t.Errorf("Smartcard = %v, want %v", id.Smartcard, tt.wantSmartcard)
			}
		})
	}
}

// SMART App Launch 2 requires aud on the authorization request: the sandbox issuer refuses one
// missing or naming another FHIR server (it issued a token for this adapter whatever aud said), and
// the login form carries it through to the post.
func TestAuthorizeRequiresThisServersAud(t *testing.T) {
	iss, _ := sandbox(t)
	for _, aud := range []string{"", "https://counterfeit.example/fhir"} {
		q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirectURI},
			"code_challenge": {challenge("v")}, "code_challenge_method": {"S256"}}
		if aud != "" {
			q.Set("aud", aud)
		}
		for _, send := range []func() (*http.Response, error){
			func() (*http.Response, error) { return browser.Get(iss.URL() + "/authorize?" + q.Encode()) },
			func() (*http.Response, error) {
				form := url.Values{"username": {"555555555555"}, "password": {"sandbox-prescriber"}}
				for k, v := range q {
					form[k] = v
				}
				return browser.PostForm(iss.URL()+"/authorize", form)
			},
		} {
			resp, err := send()
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("aud %q: status %d, Location %q; want 400 and no code", aud, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	}
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirectURI},
		"code_challenge": {challenge("v")}, "code_challenge_method": {"S256"}, "aud": {testAudience}}
	resp, err := browser.Get(iss.URL() + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `name="aud" value="`+testAudience+`"`) {
		t.Errorf("status %d; the login form does not carry aud: %.400s", resp.StatusCode, page)
	}
}
