package fhir

import (
	"reflect"

	"google.golang.org/protobuf/types/known/anypb"

	bcrpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
)

// The fast path writes what jsonformat would: jsonformat builds a map per message and lets
// encoding/json sort its keys, so an object's keys come out in byte order. Here each message's
// possible keys are ranked once (plan.go); encoding collects the keys a value sets, sorts those
// few by rank and appends each straight into the output. Every function returns ok=false for a
// shape it does not cover (or that jsonformat would refuse); the caller then asks jsonformat.

// emitKind is what one collected key writes.
type emitKind uint8

const (
	emitResourceType emitKind = iota
	emitMessage               // a non-primitive value: object, contained resource
	emitPrim                  // a primitive's value
	emitPrimExt               // a primitive's "_key": its id and extensions
	emitList                  // a repeated field's values
	emitListExt               // a repeated primitive field's "_key" array
	emitRefFragment           // "reference": "#" + fragment
	emitRefTyped              // "reference": "Type/id"
	emitRaw                   // already-marshalled array elements (MarshalBundleEntries)
)

// emit is one key a message writes, collected before writing so that keys can be sorted.
type emit struct {
	rank  int32
	kind  emitKind
	key   string
	fp    *fieldPlan
	child *msgPlan
	v     reflect.Value // a pointer to the value's struct, or the slice of a repeated field
}

// rawField is a key whose value is written from bytes the caller already holds.
type rawField struct {
	rank  int32
	key   string
	elems [][]byte
}

// encState is one fast-path encoding's scratch, pooled by the Encoder: the collected keys of the
// messages being written, a stack shared by the nesting so that no message needs its own array.
type encState struct {
	*Encoder
	emits []emit
	buf   []byte
}

func appendKey(b []byte, key string) []byte {
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// appendMessage writes rv, a pointer to a non-primitive message struct, as a JSON object;
// asResource adds its resourceType as jsonformat's MarshalResource does.
func (e *encState) appendMessage(b []byte, rv reflect.Value, p *msgPlan, asResource bool, raw *rawField) ([]byte, bool) {
	if p.unsupported || p.prim != notPrimitive || rv.Type() != p.goType || rv.IsNil() {
		return b, false
	}
	s := rv.Elem()
	base := len(e.emits)
	if asResource {
		e.emits = append(e.emits, emit{rank: p.rtRank, kind: emitResourceType, key: "resourceType"})
	}
	if raw != nil && len(raw.elems) > 0 {
		e.emits = append(e.emits, emit{rank: raw.rank, kind: emitRaw, key: raw.key})
	}
	for _, i := range p.plain {
		fp := &p.fields[i]
		fv := s.Field(fp.goIndex)
		if fp.list {
			if fv.Len() > 0 && !e.collectList(fv, fp) {
				return b, false
			}
			continue
		}
		if !fv.IsNil() && !e.collectSingular(fv, fp, p) {
			return b, false
		}
	}
	for i := range p.oneofs {
		op := &p.oneofs[i]
		iv := s.Field(op.goIndex)
		if iv.IsNil() {
			continue
		}
		w := iv.Elem()
		fi, found := op.byType[w.Type()]
		if !found || w.IsNil() {
			return b, false
		}
		fp := &p.fields[fi]
		fv := w.Elem().Field(fp.goIndex)
		if fv.IsNil() || !e.collectSingular(fv, fp, p) {
			return b, false
		}
	}
	// Nested messages push above this one's keys and pop back; es keeps pointing at these keys
	// even if a push moves the stack.
	es := e.emits[base:]
	// Insertion sort: a message sets a handful of keys, nearly always in order already.
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].rank < es[j-1].rank; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}

	b = append(b, '{')
	var ok bool
	for i := range es {
		em := &es[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, em.key)
		switch em.kind {
		case emitResourceType:
			b, ok = appendString(b, p.name), true
		case emitMessage:
			b, ok = e.appendNonPrimitive(b, em.v, em.child, em.fp)
		case emitPrim:
			b, ok = e.appendPrimValue(b, em.v, em.child)
		case emitPrimExt:
			b, ok = e.appendPrimExt(b, em.v, em.child)
		case emitList:
			b, ok = e.appendList(b, em.v, em.fp, false)
		case emitListExt:
			b, ok = e.appendList(b, em.v, em.fp, true)
		case emitRefFragment:
			b, ok = appendRefFragment(b, em.v, em.child)
		case emitRefTyped:
			b, ok = appendRefTyped(b, em.v, em.child, em.fp.refType)
		case emitRaw:
			b, ok = appendRawArray(b, raw.elems), true
		}
		if !ok {
			return b, false
		}
	}
	e.emits = e.emits[:base]
	return append(b, '}'), true
}

// collectList adds the keys a non-empty repeated field writes: its values, and for primitives
// "_key" when one of them has an id or extensions.
func (e *encState) collectList(fv reflect.Value, fp *fieldPlan) bool {
	if !fp.prim {
		e.emits = append(e.emits, emit{rank: fp.rank, kind: emitList, key: fp.key, fp: fp, child: fp.child, v: fv})
		return true
	}
	var hasValue, hasExt bool
	for j := range fv.Len() {
		ev := fv.Index(j)
		if ev.IsNil() {
			return false
		}
		hasValue = hasValue || e.primHasValue(ev, fp.child)
		hasExt = hasExt || e.primHasExt(ev, fp.child)
	}
	if hasValue {
		e.emits = append(e.emits, emit{rank: fp.rank, kind: emitList, key: fp.key, fp: fp, child: fp.child, v: fv})
	}
	if hasExt {
		e.emits = append(e.emits, emit{rank: fp.extRank, kind: emitListExt, key: fp.extKey, fp: fp, child: fp.child, v: fv})
	}
	return true
}

// collectSingular adds the keys a set singular field writes, zooming into a choice type's
// alternative and applying the Reference rewrite.
func (e *encState) collectSingular(v reflect.Value, fp *fieldPlan, p *msgPlan) bool {
	switch fp.ref {
	case refFragment:
		e.emits = append(e.emits, emit{rank: p.refURIRank, kind: emitRefFragment, key: "reference", child: fp.child, v: v})
		return true
	case refTyped:
		if fp.refType == "" {
			return false
		}
		e.emits = append(e.emits, emit{rank: p.refURIRank, kind: emitRefTyped, key: "reference", fp: fp, child: fp.child, v: v})
		return true
	}
	child, prim := fp.child, fp.prim
	key, extKey, rank, extRank := fp.key, fp.extKey, fp.rank, fp.extRank
	if c := fp.choice; c != nil {
		iv := v.Elem().Field(c.goIndex)
		if iv.IsNil() {
			return false // jsonformat: "no oneof set in choice type"
		}
		w := iv.Elem()
		a := c.byType[w.Type()]
		if a == nil || w.IsNil() {
			return false
		}
		if v = w.Elem().Field(a.goIndex); v.IsNil() {
			return false
		}
		child, prim = a.child, a.prim
		key, extKey, rank, extRank = a.key, a.extKey, a.rank, a.extRank
	}
	if !prim {
		e.emits = append(e.emits, emit{rank: rank, kind: emitMessage, key: key, fp: fp, child: child, v: v})
		return true
	}
	if e.primHasValue(v, child) {
		e.emits = append(e.emits, emit{rank: rank, kind: emitPrim, key: key, child: child, v: v})
	}
	if e.primHasExt(v, child) {
		e.emits = append(e.emits, emit{rank: extRank, kind: emitPrimExt, key: extKey, child: child, v: v})
	}
	return true
}

// appendNonPrimitive is jsonformat's marshalNonPrimitiveFieldValue: contained resources,
// contained resources packed in an Any, and ordinary elements (a Reference's rewrite is in
// appendMessage's plan).
func (e *encState) appendNonPrimitive(b []byte, v reflect.Value, child *msgPlan, fp *fieldPlan) ([]byte, bool) {
	switch {
	case child.isContainer:
		return e.appendContained(b, v, child)
	case fp != nil && fp.contained:
		a, ok := v.Interface().(*anypb.Any)
		if !ok {
			return b, false
		}
		cr := &bcrpb.ContainedResource{}
		if err := a.UnmarshalTo(cr); err != nil {
			return b, false
		}
		return e.appendContained(b, reflect.ValueOf(cr), e.plans[cr.ProtoReflect().Descriptor().FullName()])
	}
	return e.appendMessage(b, v, child, false, nil)
}

// appendContained writes the resource a ContainedResource holds, with its resourceType.
func (e *encState) appendContained(b []byte, cr reflect.Value, p *msgPlan) ([]byte, bool) {
	if p == nil || !p.isContainer || len(p.oneofs) != 1 || cr.Type() != p.goType || cr.IsNil() {
		return b, false
	}
	iv := cr.Elem().Field(p.oneofs[0].goIndex)
	if iv.IsNil() {
		return b, false // jsonformat: "no field is set in the oneof"
	}
	w := iv.Elem()
	fi, found := p.oneofs[0].byType[w.Type()]
	if !found || w.IsNil() {
		return b, false
	}
	fp := &p.fields[fi]
	return e.appendMessage(b, w.Elem().Field(fp.goIndex), fp.child, true, nil)
}

// appendList writes a repeated field: its values, or (ext) its primitives' "_key" array, where an
// element without one is null.
func (e *encState) appendList(b []byte, l reflect.Value, fp *fieldPlan, ext bool) ([]byte, bool) {
	b = append(b, '[')
	for j := range l.Len() {
		if j > 0 {
			b = append(b, ',')
		}
		v := l.Index(j)
		var ok bool
		switch {
		case v.IsNil():
			return b, false
		case !fp.prim:
			b, ok = e.appendNonPrimitive(b, v, fp.child, fp)
		case ext && e.primHasExt(v, fp.child):
			b, ok = e.appendPrimExt(b, v, fp.child)
		case !ext && e.primHasValue(v, fp.child):
			b, ok = e.appendPrimValue(b, v, fp.child)
		default:
			b, ok = append(b, "null"...), true
		}
		if !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

func appendRawArray(b []byte, elems [][]byte) []byte {
	b = append(b, '[')
	for i, el := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, el...)
	}
	return append(b, ']')
}

// appendRefFragment and appendRefTyped write what DenormalizeReference would put in the
// Reference's uri: a new String with only a value, so never a "_reference".
func appendRefFragment(b []byte, frag reflect.Value, p *msgPlan) ([]byte, bool) {
	if p.prim != primString || frag.Type() != p.goType {
		return b, false
	}
	b = append(b, '"', '#')
	b = appendStringContent(b, frag.Elem().Field(p.valueIdx).String())
	return append(b, '"'), true
}

func appendRefTyped(b []byte, id reflect.Value, p *msgPlan, typ string) ([]byte, bool) {
	if p.prim != primString || p.historyIdx < 0 || id.Type() != p.goType {
		return b, false
	}
	s := id.Elem()
	b = append(b, '"')
	b = appendStringContent(b, typ)
	b = append(b, '/')
	b = appendStringContent(b, s.Field(p.valueIdx).String())
	if h := s.Field(p.historyIdx); !h.IsNil() {
		// History is an Id: its value is its first field named value, as for String.
		if hv := h.Elem().FieldByName("Value"); hv.IsValid() && hv.String() != "" {
			b = append(b, "/_history/"...)
			b = appendStringContent(b, hv.String())
		}
	}
	return append(b, '"'), true
}
