package auth

// SMARTConfiguration is the document served at
// {FHIR base}/.well-known/smart-configuration (SMART App Launch 2.x), telling
// SMART apps where to sign their users in and what the adapter accepts.
func (v *Verifier) SMARTConfiguration() map[string]any {
	// No issuer: SMART App Launch 2 names it only with the sso-openid-connect capability, which
	// this server does not offer (it takes access tokens; it has no use for an app's ID token).
	doc := map[string]any{
		"jwks_uri":                         v.meta.JWKSURI,
		"grant_types_supported":            []string{"authorization_code"},
		"response_types_supported":         []string{"code"},
		"code_challenge_methods_supported": []string{"S256"},
		"scopes_supported":                 ScopesSupported,
		"capabilities": []string{
			"launch-standalone", "client-public", "permission-user", "permission-v1", "permission-v2",
		},
	}
	if v.meta.AuthorizationEndpoint != "" {
		doc["authorization_endpoint"] = v.meta.AuthorizationEndpoint
	}
	if v.meta.TokenEndpoint != "" {
		doc["token_endpoint"] = v.meta.TokenEndpoint
	}
	if v.meta.UserInfoEndpoint != "" {
		doc["userinfo_endpoint"] = v.meta.UserInfoEndpoint
	}
	return doc
}

// ScopesSupported are the user-level scopes for every type the adapter
// serves, in SMART v2 and v1 forms.
var ScopesSupported = []string{
	"user/MedicationRequest.rs", "user/MedicationDispense.rs", "user/Patient.rs", "user/Organization.rs", "user/AuditEvent.rs",
	"user/MedicationRequest.read", "user/MedicationDispense.read", "user/Patient.read", "user/Organization.read", "user/AuditEvent.read",
}

// AuthorizationEndpoint and TokenEndpoint are the OAuth endpoints the
// CapabilityStatement's rest.security oauth-uris extension advertises; empty
// when neither configuration nor discovery named them.
func (v *Verifier) AuthorizationEndpoint() string { return v.meta.AuthorizationEndpoint }

// TokenEndpoint: see AuthorizationEndpoint.
func (v *Verifier) TokenEndpoint() string { return v.meta.TokenEndpoint }
