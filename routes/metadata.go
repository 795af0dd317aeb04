package routes

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
)

// handleMetadata serves the CapabilityStatement, marshalled once: it does not change while the
// process runs.
// A statement that fails to marshal stops start-up, rather than becoming a 500 on every request.
func handleMetadata(cfg Config, rd *renderer, d Deps) (gin.HandlerFunc, error) {
	cs := fhir.CapabilityStatement(fhir.CapabilityOptions{
		BaseURL:              cfg.BaseURL,
		SoftwareVersion:      cfg.SoftwareVersion,
		Now:                  cfg.Now(),
		DetailedInteractions: cfg.Detailed,
		Security:             cfg.SecurityDescription,
		AuthorizeURL:         d.Auth.AuthorizationEndpoint(),
		TokenURL:             d.Auth.TokenEndpoint(),
		CORS:                 len(cfg.CORSOrigins) > 0,
		AuditEvent:           d.Trail != nil,
	})
	body, err := rd.enc.Marshal(cs, false)
	if err != nil {
		return nil, fmt.Errorf("CapabilityStatement: %w", err)
	}
	return func(c *gin.Context) { rd.bytes(c, http.StatusOK, body) }, nil
}

// handleSearchParameter serves the SearchParameter resources that define the custom search
// parameters, at the canonical URLs the CapabilityStatement gives them.
func handleSearchParameter(cfg Config, rd *renderer) (gin.HandlerFunc, error) {
	bodies := make(map[string][]byte)
	for _, sp := range fhir.SearchParameters(cfg.BaseURL) {
		body, err := rd.enc.Marshal(sp, false)
		if err != nil {
			return nil, fmt.Errorf("SearchParameter %s: %w", sp.GetId().GetValue(), err)
		}
		bodies[sp.GetId().GetValue()] = body
	}
	return func(c *gin.Context) {
		body, ok := bodies[c.Param("id")]
		if !ok {
			rd.outcome(c, http.StatusNotFound, fhir.Issue{
				Severity: "error", Code: "not-found", Diagnostics: "No SearchParameter has this id.",
			})
			return
		}
		rd.bytes(c, http.StatusOK, body)
	}, nil
}
