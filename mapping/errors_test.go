package mapping

import (
	"strings"
	"testing"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// TestErrorsNameNoIdentifier: Spine data the mapping cannot map is an upstream fault, and its error
// is logged; it names the issue, the line and the offending code, never the prescription, the
// patient or a line item.
func TestErrorsNameNoIdentifier(t *testing.T) {
	base := loadSource(t, "testdata/retrieve_repeat_dispensing_with_details.tracker.json")
	p := base.Prescription
	idents := []string{p.ID, p.PatientNHSNumber}
	for _, is := range p.Issues {
		for _, li := range is.LineItems {
			idents = append(idents, li.ID)
		}
	}
	if base.Detail == nil || len(p.Issues) == 0 || len(p.Issues[0].LineItems) == 0 {
		t.Fatal("the fixture has no 111 details or no line items: the test proves little")
	}
	for name, spoil := range map[string]func(*tracker.Prescription, *Source){
		"unknown line-item status":    func(p *tracker.Prescription, _ *Source) { p.Issues[0].LineItems[0].Status = "0099" },
		"unknown prescription status": func(p *tracker.Prescription, _ *Source) { p.Issues[0].Status = "0099" },
		"unknown treatment type":      func(p *tracker.Prescription, _ *Source) { p.TreatmentType = "0099" },
		"line items out of order": func(p *tracker.Prescription, _ *Source) {
			p.Issues[0].LineItems = append(p.Issues[0].LineItems, p.Issues[0].LineItems[0])
		},
		"invalid line-item ID": func(p *tracker.Prescription, _ *Source) {
			p.Issues[0].LineItems[0].ID = p.Issues[0].LineItems[0].ID + "!"
		},
		"111 details of another prescription": func(_ *tracker.Prescription, s *Source) {
			d := *s.Detail
			d.ID = "A3B4D9-Z42475-11E6B"
			s.Detail = &d
		},
		"111 item code not dm+d": func(_ *tracker.Prescription, s *Source) {
			d := *s.Detail
			d.Items = append([]tracker.MedicationItem(nil), d.Items...)
			d.Items[0].Code = "x" + d.Items[0].LineItemID
			s.Detail = &d
		},
		"patient's NHS number fails its check": func(p *tracker.Prescription, _ *Source) {
			p.PatientNHSNumber = p.PatientNHSNumber[:9] + string('0'+(p.PatientNHSNumber[9]-'0'+1)%10)
		},
	} {
		t.Run(name, func(t *testing.T) {
			src := base
			cp := *p
			cp.Issues = append([]tracker.Issue(nil), p.Issues...)
			cp.Issues[0].LineItems = append([]tracker.LineItem(nil), p.Issues[0].LineItems...)
			src.Prescription = &cp
			spoil(&cp, &src)
			_, err := Expand(src)
			if err == nil {
				t.Fatal("no error")
			}
			for _, id := range idents {
				if id != "" && strings.Contains(strings.ToUpper(err.Error()), strings.ToUpper(id)) {
					t.Errorf("%q names %q", err, id)
				}
			}
		})
	}
}
