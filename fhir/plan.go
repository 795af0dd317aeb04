package fhir

import (
	"reflect"
	"sort"
	"strings"
	"unicode"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	aepb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/audit_event_go_proto"
	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	cspb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/capability_statement_go_proto"
	mdpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_dispense_go_proto"
	mrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/medication_request_go_proto"
	oopb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/operation_outcome_go_proto"
	orgpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
	patpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
	sppb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/search_parameter_go_proto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// msgPlan is what the encoder needs to know about one message type, worked out once from its
// descriptor, its FHIR annotations and its generated Go struct. Encoding reads the struct through
// reflect by field index: protoreflect's Has and Get look each field's type up in a shared map,
// which made them most of the cost.
type msgPlan struct {
	name   string       // the resourceType when the message is marshalled as a resource
	goType reflect.Type // the generated Go type, a pointer to struct
	rtRank int32        // where "resourceType" sorts among this message's keys

	// Non-primitive messages.
	fields      []fieldPlan // by field index in the descriptor
	plain       []int32     // the fields outside any oneof, by index
	oneofs      []oneofPlan
	unsupported bool // a shape jsonformat refuses or would marshal oddly: fall back

	isReference bool
	refURIRank  int32 // rank of "reference", where a fragment or typed id is written
	isContainer bool  // ContainedResource: write the one resource it holds, with resourceType

	// Primitive messages: the Go field indices of value, id, extension (-1 when the type has
	// none), and for Date, DateTime, Instant and Time value_us, timezone and precision with the
	// layout for each precision, [0] with an offset, [1] for timezone "Z".
	prim                   primKind
	valueIdx, idIdx        int
	extIdx                 int
	usIdx, tzIdx, precIdx  int
	historyIdx             int // ReferenceId's history
	layouts                map[int64][2]string
	codes                  map[int64]string // primEnum: enum number -> FHIR code
	extPlan                *msgPlan         // R4 Extension
	stringValueIdx         int              // String.value, for the id
	extURLIdx, uriValueIdx int              // Extension.url and Uri.value
}

// oneofPlan is a oneof of the Go struct: an interface field holding a wrapper per member.
type oneofPlan struct {
	goIndex int
	byType  map[reflect.Type]int32 // wrapper type -> member field index
}

// refKind says how a field of Reference's reference oneof is written after jsonformat's
// DenormalizeReference would have rewritten it.
type refKind uint8

const (
	refNone     refKind = iota
	refFragment         // "#" + the fragment, as "reference"
	refTyped            // "Type/id[/_history/v]", as "reference"
)

// fieldPlan is one field of a non-primitive message.
type fieldPlan struct {
	fd      protoreflect.FieldDescriptor
	goIndex int      // the Go struct field (the wrapper's value field for a oneof member)
	child   *msgPlan // the plan of the field's message type; may still be under construction
	list    bool
	prim    bool // the field's type is a primitive (read from the descriptor, not from child)
	key     string
	extKey  string // "_" + key, for primitives
	rank    int32
	extRank int32

	choice    *choicePlan // singular choice-type field (value[x])
	contained bool        // google.protobuf.Any named "contained": a contained resource
	ref       refKind
	refType   string // refTyped: the FHIR resource type of the typed id
}

// choicePlan is a choice-type field's alternatives, found by the wrapper type its oneof holds.
type choicePlan struct {
	goIndex int // the oneof's interface field in the choice message
	byType  map[reflect.Type]*altPlan
}

// altPlan is one alternative of a choice-type field, e.g. valueCoding of Extension.value.
type altPlan struct {
	child   *msgPlan
	goIndex int // the value field in the wrapper
	prim    bool
	key     string
	extKey  string
	rank    int32
	extRank int32
}

// plans holds a plan for every message type reachable from the resource types the adapter emits. It
// is built whole in NewEncoder and never written afterwards, so encoding reads it without a lock.
type plans map[protoreflect.FullName]*msgPlan

// emittedResources are the resource types the adapter sends: the fast path plans them and every
// message type they reach, and nothing else. A ContainedResource holding any other resource, in a
// Bundle or as a contained resource, goes to jsonformat and is counted as a fallback. Planning all
// 146 R4 resources held 7.4 MB in 1,220 plans, pointers that every garbage collection marked; these
// nine need 2.6 MB in 188 (TestOnlyEmittedResourcesArePlanned).
var emittedResources = []proto.Message{
	&bcrpb.Bundle{}, &mrpb.MedicationRequest{}, &mdpb.MedicationDispense{}, &patpb.Patient{},
	&orgpb.Organization{}, &oopb.OperationOutcome{}, &cspb.CapabilityStatement{},
	&sppb.SearchParameter{}, &aepb.AuditEvent{},
}

func buildPlans() plans {
	ps := plans{}
	ps.build((&bcrpb.ContainedResource{}).ProtoReflect().Descriptor())
	return ps
}

// isEmitted reports whether name is one of emittedResources.
func isEmitted(name protoreflect.FullName) bool {
	for _, m := range emittedResources {
		if m.ProtoReflect().Descriptor().FullName() == name {
			return true
		}
	}
	return false
}

// notEmitted is the child plan of ContainedResource's fields for the resource types the adapter
// does not send: writing one fails, and the resource goes to jsonformat.
var notEmitted = &msgPlan{name: "not emitted", unsupported: true, prim: primUnsupported}

// build returns d's plan. A recursive type (Extension holds Extensions, Identifier a Reference
// holding an Identifier) meets its own plan before that plan is complete: the plan is registered
// first and nothing here reads another plan's contents, only its pointer. Whether a field is a
// primitive or a choice comes from the descriptors.
func (ps plans) build(d protoreflect.MessageDescriptor) *msgPlan {
	if p, ok := ps[d.FullName()]; ok {
		return p
	}
	p := &msgPlan{name: string(d.Name())}
	ps[d.FullName()] = p
	mt, err := protoregistry.GlobalTypes.FindMessageByName(d.FullName())
	if err != nil {
		p.unsupported, p.prim = true, primUnsupported
		return p
	}
	p.goType = reflect.TypeOf(mt.Zero().Interface())
	if isPrimitive(d) {
		ps.planPrimitive(p, d)
		return p
	}
	fields := d.Fields()
	p.fields = make([]fieldPlan, fields.Len())
	keys := []string{"resourceType"}
	for i := range fields.Len() {
		f := fields.Get(i)
		fp := &p.fields[i]
		fp.fd = f
		fp.list = f.IsList()
		fp.goIndex = goFieldIndex(p.goType, f.Name())
		if od := f.ContainingOneof(); od != nil {
			fp.goIndex = wrapperValueIndex(mt, f)
		} else {
			p.plain = append(p.plain, int32(i))
		}
		if f.Message() == nil || f.IsMap() || fp.goIndex < 0 {
			p.unsupported = true
			continue
		}
		if d.FullName() == containedResource && !isEmitted(f.Message().FullName()) {
			fp.child = notEmitted
		} else {
			fp.child = ps.build(f.Message())
		}
		fp.prim = isPrimitive(f.Message())
		fp.key = f.JSONName()
		fp.contained = f.Message().FullName() == "google.protobuf.Any" && f.JSONName() == "contained"
		keys = append(keys, fp.key)
		if fp.prim {
			fp.extKey = "_" + fp.key
			keys = append(keys, fp.extKey)
		}
		if !fp.list && isChoice(f.Message()) {
			if fp.choice = ps.planChoice(f); fp.choice == nil {
				p.unsupported = true
				continue
			}
			for _, a := range fp.choice.byType {
				keys = append(keys, a.key)
				if a.prim {
					keys = append(keys, a.extKey)
				}
			}
		}
	}
	for i := range d.Oneofs().Len() {
		od := d.Oneofs().Get(i)
		op := oneofPlan{goIndex: goOneofIndex(p.goType, od.Name()), byType: map[reflect.Type]int32{}}
		if op.goIndex < 0 {
			p.unsupported = true
			continue
		}
		for j := range od.Fields().Len() {
			f := od.Fields().Get(j)
			op.byType[wrapperType(mt, f)] = int32(f.Index())
		}
		p.oneofs = append(p.oneofs, op)
	}
	p.isContainer = d.Name() == "ContainedResource"
	if proto.HasExtension(d.Options(), apb.E_FhirReferenceType) {
		planReference(p, d)
	}

	sort.Strings(keys)
	rank := make(map[string]int32, len(keys))
	for i, k := range keys {
		if i > 0 && keys[i-1] == k {
			// Two fields would write one key; jsonformat keeps whichever it met last.
			p.unsupported = true
		}
		rank[k] = int32(i)
	}
	p.rtRank = rank["resourceType"]
	for i := range p.fields {
		fp := &p.fields[i]
		fp.rank, fp.extRank = rank[fp.key], rank[fp.extKey]
		if fp.choice != nil {
			for _, a := range fp.choice.byType {
				a.rank, a.extRank = rank[a.key], rank[a.extKey]
			}
		}
	}
	if p.isReference {
		p.refURIRank = rank["reference"]
	}
	// Visiting fields in key order leaves the encoder's sort little to do.
	sort.Slice(p.plain, func(i, j int) bool { return p.fields[p.plain[i]].rank < p.fields[p.plain[j]].rank })
	return p
}

// planChoice plans the alternatives of f, a singular field of a choice type, named as jsonformat
// names them: field name + alternative, in lower camel case.
func (ps plans) planChoice(f protoreflect.FieldDescriptor) *choicePlan {
	cd := f.Message()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(cd.FullName())
	if err != nil || cd.Oneofs().Len() != 1 {
		return nil
	}
	od := cd.Oneofs().Get(0)
	c := &choicePlan{goIndex: goOneofIndex(reflect.TypeOf(mt.Zero().Interface()), od.Name()), byType: map[reflect.Type]*altPlan{}}
	if c.goIndex < 0 {
		return nil
	}
	for j := range od.Fields().Len() {
		af := od.Fields().Get(j)
		if af.Message() == nil {
			return nil
		}
		a := &altPlan{child: ps.build(af.Message()), goIndex: wrapperValueIndex(mt, af), prim: isPrimitive(af.Message())}
		a.key = snakeToLowerCamel(string(f.Name()) + "_" + camelToSnake(af.JSONName()))
		if a.prim {
			a.extKey = "_" + a.key
		}
		if a.goIndex < 0 {
			return nil
		}
		c.byType[wrapperType(mt, af)] = a
	}
	return c
}

// wrapperType is the Go type of the wrapper a generated struct's oneof interface holds when f is
// set, found by setting it on a new message.
func wrapperType(mt protoreflect.MessageType, f protoreflect.FieldDescriptor) reflect.Type {
	m := mt.New()
	m.Set(f, m.NewField(f))
	rv := reflect.ValueOf(m.Interface()).Elem()
	return rv.Field(goOneofIndex(rv.Addr().Type(), f.ContainingOneof().Name())).Elem().Type()
}

// wrapperValueIndex is the index of f's value in its oneof wrapper struct, -1 if not found.
func wrapperValueIndex(mt protoreflect.MessageType, f protoreflect.FieldDescriptor) int {
	if goOneofIndex(reflect.TypeOf(mt.Zero().Interface()), f.ContainingOneof().Name()) < 0 {
		return -1
	}
	return goFieldIndex(wrapperType(mt, f), f.Name())
}

// planReference marks the fields of Reference's reference oneof that jsonformat's
// DenormalizeReference rewrites into a "reference" string: the fragment and the typed ids.
func planReference(p *msgPlan, d protoreflect.MessageDescriptor) {
	od := d.Oneofs().ByName("reference")
	if od == nil || d.FullName() != "google.fhir.r4.core.Reference" {
		p.unsupported = true
		return
	}
	p.isReference = true
	fs := od.Fields()
	for i := range fs.Len() {
		f := fs.Get(i)
		fp := &p.fields[f.Index()]
		switch {
		case f.Name() == "fragment":
			fp.ref = refFragment
		case strings.HasSuffix(string(f.Name()), "_id"):
			fp.ref = refTyped
			if v := f.Options().ProtoReflect().Get(apb.E_ReferencedFhirType.TypeDescriptor()); v.IsValid() {
				fp.refType = v.String()
			}
		}
	}
}

// goOneofIndex finds the generated struct's interface field for oneof name, -1 when none.
func goOneofIndex(t reflect.Type, name protoreflect.Name) int {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return -1
	}
	st := t.Elem()
	for i := range st.NumField() {
		if st.Field(i).Tag.Get("protobuf_oneof") == string(name) {
			return i
		}
	}
	return -1
}

// goFieldIndex finds the generated struct field holding proto field name, -1 when there is none.
func goFieldIndex(t reflect.Type, name protoreflect.Name) int {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return -1
	}
	st := t.Elem()
	for i := range st.NumField() {
		for part := range strings.SplitSeq(st.Field(i).Tag.Get("protobuf"), ",") {
			if part == "name="+string(name) {
				return i
			}
		}
	}
	return -1
}

const containedResource protoreflect.FullName = "google.fhir.r4.core.ContainedResource"

func isPrimitive(d protoreflect.MessageDescriptor) bool {
	k := proto.GetExtension(d.Options(), apb.E_StructureDefinitionKind).(apb.StructureDefinitionKindValue)
	return k == apb.StructureDefinitionKindValue_KIND_PRIMITIVE_TYPE
}

func isChoice(d protoreflect.MessageDescriptor) bool {
	return proto.GetExtension(d.Options(), apb.E_IsChoiceType).(bool)
}

// camelToSnake and snakeToLowerCamel are jsonformat's (internal/jsonpbhelper) name rules, copied
// so that a choice field's JSON name (as_needed + Boolean -> asNeededBoolean) is spelled as its.
func camelToSnake(s string) string {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		if !unicode.IsLower(c) && len(out) > 0 {
			out = append(out, '_')
		}
		out = append(out, unicode.ToLower(c))
	}
	return string(out)
}

func snakeToLowerCamel(s string) string {
	if s == "" {
		return s
	}
	out := make([]rune, 0, len(s))
	upper := true
	for _, c := range s {
		switch {
		case c == '_':
			upper = true
		case upper:
			upper = false
			out = append(out, unicode.ToUpper(c))
		default:
			out = append(out, unicode.ToLower(c))
		}
	}
	camel := string(out)
	return strings.ToLower(camel[:1]) + camel[1:]
}
