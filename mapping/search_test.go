package mapping

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// searchNow is the request time every search test uses: Spine's default window is then
// 2024-05-18 .. 2024-06-15 (UTC days).
var searchNow = time.Date(2024, 6, 15, 10, 30, 0, 0, time.UTC)

const (
	testNHS      = "9691003120"
	testNHSOther = "9691003147"
	testNHSBad   = "9691003121" // wrong check digit
	testRxID     = "3AF2CB-C86002-0000BX"
	testRxPlus   = "E7ZG38-ZBACYU-V38SR+"
	testRxR1     = "9C18AE6F-510C-F7A3-E050-D20AE3A231C8C"
)

// parseQuery parses a raw query string as net/http does, so an unencoded '+' arrives as a space.
func parseQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("url.ParseQuery(%q): %v", raw, err)
	}
	return q
}

func mustParseSearch(t *testing.T, raw string, strict bool) *Search {
	t.Helper()
	s, err := ParseSearch(parseQuery(t, raw), searchNow, strict)
	if err != nil {
		t.Fatalf("ParseSearch(%q) = %v, want no error", raw, err)
	}
	return s
}

// errorParams is the Param of every ParamError in err, in order.
func errorParams(err error) []string {
	var out []string
	for _, pe := range ParamErrors(err) {
		out = append(out, pe.Param)
	}
	return out
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestParseSearchPatient(t *testing.T) {
	tests := []struct {
		name  string
		query string
	}{
		{"patient:identifier with the NHS number system names the patient", "patient:identifier=https://fhir.nhs.uk/Id/nhs-number|" + testNHS},
		{"patient:identifier without a system names the patient", "patient:identifier=" + testNHS},
		{"subject:identifier names the patient", "subject:identifier=https://fhir.nhs.uk/Id/nhs-number|" + testNHS},
		{"the chained patient.identifier names the patient", "patient.identifier=https://fhir.nhs.uk/Id/nhs-number|" + testNHS},
		{"the chained subject.identifier names the patient", "subject.identifier=" + testNHS},
		{"patient=Patient/{nhs} names the patient", "patient=Patient/" + testNHS},
		{"a bare patient={nhs} names the patient", "patient=" + testNHS},
		{"subject=Patient/{nhs} names the patient", "subject=Patient/" + testNHS},
		{"the typed patient:Patient={nhs} names the patient", "patient:Patient=" + testNHS},
		{"the same patient given twice is one patient", "patient=" + testNHS + "&patient:identifier=" + testNHS},
		{"the same patient twice in a comma list is one patient", "patient:identifier=" + testNHS + "," + testNHS},
		{"surrounding spaces are trimmed", "patient:identifier=%20" + testNHS + "%20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, tt.query, true)
			if got, want := s.NHSNumber, testNHS; got != want {
				t.Errorf("NHSNumber = %q, want %q", got, want)
			}
			if got := s.PrescriptionID; got != "" {
				t.Errorf("PrescriptionID = %q, want none", got)
			}
			if got, want := s.TrackerQuery().NHSNumber, testNHS; got != want {
				t.Errorf("TrackerQuery().NHSNumber = %q, want %q", got, want)
			}
		})
	}
}

func TestParseSearchErrors(t *testing.T) {
	pat := "patient:identifier=" + testNHS
	tests := []struct {
		name   string
		query  string
		strict bool
		want   []string // the Param of each error, in order
	}{
		{"no patient and no prescription is a 400 on patient", "status=active", false, []string{"patient"}},
		{"an empty query is a 400 on patient", "", false, []string{"patient"}},
		{"an empty patient value is ignored, leaving no patient", "patient=", false, []string{"patient"}},
		{"another identifier system is a 400", "patient:identifier=https://example.org/mrn|" + testNHS, false, []string{"patient:identifier"}},
		{"an empty identifier system is a 400", "patient:identifier=|" + testNHS, false, []string{"patient:identifier"}},
		{"a bad NHS number checksum names patient:identifier", "patient:identifier=" + testNHSBad, false, []string{"patient:identifier"}},
		{"a bad NHS number checksum names subject.identifier", "subject.identifier=" + testNHSBad, false, []string{"subject.identifier"}},
		{"a bad NHS number checksum names patient", "patient=Patient/" + testNHSBad, false, []string{"patient"}},
		{"an NHS number of nine digits is a 400", "patient=969100312", false, []string{"patient"}},
		{"a bare subject={nhs} is ambiguous and a 400", "subject=" + testNHS, false, []string{"subject"}},
		{"a reference to another resource type is a 400", "patient=Group/" + testNHS, false, []string{"patient"}},
		{"an absolute reference is a 400", "patient=https://example.org/Patient/" + testNHS, false, []string{"patient"}},
		{"two patients in repeated parameters are a 400", pat + "&patient:identifier=" + testNHSOther, false, []string{"patient:identifier"}},
		{"two patients in a comma list are a 400", pat + "," + testNHSOther, false, []string{"patient:identifier"}},
		{"two patients in different spellings are a 400", pat + "&subject=Patient/" + testNHSOther, false, []string{"subject"}},
		{"authoredon with patient and group-identifier is a 400", pat + "&group-identifier=" + testRxID + "&authoredon=2024-05-01", false, []string{"authoredon"}},
		{"business-status with patient and group-identifier is a 400", pat + "&group-identifier=" + testRxID + "&business-status=0001", false, []string{"business-status"}},
		{"prescription-version with patient and group-identifier is a 400", pat + "&group-identifier=" + testRxID + "&prescription-version=2", false, []string{"prescription-version"}},
		{"an invalid patient with a group-identifier is a 400", "patient=" + testNHSBad + "&group-identifier=" + testRxID, false, []string{"patient"}},
		{"two patients with a group-identifier are a 400", pat + "," + testNHSOther + "&group-identifier=" + testRxID, false, []string{"patient:identifier"}},
		{"issue without group-identifier is a 400", pat + "&issue=2", false, []string{"issue"}},
		{"issue 0 is a 400", "group-identifier=" + testRxID + "&issue=0", false, []string{"issue"}},
		{"a non-numeric issue is a 400", "group-identifier=" + testRxID + "&issue=two", false, []string{"issue"}},
		{"two issues are a 400", "group-identifier=" + testRxID + "&issue=1&issue=2", false, []string{"issue"}},
		{"issue eq0 is a 400", "group-identifier=" + testRxID + "&issue=eq0", false, []string{"issue"}},
		{"issue eq without a number is a 400", "group-identifier=" + testRxID + "&issue=eq", false, []string{"issue"}},
		{"a wrong prescription check character is a 400", "group-identifier=3AF2CB-C86002-0000BY", false, []string{"group-identifier"}},
		{"a malformed prescription ID is a 400", "group-identifier=3AF2CB-C86002", false, []string{"group-identifier"}},
		{"a prescription ID system mismatch is a 400", "group-identifier=https://fhir.nhs.uk/Id/nhs-number|" + testRxID, false, []string{"group-identifier"}},
		{"two prescriptions are a 400", "group-identifier=" + testRxID + "," + testRxPlus, false, []string{"group-identifier"}},
		{"authoredon with group-identifier is a 400", "group-identifier=" + testRxID + "&authoredon=2024-05-01", false, []string{"authoredon"}},
		{"business-status with group-identifier is a 400", "group-identifier=" + testRxID + "&business-status=0001", false, []string{"business-status"}},
		{"prescription-version with group-identifier is a 400", "group-identifier=" + testRxID + "&prescription-version=2", false, []string{"prescription-version"}},
		{"an unknown business status is a 400", pat + "&business-status=0010", false, []string{"business-status"}},
		{"a business-status system mismatch is a 400", pat + "&business-status=https://example.org|0001", false, []string{"business-status"}},
		{"a business-status comma list is a 400", pat + "&business-status=0001,0002", false, []string{"business-status"}},
		{"two business-status values are a 400", pat + "&business-status=0001&business-status=0002", false, []string{"business-status"}},
		{"an unknown MedicationRequest status is a 400", pat + "&status=active,dispensed", false, []string{"status"}},
		{"repeated statuses with nothing in common are a 400", pat + "&status=active&status=completed", false, []string{"status"}},
		{"an unknown prescription version is a 400", pat + "&prescription-version=3", false, []string{"prescription-version"}},
		{"a negative _count is a 400", pat + "&_count=-1", false, []string{"_count"}},
		{"a non-numeric _count is a 400", pat + "&_count=ten", false, []string{"_count"}},
		{"an unknown _summary value is a 400", pat + "&_summary=brief", false, []string{"_summary"}},
		{"_summary=text is a 400 when strict", pat + "&_summary=text", true, []string{"_summary"}},
		{"_summary=true on a group-identifier search is a 400 when strict", "group-identifier=" + testRxID + "&_summary=true", true, []string{"_summary"}},
		{"_summary=true on a group-identifier search with a patient is a 400 when strict", pat + "&group-identifier=" + testRxID + "&_summary=true", true, []string{"_summary"}},
		{"an unsupported _include is a 400 when strict", pat + "&_include=MedicationRequest:medication", true, []string{"_include"}},
		{"an unsupported _revinclude is a 400 when strict", pat + "&_revinclude=Provenance:target", true, []string{"_revinclude"}},
		{"an unknown parameter is a 400 when strict", pat + "&colour=blue", true, []string{"colour"}},
		{"status:not is an unsupported modifier and a 400 even when lenient", pat + "&status:not=active", false, []string{"status:not"}},
		{"authoredon:missing is an unsupported modifier and a 400", pat + "&authoredon:missing=true", false, []string{"authoredon:missing"}},
		{"patient:missing is an unsupported modifier and a 400", pat + "&patient:missing=false", false, []string{"patient:missing"}},
		{"patient.name is an unsupported chain and a 400", pat + "&patient.name=Smith", false, []string{"patient.name"}},
		{"group-identifier:text is an unsupported modifier and a 400", "group-identifier:text=x&" + pat, false, []string{"group-identifier:text"}},
		{
			"every problem is reported at once",
			"patient:identifier=" + testNHSBad + "&issue=1&status=bogus&_count=x&colour=blue", true,
			[]string{"_count", "colour", "patient:identifier", "status", "issue"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSearch(parseQuery(t, tt.query), searchNow, tt.strict)
			if err == nil {
				t.Fatalf("ParseSearch(%q) = %+v, want an error", tt.query, s)
			}
			if s != nil {
				t.Errorf("ParseSearch returned a search with its error")
			}
			if diff := cmp.Diff(tt.want, errorParams(err)); diff != "" {
				t.Errorf("error params (-want +got):\n%s\nerror: %v", diff, err)
			}
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Errorf("errors.As(%v, *ParamError) = false", err)
			}
			for _, pe := range ParamErrors(err) {
				if pe.Msg == "" || !strings.HasPrefix(pe.Error(), pe.Param+": ") {
					t.Errorf("ParamError %#v has no useful message: %q", pe, pe.Error())
				}
			}
		})
	}
}

func TestParseSearchDoesNotEchoNHSNumbers(t *testing.T) {
	_, err := ParseSearch(parseQuery(t, "patient:identifier="+testNHS+","+testNHSOther), searchNow, false)
	if err == nil {
		t.Fatal("ParseSearch with two patients succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, testNHS) || strings.Contains(msg, testNHSOther) {
		t.Errorf("error %q repeats an NHS number", msg)
	}
}

func TestParseSearchGroupIdentifier(t *testing.T) {
	tests := []struct {
		name      string
		query     string
		wantID    string
		wantIssue int
	}{
		{"a group-identifier with its system names the prescription", "group-identifier=https://fhir.nhs.uk/Id/prescription-order-number|" + testRxID, testRxID, 0},
		{"a group-identifier without a system names the prescription", "group-identifier=" + testRxID, testRxID, 0},
		{"a lower-case prescription ID is upper-cased", "group-identifier=" + strings.ToLower(testRxID), testRxID, 0},
		{"an unencoded '+' check character, read as a space, is restored", "group-identifier=" + testRxPlus, testRxPlus, 0},
		{"an unencoded '+' after the system is restored", "group-identifier=https://fhir.nhs.uk/Id/prescription-order-number|" + testRxPlus, testRxPlus, 0},
		{"an unencoded '+' followed by trailing spaces is restored", "group-identifier=E7ZG38-ZBACYU-V38SR+%20%20", testRxPlus, 0},
		{"a percent-encoded '+' is read as is", "group-identifier=E7ZG38-ZBACYU-V38SR%2B", testRxPlus, 0},
		{"a lower-case ID with an unencoded '+' is restored", "group-identifier=e7zg38-zbacyu-v38sr+", testRxPlus, 0},
		{"an R1 long-form ID is accepted", "group-identifier=" + strings.ToLower(testRxR1), testRxR1, 0},
		{"issue selects an issue", "group-identifier=" + testRxID + "&issue=2", testRxID, 2},
		{"issue with the eq prefix selects that issue", "group-identifier=" + testRxID + "&issue=eq2", testRxID, 2},
		{"the issue's eq prefix is read case-insensitively", "group-identifier=" + testRxID + "&issue=EQ3", testRxID, 3},
		{"the same prescription twice is one prescription", "group-identifier=" + testRxID + "&group-identifier=" + strings.ToLower(testRxID), testRxID, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, tt.query, true)
			if got := s.PrescriptionID; got != tt.wantID {
				t.Errorf("PrescriptionID = %q, want %q", got, tt.wantID)
			}
			if got := s.NHSNumber; got != "" {
				t.Errorf("NHSNumber = %q, want none", got)
			}
			want := tracker.RetrieveQuery{PrescriptionID: tt.wantID, IssueNumber: tt.wantIssue}
			if got := s.RetrieveQuery(); got != want {
				t.Errorf("RetrieveQuery() = %+v, want %+v", got, want)
			}
			if got := s.AuthoredOn; got != (DateRange{}) {
				t.Errorf("AuthoredOn = %+v, want no window", got)
			}
			if !s.MatchesAuthored(day(2001, 1, 1)) {
				t.Error("a group-identifier search filtered on authoredOn")
			}
		})
	}
}

func TestParseSearchPatientAndGroupIdentifier(t *testing.T) {
	tests := []struct {
		name, patient string
	}{
		{"patient:identifier with a group-identifier keeps both", "patient:identifier=https://fhir.nhs.uk/Id/nhs-number|" + testNHS},
		{"subject.identifier with a group-identifier keeps both", "subject.identifier=" + testNHS},
		{"a bare patient with a group-identifier keeps both", "patient=" + testNHS},
		{"a patient reference with a group-identifier keeps both", "patient=Patient/" + testNHS},
		{"a subject reference with a group-identifier keeps both", "subject=Patient/" + testNHS},
		{"a subject:Patient with a group-identifier keeps both", "subject:Patient=" + testNHS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, tt.patient+"&group-identifier="+testRxPlus+"&issue=2", true)
			if got, want := s.NHSNumber, testNHS; got != want {
				t.Errorf("NHSNumber = %q, want %q", got, want)
			}
			if got, want := s.PrescriptionID, testRxPlus; got != want {
				t.Errorf("PrescriptionID = %q, want %q", got, want)
			}
			want := tracker.RetrieveQuery{PrescriptionID: testRxPlus, IssueNumber: 2}
			if got := s.RetrieveQuery(); got != want {
				t.Errorf("RetrieveQuery() = %+v, want %+v", got, want)
			}
			if got := s.AuthoredOn; got != (DateRange{}) || s.DefaultWindow || s.DefaultedBound {
				t.Errorf("AuthoredOn = %+v (default %t, defaulted bound %t), want no window", got, s.DefaultWindow, s.DefaultedBound)
			}
			if !s.MatchesPatient(testNHS) {
				t.Error("MatchesPatient(the patient searched for) = false")
			}
			if s.MatchesPatient(testNHSOther) {
				t.Error("MatchesPatient(another patient) = true")
			}
		})
	}
}

func TestSearchMatchesPatient(t *testing.T) {
	tests := []struct {
		name  string
		query string
		nhs   string
		want  bool
	}{
		{"a group-identifier search alone matches any patient", "group-identifier=" + testRxID, testNHSOther, true},
		{"a group-identifier search with a patient matches that patient", "group-identifier=" + testRxID + "&patient=" + testNHS, testNHS, true},
		{"a group-identifier search with a patient does not match another", "group-identifier=" + testRxID + "&patient=" + testNHS, testNHSOther, false},
		{"a group-identifier search with a patient does not match a prescription with no patient", "group-identifier=" + testRxID + "&patient=" + testNHS, "", false},
		{"a patient search matches its patient", "patient=" + testNHS, testNHS, true},
		{"a patient search does not match another patient", "patient=" + testNHS, testNHSOther, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, tt.query, true)
			if got := s.MatchesPatient(tt.nhs); got != tt.want {
				t.Errorf("MatchesPatient(%q) = %t, want %t", tt.nhs, got, tt.want)
			}
		})
	}
}

func TestParseSearchAuthoredOn(t *testing.T) {
	pat := "patient:identifier=" + testNHS + "&"
	tests := []struct {
		name                     string
		query                    string
		want                     DateRange
		wantDefault              bool
		wantDefaultedBound       bool
		wantEarliest, wantLatest time.Time
	}{
		{
			"no authoredon applies Spine's 28-day default", "",
			DateRange{day(2024, 5, 18), day(2024, 6, 16)}, true, false, day(2024, 5, 18), day(2024, 6, 15),
		},
		{
			"a bare day is eq: that whole day", "authoredon=2024-05-01",
			DateRange{day(2024, 5, 1), day(2024, 5, 2)}, false, false, day(2024, 5, 1), day(2024, 5, 1),
		},
		{
			"eq on a day is that whole day", "authoredon=eq2024-05-01",
			DateRange{day(2024, 5, 1), day(2024, 5, 2)}, false, false, day(2024, 5, 1), day(2024, 5, 1),
		},
		{
			"eq on a month is the whole month", "authoredon=eq2024-02",
			DateRange{day(2024, 2, 1), day(2024, 3, 1)}, false, false, day(2024, 2, 1), day(2024, 2, 29),
		},
		{
			"a lower bound on the first day of 1900 is accepted", "authoredon=ge1900-01-01&authoredon=le1900-01-31",
			DateRange{day(1900, 1, 1), day(1900, 2, 1)}, false, false, day(1900, 1, 1), day(1900, 1, 31),
		},
		{
			"a defaulted lower bound stops at 1900", "authoredon=le1900-01-10",
			DateRange{day(1900, 1, 1), day(1900, 1, 11)}, false, true, day(1900, 1, 1), day(1900, 1, 10),
		},
		{
			"an upper bound on the last day of 9999 is accepted", "authoredon=gt9999-12-30&authoredon=le9999-12-31",
			DateRange{day(9999, 12, 31), maxSearchDate}, false, false, day(9999, 12, 31), day(9999, 12, 31),
		},
		{
			"eq on a year is the whole year", "authoredon=2023",
			DateRange{day(2023, 1, 1), day(2024, 1, 1)}, false, false, day(2023, 1, 1), day(2023, 12, 31),
		},
		{
			"eq on a minute is that minute", "authoredon=2024-05-01T10:15Z",
			DateRange{time.Date(2024, 5, 1, 10, 15, 0, 0, time.UTC), time.Date(2024, 5, 1, 10, 16, 0, 0, time.UTC)}, false, false, day(2024, 5, 1), day(2024, 5, 1),
		},
		{
			"eq on a second is that second", "authoredon=2024-05-01T10:15:30Z",
			DateRange{time.Date(2024, 5, 1, 10, 15, 30, 0, time.UTC), time.Date(2024, 5, 1, 10, 15, 31, 0, time.UTC)}, false, false, day(2024, 5, 1), day(2024, 5, 1),
		},
		{
			"a lower bound a fraction after midnight asks Spine from that day", "authoredon=ge2024-05-02T00:00:00.5Z&authoredon=le2024-05-03",
			DateRange{time.Date(2024, 5, 2, 0, 0, 0, 500e6, time.UTC), day(2024, 5, 4)}, false, false, day(2024, 5, 2), day(2024, 5, 3),
		},
		{
			"a lower bound at midnight does not ask Spine for the day before", "authoredon=ge2024-05-02T00:00:00Z&authoredon=le2024-05-03",
			DateRange{day(2024, 5, 2), day(2024, 5, 4)}, false, false, day(2024, 5, 2), day(2024, 5, 3),
		},
		{
			"an upper bound a fraction after midnight asks Spine up to that day", "authoredon=ge2024-05-01&authoredon=lt2024-05-02T00:00:00.5Z",
			DateRange{day(2024, 5, 1), time.Date(2024, 5, 2, 0, 0, 0, 500e6, time.UTC)}, false, false, day(2024, 5, 1), day(2024, 5, 2),
		},
		{
			"an upper bound lt midnight does not ask Spine for that day", "authoredon=ge2024-05-01&authoredon=lt2024-05-02T00:00:00Z",
			DateRange{day(2024, 5, 1), day(2024, 5, 2)}, false, false, day(2024, 5, 1), day(2024, 5, 1),
		},
		{
			"ge and le on days include both whole days", "authoredon=ge2024-05-01&authoredon=le2024-05-10",
			DateRange{day(2024, 5, 1), day(2024, 5, 11)}, false, false, day(2024, 5, 1), day(2024, 5, 10),
		},
		{
			"gt on a day starts after the end of that day", "authoredon=gt2024-05-01&authoredon=lt2024-05-10",
			DateRange{day(2024, 5, 2), day(2024, 5, 10)}, false, false, day(2024, 5, 2), day(2024, 5, 9),
		},
		{
			"the order of the bounds does not matter", "authoredon=le2024-05-10&authoredon=ge2024-05-01",
			DateRange{day(2024, 5, 1), day(2024, 5, 11)}, false, false, day(2024, 5, 1), day(2024, 5, 10),
		},
		{
			"prefixes are read case-insensitively", "authoredon=GE2024-05-01&authoredon=Le2024-05-10",
			DateRange{day(2024, 5, 1), day(2024, 5, 11)}, false, false, day(2024, 5, 1), day(2024, 5, 10),
		},
		{
			"a time with an offset is converted to UTC and covers its UTC days", "authoredon=ge2024-05-01T00:30:00%2B01:00&authoredon=lt2024-05-02T01:00:00-02:00",
			DateRange{time.Date(2024, 4, 30, 23, 30, 0, 0, time.UTC), time.Date(2024, 5, 2, 3, 0, 0, 0, time.UTC)}, false, false, day(2024, 4, 30), day(2024, 5, 2),
		},
		{
			"an offset whose '+' arrived as a space is read as '+'", "authoredon=ge2024-05-01T00:30:00+01:00&authoredon=le2024-05-03",
			DateRange{time.Date(2024, 4, 30, 23, 30, 0, 0, time.UTC), day(2024, 5, 4)}, false, false, day(2024, 4, 30), day(2024, 5, 3),
		},
		{
			"a time without a zone is read as UTC", "authoredon=ge2024-05-01T10:00",
			DateRange{time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), day(2024, 6, 16)}, false, true, day(2024, 5, 1), day(2024, 6, 15),
		},
		{
			"le on an instant ends at the end of its precision", "authoredon=ge2024-05-01&authoredon=le2024-05-03T10:00:00Z",
			DateRange{day(2024, 5, 1), time.Date(2024, 5, 3, 10, 0, 1, 0, time.UTC)}, false, false, day(2024, 5, 1), day(2024, 5, 3),
		},
		{
			"only a lower bound ends the window today", "authoredon=ge2024-01-01",
			DateRange{day(2024, 1, 1), day(2024, 6, 16)}, false, true, day(2024, 1, 1), day(2024, 6, 15),
		},
		{
			"only a lower bound after today ends the window on that day", "authoredon=gt2024-07-01",
			DateRange{day(2024, 7, 2), day(2024, 7, 3)}, false, true, day(2024, 7, 2), day(2024, 7, 2),
		},
		{
			"only an upper bound starts the window 28 days before it", "authoredon=le2024-03-31",
			DateRange{day(2024, 3, 3), day(2024, 4, 1)}, false, true, day(2024, 3, 3), day(2024, 3, 31),
		},
		{
			"only an lt bound on a day starts the window 28 days before the day before it", "authoredon=lt2024-04-01",
			DateRange{day(2024, 3, 3), day(2024, 4, 1)}, false, true, day(2024, 3, 3), day(2024, 3, 31),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, pat+tt.query, true)
			if diff := cmp.Diff(tt.want, s.AuthoredOn); diff != "" {
				t.Errorf("AuthoredOn (-want +got):\n%s", diff)
			}
			if got, want := s.DefaultWindow, tt.wantDefault; got != want {
				t.Errorf("DefaultWindow = %v, want %v", got, want)
			}
			if got, want := s.DefaultedBound, tt.wantDefaultedBound; got != want {
				t.Errorf("DefaultedBound = %v, want %v", got, want)
			}
			q := s.TrackerQuery()
			if got, want := q.EarliestDate, tt.wantEarliest; !got.Equal(want) {
				t.Errorf("TrackerQuery().EarliestDate = %v, want %v", got, want)
			}
			if got, want := q.LatestDate, tt.wantLatest; !got.Equal(want) {
				t.Errorf("TrackerQuery().LatestDate = %v, want %v", got, want)
			}
		})
	}
}

func TestParseSearchAuthoredOnErrors(t *testing.T) {
	pat := "patient:identifier=" + testNHS + "&"
	tests := []struct {
		name, query string
	}{
		{"the ne prefix is a 400", "authoredon=ne2024-05-01"},
		{"the sa prefix is a 400", "authoredon=sa2024-05-01"},
		{"the eb prefix is a 400", "authoredon=eb2024-05-01"},
		{"the ap prefix is a 400", "authoredon=ap2024-05-01"},
		{"an unknown prefix is a 400", "authoredon=xx2024-05-01"},
		{"a date without hyphens is a 400", "authoredon=20240501"},
		{"a date that does not exist is a 400", "authoredon=2023-02-29"},
		{"month 13 is a 400", "authoredon=2024-13"},
		{"an hour without minutes is a 400", "authoredon=2024-05-01T10Z"},
		{"hour 24 is a 400", "authoredon=2024-05-01T24:00Z"},
		{"an offset beyond 14 hours is a 400", "authoredon=2024-05-01T10:00-15:00"},
		{"a comma list of dates is a 400", "authoredon=2024-05-01,2024-05-03"},
		{"three values are a 400", "authoredon=ge2024-05-01&authoredon=le2024-05-10&authoredon=le2024-05-09"},
		{"two lower bounds are a 400", "authoredon=ge2024-05-01&authoredon=gt2024-05-03"},
		{"two upper bounds are a 400", "authoredon=le2024-05-01&authoredon=lt2024-05-03"},
		{"eq with another value is a 400", "authoredon=2024-05-01&authoredon=le2024-05-03"},
		{"a lower bound after the upper bound is a 400", "authoredon=ge2024-05-10&authoredon=le2024-05-01"},
		{"gt and lt on the same day leave nothing and are a 400", "authoredon=gt2024-05-01&authoredon=lt2024-05-02"},
		{"eq on a fraction of a second contains no authoredOn second and is a 400", "authoredon=eq2024-05-01T10:15:30.250Z"},
		{"a bare value to the millisecond is eq and a 400, even on a whole second", "authoredon=2024-05-01T10:15:30.000Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSearch(parseQuery(t, pat+tt.query), searchNow, false)
			if diff := cmp.Diff([]string{"authoredon"}, errorParams(err)); diff != "" {
				t.Errorf("error params (-want +got):\n%s\nerror: %v", diff, err)
			}
		})
	}
}

func TestParseSearchAuthoredOnOutsideSupportedYears(t *testing.T) {
	pat := "patient:identifier=" + testNHS + "&"
	tests := []struct {
		name, query, wantMsg string
	}{
		{"a lower bound in year 1, the zero time, is a 400 rather than no bound", "authoredon=ge0001-01-01", "before 1900"},
		{"an upper bound in year 1 is a 400", "authoredon=le0001-01-01", "before 1900"},
		{"year 0 is a 400", "authoredon=0000", "before 1900"},
		{"a day in 1899 is a 400", "authoredon=1899-12-31", "before 1900"},
		{"a lower bound in 1899 with an upper bound in range is a 400", "authoredon=ge1899-06-01&authoredon=le2024-05-01", "before 1900"},
		{"midnight 1900 in a zone east of UTC is a 400", "authoredon=ge1900-01-01T00:00%2B01:00", "before 1900"},
		{"lt the first day of 1900 leaves nothing and is a 400", "authoredon=lt1900-01-01", "before 1900"},
		{"the last hour of 9999 in a zone west of UTC is a 400", "authoredon=9999-12-31T23:00-02:00", "after 9999"},
		{"gt the last day of 9999 is a 400", "authoredon=gt9999-12-31", "after 9999"},
		{"a five-digit year is a 400", "authoredon=10000-01-01", "not a date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSearch(parseQuery(t, pat+tt.query), searchNow, false)
			if err == nil {
				t.Fatalf("ParseSearch(%q) = %+v, want an error", tt.query, s)
			}
			pes := ParamErrors(err)
			if len(pes) != 1 || pes[0].Param != "authoredon" || !strings.Contains(pes[0].Msg, tt.wantMsg) {
				t.Errorf("ParseSearch(%q) error = %v, want one on authoredon saying %q", tt.query, err, tt.wantMsg)
			}
		})
	}
}

func TestSearchMatchesAuthored(t *testing.T) {
	pat := "patient:identifier=" + testNHS + "&"
	at := func(d time.Time, h, m, s, ns int) time.Time {
		return d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(ns))
	}
	// sec is a Spine authoredOn, to the second, s seconds after 2026-12-04T12:15:00Z.
	sec := func(s int) time.Time { return at(day(2026, 12, 4), 12, 15, s, 0) }
	tests := []struct {
		name  string
		query string
		t     time.Time
		want  bool
	}{
		{"eq on a day includes its first instant", "authoredon=2024-05-01", day(2024, 5, 1), true},
		{"eq on a day includes its last instant", "authoredon=2024-05-01", at(day(2024, 5, 1), 23, 59, 59, 999999999), true},
		{"eq on a day excludes the next midnight", "authoredon=2024-05-01", day(2024, 5, 2), false},
		{"eq on a day excludes the instant before it", "authoredon=2024-05-01", day(2024, 5, 1).Add(-1), false},
		{"gt on a day excludes the end of that day", "authoredon=gt2024-05-01", at(day(2024, 5, 1), 23, 59, 59, 0), false},
		{"gt on a day includes the next midnight", "authoredon=gt2024-05-01", day(2024, 5, 2), true},
		{"ge on a day includes its midnight", "authoredon=ge2024-05-01", day(2024, 5, 1), true},
		{"le on a day includes the end of that day", "authoredon=le2024-05-01", at(day(2024, 5, 1), 23, 59, 59, 0), true},
		{"le on a day excludes the next midnight", "authoredon=le2024-05-01", day(2024, 5, 2), false},
		{"lt on a day excludes that day", "authoredon=lt2024-05-01", at(day(2024, 5, 1), 0, 0, 1, 0), false},
		{"lt on a day includes the day before", "authoredon=lt2024-05-01", at(day(2024, 4, 30), 23, 0, 0, 0), true},
		{"gt on a minute excludes the rest of that minute", "authoredon=gt2024-05-01T10:00Z", at(day(2024, 5, 1), 10, 0, 59, 0), false},
		{"gt on a minute includes the next minute", "authoredon=gt2024-05-01T10:00Z", at(day(2024, 5, 1), 10, 1, 0, 0), true},
		{"le on a minute includes the rest of that minute", "authoredon=le2024-05-01T10:00Z", at(day(2024, 5, 1), 10, 0, 59, 0), true},
		{"eq on a month includes its last day", "authoredon=2024-02", at(day(2024, 2, 29), 12, 0, 0, 0), true},
		{"eq on a month excludes the next month", "authoredon=2024-02", day(2024, 3, 1), false},
		// An authoredOn stands for its whole second, which a bound finer than a second may cut.
		{"ge a fraction of a second includes that second", "authoredon=ge2026-12-04T12:15:00.5Z", sec(0), true},
		{"ge a fraction of a second excludes the second before", "authoredon=ge2026-12-04T12:15:00.5Z", sec(-1), false},
		{"ge the last nanosecond of a second includes that second", "authoredon=ge2026-12-04T12:15:00.999999999Z", sec(0), true},
		{"ge a whole second includes that second", "authoredon=ge2026-12-04T12:15:00Z", sec(0), true},
		{"ge a whole second excludes the second before", "authoredon=ge2026-12-04T12:15:00Z", sec(-1), false},
		{"ge a whole second written with milliseconds excludes the second before", "authoredon=ge2026-12-04T12:15:00.000Z", sec(-1), false},
		{"gt a fraction of a second includes the rest of that second", "authoredon=gt2026-12-04T12:15:00.5Z", sec(0), true},
		{"gt a fraction of a second excludes the second before", "authoredon=gt2026-12-04T12:15:00.5Z", sec(-1), false},
		{"gt the last tenth of a second excludes that second", "authoredon=gt2026-12-04T12:15:00.9Z", sec(0), false},
		{"gt the last tenth of a second includes the next second", "authoredon=gt2026-12-04T12:15:00.9Z", sec(1), true},
		{"gt a whole second excludes that second", "authoredon=gt2026-12-04T12:15:00Z", sec(0), false},
		{"gt a whole second includes the next second", "authoredon=gt2026-12-04T12:15:00Z", sec(1), true},
		{"le a fraction of a second includes that second", "authoredon=le2026-12-04T12:15:00.5Z", sec(0), true},
		{"le a fraction of a second excludes the next second", "authoredon=le2026-12-04T12:15:00.5Z", sec(1), false},
		{"le a whole second includes that second", "authoredon=le2026-12-04T12:15:00Z", sec(0), true},
		{"le a whole second excludes the next second", "authoredon=le2026-12-04T12:15:00Z", sec(1), false},
		{"lt a fraction of a second includes that second", "authoredon=lt2026-12-04T12:15:00.5Z", sec(0), true},
		{"lt a fraction of a second excludes the next second", "authoredon=lt2026-12-04T12:15:00.5Z", sec(1), false},
		{"lt a whole second excludes that second", "authoredon=lt2026-12-04T12:15:00Z", sec(0), false},
		{"lt a whole second includes the second before", "authoredon=lt2026-12-04T12:15:00Z", sec(-1), true},
		{"lt a whole second written with milliseconds excludes that second", "authoredon=lt2026-12-04T12:15:00.000Z", sec(0), false},
		{"eq a whole second includes that second", "authoredon=eq2026-12-04T12:15:00Z", sec(0), true},
		{"eq a whole second excludes the next second", "authoredon=eq2026-12-04T12:15:00Z", sec(1), false},
		{"eq a whole second excludes the second before", "authoredon=eq2026-12-04T12:15:00Z", sec(-1), false},
		{"ge and le fractions of one second include that second", "authoredon=ge2026-12-04T12:15:00.5Z&authoredon=le2026-12-04T12:15:00.7Z", sec(0), true},
		{"ge and le fractions of one second exclude the next second", "authoredon=ge2026-12-04T12:15:00.5Z&authoredon=le2026-12-04T12:15:00.7Z", sec(1), false},
		{"ge and le fractions of one second exclude the second before", "authoredon=ge2026-12-04T12:15:00.5Z&authoredon=le2026-12-04T12:15:00.7Z", sec(-1), false},
		{"gt and lt fractions of one second include that second", "authoredon=gt2026-12-04T12:15:00.2Z&authoredon=lt2026-12-04T12:15:00.4Z", sec(0), true},
		{"ge a fraction and lt the next whole second include that second", "authoredon=ge2026-12-04T12:15:00.5Z&authoredon=lt2026-12-04T12:15:01Z", sec(0), true},
		{"ge a fraction and lt the next whole second exclude the next second", "authoredon=ge2026-12-04T12:15:00.5Z&authoredon=lt2026-12-04T12:15:01Z", sec(1), false},
		{"an authoredOn with a fraction is read as its second", "authoredon=ge2026-12-04T12:15:00Z", sec(0).Add(-time.Second / 2), false},
		{"the default window includes its first day", "", day(2024, 5, 18), true},
		{"the default window excludes the day before", "", at(day(2024, 5, 17), 23, 59, 59, 0), false},
		{"the default window includes the rest of today", "", at(day(2024, 6, 15), 23, 0, 0, 0), true},
		{"a missing authoredOn matches the default window", "", time.Time{}, true},
		{"a missing authoredOn matches an explicit window", "authoredon=2024-05-01", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, pat+tt.query, false)
			if got := s.MatchesAuthored(tt.t); got != tt.want {
				t.Errorf("MatchesAuthored(%v) = %v, want %v (window %+v)", tt.t, got, tt.want, s.AuthoredOn)
			}
		})
	}
}

func TestSearchMatchesAuthoredOnlyOnTheDaysSpineIsAskedFor(t *testing.T) {
	pat := "patient:identifier=" + testNHS + "&"
	// Bounds at and just after midnight, where a second matched across a day boundary would be one
	// that Spine, asked for whole days, never returned.
	queries := []string{
		"authoredon=ge2024-05-02T00:00:00Z&authoredon=le2024-05-03",
		"authoredon=ge2024-05-02T00:00:00.5Z&authoredon=le2024-05-03",
		"authoredon=gt2024-05-01T23:59:59Z&authoredon=le2024-05-03",
		"authoredon=gt2024-05-01T23:59:59.5Z&authoredon=le2024-05-03",
		"authoredon=gt2024-05-01T23:59:59.9Z&authoredon=le2024-05-03",
		"authoredon=ge2024-04-30&authoredon=lt2024-05-02T00:00:00Z",
		"authoredon=ge2024-04-30&authoredon=lt2024-05-02T00:00:00.5Z",
		"authoredon=ge2024-04-30&authoredon=le2024-05-01T23:59:59Z",
		"authoredon=ge2024-04-30&authoredon=le2024-05-01T23:59:59.5Z",
		"authoredon=eq2024-05-02T00:00:00Z",
		"authoredon=2024-05-01T23:59:59Z",
		"authoredon=ge2024-05-02T00:00:00.5Z",
		"authoredon=lt2024-05-02T00:00:00.5Z",
	}
	for _, raw := range queries {
		t.Run("every second "+raw+" matches is on a day Spine is asked for", func(t *testing.T) {
			s := mustParseSearch(t, pat+raw, true)
			q := s.TrackerQuery()
			matched := 0
			for at := day(2024, 5, 2).Add(-3 * time.Second); at.Before(day(2024, 5, 2).Add(3 * time.Second)); at = at.Add(time.Second) {
				if !s.MatchesAuthored(at) {
					continue
				}
				matched++
				if d := searchDay(at); d.Before(q.EarliestDate) || d.After(q.LatestDate) {
					t.Errorf("MatchesAuthored(%v) = true, but Spine is asked for %v .. %v", at, q.EarliestDate, q.LatestDate)
				}
			}
			if matched == 0 {
				t.Errorf("no second around midnight matched (window %+v): the test checks nothing", s.AuthoredOn)
			}
		})
	}
}

func TestParseSearchIssuePrefixes(t *testing.T) {
	for _, prefix := range []string{"ne", "gt", "lt", "ge", "le", "sa", "eb", "ap", "GT"} {
		t.Run("issue="+prefix+"2 is a 400 saying only eq is supported", func(t *testing.T) {
			_, err := ParseSearch(parseQuery(t, "group-identifier="+testRxID+"&issue="+prefix+"2"), searchNow, false)
			pes := ParamErrors(err)
			if len(pes) != 1 || pes[0].Param != "issue" || !strings.Contains(pes[0].Msg, "only eq") ||
				!strings.Contains(pes[0].Msg, strings.ToLower(prefix)) {
				t.Errorf("ParseSearch error = %v, want one on issue naming %s and saying only eq is supported", err, prefix)
			}
		})
	}
}

func TestParseSearchSummaryTrueInAGroupIdentifierSearch(t *testing.T) {
	tests := []struct {
		name             string
		query            string
		wantSummaryCount bool
		wantIgnored      []string
		wantSelfSummary  string // the self link's _summary
	}{
		{
			"_summary=true is ignored, as the search answers in the full form",
			"group-identifier=" + testRxID + "&_summary=true", false, []string{"_summary=true"}, "",
		},
		{
			"_summary=true is ignored when the search names a patient too",
			"group-identifier=" + testRxID + "&patient=" + testNHS + "&_summary=true", false, []string{"_summary=true"}, "",
		},
		{
			"_summary=true ignored stays in parameter-name order",
			"group-identifier=" + testRxID + "&_summary=true&colour=blue&_sort=date", false, []string{"_sort", "_summary=true", "colour"}, "",
		},
		{
			"_summary=count asks for the total only and is applied",
			"group-identifier=" + testRxID + "&_summary=count", true, nil, "count",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, tt.query, false)
			if s.Summary {
				t.Error("Summary = true, want false: a group-identifier search answers in the full form")
			}
			if got, want := s.SummaryCount, tt.wantSummaryCount; got != want {
				t.Errorf("SummaryCount = %t, want %t", got, want)
			}
			if diff := cmp.Diff(tt.wantIgnored, s.Ignored); diff != "" {
				t.Errorf("Ignored (-want +got):\n%s", diff)
			}
			self := s.SelfQuery()
			if got, want := self.Get("_summary"), tt.wantSelfSummary; got != want {
				t.Errorf("SelfQuery() _summary = %q, want %q (self %s)", got, want, self.Encode())
			}
			if _, err := ParseSearch(self, searchNow, true); err != nil {
				t.Errorf("the self link does not parse strictly: %v", err)
			}
		})
	}
}

func TestParseSearchFilters(t *testing.T) {
	pat := "patient:identifier=" + testNHS + "&"
	tests := []struct {
		name               string
		query              string
		wantBusinessStatus tracker.PrescriptionStatus
		wantStatuses       []string
		wantVersion        string
	}{
		{"business-status with its system is sent to Spine", "business-status=https://fhir.nhs.uk/CodeSystem/EPS-task-business-status|0006", tracker.StatusDispensed, nil, ""},
		{"business-status without a system is sent to Spine", "business-status=9005", tracker.StatusPendingCancellation, nil, ""},
		{"a status comma list is an OR, sorted", "status=completed,active", "", []string{"active", "completed"}, ""},
		{"a status with its system is accepted", "status=http://hl7.org/fhir/CodeSystem/medicationrequest-status|stopped", "", []string{"stopped"}, ""},
		{"repeated statuses keep the codes they share", "status=active,completed&status=completed,stopped", "", []string{"completed"}, ""},
		{"every FHIR status code is accepted", "status=active,on-hold,cancelled,completed,entered-in-error,stopped,draft,unknown", "",
			[]string{"active", "cancelled", "completed", "draft", "entered-in-error", "on-hold", "stopped", "unknown"}, ""},
		{"prescription-version 1 is sent as is", "prescription-version=1", "", nil, "1"},
		{"prescription-version 2 is sent as is", "prescription-version=2", "", nil, "2"},
		{"prescription-version R2 is sent as is", "prescription-version=R2", "", nil, "R2"},
		{"prescription-version r1 is upper-cased", "prescription-version=r1", "", nil, "R1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, pat+tt.query, true)
			if got, want := s.BusinessStatus, tt.wantBusinessStatus; got != want {
				t.Errorf("BusinessStatus = %q, want %q", got, want)
			}
			if diff := cmp.Diff(tt.wantStatuses, s.Statuses); diff != "" {
				t.Errorf("Statuses (-want +got):\n%s", diff)
			}
			if got, want := s.Version, tt.wantVersion; got != want {
				t.Errorf("Version = %q, want %q", got, want)
			}
			q := s.TrackerQuery()
			if q.Status != tt.wantBusinessStatus || q.Version != tt.wantVersion {
				t.Errorf("TrackerQuery() = %+v, want status %q and version %q", q, tt.wantBusinessStatus, tt.wantVersion)
			}
		})
	}
}

func TestSearchMatchesStatus(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		status string
		want   bool
	}{
		{"no status filter matches any status", "", "stopped", true},
		{"a status in the list matches", "&status=active,completed", "completed", true},
		{"a status outside the list does not match", "&status=active,completed", "stopped", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, "patient="+testNHS+tt.query, false)
			if got := s.MatchesStatus(tt.status); got != tt.want {
				t.Errorf("MatchesStatus(%q) = %v, want %v", tt.status, got, tt.want)
			}
		})
	}
}

func TestParseSearchResultParameters(t *testing.T) {
	pat := "patient:identifier=" + testNHS
	type result struct {
		Count                                                int
		SummaryCount, Summary                                bool
		IncludePatient, IncludeRequester, RevIncludeDispense bool
		Ignored                                              []string
	}
	get := func(s *Search) result {
		return result{s.Count, s.SummaryCount, s.Summary, s.IncludePatient, s.IncludeRequester, s.RevIncludeDispense, s.Ignored}
	}
	tests := []struct {
		name  string
		query string
		want  result
	}{
		{"no _count gives the default page size", "", result{Count: DefaultCount}},
		{"_count sets the page size", "&_count=20", result{Count: 20}},
		{"_count=0 asks for the total only", "&_count=0", result{Count: 0}},
		{"a _count above the maximum is clamped", "&_count=1000", result{Count: MaxCount}},
		{"_summary=count asks for the count", "&_summary=count", result{Count: DefaultCount, SummaryCount: true}},
		{"_summary=false is the normal search", "&_summary=false", result{Count: DefaultCount}},
		{"_summary=true asks for the summary form", "&_summary=true", result{Count: DefaultCount, Summary: true}},
		{"_summary=text is ignored when lenient", "&_summary=text", result{Count: DefaultCount, Ignored: []string{"_summary=text"}}},
		{"_include=MedicationRequest:patient includes the patient", "&_include=MedicationRequest:patient", result{Count: DefaultCount, IncludePatient: true}},
		{"the typed _include=MedicationRequest:subject:Patient includes the patient", "&_include=MedicationRequest:subject:Patient", result{Count: DefaultCount, IncludePatient: true}},
		{"_include=MedicationRequest:requester includes the prescriber", "&_include=MedicationRequest:requester", result{Count: DefaultCount, IncludeRequester: true}},
		{"_revinclude=MedicationDispense:prescription includes dispenses", "&_revinclude=MedicationDispense:prescription", result{Count: DefaultCount, RevIncludeDispense: true}},
		{"_include:iterate is accepted as _include", "&_include:iterate=MedicationRequest:requester", result{Count: DefaultCount, IncludeRequester: true}},
		{
			"both includes and the revinclude together", "&_include=MedicationRequest:patient&_include=MedicationRequest:requester&_revinclude=MedicationDispense:prescription",
			result{Count: DefaultCount, IncludePatient: true, IncludeRequester: true, RevIncludeDispense: true},
		},
		{"an unsupported _include is ignored when lenient", "&_include=MedicationRequest:medication", result{Count: DefaultCount, Ignored: []string{"_include=MedicationRequest:medication"}}},
		{"unknown parameters are ignored when lenient", "&colour=blue&_sort=-date", result{Count: DefaultCount, Ignored: []string{"_sort", "colour"}}},
		{"a misspelt authoredOn is an unknown parameter", "&authoredOn=2024-05-01", result{Count: DefaultCount, Ignored: []string{"authoredOn"}}},
		{"_format, _pretty and _page are accepted and not ignored", "&_format=json&_pretty=true&_page=abc123", result{Count: DefaultCount}},
		{"empty parameters are ignored without a trace", "&status=&colour=", result{Count: DefaultCount}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, pat+tt.query, false)
			if diff := cmp.Diff(tt.want, get(s)); diff != "" {
				t.Errorf("result parameters (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSearchStrictAcceptsWhatItServes(t *testing.T) {
	q := "patient:identifier=" + testNHS + "&_format=json&_pretty=true&_page=abc&_count=10&_summary=count" +
		"&_include=MedicationRequest:patient&_revinclude=MedicationDispense:prescription&status=active" +
		"&business-status=0001&prescription-version=2&authoredon=ge2024-05-01"
	s := mustParseSearch(t, q, true)
	if len(s.Ignored) != 0 {
		t.Errorf("Ignored = %q, want nothing", s.Ignored)
	}
}

func TestSearchSelfQuery(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  string // url.Values.Encode order: keys sorted
	}{
		{
			"the default window is shown as day bounds with the default _count",
			"patient=" + testNHS,
			"_count=50&authoredon=ge2024-05-18&authoredon=le2024-06-15&patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9691003120",
		},
		{
			"a month is shown as its day bounds",
			"subject.identifier=" + testNHS + "&authoredon=2024-02",
			"_count=50&authoredon=ge2024-02-01&authoredon=le2024-02-29&patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9691003120",
		},
		{
			"gt and lt on days are shown as ge and le",
			"patient=" + testNHS + "&authoredon=lt2024-05-10&authoredon=gt2024-05-01",
			"_count=50&authoredon=ge2024-05-02&authoredon=le2024-05-09&patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9691003120",
		},
		{
			"instant bounds are shown as ge and lt in UTC",
			"patient=" + testNHS + "&authoredon=gt2024-05-01T10:00%2B01:00&authoredon=le2024-05-03T12:00:00.5Z",
			"_count=50&authoredon=ge2024-05-01T09%3A01%3A00Z&authoredon=lt2024-05-03T12%3A00%3A00.6Z&patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9691003120",
		},
		{
			"a defaulted lower bound is shown",
			"patient=" + testNHS + "&authoredon=le2024-03-31",
			"_count=50&authoredon=ge2024-03-03&authoredon=le2024-03-31&patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9691003120",
		},
		{
			"every filter and result parameter is shown canonically; ignored and caller-owned ones are not",
			"patient:identifier=" + testNHS + "&authoredon=ge2024-05-01&authoredon=le2024-05-31&business-status=0006" +
				"&status=stopped,active&prescription-version=r2&_count=500&_summary=count&_include=MedicationRequest:requester" +
				"&_include:iterate=MedicationRequest:patient:Patient&_revinclude=MedicationDispense:prescription" +
				"&_format=json&_pretty=true&_page=tok&colour=blue&_include=Medication:x",
			"_count=100&_include=MedicationRequest%3Apatient&_include=MedicationRequest%3Arequester" +
				"&_revinclude=MedicationDispense%3Aprescription&_summary=count&authoredon=ge2024-05-01&authoredon=le2024-05-31" +
				"&business-status=https%3A%2F%2Ffhir.nhs.uk%2FCodeSystem%2FEPS-task-business-status%7C0006" +
				"&patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9691003120" +
				"&prescription-version=R2&status=active%2Cstopped",
		},
		{
			"a group-identifier search shows the canonical ID, its '+' encoded, and the issue",
			"group-identifier=e7zg38-zbacyu-v38sr+&issue=3&status=active",
			"_count=50&group-identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fprescription-order-number%7CE7ZG38-ZBACYU-V38SR%2B&issue=3&status=active",
		},
		{
			"an issue with the eq prefix is shown without it",
			"group-identifier=" + testRxID + "&issue=eq2",
			"_count=50&group-identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fprescription-order-number%7C3AF2CB-C86002-0000BX&issue=2",
		},
		{
			"a group-identifier search with a patient shows both and no window",
			"group-identifier=" + testRxID + "&subject=Patient/" + testNHS,
			"_count=50&group-identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fprescription-order-number%7C3AF2CB-C86002-0000BX" +
				"&patient%3Aidentifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9691003120",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParseSearch(t, tt.query, false)
			if got := s.SelfQuery().Encode(); got != tt.want {
				t.Errorf("SelfQuery().Encode() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSearchSelfQueryParsesToTheSameSearch(t *testing.T) {
	queries := []string{
		"patient=" + testNHS,
		"patient=" + testNHS + "&authoredon=le2024-03-31&_count=0",
		"patient=" + testNHS + "&authoredon=gt2024-05-01T10:00:00.123%2B01:00&authoredon=lt2024-05-02",
		"patient=" + testNHS + "&authoredon=2024&status=active,draft&business-status=0002&prescription-version=1",
		"patient=" + testNHS + "&authoredon=le1900-01-10",
		"patient=" + testNHS + "&authoredon=gt9999-12-31T22:00Z",
		"group-identifier=" + testRxPlus + "&issue=2&_include=MedicationRequest:patient&_summary=count",
		"group-identifier=" + testRxR1 + "&_revinclude=MedicationDispense:prescription&_include=MedicationRequest:requester",
		"group-identifier=" + testRxID + "&patient=" + testNHS + "&issue=1&status=active",
		"patient=" + testNHS + "&authoredon=ge2024-05-01T12:15:00.5Z&authoredon=le2024-05-01T12:15:00.7Z",
	}
	ignore := cmp.FilterPath(func(p cmp.Path) bool {
		n := p.String()
		return n == "DefaultWindow" || n == "DefaultedBound"
	}, cmp.Ignore())
	for _, raw := range queries {
		t.Run("the self query of "+raw+" parses to the same search, a day later", func(t *testing.T) {
			first := mustParseSearch(t, raw, true)
			again, err := ParseSearch(first.SelfQuery(), searchNow.AddDate(0, 0, 1), true)
			if err != nil {
				t.Fatalf("ParseSearch(SelfQuery()) = %v", err)
			}
			if diff := cmp.Diff(first, again, ignore); diff != "" {
				t.Errorf("reparsed search (-first +again):\n%s", diff)
			}
			if got, want := again.TrackerQuery(), first.TrackerQuery(); got != want {
				t.Errorf("TrackerQuery() = %+v, want %+v", got, want)
			}
		})
	}
}

func TestParamErrorsReadsJoinedAndWrappedErrors(t *testing.T) {
	a := &ParamError{Param: "a", Msg: "bad"}
	b := &ParamError{Param: "b", Msg: "worse"}
	err := errors.Join(a, errors.New("other"), errors.Join(b))
	got := ParamErrors(err)
	if !slices.Equal(got, []*ParamError{a, b}) {
		t.Errorf("ParamErrors = %v, want [a b]", got)
	}
	if got := ParamErrors(nil); got != nil {
		t.Errorf("ParamErrors(nil) = %v, want nil", got)
	}
}

// TestSearchMatchesTheBusinessStatusAgain: a prescription whose issue shows another status than the
// one searched for does not match, whatever Spine's search said; no filter matches any status.
func TestSearchMatchesTheBusinessStatusAgain(t *testing.T) {
	s := &Search{BusinessStatus: tracker.StatusToBeDispensed}
	if !s.Matches(Match{BusinessStatus: tracker.StatusToBeDispensed}) {
		t.Error("a prescription at the status searched for does not match")
	}
	if s.Matches(Match{BusinessStatus: tracker.StatusWithDispenser}) {
		t.Error("a prescription at another status matches")
	}
	if !(&Search{}).Matches(Match{BusinessStatus: tracker.StatusWithDispenser}) {
		t.Error("a search without business-status refuses a status")
	}
}
