package sandbox

import (
	"crypto/sha1"
	"fmt"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// The sandbox keeps its own record of a prescription, richer than tracker.Prescription: one record
// feeds all four interactions, so it holds what the basic calls show (codes, issues) and what only the
// 111 calls show (medication, addresses, download and claim dates).

type org struct {
	ODS, Name, Address, Phone string
}

type prescriberType struct {
	Code, Text string
}

// medication is one dm+d product as the 111 details show it. Every code and name comes from the real
// Spine payloads in SPEC's sources.
type medication struct {
	Code, Name, Quantity, Unit, Dosage string
}

type line struct {
	ID  string // upper-case UUID, the same on every issue of the prescription
	Med medication
}

type issue struct {
	Number               int
	Status               tracker.PrescriptionStatus
	Items                []tracker.LineItemStatus // by line ordinal - 1
	Released             time.Time                // issueDate; zero sends "False"
	Downloaded           time.Time
	Dispenser            org
	Dispensed            time.Time // lastDispenseDate
	Claimed              time.Time
	AppliedCancellations bool
	LastEvent            time.Time
}

type prescription struct {
	ID                   string
	NHSNumber            string
	Treatment            tracker.TreatmentType
	Type                 prescriberType
	Prescriber           org
	Nominated            org // zero: not nominated
	DaysSupply           int
	IssueDate            time.Time // prescriptionIssueDate: the clinically effective date, may be future
	SigningDate          time.Time // R2 only
	LastEvent            time.Time
	CurrentIssue         int
	PendingCancellations bool
	Lines                []line
	Issues               []issue
}

func (p *prescription) issue(n int) *issue {
	for i := range p.Issues {
		if p.Issues[i].Number == n {
			return &p.Issues[i]
		}
	}
	return nil
}

func (p *prescription) current() *issue { return p.issue(p.CurrentIssue) }

func (p *prescription) version() tracker.Version { return tracker.VersionOf(p.ID) }

// typicalItems is what line items usually look like under each prescription status; every entry is
// allowed by tracker.ValidItemStatuses (a test checks).
var typicalItems = map[tracker.PrescriptionStatus][]tracker.LineItemStatus{
	tracker.StatusAwaitingReleaseReady:    {tracker.ItemToBeDispensed},
	tracker.StatusToBeDispensed:           {tracker.ItemToBeDispensed},
	tracker.StatusWithDispenser:           {tracker.ItemWithDispenser},
	tracker.StatusWithDispenserActive:     {tracker.ItemFullyDispensed, tracker.ItemPartialDispensed, tracker.ItemNotDispensedOwing, tracker.ItemWithDispenser},
	tracker.StatusExpired:                 {tracker.ItemExpired},
	tracker.StatusCancelled:               {tracker.ItemCancelled},
	tracker.StatusDispensed:               {tracker.ItemFullyDispensed, tracker.ItemFullyDispensed, tracker.ItemNotDispensed},
	tracker.StatusNotDispensed:            {tracker.ItemNotDispensed},
	tracker.StatusClaimed:                 {tracker.ItemFullyDispensed},
	tracker.StatusNoClaimed:               {tracker.ItemFullyDispensed, tracker.ItemNotDispensed},
	tracker.StatusRepeatDispenseFuture:    {tracker.ItemToBeDispensed},
	tracker.StatusFutureDatedPrescription: {tracker.ItemToBeDispensed},
	tracker.StatusPendingCancellation:     {tracker.ItemCancelled},
}

// withDispenser: the issue has been downloaded by a dispenser, so Spine knows who holds it and the
// search shows an issueDate. Issues never downloaded show "False" (as the real To Be Dispensed and
// future examples do).
func withDispenser(s tracker.PrescriptionStatus) bool {
	switch s {
	case tracker.StatusWithDispenser, tracker.StatusWithDispenserActive, tracker.StatusDispensed,
		tracker.StatusNotDispensed, tracker.StatusClaimed, tracker.StatusNoClaimed:
		return true
	}
	return false
}

// newIssue builds an issue whose dates and dispenser follow from its status: released and downloaded
// soon after start, dispensed the same afternoon, claimed after that. start is at most 16:00 on a past
// day for anything that has happened, so every event lies before today.
func newIssue(n int, start time.Time, st tracker.PrescriptionStatus, dispenser org, items []tracker.LineItemStatus) issue {
	is := issue{Number: n, Status: st, Items: items}
	if withDispenser(st) {
		is.Released = start.Add(30 * time.Minute)
		is.Downloaded = start.Add(2*time.Hour + 13*time.Minute)
		is.Dispenser = dispenser
	}
	switch st {
	case tracker.StatusWithDispenserActive, tracker.StatusDispensed, tracker.StatusNotDispensed,
		tracker.StatusClaimed, tracker.StatusNoClaimed:
		is.Dispensed = start.Add(5*time.Hour + 7*time.Minute)
	}
	if st == tracker.StatusClaimed || st == tracker.StatusNoClaimed {
		is.Claimed = start.Add(7*time.Hour + 41*time.Minute)
	}
	for _, it := range items {
		if it == tracker.ItemCancelled {
			is.AppliedCancellations = true
		}
	}
	is.LastEvent = latest(start, is.Released, is.Downloaded, is.Dispensed, is.Claimed)
	if st == tracker.StatusCancelled {
		is.LastEvent = start.Add(3 * time.Hour)
	}
	return is
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// finish fills what follows from the rest: the current issue, the last event (only events before
// today count: future issues and post-dated effective dates have not happened).
func (p *prescription) finish(today time.Time) {
	if p.CurrentIssue == 0 {
		p.CurrentIssue = 1
		for _, is := range p.Issues {
			if is.Status != tracker.StatusRepeatDispenseFuture && is.Status != tracker.StatusPendingCancellation {
				p.CurrentIssue = is.Number
			}
		}
	}
	if p.DaysSupply == 0 {
		p.DaysSupply = 28
	}
	var last time.Time
	for _, t := range []time.Time{p.IssueDate, p.SigningDate, p.LastEvent} {
		if t.Before(today) && t.After(last) {
			last = t
		}
	}
	for _, is := range p.Issues {
		if is.LastEvent.Before(today) && is.LastEvent.After(last) {
			last = is.LastEvent
		}
	}
	p.LastEvent = last
}

// lineID derives a stable upper-case UUID for line n of a prescription.
func lineID(prescriptionID string, n int) string {
	h := sha1.Sum([]byte(fmt.Sprintf("sandbox line %s %d", prescriptionID, n)))
	return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func makeLines(prescriptionID string, meds []medication) []line {
	ls := make([]line, len(meds))
	for i, m := range meds {
		ls[i] = line{ID: lineID(prescriptionID, i+1), Med: m}
	}
	return ls
}

// withCheck appends the check character to an ID payload such as "7A1C3E-C86002-0001F".
func withCheck(payload string) string {
	c, ok := tracker.CheckCharacter(payload)
	if !ok {
		panic("sandbox: bad prescription ID payload " + payload)
	}
	return payload + string(c)
}
