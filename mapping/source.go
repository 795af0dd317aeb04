package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Source is what is known about one prescription, for one issue.
type Source struct {
	// Prescription comes from a search (summary form) or a retrieve (full form).
	Prescription *tracker.Prescription
	// Full is true when Prescription came from a retrieve.
	Full bool
	// IssueNumber is the issue shown; 0 means the current one.
	IssueNumber int
	// IssueDate, optional, is the prescription's issue date as a search gave it
	// (tracker.Prescription.IssueDate), for a retrieve, which does not carry it: it is authoredOn. A
	// patient search's fan-out sets it from the search's entry, so that the full form keeps the
	// summary's authoredOn even without the 111 details.
	IssueDate time.Time
	// SearchedIssues, optional, is how many issues a search listed for the prescription, for a
	// retrieve, which shows one. A search lists every issue of a repeat-dispensing prescription, so
	// the fan-out sets it, and the full form keeps the summary's numberOfRepeatsAllowed even without
	// the 111 details.
	SearchedIssues int
	// Detail, optional, is the 111 item details: medication, quantity, dosage, organisations, dates.
	Detail *tracker.PrescriptionDetail
	// Summary, optional, is the 111 item summary: medication names and the number of issues authorised.
	Summary *tracker.ItemSummary
	// DetailFailed is true when the 111 details were asked for but could not be read.
	DetailFailed bool
}

var (
	odsCode     = regexp.MustCompile(`^[A-Za-z0-9]{1,64}$`)
	snomedID    = regexp.MustCompile(`^[0-9]{6,18}$`)
	fhirDecimal = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
)

// view is a Source checked and resolved to the issue it shows, with the 111 data joined to it.
type view struct {
	p       *tracker.Prescription
	full    bool
	issue   *tracker.Issue
	therapy therapy
	detail  *tracker.PrescriptionDetail
	summary *tracker.ItemSummary
	// detailIssue is true when the 111 details describe the issue shown, so that their issue-level
	// facts (dispensing pharmacy, dispensed date) apply to it.
	detailIssue bool
	// detailFailed is true when the 111 details were asked for but could not be read.
	detailFailed bool
	// issueDate and searchedIssues are what a search said that a retrieve does not (Source).
	issueDate      time.Time
	searchedIssues int

	// Built once per view and shared by its resources (never mutated, no references).
	meta              *d4pb.Meta
	groupIdentifier   *d4pb.Identifier
	patientIdentifier *d4pb.Identifier
	businessStatus    *d4pb.Extension
	// authored is authoredOn, to the second; idPrefix is the resource ids' prefix (MedicationRequestID
	// without the ordinal).
	authored time.Time
	idPrefix string
}

func newView(src Source) (*view, error) {
	p := src.Prescription
	if p == nil {
		return nil, fmt.Errorf("mapping: no prescription")
	}
	if !tracker.ValidPrescriptionID(p.ID) {
		return nil, errors.New("mapping: invalid prescription ID")
	}
	if !tracker.ValidNHSNumber(p.PatientNHSNumber) {
		return nil, errors.New("mapping: the patient's NHS number fails its check")
	}
	th, err := therapyOf(p.TreatmentType)
	if err != nil {
		return nil, err
	}
	v := &view{p: p, full: src.Full, therapy: th, detail: src.Detail, summary: src.Summary,
		detailFailed: src.DetailFailed, issueDate: src.IssueDate, searchedIssues: src.SearchedIssues}
	if src.IssueNumber == 0 {
		v.issue = p.CurrentIssue()
	} else {
		v.issue = p.Issue(src.IssueNumber)
	}
	if v.issue == nil {
		return nil, fmt.Errorf("mapping: the prescription has no issue %d", src.IssueNumber)
	}
	if v.businessStatus, err = businessStatusExtension(v.issue.Status); err != nil {
		return nil, fmt.Errorf("%w (issue %d)", err, v.issue.Number)
	}
	if v.issue.Number < 1 || v.issue.Number > maxNumber {
		return nil, fmt.Errorf("mapping: issue number %d out of range", v.issue.Number)
	}
	last := 0
	for _, li := range v.issue.LineItems {
		if li.Ordinal <= last {
			return nil, fmt.Errorf("mapping: issue %d: line items out of order", v.issue.Number)
		}
		last = li.Ordinal
		// With a valid prescription ID and both numbers in range, the resource ids are valid.
		if li.Ordinal > maxNumber {
			return nil, fmt.Errorf("mapping: issue %d line %d has no id", v.issue.Number, li.Ordinal)
		}
		if _, err := RequestStatusOf(li.Status); err != nil {
			return nil, fmt.Errorf("%w (issue %d line %d)", err, v.issue.Number, li.Ordinal)
		}
		if li.ID != "" && !tracker.ValidLineItemID(li.ID) {
			return nil, fmt.Errorf("mapping: issue %d line %d: invalid line-item ID", v.issue.Number, li.Ordinal)
		}
	}
	if err := v.check111(); err != nil {
		return nil, err
	}
	for _, org := range []tracker.Organisation{v.prescriber(), v.nominatedDispenser(), v.dispenser()} {
		if org.ODS != "" && !odsCode.MatchString(org.ODS) {
			return nil, fmt.Errorf("mapping: invalid ODS code %q", org.ODS)
		}
	}
	v.meta = v.newMeta()
	v.groupIdentifier = identifier(fhir.SystemPrescriptionID, p.ID)
	v.patientIdentifier = identifier(fhir.SystemNHSNumber, p.PatientNHSNumber)
	v.authored = v.authoredOn().UTC().Truncate(time.Second)
	v.idPrefix = strings.ReplaceAll(p.ID, "+", ".") + "-" + strconv.Itoa(v.issue.Number) + "-"
	return v, nil
}

// check111 makes sure the 111 data is about this prescription and holds only codes the tracker could
// map back from Spine's display text: the tracker leaves unknown text unmapped, an upstream fault.
func (v *view) check111() error {
	if d := v.detail; d != nil {
		if !strings.EqualFold(d.ID, v.p.ID) {
			return errors.New("mapping: 111 details of another prescription joined to this one")
		}
		if d.Status != "" && !d.Status.Valid() {
			return fmt.Errorf("mapping: unknown 111 prescription status %q", d.Status)
		}
		if d.TreatmentType != "" && !d.TreatmentType.Valid() {
			return fmt.Errorf("mapping: unknown 111 treatment type %q", d.TreatmentType)
		}
		for _, it := range d.Items {
			if it.Status != "" && !it.Status.Valid() {
				return fmt.Errorf("mapping: unknown 111 item status %q", it.Status)
			}
			if it.Code != "" && !snomedID.MatchString(it.Code) {
				return errors.New("mapping: 111 item details: a code is not a dm+d code")
			}
			if it.Quantity != "" && !fhirDecimal.MatchString(it.Quantity) {
				return errors.New("mapping: 111 item details: a quantity is not a number")
			}
		}
		v.detailIssue = d.CurrentIssue == 0 || d.CurrentIssue == v.issue.Number
	}
	if s := v.summary; s != nil {
		if !strings.EqualFold(s.ID, v.p.ID) {
			return errors.New("mapping: 111 summary of another prescription joined to this one")
		}
		if s.Status != "" && !s.Status.Valid() {
			return fmt.Errorf("mapping: unknown 111 prescription status %q", s.Status)
		}
		if s.TreatmentType != "" && !s.TreatmentType.Valid() {
			return fmt.Errorf("mapping: unknown 111 treatment type %q", s.TreatmentType)
		}
	}
	return nil
}

// soleLine reports whether the issue has a single line item and the 111 data a single entry: then
// they are the same line even when the search gave no UUID to join on.
func (v *view) soleLine(n111 int) bool { return len(v.issue.LineItems) == 1 && n111 == 1 }

// detailItem is the 111 detail of a line item.
func (v *view) detailItem(li *tracker.LineItem) *tracker.MedicationItem {
	if v.detail == nil {
		return nil
	}
	return joinLine(v, li, v.detail.Items, func(m tracker.MedicationItem) string { return m.LineItemID })
}

// summaryMedication is the 111 summary's name for a line item.
func (v *view) summaryMedication(li *tracker.LineItem) *tracker.MedicationName {
	if v.summary == nil {
		return nil
	}
	return joinLine(v, li, v.summary.Medications, func(m tracker.MedicationName) string { return m.LineItemID })
}

// joinLine finds a line item's entry in 111 data: by UUID, case-insensitively, or, when the search gave
// no UUID, the one entry of a one-line issue.
func joinLine[T any](v *view, li *tracker.LineItem, entries []T, lineItemID func(T) string) *T {
	if li.ID == "" {
		if v.soleLine(len(entries)) {
			return &entries[0]
		}
		return nil
	}
	for i := range entries {
		if strings.EqualFold(lineItemID(entries[i]), li.ID) {
			return &entries[i]
		}
	}
	return nil
}

func (v *view) summaryName(li *tracker.LineItem) string {
	if m := v.summaryMedication(li); m != nil {
		return m.Name
	}
	return ""
}

// lineItemID is the line item's UUID: from the retrieve, else from the 111 entry joined to it.
func (v *view) lineItemID(li *tracker.LineItem) string {
	if li.ID != "" {
		return li.ID
	}
	if it := v.detailItem(li); it != nil && tracker.ValidLineItemID(it.LineItemID) {
		return it.LineItemID
	}
	if m := v.summaryMedication(li); m != nil && tracker.ValidLineItemID(m.LineItemID) {
		return m.LineItemID
	}
	return ""
}

// authoredOn is the prescription's issue date, whichever interaction gives it: the search
// (prescriptionIssueDate), the search date a retrieve's Source carries, the 111 details or summary.
// It is zero when none does. The signing date (a retrieve's, R2 only) is never used: it differs from
// the issue date, and one MedicationRequest must show one authoredOn in every form.
func (v *view) authoredOn() time.Time {
	switch {
	case !v.p.IssueDate.IsZero():
		return v.p.IssueDate
	case !v.issueDate.IsZero():
		return v.issueDate
	case v.detail != nil && !v.detail.IssueDate.IsZero():
		return v.detail.IssueDate
	case v.summary != nil:
		return v.summary.IssueDate
	}
	return time.Time{}
}

func (v *view) prescriber() tracker.Organisation {
	return Prescriber(Source{Prescription: v.p, Detail: v.detail})
}

func (v *view) nominatedDispenser() tracker.Organisation {
	var d tracker.Organisation
	if v.detail != nil {
		d = v.detail.NominatedPharmacy
	}
	return MergeOrganisation(v.p.NominatedDispenser, d)
}

// dispenser is the organisation dispensing the issue shown.
func (v *view) dispenser() tracker.Organisation {
	var d tracker.Organisation
	if v.detail != nil && v.detailIssue {
		d = v.detail.DispensingPharmacy
	}
	return MergeOrganisation(v.issue.Dispenser, d)
}

func (v *view) lastDispenseDate() time.Time {
	if !v.issue.LastDispenseDate.IsZero() {
		return v.issue.LastDispenseDate
	}
	if v.detail != nil && v.detailIssue {
		return v.detail.DispensedDate
	}
	return time.Time{}
}

// totalAuthorised is the number of issues authorised, 0 when unknown: the 111 interactions say it; a
// search lists every issue of a repeat-dispensing prescription, and a retrieve carries that count
// from the search that found it.
func (v *view) totalAuthorised() int {
	switch {
	case v.detail != nil && v.detail.TotalAuthorised > 0:
		return v.detail.TotalAuthorised
	case v.summary != nil && v.summary.TotalAuthorised > 0:
		return v.summary.TotalAuthorised
	case v.p.TreatmentType != tracker.TreatmentRepeatDispensing:
		return 0
	case !v.full:
		return len(v.p.Issues)
	}
	return v.searchedIssues
}

// MergeOrganisation fills what one description of an organisation leaves out (a name, or Spine's
// "Not Found" stand-in for one, an address, a phone) from another description of the same one: the
// 111 details' view of what the basic interactions name, or a later answer's view of an organisation
// already known. When basic names none, other is the answer; when they name different ones, basic.
func MergeOrganisation(basic, other tracker.Organisation) tracker.Organisation {
	if basic.ODS == "" {
		return other
	}
	if !strings.EqualFold(basic.ODS, other.ODS) {
		return basic
	}
	if orgName(basic) == "" {
		basic.Name = other.Name
	}
	if basic.Phone == "" {
		basic.Phone = other.Phone
	}
	if basic.Address == "" {
		basic.Address = other.Address
	}
	return basic
}
