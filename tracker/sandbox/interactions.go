package sandbox

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Spine's statusCodes and reason texts (SPEC 3).
const (
	codeNotFound         = "1"
	codeIssueNotFound    = "3"
	codeUnexpected       = "5"
	codeNoParams         = "50"
	codeInvalidID        = "51"
	codeInvalidASID      = "52"
	codeInvalidVersion   = "53"
	codeInvalidTraceID   = "54"
	codeInvalidUserID    = "55"
	codeInvalidRole      = "56"
	codeInvalidDate      = "57"
	codeInvalidState     = "59"
	codeInvalidRxVersion = "60"
	codeInvalidNHSNumber = "61"

	reasonNotFound         = "Not found"
	reasonIssueNotFound    = "Issue not found"
	reasonUnexpected       = "Unexpected exception"
	reasonNoParams         = "Query parameters have not been provided"
	reasonInvalidID        = "Invalid prescription id"
	reasonInvalidASID      = "Invalid or missing asid"
	reasonInvalidVersion   = "Invalid version"
	reasonInvalidTraceID   = "Invalid traceId"
	reasonInvalidUserID    = "Invalid userId"
	reasonInvalidRole      = "Invalid roleProfileId"
	reasonInvalidDate      = "Invalid search date"
	reasonInvalidState     = "Invalid search prescription state"
	reasonInvalidRxVersion = "Invalid search prescription version"
	reasonInvalidNHSNumber = "Invalid or missing NHS number"

	// The 111 interactions' own codes (T-111 swagger).
	code111NoMatch          = "1"
	code111NotFound         = "6"
	code111LineNotFound     = "7"
	code111InstanceNotFound = "8"

	reason111NoMatch          = "No prescriptions found matching search criteria"
	reason111NotFound         = "Prescription ID not found"
	reason111LineNotFound     = "Prescription Line Item ID not found"
	reason111InstanceNotFound = "Prescription repeat instance not found"
)

// prescriptionIDShape is T-GH's rule for the basic retrieve: length 19/20 (short form, without or
// with check character) or 36/37 (GUID form), letters, digits, '-' and '+'. The check character is
// not verified: T-GH documents no such check, so a well-shaped but wrong ID is simply not found.
var prescriptionIDShape = regexp.MustCompile(`^[A-Za-z0-9+-]{19,20}$|^[A-Za-z0-9+-]{36,37}$`)

// answer validates a request and builds its reply. Order (SPEC 1, 3, 7; the order itself is a
// GUESS): headers, then the version parameter, then "no parameters at all", then the interaction's
// parameters in the order the docs list them, then the data.
func (s *Sandbox) answer(r *http.Request, in interaction, id string) reply {
	h := r.Header
	fail := func(code, reason string) reply { return failure(in, code, reason) }
	if !tracker.ValidASID(h.Get("Spine-From-Asid")) {
		return fail(codeInvalidASID, reasonInvalidASID)
	}
	// T-GH: user and role MAY be sent (checked when present); T-111: SHALL, so the 111 interactions
	// always require them, as Spine does (SPEC 1.4: failure gives 55 and 56). Options.Strict requires
	// them on the basic interactions too.
	required := s.strict || in == itemSummary || in == itemDetails
	if v, present := header(h, "Spine-UserId"); (present || required) && !tracker.ValidUserID(v) {
		return fail(codeInvalidUserID, reasonInvalidUserID)
	}
	if v, present := header(h, "Spine-RoleProfileId"); (present || required) && !tracker.ValidRoleProfileID(v) {
		return fail(codeInvalidRole, reasonInvalidRole)
	}
	if v, present := header(h, "Eps-TraceId"); present && !tracker.ValidTraceID(v) {
		return fail(codeInvalidTraceID, reasonInvalidTraceID)
	}
	q := r.URL.Query()
	if q.Has("version") && q.Get("version") != "1" && q.Get("version") != "1.0" {
		return fail(codeInvalidVersion, reasonInvalidVersion)
	}
	if len(q) == 0 {
		return fail(codeNoParams, reasonNoParams)
	}
	d, now := s.snapshot()
	switch in {
	case search, itemSummary:
		return s.search(d, now, in, q)
	case retrieve:
		return s.retrieve(d, id, q)
	default:
		return s.details(d, q)
	}
}

func header(h http.Header, name string) (string, bool) {
	v, ok := h[http.CanonicalHeaderKey(name)]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// search answers the basic search and the 111 item summary: same parameters and filters, different
// rendering and "nothing found" answer.
func (s *Sandbox) search(d *dataset, now time.Time, in interaction, q url.Values) reply {
	fail := func(code, reason string) reply { return failure(in, code, reason) }
	nhs := q.Get("nhsNumber")
	if !tracker.ValidNHSNumber(nhs) {
		// GUESS for the 111 summary: 61, as the real 111 example answer shows, rather than the
		// swagger's 2 (which is "No unique prescription" in the basic table).
		return fail(codeInvalidNHSNumber, reasonInvalidNHSNumber)
	}
	// GUESS: a missing or wrong format gets 53 "Invalid version": format is the fixed response
	// version selector "introduced for forwards compatibility". The 111 summary takes no format.
	if in == search && q.Get("format") != "trace-summary" {
		return fail(codeInvalidVersion, reasonInvalidVersion)
	}
	from, to, okDates := window(q, now)
	if !okDates {
		return fail(codeInvalidDate, reasonInvalidDate)
	}
	status := tracker.PrescriptionStatus(q.Get("prescriptionStatus"))
	if q.Has("prescriptionStatus") && !status.Valid() {
		return fail(codeInvalidState, reasonInvalidState)
	}
	version := q.Get("prescriptionVersion")
	if q.Has("prescriptionVersion") && version != "1" && version != "2" && version != "R1" && version != "R2" {
		return fail(codeInvalidRxVersion, reasonInvalidRxVersion)
	}

	var found []*prescription
	for _, p := range s.patient(d, nhs) {
		// GUESS: the window filters on prescriptionIssueDate (SPEC 1.1), the status on the current
		// issue's status.
		if p.IssueDate.Before(from) || !p.IssueDate.Before(to) {
			continue
		}
		if status != "" && p.current().Status != status {
			continue
		}
		if version != "" && (p.version() == tracker.VersionR1) != (version == "1" || version == "R1") {
			continue
		}
		found = append(found, p)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].ID < found[j].ID })

	var rep reply
	body := obj{}
	switch {
	case in == itemSummary && len(found) == 0:
		rep = fail(code111NoMatch, reason111NoMatch)
	case in == itemSummary:
		for _, p := range found {
			body[p.ID] = summaryEntry(p)
		}
		rep = ok("prescriptions", body)
	default:
		// GUESS: nothing found is statusCode "0" with an empty prescriptionList (SPEC 3 leaves it
		// open: "if the query was correctly formed but returned no results the HTTP status code will
		// be 200").
		for _, p := range found {
			body[p.ID] = searchEntry(p)
		}
		rep = ok("prescriptionList", body)
	}
	rep.fault, rep.nhsNumber = patientFaults[nhs], nhs
	return rep
}

// window is the search's date range [from, to). earliestDate defaults to the start of the UTC day 28
// days ago; latestDate includes the whole of its day and defaults to today (GUESS: whole days, like
// an explicit latestDate). latest before earliest gives an empty range, not an error (SPEC 1.1).
func window(q url.Values, now time.Time) (from, to time.Time, ok bool) {
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from, to = today.AddDate(0, 0, -28), today.AddDate(0, 0, 1)
	for _, p := range []struct {
		name string
		dst  *time.Time
		add  int
	}{{"earliestDate", &from, 0}, {"latestDate", &to, 1}} {
		if !q.Has(p.name) {
			continue
		}
		v := q.Get(p.name)
		t, err := time.Parse("20060102", v)
		if len(v) != 8 || err != nil {
			return from, to, false
		}
		*p.dst = t.AddDate(0, 0, p.add)
	}
	return from, to, true
}

// retrieve answers the basic retrieve.
func (s *Sandbox) retrieve(d *dataset, id string, q url.Values) reply {
	fail := func(code, reason string) reply { return failure(retrieve, code, reason) }
	if !prescriptionIDShape.MatchString(id) {
		return fail(codeInvalidID, reasonInvalidID)
	}
	if q.Get("format") != "trace" { // GUESS, as for the search's format
		return fail(codeInvalidVersion, reasonInvalidVersion)
	}
	p := s.lookup(d, id)
	if p == nil {
		return fail(codeNotFound, reasonNotFound)
	}
	asked := itoa(p.CurrentIssue)
	if q.Has("issueNumber") {
		asked = q.Get("issueNumber")
	}
	// GUESS: an issueNumber that is not a positive integer names no issue: statusCode 3.
	var is *issue
	if n, err := strconv.Atoi(asked); err == nil {
		is = p.issue(n)
	}
	if is == nil {
		rep := ok("prescription", retrieveBody(p, nil, asked))
		rep.code, rep.reason = codeIssueNotFound, reasonIssueNotFound
		rep.nhsNumber = p.NHSNumber
		return rep
	}
	rep := ok("prescription", retrieveBody(p, is, asked))
	rep.nhsNumber = p.NHSNumber
	return rep
}

// details answers the 111 item details. Its body key is the prescription ID itself.
func (s *Sandbox) details(d *dataset, q url.Values) reply {
	fail := func(code, reason string) reply { return failure(itemDetails, code, reason) }
	id := q.Get("prescriptionId")
	// GUESS: the 111 code list has no "invalid id", so a malformed ID is "not found" (6).
	if !prescriptionIDShape.MatchString(id) {
		return fail(code111NotFound, reason111NotFound)
	}
	p := s.lookup(d, id)
	if p == nil {
		return fail(code111NotFound, reason111NotFound)
	}
	var is *issue
	switch {
	case q.Has("issueNumber"):
		// GUESS: a non-integer issueNumber names no issue: 8.
		if n, err := strconv.Atoi(q.Get("issueNumber")); err == nil {
			is = p.issue(n)
		}
	case p.Treatment != tracker.TreatmentRepeatDispensing:
		// Swagger: without issueNumber, a single-issue prescription answers with that issue...
		is = p.current()
	}
	if is == nil {
		// ...and repeat dispensing is "an error condition": 8, as EPSAPI's error-no-issue-number
		// fixture shows.
		return fail(code111InstanceNotFound, reason111InstanceNotFound)
	}
	var only *line
	if q.Has("lineitemid") {
		if only = findLine(p, q.Get("lineitemid")); only == nil {
			return fail(code111LineNotFound, reason111LineNotFound)
		}
	}
	rep := ok(p.ID, detailEntry(p, is, only))
	rep.nhsNumber = p.NHSNumber
	return rep
}
