package routes

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
)

// guard is what stands in front of every route that serves patient data: the per-address limit on
// unauthenticated requests, the audit entry, authentication, role and scope checks, the per-client
// rate limit, the query and format checks (negotiate) and the bound on requests in progress
// (admission), in that order. A client refused for
// its own sake (no token, over its rate) never takes a place that other users' requests wait for.
type guard struct {
	admission   *admission // nil: no bound on the requests in progress
	auth        Authenticator
	rd          *renderer
	unauthLimit *limiter
	clientLimit *limiter
}

func newGuard(cfg Config, a Authenticator, rd *renderer) *guard {
	return &guard{
		admission:   newAdmission(cfg.MaxActive, cfg.RequestTimeout, rd),
		auth:        a,
		rd:          rd,
		unauthLimit: newLimiter(cfg.UnauthenticatedLimit),
		clientLimit: newLimiter(cfg.RateLimit),
	}
}

// patientData guards a route whose answers hold patient data: every attempt is audited.
func (g *guard) patientData(resourceType, interaction string, h gin.HandlerFunc) []gin.HandlerFunc {
	return []gin.HandlerFunc{g.audited(resourceType, interaction), g.authenticate(resourceType, interaction),
		negotiate(g.rd), g.admission.admit, h}
}

// authenticated guards a route that needs an authorised user but serves no patient data.
func (g *guard) authenticated(resourceType, interaction string, h gin.HandlerFunc) []gin.HandlerFunc {
	return []gin.HandlerFunc{g.authenticate(resourceType, interaction), negotiate(g.rd), h}
}

// audited opens the request's audit entry; the renderer commits it before the answer is written.
func (g *guard) audited(resourceType, interaction string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := withAuditEntry(c.Request.Context(), newAuditEntry(c, resourceType, interaction))
		if x, ok := g.rd.audit.(expecter); ok {
			// The store may hold a group commit for this record rather than commit without it.
			ctx = x.Expect(ctx)
			defer x.Withdraw(ctx)
		}
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// expecter is an Auditor told in advance of the records on their way (audit.Store.Expect).
type expecter interface {
	Expect(ctx context.Context) context.Context
	Withdraw(ctx context.Context)
}

func (g *guard) authenticate(resourceType, interaction string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		id, err := g.auth.Authenticate(ctx, c.GetHeader("Authorization"))
		if err == nil {
			err = g.auth.Authorize(id, resourceType, interaction)
		}
		if id.UserID == "" {
			// A failed authentication costs an audit write: bound them per client address, so that
			// a flood without a verified user (no token, a bad one, a malformed header) cannot become
			// a flood of audit records.
			if err != nil && !g.unauthLimit.allow(clientAddress(c)) {
				auditEntryFrom(ctx).skip() // refused before anything was attempted
				g.rd.throttled(c, g.unauthLimit.retryAfter())
				c.Abort()
				return
			}
		} else {
			// A verified user's requests, allowed or refused by RBAC, are audited as its own and held
			// to the per-client limit.
			auditEntryFrom(ctx).setIdentity(id)
			if !g.clientLimit.allow(clientKey(id)) {
				auditEntryFrom(ctx).nameRequested(c, resourceType, interaction)
				g.rd.throttled(c, g.clientLimit.retryAfter())
				c.Abort()
				return
			}
		}
		if err != nil {
			auditEntryFrom(ctx).nameRequested(c, resourceType, interaction)
			g.rd.refuse(c, err)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(auth.With(ctx, id))
		c.Next()
	}
}

// clientKey is what the per-client rate limit counts by: the OAuth client, else the user.
func clientKey(id auth.Identity) string {
	if id.ClientID != "" {
		return "client:" + id.ClientID
	}
	return "user:" + id.UserID
}

// clientAddress is the peer's IP address. X-Forwarded-For is not trusted: behind a proxy, configure
// the limit at the proxy.
func clientAddress(c *gin.Context) string {
	host := c.Request.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// throttled writes a 429 with Retry-After.
func (rd *renderer) throttled(c *gin.Context, retryAfter int) {
	c.Header("Retry-After", strconv.Itoa(retryAfter))
	rd.outcome(c, http.StatusTooManyRequests, fhir.Issue{Severity: "error", Code: "throttled",
		Diagnostics: "Too many requests from this client: wait for the time Retry-After gives, then try again."})
}

// refuse answers an authentication or authorisation failure: its status, its RFC 6750 challenge
// and, for an issuer that could not be asked, Retry-After.
func (rd *renderer) refuse(c *gin.Context, err error) {
	var ae *auth.Error
	if !errors.As(err, &ae) {
		ae = &auth.Error{Status: http.StatusUnauthorized, BearerCode: "invalid_token", IssueCode: "login",
			Description: "The bearer token could not be verified."}
	}
	if h := ae.WWWAuthenticate(); h != "" {
		c.Header("WWW-Authenticate", h)
	}
	if ae.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(ae.RetryAfter.Seconds())))))
	}
	rd.outcome(c, ae.Status, fhir.Issue{Severity: "error", Code: ae.IssueCode, Diagnostics: ae.Description})
}
