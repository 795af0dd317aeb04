package cache

import (
	"reflect"
	"time"
)

// entryOverhead is what one entry costs beyond its key and value: go-cache's item and map slot, this
// package's list element, map slot and entry struct. Measured loosely (a few hundred bytes on 64-bit
// platforms) and rounded up, because an estimate that is too low lets the bound be exceeded.
const entryOverhead = 256

var timeType = reflect.TypeFor[time.Time]()

// sizeOf estimates the memory v holds: its own inline size, every string's bytes, every slice's
// backing array up to its capacity, followed through pointers and interfaces. A time.Time counts as
// its struct only, because its *Location is shared by every time in the process. Strings or arrays
// shared between values are counted once per reference: the estimate errs high, never low.
func sizeOf(v any) int64 {
	if v == nil {
		return 0
	}
	rv := reflect.ValueOf(v)
	return int64(rv.Type().Size()) + heldBy(rv, 0)
}

// maxDepth stops the walk in a cyclic value (none of the cached types is one, but an error's chain
// could be); what lies deeper is not counted.
const maxDepth = 32

// heldBy is what v holds outside its own inline size.
func heldBy(v reflect.Value, depth int) int64 {
	if depth > maxDepth {
		return 0
	}
	depth++
	switch v.Kind() {
	case reflect.String:
		return int64(v.Len())
	case reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return int64(v.Type().Elem().Size()) + heldBy(v.Elem(), depth)
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		return int64(e.Type().Size()) + heldBy(e, depth)
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		n := int64(v.Cap()) * int64(v.Type().Elem().Size())
		for i := range v.Len() {
			n += heldBy(v.Index(i), depth)
		}
		return n
	case reflect.Array:
		var n int64
		for i := range v.Len() {
			n += heldBy(v.Index(i), depth)
		}
		return n
	case reflect.Struct:
		if v.Type() == timeType {
			return 0
		}
		var n int64
		for i := range v.NumField() {
			n += heldBy(v.Field(i), depth)
		}
		return n
	case reflect.Map:
		// None of the cached types holds a map; count keys and values as if they were a slice of pairs.
		var n int64
		it := v.MapRange()
		for it.Next() {
			n += int64(it.Key().Type().Size()+it.Value().Type().Size()) + heldBy(it.Key(), depth) + heldBy(it.Value(), depth)
		}
		return n
	}
	return 0
}
