package auth

import (
	"net/http"
	"strings"
)

// RFC 6750 error codes, for Error.BearerCode.
const (
	InvalidRequest    = "invalid_request"
	InvalidToken      = "invalid_token"
	InsufficientScope = "insufficient_scope"
)

// Error is an authentication or authorisation refusal, shaped for both the
// WWW-Authenticate header and an OperationOutcome. Its text never contains
// the token or anything read from it but claim and scope names.
type Error struct {
	Status      int    // 400, 401 or 403
	BearerCode  string // RFC 6750 error code; empty when no token was sent
	IssueCode   string // OperationOutcome issue code: login, security or forbidden
	Description string
	Scope       string // the scope that would have allowed the request, for insufficient_scope
}

func (e *Error) Error() string { return e.Description }

// WWWAuthenticate returns the RFC 6750 challenge for a 401, a 400 or a 403
// insufficient_scope, and "" for a 403 that a different token would not cure
// (RBAC, patient context).
func (e *Error) WWWAuthenticate() string {
	if e.Status == http.StatusForbidden && e.BearerCode != InsufficientScope {
		return ""
	}
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	attr := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(sep + k + `="` + quote(v) + `"`)
		sep = ", "
	}
	attr("error", e.BearerCode)
	if e.BearerCode != "" {
		attr("error_description", e.Description)
	}
	attr("scope", e.Scope)
	return b.String()
}

// quote keeps a header value within RFC 6750's quoted-string characters.
func quote(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return '\''
		}
		return r
	}, s)
}

func unauthorized(issue, description string) *Error {
	return &Error{Status: http.StatusUnauthorized, BearerCode: InvalidToken, IssueCode: issue, Description: description}
}

func forbidden(description string) *Error {
	return &Error{Status: http.StatusForbidden, IssueCode: "forbidden", Description: description}
}

func missingScope(description, scope string) *Error {
	return &Error{Status: http.StatusForbidden, BearerCode: InsufficientScope, IssueCode: "forbidden", Description: description, Scope: scope}
}
