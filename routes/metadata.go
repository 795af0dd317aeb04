package routes

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
)

// handleMetadata serves the CapabilityStatement, marshalled once: it does not change while the
// process runs.
func handleMetadata(cfg Config, rd *renderer) gin.HandlerFunc {
	cs := fhir.CapabilityStatement(fhir.CapabilityOptions{
		BaseURL:              cfg.BaseURL,
		SoftwareVersion:      cfg.SoftwareVersion,
		Now:                  cfg.Now(),
		DetailedInteractions: cfg.Detailed,
	})
	body, err := rd.enc.Marshal(cs, false)
	return func(c *gin.Context) {
		if err != nil {
			rd.fail(c, err)
			return
		}
		rd.bytes(c, http.StatusOK, body)
	}
}

// handleSearchParameter serves the SearchParameter resources that define the custom search
// parameters, at the canonical URLs the CapabilityStatement gives them.
func handleSearchParameter(cfg Config, rd *renderer) gin.HandlerFunc {
	bodies := make(map[string][]byte)
	var err error
	for _, sp := range fhir.SearchParameters(cfg.BaseURL) {
		var body []byte
		if body, err = rd.enc.Marshal(sp, false); err != nil {
			break
		}
		bodies[sp.GetId().GetValue()] = body
	}
	return func(c *gin.Context) {
		if err != nil {
			rd.fail(c, err)
			return
		}
		body, ok := bodies[c.Param("id")]
		if !ok {
			rd.outcome(c, http.StatusNotFound, fhir.Issue{
				Severity: "error", Code: "not-found", Diagnostics: "No SearchParameter has this id.",
			})
			return
		}
		rd.bytes(c, http.StatusOK, body)
	}
}
