package routes

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	oopb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/operation_outcome_go_proto"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-eps/eps-fhir-tracker/auth"
	"github.com/nhs-eps/eps-fhir-tracker/cache"
	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// handlers are the route handlers: parse, ask the service, render.
type handlers struct {
	cfg     Config
	svc     *service
	rd      *renderer
	pager   pager
	answers Answers
	trail   AuditTrail
	auth    Authenticator // what the guard checked for the route; the handler checks what a search includes
}

// searchMedicationRequests answers GET MedicationRequest?...: a patient's prescriptions, or one
// prescription's line items, a page at a time.
func (h *handlers) searchMedicationRequests(c *gin.Context) {
	ctx := c.Request.Context()
	id, _ := auth.From(ctx)
	strict := strictHandling(c.Request.Header.Values("Prefer"))
	q, offset, err := h.searchQuery(c, id.UserID, strict)
	if err != nil {
		h.rd.fail(c, err)
		return
	}
	srch, err := mapping.ParseSearch(q, h.cfg.Now(), strict)
	if err != nil {
		h.rd.fail(c, err)
		return
	}
	auditEntryFrom(ctx).setSubject(srch.NHSNumber, nil)
	if srch.PrescriptionID != "" { // named if the search is refused, a paging link's included
		auditEntryFrom(ctx).askedFor(srch.PrescriptionID)
	}
	if err := h.authorizeIncludes(id, srch); err != nil {
		h.rd.refuse(c, err)
		return
	}
	who := h.asker(ctx, id)
	key := h.searchKey(who, "MedicationRequest?", srch.SelfQuery().Encode(), "&_offset=", strconv.Itoa(offset), windowNote(srch))
	if h.cached(c, key) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.RequestTimeout)
	defer cancel()
	b, f, err := h.svc.search(ctx, who, searchPage{Search: srch, Offset: offset,
		Token: func(self url.Values, offset int) string { return h.pager.token(self, offset, id.UserID, h.cfg.Now()) }})
	if err != nil {
		h.rd.fail(c, err)
		return
	}
	h.answer(c, key, b, f)
}

// authorizeIncludes checks the types a search's _include and _revinclude add to its answer as the
// guard checks the route's own: each as a read of that type, so that a token refused
// MedicationDispense, Patient or Organization directly is not sent them beside its MedicationRequests.
func (h *handlers) authorizeIncludes(id auth.Identity, srch *mapping.Search) error {
	for _, inc := range []struct {
		asked bool
		typ   string
	}{
		{srch.IncludePatient, "Patient"}, {srch.IncludeRequester, "Organization"}, {srch.RevIncludeDispense, "MedicationDispense"},
	} {
		if !inc.asked {
			continue
		}
		if err := h.auth.Authorize(id, inc.typ, auth.Read); err != nil {
			return err
		}
	}
	return nil
}

// windowNote tells apart, in a search's answer-cache key, searches that differ only in the note
// about the authoredon window the adapter supplied: their canonical queries are the same.
func windowNote(srch *mapping.Search) string {
	switch {
	case srch.DefaultWindow:
		return "\x00window-defaulted"
	case srch.DefaultedBound:
		return "\x00bound-defaulted"
	}
	return ""
}

// searchQuery reads a search's query exactly (parseQuery) and, for a paging link, opens its token:
// the search it names and the offset of its page.
func (h *handlers) searchQuery(c *gin.Context, user string, strict bool) (url.Values, int, error) {
	q, err := parseQuery(c.Request.URL.RawQuery)
	if err != nil {
		return nil, 0, err
	}
	tok := q.Get("_page")
	if tok == "" {
		return q, 0, nil
	}
	saved, offset, err := h.pager.open(tok, user, h.cfg.Now())
	if err != nil {
		return nil, 0, pageError(err)
	}
	// A paging link carries its whole search. Anything else sent beside it is not applied: ignored,
	// as an unknown parameter is, and so a 400 under strict handling, unless it is the link's own
	// search repeated, as a page's self link shows it. _format and _pretty shape the answer, not the
	// search.
	if strict {
		for _, name := range slices.Sorted(maps.Keys(q)) {
			if name != "_page" && name != "_format" && name != "_pretty" && !blank(q[name]) && !slices.Equal(q[name], saved[name]) {
				return nil, 0, &mapping.ParamError{Param: name,
					Msg: "A paging link carries its search, so a parameter beside _page that differs from it would not be applied: repeat the search with it instead."}
			}
		}
	}
	return saved, offset, nil
}

// blank reports whether every value is empty, as in ?status=: FHIR ignores such a parameter
// (mapping.ParseSearch does), beside _page as anywhere else.
func blank(values []string) bool {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

// pageError tells a client why its paging link was refused.
func pageError(err error) error {
	switch {
	case errors.Is(err, errTokenOwner):
		return errForbiddenPage
	case errors.Is(err, errTokenExpired):
		return &mapping.ParamError{Param: "_page", Msg: "This paging link has expired: repeat the search."}
	default:
		return &mapping.ParamError{Param: "_page",
			Msg: "This paging link was not issued by this server, or has been altered: repeat the search."}
	}
}

// asker is who the request asks Spine for: the authenticated user, with the 111 detail calls when
// configured and, against a real Spine, only for a smartcard-authenticated user (Spine answers them
// for no one else).
func (h *handlers) asker(ctx context.Context, id auth.Identity) asker {
	return asker{
		Caller:   tracker.Caller{UserID: id.UserID, RoleProfileID: id.RoleProfileID, TraceID: idsFrom(ctx).EpsTraceID},
		Detailed: h.cfg.Detailed && (!h.cfg.DetailedNeedsSmartcard || id.Smartcard),
	}
}

// answerKey names a whole answer in the answer cache: what was asked, and everything the Spine calls
// behind it carried about the caller, unless answers are shared across users.
func (h *handlers) answerKey(who asker, parts ...string) string {
	return h.key(who, !h.cfg.ShareAnswersAcrossUsers, parts...)
}

// searchKey names a search's answer, always its user's own, even when answers are shared: its paging
// links are bound to its user (another user's link is a 403), so another user must not be sent them.
// That user's search still finds Spine's answer in the shared Spine cache and its entries in the memo.
func (h *handlers) searchKey(who asker, parts ...string) string { return h.key(who, true, parts...) }

func (h *handlers) key(who asker, perUser bool, parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p)
	}
	if who.Detailed {
		b.WriteString("\x00detailed")
	}
	if perUser {
		b.WriteString("\x00" + who.Caller.UserID + "\x00" + who.Caller.RoleProfileID)
	}
	return b.String()
}

// cached answers from the answer cache when it holds key: no Spine call, no mapping, no marshalling,
// but the same audit record as any other answer.
func (h *handlers) cached(c *gin.Context, key string) bool {
	if h.answers == nil {
		return false
	}
	a, ok := h.answers.Get(key)
	result := "miss"
	if ok {
		result = "hit"
	}
	_, span := h.rd.tel.start(c.Request.Context(), "cache.Answers", attribute.String("cache.result", result))
	span.End()
	if !ok {
		return false
	}
	auditEntryFrom(c.Request.Context()).setSubject(a.PatientNHSNumber, a.PrescriptionIDs)
	h.rd.write(c, http.StatusOK, body{JSON: a.Body, ETag: a.ETag, Fetched: a.Fetched, LastModified: a.LastModified})
	return true
}

// answer renders a resource the service found, and keeps it in the answer cache unless it is
// incomplete because a Spine call failed.
func (h *handlers) answer(c *gin.Context, key string, res proto.Message, f found) {
	auditEntryFrom(c.Request.Context()).setSubject(f.Patient, f.PrescriptionIDs)
	b, err := h.rd.marshal(c, res, f.Entries)
	if err != nil {
		h.rd.outcome(c, http.StatusInternalServerError, internalIssue)
		return
	}
	etag := ETag(b)
	if h.answers != nil && key != "" && !f.Incomplete && !f.NotFound {
		h.answers.Put(key, cache.Answer{Body: b, ETag: etag, Fetched: f.Fetched, LastModified: f.LastModified,
			PatientNHSNumber: f.Patient, PrescriptionIDs: f.PrescriptionIDs})
	}
	h.rd.write(c, http.StatusOK, body{JSON: b, ETag: etag, Fetched: f.Fetched, LastModified: f.LastModified})
}

// strictHandling reports whether the client sent Prefer: handling=strict (FHIR search.html 3.1.1.6).
// prefer is every Prefer field line: RFC 7240 lets preferences be split across lines and comma-
// separated within one, and lets each carry ;parameters after its value.
func strictHandling(prefer []string) bool {
	for _, line := range prefer {
		for _, p := range strings.Split(line, ",") {
			p, _, _ = strings.Cut(p, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "handling") {
				// RFC 7240 2: of a preference given more than once, only the first counts.
				return strings.EqualFold(strings.Trim(strings.TrimSpace(v), `"`), "strict")
			}
		}
	}
	return false
}

func isNotFound(err error) bool {
	return errors.Is(err, tracker.ErrNotFound) || errors.Is(err, tracker.ErrIssueNotFound)
}

func notFoundText(err error) string {
	if errors.Is(err, tracker.ErrIssueNotFound) {
		return "Spine has the prescription but not the issue asked for, so nothing matches."
	}
	return "Spine found no prescriptions matching the search."
}

func information(text string) *oopb.OperationOutcome {
	return fhir.Outcome(fhir.Issue{Severity: "information", Code: "informational", Diagnostics: text})
}

func warning(text string) *oopb.OperationOutcome {
	return fhir.Outcome(fhir.Issue{Severity: "warning", Code: "incomplete", Diagnostics: text})
}

func appendNote(notes []*oopb.OperationOutcome, note *oopb.OperationOutcome) []*oopb.OperationOutcome {
	if note != nil {
		notes = append(notes, note)
	}
	return notes
}
