package mapping_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// benchNow fixes the clock so that the default 28-day window and the data's dates agree.
var benchNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const benchBase = "http://127.0.0.1:8080/FHIR/R4"

// manyItems is a patient search's result in summary form, shaped like the sandbox's PatientManyItems:
// 15 prescriptions of 4 line items (60 MedicationRequests) inside the default window, so that a
// _count=50 page is 50 MedicationRequests and Collect maps all 60, as the handler does.
func manyItems(b testing.TB) []mapping.Source {
	b.Helper()
	const nhs = "9990000018"
	srcs := make([]mapping.Source, 0, 15)
	for i := range 15 {
		payload := fmt.Sprintf("%06X-C86002-%05X", 0xB00000+i, 0x100+i)
		c, ok := tracker.CheckCharacter(payload)
		if !ok {
			b.Fatalf("check character of %q", payload)
		}
		id := payload + string(c)
		if !tracker.ValidPrescriptionID(id) {
			b.Fatalf("built an invalid prescription ID %q", id)
		}
		issued := benchNow.AddDate(0, 0, -1-i).Truncate(time.Minute)
		lines := make([]tracker.LineItem, 4)
		for k := range lines {
			lines[k] = tracker.LineItem{Ordinal: k + 1, Status: tracker.ItemFullyDispensed}
		}
		p := &tracker.Prescription{
			ID:                 id,
			PatientNHSNumber:   nhs,
			TreatmentType:      tracker.TreatmentAcute,
			IssueDate:          issued,
			LastEventDate:      issued.Add(2 * time.Hour),
			CurrentIssueNumber: 1,
			Issues: []tracker.Issue{{
				Number: 1, Date: issued.Truncate(24 * time.Hour), Status: tracker.StatusDispensed, LineItems: lines,
			}},
		}
		srcs = append(srcs, mapping.Source{Prescription: p})
	}
	return srcs
}

// benchPage is a parsed _count=50 patient search and the tracker's answer to it.
type benchPage struct {
	srcs []mapping.Source
	srch *mapping.Search
	self string
}

func newBenchPage(b *testing.B) *benchPage {
	b.Helper()
	q := url.Values{
		"patient:identifier": {fhir.SystemNHSNumber + "|9990000018"},
		"_count":             {"50"},
	}
	srch, err := mapping.ParseSearch(q, benchNow, false)
	if err != nil {
		b.Fatal(err)
	}
	return &benchPage{
		srcs: manyItems(b),
		srch: srch,
		self: benchBase + "/MedicationRequest?" + srch.SelfQuery().Encode(),
	}
}

// collect does what routes' searcher does with the tracker's answer: map and filter every line item,
// then take the first page.
func (bp *benchPage) collect() (page []mapping.Match, total int, err error) {
	ms, err := mapping.Collect(bp.srcs, bp.srch)
	if err != nil {
		return nil, 0, err
	}
	return ms[:min(bp.srch.Count, len(ms))], len(ms), nil
}

// BenchmarkSearchBundle50 is the adapter's own work for a 50-entry page of a patient search: mapping
// (Collect over 60 line items, SearchBundle of 50) and FHIR JSON marshalling, split so that each
// side's share is visible. Spine, HTTP and Gin are not in it (see routes' BenchmarkSearchThroughRouter).
func BenchmarkSearchBundle50(b *testing.B) {
	bp := newBenchPage(b)
	enc, err := fhir.NewEncoder()
	if err != nil {
		b.Fatal(err)
	}
	note := fhir.Outcome(fhir.Issue{Severity: "information", Code: "informational",
		Diagnostics: "No authoredon was given, so Spine's default window of the last 28 days was applied."})
	build := func() (*mapping.Page, error) {
		page, total, err := bp.collect()
		if err != nil {
			return nil, err
		}
		return &mapping.Page{
			BaseURL: benchBase, Total: total, Matches: page, Self: bp.self,
			Next: bp.self + "&_page=token", Now: benchNow,
		}, nil
	}
	// Check once that the benchmark measures what it says: 50 entries of 60 found.
	p, err := build()
	if err != nil {
		b.Fatal(err)
	}
	if got, want := len(p.Matches), 50; got != want {
		b.Fatalf("page has %d matches, want %d", got, want)
	}
	if got, want := p.Total, 60; got != want {
		b.Fatalf("total = %d, want %d", got, want)
	}
	p.Outcomes = append(p.Outcomes, note)
	bundle, err := mapping.SearchBundle(*p)
	if err != nil {
		b.Fatal(err)
	}
	body, err := enc.Marshal(bundle, false)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("map+marshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			p, err := build()
			if err != nil {
				b.Fatal(err)
			}
			p.Outcomes = append(p.Outcomes, note)
			bundle, err := mapping.SearchBundle(*p)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := enc.Marshal(bundle, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := build()
			if err != nil {
				b.Fatal(err)
			}
			p.Outcomes = append(p.Outcomes, note)
			if _, err := mapping.SearchBundle(*p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := enc.Marshal(bundle, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("marshal-pretty", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := enc.Marshal(bundle, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
