package auth

import (
	"fmt"
	"strings"
)

// Interactions Authorize understands.
const (
	Read   = "read"
	Search = "search"
)

// AuditEventType is the resource type that needs an auditor's activity code
// rather than a clinical one.
const AuditEventType = "AuditEvent"

// Authorize applies the SMART scopes and national RBAC to one interaction
// ("read" or "search") on one resource type. AuditEvent needs an auditor
// activity code; every other type needs an allowed clinical one.
func (v *Verifier) Authorize(id Identity, resourceType, interaction string) error {
	if interaction != Read && interaction != Search {
		return forbidden(fmt.Sprintf("the %q interaction is not offered", interaction))
	}
	if !scopeAllows(id.Scopes, resourceType, interaction) {
		want := "user/" + resourceType + ".rs"
		return missingScope(fmt.Sprintf("the token's scopes do not allow %s on %s (needs %s or user/%s.read)", interaction, resourceType, want, resourceType), want)
	}
	if id.UserID == "" || id.RoleProfileID == "" {
		return forbidden("the token names no user with a selected role (national RBAC)")
	}
	codes, what := v.cfg.ActivityCodes, "clinical"
	if resourceType == AuditEventType {
		codes, what = v.cfg.AuditorCodes, "auditor"
	}
	if !id.HasActivity(codes) {
		return forbidden(fmt.Sprintf("the selected role carries no %s activity code allowed here (%s)", what, strings.Join(codes, ", ")))
	}
	return nil
}

// scopeAllows reports whether any user-level scope grants the interaction.
// SMART v1 (.read, .*) grants read and search; SMART v2 grants by letter
// (.r read, .s search, as in .rs or .cruds). Granular v2 scopes (with a
// query) are not honoured, since the adapter cannot enforce their filter.
func scopeAllows(scopes []string, resourceType, interaction string) bool {
	for _, s := range scopes {
		rest, ok := strings.CutPrefix(s, "user/")
		if !ok || strings.Contains(rest, "?") {
			continue
		}
		typ, perm, ok := strings.Cut(rest, ".")
		if !ok || (typ != resourceType && typ != "*") {
			continue
		}
		switch perm {
		case "read", "*":
			return true
		case "write":
			continue
		}
		if !v2Permissions(perm) {
			continue
		}
		letter := "r"
		if interaction == Search {
			letter = "s"
		}
		if strings.Contains(perm, letter) {
			return true
		}
	}
	return false
}

// v2Permissions reports whether p is a SMART v2 permission string: a
// non-empty ordered subset of "cruds".
func v2Permissions(p string) bool {
	const order = "cruds"
	last := -1
	for _, r := range p {
		i := strings.IndexRune(order, r)
		if i <= last {
			return false
		}
		last = i
	}
	return p != ""
}
