package routes

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// handleRead answers GET MedicationRequest/{id}: the id names the prescription, issue and line, so a
// read is one retrieve (and the details call when enabled). When the details call fails the read still
// answers, with the medication absent because of an error (data-absent-reason "error"): the rest of
// the resource is Spine's current word, and a read has nowhere else to say what is missing.
func handleRead(s *searcher, rd *renderer) gin.HandlerFunc {
	notFound := func(c *gin.Context) {
		rd.outcome(c, http.StatusNotFound, fhir.Issue{
			Severity: "error", Code: "not-found",
			Diagnostics: "No MedicationRequest has this id. Ids look like 3AF2CB-C86002-0000BX-1-2: prescription ID, issue, line.",
		})
	}
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
		defer cancel()
		id, issue, ordinal, ok := mapping.ParseMedicationRequestID(c.Param("id"))
		if !ok {
			notFound(c)
			return
		}
		src, err := s.full(ctx, s.caller(ctx), tracker.RetrieveQuery{PrescriptionID: id, IssueNumber: issue})
		if isNotFound(err) || errors.Is(err, tracker.ErrInvalidRequest) {
			notFound(c)
			return
		}
		if err != nil {
			rd.fail(c, err)
			return
		}
		ms, err := mapping.Expand(src, s.options())
		if err != nil {
			rd.fail(c, errors.Join(errUnmappable, err))
			return
		}
		for _, m := range ms {
			if m.Issue == issue && m.Ordinal == ordinal {
				rd.resource(c, http.StatusOK, m.Request)
				return
			}
		}
		notFound(c)
	}
}
