package tempo

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Trace by ID answers OTLP JSON as Tempo writes it: gogo jsonpb over its
// copy of the OTLP protos (pkg/tempopb/trace/v1), which differs from the
// OTLP/JSON of the specification (and of ptrace.JSONMarshaler) in two
// ways clients see: trace and span IDs are base64 (jsonpb's encoding of
// bytes), not hex, and span kinds and status codes are enum names
// ("SPAN_KIND_SERVER", "STATUS_CODE_ERROR"), not numbers. Fields are in
// proto declaration order; zero scalars and empty lists are left out;
// 64-bit integers are strings. The resource, scope and status messages
// are always written (as {} when empty): the OTLP encoding always carries
// them and Tempo decodes them as present.

// appendTraceJSON writes td as tempopb.Trace, with listName the name of its
// one field: "resourceSpans", or "batches" for the v1 endpoint
// (tempopb.MarshalToJSONV1).
func appendTraceJSON(b []byte, td ptrace.Traces, listName string) []byte {
	b = append(b, '{')
	rss := td.ResourceSpans()
	if rss.Len() > 0 {
		b = append(b, '"')
		b = append(b, listName...)
		b = append(b, `":[`...)
		for i := 0; i < rss.Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendResourceSpans(b, rss.At(i))
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// jsonObject writes the fields of one message, separating them with
// commas.
type jsonObject struct {
	b     []byte
	first bool
}

func startObject(b []byte) *jsonObject {
	return &jsonObject{b: append(b, '{'), first: true}
}

func (o *jsonObject) key(name string) {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, name...)
	o.b = append(o.b, `":`...)
}

func (o *jsonObject) end() []byte { return append(o.b, '}') }

func (o *jsonObject) str(name, v string) {
	if v != "" {
		o.key(name)
		o.b = appendJSONString(o.b, v)
	}
}

func (o *jsonObject) u32(name string, v uint32) {
	if v != 0 {
		o.key(name)
		o.b = strconv.AppendUint(o.b, uint64(v), 10)
	}
}

func (o *jsonObject) u64(name string, v uint64) {
	if v != 0 {
		o.key(name)
		o.b = append(o.b, '"')
		o.b = strconv.AppendUint(o.b, v, 10)
		o.b = append(o.b, '"')
	}
}

func (o *jsonObject) bytes(name string, v []byte) {
	if len(v) > 0 {
		o.key(name)
		o.b = append(o.b, '"')
		o.b = base64.StdEncoding.AppendEncode(o.b, v)
		o.b = append(o.b, '"')
	}
}

func (o *jsonObject) attributes(name string, m pcommon.Map) {
	if m.Len() == 0 {
		return
	}
	o.key(name)
	o.b = appendKeyValues(o.b, m)
}

func appendResourceSpans(b []byte, rs ptrace.ResourceSpans) []byte {
	o := startObject(b)
	o.key("resource")
	r := startObject(o.b)
	r.attributes("attributes", rs.Resource().Attributes())
	r.u32("droppedAttributesCount", rs.Resource().DroppedAttributesCount())
	o.b = r.end()
	if sss := rs.ScopeSpans(); sss.Len() > 0 {
		o.key("scopeSpans")
		o.b = append(o.b, '[')
		for i := 0; i < sss.Len(); i++ {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendScopeSpans(o.b, sss.At(i))
		}
		o.b = append(o.b, ']')
	}
	o.str("schemaUrl", rs.SchemaUrl())
	return o.end()
}

func appendScopeSpans(b []byte, ss ptrace.ScopeSpans) []byte {
	o := startObject(b)
	o.key("scope")
	s := startObject(o.b)
	s.str("name", ss.Scope().Name())
	s.str("version", ss.Scope().Version())
	s.attributes("attributes", ss.Scope().Attributes())
	s.u32("droppedAttributesCount", ss.Scope().DroppedAttributesCount())
	o.b = s.end()
	if spans := ss.Spans(); spans.Len() > 0 {
		o.key("spans")
		o.b = append(o.b, '[')
		for i := 0; i < spans.Len(); i++ {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			o.b = appendSpan(o.b, spans.At(i))
		}
		o.b = append(o.b, ']')
	}
	o.str("schemaUrl", ss.SchemaUrl())
	return o.end()
}

// spanKindNames and statusCodeNames are the OTLP enum names; a value
// outside them is written as a bare number, as jsonpb writes unknown enum
// values.
var (
	spanKindNames   = []string{"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}
	statusCodeNames = []string{"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}
)

func (o *jsonObject) enum(name string, v int32, names []string) {
	if v == 0 {
		return
	}
	o.key(name)
	if v > 0 && int(v) < len(names) {
		o.b = append(o.b, '"')
		o.b = append(o.b, names[v]...)
		o.b = append(o.b, '"')
		return
	}
	o.b = strconv.AppendInt(o.b, int64(v), 10)
}

func appendSpan(b []byte, sp ptrace.Span) []byte {
	o := startObject(b)
	tid, sid, pid := sp.TraceID(), sp.SpanID(), sp.ParentSpanID()
	if !tid.IsEmpty() {
		o.bytes("traceId", tid[:])
	}
	if !sid.IsEmpty() {
		o.bytes("spanId", sid[:])
	}
	o.str("traceState", sp.TraceState().AsRaw())
	if !pid.IsEmpty() {
		o.bytes("parentSpanId", pid[:])
	}
	o.u32("flags", sp.Flags())
	o.str("name", sp.Name())
	o.enum("kind", int32(sp.Kind()), spanKindNames)
	o.u64("startTimeUnixNano", uint64(sp.StartTimestamp()))
	o.u64("endTimeUnixNano", uint64(sp.EndTimestamp()))
	o.attributes("attributes", sp.Attributes())
	o.u32("droppedAttributesCount", sp.DroppedAttributesCount())
	if evs := sp.Events(); evs.Len() > 0 {
		o.key("events")
		o.b = append(o.b, '[')
		for i := 0; i < evs.Len(); i++ {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			ev := evs.At(i)
			e := startObject(o.b)
			e.u64("timeUnixNano", uint64(ev.Timestamp()))
			e.str("name", ev.Name())
			e.attributes("attributes", ev.Attributes())
			e.u32("droppedAttributesCount", ev.DroppedAttributesCount())
			o.b = e.end()
		}
		o.b = append(o.b, ']')
	}
	o.u32("droppedEventsCount", sp.DroppedEventsCount())
	if links := sp.Links(); links.Len() > 0 {
		o.key("links")
		o.b = append(o.b, '[')
		for i := 0; i < links.Len(); i++ {
			if i > 0 {
				o.b = append(o.b, ',')
			}
			l := links.At(i)
			lo := startObject(o.b)
			ltid, lsid := l.TraceID(), l.SpanID()
			if !ltid.IsEmpty() {
				lo.bytes("traceId", ltid[:])
			}
			if !lsid.IsEmpty() {
				lo.bytes("spanId", lsid[:])
			}
			lo.str("traceState", l.TraceState().AsRaw())
			lo.attributes("attributes", l.Attributes())
			lo.u32("droppedAttributesCount", l.DroppedAttributesCount())
			lo.u32("flags", l.Flags())
			o.b = lo.end()
		}
		o.b = append(o.b, ']')
	}
	o.u32("droppedLinksCount", sp.DroppedLinksCount())
	o.key("status")
	st := startObject(o.b)
	st.str("message", sp.Status().Message())
	st.enum("code", int32(sp.Status().Code()), statusCodeNames)
	o.b = st.end()
	return o.end()
}

// appendKeyValues writes a list of KeyValue.
func appendKeyValues(b []byte, m pcommon.Map) []byte {
	b = append(b, '[')
	first := true
	m.Range(func(k string, v pcommon.Value) bool {
		if !first {
			b = append(b, ',')
		}
		first = false
		o := startObject(b)
		o.str("key", k)
		o.key("value")
		o.b = appendAnyValue(o.b, v)
		b = o.end()
		return true
	})
	return append(b, ']')
}

// appendAnyValue writes an AnyValue: its one member even when zero, {}
// for an empty value.
func appendAnyValue(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		b = append(b, `{"stringValue":`...)
		b = appendJSONString(b, v.Str())
	case pcommon.ValueTypeBool:
		b = append(b, `{"boolValue":`...)
		b = strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeInt:
		b = append(b, `{"intValue":"`...)
		b = strconv.AppendInt(b, v.Int(), 10)
		b = append(b, '"')
	case pcommon.ValueTypeDouble:
		b = append(b, `{"doubleValue":`...)
		b = appendJSONFloat(b, v.Double())
	case pcommon.ValueTypeSlice:
		b = append(b, `{"arrayValue":{`...)
		if s := v.Slice(); s.Len() > 0 {
			b = append(b, `"values":[`...)
			for i := 0; i < s.Len(); i++ {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendAnyValue(b, s.At(i))
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	case pcommon.ValueTypeMap:
		b = append(b, `{"kvlistValue":{`...)
		if m := v.Map(); m.Len() > 0 {
			b = append(b, `"values":`...)
			b = appendKeyValues(b, m)
		}
		b = append(b, '}')
	case pcommon.ValueTypeBytes:
		b = append(b, `{"bytesValue":"`...)
		b = base64.StdEncoding.AppendEncode(b, v.Bytes().AsRaw())
		b = append(b, '"')
	default:
		b = append(b, '{')
	}
	return append(b, '}')
}

// appendJSONString writes s as encoding/json does (and so as jsonpb
// does): HTML characters escaped, invalid UTF-8 replaced.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always marshals
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat writes a double as jsonpb does: encoding/json's number
// format, or "NaN", "Infinity", "-Infinity".
func appendJSONFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	enc, _ := json.Marshal(f) // a finite float always marshals
	return append(b, enc...)
}
