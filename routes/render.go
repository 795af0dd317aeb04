package routes

import (
	"encoding/base64"
	"encoding/binary"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/gin-gonic/gin"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
)

// renderer writes FHIR resources: marshalled once, into bytes, before the status line is written,
// and, on a patient-data route, only after the request's audit record is committed.
type renderer struct {
	enc    *fhir.Encoder
	logger *slog.Logger
	audit  Auditor
	tel    *instruments
}

// body is a marshalled answer with what the headers need to say about it.
type body struct {
	JSON    []byte
	ETag    string    // computed from JSON when empty
	Fetched time.Time // when Spine gave the oldest data in it; zero for the adapter's own answers
	// LastModified is a read's meta.lastUpdated, sent as Last-Modified; zero for none.
	LastModified time.Time
	outcome      string // the OperationOutcome issue code, for the audit record
}

// resource marshals a resource and writes it with an ETag, answering 304 when the client already has it.
func (rd *renderer) resource(c *gin.Context, status int, res proto.Message, fetched time.Time) {
	b, err := rd.marshal(c, res, memoEntries{})
	if err != nil {
		rd.outcome(c, http.StatusInternalServerError, internalIssue)
		return
	}
	rd.write(c, status, body{JSON: b, Fetched: fetched})
}

// marshal turns a resource into compact FHIR JSON, under its own span. A searchset takes the
// entries the memo holds (known) as they are.
func (rd *renderer) marshal(c *gin.Context, res proto.Message, known memoEntries) ([]byte, error) {
	ctx, span := rd.tel.start(c.Request.Context(), "fhir.marshal", attribute.Int("fhir.entries.memoized", known.len()))
	defer span.End()
	var (
		b   []byte
		err error
	)
	if bundle, ok := res.(*bcrpb.Bundle); ok && known.len() > 0 {
		b, err = marshalSearchset(rd.enc, bundle, known)
	} else {
		b, err = rd.enc.Marshal(res, false)
	}
	if err != nil {
		span.RecordError(err)
		rd.logger.ErrorContext(ctx, "marshal failed", "err", err, "request_id", idsFrom(ctx).RequestID)
	}
	return b, err
}

// bytes writes an already-marshalled compact FHIR JSON body made by the adapter itself.
func (rd *renderer) bytes(c *gin.Context, status int, b []byte) {
	rd.write(c, status, body{JSON: b})
}

// write commits the audit record, then writes the answer, pretty-printed if the client asked. A
// 200 carries an ETag and answers 304 to a client that has it already; an answer built from cached
// Spine data says its age.
func (rd *renderer) write(c *gin.Context, status int, b body) {
	h := c.Writer.Header()
	pretty := fhir.PrettyRequested(c.Query("_pretty"))
	etag := ""
	if status == http.StatusOK {
		etag = b.ETag
		if etag == "" {
			etag = ETag(b.JSON)
		}
		if pretty { // other bytes, so another strong validator (RFC 9110 8.8.1)
			etag = strings.TrimSuffix(etag, `"`) + `.pretty"`
		}
		if contentType(c) == fhir.JSONContentType { // another representation: its own validator
			etag = strings.TrimSuffix(etag, `"`) + `.json"`
		}
		// RFC 9110 13.2.2: If-Match first (strong comparison), then If-None-Match (weak). Either may
		// come as several field lines.
		if im := c.Request.Header.Values("If-Match"); len(im) > 0 && !etagMatchesStrong(strings.Join(im, ","), etag) {
			rd.outcome(c, http.StatusPreconditionFailed, fhir.Issue{Severity: "error", Code: "conflict",
				Diagnostics: "If-Match names no current version of this answer, so it is not sent: fetch it again without If-Match."})
			return
		}
		if etagMatches(strings.Join(c.Request.Header.Values("If-None-Match"), ","), etag) {
			status = http.StatusNotModified
		}
	}
	ctx := c.Request.Context()
	if status >= http.StatusBadRequest {
		auditEntryFrom(ctx).nameIfUnnamed(c)
	}
	if err := auditEntryFrom(ctx).commit(ctx, rd.audit, status, b.outcome); err != nil {
		rd.logger.ErrorContext(ctx, "audit record not committed; answer withheld", "err", err,
			"request_id", idsFrom(ctx).RequestID)
		rd.unaudited(c, http.StatusServiceUnavailable, auditUnavailable)
		return
	}
	// Patient data: never kept by shared caches; a client may keep it and revalidate with the ETag.
	h.Set("Cache-Control", "private, no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if !b.Fetched.IsZero() {
		if age := time.Since(b.Fetched); age >= time.Second {
			h.Set("Age", strconv.Itoa(int(age/time.Second)))
		}
	}
	if !b.LastModified.IsZero() {
		h.Set("Last-Modified", b.LastModified.UTC().Format(http.TimeFormat))
	}
	if etag != "" {
		h.Set("ETag", etag)
	}
	if status == http.StatusNotModified {
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	}
	out := b.JSON
	if pretty {
		if pretty, err := rd.enc.Pretty(out); err == nil {
			out = pretty
		}
	}
	ct := fhir.ContentType // errors: always application/fhir+json (FHIR-API.md)
	if status < http.StatusBadRequest {
		ct = contentType(c)
	}
	c.Data(status, ct, out)
}

// ETag is the entity tag of a marshalled answer: its compact bytes' length and XXH64 digest. It only
// tells one answer from another for revalidation, so it needs no cryptographic digest: SHA-256 of a
// search's 84 KB was 5% of a cache miss's CPU (48 µs), XXH64 takes 6 µs. It is the same on every
// instance and across restarts.
func ETag(compact []byte) string {
	var tag [16]byte
	binary.BigEndian.PutUint64(tag[:8], uint64(len(compact)))
	binary.BigEndian.PutUint64(tag[8:], xxhash.Sum64(compact))
	return `"` + base64.RawURLEncoding.EncodeToString(tag[:]) + `"`
}

// etagMatchesStrong is If-Match's strong comparison: a weak tag (W/) never matches.
func etagMatchesStrong(ifMatch, etag string) bool {
	for _, candidate := range strings.Split(ifMatch, ",") {
		if candidate = strings.TrimSpace(candidate); candidate == etag || candidate == "*" {
			return true
		}
	}
	return false
}

// etagMatches is If-None-Match's weak comparison: W/ is ignored.
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
	b, err := rd.enc.Marshal(fhir.Outcome(issues...), false)
	if err != nil {
		// An OperationOutcome the encoder cannot marshal is a bug; say so plainly rather than loop.
		rd.logger.ErrorContext(c.Request.Context(), "marshal outcome failed", "err", err)
		b = []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}`)
		status = http.StatusInternalServerError
	}
	code := ""
	if len(issues) > 0 {
		code = issues[0].Code
	}
	rd.write(c, status, body{JSON: b, outcome: code})
}

// gone ends a request whose client went away before anything was asked of anyone: nothing is
// written to it, but its audit record is committed like any other answer's.
func (rd *renderer) gone(c *gin.Context) {
	ctx := c.Request.Context()
	auditEntryFrom(ctx).nameIfUnnamed(c)
	if err := auditEntryFrom(ctx).commit(ctx, rd.audit, statusClientClosedRequest, "timeout"); err != nil {
		rd.logger.ErrorContext(ctx, "audit record not committed", "err", err, "request_id", idsFrom(ctx).RequestID)
	}
	c.AbortWithStatus(statusClientClosedRequest)
}

// unaudited writes an OperationOutcome without touching the audit trail: for when the trail itself
// has failed. It carries no patient data.
func (rd *renderer) unaudited(c *gin.Context, status int, issue fhir.Issue) {
	b, err := rd.enc.Marshal(fhir.Outcome(issue), false)
	if err != nil {
		b = []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}`)
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Retry-After", "5")
	c.Data(status, fhir.ContentType, b)
}
