package audit

import (
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
		{"a day spans the whole day", "date=2026-11-03", Query{Since: day(2026, 11, 3), Until: day(2026, 11, 4)}},
		{"ge and lt make a range", "date=ge2026-11&date=lt2026-11-10", Query{Since: day(2026, 11, 1), Until: day(2026, 11, 10)}},
		{"gt starts after the value's span", "date=gt2026-11-03", Query{Since: day(2026, 11, 4)}},
		{"le ends after the value's span", "date=le2026", Query{Until: day(2027, 1, 1)}},
		{"a dateTime with an offset is read in UTC", "date=ge2026-11-03T10:00:00%2B01:00",
			Query{Since: time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)}},
		{"_count sets the page size", "_count=20&_format=json", Query{Count: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseQuery(v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseQuery(%s) (-want +got):\n%s", tc.raw, diff)
			}
		})
	}
	for _, tc := range []struct{ name, raw string }{
		{"a patient that is not an NHS number is refused", "patient=Patient/abc"},
		{"two patients are refused", "patient=9990000001&patient=9990000002"},
		{"an empty agent is refused", "agent="},
		{"a date that is not a date is refused", "date=yesterday"},
		{"an unsupported prefix is refused", "date=ap2026-11-03"},
		{"a zero _count is refused", "_count=0"},
		{"a _count over the maximum is refused", "_count=100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tc.raw)
			if q, err := ParseQuery(v); err == nil {
				t.Errorf("ParseQuery(%s) = %+v, want an error", tc.raw, q)
			}
		})
	}
}
