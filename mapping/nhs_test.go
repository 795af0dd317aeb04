package mapping

import (
	"testing"
	"time"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Hand-written assertions for what the golden files also hold: the goldens were captured from the
// code's own output, so on their own they prove only that nothing changed.

// oneRequest maps src and returns its first MedicationRequest, validated as R4.
func oneRequest(t *testing.T, src Source) *mrpb.MedicationRequest {
	t.Helper()
	mrs, err := MedicationRequests(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(mrs) == 0 {
		t.Fatal("no MedicationRequest")
	}
	validate(t, mrs[0])
	return mrs[0]
}

// ext finds an extension (or a sub-extension) by url; nil when absent.
func ext(exts []*d4pb.Extension, url string) *d4pb.Extension {
	for _, e := range exts {
		if e.GetUrl().GetValue() == url {
			return e
		}
	}
	return nil
}

func countExt(exts []*d4pb.Extension, url string) int {
	n := 0
	for _, e := range exts {
		if e.GetUrl().GetValue() == url {
			n++
		}
	}
	return n
}

func utcDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// dayOf reads a day-precision date value back as its UTC day.
func dayOf(us int64) time.Time { return time.UnixMicro(us).UTC() }

func TestRepeatsHaveOneNumberWithOneMeaning(t *testing.T) {
	detail := func(total int) *tracker.PrescriptionDetail {
		return &tracker.PrescriptionDetail{ID: "48A894-C86002-00009E", TotalAuthorised: total}
	}
	tests := []struct {
		name        string
		src         func() Source
		wantRepeats int // dispenseRequest.numberOfRepeatsAllowed; -1 absent
		wantIssued  int // UK Core numberOfPrescriptionsIssued; -1 no extension
	}{
		{"an acute prescription has neither", func() Source {
			return Source{Prescription: retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenser, tracker.ItemWithDispenser),
				Full: true, Detail: detail(1)}
		}, -1, -1},
		{"repeat dispensing, 6 issues authorised, issue 1: 5 repeats, issue 1", func() Source {
			return Source{Prescription: retrieved(tracker.TreatmentRepeatDispensing, tracker.StatusWithDispenser, tracker.ItemWithDispenser),
				Full: true, Detail: detail(6)}
		}, 5, 1},
		{"repeat dispensing without the 111 details: the issue only", func() Source {
			return Source{Prescription: retrieved(tracker.TreatmentRepeatDispensing, tracker.StatusWithDispenser, tracker.ItemWithDispenser),
				Full: true}
		}, -1, 1},
		{"a repeat-dispensing search lists every issue: 4 issues, issue 3 shown", func() Source {
			p := retrieved(tracker.TreatmentRepeatDispensing, tracker.StatusWithDispenser, tracker.ItemWithDispenser)
			p.Issues = []tracker.Issue{
				{Number: 1, Status: tracker.StatusDispensed, LineItems: p.Issues[0].LineItems},
				{Number: 2, Status: tracker.StatusDispensed, LineItems: p.Issues[0].LineItems},
				{Number: 3, Status: tracker.StatusWithDispenser, LineItems: p.Issues[0].LineItems},
				{Number: 4, Status: tracker.StatusRepeatDispenseFuture, LineItems: p.Issues[0].LineItems},
			}
			p.CurrentIssueNumber = 3
			return Source{Prescription: p}
		}, 3, 3},
		{"repeat prescribing with a single authorised issue: no repeat extension, no repeats", func() Source {
			return Source{Prescription: retrieved(tracker.TreatmentRepeatPrescribing, tracker.StatusWithDispenser, tracker.ItemWithDispenser),
				Full: true, Detail: detail(1)}
		}, 0, -1},
		{"repeat prescribing with 3 authorised issues", func() Source {
			return Source{Prescription: retrieved(tracker.TreatmentRepeatPrescribing, tracker.StatusWithDispenser, tracker.ItemWithDispenser),
				Full: true, Detail: detail(3)}
		}, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mr := oneRequest(t, tt.src())
			got := -1
			if n := mr.GetDispenseRequest().GetNumberOfRepeatsAllowed(); n != nil {
				got = int(n.GetValue())
			}
			if got != tt.wantRepeats {
				t.Errorf("dispenseRequest.numberOfRepeatsAllowed = %d, want %d", got, tt.wantRepeats)
			}
			issued := -1
			if e := ext(mr.GetExtension(), fhir.ExtensionMedicationRepeatInfo); e != nil {
				if len(e.GetExtension()) != 1 {
					t.Errorf("UK Core repeat information has %d parts, want 1", len(e.GetExtension()))
				}
				issued = int(ext(e.GetExtension(), "numberOfPrescriptionsIssued").GetValue().GetUnsignedInt().GetValue())
			}
			if issued != tt.wantIssued {
				t.Errorf("numberOfPrescriptionsIssued = %d, want %d", issued, tt.wantIssued)
			}
			if e := ext(mr.GetExtension(), "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-RepeatInformation"); e != nil {
				t.Errorf("a MedicationRequest carries EPS RepeatInformation, which NHS England puts on a Task: %v", e)
			}
		})
	}
}

func TestExpectedSupplyDurationIsDaysSupplyInUCUMDays(t *testing.T) {
	p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenser, tracker.ItemWithDispenser)
	d := oneRequest(t, Source{Prescription: p, Full: true}).GetDispenseRequest().GetExpectedSupplyDuration()
	if got, want := d.GetValue().GetValue(), "28"; got != want {
		t.Errorf("value = %q, want %q", got, want)
	}
	if d.GetUnit().GetValue() != "day" || d.GetSystem().GetValue() != "http://unitsofmeasure.org" || d.GetCode().GetValue() != "d" {
		t.Errorf("unit = %q %s|%s, want day http://unitsofmeasure.org|d",
			d.GetUnit().GetValue(), d.GetSystem().GetValue(), d.GetCode().GetValue())
	}

	p.DaysSupply = 0 // Spine gave none
	if d := oneRequest(t, Source{Prescription: p, Full: true}).GetDispenseRequest().GetExpectedSupplyDuration(); d != nil {
		t.Errorf("without daysSupply, expectedSupplyDuration = %v", d)
	}
}

func TestRequesterIsThePrescribingOrganisation(t *testing.T) {
	t.Run("from the retrieve", func(t *testing.T) {
		r := oneRequest(t, Source{Prescription: retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenser, tracker.ItemWithDispenser), Full: true}).GetRequester()
		if got, want := r.GetOrganizationId().GetValue(), "Y90206"; got != want {
			t.Errorf("requester = Organization/%s, want Organization/%s", got, want)
		}
		if r.GetIdentifier().GetSystem().GetValue() != fhir.SystemODSOrganization || r.GetIdentifier().GetValue().GetValue() != "Y90206" {
			t.Errorf("requester identifier = %v, want the ODS code", r.GetIdentifier())
		}
		if got, want := r.GetDisplay().GetValue(), "TEST GP PRACTICE 14"; got != want {
			t.Errorf("requester display = %q, want %q", got, want)
		}
	})
	t.Run("named by the 111 details only", func(t *testing.T) {
		p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenser, tracker.ItemWithDispenser)
		p.Prescriber = tracker.Organisation{}
		r := oneRequest(t, Source{Prescription: p, Full: true, Detail: &tracker.PrescriptionDetail{
			ID: p.ID, Prescriber: tracker.Organisation{ODS: "A83008", Name: "HALLGARTH SURGERY"},
		}}).GetRequester()
		if got, want := r.GetOrganizationId().GetValue(), "A83008"; got != want {
			t.Errorf("requester = Organization/%s, want Organization/%s", got, want)
		}
	})
	t.Run("absent from a search's summary", func(t *testing.T) {
		p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenser, tracker.ItemWithDispenser)
		p.Prescriber = tracker.Organisation{}
		if r := oneRequest(t, Source{Prescription: p}).GetRequester(); r != nil {
			t.Errorf("requester = %v, want none", r)
		}
	})
}

func TestDispensingDates(t *testing.T) {
	p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenserActive, tracker.ItemFullyDispensed, tracker.ItemNotDispensedOwing)
	p.Issues[0].LastDispenseDate = time.Date(2020, 1, 8, 15, 30, 0, 0, time.UTC)
	src := Source{Prescription: p, Full: true, Detail: &tracker.PrescriptionDetail{
		ID:                     p.ID,
		DownloadDate:           utcDay(2020, 1, 7),
		ClaimedDate:            utcDay(2020, 2, 1),
		LastIssueDispensedDate: utcDay(2020, 1, 8),
	}}
	mrs, err := MedicationRequests(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, mr := range mrs {
		info := ext(mr.GetExtension(), fhir.ExtensionDispensingInfo)
		if got, want := dayOf(ext(info.GetExtension(), "dateLastDispensed").GetValue().GetDate().GetValueUs()), utcDay(2020, 1, 8); !got.Equal(want) {
			t.Errorf("%s dateLastDispensed = %v, want %v", mr.GetId().GetValue(), got, want)
		}
		rel := ext(mr.GetExtension(), fhir.ExtensionDispensingRelease)
		for name, want := range map[string]time.Time{
			"dateDownloaded": utcDay(2020, 1, 7), "dateClaimed": utcDay(2020, 2, 1), "dateLastIssuedDispensed": utcDay(2020, 1, 8),
		} {
			if got := dayOf(ext(rel.GetExtension(), name).GetValue().GetDate().GetValueUs()); !got.Equal(want) {
				t.Errorf("%s %s = %v, want %v", mr.GetId().GetValue(), name, got, want)
			}
		}
		validate(t, mr)
	}
	mds, err := MedicationDispenses(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(mds) != 2 {
		t.Fatalf("got %d dispenses, want 2 (dispensed, owing)", len(mds))
	}
	handed := mds[0].GetWhenHandedOver()
	if handed == nil || handed.GetPrecision() != d4pb.DateTime_DAY || !dayOf(handed.GetValueUs()).Equal(utcDay(2020, 1, 8)) {
		t.Errorf("the dispensed item's whenHandedOver = %v, want the day 2020-01-08", handed)
	}
	if h := mds[1].GetWhenHandedOver(); h != nil {
		t.Errorf("the owing item was handed over on %v, want never", h)
	}

	// Without the 111 details there are no release dates, and no extension for them.
	src.Detail = nil
	if e := ext(oneRequest(t, src).GetExtension(), fhir.ExtensionDispensingRelease); e != nil {
		t.Errorf("release information without the 111 details: %v", e)
	}
}

func TestPendingCancellationIsShown(t *testing.T) {
	for _, pending := range []bool{false, true} {
		p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenser, tracker.ItemWithDispenser)
		p.PendingCancellations = pending
		e := ext(oneRequest(t, Source{Prescription: p, Full: true}).GetExtension(), fhir.ExtensionPendingCancel)
		v := ext(e.GetExtension(), "prescriptionPendingCancellation").GetValue()
		if v.GetBoolean() == nil || v.GetBoolean().GetValue() != pending {
			t.Errorf("pendingCancellations %v: prescriptionPendingCancellation = %v", pending, v)
		}
	}
}

func TestAuthoredOnIsTheIssueDate(t *testing.T) {
	signed := time.Date(2026, 11, 19, 10, 11, 30, 0, time.UTC)
	issued := time.Date(2026, 11, 19, 10, 13, 0, 0, time.UTC)
	other := time.Date(2026, 11, 19, 10, 20, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change func(*Source)
		want   time.Time // zero: absent
	}{
		{"a search's issue date, not the signing date", func(s *Source) { s.Prescription.IssueDate = issued }, issued},
		{"a retrieve gives only the signing date: absent", func(s *Source) {}, time.Time{}},
		{"a retrieve with the search's issue date", func(s *Source) { s.IssueDate = issued }, issued},
		{"a retrieve with the 111 details' issue date", func(s *Source) {
			s.Detail = &tracker.PrescriptionDetail{ID: s.Prescription.ID, IssueDate: issued}
		}, issued},
		{"a retrieve with the 111 summary's issue date", func(s *Source) {
			s.Summary = &tracker.ItemSummary{ID: s.Prescription.ID, IssueDate: issued}
		}, issued},
		{"the search's date comes before the 111 details'", func(s *Source) {
			s.IssueDate = issued
			s.Detail = &tracker.PrescriptionDetail{ID: s.Prescription.ID, IssueDate: other}
		}, issued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenser, tracker.ItemWithDispenser)
			p.SigningDate = signed
			src := Source{Prescription: p, Full: true}
			tt.change(&src)
			a := oneRequest(t, src).GetAuthoredOn()
			if tt.want.IsZero() {
				if a != nil {
					t.Errorf("authoredOn = %v, want absent", time.UnixMicro(a.GetValueUs()).UTC())
				}
				return
			}
			if a == nil {
				t.Fatalf("authoredOn absent, want %v", tt.want)
			}
			if got := time.UnixMicro(a.GetValueUs()).UTC(); !got.Equal(tt.want) || a.GetPrecision() != d4pb.DateTime_SECOND {
				t.Errorf("authoredOn = %v (%v), want %v to the second", got, a.GetPrecision(), tt.want)
			}
		})
	}
}

func TestLineItemStatusDisplaysAreCPTs(t *testing.T) {
	want := map[tracker.LineItemStatus]string{
		"0001": "Item fully dispensed",
		"0002": "Item not dispensed",
		"0003": "Item dispensed - partial",
		"0004": "Item not dispensed - owing",
		"0005": "Item Cancelled",
		"0006": "Expired",
		"0007": "Item to be dispensed",
		"0008": "Item with dispenser",
	}
	for _, s := range tracker.LineItemStatuses {
		ps := tracker.StatusWithDispenserActive
		if s == tracker.ItemToBeDispensed {
			ps = tracker.StatusToBeDispensed
		}
		mr := oneRequest(t, Source{Prescription: retrieved(tracker.TreatmentAcute, ps, s), Full: true})
		c := ext(ext(mr.GetExtension(), fhir.ExtensionDispensingInfo).GetExtension(), "dispenseStatus").GetValue().GetCoding()
		if c.GetSystem().GetValue() != fhir.SystemDispenseType || c.GetCode().GetValue() != string(s) || c.GetDisplay().GetValue() != want[s] {
			t.Errorf("%s: dispenseStatus = %s|%s %q, want %s|%s %q", s, c.GetSystem().GetValue(), c.GetCode().GetValue(),
				c.GetDisplay().GetValue(), fhir.SystemDispenseType, s, want[s])
		}
	}
}

func TestMedicationDispenseFollowsNHSDigitalProfile(t *testing.T) {
	p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenserActive,
		tracker.ItemFullyDispensed, tracker.ItemWithDispenser, tracker.ItemNotDispensed)
	src := Source{Prescription: p, Full: true}
	mds, err := MedicationDispenses(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(mds) != 2 {
		t.Fatalf("got %d dispenses, want 2: the item only with a dispenser has none", len(mds))
	}
	for _, md := range mds {
		if n := countExt(md.GetExtension(), fhir.ExtensionBusinessStatus); n != 1 {
			t.Fatalf("%s has %d business-status extensions, want exactly 1", md.GetId().GetValue(), n)
		}
		c := ext(md.GetExtension(), fhir.ExtensionBusinessStatus).GetValue().GetCoding()
		if c.GetSystem().GetValue() != fhir.SystemBusinessStatus || c.GetCode().GetValue() != "0003" {
			t.Errorf("%s business status = %s|%s, want %s|0003", md.GetId().GetValue(), c.GetSystem().GetValue(), c.GetCode().GetValue(), fhir.SystemBusinessStatus)
		}
	}
	if id := mds[0].GetIdentifier(); len(id) != 1 || id[0].GetSystem().GetValue() != fhir.SystemLineItemID ||
		id[0].GetValue().GetValue() != "9ba2f6bd-1524-6f8b-e050-d20ae3a254fd" {
		t.Errorf("line 1 identifier = %v, want the lower-cased line-item UUID", id)
	}
	if got, want := mds[1].GetStatus().GetValue(), c4pb.MedicationDispenseStatusCode_DECLINED; got != want {
		t.Errorf("line 3 status = %v, want %v", got, want)
	}

	t.Run("read by id", func(t *testing.T) {
		id, issue, ordinal, ok := ParseMedicationDispenseID("d-48A894-C86002-00009E-1-3")
		if !ok || id != p.ID || issue != 1 || ordinal != 3 {
			t.Fatalf("ParseMedicationDispenseID = %q %d %d %v", id, issue, ordinal, ok)
		}
		md, err := MedicationDispense(Source{Prescription: p, Full: true, IssueNumber: issue}, ordinal)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := md.GetId().GetValue(), "d-48A894-C86002-00009E-1-3"; got != want {
			t.Errorf("id = %q, want %q", got, want)
		}
		validate(t, md)
		for _, ord := range []int{2, 4} { // only with a dispenser; no such line
			if md, err := MedicationDispense(src, ord); err != nil || md != nil {
				t.Errorf("line %d: MedicationDispense = %v, %v; want nil, nil (a 404)", ord, md, err)
			}
		}
	})
}

func TestOrganisationsAreThoseTheResourcesReference(t *testing.T) {
	p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenserActive, tracker.ItemFullyDispensed)
	p.NominatedDispenser = tracker.Organisation{ODS: "FRN79"} // the nominated pharmacy dispensed it
	orgs, err := Organisations(Source{Prescription: p, Full: true, Detail: &tracker.PrescriptionDetail{
		ID: p.ID, Prescriber: tracker.Organisation{ODS: "Y90206", Phone: "01234 567890"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []tracker.Organisation{
		{ODS: "Y90206", Name: "TEST GP PRACTICE 14", Phone: "01234 567890"},
		{ODS: "FRN79"},
	}
	if len(orgs) != len(want) {
		t.Fatalf("Organisations = %v, want %v", orgs, want)
	}
	for i := range want {
		if orgs[i] != want[i] {
			t.Errorf("organisation %d = %+v, want %+v", i, orgs[i], want[i])
		}
		validate(t, Organization(orgs[i]))
	}
	if _, err := Organisations(Source{}); err == nil {
		t.Error("Organisations of no prescription gave no error")
	}
}

func TestPatientHoldsOnlyTheNHSNumberAndSaysSo(t *testing.T) {
	p := Patient("9691003120")
	if tags := p.GetMeta().GetTag(); len(tags) != 1 || tags[0].GetCode().GetValue() != TagSubsetted ||
		tags[0].GetSystem().GetValue() != fhir.SystemObservationValue {
		t.Errorf("Patient meta.tag = %v, want SUBSETTED", tags)
	}
	if ids := p.GetIdentifier(); len(ids) != 1 || ids[0].GetSystem().GetValue() != fhir.SystemNHSNumber || ids[0].GetValue().GetValue() != "9691003120" {
		t.Errorf("Patient identifier = %v, want the NHS number", ids)
	}
	if p.GetName() != nil || p.GetBirthDate() != nil || p.GetGender() != nil || p.GetAddress() != nil {
		t.Errorf("Patient shows demographics the adapter does not have: %v", p)
	}
	validate(t, p)
}
