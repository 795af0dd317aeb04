package fhir

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// goldenSearchset is the adapter's 50-entry answer as mapping's BenchmarkSearchBundle50 builds it
// (a patient search, _count=50, 60 found, an informational OperationOutcome), made from the
// MedicationRequests of testdata/golden with typed references, as the mapping writes them.
func goldenSearchset(tb testing.TB) *bcrpb.Bundle {
	tb.Helper()
	golden := goldenBundles(tb)
	names := make([]string, 0, len(golden))
	for name := range golden {
		names = append(names, name)
	}
	sort.Strings(names)
	var requests []*bcrpb.Bundle_Entry
	for _, name := range names {
		for _, e := range golden[name].GetEntry() {
			if e.GetResource().GetMedicationRequest() != nil {
				requests = append(requests, e)
			}
		}
	}
	if len(requests) == 0 {
		tb.Fatal("no MedicationRequests in testdata/golden")
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	self := testBase + "/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C9990000018&_count=50"
	b := &bcrpb.Bundle{
		Id:        &d4pb.Id{Value: "f3a4c6e2-5b1d-4c8e-9f7a-2d6b8e1c0a93"},
		Type:      &bcrpb.Bundle_TypeCode{Value: c4pb.BundleTypeCode_SEARCHSET},
		Timestamp: &d4pb.Instant{ValueUs: now.UnixMicro(), Timezone: "Z", Precision: d4pb.Instant_SECOND},
		Total:     &d4pb.UnsignedInt{Value: 60},
		Link: []*bcrpb.Bundle_Link{
			{Relation: &d4pb.String{Value: "self"}, Url: &d4pb.Uri{Value: self}},
			{Relation: &d4pb.String{Value: "next"}, Url: &d4pb.Uri{Value: self + "&_page=token"}},
		},
	}
	for i := range 50 {
		e := proto.Clone(requests[i%len(requests)]).(*bcrpb.Bundle_Entry)
		mr := e.GetResource().GetMedicationRequest()
		mr.Id = &d4pb.Id{Value: fmt.Sprintf("%s-%d", mr.GetId().GetValue(), i)}
		e.FullUrl = &d4pb.Uri{Value: testBase + "/MedicationRequest/" + mr.GetId().GetValue()}
		e.Search = &bcrpb.Bundle_Entry_Search{Mode: &bcrpb.Bundle_Entry_Search_ModeCode{Value: c4pb.SearchEntryModeCode_MATCH}}
		b.Entry = append(b.Entry, e)
	}
	note := Outcome(Issue{Severity: "information", Code: "informational",
		Diagnostics: "No authoredon was given, so Spine's default window of the last 28 days was applied."})
	b.Entry = append(b.Entry, &bcrpb.Bundle_Entry{
		Resource: &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_OperationOutcome{OperationOutcome: note}},
		Search:   &bcrpb.Bundle_Entry_Search{Mode: &bcrpb.Bundle_Entry_Search_ModeCode{Value: c4pb.SearchEntryModeCode_OUTCOME}},
	})
	normalizeReferences(tb, b.ProtoReflect())
	return b
}

// BenchmarkSearchset50 compares ways to write the 50-entry answer:
//
//	go test ./fhir/ -run '^$' -bench Searchset50 -benchmem
//
// fast is Marshal; jsonformat is google/fhir's marshaller on the same proto (references already
// rewritten, so without the copy the Encoder's fallback makes); entries is every entry marshalled
// afresh then the envelope around them (a memo miss for all); memoized is the envelope around
// entries already held (a memo hit for all).
func BenchmarkSearchset50(b *testing.B) {
	enc, ref := newEncoder(b), newReference(b)
	bundle := goldenSearchset(b)
	want, err := ref.marshal(bundle, false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ref.compact.MarshalResource(bundle); err != nil { // rewrite references once
		b.Fatal(err)
	}
	envelope := proto.Clone(bundle).(*bcrpb.Bundle)
	envelope.Entry = nil
	entries := make([][]byte, len(bundle.GetEntry()))
	for i, e := range bundle.GetEntry() {
		if entries[i], err = enc.MarshalEntry(e); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if _, err := enc.Marshal(bundle, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsonformat", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(want)))
		for b.Loop() {
			if _, err := ref.compact.MarshalResource(bundle); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("entries", func(b *testing.B) {
		b.ReportAllocs()
		held := make([][]byte, len(bundle.GetEntry()))
		for b.Loop() {
			for i, e := range bundle.GetEntry() {
				if held[i], err = enc.MarshalEntry(e); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := enc.MarshalBundleEntries(envelope, held); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memoized", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := enc.MarshalBundleEntries(envelope, entries); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pretty", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := enc.Marshal(bundle, true); err != nil {
				b.Fatal(err)
			}
		}
	})
}
