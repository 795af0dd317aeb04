package routes

import (
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
)

// renderer writes FHIR resources: marshalled once, into bytes, before the status line is written.
type renderer struct {
	enc    *fhir.Encoder
	logger *slog.Logger
}

// resource writes a resource with an ETag, answering 304 when the client already has it.
func (rd *renderer) resource(c *gin.Context, status int, res proto.Message) {
	body, err := rd.enc.Marshal(res, false)
	if err != nil {
		rd.logger.ErrorContext(c.Request.Context(), "marshal failed", "err", err,
			"request_id", idsFrom(c.Request.Context()).RequestID)
		rd.outcome(c, http.StatusInternalServerError, internalIssue)
		return
	}
	rd.bytes(c, status, body)
}

// bytes writes an already-marshalled compact FHIR JSON body, pretty-printed if the client asked.
func (rd *renderer) bytes(c *gin.Context, status int, body []byte) {
	if fhir.PrettyRequested(c.Query("_pretty")) {
		if pretty, err := rd.enc.Pretty(body); err == nil {
			body = pretty
		}
	}
	h := c.Writer.Header()
	h.Set("Content-Type", fhir.ContentType)
	// Patient data: never kept by shared caches; a client may keep it and revalidate with the ETag.
	h.Set("Cache-Control", "private, no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusOK {
		sum := sha256.Sum256(body)
		etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
		h.Set("ETag", etag)
		if etagMatches(c.GetHeader("If-None-Match"), etag) {
			c.Status(http.StatusNotModified)
			c.Writer.WriteHeaderNow()
			return
		}
	}
	c.Data(status, fhir.ContentType, body)
}

func etagMatches(ifNoneMatch, etag string) bool {
	for _, candidate := range strings.Split(ifNoneMatch, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == etag || candidate == "*" {
			return true
		}
	}
	return false
}

var internalIssue = fhir.Issue{
	Severity: "fatal", Code: "exception",
	Diagnostics: "The server failed to handle the request. Quote the X-Request-ID when reporting it.",
}

// outcome writes an OperationOutcome with the given status.
func (rd *renderer) outcome(c *gin.Context, status int, issues ...fhir.Issue) {
	body, err := rd.enc.Marshal(fhir.Outcome(issues...), false)
	if err != nil {
		// An OperationOutcome the encoder cannot marshal is a bug; say so plainly rather than loop.
		rd.logger.ErrorContext(c.Request.Context(), "marshal outcome failed", "err", err)
		c.Data(http.StatusInternalServerError, fhir.ContentType,
			[]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}`))
		return
	}
	rd.bytes(c, status, body)
}
