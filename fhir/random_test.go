package fhir

import (
	"flag"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

var (
	randomSeed  = flag.Uint64("fhir.seed", 20261202, "seed of the random-resource property test")
	randomCount = flag.Int("fhir.count", 2000, "resources the random-resource property test makes")
)

// emitted are new messages of the resource types the adapter sends, the ones the random test makes.
func emitted() []proto.Message {
	ms := make([]proto.Message, len(emittedResources))
	for i, m := range emittedResources {
		ms[i] = m.ProtoReflect().New().Interface()
	}
	return ms
}

// sharedRandom is the property test's resources, made once for the tests that read them.
var sharedRandom = sync.OnceValue(func() []proto.Message { return randomResources(*randomSeed, *randomCount) })

// randomResources makes n resources of the emitted types from seed: every primitive kind with
// values chosen to hit jsonformat's rules (choice types, ids and extensions on primitives,
// primitiveHasNoValue, typed/relative/absolute/fragment references, every date precision in UTC,
// named and offset time zones, decimals, strings with escapes and invalid UTF-8, contained
// resources, recursive Extensions).
func randomResources(seed uint64, n int) []proto.Message {
	g := &generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	types := emitted()
	out := make([]proto.Message, n)
	for i := range out {
		m := types[g.r.IntN(len(types))].ProtoReflect().New()
		g.fill(m, 0)
		out[i] = m.Interface()
	}
	return out
}

type generator struct {
	r *rand.Rand
	// utf8Only is set while filling a contained resource: an Any holds proto wire bytes, and
	// proto3 refuses to encode invalid UTF-8 strings.
	utf8Only bool
}

// maxDepth bounds nesting; recursive types (Extension, Identifier.assigner) stop there.
const maxDepth = 4

func (g *generator) fill(m protoreflect.Message, depth int) {
	d := m.Descriptor()
	if d.FullName() == "google.fhir.r4.core.Reference" {
		g.fillReference(m, depth)
		return
	}
	if d.Name() == "ContainedResource" {
		types := emitted()
		res := types[1+g.r.IntN(len(types)-1)].ProtoReflect().New() // no Bundle inside a Bundle
		g.fill(res, depth+1)
		m.Set(d.Fields().ByName(protoreflect.Name(camelToSnake(string(res.Descriptor().Name())))), protoreflect.ValueOfMessage(res))
		return
	}
	if isChoice(d) {
		alts := d.Oneofs().Get(0).Fields()
		for range 8 { // prefer an alternative that can be filled at this depth
			f := alts.Get(g.r.IntN(alts.Len()))
			if depth < maxDepth || isPrimitive(f.Message()) {
				g.setField(m, f, depth)
				return
			}
		}
		g.setField(m, alts.Get(0), depth) // base64Binary: always fillable
		return
	}
	fs := d.Fields()
	p := 0.35 / float64(depth+1)
	for i := range fs.Len() {
		f := fs.Get(i)
		if f.ContainingOneof() != nil || g.r.Float64() > p {
			continue
		}
		if depth >= maxDepth && !isPrimitive(f.Message()) {
			continue
		}
		if f.Message().FullName() == "google.protobuf.Any" {
			if f.JSONName() == "contained" && depth < 2 {
				g.addContained(m, f, depth)
			}
			continue
		}
		if f.IsList() {
			l := m.Mutable(f).List()
			for range 1 + g.r.IntN(3) {
				e := l.NewElement()
				if isPrimitive(f.Message()) {
					g.primitive(e.Message())
				} else {
					g.fill(e.Message(), depth+1)
				}
				l.Append(e)
			}
			continue
		}
		g.setField(m, f, depth)
	}
}

func (g *generator) setField(m protoreflect.Message, f protoreflect.FieldDescriptor, depth int) {
	v := m.NewField(f)
	if isPrimitive(f.Message()) {
		g.primitive(v.Message())
	} else {
		g.fill(v.Message(), depth+1)
	}
	m.Set(f, v)
}

func (g *generator) addContained(m protoreflect.Message, f protoreflect.FieldDescriptor, depth int) {
	cr := &bcrpb.ContainedResource{}
	g.utf8Only = true
	g.fill(cr.ProtoReflect(), depth+1)
	g.utf8Only = false
	a, err := anypb.New(cr)
	if err != nil {
		panic(err)
	}
	m.Mutable(f).List().Append(protoreflect.ValueOfMessage(a.ProtoReflect()))
}

// fillReference sets one of the forms jsonformat treats differently, plus the other fields.
func (g *generator) fillReference(m protoreflect.Message, depth int) {
	ref := m.Interface().(*d4pb.Reference)
	switch g.r.IntN(5) {
	case 0:
		ref.Reference = &d4pb.Reference_Uri{Uri: g.stringPrim(pick(g.r, "Patient/9691003120", "https://example.org/fhir/Organization/A83008", "urn:uuid:0b9c6a1e-3b4f-4a8e-8f10-5c2f6f7d1a11", "MedicationRequest/x/_history/2", g.text()))}
	case 1:
		ref.Reference = &d4pb.Reference_Fragment{Fragment: g.stringPrim(g.text())}
	case 2, 3:
		od := m.Descriptor().Oneofs().ByName("reference")
		for {
			f := od.Fields().Get(g.r.IntN(od.Fields().Len()))
			if !strings.HasSuffix(string(f.Name()), "_id") {
				continue
			}
			id := &d4pb.ReferenceId{Value: g.text()}
			if g.r.IntN(3) == 0 {
				id.History = &d4pb.Id{Value: pick(g.r, "1", "", "h"+g.text())}
			}
			m.Set(f, protoreflect.ValueOfMessage(id.ProtoReflect()))
			break
		}
	}
	if g.r.IntN(2) == 0 {
		ref.Display = g.stringPrim(g.text())
	}
	if g.r.IntN(3) == 0 && depth < maxDepth {
		ref.Identifier = &d4pb.Identifier{System: &d4pb.Uri{Value: "https://fhir.nhs.uk/Id/nhs-number"}, Value: g.stringPrim(g.text())}
	}
	if g.r.IntN(4) == 0 {
		ref.Type = &d4pb.Uri{Value: pick(g.r, "Patient", "Organization")}
	}
}

func (g *generator) stringPrim(s string) *d4pb.String {
	p := &d4pb.String{Value: s}
	g.primitiveExtras(p.ProtoReflect())
	return p
}

// primitive sets a random value for any R4 primitive, sometimes with an id, extensions or
// primitiveHasNoValue (its "_field" object).
func (g *generator) primitive(m protoreflect.Message) {
	d := m.Descriptor()
	fs := d.Fields()
	value := fs.ByName("value")
	switch d.Name() {
	case "Boolean":
		m.Set(value, protoreflect.ValueOfBool(g.r.IntN(2) == 0))
	case "Integer":
		m.Set(value, protoreflect.ValueOfInt32(pick(g.r, 0, -1, 1, 2147483647, -2147483648, g.r.Int32())))
	case "PositiveInt", "UnsignedInt":
		m.Set(value, protoreflect.ValueOfUint32(pick(g.r, 0, 1, 4294967295, g.r.Uint32())))
	case "Decimal":
		m.Set(value, protoreflect.ValueOfString(pick(g.r, "0", "-0", "1.50", "-0.000100", "3.14159265358979323846264338327950288", "1e10", "6.02E+23", "1E-7", "100")))
	case "Base64Binary":
		b := make([]byte, g.r.IntN(40))
		for i := range b {
			b[i] = byte(g.r.UintN(256))
		}
		m.Set(value, protoreflect.ValueOfBytes(b))
	case "Date", "DateTime", "Instant", "Time":
		g.timeLike(m)
	default:
		switch {
		case value == nil:
		case value.Kind() == protoreflect.EnumKind:
			vs := value.Enum().Values()
			m.Set(value, protoreflect.ValueOfEnum(vs.Get(g.r.IntN(vs.Len())).Number())) // 0 too: no value
		case value.Kind() == protoreflect.StringKind:
			m.Set(value, protoreflect.ValueOfString(g.text()))
		}
	}
	g.primitiveExtras(m)
}

func (g *generator) primitiveExtras(m protoreflect.Message) {
	fs := m.Descriptor().Fields()
	if g.r.IntN(12) == 0 {
		m.Set(fs.ByName("id"), protoreflect.ValueOfMessage((&d4pb.String{Value: g.text()}).ProtoReflect()))
	}
	if g.r.IntN(10) == 0 && fs.ByName("extension") != nil {
		l := m.Mutable(fs.ByName("extension")).List()
		for range 1 + g.r.IntN(2) {
			ext := &d4pb.Extension{Url: &d4pb.Uri{Value: pick(g.r, "http://hl7.org/fhir/StructureDefinition/data-absent-reason", urlPrimitiveHasNoValue, g.text())}}
			if g.r.IntN(3) > 0 {
				ext.Value = &d4pb.Extension_ValueX{Choice: &d4pb.Extension_ValueX_Code{Code: &d4pb.Code{Value: "unknown"}}}
			}
			l.Append(protoreflect.ValueOfMessage(ext.ProtoReflect()))
		}
	}
}

var zones = []string{"Z", "", "UTC", "+05:30", "-08:00", "+14:00", "-00:00", "+00:00", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "+1:5"}

// timeLike sets value_us, a time zone and a precision valid for the type.
func (g *generator) timeLike(m protoreflect.Message) {
	fs := m.Descriptor().Fields()
	var us int64
	switch g.r.IntN(4) {
	case 0:
		us = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).UnixMicro()
	case 1:
		us = g.r.Int64N(253402300799000000) // up to 9999-12-31
	case 2:
		us = -g.r.Int64N(62135596800000000) // back to year 1
	default:
		us = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() + g.r.Int64N(1e6)
	}
	if m.Descriptor().Name() == "Time" {
		us = g.r.Int64N(86400 * 1e6)
	}
	m.Set(fs.ByName("value_us"), protoreflect.ValueOfInt64(us))
	if tz := fs.ByName("timezone"); tz != nil {
		m.Set(tz, protoreflect.ValueOfString(zones[g.r.IntN(len(zones))]))
	}
	vs := fs.ByName("precision").Enum().Values()
	m.Set(fs.ByName("precision"), protoreflect.ValueOfEnum(vs.Get(1+g.r.IntN(vs.Len()-1)).Number()))
}

// text is a string from the shapes that test escaping: plain, HTML, quotes and backslashes,
// control characters, non-ASCII, U+2028/U+2029, invalid and truncated UTF-8.
func (g *generator) text() string {
	parts := []string{"9691003120", "A83008", "<b>&amp;</b>", `"quoted" \back\slash/`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f", "Zoë Ĳssel — 日本語 😀", "\u2028\u2029", "\xff\xfe", "\xe2\x80", "é\xc3", "plain text", ""}
	var b strings.Builder
	for range 1 + g.r.IntN(3) {
		b.WriteString(parts[g.r.IntN(len(parts))])
	}
	if g.utf8Only {
		return strings.ToValidUTF8(b.String(), "\uFFFD")
	}
	return b.String()
}

func pick[T any](r *rand.Rand, vs ...T) T { return vs[r.IntN(len(vs))] }
