package storage

import (
	"encoding/binary"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Spans of stored traces decoded for the query engine, without pdata: a
// trace read answers span group records and resource records, and the
// engine evaluates queries on plain structs (building pdata costs most of
// an evaluated search). The pdata decoder (DecodeTrace) stays for the
// answers that return OTLP.

// ValueType is the type of a decoded attribute value, as OTLP types them.
type ValueType uint8

// The value types.
const (
	ValueEmpty ValueType = iota
	ValueStr
	ValueBool
	ValueInt
	ValueDouble
	ValueBytes
	ValueArray
	ValueMap
)

// Value is a decoded attribute value.
type Value struct {
	Type   ValueType
	Str    string
	Int    int64
	Double float64
	Bool   bool
	Bytes  []byte
	Array  []Value
	Map    []KeyValue
}

// KeyValue is one decoded attribute.
type KeyValue struct {
	Key   string
	Value Value
}

// ResourceData is a decoded resource record: the resource's attributes
// and the instrumentation scope.
type ResourceData struct {
	Attrs                   []KeyValue
	ScopeName, ScopeVersion string
	ScopeAttrs              []KeyValue
}

// SpanData is one decoded span.
type SpanData struct {
	TraceID          [16]byte
	SpanID, ParentID [8]byte // ParentID all zero: no parent
	Name             string
	Kind             int32 // OTLP numbers
	StatusCode       int32 // OTLP numbers
	StatusMessage    string
	Start, End       int64 // unix nanoseconds
	Attrs            []KeyValue
	Events           []EventData
	Links            []LinkData
	// Resource is shared by the spans of one resource record; an empty
	// one when the record is missing.
	Resource *ResourceData
}

// EventData is a decoded span event.
type EventData struct {
	Name  string
	Time  int64
	Attrs []KeyValue
}

// LinkData is a decoded span link.
type LinkData struct {
	TraceID [16]byte
	SpanID  [8]byte
	Attrs   []KeyValue
}

// DecodeSpans decodes span group records and their resources (refs), each
// span id once, in no particular order.
func DecodeSpans(records, refs []*starlingpb.Record) ([]SpanData, error) {
	spans, err := traceSpans(records)
	if err != nil {
		return nil, err
	}
	res := make(map[uint64]*ResourceData)
	empty := &ResourceData{}
	out := make([]SpanData, len(spans))
	for i, sp := range spans {
		s := &out[i]
		s.TraceID, s.SpanID = sp.traceID, sp.spanID
		ref, err := decodeSpanData(sp.value, s)
		if err != nil {
			return nil, err
		}
		r, ok := res[ref]
		if !ok {
			r = empty
			if rec := findRef(refs, ref); rec != nil {
				if r, err = decodeResourceData(rec.Value); err != nil {
					return nil, err
				}
			}
			res[ref] = r
		}
		s.Resource = r
	}
	return out, nil
}

// findRef returns the resource record ref among refs, nil if missing.
func findRef(refs []*starlingpb.Record, ref uint64) *starlingpb.Record {
	for _, r := range refs {
		if len(r.Key) == headerLen+8 && r.Key[partLen] == kindResource && binary.BigEndian.Uint64(r.Key[headerLen:]) == ref {
			return r
		}
	}
	return nil
}

// decodeSpanData fills s from a span value (see span.go for the layout)
// and returns its resource ref.
func decodeSpanData(v []byte, s *SpanData) (uint64, error) {
	d := decoder{b: v}
	if len(v) == 0 || v[0] != spanVersion {
		return 0, ErrUnknownFormat
	}
	d.byte()
	ref := d.fixed64()
	switch d.byte() {
	case 0:
	case spanIDLen:
		s.ParentID = d.spanID()
	default:
		d.fail()
	}
	d.uvarint() // flags
	d.bytes()   // trace state
	s.Name = d.string()
	s.Kind = int32(d.byte())
	start := d.fixed64()
	s.Start, s.End = int64(start), int64(start+uint64(d.varint()))
	s.Attrs = d.keyValues(0)
	d.uvarint() // dropped attributes
	if n := d.count(4); n > 0 {
		s.Events = make([]EventData, n)
		for i := 0; i < n && d.err == nil; i++ {
			e := &s.Events[i]
			e.Time = int64(start + uint64(d.varint()))
			e.Name = d.string()
			e.Attrs = d.keyValues(0)
			d.uvarint() // dropped attributes
		}
	}
	d.uvarint() // dropped events
	if n := d.count(traceIDLen + spanIDLen + 4); n > 0 {
		s.Links = make([]LinkData, n)
		for i := 0; i < n && d.err == nil; i++ {
			l := &s.Links[i]
			l.TraceID = d.traceID()
			l.SpanID = d.spanID()
			d.bytes() // trace state
			l.Attrs = d.keyValues(0)
			d.uvarint() // dropped attributes
			d.uvarint() // flags
		}
	}
	d.uvarint() // dropped links
	s.StatusCode = int32(d.byte())
	s.StatusMessage = d.string()
	return ref, d.done()
}

func decodeResourceData(v []byte) (*ResourceData, error) {
	d := decoder{b: v}
	if d.byte() != resourceVersion {
		return nil, ErrUnknownFormat
	}
	r := &ResourceData{}
	r.Attrs = d.keyValues(0)
	d.uvarint() // dropped attributes
	d.bytes()   // schema URL
	r.ScopeName = d.string()
	r.ScopeVersion = d.string()
	r.ScopeAttrs = d.keyValues(0)
	d.uvarint() // dropped attributes
	d.bytes()   // schema URL
	return r, d.done()
}

// keyValues decodes an attribute map (appendMap).
func (d *decoder) keyValues(depth int) []KeyValue {
	if depth > maxValueDepth {
		d.fail()
		return nil
	}
	n := d.count(2)
	if n == 0 {
		return nil
	}
	out := make([]KeyValue, n)
	for i := 0; i < n && d.err == nil; i++ {
		out[i].Key = d.string()
		out[i].Value = d.valueData(depth)
	}
	return out
}

// valueData decodes one value (appendValue).
func (d *decoder) valueData(depth int) Value {
	if depth > maxValueDepth {
		d.fail()
		return Value{}
	}
	switch d.byte() {
	case valEmpty:
		return Value{}
	case valStr:
		return Value{Type: ValueStr, Str: d.string()}
	case valFalse:
		return Value{Type: ValueBool}
	case valTrue:
		return Value{Type: ValueBool, Bool: true}
	case valInt:
		return Value{Type: ValueInt, Int: d.varint()}
	case valDouble:
		return Value{Type: ValueDouble, Double: d.float64()}
	case valBytes:
		return Value{Type: ValueBytes, Bytes: append([]byte(nil), d.bytes()...)}
	case valArray:
		n := d.count(1)
		a := make([]Value, n)
		for i := 0; i < n && d.err == nil; i++ {
			a[i] = d.valueData(depth + 1)
		}
		return Value{Type: ValueArray, Array: a}
	case valMap:
		return Value{Type: ValueMap, Map: d.keyValues(depth + 1)}
	}
	d.fail()
	return Value{}
}
