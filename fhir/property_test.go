package fhir

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestMarshalRandomIdentical is the property test: for thousands of random resources of the
// types the adapter emits, the Encoder writes jsonformat's bytes without falling back and without
// touching its input. Reproduce a failure with -fhir.seed; widen with -fhir.count.
func TestMarshalRandomIdentical(t *testing.T) {
	enc, ref := newEncoder(t), newReference(t)
	resources := sharedRandom()
	failures := 0
	for i, res := range resources {
		before := proto.Clone(res)
		fallbacks := enc.Fallbacks()
		got, err := enc.Marshal(res, false)
		want, wantErr := ref.marshal(res, false)
		switch {
		case err != nil || wantErr != nil:
			t.Errorf("resource %d (%s): Marshal error %v, jsonformat error %v", i, res.ProtoReflect().Descriptor().Name(), err, wantErr)
		case !bytes.Equal(got, want):
			t.Errorf("resource %d (%s) differs from jsonformat:\n%s", i, res.ProtoReflect().Descriptor().Name(), firstDiff(got, want))
		case enc.Fallbacks() != fallbacks:
			t.Errorf("resource %d (%s) fell back to jsonformat", i, res.ProtoReflect().Descriptor().Name())
		case !proto.Equal(before, res):
			t.Errorf("resource %d (%s) was changed by Marshal", i, res.ProtoReflect().Descriptor().Name())
		default:
			continue
		}
		if failures++; failures == 5 {
			t.Fatalf("stopping after %d failures (seed %d)", failures, *randomSeed)
		}
	}
}

// TestRandomResourcesCoverTheRules checks that the generator does make the shapes the property
// test claims to cover, so that a change to it cannot quietly empty the test.
func TestRandomResourcesCoverTheRules(t *testing.T) {
	seen := map[string]bool{}
	for _, res := range sharedRandom() {
		walk(res.ProtoReflect(), func(m protoreflect.Message) {
			d := m.Descriptor()
			seen[string(d.Name())] = true
			switch d.Name() {
			case "Reference":
				if f := m.WhichOneof(d.Oneofs().ByName("reference")); f != nil {
					seen["reference "+string(f.Name())[max(0, len(f.Name())-3):]] = true
				}
			case "DateTime", "Instant", "Date":
				tz := m.Get(d.Fields().ByName("timezone")).String()
				prec := d.Fields().ByName("precision")
				seen[string(d.Name())+" "+string(prec.Enum().Values().ByNumber(m.Get(prec).Enum()).Name())] = true
				seen["zone "+tz] = true
			}
			if ext := d.Fields().ByName("extension"); isPrimitive(d) && ext != nil && m.Has(ext) {
				seen["primitive extension"] = true
			}
			if d.Name() == "Any" {
				seen["contained"] = true
			}
		})
	}
	for _, want := range []string{
		"Bundle", "MedicationRequest", "MedicationDispense", "Patient", "Organization", "OperationOutcome",
		"CapabilityStatement", "SearchParameter", "AuditEvent", "Decimal", "Base64Binary", "Time",
		"reference uri", "reference ent", "reference _id", "primitive extension", "contained",
		"Date YEAR", "Date MONTH", "Date DAY", "DateTime SECOND", "DateTime MILLISECOND", "DateTime MICROSECOND",
		"DateTime YEAR", "Instant MICROSECOND", "zone Z", "zone +05:30", "zone Europe/London", "zone ",
	} {
		if !seen[want] {
			t.Errorf("the random resources have no %s", want)
		}
	}
}

// walk calls fn on m and every message under it.
func walk(m protoreflect.Message, fn func(protoreflect.Message)) {
	fn(m)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil:
		case fd.IsList():
			for i := range v.List().Len() {
				walk(v.List().Get(i).Message(), fn)
			}
		default:
			walk(v.Message(), fn)
		}
		return true
	})
}
