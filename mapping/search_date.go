package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DateRange is an instant range: Start inclusive, End exclusive, both UTC. A zero bound is open.
type DateRange struct {
	Start, End time.Time
}

// Overlaps reports whether the range [start, end) of a target value overlaps r: FHIR's test for a
// lower bound (ge, gt: the range above the search value overlaps the target's) and an upper bound
// (le, lt: the range below it does) together.
func (r DateRange) Overlaps(start, end time.Time) bool {
	return (r.Start.IsZero() || end.After(r.Start)) && (r.End.IsZero() || start.Before(r.End))
}

// authoredPrecision is how finely Spine records when a prescription was authored. An authoredOn
// stands for the whole of its second, [t, t+1s), and a search compares that range, not the instant t.
const authoredPrecision = time.Second

// The instants an authoredon window may span. The zero time.Time stands for an open bound, so a
// value near it (year 1) would be lost silently; nothing Spine holds predates 1900, and a year after
// 9999 cannot be written back in the self link.
var (
	minSearchDate = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxSearchDate = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // exclusive
)

// dateBound is one authoredon value: its prefix and the instant range its precision spans.
type dateBound struct {
	prefix string
	raw    string
	lo, hi time.Time
}

func (p *searchParser) authoredOn(key string, vals []string) {
	p.authoredKey = key
	for _, v := range vals {
		if strings.Contains(v, ",") {
			p.dateErr = true
			p.fail(key, "%q: a comma list (OR) of dates is not supported; repeat the parameter for a range", v)
			continue
		}
		b, err := parseDateBound(v)
		if err != nil {
			p.dateErr = true
			p.fail(key, "%q: %v", v, err)
			continue
		}
		p.dates = append(p.dates, b)
	}
}

var (
	datePattern = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)
	// A zone whose '+' arrived as a space ("T10:00:00 01:00").
	spacedZone = regexp.MustCompile(`^(.*T[0-9:.]+) ([0-9]{2}:[0-9]{2})$`)
)

// parseDateBound reads a date search value: an optional prefix, then a FHIR date or dateTime of any
// precision, as the range of instants it spans.
func parseDateBound(v string) (dateBound, error) {
	v = spacedZone.ReplaceAllString(strings.TrimSpace(v), "$1+$2")
	b := dateBound{prefix: "eq", raw: v}
	if len(v) >= 2 && isLetter(v[0]) && isLetter(v[1]) {
		b.prefix, v = strings.ToLower(v[:2]), v[2:]
		switch b.prefix {
		case "eq", "ge", "gt", "le", "lt":
		case "ne", "sa", "eb", "ap":
			return b, fmt.Errorf("the prefix %s is not supported (use eq, ge, gt, le or lt)", b.prefix)
		default:
			return b, fmt.Errorf("%q is not a search prefix (use eq, ge, gt, le or lt)", b.prefix)
		}
	}
	m := datePattern.FindStringSubmatch(v)
	if m == nil {
		return b, errors.New("not a date: use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss[.fff]][Z|±hh:mm]")
	}
	num := func(s string, def int) int {
		if s == "" {
			return def
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	year, month, day := num(m[1], 0), num(m[2], 1), num(m[3], 1)
	hour, minute, sec := num(m[4], 0), num(m[5], 0), num(m[6], 0)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, time.Month(month)) ||
		hour > 23 || minute > 59 || sec > 59 {
		return b, errors.New("not a real date or time")
	}
	loc := time.UTC
	if z := m[8]; z != "" && z != "Z" {
		zh, zm := num(z[1:3], 0), num(z[4:6], 0)
		if zh > 14 || zm > 59 {
			return b, errors.New("not a real time zone offset")
		}
		off := (zh*60 + zm) * 60
		if z[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	frac := m[7]
	nsec := 0
	if frac != "" {
		nsec = num((frac + "000000000")[:9], 0)
	}
	lo := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	var hi time.Time
	switch {
	case m[2] == "":
		hi = lo.AddDate(1, 0, 0)
	case m[3] == "":
		hi = lo.AddDate(0, 1, 0)
	case m[4] == "":
		hi = lo.AddDate(0, 0, 1)
	case m[6] == "":
		hi = lo.Add(time.Minute)
	case frac == "":
		hi = lo.Add(time.Second)
	default:
		step := time.Duration(1)
		for range 9 - len(frac) {
			step *= 10
		}
		hi = lo.Add(step)
	}
	b.lo, b.hi = lo.UTC(), hi.UTC()
	switch {
	case b.lo.Before(minSearchDate):
		return b, errors.New("dates before 1900 are not supported")
	case b.hi.After(maxSearchDate):
		return b, errors.New("dates after 9999 are not supported")
	}
	return b, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// window turns the authoredon values into the closed window sent to Spine and filtered on.
func (p *searchParser) window(now time.Time) {
	s, key := p.s, p.authoredKey
	today := searchDay(now)
	if key == "" {
		s.AuthoredOn = DateRange{Start: today.AddDate(0, 0, -DefaultWindowDays), End: today.AddDate(0, 0, 1)}
		s.DefaultWindow = true
		return
	}
	if p.dateErr {
		return // a value did not parse: its error says so, and the window cannot be known
	}
	if len(p.dates) > 2 {
		p.fail(key, "give at most two values, a lower and an upper bound")
		return
	}
	var r DateRange
	var haveStart, haveEnd bool
	for _, b := range p.dates {
		if b.prefix == "eq" && len(p.dates) > 1 {
			p.fail(key, "%q: an eq value cannot be combined with another value", b.raw)
			return
		}
		var lower, upper *time.Time
		switch b.prefix {
		case "eq":
			// FHIR's eq needs the value's range to contain the target's; no authoredOn second fits
			// in a value finer than a second. From a second up, the range's bounds are whole seconds,
			// where containing a second and overlapping it agree, so eq is ge lo and lt hi.
			if b.hi.Sub(b.lo) < authoredPrecision {
				p.fail(key, "%q: authoredOn is recorded to the second, so an eq value finer than a second contains none and nothing could match; give the second, or a range with ge/gt and le/lt", b.raw)
				return
			}
			lower, upper = &b.lo, &b.hi
		case "ge":
			lower = &b.lo
		case "gt":
			lower = &b.hi
		case "le":
			upper = &b.hi
		case "lt":
			upper = &b.lo
		}
		if lower != nil {
			if haveStart {
				p.fail(key, "two lower bounds (ge/gt): give one lower and one upper bound")
				return
			}
			r.Start, haveStart = *lower, true
		}
		if upper != nil {
			if haveEnd {
				p.fail(key, "two upper bounds (le/lt): give one lower and one upper bound")
				return
			}
			r.End, haveEnd = *upper, true
		}
	}
	if haveStart && haveEnd && !r.Start.Before(r.End) {
		p.fail(key, "the range is empty: its lower bound is not before its upper bound")
		return
	}
	if haveStart && !r.Start.Before(maxSearchDate) {
		p.fail(key, "dates after 9999 are not supported: nothing can be authored after the lower bound")
		return
	}
	if !haveStart {
		r.Start = searchDay(r.End.Add(-1)).AddDate(0, 0, -DefaultWindowDays)
		if r.Start.Before(minSearchDate) {
			r.Start = minSearchDate // the window ends before it would reach back past 1900
		}
		if !r.Start.Before(r.End) {
			p.fail(key, "dates before 1900 are not supported: nothing can be authored before the upper bound")
			return
		}
		s.DefaultedBound = true
	}
	if !haveEnd {
		last := today
		if d := searchDay(r.Start); d.After(last) {
			last = d
		}
		r.End = last.AddDate(0, 0, 1)
		s.DefaultedBound = true
	}
	s.AuthoredOn = r
}

func searchDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
