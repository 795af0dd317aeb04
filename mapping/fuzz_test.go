package mapping

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
)

// FuzzMapToFHIR maps arbitrary Spine data (a Source as the golden cases hold it) to FHIR and marshals
// it: never a panic, and whatever maps marshals and passes R4 validation.
func FuzzMapToFHIR(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.tracker.json")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	enc, err := fhir.NewEncoder()
	if err != nil {
		f.Fatal(err)
	}
	r4, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var src Source
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&src); err != nil {
			return
		}
		ms, err := Expand(src)
		if err != nil {
			return // refused: an upstream fault, never a guess
		}
		page := Page{BaseURL: "http://fuzz/FHIR/R4", Total: len(ms), Matches: ms, Self: "http://fuzz/FHIR/R4/MedicationRequest",
			IncludePatient: true, IncludeRequester: true, RevIncludeDispense: true}
		b, err := SearchBundle(page)
		if err != nil {
			return
		}
		out, err := enc.Marshal(b, false)
		if err != nil {
			t.Fatalf("a mapped Bundle does not marshal: %v", err)
		}
		if _, err := r4.Unmarshal(out); err != nil {
			t.Fatalf("a mapped Bundle fails R4 validation: %v\n%.1000s", err, out)
		}
	})
}

// FuzzParseSearch parses arbitrary search queries: never a panic, and a search that parses has a
// self link that parses back to the same search.
func FuzzParseSearch(f *testing.F) {
	for _, q := range []string{
		"patient=9691003120",
		"patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9691003120&authoredon=ge2026-01-01&authoredon=lt2026-11-01T10:00:00Z&status=active,completed&_count=7&_summary=true",
		"group-identifier=A3B4D9-Z42475-11E6B%2B&issue=2&_include=MedicationRequest:requester",
		"patient=9691003120&business-status=0006&prescription-version=R2&_revinclude=MedicationDispense:prescription",
	} {
		f.Add(q, false)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string, strict bool) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		s, err := ParseSearch(q, now, strict)
		if err != nil {
			return
		}
		self := s.SelfQuery()
		again, err := ParseSearch(self, now, true)
		if err != nil {
			t.Fatalf("the self link %q of %q does not parse: %v", self.Encode(), raw, err)
		}
		if got := again.SelfQuery().Encode(); got != self.Encode() {
			t.Fatalf("self link %q parses to a search whose self link is %q", self.Encode(), got)
		}
	})
}

// FuzzResourceIDs: an id parses only if it is the id of what it parses to, so ids are reversible and
// no two resources share one.
func FuzzResourceIDs(f *testing.F) {
	f.Add("3AF2CB-C86002-0000BX-2-1")
	f.Add("A3B4D9-Z42475-11E6B.-3-1")
	f.Add("d-9C18AE6F-510C-F7A3-E050-D20AE3A231C8C-1-2")
	f.Fuzz(func(t *testing.T, id string) {
		if p, issue, ord, ok := ParseMedicationRequestID(id); ok {
			if back := MedicationRequestID(p, issue, ord); back != id {
				t.Fatalf("%q parses to (%q, %d, %d), whose id is %q", id, p, issue, ord, back)
			}
			if len(id) > 64 {
				t.Fatalf("%q is longer than a FHIR id may be", id)
			}
		}
		if p, issue, ord, ok := ParseMedicationDispenseID(id); ok {
			if back := MedicationDispenseID(p, issue, ord); back != id {
				t.Fatalf("%q parses to (%q, %d, %d), whose id is %q", id, p, issue, ord, back)
			}
		}
	})
}
