package sandbox

import (
	"fmt"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// Organisations, prescriber types and medication, all as they appear in the real example payloads.
var (
	orgAhmed    = org{"B81001", "DR ME AHMED'S PRACTICE", "700 HOLDERNESS ROAD, HULL, NORTH HUMBERSIDE, HU9 3JA", "01482711112"}
	orgRothbury = org{"A84002", "THE ROTHBURY PRACTICE", "3 MARKET PLACE, ROTHBURY, MORPETH, NE65 7UW", "01669620339"}
	orgVernon   = org{"C81007", "VERNON STREET MEDICAL CTR", "13 VERNON STREET, DERBY, DERBYSHIRE, DE1 1FW", "01332332812"}
	orgEveryDay = org{"M12345", "EveryDay Surgery", "Beacon Lane, Harlow, Essex, HP6 1TT", "01234098765"}
	orgTestGP14 = org{"Y90206", "XXX DO NOT USE XXX TEST GP PRACTICE 14", "", ""}

	orgAllison  = org{"FRN79", "ALLISON RL", "HIGHFIELD, CLIFTONVILLE ROAD, NORTHAMPTON, NN1 5DN", "0113 397 4320"}
	orgCroydon  = org{"FA666", "CROYDON PHARMACY", "", ""}
	orgFX012    = org{"FX012", "", "", ""}
	orgAcme     = org{"FF123", "ACME Pharmacy", "23 High Street, Harlow, Essex, HP2 7RE", "01234567890"}
	orgFreds    = org{"FB444", "Freds Pharmacy", "7 Waterfields Way, Harlow, Essex, HP2 5AB", "01234567999"}
	orgTestPh   = org{"FA00D", "Test Pharmacy", "The Pharmacy, The Street, SW8 3QJ", "07775123456"}
	orgAlliance = org{"FL584", "ALLIANCE PHARMACY", "", ""}

	prescribers = []org{orgAhmed, orgRothbury, orgVernon, orgEveryDay, orgTestGP14}
	dispensers  = []org{orgAllison, orgCroydon, orgAcme, orgFreds, orgTestPh, orgAlliance}

	typeGP          = prescriberType{"0001", "GENERAL PRACTITIONER PRESCRIBING"}
	typeGPGP        = prescriberType{"0101", "GENERAL PRACTITIONER PRESCRIBING - GP"}
	typePharmacist  = prescriberType{"0108", "PRIMARY CARE PRESCRIBER - PHARMACIST INDEPENDENT/SUPPLEMENTARY PRESCRIBER"}
	prescriberTypes = []prescriberType{typeGP, typeGPGP, typePharmacist}

	medBeclometasone = medication{"408063002", "Beclometasone 100micrograms/dose inhaler CFC free", "200", "dose", "As Directed"}
	medAtorvastatin  = medication{"320029006", "Atorvastatin 10mg tablets", "28", "tablet", "As Directed"}
	medCertolizumab  = medication{"17315811000001100", "Certolizumab pegol 200mg/1ml solution for injection pre-filled syringes", "2", "syringe", "As Directed"}
	medLidocaine     = medication{"3602511000001108", "Lidocaine 400mg/20ml (2%) / Adrenaline (base) 100micrograms/20ml (1 in 200,000) solution for injection vials", "1", "vial", "As Directed"}
	medPerindopril   = medication{"318896009", "Perindopril erbumine 2mg tablets", "28", "tablet", "One tablet in the morning"}
	medMetforminMR   = medication{"386047000", "Metformin 500mg modified-release tablets", "56", "tablet", "One tablet twice a day"}
	medMicronor      = medication{"193611000001107", "Micronor 350microgram tablets (Janssen-Cilag Ltd)", "84", "tablet", "As Directed"}
	medEarDrops      = medication{"330987003", "Sodium bicarbonate 5% ear drops", "12.5", "ml", "As Directed"} // decimal quantity on purpose
	medOilatum       = medication{"159411000001102", "Oilatum Emollient (GlaxoSmithKline Consumer Healthcare)", "250", "ml", "As Directed"}
	medBydureon      = medication{"28426011000001108", "Bydureon 2mg powder and solvent for prolonged-release suspension for injection pre-filled pen (AstraZeneca UK Ltd)", "4", "pre-filled disposable injection", "Inject subcutaneously as directed"}

	medications = []medication{medBeclometasone, medAtorvastatin, medCertolizumab, medLidocaine, medPerindopril,
		medMetforminMR, medMicronor, medEarDrops, medOilatum, medBydureon}
)

// dataset is every prescription the sandbox knows for one day; dates are relative to that day.
type dataset struct {
	byID      map[string]*prescription
	byPayload map[string]*prescription // ID without its check character
	byPatient map[string][]*prescription
}

func newDataset() *dataset {
	return &dataset{byID: map[string]*prescription{}, byPayload: map[string]*prescription{}, byPatient: map[string][]*prescription{}}
}

func (d *dataset) add(ps ...*prescription) {
	for _, p := range ps {
		d.byID[p.ID] = p
		d.byPayload[p.ID[:len(p.ID)-1]] = p
		d.byPatient[p.NHSNumber] = append(d.byPatient[p.NHSNumber], p)
	}
}

// builder makes prescriptions relative to today (midnight UTC of the clock's day).
type builder struct {
	today      time.Time
	prescriber org
	ptype      prescriberType
	nominated  org
	dispenser  org
}

// at is daysAgo days before today at hh:mm UTC; a negative daysAgo is in the future.
func (b *builder) at(daysAgo, hh, mm int) time.Time {
	return b.today.AddDate(0, 0, -daysAgo).Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
}

func (b *builder) base(id, nhs string, t tracker.TreatmentType, issued time.Time, meds []medication) *prescription {
	p := &prescription{
		ID: id, NHSNumber: nhs, Treatment: t, Type: b.ptype, Prescriber: b.prescriber, Nominated: b.nominated,
		IssueDate: issued, Lines: makeLines(id, meds),
	}
	if p.version() == tracker.VersionR2 {
		p.SigningDate = issued.Add(-90 * time.Second)
	}
	return p
}

// single is an acute or repeat-prescribing prescription: one issue.
func (b *builder) single(id, nhs string, t tracker.TreatmentType, daysAgo int, st tracker.PrescriptionStatus, meds []medication, items ...tracker.LineItemStatus) *prescription {
	issued := b.at(daysAgo, 9+daysAgo%6, 12+daysAgo%40)
	p := b.base(id, nhs, t, issued, meds)
	p.Issues = []issue{newIssue(1, issued, st, b.dispenser, fill(items, len(meds), st))}
	p.finish(b.today)
	return p
}

// repeatDispensing is an eRD prescription whose issues fall every interval days from firstDaysAgo.
func (b *builder) repeatDispensing(id, nhs string, firstDaysAgo, interval int, meds []medication, specs ...issueSpec) *prescription {
	issued := b.at(firstDaysAgo, 10, 7)
	p := b.base(id, nhs, tracker.TreatmentRepeatDispensing, issued, meds)
	p.DaysSupply = interval
	for i, s := range specs {
		start := issued.AddDate(0, 0, i*interval)
		p.Issues = append(p.Issues, newIssue(i+1, start, s.status, b.dispenser, fill(s.items, len(meds), s.status)))
	}
	p.finish(b.today)
	return p
}

type issueSpec struct {
	status tracker.PrescriptionStatus
	items  []tracker.LineItemStatus
}

func issueOf(st tracker.PrescriptionStatus, items ...tracker.LineItemStatus) issueSpec {
	return issueSpec{st, items}
}

// fill gives n line items: those given, then the status's typical ones in turn.
func fill(items []tracker.LineItemStatus, n int, st tracker.PrescriptionStatus) []tracker.LineItemStatus {
	out := make([]tracker.LineItemStatus, n)
	typical := typicalItems[st]
	for i := range out {
		if i < len(items) {
			out[i] = items[i]
		} else {
			out[i] = typical[i%len(typical)]
		}
	}
	return out
}

// setLines gives a prescription the line-item UUIDs of a real example.
func setLines(p *prescription, ids ...string) *prescription {
	for i, id := range ids {
		p.Lines[i].ID = id
	}
	return p
}

const (
	acute     = tracker.TreatmentAcute
	repeat    = tracker.TreatmentRepeatPrescribing
	toBe      = tracker.ItemToBeDispensed
	withDisp  = tracker.ItemWithDispenser
	fully     = tracker.ItemFullyDispensed
	notDisp   = tracker.ItemNotDispensed
	partial   = tracker.ItemPartialDispensed
	owing     = tracker.ItemNotDispensedOwing
	cancelled = tracker.ItemCancelled
	expired   = tracker.ItemExpired
)

func meds(ms ...medication) []medication { return ms }

// documented builds the documented data set for the day starting at today.
func documented(today time.Time) *dataset {
	d := newDataset()
	b := &builder{today: today}

	// PatientAcuteAndRepeat: the R1 pair of the real search example, plus R2 ones.
	b.prescriber, b.ptype, b.nominated, b.dispenser = orgVernon, typeGP, orgFX012, orgAllison
	d.add(
		b.single(RxR1AcuteWithDispenser, PatientAcuteAndRepeat, acute, 5, tracker.StatusWithDispenser, meds(medBeclometasone, medAtorvastatin), withDisp, withDisp),
		b.single(RxR1RepeatWithDispenser, PatientAcuteAndRepeat, repeat, 5, tracker.StatusWithDispenser, meds(medPerindopril, medMetforminMR), withDisp, withDisp),
		b.single(RxAcuteDispensed, PatientAcuteAndRepeat, acute, 3, tracker.StatusDispensed, meds(medEarDrops, medOilatum), fully, notDisp),
		b.single(RxRepeatPrescribingClaimed, PatientAcuteAndRepeat, repeat, 10, tracker.StatusClaimed, meds(medPerindopril, medMetforminMR), fully, fully),
		b.single(RxAcuteToBeDispensed, PatientAcuteAndRepeat, acute, 1, tracker.StatusToBeDispensed, meds(medAtorvastatin), toBe),
		b.single(RxAcuteOldClaimed, PatientAcuteAndRepeat, acute, 45, tracker.StatusClaimed, meds(medMicronor), fully),
	)

	// PatientRepeatDispensing: the real fixtures' prescriber and pharmacies.
	b.prescriber, b.ptype, b.nominated, b.dispenser = orgEveryDay, typeGPGP, orgAcme, orgFreds
	d.add(
		b.repeatDispensing(RxRepeatDispensing, PatientRepeatDispensing, 20, 7, meds(medPerindopril, medMetforminMR),
			issueOf(tracker.StatusClaimed, fully, fully),
			issueOf(tracker.StatusDispensed, fully, notDisp),
			issueOf(tracker.StatusWithDispenserActive, partial, owing),
			issueOf(tracker.StatusRepeatDispenseFuture), issueOf(tracker.StatusRepeatDispenseFuture), issueOf(tracker.StatusRepeatDispenseFuture)),
		setLines(b.repeatDispensing(RxRepeatDispensingOld, PatientRepeatDispensing, 60, 28, meds(medPerindopril, medMetforminMR),
			issueOf(tracker.StatusClaimed, fully, fully),
			issueOf(tracker.StatusDispensed, fully, fully),
			issueOf(tracker.StatusToBeDispensed, toBe, toBe),
			issueOf(tracker.StatusRepeatDispenseFuture), issueOf(tracker.StatusRepeatDispenseFuture), issueOf(tracker.StatusRepeatDispenseFuture)),
			"30B7E9CF-6F42-40A8-84C1-E61EF638EEE2", "636F1B57-E18C-4F45-ACAE-2D7DB86B6E1E"),
	)

	// PatientR1: the real 111 R1 examples (R1 prescriptions carry no signing date).
	b.prescriber, b.ptype, b.nominated, b.dispenser = orgAhmed, typeGP, org{}, orgAllison
	d.add(
		setLines(b.single(RxR1Acute, PatientR1, acute, 7, tracker.StatusWithDispenser, meds(medBeclometasone, medAtorvastatin)),
			"9C18AE6F-511F-F7A3-E050-D20AE3A231C8", "9C18AE6F-5124-F7A3-E050-D20AE3A231C8"),
		b.single(RxR1RepeatPrescribing, PatientR1, repeat, 7, tracker.StatusWithDispenser, meds(medMicronor, medOilatum)),
	)

	// PatientAllStatuses: one prescription per status; together every line-item status.
	b.prescriber, b.ptype, b.nominated, b.dispenser = orgRothbury, typePharmacist, orgTestPh, orgTestPh
	pending := b.single(RxPendingCancellation, PatientAllStatuses, acute, 3, tracker.StatusWithDispenser, meds(medCertolizumab, medLidocaine), withDisp, withDisp)
	pending.PendingCancellations = true
	future := b.single(RxFutureDated, PatientAllStatuses, acute, -5, tracker.StatusFutureDatedPrescription, meds(medAtorvastatin), toBe)
	future.SigningDate = b.at(1, 11, 5)
	future.finish(today)
	d.add(
		b.single(RxAwaitingReleaseReady, PatientAllStatuses, acute, 1, tracker.StatusAwaitingReleaseReady, meds(medAtorvastatin), toBe),
		b.single(RxToBeDispensed, PatientAllStatuses, acute, 2, tracker.StatusToBeDispensed, meds(medPerindopril, medMetforminMR), toBe, cancelled),
		pending,
		b.single(RxWithDispenserActive, PatientAllStatuses, acute, 4, tracker.StatusWithDispenserActive, meds(medCertolizumab, medLidocaine, medEarDrops, medOilatum), fully, partial, owing, withDisp),
		b.single(RxExpired, PatientAllStatuses, acute, 26, tracker.StatusExpired, meds(medMicronor, medBydureon), expired, expired),
		b.single(RxCancelled, PatientAllStatuses, acute, 6, tracker.StatusCancelled, meds(medBeclometasone), cancelled),
		b.single(RxDispensed, PatientAllStatuses, acute, 8, tracker.StatusDispensed, meds(medPerindopril, medMetforminMR), fully, notDisp),
		b.single(RxNotDispensed, PatientAllStatuses, acute, 9, tracker.StatusNotDispensed, meds(medOilatum, medEarDrops), notDisp, notDisp),
		b.single(RxClaimed, PatientAllStatuses, acute, 12, tracker.StatusClaimed, meds(medAtorvastatin, medBeclometasone), fully, fully),
		b.single(RxNoClaimed, PatientAllStatuses, acute, 14, tracker.StatusNoClaimed, meds(medPerindopril, medMicronor), fully, notDisp),
		future,
		b.repeatDispensing(RxRepeatDispensingCancelled, PatientAllStatuses, 15, 7, meds(medMetforminMR, medPerindopril),
			issueOf(tracker.StatusDispensed, fully, fully),
			issueOf(tracker.StatusCancelled, cancelled, cancelled),
			issueOf(tracker.StatusPendingCancellation), issueOf(tracker.StatusPendingCancellation)),
	)

	// PatientRepeatPrescribing: the real retrieve example and its predecessors.
	b.prescriber, b.ptype, b.nominated, b.dispenser = orgTestGP14, typePharmacist, orgFX012, orgAllison
	d.add(
		setLines(b.single(RxRepeatPrescribingActive, PatientRepeatPrescribing, repeat, 2, tracker.StatusWithDispenserActive, meds(medPerindopril, medMetforminMR), owing, fully),
			"9BA2F6BD-1524-6F8B-E050-D20AE3A254FD", "9BA2F6BD-1529-6F8B-E050-D20AE3A254FD"),
		b.single("7F3A10-Y90206-00041W", PatientRepeatPrescribing, repeat, 30, tracker.StatusClaimed, meds(medPerindopril, medMetforminMR), fully, fully),
		b.single("7F3A11-Y90206-000424", PatientRepeatPrescribing, repeat, 58, tracker.StatusClaimed, meds(medPerindopril, medMetforminMR), fully, fully),
	)

	// PatientOnlyOld: the real ghpages retrieve example (with its check character corrected).
	b.prescriber, b.ptype, b.nominated, b.dispenser = orgVernon, typeGP, orgCroydon, orgCroydon
	d.add(
		setLines(b.single(RxOldClaimed, PatientOnlyOld, acute, 40, tracker.StatusClaimed, meds(medAtorvastatin, medBeclometasone), fully, fully),
			"02ED7776-21CD-4E7B-AC9D-D1DBFEE7B8CF", "45D5FB11-D793-4D51-9ADD-95E0F54D2786"),
		b.single("2E9B90-ZC2D5C-11E39A", PatientOnlyOld, acute, 90, tracker.StatusNoClaimed, meds(medMicronor), fully),
	)

	// PatientManyItems: 15 prescriptions of 4 items, one to 27 days old.
	b.prescriber, b.ptype, b.nominated, b.dispenser = orgVernon, typeGPGP, orgAlliance, orgAlliance
	cycle := []tracker.PrescriptionStatus{tracker.StatusToBeDispensed, tracker.StatusWithDispenser,
		tracker.StatusWithDispenserActive, tracker.StatusDispensed, tracker.StatusClaimed}
	for i := 0; i < 15; i++ {
		id := withCheck(fmt.Sprintf("B0B%03X-C81007-%05X", i, 0x10000+i))
		ms := []medication{medications[i%10], medications[(i+1)%10], medications[(i+2)%10], medications[(i+3)%10]}
		t := acute
		if i%3 == 0 {
			t = repeat
		}
		d.add(b.single(id, PatientManyItems, t, 1+i*26/14, cycle[i%len(cycle)], ms))
	}

	// PatientFaultLatency has one prescription, so that a slow answer has content.
	b.prescriber, b.ptype, b.nominated, b.dispenser = orgAhmed, typeGP, org{}, orgAllison
	d.add(b.single("FA17E0-A83010-00001E", PatientFaultLatency, acute, 2, tracker.StatusWithDispenser, meds(medAtorvastatin)))
	return d
}
