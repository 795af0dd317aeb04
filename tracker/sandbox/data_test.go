package sandbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// checkPrescription reports every way p breaks Spine's rules.
func checkPrescription(p *prescription) []string {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, p.ID+": "+fmt.Sprintf(format, args...)) }
	if !tracker.ValidPrescriptionID(p.ID) {
		add("invalid prescription ID")
	}
	if !tracker.ValidNHSNumber(p.NHSNumber) {
		add("invalid NHS number %s", p.NHSNumber)
	}
	if !p.Treatment.Valid() {
		add("treatment type %q", p.Treatment)
	}
	if p.current() == nil {
		add("current issue %d does not exist", p.CurrentIssue)
	}
	if (p.version() == tracker.VersionR2) != !p.SigningDate.IsZero() {
		add("signing date %v for version %s", p.SigningDate, p.version())
	}
	if len(p.Issues) > 1 && p.Treatment != tracker.TreatmentRepeatDispensing {
		add("%d issues for treatment %s", len(p.Issues), p.Treatment)
	}
	if len(p.Lines) == 0 {
		add("no line items")
	}
	for _, l := range p.Lines {
		if !tracker.ValidLineItemID(l.ID) || l.ID != strings.ToUpper(l.ID) {
			add("line item ID %q is not an upper-case UUID", l.ID)
		}
		if l.Med.Code == "" || l.Med.Name == "" || l.Med.Quantity == "" || l.Med.Unit == "" || l.Med.Dosage == "" {
			add("incomplete medication %+v", l.Med)
		}
	}
	for i, is := range p.Issues {
		if is.Number != i+1 {
			add("issue %d at position %d", is.Number, i)
		}
		if len(is.Items) != len(p.Lines) {
			add("issue %d has %d items for %d lines", is.Number, len(is.Items), len(p.Lines))
		}
		allowed := tracker.ValidItemStatuses[is.Status]
		if allowed == nil {
			add("issue %d status %q has no allowed item states", is.Number, is.Status)
		}
		for n, st := range is.Items {
			if !slices.Contains(allowed, st) {
				add("issue %d (%s) line %d has item status %s, allowed %v", is.Number, is.Status, n+1, st, allowed)
			}
		}
		future := is.Status == tracker.StatusRepeatDispenseFuture || is.Status == tracker.StatusPendingCancellation
		if future && is.Number <= p.CurrentIssue {
			add("future issue %d is not after the current issue %d", is.Number, p.CurrentIssue)
		}
		if future && !is.Released.IsZero() {
			add("future issue %d has an issue date", is.Number)
		}
	}
	return bad
}

func TestTheDocumentedDataSetIsConsistent(t *testing.T) {
	today := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	d := documented(today)
	statuses := map[tracker.PrescriptionStatus]bool{}
	items := map[tracker.LineItemStatus]bool{}
	var pending, r1, recent, old, prescriberTypes = 0, 0, 0, 0, map[string]bool{}
	for _, p := range d.byID {
		for _, b := range checkPrescription(p) {
			t.Error(b)
		}
		for _, is := range p.Issues {
			statuses[is.Status] = true
			for _, st := range is.Items {
				items[st] = true
			}
		}
		if p.PendingCancellations {
			pending++
		}
		if p.version() == tracker.VersionR1 {
			r1++
		}
		if p.IssueDate.After(today.AddDate(0, 0, -28)) && p.IssueDate.Before(today) {
			recent++
		} else if p.IssueDate.Before(today.AddDate(0, 0, -28)) {
			old++
		}
		prescriberTypes[p.Type.Code] = true
		if p.LastEvent.IsZero() || !p.LastEvent.Before(today) {
			t.Errorf("%s: last event %v is not in the past", p.ID, p.LastEvent)
		}
	}
	t.Run("every prescription status appears", func(t *testing.T) {
		for _, s := range tracker.PrescriptionStatuses {
			if !statuses[s] {
				t.Errorf("no issue with status %s", s)
			}
		}
	})
	t.Run("every line-item status appears", func(t *testing.T) {
		for _, s := range tracker.LineItemStatuses {
			if !items[s] {
				t.Errorf("no line item with status %s", s)
			}
		}
	})
	t.Run("there are pending cancellations, R1 prescriptions, recent and old ones, and three prescriber types", func(t *testing.T) {
		if pending == 0 || r1 == 0 || recent == 0 || old == 0 || len(prescriberTypes) != 3 {
			t.Errorf("pending %d, R1 %d, recent %d, old %d, prescriber types %v", pending, r1, recent, old, prescriberTypes)
		}
	})
	t.Run("the exported prescription IDs exist and are valid", func(t *testing.T) {
		for _, id := range []string{RxR1AcuteWithDispenser, RxR1RepeatWithDispenser, RxAcuteDispensed, RxRepeatPrescribingClaimed,
			RxAcuteToBeDispensed, RxAcuteOldClaimed, RxRepeatDispensing, RxRepeatDispensingOld, RxR1Acute, RxR1RepeatPrescribing,
			RxAwaitingReleaseReady, RxToBeDispensed, RxPendingCancellation, RxWithDispenserActive, RxExpired, RxCancelled,
			RxDispensed, RxNotDispensed, RxClaimed, RxNoClaimed, RxFutureDated, RxRepeatDispensingCancelled,
			RxRepeatPrescribingActive, RxOldClaimed} {
			if !tracker.ValidPrescriptionID(id) || d.byID[id] == nil {
				t.Errorf("%s: valid %v, in the data set %v", id, tracker.ValidPrescriptionID(id), d.byID[id] != nil)
			}
		}
	})
	t.Run("every documented patient has a valid NHS number and the listed data", func(t *testing.T) {
		seen := map[string]bool{}
		for _, p := range Patients {
			if !tracker.ValidNHSNumber(p.NHSNumber) || seen[p.NHSNumber] {
				t.Errorf("%s: invalid or repeated", p.NHSNumber)
			}
			seen[p.NHSNumber] = true
			_, fault := patientFaults[p.NHSNumber]
			n := len(d.byPatient[p.NHSNumber])
			switch {
			case p.NHSNumber == PatientNoPrescriptions && n != 0:
				t.Errorf("%s has %d prescriptions", p.NHSNumber, n)
			case p.NHSNumber != PatientNoPrescriptions && !fault && n == 0:
				t.Errorf("%s has no prescriptions", p.NHSNumber)
			}
		}
		for nhs := range d.byPatient {
			if !seen[nhs] {
				t.Errorf("prescriptions for undocumented patient %s", nhs)
			}
		}
	})
	t.Run("the many-items patient has at least 50 line items in the window", func(t *testing.T) {
		lines := 0
		for _, p := range d.byPatient[PatientManyItems] {
			if p.IssueDate.After(today.AddDate(0, 0, -28)) {
				lines += len(p.Lines)
			}
		}
		if lines < 50 {
			t.Errorf("%d line items", lines)
		}
	})
}

func TestTheGeneratedDataSet(t *testing.T) {
	today := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	t.Run("NHS numbers are valid, distinct and map back to their index", func(t *testing.T) {
		g := newGenerator(5000, 42)
		seen := map[string]bool{}
		for i := 0; i < g.n; i++ {
			nhs := g.nhsNumber(i)
			if !tracker.ValidNHSNumber(nhs) || seen[nhs] {
				t.Fatalf("patient %d: %q invalid or repeated", i, nhs)
			}
			seen[nhs] = true
			if j, ok := g.index(nhs); !ok || j != i {
				t.Fatalf("index(%s) = %d, %v; want %d", nhs, j, ok, i)
			}
		}
		if g.nhsNumber(-1) != "" || g.nhsNumber(g.n) != "" {
			t.Error("numbers outside the set")
		}
		for _, p := range Patients {
			if _, ok := g.index(p.NHSNumber); ok {
				t.Errorf("documented %s taken for a generated patient", p.NHSNumber)
			}
		}
	})
	t.Run("the same seed gives the same patients and another seed others", func(t *testing.T) {
		a, b, c := newGenerator(100, 7), newGenerator(100, 7), newGenerator(100, 8)
		for _, i := range []int{0, 1, 50, 99} {
			if a.nhsNumber(i) != b.nhsNumber(i) || a.nhsNumber(i) == c.nhsNumber(i) {
				t.Errorf("patient %d: %s %s %s", i, a.nhsNumber(i), b.nhsNumber(i), c.nhsNumber(i))
			}
			if ja, jb := render(a.patient(i, today)), render(b.patient(i, today)); ja != jb {
				t.Errorf("patient %d differs between two generators with one seed", i)
			}
		}
	})
	t.Run("generated prescriptions follow Spine's rules", func(t *testing.T) {
		g := newGenerator(500, 3)
		ids := map[string]bool{}
		for i := 0; i < g.n; i++ {
			for _, p := range g.patient(i, today) {
				for _, b := range checkPrescription(p) {
					t.Error(b)
				}
				if ids[p.ID] {
					t.Errorf("%s repeated", p.ID)
				}
				ids[p.ID] = true
				if j, ok := g.indexOfID(p.ID); !ok || j != i {
					t.Errorf("%s: indexOfID = %d, %v; want %d", p.ID, j, ok, i)
				}
			}
		}
	})
}

func render(ps []*prescription) string {
	var parts []string
	for _, p := range ps {
		b, _ := json.Marshal(searchEntry(p))
		parts = append(parts, p.ID+string(b))
	}
	return strings.Join(parts, "\n")
}

func TestGeneratedPatientsAreServed(t *testing.T) {
	e := startEnv(t, Options{Patients: 200, Seed: 9})
	sb := e.srv.Sandbox
	if got := sb.GeneratedNHSNumber(200); got != "" {
		t.Errorf("GeneratedNHSNumber(200) = %q, want \"\"", got)
	}
	for _, i := range []int{0, 199} {
		nhs := sb.GeneratedNHSNumber(i)
		res := e.get(t, searchPath(nhs, "&earliestDate=20240101&latestDate=20261231"), nil)
		list := res.obj("prescriptionList")
		if res.str("statusCode") != "0" || len(list) == 0 {
			t.Fatalf("search for generated patient %d (%s): %s", i, nhs, res.raw)
		}
		for id := range list {
			if got := e.get(t, retrievePath(id), nil).str("statusCode"); got != "0" && got != "3" {
				t.Errorf("retrieve %s: statusCode %s", id, got)
			}
		}
	}
}

func TestTypicalItemStatesAreAllowed(t *testing.T) {
	for _, st := range tracker.PrescriptionStatuses {
		typical := typicalItems[st]
		if len(typical) == 0 {
			t.Errorf("%s: no typical item states", st)
		}
		for _, it := range typical {
			if !slices.Contains(tracker.ValidItemStatuses[st], it) {
				t.Errorf("%s: typical item state %s is not allowed", st, it)
			}
		}
	}
}
