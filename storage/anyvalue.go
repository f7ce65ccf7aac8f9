package storage

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Type tags of an encoded OTLP AnyValue. Booleans carry their value in the tag.
const (
	valEmpty  byte = 0
	valStr    byte = 1
	valFalse  byte = 2
	valTrue   byte = 3
	valInt    byte = 4
	valDouble byte = 5
	valBytes  byte = 6
	valArray  byte = 7
	valMap    byte = 8
)

// maxValueDepth bounds nesting of arrays and maps on decode, so corrupt input
// cannot exhaust the stack. OTLP receivers nest far less in practice.
const maxValueDepth = 64

func appendValue(dst []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		dst = append(dst, valStr)
		return appendString(dst, v.Str())
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return append(dst, valTrue)
		}
		return append(dst, valFalse)
	case pcommon.ValueTypeInt:
		dst = append(dst, valInt)
		return appendVarint(dst, v.Int())
	case pcommon.ValueTypeDouble:
		dst = append(dst, valDouble)
		return appendFloat64(dst, v.Double())
	case pcommon.ValueTypeBytes:
		dst = append(dst, valBytes)
		return appendBytes(dst, v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		dst = append(dst, valArray)
		dst = appendUvarint(dst, uint64(s.Len()))
		for i := 0; i < s.Len(); i++ {
			dst = appendValue(dst, s.At(i))
		}
		return dst
	case pcommon.ValueTypeMap:
		dst = append(dst, valMap)
		return appendMap(dst, v.Map())
	default:
		return append(dst, valEmpty)
	}
}

// appendMap encodes attributes in their given order.
func appendMap(dst []byte, m pcommon.Map) []byte {
	dst = appendUvarint(dst, uint64(m.Len()))
	m.Range(func(k string, v pcommon.Value) bool {
		dst = appendString(dst, k)
		dst = appendValue(dst, v)
		return true
	})
	return dst
}

func (d *decoder) value(into pcommon.Value, depth int) {
	if depth > maxValueDepth {
		d.fail()
		return
	}
	switch d.byte() {
	case valEmpty:
	case valStr:
		into.SetStr(d.string())
	case valFalse:
		into.SetBool(false)
	case valTrue:
		into.SetBool(true)
	case valInt:
		into.SetInt(d.varint())
	case valDouble:
		into.SetDouble(d.float64())
	case valBytes:
		into.SetEmptyBytes().FromRaw(d.bytes())
	case valArray:
		n := d.count(1)
		s := into.SetEmptySlice()
		s.EnsureCapacity(n)
		for i := 0; i < n && d.err == nil; i++ {
			d.value(s.AppendEmpty(), depth+1)
		}
	case valMap:
		d.mapInto(into.SetEmptyMap(), depth+1)
	default:
		d.fail()
	}
}

func (d *decoder) mapInto(m pcommon.Map, depth int) {
	if depth > maxValueDepth {
		d.fail()
		return
	}
	n := d.count(2)
	m.EnsureCapacity(n)
	for i := 0; i < n && d.err == nil; i++ {
		k := d.string()
		d.value(m.PutEmpty(k), depth)
	}
}

// skipValue advances past one encoded value without building it.
func (d *decoder) skipValue(depth int) {
	if depth > maxValueDepth {
		d.fail()
		return
	}
	switch d.byte() {
	case valEmpty, valFalse, valTrue:
	case valStr, valBytes:
		d.bytes()
	case valInt:
		d.varint()
	case valDouble:
		d.fixed64()
	case valArray:
		n := d.count(1)
		for i := 0; i < n && d.err == nil; i++ {
			d.skipValue(depth + 1)
		}
	case valMap:
		d.skipMap(depth + 1)
	default:
		d.fail()
	}
}

func (d *decoder) skipMap(depth int) {
	n := d.count(2)
	for i := 0; i < n && d.err == nil; i++ {
		d.bytes()
		d.skipValue(depth)
	}
}

// valueString renders a value the way searches compare it: strings as they
// are, everything else as pcommon's AsString (JSON for arrays and maps).
func valueString(v pcommon.Value) string {
	if v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return v.AsString()
}

// isFinite reports whether f is neither NaN nor infinite.
func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
