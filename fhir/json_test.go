package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	r4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"
	"google.golang.org/protobuf/proto"
)

func TestEncoderMarshal(t *testing.T) {
	enc := newEncoder(t)
	oo := Outcome(Issue{Severity: "error", Code: "not-found", Diagnostics: "no such MedicationRequest <&>"})

	t.Run("a resource and its ContainedResource wrapper marshal the same", func(t *testing.T) {
		direct, err := enc.Marshal(oo, false)
		if err != nil {
			t.Fatal(err)
		}
		wrapped, err := enc.Marshal(&r4pb.ContainedResource{
			OneofResource: &r4pb.ContainedResource_OperationOutcome{OperationOutcome: oo},
		}, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(direct, wrapped) {
			t.Errorf("wrapped %s\nwant %s", wrapped, direct)
		}
	})

	t.Run("compact output has no indentation and does not escape HTML", func(t *testing.T) {
		b, err := enc.Marshal(oo, false)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.ContainsAny(b, "\n\t") || !bytes.Contains(b, []byte("<&>")) {
			t.Errorf("compact output %s", b)
		}
	})

	t.Run("nil resources are an error, not a panic", func(t *testing.T) {
		if _, err := enc.Marshal(nil, false); err == nil {
			t.Error("Marshal(nil) succeeded")
		}
		if _, err := enc.Marshal((*mrpb.MedicationRequest)(nil), false); err == nil {
			t.Error("Marshal of a typed nil succeeded")
		}
	})
}

func TestEncoderPretty(t *testing.T) {
	enc := newEncoder(t)
	resources := map[string]proto.Message{
		"bundle":              searchsetBundle(3),
		"outcome":             Outcome(Issue{Severity: "information", Code: "informational", Diagnostics: "a < b & c"}),
		"capability":          CapabilityStatement(CapabilityOptions{BaseURL: testBase, Now: time.Unix(0, 0)}),
		"empty-ish resources": &mrpb.MedicationRequest{},
	}
	for name, res := range resources {
		t.Run(name+": re-indenting the compact form gives the pretty marshaller's output", func(t *testing.T) {
			compact, err := enc.Marshal(res, false)
			if err != nil {
				t.Fatal(err)
			}
			want, err := newReference(t).marshal(res, true) // jsonformat's pretty marshaller
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(compact, want) && len(compact) > 2 {
				t.Fatalf("pretty marshaller did not indent: %s", want)
			}
			got, err := enc.Pretty(compact)
			if err != nil {
				t.Fatal(err)
			}
			var g, w any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("Pretty changed the content:\n%s\nwant\n%s", got, want)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Pretty differs byte-wise:\n%s\nwant\n%s", got, want)
			}
		})
	}
	t.Run("malformed JSON is an error", func(t *testing.T) {
		if _, err := enc.Pretty([]byte(`{"resourceType":`)); err == nil {
			t.Error("Pretty accepted truncated JSON")
		}
	})
}

// TestEncoderConcurrentMarshal shares one Encoder between goroutines, as the server does; run it
// with -race.
func TestEncoderConcurrentMarshal(t *testing.T) {
	enc := newEncoder(t)
	bundle := searchsetBundle(5)
	wantCompact, err := enc.Marshal(bundle, false)
	if err != nil {
		t.Fatal(err)
	}
	wantPretty, err := enc.Marshal(bundle, true)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pretty := g%2 == 1
			want := wantCompact
			if pretty {
				want = wantPretty
			}
			for range 20 {
				b, err := enc.Marshal(bundle, pretty)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(b, want) {
					errs <- fmt.Errorf("goroutine %d got different bytes", g)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSearchsetBundleIsValidR4(t *testing.T) {
	roundTrip(t, newEncoder(t), searchsetBundle(3))
}

// BenchmarkMarshalBundle50 measures the known cost: a searchset Bundle of 50 MedicationRequests.
func BenchmarkMarshalBundle50(b *testing.B) {
	enc := newEncoder(b)
	bundle := searchsetBundle(50)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Marshal(bundle, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrettyBundle50 is the cost of serving a cached compact answer pretty.
func BenchmarkPrettyBundle50(b *testing.B) {
	enc := newEncoder(b)
	compact, err := enc.Marshal(searchsetBundle(50), false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Pretty(compact); err != nil {
			b.Fatal(err)
		}
	}
}

// searchsetBundle is a plausible patient search answer: n summary-form MedicationRequests with
// the fields mapping fills from Spine's search response.
func searchsetBundle(n int) *r4pb.Bundle {
	authored := time.Date(2025, 11, 1, 9, 30, 0, 0, time.UTC)
	bundle := &r4pb.Bundle{
		Type:      &r4pb.Bundle_TypeCode{Value: c4pb.BundleTypeCode_SEARCHSET},
		Timestamp: &d4pb.Instant{ValueUs: authored.UnixMicro(), Timezone: "Z", Precision: d4pb.Instant_SECOND},
		Total:     &d4pb.UnsignedInt{Value: uint32(n)},
		Link: []*r4pb.Bundle_Link{{
			Relation: &d4pb.String{Value: "self"},
			Url:      &d4pb.Uri{Value: testBase + "/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C9691003120&authoredon=ge2025-10-04&authoredon=le2025-11-01"},
		}},
	}
	for i := range n {
		prescription := fmt.Sprintf("3AF2CB-C86%03d-0000BX", i)
		id := fmt.Sprintf("3AF2CB-C86%03d-0000BX-1-1", i)
		mr := &mrpb.MedicationRequest{
			Id: &d4pb.Id{Value: id},
			Meta: &d4pb.Meta{Tag: []*d4pb.Coding{{
				System: &d4pb.Uri{Value: "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"},
				Code:   &d4pb.Code{Value: "SUBSETTED"},
			}}},
			Extension: []*d4pb.Extension{
				{
					Url: &d4pb.Uri{Value: ExtensionBusinessStatus},
					Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Coding{Coding: &d4pb.Coding{
						System:  &d4pb.Uri{Value: SystemBusinessStatus},
						Code:    &d4pb.Code{Value: "0001"},
						Display: &d4pb.String{Value: "To be Dispensed"},
					}}},
				},
				{
					Url: &d4pb.Uri{Value: "https://fhir.nhs.uk/StructureDefinition/Extension-EPS-RepeatInformation"},
					Extension: []*d4pb.Extension{
						{Url: &d4pb.Uri{Value: "numberOfRepeatsIssued"}, Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_UnsignedInt{UnsignedInt: &d4pb.UnsignedInt{Value: 1}}}},
						{Url: &d4pb.Uri{Value: "numberOfRepeatsAllowed"}, Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_UnsignedInt{UnsignedInt: &d4pb.UnsignedInt{Value: 6}}}},
					},
				},
			},
			Status: &mrpb.MedicationRequest_StatusCode{Value: c4pb.MedicationrequestStatusCode_ACTIVE},
			Intent: &mrpb.MedicationRequest_IntentCode{Value: c4pb.MedicationRequestIntentCode_ORDER},
			Medication: &mrpb.MedicationRequest_MedicationX{Choice: &mrpb.MedicationRequest_MedicationX_CodeableConcept{
				CodeableConcept: &d4pb.CodeableConcept{Extension: []*d4pb.Extension{{
					Url:   &d4pb.Uri{Value: "http://hl7.org/fhir/StructureDefinition/data-absent-reason"},
					Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Code{Code: &d4pb.Code{Value: "unknown"}}},
				}}},
			}},
			Subject: &d4pb.Reference{
				Reference: &d4pb.Reference_PatientId{PatientId: &d4pb.ReferenceId{Value: "9691003120"}},
				Identifier: &d4pb.Identifier{
					System: &d4pb.Uri{Value: SystemNHSNumber},
					Value:  &d4pb.String{Value: "9691003120"},
				},
			},
			AuthoredOn: &d4pb.DateTime{ValueUs: authored.Add(-time.Duration(i) * time.Hour).UnixMicro(), Timezone: "Z", Precision: d4pb.DateTime_SECOND},
			GroupIdentifier: &d4pb.Identifier{
				System: &d4pb.Uri{Value: SystemPrescriptionID},
				Value:  &d4pb.String{Value: prescription},
			},
			CourseOfTherapyType: &d4pb.CodeableConcept{Coding: []*d4pb.Coding{{
				System:  &d4pb.Uri{Value: "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy"},
				Code:    &d4pb.Code{Value: "continuous-repeat-dispensing"},
				Display: &d4pb.String{Value: "Continuous long term (repeat dispensing)"},
			}}},
		}
		bundle.Entry = append(bundle.Entry, &r4pb.Bundle_Entry{
			FullUrl:  &d4pb.Uri{Value: testBase + "/MedicationRequest/" + id},
			Resource: &r4pb.ContainedResource{OneofResource: &r4pb.ContainedResource_MedicationRequest{MedicationRequest: mr}},
			Search:   &r4pb.Bundle_Entry_Search{Mode: &r4pb.Bundle_Entry_Search_ModeCode{Value: c4pb.SearchEntryModeCode_MATCH}},
		})
	}
	return bundle
}
