package mapping

import (
	"strconv"
	"strings"
	"time"

	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// MedicationRequests maps the issue src shows to one MedicationRequest per line item, in ordinal order.
// An error means Spine's data cannot be mapped (an upstream fault) or src is inconsistent.
func MedicationRequests(src Source) ([]*mrpb.MedicationRequest, error) {
	v, err := newView(src)
	if err != nil {
		return nil, err
	}
	return v.requests(), nil
}

// requestParts is what one MedicationRequest is made of, allocated for all the lines of a view at
// once: a page of 50 entries then costs a handful of allocations per prescription instead of a dozen
// per line. The parts are never copied after the slab is made.
type requestParts struct {
	mr         mrpb.MedicationRequest
	id         d4pb.Id
	medication mrpb.MedicationRequest_MedicationX
	concept    mrpb.MedicationRequest_MedicationX_CodeableConcept
	subject    d4pb.Reference
	patient    d4pb.Reference_PatientId
	patientID  d4pb.ReferenceId
	authoredOn d4pb.DateTime
	exts       [6]*d4pb.Extension
}

func (v *view) requests() []*mrpb.MedicationRequest {
	n := len(v.issue.LineItems)
	parts := make([]requestParts, n)
	out := make([]*mrpb.MedicationRequest, n)
	for i := range v.issue.LineItems {
		out[i] = v.medicationRequest(&v.issue.LineItems[i], &parts[i])
	}
	return out
}

// medicationRequest maps one line item into parts; newView has checked every code it reads.
func (v *view) medicationRequest(li *tracker.LineItem, parts *requestParts) *mrpb.MedicationRequest {
	p := v.p
	mr := &parts.mr
	parts.id.Value = v.resourceID(li)
	mr.Id = &parts.id
	mr.Meta = v.meta
	mr.Status = lines[li.Status].requestStatus
	mr.Intent = v.therapy.intent
	parts.concept.CodeableConcept = v.medication(li)
	parts.medication.Choice = &parts.concept
	mr.Medication = &parts.medication
	// A Reference is never shared: jsonformat rewrites it while marshalling.
	parts.patientID.Value = p.PatientNHSNumber
	parts.patient.PatientId = &parts.patientID
	parts.subject.Reference = &parts.patient
	parts.subject.Identifier = v.patientIdentifier
	mr.Subject = &parts.subject
	mr.GroupIdentifier = v.groupIdentifier
	mr.CourseOfTherapyType = v.therapy.course
	mr.Extension = v.requestExtensions(li, parts.exts[:0])
	if id := v.lineItemID(li); id != "" {
		mr.Identifier = []*d4pb.Identifier{identifier(fhir.SystemLineItemID, strings.ToLower(id))}
	}
	if !v.authored.IsZero() {
		parts.authoredOn = d4pb.DateTime{ValueUs: v.authored.UnixMicro(), Timezone: zoneZ, Precision: d4pb.DateTime_SECOND}
		mr.AuthoredOn = &parts.authoredOn
	}
	if org := v.prescriber(); org.ODS != "" {
		mr.Requester = organizationReference(org)
	}
	item := v.detailItem(li)
	if item != nil && item.Dosage != "" {
		mr.DosageInstruction = []*d4pb.Dosage{{Text: &d4pb.String{Value: item.Dosage}}}
	}
	mr.DispenseRequest = v.dispenseRequest(item)
	return mr
}

// resourceID is MedicationRequestID for a line of the view, from the prefix the view computed once.
func (v *view) resourceID(li *tracker.LineItem) string {
	return v.idPrefix + strconv.Itoa(li.Ordinal)
}

// requestExtensions are the NHS extensions of a MedicationRequest, in a fixed order: business status,
// dispensing information, dispensing release information, repeat information, pending cancellation,
// prescription type.
func (v *view) requestExtensions(li *tracker.LineItem, exts []*d4pb.Extension) []*d4pb.Extension {
	exts = append(exts, v.businessStatus)

	lc := lines[li.Status]
	if d := v.lastDispenseDate(); !d.IsZero() {
		exts = append(exts, complexExtension(fhir.ExtensionDispensingInfo,
			lc.statusPart, extension(subDateLastDispensed, dateValue(d))))
	} else {
		exts = append(exts, lc.dispensingInfo)
	}

	if e := v.releaseInformation(); e != nil {
		exts = append(exts, e)
	}
	if e := v.repeatInformation(); e != nil {
		exts = append(exts, e)
	}
	exts = append(exts, pendingCancellation[boolIndex(v.p.PendingCancellations)])

	if t := v.p.Type; t.Code != "" {
		exts = append(exts, extension(fhir.ExtensionPrescriptionType,
			codingValue(coding(fhir.SystemPrescriptionType, t.Code, t.Text))))
	}
	return exts
}

// repeatInformation is UK Core's repeat information, as NHS England puts it on a MedicationRequest:
// numberOfPrescriptionsIssued is the issue shown. A repeat-dispensing prescription always carries it;
// a repeat-prescribing one only when more than one issue is known to be authorised, as the EPS FHIR
// API leaves it off a single authorised issue. The number authorised is not repeated here: it is
// dispenseRequest.numberOfRepeatsAllowed + 1.
//
// EPS's own Extension-EPS-RepeatInformation is not used: NHS England puts it on a Task or a
// RequestGroup (whose numberOfRepeatsAllowed counts issues, not repeats), never on a MedicationRequest,
// and beside dispenseRequest.numberOfRepeatsAllowed one name would carry two meanings.
func (v *view) repeatInformation() *d4pb.Extension {
	switch v.p.TreatmentType {
	case tracker.TreatmentRepeatDispensing:
	case tracker.TreatmentRepeatPrescribing:
		if v.totalAuthorised() < 2 {
			return nil
		}
	default:
		return nil
	}
	return complexExtension(fhir.ExtensionMedicationRepeatInfo,
		extension(subPrescriptionsIssued, unsignedIntValue(v.issue.Number)))
}

// releaseInformation is NHS England's Extension-EPS-DispensingReleaseInformation: when the issue shown
// was downloaded and claimed, and when the last issue was dispensed. Only the 111 details give these
// dates, and only when they describe the issue shown; nil when they give none.
func (v *view) releaseInformation() *d4pb.Extension {
	d := v.detail
	if d == nil || !v.detailIssue {
		return nil
	}
	var parts []*d4pb.Extension
	for _, f := range []struct {
		name string
		t    time.Time
	}{{subDateLastIssued, d.LastIssueDispensedDate}, {subDateDownloaded, d.DownloadDate}, {subDateClaimed, d.ClaimedDate}} {
		if !f.t.IsZero() {
			parts = append(parts, extension(f.name, dateValue(f.t)))
		}
	}
	if parts == nil {
		return nil
	}
	return complexExtension(fhir.ExtensionDispensingRelease, parts...)
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (v *view) dispenseRequest(item *tracker.MedicationItem) *mrpb.MedicationRequest_DispenseRequest {
	var dr mrpb.MedicationRequest_DispenseRequest
	empty := true
	if org := v.nominatedDispenser(); org.ODS != "" {
		dr.Performer = organizationReference(org)
		empty = false
	}
	if v.p.DaysSupply > 0 {
		dr.ExpectedSupplyDuration = &d4pb.Duration{
			Value:  &d4pb.Decimal{Value: strconv.Itoa(v.p.DaysSupply)},
			Unit:   dayUnit,
			System: ucum,
			Code:   dayCode,
		}
		empty = false
	}
	// FHIR counts repeats after the first issue.
	if n := v.totalAuthorised(); n > 0 && v.p.TreatmentType.IsRepeat() {
		dr.NumberOfRepeatsAllowed = &d4pb.UnsignedInt{Value: uint32(n - 1)}
		empty = false
	}
	if item != nil && item.Quantity != "" { // checked by newView
		q := &d4pb.SimpleQuantity{Value: &d4pb.Decimal{Value: item.Quantity}}
		if item.Unit != "" {
			q.Unit = &d4pb.String{Value: item.Unit}
		}
		dr.Quantity = q
		empty = false
	}
	if empty {
		return nil
	}
	return &mrpb.MedicationRequest_DispenseRequest{
		Performer: dr.Performer, ExpectedSupplyDuration: dr.ExpectedSupplyDuration,
		NumberOfRepeatsAllowed: dr.NumberOfRepeatsAllowed, Quantity: dr.Quantity,
	}
}

// medication is the medicationCodeableConcept: the dm+d concept from the 111 details, else the name
// from the 111 summary, else a concept that carries only a data-absent-reason: error when the 111
// details were asked for and could not be read (a client may retry), unknown otherwise.
func (v *view) medication(li *tracker.LineItem) *d4pb.CodeableConcept {
	if item := v.detailItem(li); item != nil && (item.Code != "" || item.Description != "") {
		if item.Code == "" { // checked by newView when present
			return &d4pb.CodeableConcept{Text: &d4pb.String{Value: item.Description}}
		}
		return &d4pb.CodeableConcept{Coding: []*d4pb.Coding{coding(fhir.SystemSNOMED, item.Code, item.Description)}}
	}
	if name := v.summaryName(li); name != "" {
		return &d4pb.CodeableConcept{Text: &d4pb.String{Value: name}}
	}
	if v.detail == nil && v.detailFailed {
		return medicationAbsent["error"]
	}
	return medicationAbsent["unknown"]
}

// newMeta is the meta every resource of a view shares: Spine's lastEventDate, and the SUBSETTED tag
// in the summary form.
func (v *view) newMeta() *d4pb.Meta {
	m := &d4pb.Meta{}
	if !v.p.LastEventDate.IsZero() {
		t := v.p.LastEventDate.UTC().Truncate(time.Second)
		m.LastUpdated = &d4pb.Instant{ValueUs: t.UnixMicro(), Timezone: zoneZ, Precision: d4pb.Instant_SECOND}
	}
	if !v.full {
		m.Tag = subsettedTag
	}
	if m.LastUpdated == nil && m.Tag == nil {
		return nil
	}
	return m
}
