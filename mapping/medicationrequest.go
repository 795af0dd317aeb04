package mapping

import (
	"fmt"
	"strings"
	"time"

	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"

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
	// Detail, optional, is the 111 item details: medication, quantity, dosage, organisations, dates.
	Detail *tracker.PrescriptionDetail
	// Summary, optional, is the 111 item summary: medication names and the number of issues authorised.
	Summary *tracker.ItemSummary
	// DetailFailed is true when the 111 details were asked for but could not be read.
	DetailFailed bool
}

// Options carries what the mapping needs from outside its inputs.
type Options struct {
	// BaseURL is the absolute FHIR base, e.g. http://127.0.0.1:8080/FHIR/R4. References are relative
	// ("Patient/9691003120"), so the resources do not depend on it.
	BaseURL string
}

// MedicationRequests maps the issue src shows to one MedicationRequest per line item, in ordinal order.
// An error means Spine's data cannot be mapped (an upstream fault) or src is inconsistent.
func MedicationRequests(src Source, o Options) ([]*mrpb.MedicationRequest, error) {
	v, err := newView(src)
	if err != nil {
		return nil, err
	}
	out := make([]*mrpb.MedicationRequest, 0, len(v.issue.LineItems))
	for i := range v.issue.LineItems {
		mr, err := v.medicationRequest(&v.issue.LineItems[i])
		if err != nil {
			return nil, err
		}
		out = append(out, mr)
	}
	return out, nil
}

func (v *view) medicationRequest(li *tracker.LineItem) (*mrpb.MedicationRequest, error) {
	p := v.p
	status, err := RequestStatusOf(li.Status)
	if err != nil {
		return nil, err
	}
	med := v.medication(li)
	mr := &mrpb.MedicationRequest{
		Id:     &d4pb.Id{Value: MedicationRequestID(p.ID, v.issue.Number, li.Ordinal)},
		Meta:   v.meta(),
		Status: &mrpb.MedicationRequest_StatusCode{Value: status},
		Intent: &mrpb.MedicationRequest_IntentCode{Value: v.therapy.intent},
		Medication: &mrpb.MedicationRequest_MedicationX{
			Choice: &mrpb.MedicationRequest_MedicationX_CodeableConcept{CodeableConcept: med},
		},
		Subject:         patientReference(p.PatientNHSNumber),
		GroupIdentifier: identifier(SystemPrescriptionID, p.ID),
		CourseOfTherapyType: &d4pb.CodeableConcept{
			Coding: []*d4pb.Coding{coding(v.therapy.system, v.therapy.code, v.therapy.display)},
		},
	}
	if id := v.lineItemID(li); id != "" {
		mr.Identifier = []*d4pb.Identifier{identifier(SystemLineItemID, strings.ToLower(id))}
	}
	if t := v.authoredOn(); !t.IsZero() {
		mr.AuthoredOn = dateTimeSecond(t)
	}
	if org := v.prescriber(); org.ODS != "" {
		mr.Requester = organizationReference(org)
	}
	ext, err := v.requestExtensions(li)
	if err != nil {
		return nil, err
	}
	mr.Extension = ext
	item := v.detailItem(li)
	if item != nil && item.Dosage != "" {
		mr.DosageInstruction = []*d4pb.Dosage{{Text: &d4pb.String{Value: item.Dosage}}}
	}
	mr.DispenseRequest = v.dispenseRequest(item)
	return mr, nil
}

func (v *view) requestExtensions(li *tracker.LineItem) ([]*d4pb.Extension, error) {
	bs, err := businessStatusCoding(v.issue.Status)
	if err != nil {
		return nil, err
	}
	exts := []*d4pb.Extension{extension(ExtensionBusinessStatus, codingValue(bs))}

	info := []*d4pb.Extension{extension("dispenseStatus", codingValue(dispenseTypeCoding(li.Status)))}
	if d := v.lastDispenseDate(); !d.IsZero() {
		info = append(info, extension("dateLastDispensed", &d4pb.Extension_ValueX{
			Choice: &d4pb.Extension_ValueX_Date{Date: dateDay(d)},
		}))
	}
	exts = append(exts, complexExtension(ExtensionDispensingInfo, info...))

	if v.p.TreatmentType.IsRepeat() {
		repeat := []*d4pb.Extension{extension("numberOfRepeatsIssued", integerValue(v.issue.Number))}
		if n := v.totalAuthorised(); n > 0 {
			repeat = append(repeat, extension("numberOfRepeatsAllowed", integerValue(n)))
		}
		exts = append(exts, complexExtension(ExtensionRepeatInfo, repeat...))
	}

	exts = append(exts, complexExtension(ExtensionPendingCancel,
		extension("prescriptionPendingCancellation", booleanValue(v.p.PendingCancellations))))

	if t := v.p.Type; t.Code != "" {
		exts = append(exts, extension(ExtensionPrescriptionTy,
			codingValue(coding(SystemPrescriptionType, t.Code, t.Text))))
	}
	return exts, nil
}

func (v *view) dispenseRequest(item *tracker.MedicationItem) *mrpb.MedicationRequest_DispenseRequest {
	dr := &mrpb.MedicationRequest_DispenseRequest{}
	if org := v.nominatedDispenser(); org.ODS != "" {
		dr.Performer = organizationReference(org)
	}
	if v.p.DaysSupply > 0 {
		dr.ExpectedSupplyDuration = &d4pb.Duration{
			Value:  &d4pb.Decimal{Value: fmt.Sprint(v.p.DaysSupply)},
			Unit:   &d4pb.String{Value: "day"},
			System: &d4pb.Uri{Value: SystemUCUM},
			Code:   &d4pb.Code{Value: "d"},
		}
	}
	if v.p.TreatmentType.IsRepeat() {
		if n := v.totalAuthorised(); n > 0 {
			dr.NumberOfRepeatsAllowed = &d4pb.UnsignedInt{Value: uint32(n - 1)}
		}
	}
	if item != nil && item.Quantity != "" { // checked by newView
		q := &d4pb.SimpleQuantity{Value: &d4pb.Decimal{Value: item.Quantity}}
		if item.Unit != "" {
			q.Unit = &d4pb.String{Value: item.Unit}
		}
		dr.Quantity = q
	}
	if dr.Performer == nil && dr.ExpectedSupplyDuration == nil && dr.NumberOfRepeatsAllowed == nil && dr.Quantity == nil {
		return nil
	}
	return dr
}

// medication is the medicationCodeableConcept: the dm+d concept from the 111 details, else the name
// from the 111 summary, else a concept that carries only a data-absent-reason: error when the 111
// details were asked for and could not be read (a client may retry), unknown otherwise.
func (v *view) medication(li *tracker.LineItem) *d4pb.CodeableConcept {
	if item := v.detailItem(li); item != nil && (item.Code != "" || item.Description != "") {
		if item.Code == "" { // checked by newView when present
			return &d4pb.CodeableConcept{Text: &d4pb.String{Value: item.Description}}
		}
		return &d4pb.CodeableConcept{Coding: []*d4pb.Coding{coding(SystemSNOMED, item.Code, item.Description)}}
	}
	if name := v.summaryName(li); name != "" {
		return &d4pb.CodeableConcept{Text: &d4pb.String{Value: name}}
	}
	reason := "unknown"
	if v.detail == nil && v.detailFailed {
		reason = "error"
	}
	return &d4pb.CodeableConcept{Extension: []*d4pb.Extension{
		extension(ExtensionDataAbsent, &d4pb.Extension_ValueX{
			Choice: &d4pb.Extension_ValueX_Code{Code: &d4pb.Code{Value: reason}},
		}),
	}}
}

func (v *view) meta() *d4pb.Meta {
	m := &d4pb.Meta{}
	if !v.p.LastEventDate.IsZero() {
		t := v.p.LastEventDate.UTC().Truncate(time.Second)
		m.LastUpdated = &d4pb.Instant{ValueUs: t.UnixMicro(), Timezone: zoneZ, Precision: d4pb.Instant_SECOND}
	}
	if !v.full {
		m.Tag = []*d4pb.Coding{coding(SystemObservationValue, TagSubsetted, "subsetted")}
	}
	if m.LastUpdated == nil && m.Tag == nil {
		return nil
	}
	return m
}
