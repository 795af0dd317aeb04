package fhir

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	aepb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/audit_event_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"
	obspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/observation_go_proto"
	oopb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/operation_outcome_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
	patpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
)

// reference is jsonformat itself, the definition of the bytes the Encoder must write.
type reference struct {
	compact, pretty *jsonformat.Marshaller
}

func newReference(t testing.TB) reference {
	t.Helper()
	c, err := jsonformat.NewMarshaller(false, "", "", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonformat.NewMarshaller(true, "", indent, fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	return reference{compact: c, pretty: p}
}

// marshal is jsonformat's answer for res, on a copy since jsonformat rewrites its input.
func (r reference) marshal(res proto.Message, pretty bool) ([]byte, error) {
	m := r.compact
	if pretty {
		m = r.pretty
	}
	c := proto.Clone(res)
	if c.ProtoReflect().Descriptor().Name() == "ContainedResource" {
		return m.Marshal(c)
	}
	return m.MarshalResource(c)
}

// checkIdentical marshals res with enc and with jsonformat, compact and pretty, and fails unless
// the bytes are equal, the fast path did it all (no fallback) and res is unchanged.
func checkIdentical(t *testing.T, enc *Encoder, ref reference, res proto.Message) {
	t.Helper()
	if got := checkAsJSONFormat(t, enc, ref, res); got != 0 {
		t.Errorf("%d fallbacks to jsonformat, want 0", got)
	}
}

// checkAsJSONFormat marshals res compact and pretty, checks that both are jsonformat's bytes and
// that res is unchanged, and returns how many fallbacks the two took.
func checkAsJSONFormat(t *testing.T, enc *Encoder, ref reference, res proto.Message) uint64 {
	t.Helper()
	before := proto.Clone(res)
	fallbacks := enc.Fallbacks()
	for _, pretty := range []bool{false, true} {
		got, err := enc.Marshal(res, pretty)
		if err != nil {
			t.Fatalf("Marshal(pretty=%t): %v", pretty, err)
		}
		want, err := ref.marshal(res, pretty)
		if err != nil {
			t.Fatalf("jsonformat: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("pretty=%t: bytes differ from jsonformat's\n%s", pretty, firstDiff(got, want))
		}
	}
	if !proto.Equal(before, res) {
		t.Error("Marshal changed its input")
	}
	return enc.Fallbacks() - fallbacks
}

// firstDiff shows where two outputs part, with some context.
func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-120)
	return "got  ..." + string(got[from:min(len(got), i+80)]) + "\nwant ..." + string(want[from:min(len(want), i+80)])
}

// goldenBundles reads testdata/golden: the mapping package's golden answers (copied here), each a
// Bundle of what the adapter emits for one Spine case.
func goldenBundles(t testing.TB) map[string]*bcrpb.Bundle {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden files in testdata/golden")
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*bcrpb.Bundle{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		cr, err := u.UnmarshalR4(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if cr.GetBundle() == nil {
			t.Fatalf("%s is not a Bundle", p)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".golden.json")] = cr.GetBundle()
	}
	return out
}

// TestMarshalGoldenIdentical is the differential test over every answer in the mapping's golden
// files, with references as the unmarshaller reads them (absolute and relative URIs) and as the
// mapping builds them (typed ids), as Bundles, as ContainedResources and one resource at a time.
func TestMarshalGoldenIdentical(t *testing.T) {
	enc, ref := newEncoder(t), newReference(t)
	for name, bundle := range goldenBundles(t) {
		typed := proto.Clone(bundle).(*bcrpb.Bundle)
		normalizeReferences(t, typed.ProtoReflect())
		for form, b := range map[string]*bcrpb.Bundle{"uri references": bundle, "typed references": typed} {
			t.Run(name+" with "+form+" marshals as jsonformat does", func(t *testing.T) {
				checkIdentical(t, enc, ref, b)
				checkIdentical(t, enc, ref, &bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_Bundle{Bundle: b}})
				for _, e := range b.GetEntry() {
					checkIdentical(t, enc, ref, e.GetResource())
				}
			})
		}
	}
	t.Run("the package's own resources marshal as jsonformat does", func(t *testing.T) {
		checkIdentical(t, enc, ref, searchsetBundle(5))
		checkIdentical(t, enc, ref, Outcome(Issue{Severity: "error", Code: "invalid", Diagnostics: "bad <&> \"x\"\n", Expression: []string{"authoredon"}}))
		checkIdentical(t, enc, ref, CapabilityStatement(CapabilityOptions{BaseURL: testBase, Now: time.Unix(1700000000, 0)}))
		for _, sp := range SearchParameters(testBase) {
			checkIdentical(t, enc, ref, sp)
		}
		checkIdentical(t, enc, ref, &mrpb.MedicationRequest{})
	})
}

// TestMarshalDoesNotRewriteReferences holds the one difference from jsonformat that matters to
// callers: jsonformat turns a typed reference into a URI inside the caller's proto.
func TestMarshalDoesNotRewriteReferences(t *testing.T) {
	enc := newEncoder(t)
	bundle := searchsetBundle(1)
	mr := bundle.GetEntry()[0].GetResource().GetMedicationRequest()
	if _, err := enc.Marshal(bundle, false); err != nil {
		t.Fatal(err)
	}
	if got := mr.GetSubject().GetPatientId().GetValue(); got != "9691003120" {
		t.Errorf("subject's typed patient id = %q after Marshal, want it kept", got)
	}
}

// TestFallback gives the fast path shapes it leaves to jsonformat: the answer is still
// jsonformat's, or its error, and each is counted.
func TestFallback(t *testing.T) {
	enc, ref := newEncoder(t), newReference(t)
	t.Run("a choice type with nothing chosen is jsonformat's error, counted", func(t *testing.T) {
		mr := &mrpb.MedicationRequest{Medication: &mrpb.MedicationRequest_MedicationX{}}
		before := enc.Fallbacks()
		if _, err := enc.Marshal(mr, false); err == nil {
			t.Error("Marshal of an empty choice succeeded")
		}
		if got := enc.Fallbacks() - before; got != 1 {
			t.Errorf("fallbacks = %d, want 1", got)
		}
	})
	t.Run("a malformed decimal goes to jsonformat and is its answer", func(t *testing.T) {
		oo := Outcome(Issue{Severity: "error", Code: "invalid", Diagnostics: "x"})
		before := enc.Fallbacks()
		got, gotErr := enc.Marshal(withDecimal(oo, " 1.50"), false)
		want, wantErr := ref.marshal(withDecimal(oo, " 1.50"), false)
		if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Errorf("got %s, %v; jsonformat %s, %v", got, gotErr, want, wantErr)
		}
		if enc.Fallbacks() == before {
			t.Error("no fallback counted")
		}
	})
	t.Run("a ContainedResource holding nothing is an error, not a panic", func(t *testing.T) {
		if _, err := enc.Marshal(&bcrpb.ContainedResource{}, false); err == nil {
			t.Error("Marshal of an empty ContainedResource succeeded")
		}
	})
}

// withDecimal is a copy of oo whose first issue carries an extension with decimal value d.
func withDecimal(oo *oopb.OperationOutcome, d string) *oopb.OperationOutcome {
	c := proto.Clone(oo).(*oopb.OperationOutcome)
	c.Issue[0].Extension = append(c.Issue[0].Extension, &d4pb.Extension{
		Url:   &d4pb.Uri{Value: "https://example.org/weight"},
		Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Decimal{Decimal: &d4pb.Decimal{Value: d}}},
	})
	return c
}

// TestMarshalRecursiveTypes covers types that contain themselves, whose plans are built while
// they are still incomplete: Extensions in Extensions, an Identifier's assigner Reference holding
// an Identifier.
func TestMarshalRecursiveTypes(t *testing.T) {
	enc, ref := newEncoder(t), newReference(t)
	leaf := &d4pb.Extension{Url: &d4pb.Uri{Value: "leaf"}, Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Integer{Integer: &d4pb.Integer{Value: -7}}}}
	mid := &d4pb.Extension{Url: &d4pb.Uri{Value: "mid"}, Extension: []*d4pb.Extension{leaf, leaf}}
	top := &d4pb.Extension{Url: &d4pb.Uri{Value: "https://example.org/top"}, Extension: []*d4pb.Extension{mid}}
	id := &d4pb.Identifier{
		System: &d4pb.Uri{Value: "https://fhir.nhs.uk/Id/ods-organization-code"},
		Value:  &d4pb.String{Value: "A83008", Extension: []*d4pb.Extension{top}},
		Assigner: &d4pb.Reference{
			Reference:  &d4pb.Reference_OrganizationId{OrganizationId: &d4pb.ReferenceId{Value: "X26", History: &d4pb.Id{Value: "3"}}},
			Identifier: &d4pb.Identifier{Value: &d4pb.String{Value: "X26"}, Assigner: &d4pb.Reference{Display: &d4pb.String{Value: "NHS England"}}},
		},
	}
	mr := &mrpb.MedicationRequest{Extension: []*d4pb.Extension{top}, Identifier: []*d4pb.Identifier{id}}
	checkIdentical(t, enc, ref, mr)
}

// TestMarshalAdapterShapesWithoutFallback builds the included resources and the audit record as
// mapping and audit build them (typed references, codes, a microsecond instant, a base64 query)
// and holds that they take the fast path.
func TestMarshalAdapterShapesWithoutFallback(t *testing.T) {
	enc, ref := newEncoder(t), newReference(t)
	ident := func(system, value string) *d4pb.Identifier {
		return &d4pb.Identifier{System: &d4pb.Uri{Value: system}, Value: &d4pb.String{Value: value}}
	}
	coding := func(system, code, display string) *d4pb.Coding {
		return &d4pb.Coding{System: &d4pb.Uri{Value: system}, Code: &d4pb.Code{Value: code}, Display: &d4pb.String{Value: display}}
	}
	patient := &patpb.Patient{
		Id:         &d4pb.Id{Value: "9691003120"},
		Meta:       &d4pb.Meta{Tag: []*d4pb.Coding{coding("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED", "")}},
		Identifier: []*d4pb.Identifier{ident(SystemNHSNumber, "9691003120")},
	}
	org := &orgpb.Organization{
		Id:         &d4pb.Id{Value: "A83008"},
		Identifier: []*d4pb.Identifier{ident("https://fhir.nhs.uk/Id/ods-organization-code", "A83008")},
		Name:       &d4pb.String{Value: "HALLGARTH SURGERY & \"Co\""},
		Telecom:    []*d4pb.ContactPoint{{System: &d4pb.ContactPoint_SystemCode{Value: c4pb.ContactPointSystemCode_PHONE}, Value: &d4pb.String{Value: "0115 9737320"}}},
		Address:    []*d4pb.Address{{Text: &d4pb.String{Value: "CHEAPSIDE, SHILDON, COUNTY DURHAM, DL4 2HP"}}},
	}
	audit := &aepb.AuditEvent{
		Id:       &d4pb.Id{Value: "0b9c6a1e-3b4f-4a8e-8f10-5c2f6f7d1a11"},
		Type:     coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation"),
		Subtype:  []*d4pb.Coding{coding("http://hl7.org/fhir/restful-interaction", "search-type", "search")},
		Action:   &aepb.AuditEvent_ActionCode{Value: c4pb.AuditEventActionCode_E},
		Recorded: &d4pb.Instant{ValueUs: time.Date(2026, 11, 23, 12, 0, 0, 123456000, time.UTC).UnixMicro(), Timezone: "Z", Precision: d4pb.Instant_MICROSECOND},
		Outcome:  &aepb.AuditEvent_OutcomeCode{Value: c4pb.AuditEventOutcomeCode_SUCCESS},
		Agent: []*aepb.AuditEvent_Agent{
			{Who: &d4pb.Reference{Identifier: ident("https://fhir.nhs.uk/Id/sds-user-id", "555254242106")}, Requestor: &d4pb.Boolean{Value: true}},
			{Who: &d4pb.Reference{Reference: &d4pb.Reference_OrganizationId{OrganizationId: &d4pb.ReferenceId{Value: "A83008"}}}, Requestor: &d4pb.Boolean{Value: false},
				Network: &aepb.AuditEvent_Agent_Network{Address: &d4pb.String{Value: "192.0.2.1"}, Type: &aepb.AuditEvent_Agent_Network_TypeCode{Value: c4pb.AuditEventAgentNetworkTypeCode_IP_ADDRESS}}},
		},
		Source: &aepb.AuditEvent_Source{Observer: &d4pb.Reference{Display: &d4pb.String{Value: "eps-fhir-tracker"}}, Type: []*d4pb.Coding{coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")}},
		Entity: []*aepb.AuditEvent_Entity{
			{What: &d4pb.Reference{Reference: &d4pb.Reference_PatientId{PatientId: &d4pb.ReferenceId{Value: "9691003120"}}}},
			{What: &d4pb.Reference{Reference: &d4pb.Reference_Uri{Uri: &d4pb.String{Value: testBase + "/MedicationRequest/x-1-1"}}}},
			{Query: &d4pb.Base64Binary{Value: []byte("patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9691003120&_count=50")}},
			{Detail: []*aepb.AuditEvent_Entity_Detail{{Type: &d4pb.String{Value: "trace-id"}, Value: &aepb.AuditEvent_Entity_Detail_ValueX{
				Choice: &aepb.AuditEvent_Entity_Detail_ValueX_StringValue{StringValue: &d4pb.String{Value: "4bf92f3577b34da6a3ce929d0e0e4736"}}}}}},
		},
	}
	bundle := searchsetBundle(3)
	for _, r := range []*bcrpb.ContainedResource{
		{OneofResource: &bcrpb.ContainedResource_Patient{Patient: patient}},
		{OneofResource: &bcrpb.ContainedResource_Organization{Organization: org}},
	} {
		bundle.Entry = append(bundle.Entry, &bcrpb.Bundle_Entry{Resource: r, Search: &bcrpb.Bundle_Entry_Search{
			Mode: &bcrpb.Bundle_Entry_Search_ModeCode{Value: c4pb.SearchEntryModeCode_INCLUDE}}})
	}
	for name, res := range map[string]proto.Message{"Patient": patient, "Organization": org, "AuditEvent": audit, "Bundle with includes": bundle} {
		t.Run(name+" takes the fast path", func(t *testing.T) { checkIdentical(t, enc, ref, res) })
	}
}

// TestMarshalPrimitiveRules spells out jsonformat's rules that random values reach only by
// chance: nulls in repeated primitives, "_key" without a value, enum codes left at 0, reference
// forms, and the primitiveHasNoValue extension jsonformat consumes.
func TestMarshalPrimitiveRules(t *testing.T) {
	enc, ref := newEncoder(t), newReference(t)
	noValue := &d4pb.Extension{Url: &d4pb.Uri{Value: urlPrimitiveHasNoValue}, Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Boolean{Boolean: &d4pb.Boolean{Value: true}}}}
	absent := &d4pb.Extension{Url: &d4pb.Uri{Value: "http://hl7.org/fhir/StructureDefinition/data-absent-reason"}, Value: &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Code{Code: &d4pb.Code{Value: "masked"}}}}
	cases := map[string]*patpb.Patient{
		"a repeated primitive with an element without value is null there, and in _given": {Name: []*d4pb.HumanName{{Given: []*d4pb.String{
			{Value: "Ann"}, {Extension: []*d4pb.Extension{noValue, absent}}, {Value: "Bo", Id: &d4pb.String{Value: "g3"}},
		}}}},
		"a primitive with only primitiveHasNoValue writes neither key": {BirthDate: &d4pb.Date{Extension: []*d4pb.Extension{noValue}}},
		"an enum code left at 0 writes only its _key":                  {Gender: &patpb.Patient_GenderCode{Extension: []*d4pb.Extension{absent}}},
		"references: uri with extensions, fragment, typed with history": {
			GeneralPractitioner: []*d4pb.Reference{
				{Reference: &d4pb.Reference_Uri{Uri: &d4pb.String{Value: "Organization/A83008", Extension: []*d4pb.Extension{absent}}}},
				{Reference: &d4pb.Reference_Fragment{Fragment: &d4pb.String{Value: "org1", Extension: []*d4pb.Extension{absent}}}},
				{Reference: &d4pb.Reference_OrganizationId{OrganizationId: &d4pb.ReferenceId{Value: "A83008", History: &d4pb.Id{Value: "2"}, Id: &d4pb.String{Value: "dropped"}}}},
				{Display: &d4pb.String{Value: "identifier only"}, Identifier: &d4pb.Identifier{Value: &d4pb.String{Value: "A83008"}}},
			},
		},
		"a date in a named zone and a datetime at an odd offset": {
			BirthDate: &d4pb.Date{ValueUs: time.Date(1990, 6, 30, 23, 30, 0, 0, time.UTC).UnixMicro(), Timezone: "Australia/Lord_Howe", Precision: d4pb.Date_DAY},
			Deceased: &patpb.Patient_DeceasedX{Choice: &patpb.Patient_DeceasedX_DateTime{DateTime: &d4pb.DateTime{
				ValueUs: -62135596800000000 + 123456, Timezone: "+1:5", Precision: d4pb.DateTime_MICROSECOND}}},
		},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) { checkIdentical(t, enc, ref, p) })
	}
}

// TestOnlyEmittedResourcesArePlanned: the fast path plans the nine resource types the adapter sends
// and what they reach, not the rest of R4, whose plans held megabytes that every garbage collection
// marked. A resource of another type is still written, by jsonformat, and counted.
func TestOnlyEmittedResourcesArePlanned(t *testing.T) {
	enc, ref := newEncoder(t), newReference(t)
	for _, m := range emittedResources {
		name := m.ProtoReflect().Descriptor().FullName()
		if p := enc.plans[name]; p == nil || p.unsupported {
			t.Errorf("%s has no usable plan", name)
		}
	}
	for _, name := range []protoreflect.FullName{"google.fhir.r4.core.Observation", "google.fhir.r4.core.Task", "google.fhir.r4.core.Medication"} {
		if _, ok := enc.plans[name]; ok {
			t.Errorf("%s is planned, though the adapter never sends one", name)
		}
	}
	if n := len(enc.plans); n > 250 {
		t.Errorf("%d plans; the emitted resources reach under 200", n)
	}

	obs := &obspb.Observation{
		Id:     &d4pb.Id{Value: "obs-1"},
		Status: &obspb.Observation_StatusCode{Value: c4pb.ObservationStatusCode_FINAL},
		Code:   &d4pb.CodeableConcept{Text: &d4pb.String{Value: "not sent by the adapter"}},
	}
	bundle := &bcrpb.Bundle{
		Type: &bcrpb.Bundle_TypeCode{Value: c4pb.BundleTypeCode_COLLECTION},
		Entry: []*bcrpb.Bundle_Entry{{Resource: &bcrpb.ContainedResource{
			OneofResource: &bcrpb.ContainedResource_Observation{Observation: obs}}}},
	}
	for _, res := range []proto.Message{obs, bundle} {
		if got := checkAsJSONFormat(t, enc, ref, res); got != 2 {
			t.Errorf("%T: %d fallbacks, want one for each of compact and pretty", res, got)
		}
		got, err := enc.Marshal(res, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(got, []byte(`"resourceType":"Observation"`)) {
			t.Errorf("%T: %s has no Observation", res, got)
		}
	}
}
