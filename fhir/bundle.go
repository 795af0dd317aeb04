package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/google/fhir/go/jsonformat"
	"google.golang.org/protobuf/proto"

	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// A searchset answer is mostly its entries, and an entry depends only on the Spine record it was
// mapped from. MarshalEntry and MarshalBundleEntries let a caller keep each entry's bytes (keyed
// by a hash of that record) and write a new Bundle around them without marshalling them again:
//
//	MarshalBundleEntries(envelope, [MarshalEntry(e1), MarshalEntry(e2)...])
//
// is byte for byte Marshal of the envelope with e1, e2... as its entries.

// MarshalEntry returns the compact FHIR JSON of one Bundle entry, as it appears inside the
// Bundle's "entry" array.
func (e *Encoder) MarshalEntry(entry *bcrpb.Bundle_Entry) ([]byte, error) {
	if entry == nil {
		return nil, errors.New("fhir: marshal entry: nil entry")
	}
	if p := e.plans[entry.ProtoReflect().Descriptor().FullName()]; p != nil {
		rv := reflect.ValueOf(entry)
		if b, ok := e.fast(func(e *encState, b []byte) ([]byte, bool) { return e.appendMessage(b, rv, p, false, nil) }); ok {
			return b, nil
		}
	}
	return e.fallback(entry, func(m *jsonformat.Marshaller, c proto.Message) ([]byte, error) {
		return m.MarshalElement(c)
	})
}

// MarshalBundleEntries returns the compact FHIR JSON of envelope, a Bundle without entries, with
// entries (each from MarshalEntry) as its "entry" array. Pretty re-indents it like any answer.
func (e *Encoder) MarshalBundleEntries(envelope *bcrpb.Bundle, entries [][]byte) ([]byte, error) {
	if envelope == nil {
		return nil, errors.New("fhir: marshal bundle: nil envelope")
	}
	if len(envelope.GetEntry()) > 0 {
		return nil, errors.New("fhir: marshal bundle: the envelope already has entries")
	}
	m := envelope.ProtoReflect()
	p := e.plans[m.Descriptor().FullName()]
	if p != nil && !p.unsupported {
		fp := &p.fields[m.Descriptor().Fields().ByName("entry").Index()]
		raw := &rawField{rank: fp.rank, key: fp.key, elems: entries}
		rv := reflect.ValueOf(envelope)
		if b, ok := e.fast(func(e *encState, b []byte) ([]byte, bool) { return e.appendMessage(b, rv, p, true, raw) }); ok {
			return b, nil
		}
	}
	return e.fallback(envelope, func(jm *jsonformat.Marshaller, c proto.Message) ([]byte, error) {
		b, err := jm.MarshalResource(c)
		if err != nil || len(entries) == 0 {
			return b, err
		}
		return insertEntries(b, entries)
	})
}

// insertEntries adds "entry" to a marshalled envelope the way jsonformat's renderer would have
// placed it: encoding/json sorts an object's keys, and leaves raw JSON as it is when HTML
// escaping is off.
func insertEntries(envelope []byte, entries [][]byte) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(envelope, &obj); err != nil {
		return nil, err
	}
	obj["entry"] = appendRawArray(nil, entries)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("entries: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
