package mapping

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// retrieved is a full-form prescription (as a retrieve gives it) with one line item per status given.
func retrieved(tt tracker.TreatmentType, ps tracker.PrescriptionStatus, items ...tracker.LineItemStatus) *tracker.Prescription {
	p := &tracker.Prescription{
		ID:                 "48A894-C86002-00009E",
		PatientNHSNumber:   "9691003139",
		TreatmentType:      tt,
		SigningDate:        time.Date(2020, 1, 8, 12, 1, 0, 0, time.UTC),
		CurrentIssueNumber: 1,
		Prescriber:         tracker.Organisation{ODS: "Y90206", Name: "TEST GP PRACTICE 14"},
		NominatedDispenser: tracker.Organisation{ODS: "FX012"},
		DaysSupply:         28,
		Issues: []tracker.Issue{{
			Number:           1,
			Status:           ps,
			Dispenser:        tracker.Organisation{ODS: "FRN79", Name: "ALLISON RL"},
			LastDispenseDate: time.Date(2020, 1, 8, 0, 0, 0, 0, time.UTC),
		}},
	}
	for i, s := range items {
		p.Issues[0].LineItems = append(p.Issues[0].LineItems, tracker.LineItem{
			Ordinal: i + 1, ID: []string{"9BA2F6BD-1524-6F8B-E050-D20AE3A254FD", "9BA2F6BD-1529-6F8B-E050-D20AE3A254FD"}[i%2], Status: s,
		})
	}
	return p
}

func TestRequestStatusOfEachLineItemStatus(t *testing.T) {
	want := map[tracker.LineItemStatus]c4pb.MedicationrequestStatusCode_Value{
		"0001": c4pb.MedicationrequestStatusCode_COMPLETED,
		"0002": c4pb.MedicationrequestStatusCode_STOPPED,
		"0003": c4pb.MedicationrequestStatusCode_ACTIVE,
		"0004": c4pb.MedicationrequestStatusCode_ACTIVE,
		"0005": c4pb.MedicationrequestStatusCode_CANCELLED,
		"0006": c4pb.MedicationrequestStatusCode_STOPPED,
		"0007": c4pb.MedicationrequestStatusCode_ACTIVE,
		"0008": c4pb.MedicationrequestStatusCode_ACTIVE,
	}
	for _, s := range tracker.LineItemStatuses {
		t.Run(string(s)+" "+s.Display(), func(t *testing.T) {
			got, err := RequestStatusOf(s)
			if err != nil {
				t.Fatal(err)
			}
			if got != want[s] {
				t.Errorf("RequestStatusOf(%s) = %v, want %v", s, got, want[s])
			}
			// End to end, in a prescription status that allows the item status, with a dispenser.
			ps := tracker.StatusWithDispenserActive
			if s == tracker.ItemToBeDispensed {
				ps = tracker.StatusToBeDispensed
			}
			mrs, err := MedicationRequests(Source{Prescription: retrieved(tracker.TreatmentAcute, ps, s), Full: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := mrs[0].GetStatus().GetValue(); got != want[s] {
				t.Errorf("MedicationRequest.status = %v, want %v", got, want[s])
			}
		})
	}
	for _, bad := range []tracker.LineItemStatus{"", "0000", "0009", "Item fully dispensed"} {
		if _, err := RequestStatusOf(bad); err == nil {
			t.Errorf("RequestStatusOf(%q) gave no error", bad)
		}
	}
}

func TestMedicationDispenseStatusOfEachLineItemStatus(t *testing.T) {
	tests := []struct {
		item         tracker.LineItemStatus
		withoutOrg   bool // the issue has no known dispenser
		want         c4pb.MedicationDispenseStatusCode_Value
		none         bool
		handedOverOn bool
	}{
		{item: "0001", want: c4pb.MedicationDispenseStatusCode_COMPLETED, handedOverOn: true},
		{item: "0002", want: c4pb.MedicationDispenseStatusCode_DECLINED},
		{item: "0003", want: c4pb.MedicationDispenseStatusCode_IN_PROGRESS, handedOverOn: true},
		{item: "0004", want: c4pb.MedicationDispenseStatusCode_IN_PROGRESS},
		{item: "0005", none: true},
		{item: "0006", none: true},
		{item: "0007", none: true},
		{item: "0008", none: true},
		{item: "0008", withoutOrg: true, none: true},
	}
	for _, tt := range tests {
		name := string(tt.item) + " " + tt.item.Display()
		if tt.withoutOrg {
			name += " without a dispenser"
		}
		t.Run(name, func(t *testing.T) {
			p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenserActive, tt.item)
			if tt.withoutOrg {
				p.Issues[0].Dispenser = tracker.Organisation{}
			}
			mds, err := MedicationDispenses(Source{Prescription: p, Full: true})
			if err != nil {
				t.Fatal(err)
			}
			if tt.none {
				if len(mds) != 0 {
					t.Fatalf("got %d MedicationDispenses, want none", len(mds))
				}
				return
			}
			if len(mds) != 1 {
				t.Fatalf("got %d MedicationDispenses, want 1", len(mds))
			}
			md := mds[0]
			if got := md.GetStatus().GetValue(); got != tt.want {
				t.Errorf("status = %v, want %v", got, tt.want)
			}
			if got, want := md.GetWhenHandedOver() != nil, tt.handedOverOn; got != want {
				t.Errorf("whenHandedOver present = %v, want %v", got, want)
			}
			if got, want := md.GetAuthorizingPrescription()[0].GetMedicationRequestId().GetValue(), "48A894-C86002-00009E-1-1"; got != want {
				t.Errorf("authorizingPrescription = %q, want %q", got, want)
			}
			if got, want := md.GetPerformer()[0].GetActor().GetOrganizationId().GetValue(), "FRN79"; got != want {
				t.Errorf("performer = %q, want %q", got, want)
			}
			validate(t, md)
		})
	}
}

func TestTreatmentTypeGivesIntentAndCourseOfTherapy(t *testing.T) {
	tests := []struct {
		tt           tracker.TreatmentType
		intent       c4pb.MedicationRequestIntentCode_Value
		system, code string
		repeat       bool
	}{
		{tracker.TreatmentAcute, c4pb.MedicationRequestIntentCode_ORDER, fhir.SystemHL7CourseTherapy, "acute", false},
		// A retrieve alone does not say how many issues are authorised: no repeat information.
		{tracker.TreatmentRepeatPrescribing, c4pb.MedicationRequestIntentCode_INSTANCE_ORDER, fhir.SystemHL7CourseTherapy, "continuous", false},
		{tracker.TreatmentRepeatDispensing, c4pb.MedicationRequestIntentCode_REFLEX_ORDER, fhir.SystemNHSCourseTherapy, "continuous-repeat-dispensing", true},
	}
	for _, tt := range tests {
		t.Run(tt.tt.Display(), func(t *testing.T) {
			mrs, err := MedicationRequests(Source{
				Prescription: retrieved(tt.tt, tracker.StatusWithDispenser, tracker.ItemWithDispenser),
				Full:         true,
			})
			if err != nil {
				t.Fatal(err)
			}
			mr := mrs[0]
			if got := mr.GetIntent().GetValue(); got != tt.intent {
				t.Errorf("intent = %v, want %v", got, tt.intent)
			}
			c := mr.GetCourseOfTherapyType().GetCoding()[0]
			if c.GetSystem().GetValue() != tt.system || c.GetCode().GetValue() != tt.code {
				t.Errorf("courseOfTherapyType = %s|%s, want %s|%s", c.GetSystem().GetValue(), c.GetCode().GetValue(), tt.system, tt.code)
			}
			hasRepeat := false
			for _, e := range mr.GetExtension() {
				hasRepeat = hasRepeat || e.GetUrl().GetValue() == fhir.ExtensionMedicationRepeatInfo
			}
			if hasRepeat != tt.repeat {
				t.Errorf("repeat information present = %v, want %v", hasRepeat, tt.repeat)
			}
		})
	}
}

func TestMappingRefusesWhatItCannotMap(t *testing.T) {
	detail := func() *tracker.PrescriptionDetail {
		return &tracker.PrescriptionDetail{
			ID: "48A894-C86002-00009E",
			Items: []tracker.MedicationItem{{
				LineItemID: "9ba2f6bd-1524-6f8b-e050-d20ae3a254fd", Code: "318896009",
				Description: "Perindopril erbumine 2mg tablets", Quantity: "28", Unit: "tablet",
			}},
		}
	}
	tests := []struct {
		name   string
		change func(*Source)
	}{
		{"an unknown line-item status", func(s *Source) { s.Prescription.Issues[0].LineItems[0].Status = "0099" }},
		{"an empty line-item status", func(s *Source) { s.Prescription.Issues[0].LineItems[0].Status = "" }},
		{"an unknown prescription status", func(s *Source) { s.Prescription.Issues[0].Status = "1234" }},
		{"an unknown treatment type", func(s *Source) { s.Prescription.TreatmentType = "0004" }},
		{"no prescription", func(s *Source) { s.Prescription = nil }},
		{"a prescription ID with a wrong check character", func(s *Source) { s.Prescription.ID = "000136-ZC2D5C-11E38K" }},
		{"an invalid NHS number", func(s *Source) { s.Prescription.PatientNHSNumber = "9691003138" }},
		{"an issue that is not there", func(s *Source) { s.IssueNumber = 2 }},
		{"line items out of order", func(s *Source) {
			li := s.Prescription.Issues[0].LineItems
			li[0], li[1] = li[1], li[0]
		}},
		{"a malformed line-item UUID", func(s *Source) { s.Prescription.Issues[0].LineItems[0].ID = "not-a-uuid" }},
		{"a malformed ODS code", func(s *Source) { s.Prescription.Prescriber.ODS = "Y9 206" }},
		{"111 details of another prescription", func(s *Source) {
			s.Detail = detail()
			s.Detail.ID = "3AF2CB-C86002-0000BX"
		}},
		{"111 item status text the tracker could not map", func(s *Source) {
			s.Detail = detail()
			s.Detail.Items[0].Status = "Half dispensed"
		}},
		{"a 111 prescription status the tracker could not map", func(s *Source) {
			s.Summary = &tracker.ItemSummary{ID: "48A894-C86002-00009E", Status: "Lost"}
		}},
		{"a 111 quantity that is not a number", func(s *Source) {
			s.Detail = detail()
			s.Detail.Items[0].Quantity = "twenty"
		}},
		{"a 111 code that is not a dm+d concept id", func(s *Source) {
			s.Detail = detail()
			s.Detail.Items[0].Code = "Perindopril"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := Source{
				Prescription: retrieved(tracker.TreatmentRepeatPrescribing, tracker.StatusWithDispenserActive,
					tracker.ItemNotDispensedOwing, tracker.ItemFullyDispensed),
				Full: true,
			}
			if _, err := MedicationRequests(src); err != nil {
				t.Fatalf("the unchanged source fails: %v", err)
			}
			tt.change(&src)
			if mrs, err := MedicationRequests(src); err == nil {
				t.Errorf("MedicationRequests gave %d resources and no error", len(mrs))
			}
			if mds, err := MedicationDispenses(src); err == nil {
				t.Errorf("MedicationDispenses gave %d resources and no error", len(mds))
			}
		})
	}
}

var dataAbsent = &d4pb.CodeableConcept{Extension: []*d4pb.Extension{{
	Url:   &d4pb.Uri{Value: "http://hl7.org/fhir/StructureDefinition/data-absent-reason"},
	Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Code{Code: &d4pb.Code{Value: "unknown"}}},
}}}

func TestMedicationIsDataAbsentWithout111Data(t *testing.T) {
	src := Source{
		Prescription: retrieved(tracker.TreatmentAcute, tracker.StatusDispensed, tracker.ItemFullyDispensed, tracker.ItemNotDispensed),
		Full:         true,
	}
	mrs, err := MedicationRequests(src)
	if err != nil {
		t.Fatal(err)
	}
	mds, err := MedicationDispenses(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(mrs) != 2 || len(mds) != 2 {
		t.Fatalf("got %d requests and %d dispenses, want 2 and 2", len(mrs), len(mds))
	}
	for i := range mrs {
		if diff := cmp.Diff(dataAbsent, mrs[i].GetMedication().GetCodeableConcept(), protocmp.Transform()); diff != "" {
			t.Errorf("request %d medication (-want +got):\n%s", i+1, diff)
		}
		if diff := cmp.Diff(dataAbsent, mds[i].GetMedication().GetCodeableConcept(), protocmp.Transform()); diff != "" {
			t.Errorf("dispense %d medication (-want +got):\n%s", i+1, diff)
		}
		validate(t, mrs[i])
		validate(t, mds[i])
	}
}

func TestMedicationAbsentReasonSaysWhetherThe111DetailsFailed(t *testing.T) {
	detail := &tracker.PrescriptionDetail{
		ID: "48A894-C86002-00009E",
		Items: []tracker.MedicationItem{{
			LineItemID: "9ba2f6bd-1524-6f8b-e050-d20ae3a254fd", Code: "318896009", Description: "Perindopril erbumine 2mg tablets",
		}},
	}
	absent := func(code string) *d4pb.CodeableConcept {
		return &d4pb.CodeableConcept{Extension: []*d4pb.Extension{{
			Url:   &d4pb.Uri{Value: "http://hl7.org/fhir/StructureDefinition/data-absent-reason"},
			Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Code{Code: &d4pb.Code{Value: code}}},
		}}}
	}
	perindopril := &d4pb.CodeableConcept{Coding: []*d4pb.Coding{{
		System: &d4pb.Uri{Value: fhir.SystemSNOMED}, Code: &d4pb.Code{Value: "318896009"},
		Display: &d4pb.String{Value: "Perindopril erbumine 2mg tablets"},
	}}}
	tests := []struct {
		name         string
		detail       *tracker.PrescriptionDetail
		summary      *tracker.ItemSummary
		detailFailed bool
		want         *d4pb.CodeableConcept
	}{
		{"details that could not be read make the medication absent by error", nil, nil, true, absent("error")},
		{"details never asked for leave the medication unknown", nil, nil, false, absent("unknown")},
		{"details that were read name the medication whatever the flag says", detail, nil, true, perindopril},
		{
			"a summary name is shown when the details could not be read",
			nil, &tracker.ItemSummary{ID: "48A894-C86002-00009E", Medications: []tracker.MedicationName{
				{LineItemID: "9BA2F6BD-1524-6F8B-E050-D20AE3A254FD", Name: "Perindopril 2mg tablets"},
			}}, true,
			&d4pb.CodeableConcept{Text: &d4pb.String{Value: "Perindopril 2mg tablets"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := Source{
				Prescription: retrieved(tracker.TreatmentAcute, tracker.StatusDispensed, tracker.ItemFullyDispensed),
				Full:         true,
				Detail:       tt.detail,
				Summary:      tt.summary,
				DetailFailed: tt.detailFailed,
			}
			mrs, err := MedicationRequests(src)
			if err != nil {
				t.Fatal(err)
			}
			mds, err := MedicationDispenses(src)
			if err != nil {
				t.Fatal(err)
			}
			if len(mrs) != 1 || len(mds) != 1 {
				t.Fatalf("got %d requests and %d dispenses, want 1 and 1", len(mrs), len(mds))
			}
			if diff := cmp.Diff(tt.want, mrs[0].GetMedication().GetCodeableConcept(), protocmp.Transform()); diff != "" {
				t.Errorf("request medication (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, mds[0].GetMedication().GetCodeableConcept(), protocmp.Transform()); diff != "" {
				t.Errorf("dispense medication (-want +got):\n%s", diff)
			}
			validate(t, mrs[0])
			validate(t, mds[0])
		})
	}
}

func TestSeveralSearchLinesAreNotGuessedFrom111Names(t *testing.T) {
	p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenser, tracker.ItemWithDispenser, tracker.ItemWithDispenser)
	for i := range p.Issues[0].LineItems {
		p.Issues[0].LineItems[i].ID = "" // a search gives no UUIDs
	}
	src := Source{
		Prescription: p,
		Summary: &tracker.ItemSummary{ID: p.ID, Medications: []tracker.MedicationName{
			{LineItemID: "9BA2F6BD-1524-6F8B-E050-D20AE3A254FD", Name: "Metformin 500mg tablets"},
			{LineItemID: "9BA2F6BD-1529-6F8B-E050-D20AE3A254FD", Name: "Simvastatin 40mg tablets"},
		}},
	}
	mrs, err := MedicationRequests(src)
	if err != nil {
		t.Fatal(err)
	}
	for i, mr := range mrs {
		if diff := cmp.Diff(dataAbsent, mr.GetMedication().GetCodeableConcept(), protocmp.Transform()); diff != "" {
			t.Errorf("request %d medication (-want +got):\n%s", i+1, diff)
		}
		if len(mr.GetIdentifier()) != 0 {
			t.Errorf("request %d has a line-item identifier the search did not give", i+1)
		}
	}
	if mds, err := MedicationDispenses(src); err != nil || len(mds) != 0 {
		t.Errorf("MedicationDispenses from a search summary = %d, %v; want none", len(mds), err)
	}
}

func TestPatientAndOrganizationAreValidR4(t *testing.T) {
	p := Patient("9691003120")
	if got, want := p.GetId().GetValue(), "9691003120"; got != want {
		t.Errorf("Patient id = %q, want %q", got, want)
	}
	validate(t, p)

	o := Organization(tracker.Organisation{ODS: "FRN79", Name: "NORTHAMPTON PCT", Phone: "0113 397 4320",
		Address: "HIGHFIELD, CLIFTONVILLE ROAD, NORTHAMPTON, NN1 5DN"})
	if got, want := o.GetId().GetValue(), "FRN79"; got != want {
		t.Errorf("Organization id = %q, want %q", got, want)
	}
	if got, want := o.GetTelecom()[0].GetValue().GetValue(), "0113 397 4320"; got != want {
		t.Errorf("Organization phone = %q, want %q", got, want)
	}
	validate(t, o)

	if o := Organization(tracker.Organisation{ODS: "FA666", Name: "Not Found"}); o.GetName() != nil {
		t.Errorf("Spine's \"Not Found\" became the name %q", o.GetName().GetValue())
	}
	if o := Organization(tracker.Organisation{Name: "NO CODE"}); o != nil {
		t.Errorf("an organisation without an ODS code became %v", o)
	}
}
