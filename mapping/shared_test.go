package mapping

import (
	"bytes"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
)

// sharedTables is every sub-message the package shares between resources and requests.
func sharedTables() []proto.Message {
	var out []proto.Message
	for _, s := range tracker.LineItemStatuses {
		lc := lines[s]
		out = append(out, lc.requestStatus, lc.typeCoding, lc.dispenseType, lc.statusPart, lc.dispensingInfo)
		if lc.dispenseStatus != nil {
			out = append(out, lc.dispenseStatus)
		}
	}
	for _, s := range tracker.PrescriptionStatuses {
		out = append(out, businessStatus[s])
	}
	for _, tt := range []tracker.TreatmentType{tracker.TreatmentAcute, tracker.TreatmentRepeatPrescribing, tracker.TreatmentRepeatDispensing} {
		out = append(out, therapies[tt].intent, therapies[tt].course)
	}
	out = append(out, medicationAbsent["unknown"], medicationAbsent["error"])
	for _, s := range []string{fhir.SystemNHSNumber, fhir.SystemPrescriptionID, fhir.SystemLineItemID, fhir.SystemODSOrganization} {
		out = append(out, systemURI[s])
	}
	for _, m := range []c4pb.SearchEntryModeCode_Value{c4pb.SearchEntryModeCode_MATCH, c4pb.SearchEntryModeCode_INCLUDE, c4pb.SearchEntryModeCode_OUTCOME} {
		out = append(out, entrySearch[m])
	}
	out = append(out, pendingCancellation[0], pendingCancellation[1], subsettedTag[0], dayUnit, dayCode, ucum, searchsetType)
	return out
}

// TestSharedMessagesSurviveConcurrentMarshalling marshals Bundles that share the package's tables
// from several goroutines at once, with google/fhir's marshaller, which rewrites references in place:
// the tables must come out unchanged (and the race detector quiet), and every goroutine must write
// the same bytes.
func TestSharedMessagesSurviveConcurrentMarshalling(t *testing.T) {
	before := make([]proto.Message, 0, 64)
	for _, m := range sharedTables() {
		before = append(before, proto.Clone(m))
	}
	p := retrieved(tracker.TreatmentRepeatDispensing, tracker.StatusWithDispenserActive,
		tracker.ItemFullyDispensed, tracker.ItemNotDispensedOwing)
	p.PendingCancellations = true
	build := func() *bcrpb.ContainedResource {
		ms, err := Expand(Source{Prescription: p, Full: true})
		if err != nil {
			t.Error(err)
			return nil
		}
		b, err := SearchBundle(Page{BaseURL: testBaseURL, Total: len(ms), Matches: ms,
			IncludePatient: true, IncludeRequester: true, RevIncludeDispense: true})
		if err != nil {
			t.Error(err)
			return nil
		}
		return &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Bundle{Bundle: b}}
	}
	const workers = 4
	out := make([][]byte, workers)
	var wg sync.WaitGroup
	for w := range workers {
		m := marshaller(t, false)
		wg.Go(func() {
			for range 5 {
				b, err := m.Marshal(build())
				if err != nil {
					t.Error(err)
					return
				}
				out[w] = b
			}
		})
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		if !bytes.Equal(out[0], out[w]) {
			t.Errorf("goroutine %d wrote other bytes than goroutine 0", w)
		}
	}
	after := sharedTables()
	if len(after) != len(before) {
		t.Fatalf("%d shared tables, then %d", len(before), len(after))
	}
	for i := range before {
		if diff := cmp.Diff(before[i], after[i], protocmp.Transform()); diff != "" {
			t.Errorf("a shared message changed while marshalling (-before +after):\n%s", diff)
		}
	}
	if !bytes.Contains(out[0], []byte(`"Item not dispensed - owing"`)) {
		t.Errorf("the Bundle does not show the owing item: %s", out[0])
	}
}

// TestResourcesOfOnePrescriptionShareNoReference: google/fhir rewrites references while marshalling,
// so two resources must never hold the same Reference message.
func TestResourcesOfOnePrescriptionShareNoReference(t *testing.T) {
	p := retrieved(tracker.TreatmentAcute, tracker.StatusWithDispenserActive,
		tracker.ItemFullyDispensed, tracker.ItemPartialDispensed, tracker.ItemNotDispensed)
	ms, err := Expand(Source{Prescription: p, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[*d4pb.Reference]string{}
	note := func(r *d4pb.Reference, where string) {
		if r == nil {
			return
		}
		if other, ok := seen[r]; ok {
			t.Errorf("%s and %s hold the same Reference", other, where)
		}
		seen[r] = where
	}
	for _, m := range ms {
		id := m.Request.GetId().GetValue()
		note(m.Request.GetSubject(), id+" subject")
		note(m.Request.GetRequester(), id+" requester")
		note(m.Request.GetDispenseRequest().GetPerformer(), id+" performer")
		for _, d := range m.Dispenses {
			note(d.GetSubject(), d.GetId().GetValue()+" subject")
			note(d.GetAuthorizingPrescription()[0], d.GetId().GetValue()+" authorizingPrescription")
			note(d.GetPerformer()[0].GetActor(), d.GetId().GetValue()+" performer")
		}
	}
	if len(seen) < 3*3+3*3 {
		t.Errorf("found %d references, want at least 18", len(seen))
	}
}
