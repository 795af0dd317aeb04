package auth

import (
	"net/http"
	"strings"
	"time"
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
	Status      int    // 400, 401, 403, or 503 when the issuer could not be asked
	BearerCode  string // RFC 6750 error code; empty when no token was sent
	IssueCode   string // OperationOutcome issue code: login, security, forbidden or transient
	Description string
	Scope       string // the scope that would have allowed the request, for insufficient_scope
	// RetryAfter is when to try again, for a 503.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Description }

// WWWAuthenticate returns the RFC 6750 challenge for a 401, a 400 or a 403
// insufficient_scope, and "" for a 403 that a different token would not cure
// (RBAC, patient context) or a 503 (the token was not judged).
func (e *Error) WWWAuthenticate() string {
	if e.Status >= http.StatusInternalServerError || (e.Status == http.StatusForbidden && e.BearerCode != InsufficientScope) {
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

// unavailable is a failure of the issuer, not of the token: 503, with no challenge.
func unavailable(description string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, IssueCode: "transient", Description: description, RetryAfter: 5 * time.Second}
}

func forbidden(description string) *Error {
	return &Error{Status: http.StatusForbidden, IssueCode: "forbidden", Description: description}
}

func missingScope(description, scope string) *Error {
	return &Error{Status: http.StatusForbidden, BearerCode: InsufficientScope, IssueCode: "forbidden", Description: description, Scope: scope}
}
