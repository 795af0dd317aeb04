package mapping

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	c4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// update rewrites the golden files of this package's tests: go test ./mapping -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testBaseURL = "http://127.0.0.1:8080/FHIR/R4"

// loadSource reads a test case: a Source as JSON, with the tracker model's Go field names.
func loadSource(t *testing.T, path string) Source {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var src Source
	if err := dec.Decode(&src); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return src
}

// collection puts what the mapping produced for a case in a Bundle of type collection: its
// MedicationRequests, then its MedicationDispenses.
func collection(t *testing.T, src Source) *bcrpb.Bundle {
	t.Helper()
	reqs, err := MedicationRequests(src)
	if err != nil {
		t.Fatalf("MedicationRequests: %v", err)
	}
	disps, err := MedicationDispenses(src)
	if err != nil {
		t.Fatalf("MedicationDispenses: %v", err)
	}
	b := &bcrpb.Bundle{Type: &bcrpb.Bundle_TypeCode{Value: c4pb.BundleTypeCode_COLLECTION}}
	add := func(typ, id string, cr *bcrpb.ContainedResource) {
		b.Entry = append(b.Entry, &bcrpb.Bundle_Entry{
			FullUrl:  &d4pb.Uri{Value: testBaseURL + "/" + typ + "/" + id},
			Resource: cr,
		})
	}
	for _, r := range reqs {
		add("MedicationRequest", r.GetId().GetValue(),
			&bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_MedicationRequest{MedicationRequest: r}})
	}
	for _, d := range disps {
		add("MedicationDispense", d.GetId().GetValue(),
			&bcrpb.ContainedResource{OneofResource: &bcrpb.ContainedResource_MedicationDispense{MedicationDispense: d}})
	}
	return b
}

func marshaller(t *testing.T, indent bool) *jsonformat.Marshaller {
	t.Helper()
	ind := ""
	if indent {
		ind = "  "
	}
	m, err := jsonformat.NewMarshaller(indent, "", ind, fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func unmarshaller(t *testing.T) *jsonformat.Unmarshaller {
	t.Helper()
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// validate marshals a resource as the adapter does and reads it back with google/fhir's validating
// unmarshaller: it must pass, and come back unchanged.
func validate(t *testing.T, res proto.Message) {
	t.Helper()
	// google/fhir's marshaller rewrites references in place: marshal a copy.
	b, err := marshaller(t, false).MarshalResource(proto.Clone(res))
	if err != nil {
		t.Fatalf("marshal %T: %v", res, err)
	}
	got, err := unmarshaller(t).Unmarshal(b)
	if err != nil {
		t.Fatalf("R4 validation of %s: %v", b, err)
	}
	cr, ok := got.(*bcrpb.ContainedResource)
	if !ok {
		t.Fatalf("unmarshalled a %T", got)
	}
	back := cr.ProtoReflect()
	od := back.WhichOneof(back.Descriptor().Oneofs().ByName("oneof_resource"))
	if od == nil {
		t.Fatalf("unmarshalled an empty resource from %s", b)
	}
	if diff := cmp.Diff(res, back.Get(od).Message().Interface(), protocmp.Transform()); diff != "" {
		t.Errorf("%T changed in a JSON round trip (-made +read):\n%s", res, diff)
	}
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.tracker.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no test cases in testdata")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".tracker.json")
		t.Run(name, func(t *testing.T) {
			got := collection(t, loadSource(t, in))
			for _, e := range got.GetEntry() {
				r := e.GetResource().ProtoReflect()
				validate(t, r.Get(r.WhichOneof(r.Descriptor().Oneofs().ByName("oneof_resource"))).Message().Interface())
			}
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				b, err := marshaller(t, true).Marshal(&bcrpb.ContainedResource{
					OneofResource: &bcrpb.ContainedResource_Bundle{Bundle: proto.Clone(got).(*bcrpb.Bundle)},
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./mapping -update)", err)
			}
			want, err := unmarshaller(t).Unmarshal(b)
			if err != nil {
				t.Fatalf("golden %s is not valid R4: %v", golden, err)
			}
			if diff := cmp.Diff(want.(*bcrpb.ContainedResource).GetBundle(), got, protocmp.Transform()); diff != "" {
				t.Errorf("%s differs (-golden +got):\n%s", golden, diff)
			}
		})
	}
}
