package mapping

import (
	"fmt"
	"time"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	mdpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_dispense_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// The code tables of SPEC section 4, and the FHIR sub-messages they give, built once.
//
// Sharing: what is built here is shared by every resource the package returns, across requests and
// goroutines, so that a page of 50 entries does not build the same codings 50 times. Shared messages
// are never mutated, here or by a caller (clone a resource before changing it), and none holds a
// Reference: google/fhir's jsonformat rewrites references in place while marshalling.

// lineItemDisplay is the display text of each line-item status as NHS England's Clinical Prescription
// Tracker gives it in FHIR (its LINE_ITEM_STATUS_MAP and the dispense-status coding of its API
// schema), which differs from Spine's statusText for 0004 ("Item not dispensed owing") and 0007
// ("To Be Dispensed").
var lineItemDisplay = map[tracker.LineItemStatus]string{
	tracker.ItemFullyDispensed:    "Item fully dispensed",
	tracker.ItemNotDispensed:      "Item not dispensed",
	tracker.ItemPartialDispensed:  "Item dispensed - partial",
	tracker.ItemNotDispensedOwing: "Item not dispensed - owing",
	tracker.ItemCancelled:         "Item Cancelled",
	tracker.ItemExpired:           "Expired",
	tracker.ItemToBeDispensed:     "Item to be dispensed",
	tracker.ItemWithDispenser:     "Item with dispenser",
}

// LineItemDisplay is the display text of a line-item status in FHIR (CPT's), "" for an unknown code.
func LineItemDisplay(s tracker.LineItemStatus) string { return lineItemDisplay[s] }

// requestStatus is SPEC 4.2's line-item status -> MedicationRequest.status (CPT's table).
var requestStatus = map[tracker.LineItemStatus]c4pb.MedicationrequestStatusCode_Value{
	tracker.ItemFullyDispensed:    c4pb.MedicationrequestStatusCode_COMPLETED,
	tracker.ItemNotDispensed:      c4pb.MedicationrequestStatusCode_STOPPED,
	tracker.ItemPartialDispensed:  c4pb.MedicationrequestStatusCode_ACTIVE,
	tracker.ItemNotDispensedOwing: c4pb.MedicationrequestStatusCode_ACTIVE,
	tracker.ItemCancelled:         c4pb.MedicationrequestStatusCode_CANCELLED,
	tracker.ItemExpired:           c4pb.MedicationrequestStatusCode_STOPPED,
	tracker.ItemToBeDispensed:     c4pb.MedicationrequestStatusCode_ACTIVE,
	tracker.ItemWithDispenser:     c4pb.MedicationrequestStatusCode_ACTIVE,
}

// requestStatusCode is each MedicationRequest status the mapping gives as its FHIR code.
var requestStatusCode = map[c4pb.MedicationrequestStatusCode_Value]string{
	c4pb.MedicationrequestStatusCode_ACTIVE:    "active",
	c4pb.MedicationrequestStatusCode_COMPLETED: "completed",
	c4pb.MedicationrequestStatusCode_STOPPED:   "stopped",
	c4pb.MedicationrequestStatusCode_CANCELLED: "cancelled",
}

// RequestStatusOf maps a line-item status to MedicationRequest.status. An unknown code is an error.
func RequestStatusOf(s tracker.LineItemStatus) (c4pb.MedicationrequestStatusCode_Value, error) {
	v, ok := requestStatus[s]
	if !ok {
		return 0, fmt.Errorf("mapping: unknown line-item status %q", s)
	}
	return v, nil
}

// dispenseStatus maps the line-item statuses at which a pharmacy acted on the item to
// MedicationDispense.status, as NHS England's mappings do. An item only with a dispenser (0008), to
// be dispensed (0007), cancelled (0005) or expired (0006) has no dispense: no NHS mapping invents one.
var dispenseStatus = map[tracker.LineItemStatus]c4pb.MedicationDispenseStatusCode_Value{
	tracker.ItemFullyDispensed:    c4pb.MedicationDispenseStatusCode_COMPLETED,
	tracker.ItemNotDispensed:      c4pb.MedicationDispenseStatusCode_DECLINED,
	tracker.ItemPartialDispensed:  c4pb.MedicationDispenseStatusCode_IN_PROGRESS,
	tracker.ItemNotDispensedOwing: c4pb.MedicationDispenseStatusCode_IN_PROGRESS,
}

// therapy is SPEC 4.3: treatment type -> intent and courseOfTherapyType.
type therapy struct {
	intent *mrpb.MedicationRequest_IntentCode
	course *d4pb.CodeableConcept
}

var therapies = map[tracker.TreatmentType]therapy{
	tracker.TreatmentAcute: newTherapy(c4pb.MedicationRequestIntentCode_ORDER,
		fhir.SystemHL7CourseTherapy, "acute", "Short course (acute) therapy"),
	tracker.TreatmentRepeatPrescribing: newTherapy(c4pb.MedicationRequestIntentCode_INSTANCE_ORDER,
		fhir.SystemHL7CourseTherapy, "continuous", "Continuous long term therapy"),
	tracker.TreatmentRepeatDispensing: newTherapy(c4pb.MedicationRequestIntentCode_REFLEX_ORDER,
		fhir.SystemNHSCourseTherapy, "continuous-repeat-dispensing", "Continuous long term (repeat dispensing)"),
}

func newTherapy(intent c4pb.MedicationRequestIntentCode_Value, system, code, display string) therapy {
	return therapy{
		intent: &mrpb.MedicationRequest_IntentCode{Value: intent},
		course: &d4pb.CodeableConcept{Coding: []*d4pb.Coding{coding(system, code, display)}},
	}
}

func therapyOf(t tracker.TreatmentType) (therapy, error) {
	th, ok := therapies[t]
	if !ok {
		return therapy{}, fmt.Errorf("mapping: unknown treatment type %q", t)
	}
	return th, nil
}

// lineCodes is what a line-item status gives, shared.
type lineCodes struct {
	requestStatus  *mrpb.MedicationRequest_StatusCode
	dispenseStatus *mdpb.MedicationDispense_StatusCode // nil: no dispense
	typeCoding     *d4pb.Coding                        // fhir.SystemDispenseType
	dispenseType   *d4pb.CodeableConcept               // MedicationDispense.type
	statusPart     *d4pb.Extension                     // dispenseStatus of fhir.ExtensionDispensingInfo
	dispensingInfo *d4pb.Extension                     // fhir.ExtensionDispensingInfo without a date
}

var lines = func() map[tracker.LineItemStatus]*lineCodes {
	out := make(map[tracker.LineItemStatus]*lineCodes, len(requestStatus))
	for s, rs := range requestStatus {
		c := coding(fhir.SystemDispenseType, string(s), lineItemDisplay[s])
		lc := &lineCodes{
			requestStatus: &mrpb.MedicationRequest_StatusCode{Value: rs},
			typeCoding:    c,
			dispenseType:  &d4pb.CodeableConcept{Coding: []*d4pb.Coding{c}},
			statusPart:    extension(subDispenseStatus, codingValue(c)),
		}
		lc.dispensingInfo = complexExtension(fhir.ExtensionDispensingInfo, lc.statusPart)
		if ds, ok := dispenseStatus[s]; ok {
			lc.dispenseStatus = &mdpb.MedicationDispense_StatusCode{Value: ds}
		}
		out[s] = lc
	}
	return out
}()

// businessStatus is fhir.ExtensionBusinessStatus for each prescription status, shared.
var businessStatus = func() map[tracker.PrescriptionStatus]*d4pb.Extension {
	out := make(map[tracker.PrescriptionStatus]*d4pb.Extension, len(tracker.PrescriptionStatuses))
	for _, s := range tracker.PrescriptionStatuses {
		out[s] = extension(fhir.ExtensionBusinessStatus, codingValue(coding(fhir.SystemBusinessStatus, string(s), s.Display())))
	}
	return out
}()

func businessStatusExtension(s tracker.PrescriptionStatus) (*d4pb.Extension, error) {
	e, ok := businessStatus[s]
	if !ok {
		return nil, fmt.Errorf("mapping: unknown prescription status %q", s)
	}
	return e, nil
}

// Shared parts that depend on no code.
var (
	pendingCancellation = [2]*d4pb.Extension{
		complexExtension(fhir.ExtensionPendingCancel, extension(subPrescriptionPendingCx, booleanValue(false))),
		complexExtension(fhir.ExtensionPendingCancel, extension(subPrescriptionPendingCx, booleanValue(true))),
	}
	subsettedTag = []*d4pb.Coding{coding(fhir.SystemObservationValue, TagSubsetted, "subsetted")}
	// medicationAbsent is a medication[x] that carries only a data-absent-reason.
	medicationAbsent = map[string]*d4pb.CodeableConcept{
		"unknown": absentConcept("unknown"),
		"error":   absentConcept("error"),
	}
	dayUnit   = &d4pb.String{Value: "day"}
	dayCode   = &d4pb.Code{Value: "d"}
	ucum      = &d4pb.Uri{Value: fhir.SystemUCUM}
	systemURI = map[string]*d4pb.Uri{
		fhir.SystemNHSNumber:       {Value: fhir.SystemNHSNumber},
		fhir.SystemPrescriptionID:  {Value: fhir.SystemPrescriptionID},
		fhir.SystemLineItemID:      {Value: fhir.SystemLineItemID},
		fhir.SystemODSOrganization: {Value: fhir.SystemODSOrganization},
	}
)

func absentConcept(reason string) *d4pb.CodeableConcept {
	return &d4pb.CodeableConcept{Extension: []*d4pb.Extension{
		extension(fhir.ExtensionDataAbsent, &d4pb.Extension_ValueX{
			Choice: &d4pb.Extension_ValueX_Code{Code: &d4pb.Code{Value: reason}},
		}),
	}}
}

func coding(system, code, display string) *d4pb.Coding {
	c := &d4pb.Coding{System: &d4pb.Uri{Value: system}, Code: &d4pb.Code{Value: code}}
	if display != "" {
		c.Display = &d4pb.String{Value: display}
	}
	return c
}

// zoneZ is how google/fhir writes the UTC zone of a dateTime or instant with a time ("Z"); dates and
// day-precision dateTimes carry the zone's name instead, as its unmarshaller parses them.
const (
	zoneZ   = "Z"
	zoneUTC = "UTC"
)

// identifier is an Identifier; its system's Uri is shared for the systems the package names.
func identifier(system, value string) *d4pb.Identifier {
	u, ok := systemURI[system]
	if !ok {
		u = &d4pb.Uri{Value: system}
	}
	return &d4pb.Identifier{System: u, Value: &d4pb.String{Value: value}}
}

func extension(url string, value *d4pb.Extension_ValueX) *d4pb.Extension {
	return &d4pb.Extension{Url: &d4pb.Uri{Value: url}, Value: value}
}

func complexExtension(url string, parts ...*d4pb.Extension) *d4pb.Extension {
	return &d4pb.Extension{Url: &d4pb.Uri{Value: url}, Extension: parts}
}

func codingValue(c *d4pb.Coding) *d4pb.Extension_ValueX {
	return &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Coding{Coding: c}}
}

func unsignedIntValue(n int) *d4pb.Extension_ValueX {
	return &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_UnsignedInt{UnsignedInt: &d4pb.UnsignedInt{Value: uint32(n)}}}
}

func booleanValue(b bool) *d4pb.Extension_ValueX {
	return &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Boolean{Boolean: &d4pb.Boolean{Value: b}}}
}

func dateValue(t time.Time) *d4pb.Extension_ValueX {
	return &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Date{Date: dateDay(t)}}
}

// dateTimeDay is a Spine date (its UTC day) as a day-precision dateTime.
func dateTimeDay(t time.Time) *d4pb.DateTime {
	return &d4pb.DateTime{ValueUs: utcMidnight(t).UnixMicro(), Timezone: zoneUTC, Precision: d4pb.DateTime_DAY}
}

// dateDay is a Spine date (its UTC day) as a FHIR date.
func dateDay(t time.Time) *d4pb.Date {
	return &d4pb.Date{ValueUs: utcMidnight(t).UnixMicro(), Timezone: zoneUTC, Precision: d4pb.Date_DAY}
}

func utcMidnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
