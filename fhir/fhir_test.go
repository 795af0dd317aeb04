package fhir

import (
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
)

// roundTrip marshals res with enc, reads it back through google/fhir's validating R4
// unmarshaller and checks that nothing was lost. It returns the JSON.
func roundTrip(t *testing.T, enc *Encoder, res proto.Message) []byte {
	t.Helper()
	b, err := enc.Marshal(res, false)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := u.Unmarshal(b)
	if err != nil {
		t.Fatalf("R4 validation refused %s: %v", b, err)
	}
	got := unwrap(t, cr)
	// The unmarshaller keeps "Patient/x" a URI where the sender may have used a typed id: compare
	// references in one form.
	want := proto.Clone(res)
	normalizeReferences(t, want.ProtoReflect())
	normalizeReferences(t, got.ProtoReflect())
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("round trip changed the resource (-sent +read):\n%s", diff)
	}
	return b
}

// normalizeReferences rewrites every Reference under m in jsonformat's typed-id form.
func normalizeReferences(t testing.TB, m protoreflect.Message) {
	t.Helper()
	if m.Descriptor().Name() == "Reference" {
		if err := jsonformat.NormalizeReference(m.Interface()); err != nil {
			t.Fatalf("NormalizeReference: %v", err)
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil:
		case fd.IsList():
			for i := range v.List().Len() {
				normalizeReferences(t, v.List().Get(i).Message())
			}
		case !fd.IsMap():
			normalizeReferences(t, v.Message())
		}
		return true
	})
}

// unwrap returns the resource a ContainedResource holds.
func unwrap(t *testing.T, cr proto.Message) proto.Message {
	t.Helper()
	m := cr.ProtoReflect()
	od := m.Descriptor().Oneofs().ByName("oneof_resource")
	if od == nil {
		t.Fatalf("%s is not a ContainedResource", m.Descriptor().FullName())
	}
	f := m.WhichOneof(od)
	if f == nil {
		t.Fatal("ContainedResource holds nothing")
	}
	return m.Get(f).Message().Interface()
}

func newEncoder(t testing.TB) *Encoder {
	t.Helper()
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}
