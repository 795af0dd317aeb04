package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// keyFile is the sandbox issuer's private key inside the state folder.
const keyFile = "sandbox-issuer-key.json"

// sandboxClientID is the client id of tokens the token command mints.
const sandboxClientID = "eps-sandbox-cli"

// Issuer is the sandbox's OAuth 2.0 / OIDC provider: a login page for the
// SandboxUsers, authorization code with PKCE, and access tokens the Verifier
// accepts. Its key is kept in a local state folder so that a running server
// and the token command sign with the same key.
type Issuer struct {
	url, audience string
	resources     []string // the aud values an authorization request may name: the FHIR base, the audience
	private       jwk.Key
	public        jwk.Set

	mu    sync.Mutex
	codes map[string]authCode // authorization codes, single use
}

// OpenIssuer loads the issuer's key from stateDir, making the folder (0700)
// and the key (0600) on first run. Its tokens carry audience; an app's
// authorization request names the FHIR server it will call (SMART's aud),
// which must be audience or one of fhirBases.
func OpenIssuer(stateDir, issuerURL, audience string, fhirBases ...string) (*Issuer, error) {
	if u, err := url.Parse(issuerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sandbox issuer URL %q must be an absolute http(s) URL", issuerURL)
	}
	if audience == "" {
		return nil, errors.New("the sandbox issuer needs an audience")
	}
	key, err := loadOrCreateKey(stateDir)
	if err != nil {
		return nil, err
	}
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, err
	}
	resources := []string{strings.TrimSuffix(audience, "/")}
	for _, b := range fhirBases {
		resources = append(resources, strings.TrimSuffix(b, "/"))
	}
	return &Issuer{url: strings.TrimSuffix(issuerURL, "/"), audience: audience, resources: resources,
		private: key, public: set, codes: map[string]authCode{}}, nil
}

func loadOrCreateKey(dir string) (jwk.Key, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox state folder: %w", err)
	}
	path := filepath.Join(dir, keyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox issuer key: %w", err)
	}
	// Like ssh, refuse a private key others can read.
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("sandbox issuer key %s is readable by others (mode %v); chmod 600 it", path, info.Mode().Perm())
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("sandbox issuer key %s: %w", path, err)
	}
	return key, nil
}

func createKey(path string) (jwk.Key, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := jwk.Import(raw)
	if err != nil {
		return nil, err
	}
	if err := jwk.AssignKeyID(key); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.AlgorithmKey, jwa.ES256()); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.KeyUsageKey, "sig"); err != nil {
		return nil, err
	}
	data, err := json.Marshal(key)
	if err != nil {
		return nil, err
	}
	// O_EXCL: when a server and the token command start together, one key
	// wins and the other run reads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadOrCreateKey(filepath.Dir(path))
	}
	if err != nil {
		return nil, fmt.Errorf("sandbox issuer key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// PublicKeys is the issuer's JWKS, for Config.Keys when the issuer runs in
// the same process as the adapter.
func (i *Issuer) PublicKeys() jwk.Set { return i.public }

// URL is the issuer identifier (iss).
func (i *Issuer) URL() string { return i.url }

// Config is a Verifier configuration that trusts this issuer in-process.
func (i *Issuer) Config() Config {
	return Config{
		Issuer: i.url, Audience: i.audience, Keys: i.public, JWKSURL: i.url + "/jwks.json", RequireAccessTokenType: true,
		AuthorizationEndpoint: i.url + "/authorize", TokenEndpoint: i.url + "/token", UserInfoURL: i.url + "/userinfo",
	}
}

// Mint signs an access token for a sandbox user. roleProfileID "" selects
// the user's own role; scopes nil grants the user's default scopes.
func (i *Issuer) Mint(userID, roleProfileID string, scopes []string, ttl time.Duration) (string, error) {
	return i.mint(userID, roleProfileID, scopes, ttl, sandboxClientID)
}

func (i *Issuer) mint(userID, roleProfileID string, scopes []string, ttl time.Duration, clientID string) (string, error) {
	u, ok := sandboxUser(userID)
	if !ok {
		return "", fmt.Errorf("no sandbox user %q (see docs/sandbox-users.md)", userID)
	}
	if roleProfileID != "" && roleProfileID != u.RoleProfileID {
		return "", fmt.Errorf("sandbox user %s has no role %q (its role is %q)", userID, roleProfileID, u.RoleProfileID)
	}
	if ttl <= 0 || ttl > 24*time.Hour {
		return "", fmt.Errorf("token lifetime %s must be between 0 and 24h", ttl)
	}
	if scopes == nil {
		scopes = u.Scopes
	}
	now := time.Now()
	b := jwt.NewBuilder().Issuer(i.url).Audience([]string{i.audience}).Subject(u.UserID).
		IssuedAt(now).NotBefore(now).Expiration(now.Add(ttl)).JwtID(rand.Text()).
		Claim("client_id", clientID).Claim("scope", strings.Join(scopes, " "))
	for k, v := range u.claims() {
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "at+jwt"); err != nil {
		return "", err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), i.private, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", err
	}
	return string(signed), nil
}

// claims are the user's CIS2-style identity claims, also served by /userinfo.
func (u SandboxUser) claims() map[string]any {
	c := map[string]any{"nhsid_useruid": u.UserID, "name": u.Name}
	if u.RoleProfileID != "" {
		c["selected_roleid"] = u.RoleProfileID
		c["nhsid_nrbac_roles"] = []map[string]any{{
			"person_roleid": u.RoleProfileID, "org_code": u.OrgCode, "role_code": u.RoleCode,
			"activity_codes": slices.Clone(u.ActivityCodes),
		}}
	}
	if u.Smartcard {
		c["authentication_assurance_level"] = "3"
	} else {
		c["authentication_assurance_level"] = "1"
	}
	if u.Patient != "" {
		c["patient"] = u.Patient
	}
	return c
}
