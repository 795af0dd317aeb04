package audit

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseQuery(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name, raw string
		want      Query
	}{
		{"a patient reference names the patient", "patient=Patient/9990000001", Query{PatientNHS: "9990000001"}},
		{"a bare NHS number names the patient", "patient=9990000001", Query{PatientNHS: "9990000001"}},
		{"a system|value token names the patient", "patient=https://fhir.nhs.uk/Id/nhs-number|9990000001", Query{PatientNHS: "9990000001"}},
		{"agent is the user id", "agent=555021935107", Query{Agent: "555021935107"}},
		{"agent may be the sds-user-id identifier", "agent=https://fhir.nhs.uk/Id/sds-user-id%7C555021935107", Query{Agent: "555021935107"}},
		{"patient:identifier names the patient", "patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C9990000001", Query{PatientNHS: "9990000001"}},
		{"agent:identifier names the user", "agent:identifier=https://fhir.nhs.uk/Id/sds-user-id%7C555021935107", Query{Agent: "555021935107"}},
		{"a day spans the whole day", "date=2026-11-03", Query{Since: day(2026, 11, 3), Until: day(2026, 11, 4)}},
		{"ge and lt make a range", "date=ge2026-11&date=lt2026-11-10", Query{Since: day(2026, 11, 1), Until: day(2026, 11, 10)}},
		{"gt starts after the value's span", "date=gt2026-11-03", Query{Since: day(2026, 11, 4)}},
		{"le ends after the value's span", "date=le2026", Query{Until: day(2027, 1, 1)}},
		{"a dateTime with an offset is read in UTC", "date=ge2026-11-03T10:00:00%2B01:00",
			Query{Since: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)}},
		{"_count sets the page size", "_count=20&_format=json", Query{Count: 20}},
		{"an unknown parameter is ignored when lenient", "agent=555021935107&subtype=read", Query{Agent: "555021935107"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseQuery(v, false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseQuery(%s) (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
	for _, tc := range []struct {
		name, raw string
		strict    bool
	}{
		{"a patient that is not an NHS number is refused", "patient=Patient/abc", false},
		{"two patients are refused", "patient=9990000001&patient=9990000002", false},
		{"an empty agent is refused", "agent=", false},
		{"an agent of another identifier system is refused", "agent=https://example.org/users%7C555021935107", false},
		{"an agent given as a reference is refused", "agent=Practitioner/555021935107", false},
		{"an agent with an empty identifier value is refused", "agent=https://fhir.nhs.uk/Id/sds-user-id%7C", false},
		{"a date that is not a date is refused", "date=yesterday", false},
		{"an unsupported prefix is refused", "date=ap2026-11-03", false},
		{"a zero _count is refused", "_count=0", false},
		{"a _count over the maximum is refused", "_count=100000", false},
		// A modifier is never ignored: patient:missing must not become a search of every patient.
		// (:identifier is served: TestParseQuery's accepted cases.)
		{"a modifier on a known parameter is refused", "patient:missing=true", false},
		{"an identifier of another system is refused", "patient:identifier=https://example.org/other|9990000001", false},
		{"two patients, one by identifier, are refused", "patient=9990000001&patient:identifier=9990000002", false},
		{"a modifier on date is refused", "agent=555021935107&date:missing=true", false},
		{"an unknown parameter is refused when strict", "agent=555021935107&subtype=read", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tc.raw)
			if q, err := ParseQuery(v, tc.strict); err == nil {
				t.Errorf("ParseQuery(%s) = %+v, want an error", tc.raw, q)
			}
		})
	}
}

// Dates far outside the years a record can have (1678 to 2262, what at_ns holds) still bound a
// search the way they say: they do not wrap round into the trail's years.
func TestFarDatesBoundAsTheySay(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, Config{DSN: b.dsn(t), Keys: []Key{newKey(t, "k1")}})
			if err := s.Record(ctx, event("9990000001", "alice", time.Now())); err != nil {
				t.Fatal(err)
			}
			wantTotals(t, s, map[string]int{
				"date=ge1600": 1, "date=lt2300": 1, "date=le9999-12-31": 1, "date=ge2000-01-01": 1,
				"date=lt1500": 0, "date=ge2300": 0, "date=eq1500": 0, "date=eq9999": 0,
			})
		})
	}
}

// TestAFractionOfASecondSpansItsLastDigit: a dateTime with a fraction stands for the range of its last
// digit, as FHIR's precision rule says, not for the whole second its seconds name.
func TestAFractionOfASecondSpansItsLastDigit(t *testing.T) {
	ctx := context.Background()
	s := open(t, Config{DSN: backends(t)[0].dsn(t), Keys: []Key{newKey(t, "k1")}})
	base := time.Date(2026, 12, 7, 22, 43, 59, 0, time.UTC)
	for _, ns := range []int{434375000, 707783000, 877571000} {
		if err := s.Record(ctx, event("9990000001", "alice", base.Add(time.Duration(ns)))); err != nil {
			t.Fatal(err)
		}
	}
	wantTotals(t, s, map[string]int{
		"date=eq2026-12-07T22:43:59Z":        3, // the whole second
		"date=eq2026-12-07T22:43:59.434375Z": 1,
		"date=gt2026-12-07T22:43:59.434375Z": 2,
		"date=ge2026-12-07T22:43:59.434375Z": 3,
		"date=le2026-12-07T22:43:59.434375Z": 1,
		"date=lt2026-12-07T22:43:59.707783Z": 1,
		"date=eq2026-12-07T22:43:59.7Z":      1, // 700 to 800 ms
		"date=eq2026-12-07T22:43:59.9Z":      0,
	})
}

// wantTotals checks, for each query (patient 9990000001 is added to it), how many records it finds.
func wantTotals(t *testing.T, s *Store, totals map[string]int) {
	t.Helper()
	for raw, want := range totals {
		v, _ := url.ParseQuery(raw + "&patient=9990000001")
		q, err := ParseQuery(v, true)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if _, total, err := s.Search(context.Background(), q); err != nil || total != want {
			t.Errorf("%s: %d records (%v), want %d", raw, total, err, want)
		}
	}
}
