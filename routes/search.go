package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	oopb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/operation_outcome_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// searcher answers MedicationRequest searches and reads from the tracker.
type searcher struct {
	cfg     Config
	tracker Tracker
	pager   pager
	logger  *slog.Logger
}

func handleSearch(s *searcher, rd *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		q := c.Request.URL.Query()
		offset := 0
		if tok := q.Get("_page"); tok != "" {
			saved, off, err := s.pager.open(tok)
			if err != nil {
				rd.fail(c, &mapping.ParamError{Param: "_page",
					Msg: "This paging link was not issued by this server (or not by this run of it), or has been altered: repeat the search."})
				return
			}
			q, offset = saved, off
		}
		srch, err := mapping.ParseSearch(q, s.cfg.Now(), strictHandling(c.GetHeader("Prefer")))
		if err != nil {
			rd.fail(c, err)
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
		defer cancel()
		b, err := s.search(ctx, srch, offset)
		if err != nil {
			rd.fail(c, err)
			return
		}
		rd.resource(c, http.StatusOK, b)
	}
}

// strictHandling reports whether the client sent Prefer: handling=strict (FHIR search.html 3.1.1.6).
func strictHandling(prefer string) bool {
	for _, p := range strings.Split(prefer, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "handling") && strings.EqualFold(strings.Trim(strings.TrimSpace(v), `"`), "strict") {
			return true
		}
	}
	return false
}

func (s *searcher) caller(ctx context.Context) tracker.Caller {
	return tracker.Caller{
		UserID:        s.cfg.UserID,
		RoleProfileID: s.cfg.RoleProfileID,
		TraceID:       idsFrom(ctx).EpsTraceID,
	}
}

func (s *searcher) options() mapping.Options { return mapping.Options{BaseURL: s.cfg.BaseURL} }

// search runs one page of a search: one Spine call, the exact filters, the page, and the fan-out its
// includes need.
func (s *searcher) search(ctx context.Context, srch *mapping.Search, offset int) (*bcrpb.Bundle, error) {
	who := s.caller(ctx)
	var (
		srcs      []mapping.Source
		notes     []*oopb.OperationOutcome
		explained bool // a note already says why nothing matched
	)
	if srch.PrescriptionID != "" {
		src, err := s.full(ctx, who, srch.RetrieveQuery())
		switch {
		case err == nil && !srch.MatchesPatient(src.Prescription.PatientNHSNumber):
			// Said as for an unknown prescription: whose prescription it is stays unsaid.
			notes, explained = append(notes, information(notFoundText(tracker.ErrNotFound))), true
		case isNotFound(err):
			notes, explained = append(notes, information(notFoundText(err))), true
		case err != nil:
			return nil, err
		default:
			srcs = append(srcs, src)
			if src.DetailFailed {
				notes = append(notes, warning(detailsUnavailable))
			}
		}
	} else {
		q := srch.TrackerQuery()
		res, err := s.tracker.Search(ctx, who, q)
		switch {
		case isNotFound(err):
			notes, explained = append(notes, information(notFoundText(err))), true
		case err != nil:
			return nil, err
		default:
			for i := range res.Prescriptions {
				srcs = append(srcs, mapping.Source{Prescription: &res.Prescriptions[i]})
			}
		}
		if srch.DefaultWindow {
			notes = append(notes, information(fmt.Sprintf(
				"No authoredon was given, so Spine's default window of the last 28 days was applied: authored from %s to %s inclusive (see the self link).",
				day(q.EarliestDate), day(q.LatestDate))))
		} else if srch.DefaultedBound {
			notes = append(notes, information(fmt.Sprintf(
				"Only one authoredon bound was given and Spine needs both, so the adapter supplied the other (28 days from the given one, or today): Spine was asked for %s to %s inclusive (see the self link).",
				day(q.EarliestDate), day(q.LatestDate))))
		}
	}

	matches, err := mapping.Collect(srcs, srch, s.options())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnmappable, err)
	}
	total := len(matches)
	if total == 0 && !explained {
		if len(srcs) == 0 {
			notes = append(notes, information(notFoundText(tracker.ErrNotFound)))
		} else {
			notes = append(notes, information("Spine found prescriptions, but none matched the search's exact authoredon and status filters."))
		}
	}

	var page []mapping.Match
	if !srch.SummaryCount && srch.Count > 0 {
		if offset >= total && offset > 0 {
			notes = append(notes, information("This page starts after the last match: the result has changed since the first page. Repeat the search."))
		} else {
			page = matches[offset:min(offset+srch.Count, total)]
		}
	}
	if srch.PrescriptionID == "" && len(page) > 0 && (srch.IncludeRequester || srch.RevIncludeDispense) {
		var note *oopb.OperationOutcome
		page, note = s.fanOut(ctx, who, srch, page)
		notes = appendNote(notes, note)
	}

	self := srch.SelfQuery()
	p := mapping.Page{
		BaseURL:            s.cfg.BaseURL,
		Total:              total,
		Matches:            page,
		Self:               s.cfg.BaseURL + "/MedicationRequest?" + self.Encode(),
		IncludePatient:     srch.IncludePatient,
		IncludeRequester:   srch.IncludeRequester,
		RevIncludeDispense: srch.RevIncludeDispense,
		Outcomes:           notes,
	}
	if offset > 0 {
		// Still readable, and still naming exactly this page.
		p.Self += "&_page=" + s.pager.token(self, offset)
	}
	if !srch.SummaryCount && srch.Count > 0 {
		if offset+srch.Count < total {
			p.Next = s.pageURL(self, offset+srch.Count)
		}
		if offset > 0 {
			prev := max(0, offset-srch.Count)
			if prev >= total { // past the end: back to the last page there is
				prev = max(0, total-1) / srch.Count * srch.Count
			}
			p.Previous = s.pageURL(self, prev)
		}
	}
	return mapping.SearchBundle(p)
}

func day(t time.Time) string { return t.Format("2006-01-02") }

func (s *searcher) pageURL(self url.Values, offset int) string {
	if offset == 0 {
		return s.cfg.BaseURL + "/MedicationRequest?" + self.Encode()
	}
	return s.cfg.BaseURL + "/MedicationRequest?_page=" + s.pager.token(self, offset)
}

// detailsUnavailable is what a client is told when Spine's item details could not be read.
const detailsUnavailable = "Spine's item details could not be read for some prescriptions, so their medication is shown as absent because of an error (data-absent-reason \"error\")."

// full retrieves one prescription in its full form, with the 111 details when they are enabled. A
// failed details call is not a failed answer: the medication is then absent because of an error
// (src.DetailFailed), and the failure is logged here, where it is handled.
func (s *searcher) full(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (mapping.Source, error) {
	p, err := s.tracker.Retrieve(ctx, who, q)
	if err != nil {
		return mapping.Source{}, err
	}
	src := mapping.Source{Prescription: p, Full: true, IssueNumber: q.IssueNumber}
	if !s.cfg.Detailed {
		return src, nil
	}
	issue := q.IssueNumber
	if is := p.CurrentIssue(); issue == 0 && is != nil {
		issue = is.Number
	}
	d, err := s.tracker.ItemDetails(ctx, who, tracker.DetailQuery{PrescriptionID: p.ID, IssueNumber: issue})
	if err != nil {
		ids := idsFrom(ctx)
		s.logger.WarnContext(ctx, "item details unavailable; medication shown as absent", "err", err,
			"request_id", ids.RequestID, "eps_trace_id", ids.EpsTraceID)
		src.DetailFailed = true
		return src, nil
	}
	src.Detail = d
	return src, nil
}

// fanOut replaces the summary-form matches of a page with their full form, one retrieve per
// prescription with bounded concurrency, within the request's deadline. A prescription whose retrieve
// fails, or is not reached in time, stays in summary form and the answer carries a warning: a partial
// result, never a failed search.
func (s *searcher) fanOut(ctx context.Context, who tracker.Caller, srch *mapping.Search, page []mapping.Match) ([]mapping.Match, *oopb.OperationOutcome) {
	type key struct {
		id             string
		issue, ordinal int
	}
	var queries []tracker.RetrieveQuery
	seen := make(map[tracker.RetrieveQuery]bool)
	for _, m := range page {
		q := tracker.RetrieveQuery{PrescriptionID: m.PrescriptionID, IssueNumber: m.Issue}
		if !seen[q] {
			seen[q] = true
			queries = append(queries, q)
		}
	}

	var (
		mu           sync.Mutex
		wg           sync.WaitGroup
		full         = make(map[key]mapping.Match)
		failed       int
		detailFailed int
		sem          = make(chan struct{}, s.cfg.FanOut)
	)
	logFailure := func(err any) {
		ids := idsFrom(ctx)
		s.logger.WarnContext(ctx, "fan-out retrieve failed; entry left in summary form", "err", err,
			"request_id", ids.RequestID, "eps_trace_id", ids.EpsTraceID)
	}
	notAsked := 0 // no time left to ask: these stay in summary form
	for _, q := range queries {
		if ctx.Err() != nil {
			notAsked++
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			notAsked++
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			defer func() {
				// This goroutine is outside the handler's panic recovery.
				if v := recover(); v != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					logFailure(fmt.Sprint("panic: ", v))
				}
			}()
			src, err := s.full(ctx, who, q)
			var ms []mapping.Match
			if err == nil {
				ms, err = mapping.Expand(src, s.options())
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				logFailure(err)
				return
			}
			if src.DetailFailed {
				detailFailed++
			}
			for _, m := range ms {
				full[key{m.PrescriptionID, m.Issue, m.Ordinal}] = m
			}
		}()
	}
	wg.Wait()
	failed += notAsked

	out := make([]mapping.Match, len(page))
	changed := 0
	for i, m := range page {
		out[i] = m
		f, ok := full[key{m.PrescriptionID, m.Issue, m.Ordinal}]
		if !ok {
			continue
		}
		if !srch.MatchesAuthored(f.AuthoredOn) || !srch.MatchesStatus(mapping.RequestStatus(f.Request)) {
			// The full form no longer fits the search (it dates the prescription by its signing rather
			// than its issue, or Spine's data moved on): the summary form that matched stays.
			changed++
			continue
		}
		f.AuthoredOn = m.AuthoredOn // keep the search's order
		out[i] = f
	}
	var says []string
	if failed > 0 {
		says = append(says, fmt.Sprintf("%d of %d prescriptions could not be retrieved from Spine in time, so their entries are in summary form and the included resources are incomplete.", failed, len(queries)))
	}
	if changed > 0 {
		says = append(says, fmt.Sprintf("%d entries no longer matched the search in their full form, so they are shown in summary form and their includes are missing.", changed))
	}
	if detailFailed > 0 {
		says = append(says, detailsUnavailable)
	}
	if len(says) == 0 {
		return out, nil
	}
	return out, warning("Partial result: " + strings.Join(says, " "))
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
