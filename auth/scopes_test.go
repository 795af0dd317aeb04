package auth

import (
	"net/http"
	"strings"
	"testing"
)

func TestScopeAllows(t *testing.T) {
	tests := []struct {
		scope              string
		resourceType       string
		read, search, note bool
	}{
		{scope: "user/MedicationRequest.read", resourceType: "MedicationRequest", read: true, search: true},
		{scope: "user/MedicationRequest.rs", resourceType: "MedicationRequest", read: true, search: true},
		{scope: "user/MedicationRequest.r", resourceType: "MedicationRequest", read: true},
		{scope: "user/MedicationRequest.s", resourceType: "MedicationRequest", search: true},
		{scope: "user/MedicationRequest.cruds", resourceType: "MedicationRequest", read: true, search: true},
		{scope: "user/MedicationRequest.*", resourceType: "MedicationRequest", read: true, search: true},
		{scope: "user/*.rs", resourceType: "MedicationDispense", read: true, search: true},
		{scope: "user/*.read", resourceType: "Organization", read: true, search: true},
		{scope: "user/MedicationRequest.write", resourceType: "MedicationRequest"},
		{scope: "user/MedicationRequest.sr", resourceType: "MedicationRequest"},
		{scope: "user/MedicationRequest.rs?category=inpatient", resourceType: "MedicationRequest"},
		{scope: "user/Patient.rs", resourceType: "MedicationRequest"},
		{scope: "system/MedicationRequest.rs", resourceType: "MedicationRequest"},
		{scope: "openid fhirUser", resourceType: "MedicationRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.scope+" on "+tt.resourceType, func(t *testing.T) {
			scopes := strings.Fields(tt.scope)
			if got := scopeAllows(scopes, tt.resourceType, Read); got != tt.read {
				t.Errorf("read allowed = %v, want %v", got, tt.read)
			}
			if got := scopeAllows(scopes, tt.resourceType, Search); got != tt.search {
				t.Errorf("search allowed = %v, want %v", got, tt.search)
			}
		})
	}
}

func TestAuthorizeAuditEventNeedsAnAuditor(t *testing.T) {
	v := &Verifier{cfg: Config{Issuer: "https://issuer.example", Audience: testAudience}.withDefaults()}
	clinician := Identity{UserID: "555555555555", RoleProfileID: "666666666666", Scopes: []string{"user/*.rs"}, ActivityCodes: []string{"B0570"}}
	auditor := Identity{UserID: "555555555558", RoleProfileID: "666666666669", Scopes: []string{"user/AuditEvent.rs"}, ActivityCodes: []string{SandboxAuditorCode}}
	tests := []struct {
		name         string
		id           Identity
		resourceType string
		want         int // 0 for allowed
	}{
		{"an auditor may search AuditEvent", auditor, AuditEventType, 0},
		{"a clinician may not search AuditEvent", clinician, AuditEventType, http.StatusForbidden},
		{"an auditor may not search MedicationRequest", auditor, "MedicationRequest", http.StatusForbidden},
		{"a clinician may search MedicationRequest", clinician, "MedicationRequest", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Authorize(tt.id, tt.resourceType, Search)
			got := 0
			if err != nil {
				got = err.(*Error).Status
			}
			if got != tt.want {
				t.Errorf("status = %d, want %d (%v)", got, tt.want, err)
			}
		})
	}
	if err := v.Authorize(clinician, "MedicationRequest", "delete"); err == nil {
		t.Error("an unknown interaction was allowed")
	}
}

func TestWWWAuthenticate(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Status: 401, IssueCode: "login", Description: "a bearer token is required"}, "Bearer"},
		{unauthorized("login", "the token has expired"), `Bearer error="invalid_token", error_description="the token has expired"`},
		{&Error{Status: 400, BearerCode: InvalidRequest, Description: `bad "header"`}, `Bearer error="invalid_request", error_description="bad 'header'"`},
		{missingScope("no scope", "user/Patient.rs"), `Bearer error="insufficient_scope", error_description="no scope", scope="user/Patient.rs"`},
		{forbidden("no role"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.err.Description, func(t *testing.T) {
			if got := tt.err.WWWAuthenticate(); got != tt.want {
				t.Errorf("WWWAuthenticate() = %q, want %q", got, tt.want)
			}
		})
	}
}
