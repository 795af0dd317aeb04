package fhir

import (
	"reflect"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	apb "github.com/google/fhir/go/proto/google/fhir/proto/annotations_go_proto"
	d4pb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
)

// primKind is the FHIR JSON rule a primitive type's value follows (jsonformat's
// marshalPrimitiveType switch, decided once per type instead of once per value).
type primKind uint8

const (
	notPrimitive    primKind = iota
	primString               // Code, Id, String, Uri... and string-valued specialised codes: a JSON string
	primBool                 // Boolean: a JSON literal
	primInt                  // Integer: a JSON number
	primUint                 // PositiveInt, UnsignedInt: a JSON number
	primDecimal              // Decimal: its string, written as a raw JSON number
	primBase64               // Base64Binary
	primDate                 // Date
	primDateTime             // DateTime
	primTime                 // Time
	primInstant              // Instant
	primEnum                 // an enum-valued specialised code: its FHIR code, absent when 0
	primUnsupported          // a primitive jsonformat refuses: the fast path falls back
)

// Extension URLs that jsonformat consumes (removes from the proto) while marshalling.
const (
	urlPrimitiveHasNoValue = "https://g.co/fhir/StructureDefinition/primitiveHasNoValue"
	urlSeparatorStride     = "https://g.co/fhir/StructureDefinition/base64Binary-separatorStride"
)

func (ps plans) planPrimitive(p *msgPlan, d protoreflect.MessageDescriptor) {
	fs := d.Fields()
	valueFd, idFd, extFd := fs.ByName("value"), fs.ByName("id"), fs.ByName("extension")
	t := p.goType
	p.valueIdx, p.idIdx, p.extIdx = goFieldIndex(t, "value"), goFieldIndex(t, "id"), goFieldIndex(t, "extension")
	p.usIdx, p.tzIdx, p.precIdx = goFieldIndex(t, "value_us"), goFieldIndex(t, "timezone"), goFieldIndex(t, "precision")
	p.historyIdx = goFieldIndex(t, "history")
	if idFd == nil || idFd.Message() == nil || p.idIdx < 0 || (extFd != nil && (!extFd.IsList() || p.extIdx < 0)) {
		p.prim = primUnsupported
		return
	}
	// Xhtml has no extensions; the others' are R4 Extensions.
	ext := (&d4pb.Extension{}).ProtoReflect().Descriptor()
	p.extPlan = ps.build(ext)
	extType := reflect.TypeOf(&d4pb.Extension{})
	p.extURLIdx = goFieldIndex(extType, "url")
	p.uriValueIdx = goFieldIndex(reflect.TypeOf(&d4pb.Uri{}), "value")
	p.stringValueIdx = goFieldIndex(reflect.TypeOf(&d4pb.String{}), "value")
	if extFd != nil && extFd.Message().FullName() != ext.FullName() || idFd.Message().FullName() != "google.fhir.r4.core.String" {
		p.prim = primUnsupported
		return
	}
	switch d.Name() {
	case "Base64Binary":
		p.prim = primBase64
	case "Canonical", "Code", "Markdown", "Oid", "String", "Uri", "Url", "Uuid", "Xhtml", "ReferenceId", "Id":
		p.prim = primString
	case "Boolean":
		p.prim = primBool
	case "Integer":
		p.prim = primInt
	case "PositiveInt", "UnsignedInt":
		p.prim = primUint
	case "Decimal":
		p.prim = primDecimal
	case "Date":
		p.prim = primDate
		planTime(p, fs, map[string][2]string{"DAY": {"2006-01-02", "2006-01-02"}, "MONTH": {"2006-01", "2006-01"}, "YEAR": {"2006", "2006"}})
	case "DateTime":
		p.prim = primDateTime
		planTime(p, fs, map[string][2]string{
			"DAY": {"2006-01-02", "2006-01-02"}, "MONTH": {"2006-01", "2006-01"}, "YEAR": {"2006", "2006"},
			"SECOND":      {"2006-01-02T15:04:05-07:00", "2006-01-02T15:04:05Z"},
			"MILLISECOND": {"2006-01-02T15:04:05.000-07:00", "2006-01-02T15:04:05.000Z"},
			"MICROSECOND": {"2006-01-02T15:04:05.000000-07:00", "2006-01-02T15:04:05.000000Z"},
		})
	case "Instant":
		p.prim = primInstant
		planTime(p, fs, map[string][2]string{
			"SECOND":      {"2006-01-02T15:04:05-07:00", "2006-01-02T15:04:05Z"},
			"MILLISECOND": {"2006-01-02T15:04:05.000-07:00", "2006-01-02T15:04:05.000Z"},
			"MICROSECOND": {"2006-01-02T15:04:05.000000-07:00", "2006-01-02T15:04:05.000000Z"},
		})
	case "Time":
		p.prim = primTime
		planTime(p, fs, map[string][2]string{"SECOND": {"15:04:05"}, "MILLISECOND": {"15:04:05.000"}, "MICROSECOND": {"15:04:05.000000"}})
	default:
		p.prim = primUnsupported
		if !proto.HasExtension(d.Options(), apb.E_FhirValuesetUrl) || valueFd == nil {
			return
		}
		switch valueFd.Kind() {
		case protoreflect.StringKind:
			p.prim = primString
		case protoreflect.EnumKind:
			p.prim = primEnum
			p.codes = map[int64]string{}
			vs := valueFd.Enum().Values()
			for i := range vs.Len() {
				ev := vs.Get(i)
				code := proto.GetExtension(ev.Options(), apb.E_FhirOriginalCode).(string)
				if code == "" {
					code = strings.ReplaceAll(strings.ToLower(string(ev.Name())), "_", "-")
				}
				p.codes[int64(ev.Number())] = code
			}
		}
	}
	if p.layouts == nil && p.prim != primUnsupported && p.valueIdx < 0 {
		p.prim = primUnsupported
	}
	if p.prim == primString && d.Name() == "ReferenceId" && p.historyIdx < 0 {
		p.prim = primUnsupported
	}
}

// planTime records a date-like type's layout per precision; a type whose precision enum lacks
// one of the names jsonformat checks for is left to jsonformat.
func planTime(p *msgPlan, fs protoreflect.FieldDescriptors, byName map[string][2]string) {
	prec := fs.ByName("precision")
	if p.usIdx < 0 || p.precIdx < 0 || prec == nil || prec.Enum() == nil || (p.prim != primTime && p.tzIdx < 0) {
		p.prim = primUnsupported
		return
	}
	p.layouts = map[int64][2]string{}
	for name, l := range byName {
		ev := prec.Enum().Values().ByName(protoreflect.Name(name))
		if ev == nil {
			p.prim = primUnsupported
			return
		}
		p.layouts[int64(ev.Number())] = l
	}
}
