package fhir

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// primHasValue says whether jsonformat's marshalPrimitiveType would give v (a pointer to a
// primitive's struct) a value. It does not for a primitiveHasNoValue extension (which jsonformat
// then removes from the proto; here the extension is skipped instead) nor for an enum code left
// at 0. An unsupported type answers yes so that writing it fails and the resource falls back.
func (e *encState) primHasValue(v reflect.Value, p *msgPlan) bool {
	switch {
	case p.prim == primUnsupported || v.Type() != p.goType:
		return true
	case hasExtURL(v, p, urlPrimitiveHasNoValue):
		return false
	case p.prim == primEnum:
		return v.Elem().Field(p.valueIdx).Int() != 0
	}
	return true
}

// primHasExt says whether v has a "_key" object: an id, or extensions jsonformat keeps.
func (e *encState) primHasExt(v reflect.Value, p *msgPlan) bool {
	if p.prim == primUnsupported || v.Type() != p.goType {
		return true
	}
	s := v.Elem()
	if !s.Field(p.idIdx).IsNil() {
		return true
	}
	if p.extIdx < 0 {
		return false
	}
	exts := s.Field(p.extIdx)
	if exts.Len() == 0 {
		return false
	}
	noValue := hasExtURL(v, p, urlPrimitiveHasNoValue)
	for i := range exts.Len() {
		if !skipExt(extURL(exts.Index(i), p), p, noValue) {
			return true
		}
	}
	return false
}

// skipExt is an extension jsonformat removes while marshalling: primitiveHasNoValue always (it
// only exists when it is there to remove), a Base64Binary's separatorStride when the value is
// written (the fast path leaves that case to jsonformat, see appendPrimValue).
func skipExt(url string, p *msgPlan, noValue bool) bool {
	return url == urlPrimitiveHasNoValue || (p.prim == primBase64 && !noValue && url == urlSeparatorStride)
}

func hasExtURL(v reflect.Value, p *msgPlan, url string) bool {
	if p.extIdx < 0 {
		return false
	}
	exts := v.Elem().Field(p.extIdx)
	for i := range exts.Len() {
		if extURL(exts.Index(i), p) == url {
			return true
		}
	}
	return false
}

// extURL is an Extension's url, "" when unset (jsonformat's ExtensionURL fails, so it matches
// nothing).
func extURL(ext reflect.Value, p *msgPlan) string {
	if ext.IsNil() {
		return ""
	}
	u := ext.Elem().Field(p.extURLIdx)
	if u.IsNil() {
		return ""
	}
	return u.Elem().Field(p.uriValueIdx).String()
}

// appendPrimExt writes a primitive's "_key" object: {"extension":[...],"id":"..."}.
func (e *encState) appendPrimExt(b []byte, v reflect.Value, p *msgPlan) ([]byte, bool) {
	if p.prim == primUnsupported || v.Type() != p.goType {
		return b, false
	}
	s := v.Elem()
	b = append(b, '{')
	wrote := false
	if p.extIdx >= 0 {
		exts := s.Field(p.extIdx)
		noValue := hasExtURL(v, p, urlPrimitiveHasNoValue)
		for i := range exts.Len() {
			ext := exts.Index(i)
			if skipExt(extURL(ext, p), p, noValue) {
				continue
			}
			if wrote {
				b = append(b, ',')
			} else {
				b = append(b, `"extension":[`...)
				wrote = true
			}
			var ok bool
			if b, ok = e.appendMessage(b, ext, p.extPlan, false, nil); !ok {
				return b, false
			}
		}
		if wrote {
			b = append(b, ']')
		}
	}
	if id := s.Field(p.idIdx); !id.IsNil() {
		if wrote {
			b = append(b, ',')
		}
		b = append(b, `"id":`...)
		b = appendString(b, id.Elem().Field(p.stringValueIdx).String())
	}
	return append(b, '}'), true
}

// appendPrimValue writes a primitive's value by jsonformat's marshalPrimitiveType rules.
func (e *encState) appendPrimValue(b []byte, v reflect.Value, p *msgPlan) ([]byte, bool) {
	if v.Type() != p.goType {
		return b, false
	}
	s := v.Elem()
	switch p.prim {
	case primString:
		return appendString(b, s.Field(p.valueIdx).String()), true
	case primBool:
		return strconv.AppendBool(b, s.Field(p.valueIdx).Bool()), true
	case primInt:
		return strconv.AppendInt(b, s.Field(p.valueIdx).Int(), 10), true
	case primUint:
		return strconv.AppendUint(b, s.Field(p.valueIdx).Uint(), 10), true
	case primDecimal:
		// jsonformat hands the string to encoding/json as raw JSON, which refuses anything but a
		// number and compacts whitespace away: write only what passes through unchanged.
		d := s.Field(p.valueIdx).String()
		if !isJSONNumber(d) {
			return b, false
		}
		return append(b, d...), true
	case primBase64:
		if hasExtURL(v, p, urlSeparatorStride) {
			return b, false // a line-wrapped binary: rare enough to leave to jsonformat
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, s.Field(p.valueIdx).Bytes())
		return append(b, '"'), true
	case primEnum:
		code, ok := p.codes[s.Field(p.valueIdx).Int()]
		if !ok {
			return b, false
		}
		return appendString(b, code), true
	case primDate, primDateTime, primInstant, primTime:
		return e.appendTime(b, s, p)
	}
	return b, false
}

// appendTime writes Date, DateTime, Instant and Time as jsonformat's serializers do: value_us in
// the proto's timezone, formatted by precision, "Z" only when the timezone is literally "Z".
func (e *encState) appendTime(b []byte, s reflect.Value, p *msgPlan) ([]byte, bool) {
	layouts, ok := p.layouts[s.Field(p.precIdx).Int()]
	if !ok {
		return b, false
	}
	tz, layout := "Z", layouts[0]
	if p.prim != primTime {
		if tz = s.Field(p.tzIdx).String(); tz == "Z" {
			layout = layouts[1]
		}
	}
	loc, ok := e.location(tz)
	if !ok {
		return b, false
	}
	us := s.Field(p.usIdx).Int()
	t := time.Unix(us/1e6, (us%1e6)*1000).In(loc)
	b = append(b, '"')
	b = t.AppendFormat(b, layout)
	return append(b, '"'), true
}

// location is jsonformat's GetLocation (an IANA name, else a "+hh:mm" offset), cached: time
// zones come from the adapter's mapping, a handful of values, and loading one reads a file.
func (e *Encoder) location(tz string) (*time.Location, bool) {
	if tz == "Z" {
		return time.UTC, true
	}
	if l, ok := e.zones.Load(tz); ok {
		return l.(*time.Location), true
	}
	l, err := time.LoadLocation(tz)
	if err != nil {
		off, err := offsetToSeconds(tz)
		if err != nil {
			return nil, false
		}
		l = time.FixedZone(tz, off)
	}
	if e.zoneCount.Add(1) <= maxCachedZones {
		e.zones.Store(tz, l)
	}
	return l, true
}

// maxCachedZones bounds the zone cache against a mapping that invents time zones.
const maxCachedZones = 64

// offsetToSeconds is jsonformat's (internal/jsonpbhelper), copied for identical leniency.
func offsetToSeconds(offset string) (int, error) {
	if offset == "" || offset == "Z" {
		return 0, nil
	}
	sign := offset[0]
	if sign != '+' && sign != '-' {
		return 0, fmt.Errorf("invalid timezone offset: %v", offset)
	}
	arr := strings.Split(offset[1:], ":")
	if len(arr) != 2 {
		return 0, fmt.Errorf("invalid timezone offset: %v", offset)
	}
	hour, err := strconv.Atoi(arr[0])
	if err != nil {
		return 0, err
	}
	minute, err := strconv.Atoi(arr[1])
	if err != nil {
		return 0, err
	}
	if sign == '-' {
		return -hour*3600 - minute*60, nil
	}
	return hour*3600 + minute*60, nil
}

// isJSONNumber is RFC 8259's number grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}
