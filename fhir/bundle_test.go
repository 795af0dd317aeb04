package fhir

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// splitBundle is what the caller of MarshalBundleEntries holds: the Bundle without its entries,
// and each entry's bytes from MarshalEntry.
func splitBundle(t *testing.T, enc *Encoder, b *bcrpb.Bundle) (*bcrpb.Bundle, [][]byte) {
	t.Helper()
	envelope := proto.Clone(b).(*bcrpb.Bundle)
	envelope.Entry = nil
	var entries [][]byte
	for _, e := range b.GetEntry() {
		eb, err := enc.MarshalEntry(e)
		if err != nil {
			t.Fatalf("MarshalEntry: %v", err)
		}
		entries = append(entries, eb)
	}
	return envelope, entries
}

// TestMarshalBundleEntriesIdentical holds the memo's promise: a Bundle written around entries
// marshalled one by one is byte for byte the Bundle marshalled whole, and jsonformat's.
func TestMarshalBundleEntriesIdentical(t *testing.T) {
	enc, ref := newEncoder(t), newReference(t)
	bundles := map[string]*bcrpb.Bundle{"searchset of 50": searchsetBundle(50), "searchset of 0": searchsetBundle(0)}
	for name, b := range goldenBundles(t) {
		typed := proto.Clone(b).(*bcrpb.Bundle)
		normalizeReferences(t, typed.ProtoReflect())
		bundles[name] = b
		bundles[name+" with typed references"] = typed
	}
	for _, res := range sharedRandom()[:400] {
		if b, ok := res.(*bcrpb.Bundle); ok && len(b.GetEntry()) > 0 {
			bundles["random bundle "+b.GetId().GetValue()+string(rune('a'+len(bundles)%26))] = b
		}
	}
	for name, b := range bundles {
		t.Run(name+": envelope around entries equals the whole", func(t *testing.T) {
			fallbacks := enc.Fallbacks()
			envelope, entries := splitBundle(t, enc, b)
			got, err := enc.MarshalBundleEntries(envelope, entries)
			if err != nil {
				t.Fatal(err)
			}
			whole, err := enc.Marshal(b, false)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.marshal(b, false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, whole) || !bytes.Equal(got, want) {
				t.Fatalf("envelope+entries differs\n%s", firstDiff(got, want))
			}
			if got := enc.Fallbacks() - fallbacks; got != 0 {
				t.Errorf("%d fallbacks, want 0", got)
			}
			// The fallback path (jsonformat's envelope, entries spliced in) must agree too.
			env, err := ref.marshal(envelope, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) > 0 {
				if env, err = insertEntries(env, entries); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(env, want) {
				t.Errorf("fallback envelope+entries differs\n%s", firstDiff(env, want))
			}
		})
	}
	t.Run("an envelope that already has entries is refused", func(t *testing.T) {
		if _, err := enc.MarshalBundleEntries(searchsetBundle(1), nil); err == nil {
			t.Error("MarshalBundleEntries accepted an envelope with entries")
		}
	})
	t.Run("nil envelope and nil entry are errors", func(t *testing.T) {
		if _, err := enc.MarshalBundleEntries(nil, nil); err == nil {
			t.Error("MarshalBundleEntries(nil) succeeded")
		}
		if _, err := enc.MarshalEntry(nil); err == nil {
			t.Error("MarshalEntry(nil) succeeded")
		}
	})
	t.Run("an entry the fast path cannot write is jsonformat's, counted", func(t *testing.T) {
		e := &bcrpb.Bundle_Entry{Resource: &bcrpb.ContainedResource{}}
		before := enc.Fallbacks()
		_, err := enc.MarshalEntry(e)
		if _, werr := ref.compact.MarshalElement(proto.Clone(e)); (err == nil) != (werr == nil) {
			t.Errorf("MarshalEntry error %v, jsonformat error %v", err, werr)
		}
		if enc.Fallbacks() == before {
			t.Error("no fallback counted")
		}
	})
}
