package mapping

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"

	"github.com/nhs-eps/eps-fhir-tracker/fhir"
	"github.com/nhs-eps/eps-fhir-tracker/tracker"
	"github.com/nhs-eps/eps-fhir-tracker/tracker/sandbox"
)

// formsNow is the sandbox's clock for the forms test: its data set is dated relative to it.
var formsNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// sandboxClient serves the sandbox on a real listener over mutual TLS and returns the real tracker
// client for it.
func sandboxClient(t *testing.T) *tracker.Client {
	t.Helper()
	srv, err := sandbox.Start(sandbox.Options{Now: func() time.Time { return formsNow }}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("closing the sandbox: %v", err)
		}
	})
	tlsConfig, err := tracker.TLSConfigFromPEM(srv.Certs.ClientCertPEM, srv.Certs.ClientKeyPEM, srv.Certs.CAPEM)
	if err != nil {
		t.Fatal(err)
	}
	hc := tracker.NewHTTPClient(tlsConfig)
	t.Cleanup(hc.CloseIdleConnections)
	c, err := tracker.New(tracker.Config{BaseURL: srv.URL, ASID: "200000000946", UserID: "313175813564",
		RoleProfileID: "562926913100", Timeout: 5 * time.Second, RetryBackoff: time.Millisecond}, hc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSummaryAndFullFormsAgree maps every prescription of the sandbox's documented patients from
// the search (summary form) and from the retrieve, with and without the 111 details (full form), and
// compares every MedicationRequest: each element present in both must be equal, except meta.tag
// (SUBSETTED) and medication[x] (data-absent in the summary).
func TestSummaryAndFullFormsAgree(t *testing.T) {
	c := sandboxClient(t)
	ctx := context.Background()
	compared := 0
	for _, nhs := range []string{
		sandbox.PatientAcuteAndRepeat, sandbox.PatientRepeatDispensing, sandbox.PatientR1, sandbox.PatientAllStatuses,
		sandbox.PatientRepeatPrescribing, sandbox.PatientOnlyOld, sandbox.PatientManyItems,
	} {
		res, err := c.Search(ctx, tracker.Caller{}, tracker.SearchQuery{NHSNumber: nhs,
			EarliestDate: formsNow.AddDate(-1, 0, 0), LatestDate: formsNow.AddDate(0, 0, 30)})
		if err != nil {
			t.Fatalf("search: %v", err)
		}
		for i := range res.Prescriptions {
			searched := &res.Prescriptions[i]
			summary, err := MedicationRequests(Source{Prescription: searched})
			if err != nil {
				t.Fatalf("%s summary: %v", searched.ID, err)
			}
			issue := searched.CurrentIssue().Number
			retrieved, err := c.Retrieve(ctx, tracker.Caller{}, tracker.RetrieveQuery{PrescriptionID: searched.ID, IssueNumber: issue})
			if err != nil {
				t.Fatalf("%s retrieve: %v", searched.ID, err)
			}
			detail, err := c.ItemDetails(ctx, tracker.Caller{}, tracker.DetailQuery{PrescriptionID: searched.ID, IssueNumber: issue})
			if err != nil {
				t.Fatalf("%s 111 details: %v", searched.ID, err)
			}
			for _, full := range []struct {
				name string
				src  Source
			}{
				{"retrieve with the search's issue date", Source{Prescription: retrieved, Full: true, IssueNumber: issue, IssueDate: searched.IssueDate}},
				{"retrieve and 111 details", Source{Prescription: retrieved, Full: true, IssueNumber: issue, Detail: detail}},
			} {
				fulls, err := MedicationRequests(full.src)
				if err != nil {
					t.Fatalf("%s full form: %v", searched.ID, err)
				}
				if len(fulls) != len(summary) {
					t.Fatalf("%s: %d MedicationRequests in full form, %d in summary", searched.ID, len(fulls), len(summary))
				}
				for k := range summary {
					for _, d := range agree(summary[k].ProtoReflect(), fulls[k].ProtoReflect(), "MedicationRequest") {
						t.Errorf("%s (%s): %s", summary[k].GetId().GetValue(), full.name, d)
					}
					if summary[k].GetAuthoredOn() == nil || fulls[k].GetAuthoredOn() == nil {
						t.Errorf("%s (%s): authoredOn missing from a form", summary[k].GetId().GetValue(), full.name)
					}
					compared++
				}
			}
		}
	}
	t.Logf("compared %d MedicationRequests in both forms", compared)
	if compared < 50 {
		t.Errorf("compared %d MedicationRequests; the sandbox's documented data set has more", compared)
	}
}

// agree lists the elements present in both a and b that differ. Repeated elements are compared
// position by position, except extensions, which are matched by url; meta.tag and medication[x] are
// not compared.
func agree(a, b protoreflect.Message, path string) []string {
	var out []string
	a.Range(func(fd protoreflect.FieldDescriptor, av protoreflect.Value) bool {
		name := string(fd.Name())
		p := path + "." + name
		if p == "MedicationRequest.medication" || name == "tag" && path == "MedicationRequest.meta" {
			return true
		}
		if !b.Has(fd) && (fd.Message() != nil || fd.IsList()) {
			return true
		}
		bv := b.Get(fd)
		switch {
		case fd.IsList() && fd.Message() != nil && fd.Message().FullName() == "google.fhir.r4.core.Extension":
			byURL := func(l protoreflect.List) map[string]protoreflect.Message {
				m := map[string]protoreflect.Message{}
				for i := 0; i < l.Len(); i++ {
					e := l.Get(i).Message().Interface().(*d4pb.Extension)
					m[e.GetUrl().GetValue()] = l.Get(i).Message()
				}
				return m
			}
			bm := byURL(bv.List())
			for url, ae := range byURL(av.List()) {
				if be, ok := bm[url]; ok {
					out = append(out, agree(ae, be, p+"["+url+"]")...)
				}
			}
		case fd.IsList():
			if av.List().Len() != bv.List().Len() {
				out = append(out, fmt.Sprintf("%s: %d elements against %d", p, av.List().Len(), bv.List().Len()))
				return true
			}
			for i := 0; i < av.List().Len(); i++ {
				if fd.Message() != nil {
					out = append(out, agree(av.List().Get(i).Message(), bv.List().Get(i).Message(), fmt.Sprintf("%s[%d]", p, i))...)
				} else if !av.List().Get(i).Equal(bv.List().Get(i)) {
					out = append(out, fmt.Sprintf("%s[%d]: %v against %v", p, i, av.List().Get(i), bv.List().Get(i)))
				}
			}
		case fd.Message() != nil:
			out = append(out, agree(av.Message(), bv.Message(), p)...)
		case !av.Equal(bv):
			out = append(out, fmt.Sprintf("%s: %v against %v", p, av, bv))
		}
		return true
	})
	// A proto3 scalar holding its zero value is not set (a boolean false): compare those too.
	b.Range(func(fd protoreflect.FieldDescriptor, bv protoreflect.Value) bool {
		if fd.Message() == nil && !fd.IsList() && !a.Has(fd) {
			out = append(out, fmt.Sprintf("%s.%s: %v against %v", path, fd.Name(), a.Get(fd), bv))
		}
		return true
	})
	return out
}

// TestAgreeFindsADifference makes sure the comparison can fail.
func TestAgreeFindsADifference(t *testing.T) {
	p := retrieved(tracker.TreatmentRepeatDispensing, tracker.StatusWithDispenser, tracker.ItemWithDispenser)
	p.IssueDate = time.Date(2026, 11, 19, 10, 13, 0, 0, time.UTC)
	a, err := MedicationRequests(Source{Prescription: p})
	if err != nil {
		t.Fatal(err)
	}
	b := proto.Clone(a[0]).(*mrpb.MedicationRequest)
	b.AuthoredOn.ValueUs += 90e6
	ext(ext(b.Extension, fhir.ExtensionPendingCancel).Extension, "prescriptionPendingCancellation").Value.GetBoolean().Value = true
	if d := agree(a[0].ProtoReflect(), b.ProtoReflect(), "MedicationRequest"); len(d) != 2 {
		t.Errorf("agree found %d differences, want 2 (authoredOn, pending cancellation): %v", len(d), d)
	}
	if d := agree(b.ProtoReflect(), a[0].ProtoReflect(), "MedicationRequest"); len(d) != 2 {
		t.Errorf("agree the other way round found %d differences, want 2: %v", len(d), d)
	}
}
