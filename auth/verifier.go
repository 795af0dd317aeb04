package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Verifier authenticates bearer tokens and authorises requests. It is safe
// for concurrent use.
type Verifier struct {
	cfg      Config
	logger   *slog.Logger
	keys     *keySource
	userInfo *userInfoClient // nil unless Config.UserInfo
	meta     discovery
	verified *verified // tokens already verified, by digest
}

// NewVerifier checks c, discovers the issuer's metadata when needed, and
// loads its keys, so that a wrong issuer or key set fails at start-up. A nil
// logger discards.
func NewVerifier(ctx context.Context, c Config, logger *slog.Logger) (*Verifier, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	v := &Verifier{cfg: c, logger: logger, verified: newVerified()}
	v.meta = discovery{Issuer: c.Issuer, JWKSURI: c.JWKSURL, AuthorizationEndpoint: c.AuthorizationEndpoint,
		TokenEndpoint: c.TokenEndpoint, UserInfoEndpoint: c.UserInfoURL}
	// Discovery names what is not configured: the key set and the UserInfo endpoint, which the
	// verifier needs, and the OAuth endpoints SMART apps need (SMART App Launch 2 requires both in
	// smart-configuration), which it only advertises: for those alone discovery is best-effort, so
	// that an issuer without a discovery document still serves with EPS_AUTH_JWKS_URL. The
	// in-process sandbox issuer (static keys) names its own.
	needed := (c.Keys == nil && c.JWKSURL == "") || (c.UserInfo && c.UserInfoURL == "")
	wanted := c.Keys == nil && (c.AuthorizationEndpoint == "" || c.TokenEndpoint == "")
	if needed || wanted {
		d, err := discover(ctx, c.HTTPClient, c.Issuer)
		switch {
		case err != nil && needed:
			return nil, err
		case err != nil:
			logger.WarnContext(ctx, "OIDC discovery failed: smart-configuration names no authorization or token endpoint; set EPS_AUTH_AUTHORIZATION_URL and EPS_AUTH_TOKEN_URL",
				slog.String("error", err.Error()))
		default:
			// What discovery names and the adapter uses or advertises is held to the rule of the
			// configured URLs: https, plain http only on loopback. One the verifier needs stops
			// start-up; one only advertised is left out, with a warning.
			for _, e := range []struct {
				name   string
				dst    *string
				from   string
				needed bool
			}{
				{"jwks_uri", &v.meta.JWKSURI, d.JWKSURI, true},
				{"userinfo_endpoint", &v.meta.UserInfoEndpoint, d.UserInfoEndpoint, c.UserInfo},
				{"authorization_endpoint", &v.meta.AuthorizationEndpoint, d.AuthorizationEndpoint, false},
				{"token_endpoint", &v.meta.TokenEndpoint, d.TokenEndpoint, false},
			} {
				if *e.dst != "" || e.from == "" {
					continue // configured, or not named
				}
				if err := checkURL("the discovered "+e.name, e.from); err != nil {
					if e.needed {
						return nil, fmt.Errorf("OIDC discovery: %w", err)
					}
					logger.WarnContext(ctx, "OIDC discovery named an endpoint that is not https; not advertised", slog.String("error", err.Error()))
					continue
				}
				*e.dst = e.from
			}
		}
	}
	v.keys = &keySource{client: c.HTTPClient, minRefresh: c.JWKSMinRefresh, logger: logger, set: c.Keys}
	if c.Keys == nil {
		v.keys.url = v.meta.JWKSURI
		set, err := v.keys.fetch(ctx)
		if err != nil {
			return nil, err
		}
		v.keys.set, v.keys.fetched = set, time.Now()
	}
	if c.UserInfo {
		if v.meta.UserInfoEndpoint == "" {
			return nil, errors.New("EPS_AUTH_USERINFO is on but the issuer advertises no userinfo_endpoint; set EPS_AUTH_USERINFO_URL")
		}
		v.userInfo = newUserInfoClient(c.HTTPClient, v.meta.UserInfoEndpoint, c.UserInfoCacheSize,
			c.UserClaim, c.SelectedRoleClaim, c.RolesClaim, c.AssuranceClaim)
	}
	return v, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Authenticate verifies the Authorization header's bearer token: signature
// by an allowed algorithm and a key of the issuer, iss, aud, exp and nbf; it
// then reads the CIS2 identity and refuses patient-facing tokens (403).
func (v *Verifier) Authenticate(ctx context.Context, authorization string) (Identity, error) {
	raw, err := bearer(authorization)
	if err != nil {
		return Identity{}, err
	}
	keys, stale := v.keys.current()
	if id, ok := v.verified.get(raw, time.Now(), keys); ok && !stale {
		return id, nil
	}
	// keys is the set this verification starts from: the token is remembered under it, and only
	// while it is still the current set once the verification ends (a refresh meanwhile may have
	// withdrawn the key that verified it).
	tok, err := jwt.Parse([]byte(raw),
		jwt.WithKeyProvider(jws.KeyProviderFunc(v.provideKey)),
		jwt.WithContext(ctx),
		jwt.WithIssuer(v.cfg.Issuer),
		jwt.WithAudience(v.cfg.Audience),
		jwt.WithAcceptableSkew(v.cfg.ClockSkew),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	)
	if err != nil {
		return Identity{}, describe(err)
	}
	claims, err := payload(raw)
	if err != nil {
		return Identity{}, unauthorized("security", "the token's claims cannot be read")
	}
	if err := refusePatientContext(claims); err != nil {
		return Identity{}, err
	}
	exp, _ := tok.Expiration()
	if v.userInfo != nil {
		info, err := v.userInfo.get(ctx, raw, exp)
		if err != nil {
			v.logger.WarnContext(ctx, "UserInfo lookup failed", slog.String("error", err.Error()))
			var se *statusError
			if errors.As(err, &se) && (se.status == http.StatusUnauthorized || se.status == http.StatusForbidden) {
				return Identity{}, unauthorized("security", "the issuer's UserInfo endpoint did not accept the token")
			}
			// The issuer is unreachable or failing: the token may be good, so the client must not
			// be told to throw it away (RFC 6750 3.1) but to try again.
			return Identity{}, unavailable("the issuer's UserInfo endpoint could not be reached: try again shortly")
		}
		// OIDC Core 5.3.2: UserInfo's sub must be present and match the token's, or its claims must
		// not be used.
		if sub, ok := info["sub"].(string); !ok || sub != str(claims, "sub") {
			return Identity{}, unauthorized("security", "UserInfo sub does not match the token's")
		}
		// Only the identity claims come from UserInfo: it must not widen
		// scopes or change who issued the token or for whom.
		for _, k := range []string{v.cfg.UserClaim, v.cfg.SelectedRoleClaim, v.cfg.RolesClaim, v.cfg.AssuranceClaim} {
			if val, ok := info[k]; ok {
				claims[k] = val
			}
		}
	}
	id := v.identity(claims, exp)
	if cur, _ := v.keys.current(); cur != nil && cur == keys {
		v.verified.put(raw, id, time.Now(), keys)
	}
	return id, nil
}

// bearer extracts the token from an Authorization header value (RFC 6750 section 2.1).
func bearer(authorization string) (string, error) {
	if authorization == "" {
		return "", &Error{Status: http.StatusUnauthorized, IssueCode: "login", Description: "a bearer token is required"}
	}
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", &Error{Status: http.StatusUnauthorized, IssueCode: "login", Description: "a bearer token is required"}
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", &Error{Status: http.StatusBadRequest, BearerCode: InvalidRequest, IssueCode: "security", Description: "the Authorization header is malformed"}
	}
	return token, nil
}

var (
	errAlgorithm = errors.New("the token's signature algorithm is not allowed")
	errType      = errors.New("the token is not an access token (typ at+jwt)")
	errCritical  = errors.New("the token's header has critical parameters (crit) this service does not understand")
)

// provideKey chooses the verification key from the token's header, refusing
// algorithms off the allow-list before any key is touched.
func (v *Verifier) provideKey(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	h := sig.ProtectedHeaders()
	// RFC 7515 4.1.11: a recipient must refuse a JWS whose crit names an extension it does not
	// understand, and this one understands none.
	if crit, ok := h.Critical(); ok && len(crit) > 0 {
		return errCritical
	}
	alg, ok := h.Algorithm()
	if !ok || !slices.Contains(v.cfg.Algorithms, alg.String()) {
		return errAlgorithm
	}
	if v.cfg.RequireAccessTokenType {
		typ, _ := h.Type()
		if t := strings.ToLower(typ); t != "at+jwt" && t != "application/at+jwt" {
			return errType
		}
	}
	kid, _ := h.KeyID()
	key, err := v.keys.lookup(ctx, kid)
	if err != nil {
		return err
	}
	if ka, ok := key.Algorithm(); ok && ka.String() != alg.String() {
		return errAlgorithm
	}
	if use, ok := key.KeyUsage(); ok && use != "sig" {
		return errUnknownKey
	}
	sink.Key(alg, key)
	return nil
}

// describe turns a jwx failure into a refusal that says what was wrong
// without repeating the token.
func describe(err error) *Error {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return unauthorized("login", "the token has expired")
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return unauthorized("security", "the token is not valid yet")
	case errors.Is(err, jwt.InvalidIssuerError()):
		return unauthorized("security", "the token was not issued by the configured issuer")
	case errors.Is(err, jwt.InvalidAudienceError()):
		return unauthorized("security", "the token is not meant for this service (aud)")
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return unauthorized("security", "the token has no expiry (exp)")
	case errors.Is(err, errAlgorithm):
		return unauthorized("security", errAlgorithm.Error())
	case errors.Is(err, errType):
		return unauthorized("security", errType.Error())
	case errors.Is(err, errCritical):
		return unauthorized("security", errCritical.Error())
	case errors.Is(err, errUnknownKey):
		return unauthorized("security", errUnknownKey.Error())
	}
	return unauthorized("security", "the token's signature could not be verified")
}

// payload decodes the claims of a token whose signature is already verified.
func payload(raw string) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// refusePatientContext refuses tokens meant for patients: end users of the
// EPS Tracker are healthcare workers, never patients.
func refusePatientContext(claims map[string]any) *Error {
	for _, c := range []string{"patient", "fhirContext"} {
		if _, ok := claims[c]; ok {
			return missingScope(fmt.Sprintf("tokens with a patient context (%s claim) are refused: end users must be healthcare workers", c), "")
		}
	}
	for _, s := range scopes(claims) {
		if s == "launch/patient" || strings.HasPrefix(s, "patient/") {
			return missingScope(fmt.Sprintf("patient scopes (%s) are refused: end users must be healthcare workers", s), "")
		}
	}
	return nil
}

// scopes reads scope (a space-separated string, RFC 8693/9068) or scp (a list).
func scopes(claims map[string]any) []string {
	var out []string
	switch s := claims["scope"].(type) {
	case string:
		out = strings.Fields(s)
	case []any:
		out = strs(s)
	}
	if scp, ok := claims["scp"].([]any); ok {
		out = append(out, strs(scp)...)
	}
	return out
}

func (v *Verifier) identity(claims map[string]any, exp time.Time) Identity {
	id := Identity{
		Subject:  str(claims, "sub"),
		UserID:   str(claims, v.cfg.UserClaim),
		ClientID: cmpOr(str(claims, "client_id"), str(claims, "azp")),
		Scopes:   scopes(claims),
		Expires:  exp,
	}
	id.Smartcard = scalar(claims[v.cfg.AssuranceClaim]) == v.cfg.AssuranceValue
	selected := str(claims, v.cfg.SelectedRoleClaim)
	roles, _ := claims[v.cfg.RolesClaim].([]any)
	for _, r := range roles {
		role, ok := r.(map[string]any)
		if !ok || selected == "" || str(role, "person_roleid") != selected {
			continue
		}
		id.RoleProfileID = selected
		id.OrgCode = str(role, "org_code")
		id.RoleCode = str(role, "role_code")
		codes, _ := role["activity_codes"].([]any)
		id.ActivityCodes = strs(codes)
		break
	}
	return id
}

func str(m map[string]any, k string) string {
	return scalar(m[k])
}

// scalar renders a string or number claim; CIS2 sends some numbers as strings.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return fmt.Sprint(x)
	}
	return ""
}

func strs(list []any) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if s := scalar(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}
