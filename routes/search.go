package routes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

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
}

func handleSearch(s *searcher, rd *renderer) gin.HandlerFunc {
	return func(c *gin.Context) {
		q := c.Request.URL.Query()
		offset := 0
		if tok := q.Get("_page"); tok != "" {
			saved, off, err := s.pager.open(tok)
			if err != nil {
				rd.fail(c, &mapping.ParamError{Param: "_page",
					Msg: "This paging link was not issued by this server, or has been altered or has expired: repeat the search."})
				return
			}
			q, offset = saved, off
		}
		srch, err := mapping.ParseSearch(q, s.cfg.Now(), strictHandling(c.GetHeader("Prefer")))
		if err != nil {
			rd.fail(c, err)
			return
		}
		b, err := s.search(c.Request.Context(), srch, offset)
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
		srcs  []mapping.Source
		notes []*oopb.OperationOutcome
	)
	if srch.PrescriptionID != "" {
		src, note, err := s.full(ctx, who, srch.RetrieveQuery())
		switch {
		case isNotFound(err):
			notes = append(notes, information(notFoundText(err)))
		case err != nil:
			return nil, err
		case srch.NHSNumber != "" && src.Prescription.PatientNHSNumber != srch.NHSNumber:
			notes = append(notes, information("The prescription does not belong to the patient searched for."))
		default:
			srcs = append(srcs, src)
		}
		notes = appendNote(notes, note)
	} else {
		res, err := s.tracker.Search(ctx, who, srch.TrackerQuery())
		switch {
		case isNotFound(err):
			notes = append(notes, information(notFoundText(err)))
		case err != nil:
			return nil, err
		default:
			for i := range res.Prescriptions {
				srcs = append(srcs, mapping.Source{Prescription: &res.Prescriptions[i]})
			}
		}
	}
	if srch.DefaultWindow {
		q := srch.TrackerQuery()
		notes = append(notes, information(fmt.Sprintf(
			"No authoredon was given, so Spine's default window of the last 28 days was applied: authored from %s to %s inclusive (see the self link).",
			q.EarliestDate.Format("2006-01-02"), q.LatestDate.Format("2006-01-02"))))
	}

	matches, err := mapping.Collect(srcs, srch, s.options())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUnmappable, err)
	}
	total := len(matches)
	page := []mapping.Match(nil)
	if !srch.SummaryCount && srch.Count > 0 && offset < total {
		page = matches[offset:min(offset+srch.Count, total)]
	}
	if srch.PrescriptionID == "" && len(page) > 0 && (srch.IncludeRequester || srch.RevIncludeDispense) {
		var note *oopb.OperationOutcome
		page, note = s.fanOut(ctx, who, page)
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
	if offset > 0 && p.Self != "" {
		// The self link names where this page starts, so that it is this page's link.
		p.Self = s.pageURL(self, offset)
	}
	if !srch.SummaryCount && srch.Count > 0 {
		if offset+srch.Count < total {
			p.Next = s.pageURL(self, offset+srch.Count)
		}
		if offset > 0 {
			p.Previous = s.pageURL(self, max(0, offset-srch.Count))
		}
	}
	return mapping.SearchBundle(p)
}

func (s *searcher) pageURL(self url.Values, offset int) string {
	if offset == 0 {
		return s.cfg.BaseURL + "/MedicationRequest?" + self.Encode()
	}
	return s.cfg.BaseURL + "/MedicationRequest?_page=" + s.pager.token(self, offset)
}

// full retrieves one prescription in its full form, with the 111 details when they are enabled. A
// failed details call is not a failed answer: medication is then absent, and the note says why.
func (s *searcher) full(ctx context.Context, who tracker.Caller, q tracker.RetrieveQuery) (mapping.Source, *oopb.OperationOutcome, error) {
	p, err := s.tracker.Retrieve(ctx, who, q)
	if err != nil {
		return mapping.Source{}, nil, err
	}
	src := mapping.Source{Prescription: p, Full: true, IssueNumber: q.IssueNumber}
	if !s.cfg.Detailed {
		return src, nil, nil
	}
	issue := q.IssueNumber
	if is := p.CurrentIssue(); issue == 0 && is != nil {
		issue = is.Number
	}
	d, err := s.tracker.ItemDetails(ctx, who, tracker.DetailQuery{PrescriptionID: p.ID, IssueNumber: issue})
	if err != nil {
		return src, warning("Spine's item details for a prescription could not be read, so its medication is shown as unknown: " + err.Error()), nil
	}
	src.Detail = d
	return src, nil, nil
}

// fanOut replaces the summary-form matches of a page with their full form, one retrieve per
// prescription with bounded concurrency. A prescription whose retrieve fails stays in summary form and
// the answer carries a warning: a partial result, never a failed search.
func (s *searcher) fanOut(ctx context.Context, who tracker.Caller, page []mapping.Match) ([]mapping.Match, *oopb.OperationOutcome) {
	type key struct {
		id             string
		issue, ordinal int
	}
	var ids []tracker.RetrieveQuery
	seen := make(map[tracker.RetrieveQuery]bool)
	for _, m := range page {
		q := tracker.RetrieveQuery{PrescriptionID: m.PrescriptionID, IssueNumber: m.Issue}
		if !seen[q] {
			seen[q] = true
			ids = append(ids, q)
		}
	}

	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		full   = make(map[key]mapping.Match)
		failed int
		sem    = make(chan struct{}, s.cfg.FanOut)
	)
	for _, q := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			src, _, err := s.full(ctx, who, q)
			var ms []mapping.Match
			if err == nil {
				ms, err = mapping.Expand(src, s.options())
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				return
			}
			for _, m := range ms {
				full[key{m.PrescriptionID, m.Issue, m.Ordinal}] = m
			}
		}()
	}
	wg.Wait()

	out := make([]mapping.Match, len(page))
	for i, m := range page {
		out[i] = m
		if f, ok := full[key{m.PrescriptionID, m.Issue, m.Ordinal}]; ok {
			f.AuthoredOn = m.AuthoredOn // keep the search's order
			out[i] = f
		}
	}
	if failed == 0 {
		return out, nil
	}
	return out, warning(fmt.Sprintf(
		"Partial result: %d of %d prescriptions could not be retrieved from Spine, so their entries are in summary form and the included resources are incomplete.",
		failed, len(ids)))
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
