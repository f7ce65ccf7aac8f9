package traceql

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// ValueType is the type of a Value.
type ValueType uint8

// The value types. The array types hold OTLP array attributes.
const (
	TypeNil ValueType = iota
	TypeString
	TypeInt
	TypeFloat
	TypeBool
	TypeDuration
	TypeStatus
	TypeKind
	TypeStringArray
	TypeIntArray
	TypeFloatArray
	TypeBoolArray
)

// String names the type.
func (t ValueType) String() string {
	switch t {
	case TypeNil:
		return "nil"
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeFloat:
		return "float"
	case TypeBool:
		return "bool"
	case TypeDuration:
		return "duration"
	case TypeStatus:
		return "status"
	case TypeKind:
		return "kind"
	case TypeStringArray:
		return "string array"
	case TypeIntArray:
		return "int array"
	case TypeFloatArray:
		return "float array"
	case TypeBoolArray:
		return "bool array"
	}
	return "type(" + itoa(int64(t)) + ")"
}

// Value is a small tagged value: nil, a string, an int64, a float64, a
// bool, a duration, a span status, a span kind or an array of strings,
// ints, floats or bools. It is 24 bytes and building one never allocates:
// strings and arrays are referenced, not copied, so the caller must not
// change an array after giving it to a Value. The zero Value is nil.
//
// Values are compared with Equal, not with ==.
type Value struct {
	p unsafe.Pointer // string or array data
	n uint64         // length of a string or array; bits of a scalar
	t ValueType
}

// NilValue returns the nil value (an absent attribute).
func NilValue() Value { return Value{} }

// StringValue returns a string value; the string is not copied.
func StringValue(s string) Value {
	return Value{p: unsafe.Pointer(unsafe.StringData(s)), n: uint64(len(s)), t: TypeString}
}

// IntValue returns an integer value.
func IntValue(i int64) Value { return Value{n: uint64(i), t: TypeInt} }

// FloatValue returns a floating point value.
func FloatValue(f float64) Value { return Value{n: math.Float64bits(f), t: TypeFloat} }

// BoolValue returns a boolean value.
func BoolValue(b bool) Value {
	v := Value{t: TypeBool}
	if b {
		v.n = 1
	}
	return v
}

// DurationValue returns a duration value.
func DurationValue(d time.Duration) Value { return Value{n: uint64(d), t: TypeDuration} }

// StatusValue returns a span status value.
func StatusValue(s Status) Value { return Value{n: uint64(int64(s)), t: TypeStatus} }

// KindValue returns a span kind value.
func KindValue(k Kind) Value { return Value{n: uint64(int64(k)), t: TypeKind} }

// StringArrayValue returns a string array value; the slice is not copied.
func StringArrayValue(a []string) Value {
	return Value{p: unsafe.Pointer(unsafe.SliceData(a)), n: uint64(len(a)), t: TypeStringArray}
}

// IntArrayValue returns an integer array value; the slice is not copied.
func IntArrayValue(a []int64) Value {
	return Value{p: unsafe.Pointer(unsafe.SliceData(a)), n: uint64(len(a)), t: TypeIntArray}
}

// FloatArrayValue returns a float array value; the slice is not copied.
func FloatArrayValue(a []float64) Value {
	return Value{p: unsafe.Pointer(unsafe.SliceData(a)), n: uint64(len(a)), t: TypeFloatArray}
}

// BoolArrayValue returns a bool array value; the slice is not copied.
func BoolArrayValue(a []bool) Value {
	return Value{p: unsafe.Pointer(unsafe.SliceData(a)), n: uint64(len(a)), t: TypeBoolArray}
}

// Type returns the value's type.
func (v Value) Type() ValueType { return v.t }

// IsNil reports whether the value is nil.
func (v Value) IsNil() bool { return v.t == TypeNil }

// Str returns the string of a string value, else "".
func (v Value) Str() string {
	if v.t != TypeString {
		return ""
	}
	return unsafe.String((*byte)(v.p), int(v.n))
}

// Int returns the integer of an int value, else 0.
func (v Value) Int() int64 {
	if v.t != TypeInt {
		return 0
	}
	return int64(v.n)
}

// Float returns the number of an int or float value as a float64, else 0.
func (v Value) Float() float64 {
	switch v.t {
	case TypeFloat:
		return math.Float64frombits(v.n)
	case TypeInt:
		return float64(int64(v.n))
	}
	return 0
}

// Bool returns the boolean of a bool value, else false.
func (v Value) Bool() bool { return v.t == TypeBool && v.n != 0 }

// Duration returns the duration of a duration value, else 0.
func (v Value) Duration() time.Duration {
	if v.t != TypeDuration {
		return 0
	}
	return time.Duration(int64(v.n))
}

// Status returns the status of a status value, else StatusUnset.
func (v Value) Status() Status {
	if v.t != TypeStatus {
		return StatusUnset
	}
	return Status(int64(v.n))
}

// Kind returns the kind of a kind value, else KindUnspecified.
func (v Value) Kind() Kind {
	if v.t != TypeKind {
		return KindUnspecified
	}
	return Kind(int64(v.n))
}

// Strings returns the elements of a string array value, else nil.
func (v Value) Strings() []string {
	if v.t != TypeStringArray {
		return nil
	}
	return unsafe.Slice((*string)(v.p), int(v.n))
}

// Ints returns the elements of an int array value, else nil.
func (v Value) Ints() []int64 {
	if v.t != TypeIntArray {
		return nil
	}
	return unsafe.Slice((*int64)(v.p), int(v.n))
}

// Floats returns the elements of a float array value, else nil.
func (v Value) Floats() []float64 {
	if v.t != TypeFloatArray {
		return nil
	}
	return unsafe.Slice((*float64)(v.p), int(v.n))
}

// Bools returns the elements of a bool array value, else nil.
func (v Value) Bools() []bool {
	if v.t != TypeBoolArray {
		return nil
	}
	return unsafe.Slice((*bool)(v.p), int(v.n))
}

// isArray reports whether the value is an array.
func (v Value) isArray() bool { return v.t >= TypeStringArray && v.t <= TypeBoolArray }

// arrayLen returns the number of elements of an array value.
func (v Value) arrayLen() int {
	if !v.isArray() {
		return 0
	}
	return int(v.n)
}

// elem returns element i of an array value as a scalar value.
func (v Value) elem(i int) Value {
	switch v.t {
	case TypeStringArray:
		return StringValue(v.Strings()[i])
	case TypeIntArray:
		return IntValue(v.Ints()[i])
	case TypeFloatArray:
		return FloatValue(v.Floats()[i])
	case TypeBoolArray:
		return BoolValue(v.Bools()[i])
	}
	panic("BUG: elem of a non-array value")
}

// isNumber reports whether the value is an int or a float.
func (v Value) isNumber() bool { return v.t == TypeInt || v.t == TypeFloat }

// Equal reports whether two values have the same type and contents. Unlike
// a TraceQL comparison it does not compare ints with floats, and NaN equals
// NaN (the bits are compared).
func (v Value) Equal(o Value) bool {
	if v.t != o.t {
		return false
	}
	switch v.t {
	case TypeNil:
		return true
	case TypeString:
		return v.Str() == o.Str()
	case TypeStringArray:
		a, b := v.Strings(), o.Strings()
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	case TypeIntArray:
		return slicesEqual(v.Ints(), o.Ints())
	case TypeFloatArray:
		a, b := v.Floats(), o.Floats()
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
				return false
			}
		}
		return true
	case TypeBoolArray:
		return slicesEqual(v.Bools(), o.Bools())
	}
	return v.n == o.n
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String returns the value as a TraceQL literal: strings are quoted,
// durations use Go's notation (1.5s), floats always show a point or an
// exponent. Arrays, which have no literal, are written [a, b].
func (v Value) String() string {
	switch v.t {
	case TypeNil:
		return "nil"
	case TypeString:
		return strconv.Quote(v.Str())
	case TypeInt:
		return strconv.FormatInt(int64(v.n), 10)
	case TypeFloat:
		return formatFloat(v.Float())
	case TypeBool:
		return strconv.FormatBool(v.Bool())
	case TypeDuration:
		return v.Duration().String()
	case TypeStatus:
		return v.Status().String()
	case TypeKind:
		return v.Kind().String()
	}
	if v.isArray() {
		var b strings.Builder
		b.WriteByte('[')
		for i := 0; i < v.arrayLen(); i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(v.elem(i).String())
		}
		b.WriteByte(']')
		return b.String()
	}
	return "<" + v.t.String() + ">"
}

// Text returns the value as plain text, the way a label value is shown:
// strings unquoted, everything else as String writes it.
func (v Value) Text() string {
	if v.t == TypeString {
		return v.Str()
	}
	return v.String()
}

// formatFloat writes a float so that it reads back as a float: it always
// has a point or an exponent.
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEIN") {
		s += ".0"
	}
	return s
}

// itoa formats an integer in base 10.
func itoa(i int64) string { return strconv.FormatInt(i, 10) }
