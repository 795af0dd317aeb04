// Package auth authenticates the healthcare workers who call the adapter and
// decides what they may see. It verifies OAuth 2.0 bearer tokens (JWTs signed
// by an OIDC provider such as NHS CIS2), reads the user's national RBAC role
// from them, refuses patient-facing tokens, checks SMART on FHIR scopes, and
// advertises the authorization server to SMART apps. It also provides the
// sandbox issuer that lets `go run .` work on one machine.
//
// The EPS Tracker's conditions of use make this package the adapter's
// licence to exist: end users are authenticated and role-checked locally, and
// they are healthcare workers, never patients.
package auth

import (
	"context"
	"log/slog"
	"slices"
	"time"
)

// Identity is who is asking, verified from a bearer token (and UserInfo,
// where the issuer keeps the roles there). It carries no token.
type Identity struct {
	Subject string // the token's sub
	// UserID is the CIS2 user (nhsid_useruid); it is sent to Spine as Spine-UserId.
	UserID string
	// RoleProfileID is the selected role's person_roleid; it is sent to Spine
	// as Spine-RoleProfileId. Empty when the selected role is not among the
	// user's roles, which Authorize refuses.
	RoleProfileID string
	OrgCode       string // the selected role's org_code, kept for the audit
	RoleCode      string // the selected role's role_code
	ClientID      string // the app the user signed in with (client_id or azp)
	Scopes        []string
	ActivityCodes []string // national RBAC activity codes of the selected role
	// Smartcard is true when the token's assurance claim shows smartcard
	// authentication (CIS2 authentication_assurance_level 3): only then may
	// Spine's detailed (111) interactions be used.
	Smartcard bool
	Expires   time.Time
}

// LogValue keeps scopes and codes out of logs; user and role ids are not
// patient data and are what an operator needs to follow a request.
func (id Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_id", id.UserID),
		slog.String("role_profile_id", id.RoleProfileID),
		slog.String("org_code", id.OrgCode),
		slog.String("client_id", id.ClientID),
	)
}

// HasActivity reports whether the selected role carries any of codes.
func (id Identity) HasActivity(codes []string) bool {
	for _, c := range id.ActivityCodes {
		if slices.Contains(codes, c) {
			return true
		}
	}
	return false
}

type identityKey struct{}

// With returns a copy of ctx carrying id.
func With(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// From returns the identity that With put in ctx.
func From(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
