package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	oopb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/operation_outcome_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// service answers searches and reads from the tracker: one Spine call, the exact filters, the page,
// the fan-out its includes need. Handlers parse, call it, and render what it returns; it knows nothing
// of HTTP.
type service struct {
	cfg     Config
	tracker Tracker
	orgs    *Organizations
	memo    *EntryMemo // nil: every record is mapped and marshalled afresh
	enc     *fhir.Encoder
	logger  *slog.Logger
	tel     *instruments
}

// asker is who a request asks Spine for, and how.
type asker struct {
	Caller   tracker.Caller
	Detailed bool // use the 111 detail calls (medication)
}

// found is an answer with what the audit record and the headers need to know of it.
type found struct {
	Patient         string    // the NHS number the answer is about ("" when none)
	PrescriptionIDs []string  // the prescriptions it shows, each once
	Fetched         time.Time // when Spine gave the oldest data in it
	// Incomplete says a Spine call behind the answer failed and the answer says so (a warning, or a
	// medication absent because of an error): it is sent, but not kept in the answer cache, so that
	// asking again once Spine has recovered asks Spine again.
	Incomplete bool
	// NotFound says the answer rests on a not-found from Spine, which the tracker cache keeps for
	// NotFoundTTL only (a prescription issued a moment later must show soon): the answer is sent, but
	// not kept in the answer cache for the whole TTL.
	NotFound bool
	// LastModified is a read's resource's meta.lastUpdated (R4 http.html: a read carries it as
	// Last-Modified); zero for a search, whose Bundle has no such date.
	LastModified time.Time
	// Entries are the searchset entries the memo holds marshalled for it.
	Entries memoEntries
}

// addEntries notes the marshalled entries memoized records hold, by resource.
func (f *found) addEntries(records ...*memoized) {
	n := 0
	for _, m := range records {
		n += len(m.entries)
	}
	if n == 0 {
		return
	}
	if f.Entries.byResource == nil {
		f.Entries.byResource = make(map[proto.Message][]byte, n)
	}
	for _, m := range records {
		for res, j := range m.entries {
			f.Entries.byResource[res] = j
		}
	}
}

// seen notes one more Spine answer: the oldest data is what the answer's age is.
func (f *found) seen(fetched time.Time) {
	if !fetched.IsZero() && (f.Fetched.IsZero() || fetched.Before(f.Fetched)) {
		f.Fetched = fetched
	}
}

func (f *found) prescription(id string) {
	// A page's matches come in prescription order within a day: the last one is the likeliest.
	if n := len(f.PrescriptionIDs); n > 0 && f.PrescriptionIDs[n-1] == id {
		return
	}
	for _, have := range f.PrescriptionIDs {
		if have == id {
			return
		}
	}
	f.PrescriptionIDs = append(f.PrescriptionIDs, id)
}

// searchPage is one page of a search to answer.
type searchPage struct {
	Search *mapping.Search
	Offset int
	// Token makes the _page token for a page of this search.
	Token func(self url.Values, offset int) string
}

// search runs one page of a search. When the found's Entries.matches is set, the Bundle is built
// without its matches' entries, and it is whole only when marshalled with them (marshalSearchset).
func (s *service) search(ctx context.Context, who asker, req searchPage) (*bcrpb.Bundle, found, error) {
	srch, offset := req.Search, req.Offset
	f := found{Patient: srch.NHSNumber}
	var (
		srcs      []mapping.Source
		notes     []*oopb.OperationOutcome
		explained bool // a note already says why nothing matched
	)
	// Spine's 111 calls name the medication, and an answer that shows no entry has none to name.
	if !srch.ShowsEntries() {
		who.Detailed = false
	}
	if srch.PrescriptionID != "" {
		src, err := s.full(ctx, who, srch.RetrieveQuery(), searched{}, &f)
		switch {
		case err == nil && !srch.MatchesPatient(src.Prescription.PatientNHSNumber),
			errors.Is(err, tracker.ErrIssueNotFound) && srch.NHSNumber != "":
			// Said as for an unknown prescription: whose prescription it is stays unsaid. Spine's
			// "no such issue" says the prescription exists, and it may be another patient's.
			notes, explained = append(notes, information(notFoundText(tracker.ErrNotFound))), true
			f.NotFound = err != nil
		case isNotFound(err):
			notes, explained, f.NotFound = append(notes, information(notFoundText(err))), true, true
		case err != nil:
			return nil, f, err
		default:
			f.Patient = src.Prescription.PatientNHSNumber
			srcs = append(srcs, src)
			if src.DetailFailed {
				notes = append(notes, warning(detailsUnavailable))
			}
		}
	} else {
		q := srch.TrackerQuery()
		res, err := s.tracker.Search(ctx, who.Caller, q)
		switch {
		case isNotFound(err):
			notes, explained, f.NotFound = append(notes, information(notFoundText(err))), true, true
		case err != nil:
			return nil, f, err
		default:
			f.seen(res.Fetched)
			for i := range res.Prescriptions {
				srcs = append(srcs, mapping.Source{Prescription: &res.Prescriptions[i]})
			}
			if srch.Summary && who.Detailed && len(srcs) > 0 {
				if note := s.itemSummary(ctx, who, q, srcs, &f); note != nil {
					notes, f.Incomplete = append(notes, note), true
				}
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

	_, span := s.tel.start(ctx, "mapping.collect")
	expanded := make([][]mapping.Match, len(srcs))
	records := make([]*memoized, len(srcs))
	for i, src := range srcs {
		m, err := s.expand(src)
		if err != nil {
			span.End()
			return nil, f, fmt.Errorf("%w: %w", errUnmappable, err)
		}
		expanded[i], records[i] = m.matches, m
	}
	matches := mapping.Keep(expanded, srch)
	span.End()
	total := len(matches)
	if total == 0 && !explained {
		if len(srcs) == 0 {
			notes = append(notes, information(notFoundText(tracker.ErrNotFound)))
		} else {
			notes = append(notes, information("Spine found prescriptions, but none matched the search's exact authoredon and status filters."))
		}
	}

	var page []mapping.Match
	if srch.ShowsEntries() {
		if offset >= total && offset > 0 {
			notes = append(notes, information("This page starts after the last match: the result has changed since the first page. Repeat the search."))
		} else {
			page = matches[offset:min(offset+srch.Count, total)]
		}
	}
	// A patient search answers in the full form unless _summary=true asks for the summary; includes
	// only add resources, but the requester and the dispenses are known in the full form alone.
	if srch.PrescriptionID == "" && len(page) > 0 && (!srch.Summary || srch.IncludeRequester || srch.RevIncludeDispense) {
		f.addEntries(records...) // for the matches the fan-out leaves in summary form
		var note *oopb.OperationOutcome
		page, note = s.fanOut(ctx, who, srch, page, srcs, &f)
		notes = appendNote(notes, note)
	} else if len(page) > 0 && s.memo.enabled() {
		f.Entries.matches = pageEntries(page, records)
		if f.Entries.matches == nil || srch.RevIncludeDispense {
			f.addEntries(records...)
		}
	}
	for _, m := range page {
		f.prescription(m.PrescriptionID)
	}
	if srch.PrescriptionID != "" && len(page) > 0 {
		s.shown(srcs[0]) // its one retrieve, whose resources the page shows
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
		MatchesElsewhere:   f.Entries.matches != nil,
	}
	pageURL := func(offset int) string {
		if offset == 0 {
			return s.cfg.BaseURL + "/MedicationRequest?" + self.Encode()
		}
		return s.cfg.BaseURL + "/MedicationRequest?_page=" + req.Token(self, offset)
	}
	if offset > 0 {
		// Still readable, and still naming exactly this page.
		p.Self += "&_page=" + req.Token(self, offset)
	}
	if srch.ShowsEntries() {
		if offset+srch.Count < total {
			p.Next = pageURL(offset + srch.Count)
		}
		if offset > 0 {
			prev := max(0, offset-srch.Count)
			if prev >= total { // past the end: back to the last page there is
				prev = max(0, total-1) / srch.Count * srch.Count
			}
			p.Previous = pageURL(prev)
		}
	}
	_, span = s.tel.start(ctx, "mapping.bundle")
	b, err := mapping.SearchBundle(p)
	span.End()
	return b, f, err
}

func day(t time.Time) string { return t.Format("2006-01-02") }

// itemSummary gives the summary form what the 111 item summary knows, in one call for the whole
// search: medication names (where a name can be joined to its line) and the issues authorised. A
// failure leaves the medication absent, with a warning: the search itself stands.
func (s *service) itemSummary(ctx context.Context, who asker, q tracker.SearchQuery, srcs []mapping.Source, f *found) *oopb.OperationOutcome {
	res, err := s.tracker.ItemSummary(ctx, who.Caller, q)
	if isNotFound(err) {
		f.NotFound = true // names the search found will show once the item summary finds them
		return nil
	}
	if err != nil {
		ids := idsFrom(ctx)
		s.logger.WarnContext(ctx, "item summary unavailable; medication shown as absent", "err", err,
			"request_id", ids.RequestID, "eps_trace_id", ids.EpsTraceID)
		return warning("Spine's item summary could not be read, so medication names are absent.")
	}
	f.seen(res.Fetched)
	byID := make(map[string]*tracker.ItemSummary, len(res.Prescriptions))
	for i := range res.Prescriptions {
		byID[strings.ToUpper(res.Prescriptions[i].ID)] = &res.Prescriptions[i]
	}
	for i := range srcs {
		srcs[i].Summary = byID[strings.ToUpper(srcs[i].Prescription.ID)]
	}
	return nil
}

// detailsUnavailable is what a client is told when Spine's item details could not be read.
const detailsUnavailable = "Spine's item details could not be read for some prescriptions, so their medication is shown as absent because of an error (data-absent-reason \"error\")."

// searched is what a search said of a prescription that its retrieve does not: the issue's date (for
// authoredOn) and how many issues the search listed (for a repeat-dispensing prescription, how many
// are authorised). It is zero where no search found the prescription.
type searched struct {
	issueDate time.Time
	issues    int
}

// full retrieves one prescription in its full form, with the 111 details when the asker may have
// them, and what a search said of it. A failed details call is not a failed answer: the medication is
// then absent because of an error (src.DetailFailed), and the failure is logged here, where it is
// handled. The organisations it names are kept (shown) only by callers that send its resources.
func (s *service) full(ctx context.Context, who asker, q tracker.RetrieveQuery, from searched, f *found) (mapping.Source, error) {
	p, err := s.tracker.Retrieve(ctx, who.Caller, q)
	if err != nil {
		return mapping.Source{}, err
	}
	f.seen(p.Fetched)
	src := mapping.Source{Prescription: p, Full: true, IssueNumber: q.IssueNumber,
		IssueDate: from.issueDate, SearchedIssues: from.issues}
	if !who.Detailed {
		return src, nil
	}
	issue := q.IssueNumber
	if is := p.CurrentIssue(); issue == 0 && is != nil {
		issue = is.Number
	}
	d, err := s.tracker.ItemDetails(ctx, who.Caller, tracker.DetailQuery{PrescriptionID: p.ID, IssueNumber: issue})
	if err != nil {
		ids := idsFrom(ctx)
		s.logger.WarnContext(ctx, "item details unavailable; medication shown as absent", "err", err,
			"request_id", ids.RequestID, "eps_trace_id", ids.EpsTraceID)
		src.DetailFailed = true
		f.Incomplete = true
		return src, nil
	}
	f.seen(d.Fetched)
	src.Detail = d
	return src, nil
}

// shown keeps the organisations of a source whose resources an answer sends, so that the references
// to them resolve (Organization reads); one fetched and not shown reveals nothing through them.
func (s *service) shown(src mapping.Source) { s.orgs.remember(src) }

// fanOut replaces the summary-form matches of a page with their full form (or, for _summary=true,
// only gives them what their includes need), one retrieve per prescription with bounded concurrency,
// within the request's deadline. A prescription whose retrieve fails, or is not reached in time,
// stays in summary form and the answer carries a warning: a partial result, never a failed search.
func (s *service) fanOut(ctx context.Context, who asker, srch *mapping.Search, page []mapping.Match, srcs []mapping.Source, f *found) ([]mapping.Match, *oopb.OperationOutcome) {
	type key struct {
		id             string
		issue, ordinal int
	}
	var queries []tracker.RetrieveQuery
	from := make(map[tracker.RetrieveQuery]searched)
	for _, m := range page {
		q := tracker.RetrieveQuery{PrescriptionID: m.PrescriptionID, IssueNumber: m.Issue}
		if _, seen := from[q]; !seen {
			// The summary's authoredOn is the issue date; the search listed every issue.
			from[q] = searched{issueDate: m.AuthoredOn, issues: len(srcs[m.Source].Prescription.Issues)}
			queries = append(queries, q)
		}
	}

	var (
		mu           sync.Mutex
		wg           sync.WaitGroup
		full         = make(map[key]mapping.Match)
		fullSrcs     = make(map[tracker.RetrieveQuery]mapping.Source)
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
			var mine found
			src, err := s.full(ctx, who, q, from[q], &mine)
			var m *memoized
			if err == nil {
				m, err = s.expand(src)
			}
			mu.Lock()
			defer mu.Unlock()
			f.seen(mine.Fetched)
			f.Incomplete = f.Incomplete || mine.Incomplete
			if err != nil {
				failed++
				logFailure(err)
				return
			}
			if src.DetailFailed {
				detailFailed++
			}
			f.addEntries(m)
			fullSrcs[q] = src
			for _, fm := range m.matches {
				full[key{fm.PrescriptionID, fm.Issue, fm.Ordinal}] = fm
			}
		}()
	}
	wg.Wait()
	failed += notAsked

	out := make([]mapping.Match, len(page))
	changed := 0
	for i, m := range page {
		out[i] = m
		fm, ok := full[key{m.PrescriptionID, m.Issue, m.Ordinal}]
		if !ok {
			continue
		}
		if !srch.Matches(fm) {
			// The full form no longer fits the search (Spine's data moved on): the summary form
			// that matched stays.
			changed++
			continue
		}
		if q := (tracker.RetrieveQuery{PrescriptionID: m.PrescriptionID, IssueNumber: m.Issue}); fullSrcs[q].Prescription != nil {
			s.shown(fullSrcs[q])
			delete(fullSrcs, q) // once for all its lines
		}
		if srch.Summary {
			// The summary form stays; what its includes need comes from the full form.
			out[i].Prescriber, out[i].Dispenses = fm.Prescriber, fm.Dispenses
			continue
		}
		fm.AuthoredOn = m.AuthoredOn // keep the search's order
		out[i] = fm
	}
	var says []string
	if failed > 0 {
		f.Incomplete = true
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
