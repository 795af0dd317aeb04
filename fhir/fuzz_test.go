package fhir

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"
)

// FuzzMarshalJSON reads FHIR JSON as google/fhir does and checks that whatever resource comes out
// marshals to jsonformat's bytes, and is left unchanged. Seeds: testdata/fuzz/FuzzMarshalJSON
// and the golden answers.
//
//	go test ./fhir/ -run '^$' -fuzz FuzzMarshalJSON -fuzztime 60s
func FuzzMarshalJSON(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.golden.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	enc, ref := newEncoder(f), newReference(f)
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := u.Unmarshal(data)
		if err != nil {
			return
		}
		before := proto.Clone(res)
		got, gotErr := enc.Marshal(res, false)
		want, wantErr := ref.marshal(res, false)
		if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("Marshal %s, %v; jsonformat %s, %v", got, gotErr, want, wantErr)
		}
		if !proto.Equal(before, res) {
			t.Error("Marshal changed its input")
		}
	})
}

// FuzzMarshalRandom makes a random resource of an emitted type from each seed (the property
// test's generator) and checks that the fast path writes jsonformat's bytes without falling back.
// Seeds: testdata/fuzz/FuzzMarshalRandom.
func FuzzMarshalRandom(f *testing.F) {
	enc, ref := newEncoder(f), newReference(f)
	f.Fuzz(func(t *testing.T, seed uint64) {
		res := randomResources(seed, 1)[0]
		before := proto.Clone(res)
		fallbacks := enc.Fallbacks()
		got, err := enc.Marshal(res, false)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ref.marshal(res, false)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("differs from jsonformat:\n%s", firstDiff(got, want))
		}
		if enc.Fallbacks() != fallbacks {
			t.Error("fell back to jsonformat")
		}
		if !proto.Equal(before, res) {
			t.Error("Marshal changed its input")
		}
	})
}
