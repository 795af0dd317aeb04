package mapping

import (
	"errors"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Paging bounds for a MedicationRequest search.
const (
	// DefaultCount is the page size when the client sends no _count.
	DefaultCount = 50
	// MaxCount is the largest page the adapter serves; a larger _count is clamped to it (FHIR lets a
	// server return fewer than asked, and the self link shows the page size applied).
	MaxCount = 100
	// DefaultWindowDays is Spine's own default search window: earliestDate 28 days ago, latestDate today.
	DefaultWindowDays = 28
)

// The includes the adapter serves, in their canonical spelling.
const (
	includePatient     = "MedicationRequest:patient"
	includeRequester   = "MedicationRequest:requester"
	revIncludeDispense = "MedicationDispense:prescription"
)

// ParamError is a search parameter the adapter cannot honour: a 400 OperationOutcome issue
// (invalid / value) whose expression is Param, spelled as the client sent it.
type ParamError struct {
	Param string
	Msg   string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

// ParamErrors lists every *ParamError in err, which may be one or an errors.Join of several, in order.
func ParamErrors(err error) []*ParamError {
	var out []*ParamError
	var walk func(error)
	walk = func(e error) {
		if pe, ok := e.(*ParamError); ok {
			out = append(out, pe)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// Search is a validated MedicationRequest search. It is in exactly one of two modes: a
// group-identifier search (PrescriptionID set; Spine's retrieve), or else a patient search (NHSNumber
// set; Spine's prescription search). A group-identifier search may also name a patient: the two are
// AND, and the prescription retrieved is shown only if MatchesPatient its patient.
type Search struct {
	NHSNumber      string // patient search; in a group-identifier search, optional, a filter
	PrescriptionID string // group-identifier search: canonical upper case, check character verified
	Issue          int    // group-identifier search only; 0 = the current issue

	// AuthoredOn is the window of a patient search, always closed: the client's authoredon values,
	// with a missing bound supplied by the adapter (see ParseSearch). Zero in a group-identifier search.
	// A prescription matches when the second of its authoredOn overlaps it (MatchesAuthored).
	AuthoredOn DateRange
	// DefaultWindow is true when the client gave no authoredon and the adapter applied Spine's
	// 28-day default (now-28 days .. today, UTC days).
	DefaultWindow bool
	// DefaultedBound is true when the client gave one side of the window only and the adapter
	// supplied the other.
	DefaultedBound bool

	BusinessStatus tracker.PrescriptionStatus // patient search only; sent to Spine
	Statuses       []string                   // FHIR MedicationRequest status codes (OR), sorted; filtered here
	Version        string                     // "1", "2", "R1" or "R2"; patient search only

	Count        int  // page size: DefaultCount when absent, at most MaxCount; 0 asks for the total only
	SummaryCount bool // _summary=count; see ShowsEntries
	// Summary is _summary=true: a patient search answers in the summary form its one Spine search
	// gives (tagged SUBSETTED), rather than the full form, which costs a retrieve per prescription.
	// Never set in a group-identifier search, which answers in the full form whatever it asks.
	Summary bool

	IncludePatient, IncludeRequester, RevIncludeDispense bool

	// Ignored lists what the search left out in lenient mode, in parameter-name order: unknown parameter names,
	// and "name=value" for values of a known parameter the adapter does not serve (an unsupported
	// _include, _summary=text, _summary=true in a group-identifier search...). None of it appears in
	// SelfQuery.
	Ignored []string
}

// ShowsEntries reports whether the answer shows any matches, rather than their total alone
// (_summary=count, _count=0).
func (s *Search) ShowsEntries() bool { return !s.SummaryCount && s.Count > 0 }

// requestStatuses are FHIR R4's MedicationRequest status codes.
var requestStatuses = []string{
	"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown",
}

// searchParams are the parameters a MedicationRequest search knows, by base name (before any
// modifier or chain). A known base spelled with a modifier or chain the adapter does not serve is a
// 400 whatever the handling (FHIR: an unknown modifier is an error); an unknown base is ignored.
var searchParams = map[string]bool{
	"patient": true, "subject": true, "group-identifier": true, "issue": true, "authoredon": true,
	"business-status": true, "status": true, "prescription-version": true,
}

// ParseSearch validates a MedicationRequest search query. now is the request time: it places Spine's
// default window. strict is the client's Prefer: handling=strict, which turns what lenient handling
// ignores into errors. Every problem found is returned, as *ParamError joined with errors.Join.
//
// Choices where FHIR and the adapter's contract leave room:
//   - Empty parameters (?status=) are ignored, as FHIR says; _format, _pretty and _page belong to the
//     caller and are neither applied here nor ignored.
//   - Repeated parameters are AND, commas are OR (FHIR). One patient and one prescription per search:
//     a second distinct NHS number or prescription ID, by repetition or comma, is a 400; the same one
//     twice is harmless. A token's system may be omitted; an empty system ("|value") or another system
//     is a 400. subject= with a bare NHS number is ambiguous (subject may be a Group): a 400.
//   - A search names a patient, a group-identifier, or both. With a group-identifier it is a
//     group-identifier search (Spine's retrieve), and a patient given too is AND, as FHIR reads
//     different parameters: the Search keeps both, SelfQuery shows both, and the caller keeps the
//     prescription only if MatchesPatient its patient. authoredon, business-status and
//     prescription-version filter Spine's search and are a 400 with group-identifier, patient or not;
//     issue is a 400 without it. status and the includes work in both modes.
//   - authoredon takes eq (the default) ge gt le lt; ne sa eb ap are a 400, as are comma lists, more
//     than two values, two lower or two upper bounds, eq with another value, and an empty range.
//     Precision follows FHIR: a value stands for the range it spans (a year, a month, a day, a minute,
//     a second, a fraction), so eq2024-05 is the whole of May, gt2024-05-01 starts on 2 May and
//     le2024-05-01 ends with 1 May. Spine gives authoredOn to the second, which stands for that
//     whole second: ge/gt and le/lt keep a prescription whose second overlaps the range above or
//     below the value (ge12:15:00.5Z keeps one authored at 12:15:00), and eq one whose second the
//     value contains, so an eq value finer than a second is a 400. Dates are UTC days; a time
//     without a zone is read as UTC, and a zone "+01:00" whose '+' arrived as a space is read as
//     such. A value reaching before 1900 or after 9999 (UTC) is a 400: the zero time.Time means an
//     open bound, so year 1 would otherwise be lost.
//   - Spine is always sent both dates. No authoredon: Spine's default, now-28 days .. today
//     (DefaultWindow). Only an upper bound: the window is the 28 days before it, as wide as Spine's
//     default, but not before 1900. Only a lower bound: the window ends today (or on the lower bound's
//     day if that is later).
//     The window applied is what SelfQuery shows.
//   - business-status and prescription-version take one value (Spine takes one); the version's R is
//     case-insensitive.
//   - status: repeated status parameters with no code in common are a 400 (nothing could match).
//   - _count is an integer >= 0 (0: total only), clamped to MaxCount. _summary=count, true (the
//     summary form of a patient search) and false are served; text and data are ignored (the full
//     resources are a superset) or a 400 when strict, and so is true in a group-identifier search,
//     which answers in the full form; anything else is a 400.
//   - issue is a number declaring the eq comparator only: eq2 is issue 2; other prefixes are a 400.
//   - _include=MedicationRequest:patient (also :subject, and the typed :patient:Patient form),
//     MedicationRequest:requester[:Organization], _revinclude=MedicationDispense:prescription
//     [:MedicationRequest]; the :iterate modifier is accepted and changes nothing. Other includes are
//     ignored, or a 400 when strict.
func ParseSearch(q url.Values, now time.Time, strict bool) (*Search, error) {
	p := &searchParser{s: &Search{Count: DefaultCount}, strict: strict}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		var vals []string
		for _, v := range q[key] {
			if strings.TrimSpace(v) != "" {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			continue
		}
		p.param(key, vals)
	}
	p.finish(now)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.s, nil
}

// finish applies the rules that span parameters: the search mode, the window, the status filter.
func (p *searchParser) finish(now time.Time) {
	s := p.s
	if !p.patientGiven && !p.groupGiven {
		p.fail("patient", "a search needs a patient (patient:identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS number}) or a prescription (group-identifier)")
	}
	if p.issueKey != "" && !p.groupGiven {
		p.fail(p.issueKey, "issue applies to a group-identifier search only")
	}
	if p.groupGiven && s.Summary {
		// The summary form is a patient search's: a group-identifier search has only its retrieve,
		// which gives the full form. Like text and data, true is then not applied, so it is ignored
		// (and left out of the self link), or refused when strict.
		s.Summary = false
		p.ignore("_summary=true", "_summary=true applies to a patient search only: a group-identifier search answers in the full form")
	}
	if p.groupGiven {
		for _, c := range []struct {
			given bool
			param string
		}{{p.authoredKey != "", "authoredon"}, {p.businessStatusGiven, "business-status"}, {p.versionGiven, "prescription-version"}} {
			if c.given {
				p.fail(c.param, "%s applies to a patient search only; a group-identifier search returns the one prescription", c.param)
			}
		}
	}

	if len(p.statusSets) > 0 {
		codes := p.statusSets[0]
		for _, set := range p.statusSets[1:] {
			codes = slices.DeleteFunc(slices.Clone(codes), func(c string) bool { return !slices.Contains(set, c) })
		}
		if len(codes) == 0 && !p.statusErr {
			p.fail("status", "the repeated status parameters have no code in common, so nothing could match")
		}
		sort.Strings(codes)
		s.Statuses = codes
	}

	if p.patientGiven && !p.groupGiven {
		p.window(now)
	}
}

// TrackerQuery is Spine's search for a patient search: the UTC days covering the window (Spine
// includes the whole of latestDate), the business status and the version. The window is filtered
// exactly afterwards with MatchesAuthored.
func (s *Search) TrackerQuery() tracker.SearchQuery {
	q := tracker.SearchQuery{NHSNumber: s.NHSNumber, Status: s.BusinessStatus, Version: s.Version}
	if !s.AuthoredOn.Start.IsZero() {
		q.EarliestDate = searchDay(s.AuthoredOn.Start)
	}
	if !s.AuthoredOn.End.IsZero() {
		q.LatestDate = searchDay(s.AuthoredOn.End.Add(-1))
	}
	return q
}

// RetrieveQuery is Spine's retrieve for a group-identifier search, whether or not it names a patient
// too: Spine's retrieve takes no NHS number, so the patient is filtered afterwards (MatchesPatient).
func (s *Search) RetrieveQuery() tracker.RetrieveQuery {
	return tracker.RetrieveQuery{PrescriptionID: s.PrescriptionID, IssueNumber: s.Issue}
}

// MatchesAuthored reports whether a MedicationRequest authored at t lies in the search's window.
//
// Spine gives authoredOn to the second, so t stands for its second, [t, t+1s), and matches when that
// second overlaps the window, as FHIR matches a ge/gt or le/lt bound against a target's range: ge
// 12:15:00.5 keeps a prescription authored at 12:15:00, whose second reaches past the bound, and
// lt 12:15:00 does not. An eq window is the same test, since its bounds are whole seconds (see
// window). A matching second starts at or after the window's start truncated to the second, on the
// window's first day, so the days Spine is asked for (TrackerQuery) still hold every match.
//
// A zero t (Spine gave no date to map) matches: Spine itself placed the prescription in the window,
// on the date it filters on, and dropping it would hide a prescription from a clinician. The rule
// does not depend on whether the window was defaulted, so a page fetched through the self or next
// link, which names the window explicitly, shows the same entries.
func (s *Search) MatchesAuthored(t time.Time) bool {
	if t.IsZero() {
		return true
	}
	t = t.Truncate(authoredPrecision)
	return s.AuthoredOn.Overlaps(t, t.Add(authoredPrecision))
}

// Matches reports whether a MedicationRequest passes every filter the search checks on what Spine
// answered: its authoredOn, its status and its business status. Spine filters on the prescription
// status itself, but the adapter checks it again, since a retrieve may show a later status than
// the search that found it.
func (s *Search) Matches(m Match) bool {
	return s.MatchesAuthored(m.AuthoredOn) && s.MatchesStatus(RequestStatus(m.Request)) &&
		s.MatchesBusinessStatus(m.BusinessStatus)
}

// MatchesBusinessStatus reports whether a prescription whose issue has status st passes the
// business-status filter (any, when the search has none).
func (s *Search) MatchesBusinessStatus(st tracker.PrescriptionStatus) bool {
	return s.BusinessStatus == "" || s.BusinessStatus == st
}

// MatchesPatient reports whether a prescription for the patient with NHS number nhs passes the
// search's patient filter: any patient when the search names none (a group-identifier search alone).
// The retrieve of a group-identifier search that also names a patient is filtered with it.
func (s *Search) MatchesPatient(nhs string) bool {
	return s.NHSNumber == "" || s.NHSNumber == nhs
}

// MatchesStatus reports whether a MedicationRequest with the given FHIR status passes the status
// filter (any status when the search has none).
func (s *Search) MatchesStatus(fhirStatus string) bool {
	return len(s.Statuses) == 0 || slices.Contains(s.Statuses, fhirStatus)
}

// SelfQuery is the search as applied, in canonical spelling, for the Bundle's self link and the
// paging token: the patient and the prescription (both when the search names both), the window
// (defaulted or not) as authoredon=ge..&authoredon=le.. (day bounds) or ge/lt instants, and _count.
// Ignored parameters, _format, _pretty and _page are not in it. Parsed again, it gives the same search.
func (s *Search) SelfQuery() url.Values {
	q := url.Values{}
	if s.NHSNumber != "" {
		q.Set("patient:identifier", fhir.SystemNHSNumber+"|"+s.NHSNumber)
	}
	if s.PrescriptionID != "" {
		q.Set("group-identifier", fhir.SystemPrescriptionID+"|"+s.PrescriptionID)
	}
	if s.Issue > 0 {
		q.Set("issue", strconv.Itoa(s.Issue))
	}
	if r := s.AuthoredOn; !r.Start.IsZero() {
		if r.Start.Equal(searchDay(r.Start)) {
			q.Add("authoredon", "ge"+r.Start.Format(time.DateOnly))
		} else {
			q.Add("authoredon", "ge"+r.Start.UTC().Format(time.RFC3339Nano))
		}
	}
	if r := s.AuthoredOn; !r.End.IsZero() {
		if r.End.Equal(searchDay(r.End)) {
			q.Add("authoredon", "le"+r.End.AddDate(0, 0, -1).Format(time.DateOnly))
		} else {
			q.Add("authoredon", "lt"+r.End.UTC().Format(time.RFC3339Nano))
		}
	}
	if s.BusinessStatus != "" {
		q.Set("business-status", fhir.SystemBusinessStatus+"|"+string(s.BusinessStatus))
	}
	if len(s.Statuses) > 0 {
		q.Set("status", strings.Join(s.Statuses, ","))
	}
	if s.Version != "" {
		q.Set("prescription-version", s.Version)
	}
	q.Set("_count", strconv.Itoa(s.Count))
	if s.SummaryCount {
		q.Set("_summary", "count")
	} else if s.Summary {
		q.Set("_summary", "true")
	}
	if s.IncludePatient {
		q.Add("_include", includePatient)
	}
	if s.IncludeRequester {
		q.Add("_include", includeRequester)
	}
	if s.RevIncludeDispense {
		q.Set("_revinclude", revIncludeDispense)
	}
	return q
}
