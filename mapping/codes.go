package mapping

import (
	"fmt"
	"time"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Identifier systems (SPEC 4.5).
const (
	SystemNHSNumber         = "https://fhir.nhs.uk/Id/nhs-number"
	SystemPrescriptionID    = "https://fhir.nhs.uk/Id/prescription-order-number"
	SystemLineItemID        = "https://fhir.nhs.uk/Id/prescription-order-item-number"
	SystemODSOrganization   = "https://fhir.nhs.uk/Id/ods-organization-code"
	SystemSNOMED            = "http://snomed.info/sct"
	SystemUCUM              = "http://unitsofmeasure.org"
	SystemObservationValue  = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
	SystemHL7CourseTherapy  = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"
	SystemNHSCourseTherapy  = "https://fhir.nhs.uk/CodeSystem/medicationrequest-course-of-therapy"
	SystemBusinessStatus    = "https://fhir.nhs.uk/CodeSystem/EPS-task-business-status"
	SystemDispenseType      = "https://fhir.nhs.uk/CodeSystem/medicationdispense-type"
	SystemPrescriptionType  = "https://fhir.nhs.uk/CodeSystem/prescription-type"
	ExtensionDataAbsent     = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
	ExtensionBusinessStatus = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-TaskBusinessStatus"
	ExtensionDispensingInfo = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-DispensingInformation"
	ExtensionRepeatInfo     = "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-RepeatInformation"
	ExtensionPendingCancel  = "https://fhir.nhs.uk/StructureDefinition/Extension-PendingCancellation"
	ExtensionPrescriptionTy = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionType"
)

// TagSubsetted marks a resource built from a search's summary: Spine's search gives no line-item UUID,
// prescriber or medication.
const TagSubsetted = "SUBSETTED"

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

// RequestStatusOf maps a line-item status to MedicationRequest.status. An unknown code is an error.
func RequestStatusOf(s tracker.LineItemStatus) (c4pb.MedicationrequestStatusCode_Value, error) {
	v, ok := requestStatus[s]
	if !ok {
		return 0, fmt.Errorf("mapping: unknown line-item status %q", s)
	}
	return v, nil
}

// dispenseStatus maps the line-item statuses that show dispense activity to MedicationDispense.status.
// Items waiting (0007), cancelled (0005) or expired (0006) have no dispense; 0008 has one only when an
// issue is with a known dispenser.
var dispenseStatus = map[tracker.LineItemStatus]c4pb.MedicationDispenseStatusCode_Value{
	tracker.ItemFullyDispensed:    c4pb.MedicationDispenseStatusCode_COMPLETED,
	tracker.ItemNotDispensed:      c4pb.MedicationDispenseStatusCode_DECLINED,
	tracker.ItemPartialDispensed:  c4pb.MedicationDispenseStatusCode_IN_PROGRESS,
	tracker.ItemNotDispensedOwing: c4pb.MedicationDispenseStatusCode_IN_PROGRESS,
	tracker.ItemWithDispenser:     c4pb.MedicationDispenseStatusCode_PREPARATION,
}

// therapy is SPEC 4.3: treatment type -> intent and courseOfTherapyType.
type therapy struct {
	intent                c4pb.MedicationRequestIntentCode_Value
	system, code, display string
}

var therapies = map[tracker.TreatmentType]therapy{
	tracker.TreatmentAcute: {c4pb.MedicationRequestIntentCode_ORDER,
		SystemHL7CourseTherapy, "acute", "Short course (acute) therapy"},
	tracker.TreatmentRepeatPrescribing: {c4pb.MedicationRequestIntentCode_INSTANCE_ORDER,
		SystemHL7CourseTherapy, "continuous", "Continuous long term therapy"},
	tracker.TreatmentRepeatDispensing: {c4pb.MedicationRequestIntentCode_REFLEX_ORDER,
		SystemNHSCourseTherapy, "continuous-repeat-dispensing", "Continuous long term (repeat dispensing)"},
}

func therapyOf(t tracker.TreatmentType) (therapy, error) {
	th, ok := therapies[t]
	if !ok {
		return therapy{}, fmt.Errorf("mapping: unknown treatment type %q", t)
	}
	return th, nil
}

func businessStatusCoding(s tracker.PrescriptionStatus) (*d4pb.Coding, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("mapping: unknown prescription status %q", s)
	}
	return coding(SystemBusinessStatus, string(s), s.Display()), nil
}

func dispenseTypeCoding(s tracker.LineItemStatus) *d4pb.Coding {
	return coding(SystemDispenseType, string(s), s.Display())
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

func identifier(system, value string) *d4pb.Identifier {
	return &d4pb.Identifier{System: &d4pb.Uri{Value: system}, Value: &d4pb.String{Value: value}}
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

func integerValue(n int) *d4pb.Extension_ValueX {
	return &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Integer{Integer: &d4pb.Integer{Value: int32(n)}}}
}

func booleanValue(b bool) *d4pb.Extension_ValueX {
	return &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Boolean{Boolean: &d4pb.Boolean{Value: b}}}
}

// dateTimeSecond is a Spine timestamp (UTC) as a dateTime to the second.
func dateTimeSecond(t time.Time) *d4pb.DateTime {
	t = t.UTC().Truncate(time.Second)
	return &d4pb.DateTime{ValueUs: t.UnixMicro(), Timezone: zoneZ, Precision: d4pb.DateTime_SECOND}
}

// dateTimeDay is a Spine date (its UTC day) as a day-precision dateTime.
func dateTimeDay(t time.Time) *d4pb.DateTime {
	return &d4pb.DateTime{ValueUs: utcMidnight(t).UnixMicro(), Timezone: zoneUTC, Precision: d4pb.DateTime_DAY}
}

// date is a Spine date (its UTC day) as a FHIR date.
func dateDay(t time.Time) *d4pb.Date {
	return &d4pb.Date{ValueUs: utcMidnight(t).UnixMicro(), Timezone: zoneUTC, Precision: d4pb.Date_DAY}
}

func utcMidnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
