package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Lifetimes of the sandbox's codes and login tokens.
const (
	codeTTL  = time.Minute
	loginTTL = time.Hour
)

// authCode is what an authorization code stands for until /token redeems it.
type authCode struct {
	userID, clientID, redirectURI, challenge string
	scopes                                   []string
	expires                                  time.Time
}

// Handler serves the sandbox issuer. Mount it with http.StripPrefix at the
// issuer URL's path: /.well-known/openid-configuration, /jwks.json,
// /authorize (login page), /token and /userinfo.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET /jwks.json", i.jwks)
	mux.HandleFunc("GET /authorize", i.loginPage)
	mux.HandleFunc("POST /authorize", i.login)
	mux.HandleFunc("POST /token", i.token)
	mux.HandleFunc("GET /userinfo", i.userinfo)
	return browserReadable(mux)
}

// browserReadable lets SMART apps in browsers call the token, key and
// discovery endpoints: none of them uses cookies, so any origin may.
func browserReadable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

func (i *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.url,
		"authorization_endpoint":                i.url + "/authorize",
		"token_endpoint":                        i.url + "/token",
		"userinfo_endpoint":                     i.url + "/userinfo",
		"jwks_uri":                              i.url + "/jwks.json",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"scopes_supported":                      ScopesSupported,
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, i.public)
}

// oauthError answers a token or authorize request the client itself made
// wrong (RFC 6749 section 5.2).
func oauthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// authorizeParams are the authorization request's parameters, checked once
// for the page and again for the form post.
type authorizeParams struct {
	ClientID, RedirectURI, State, Scope, Challenge, Audience string
}

// readAuthorize checks an authorization request. SMART App Launch 2 requires aud, the FHIR server the
// app means to call: a token is issued only for this adapter's own, so that an app pointed at a
// counterfeit server cannot be led to ask for a token this adapter would accept.
func (i *Issuer) readAuthorize(form url.Values) (authorizeParams, string) {
	p := authorizeParams{ClientID: form.Get("client_id"), RedirectURI: form.Get("redirect_uri"),
		State: form.Get("state"), Scope: form.Get("scope"), Challenge: form.Get("code_challenge"),
		Audience: form.Get("aud")}
	switch u, err := url.Parse(p.RedirectURI); {
	case form.Get("response_type") != "code":
		return p, "response_type must be code"
	case p.ClientID == "":
		return p, "client_id is required"
	case !slices.Contains(i.resources, strings.TrimSuffix(p.Audience, "/")):
		return p, "aud must be this FHIR server's base URL, " + i.resources[len(i.resources)-1]
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "":
		return p, "redirect_uri must be an absolute http(s) URI without a fragment"
	case p.Challenge == "" || form.Get("code_challenge_method") != "S256":
		return p, "PKCE is required: code_challenge with code_challenge_method S256"
	}
	return p, ""
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>EPS FHIR Tracker sandbox login</title></head>
<body><h1>Sandbox login</h1>
<p>Sandbox users and passwords are listed in docs/sandbox-users.md.</p>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
<form method="post" action="">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="client_id" value="{{.P.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.P.RedirectURI}}">
<input type="hidden" name="state" value="{{.P.State}}">
<input type="hidden" name="scope" value="{{.P.Scope}}">
<input type="hidden" name="code_challenge" value="{{.P.Challenge}}">
<input type="hidden" name="code_challenge_method" value="S256">
<input type="hidden" name="aud" value="{{.P.Audience}}">
<label>User ID <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form></body></html>
`))

func (i *Issuer) renderLogin(w http.ResponseWriter, status int, p authorizeParams, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The login page must not be framed by another site (clickjacking).
	w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
	w.WriteHeader(status)
	loginTemplate.Execute(w, struct {
		P     authorizeParams
		Error string
	}{p, msg})
}

func (i *Issuer) loginPage(w http.ResponseWriter, r *http.Request) {
	p, problem := i.readAuthorize(r.URL.Query())
	if problem != "" {
		http.Error(w, problem, http.StatusBadRequest)
		return
	}
	i.renderLogin(w, http.StatusOK, p, "")
}

func (i *Issuer) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	p, problem := i.readAuthorize(r.PostForm)
	if problem != "" {
		http.Error(w, problem, http.StatusBadRequest)
		return
	}
	u, ok := sandboxUser(r.PostForm.Get("username"))
	if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(r.PostForm.Get("password"))) != 1 {
		i.renderLogin(w, http.StatusUnauthorized, p, "Unknown user ID or wrong password.")
		return
	}
	code := rand.Text()
	scopes := strings.Fields(p.Scope)
	if len(scopes) == 0 {
		scopes = nil
	}
	i.mu.Lock()
	for c, old := range i.codes {
		if time.Now().After(old.expires) {
			delete(i.codes, c)
		}
	}
	i.codes[code] = authCode{userID: u.UserID, clientID: p.ClientID, redirectURI: p.RedirectURI,
		challenge: p.Challenge, scopes: scopes, expires: time.Now().Add(codeTTL)}
	i.mu.Unlock()
	target, _ := url.Parse(p.RedirectURI)
	q := target.Query()
	q.Set("code", code)
	if p.State != "" {
		q.Set("state", p.State)
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusSeeOther)
}

func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only authorization_code is offered")
		return
	}
	i.mu.Lock()
	c, ok := i.codes[f.Get("code")]
	delete(i.codes, f.Get("code")) // single use, even when the rest is wrong
	i.mu.Unlock()
	if !ok || time.Now().After(c.expires) || c.redirectURI != f.Get("redirect_uri") || c.clientID != f.Get("client_id") {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code, or another redirect_uri or client")
		return
	}
	// RFC 7636 section 4.6: S256 is BASE64URL(SHA256(code_verifier)).
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.challenge)) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	access, err := i.mint(c.userID, "", c.scopes, loginTTL, c.clientID)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "could not sign the token")
		return
	}
	u, _ := sandboxUser(c.userID)
	scope := c.scopes
	if scope == nil {
		scope = u.Scopes
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": int(loginTTL.Seconds()),
		"scope": strings.Join(scope, " "),
	})
}

// userinfo answers with the CIS2-style claims of the token's user, as CIS2's
// UserInfo endpoint does.
func (i *Issuer) userinfo(w http.ResponseWriter, r *http.Request) {
	raw, err := bearer(r.Header.Get("Authorization"))
	if err == nil {
		var tok jwt.Token
		tok, err = jwt.Parse([]byte(raw), jwt.WithKeySet(i.public), jwt.WithIssuer(i.url), jwt.WithAcceptableSkew(30*time.Second))
		if err == nil {
			sub, _ := tok.Subject()
			if u, ok := sandboxUser(sub); ok {
				claims := u.claims()
				claims["sub"] = u.UserID
				writeJSON(w, http.StatusOK, claims)
				return
			}
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
}
