package audit

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParseQuery reads the search parameters of GET /FHIR/R4/AuditEvent into a Query:
//
//   - patient: Patient/{nhs}, an NHS number, or https://fhir.nhs.uk/Id/nhs-number|{nhs};
//   - agent: the user id, or https://fhir.nhs.uk/Id/sds-user-id|{user id};
//   - date: a FHIR date or dateTime with an optional eq (default), ge, gt, le or lt prefix, repeated
//     for a range;
//   - _count: page size, 1 to MaxCount.
//
// _format, _pretty and _page are the caller's. A modifier on any of these (patient:identifier) is
// an error, as FHIR's search says; any other parameter is an error when strict (the client's Prefer:
// handling=strict), and otherwise ignored, as FHIR's lenient handling allows: the caller's self link
// shows only what was applied. All problems are returned joined, each naming its parameter.
func ParseQuery(v url.Values, strict bool) (Query, error) {
	var (
		q    Query
		errs []error
	)
	fail := func(param, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{param}, a...)...))
	}
	// patient and agent are reference parameters whose references are identifiers only (an NHS
	// number, an SDS user id): R4's :identifier modifier names them so, and means what the bare
	// parameter's system|value does here.
	if v.Has("patient:identifier") || v.Has("agent:identifier") {
		v = maps.Clone(v)
		for _, p := range []string{"patient", "agent"} {
			v[p] = append(v[p], v[p+":identifier"]...)
			delete(v, p+":identifier")
			if len(v[p]) == 0 {
				delete(v, p)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(v)) {
		base, modifier, _ := strings.Cut(key, ":")
		switch {
		case callersParam(key):
		case queryParam(base) && modifier != "":
			fail(key, "the modifier :%s is not supported on AuditEvent searches: nothing was searched (use %s= or %s:identifier=)", modifier, base, base)
		case !queryParam(base) && strict:
			fail(key, "not a search parameter of AuditEvent here (patient, agent, date and _count are): nothing was searched")
		}
	}
	if ps := v["patient"]; len(ps) > 0 {
		nhs, ok := patientNHS(ps[len(ps)-1])
		switch {
		case len(ps) > 1:
			fail("patient", "give one patient")
		case !ok:
			fail("patient", "want Patient/{NHS number}, an NHS number or %s|{NHS number}", systemNHSNumber)
		}
		q.PatientNHS = nhs
	}
	if as := v["agent"]; len(as) > 0 {
		user, ok := agentUserID(as[len(as)-1])
		switch {
		case len(as) > 1:
			fail("agent", "give one user id")
		case !ok:
			fail("agent", "want the user's id, or %s|{user id}: an agent is found by the identifier its records carry", systemUserID)
		}
		q.Agent = user
	}
	for _, d := range v["date"] {
		prefix, lo, hi, err := parseDate(d)
		if err != nil {
			fail("date", "%q: %v", d, err)
			continue
		}
		// Each bound narrows the range, so repeated parameters intersect as FHIR's AND requires.
		since, until := time.Time{}, time.Time{}
		switch prefix {
		case "eq":
			since, until = lo, hi
		case "ge":
			since = lo
		case "gt":
			since = hi
		case "le":
			until = hi
		case "lt":
			until = lo
		}
		if !since.IsZero() && since.After(q.Since) {
			q.Since = since
		}
		if !until.IsZero() && (q.Until.IsZero() || until.Before(q.Until)) {
			q.Until = until
		}
	}
	if cs := v["_count"]; len(cs) > 0 {
		n, err := strconv.Atoi(cs[len(cs)-1])
		if err != nil || n < 1 || n > MaxCount {
			fail("_count", "want a whole number from 1 to %d", MaxCount)
		}
		q.Count = n
	}
	if err := errors.Join(errs...); err != nil {
		return Query{}, err
	}
	return q, nil
}

// queryParam reports whether ParseQuery reads a parameter, callersParam whether it leaves it to
// its caller.
func queryParam(name string) bool {
	switch name {
	case "patient", "agent", "date", "_count":
		return true
	}
	return false
}

func callersParam(name string) bool {
	switch name {
	case "_format", "_pretty", "_page":
		return true
	}
	return false
}

// patientNHS accepts the forms a client may use to name a patient by NHS number.
// agentUserID reads an agent search value: a user id, alone or as an sds-user-id identifier
// (system|value), the identifier AuditEvent.agent.who carries. Another system, a reference
// (Practitioner/...) or an empty value could only match nothing, so it is refused rather than
// answered with an empty trail.
func agentUserID(s string) (string, bool) {
	if system, value, ok := strings.Cut(s, "|"); ok {
		if system != systemUserID {
			return "", false
		}
		s = value
	}
	if s == "" || strings.ContainsAny(s, "/|") {
		return "", false
	}
	return s, true
}

func patientNHS(s string) (string, bool) {
	s = strings.TrimPrefix(s, "Patient/")
	s = strings.TrimPrefix(s, systemNHSNumber+"|")
	if len(s) != 10 {
		return "", false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return s, true
}

// dateLayouts are the FHIR date and dateTime precisions, each with the step its value spans.
var dateLayouts = []struct {
	layout string
	span   func(time.Time) time.Time
}{
	{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
	{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
	{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
	{"2006-01-02T15:04Z07:00", func(t time.Time) time.Time { return t.Add(time.Minute) }},
	// time.Parse takes a fraction of a second here too: its span is the fraction's last digit (see
	// fractionStep), not a whole second.
	{"2006-01-02T15:04:05Z07:00", func(t time.Time) time.Time { return t.Add(time.Second) }},
}

// fractionStep is what the last digit of a dateTime's fraction of a second stands for (10 ms for
// ".12", 1 µs for ".123456"), or 0 when the value has no fraction.
func fractionStep(s string) time.Duration {
	_, clock, ok := strings.Cut(s, "T")
	if !ok {
		return 0
	}
	_, frac, ok := strings.Cut(clock, ".")
	if !ok {
		return 0
	}
	n := 0
	for n < len(frac) && frac[n] >= '0' && frac[n] <= '9' {
		n++
	}
	step := time.Second
	for range min(n, 9) {
		step /= 10
	}
	return step
}

// parseDate reads an optionally prefixed date search value as its prefix and the instants it spans,
// [lo, hi). Dates without a zone are UTC, the zone the trail records in.
func parseDate(s string) (prefix string, lo, hi time.Time, err error) {
	prefix = "eq"
	if len(s) > 2 && s[0] >= 'a' && s[0] <= 'z' {
		prefix, s = s[:2], s[2:]
	}
	switch prefix {
	case "eq", "ge", "gt", "le", "lt":
	default:
		return "", lo, hi, fmt.Errorf("prefix %q is not supported (use eq, ge, gt, le or lt)", prefix)
	}
	// A '+' of a zone offset may arrive decoded as a space.
	s = strings.Replace(s, " ", "+", 1)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l.layout, s); err == nil {
			if step := fractionStep(s); step > 0 {
				return prefix, t.UTC(), t.Add(step).UTC(), nil
			}
			return prefix, t.UTC(), l.span(t).UTC(), nil
		}
	}
	return "", lo, hi, errors.New("want YYYY, YYYY-MM, YYYY-MM-DD or a dateTime with a zone")
}
