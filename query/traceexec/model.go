package traceexec

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/storage"
)

// Model converts decoded spans into the evaluator's model, converting
// each resource once per trace. Not safe for concurrent use.
type Model struct {
	trace     traceql.Trace
	resources map[*storage.ResourceData]resource
}

// resource is a resource record in the evaluator's terms.
type resource struct {
	attrs, scopeAttrs []traceql.Attr
}

// Trace returns the spans of one trace as the evaluator sees them. The
// result is valid until the next call.
func (m *Model) Trace(id [16]byte, spans []storage.SpanData) *traceql.Trace {
	t := &m.trace
	t.ID = id
	t.Spans = t.Spans[:0]
	if m.resources == nil {
		m.resources = make(map[*storage.ResourceData]resource)
	}
	clear(m.resources)
	for i := range spans {
		s := &spans[i]
		r, ok := m.resources[s.Resource]
		if !ok && s.Resource != nil {
			r = resource{attrs: attrs(s.Resource.Attrs), scopeAttrs: attrs(s.Resource.ScopeAttrs)}
			m.resources[s.Resource] = r
		}
		sp := traceql.Span{
			ID:            s.SpanID,
			ParentID:      s.ParentID,
			Name:          s.Name,
			Kind:          traceql.Kind(s.Kind),
			Status:        traceql.Status(s.StatusCode),
			StatusMessage: s.StatusMessage,
			Start:         s.Start,
			End:           s.End,
			Attrs:         attrs(s.Attrs),
			Resource:      r.attrs,
			ScopeAttrs:    r.scopeAttrs,
			Events:        events(s.Events),
			Links:         links(s.Links),
		}
		if s.Resource != nil {
			sp.ScopeName, sp.ScopeVersion = s.Resource.ScopeName, s.Resource.ScopeVersion
		}
		t.Spans = append(t.Spans, sp)
	}
	return t
}

func events(es []storage.EventData) []traceql.Event {
	if len(es) == 0 {
		return nil
	}
	out := make([]traceql.Event, len(es))
	for i, e := range es {
		out[i] = traceql.Event{Name: e.Name, Time: e.Time, Attrs: attrs(e.Attrs)}
	}
	return out
}

func links(ls []storage.LinkData) []traceql.Link {
	if len(ls) == 0 {
		return nil
	}
	out := make([]traceql.Link, len(ls))
	for i, l := range ls {
		out[i] = traceql.Link{TraceID: l.TraceID, SpanID: l.SpanID, Attrs: attrs(l.Attrs)}
	}
	return out
}

// attrs converts decoded attributes.
func attrs(kvs []storage.KeyValue) []traceql.Attr {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]traceql.Attr, len(kvs))
	for i := range kvs {
		out[i] = traceql.Attr{Key: kvs[i].Key, Value: value(&kvs[i].Value)}
	}
	return out
}

// value converts a decoded value; maps and bytes compare as their OTLP
// string form, arrays element by element.
func value(v *storage.Value) traceql.Value {
	switch v.Type {
	case storage.ValueStr:
		return traceql.StringValue(v.Str)
	case storage.ValueInt:
		return traceql.IntValue(v.Int)
	case storage.ValueDouble:
		return traceql.FloatValue(v.Double)
	case storage.ValueBool:
		return traceql.BoolValue(v.Bool)
	case storage.ValueArray:
		return arrayValue(v)
	case storage.ValueEmpty:
		return traceql.NilValue()
	}
	return traceql.StringValue(asString(v))
}

// arrayValue converts an array of one scalar type; a mixed or nested
// array compares as its JSON text.
func arrayValue(v *storage.Value) traceql.Value {
	a := v.Array
	if len(a) == 0 {
		return traceql.StringArrayValue(nil)
	}
	t := a[0].Type
	for i := range a {
		if a[i].Type != t {
			t = storage.ValueMap // mixed: as text
			break
		}
	}
	switch t {
	case storage.ValueStr:
		out := make([]string, len(a))
		for i := range a {
			out[i] = a[i].Str
		}
		return traceql.StringArrayValue(out)
	case storage.ValueInt:
		out := make([]int64, len(a))
		for i := range a {
			out[i] = a[i].Int
		}
		return traceql.IntArrayValue(out)
	case storage.ValueDouble:
		out := make([]float64, len(a))
		for i := range a {
			out[i] = a[i].Double
		}
		return traceql.FloatArrayValue(out)
	case storage.ValueBool:
		out := make([]bool, len(a))
		for i := range a {
			out[i] = a[i].Bool
		}
		return traceql.BoolArrayValue(out)
	}
	return traceql.StringValue(asString(v))
}

// asString is the OTLP string form of a value (pcommon.Value.AsString):
// JSON for arrays and maps, base64 for bytes. Rare in queries, so it goes
// through pdata.
func asString(v *storage.Value) string {
	pv := pcommon.NewValueEmpty()
	fill(pv, v)
	return pv.AsString()
}

func fill(pv pcommon.Value, v *storage.Value) {
	switch v.Type {
	case storage.ValueStr:
		pv.SetStr(v.Str)
	case storage.ValueInt:
		pv.SetInt(v.Int)
	case storage.ValueDouble:
		pv.SetDouble(v.Double)
	case storage.ValueBool:
		pv.SetBool(v.Bool)
	case storage.ValueBytes:
		pv.SetEmptyBytes().FromRaw(v.Bytes)
	case storage.ValueArray:
		s := pv.SetEmptySlice()
		for i := range v.Array {
			fill(s.AppendEmpty(), &v.Array[i])
		}
	case storage.ValueMap:
		m := pv.SetEmptyMap()
		for i := range v.Map {
			fill(m.PutEmpty(v.Map[i].Key), &v.Map[i].Value)
		}
	}
}
