package routes

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/nhs-eps/eps-fhir-tracker/mapping"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// The richest description of an organisation wins even when two answers remember it at once: a
// request that saw only the retrieve's code and name, racing one that had the 111 details' address
// and phone, overwrote them (get, merge and set were not done as one; go-cache's own lock does not
// cover them, so -race saw nothing). Without the fix this lost some of 20,000 on every run.
func TestTheRicherOrganisationWinsUnderConcurrency(t *testing.T) {
	base := manyPrescriptions(t, 1, 1).Prescriptions[0]
	orgs := NewOrganizations(0, 0)
	lost := 0
	const n = 20000
	for i := range n {
		ods := fmt.Sprintf("A%05d", i)
		poorP := base
		poorP.Prescriber = tracker.Organisation{ODS: ods, Name: "SURGERY"}
		poor := mapping.Source{Prescription: &poorP, Full: true}
		richP := poorP
		rich := mapping.Source{Prescription: &richP, Full: true,
			Detail: &tracker.PrescriptionDetail{ID: richP.ID, Prescriber: tracker.Organisation{ODS: ods, Name: "SURGERY", Address: "1 HIGH STREET", Phone: "01234"}}}
		if got := mapping.Prescriber(rich); got.Address == "" {
			t.Fatalf("fixture: rich source has no address: %+v", got)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, src := range []mapping.Source{rich, poor} {
			wg.Add(1)
			go func() { defer wg.Done(); <-start; runtime.Gosched(); orgs.remember(src) }()
		}
		close(start)
		wg.Wait()
		if got, _ := orgs.get(ods); got.Address == "" {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d organisations lost the address and phone the 111 details gave, to a concurrent poorer description", lost, n)
	}
}
