package traceexec

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/query/traceql"
)

// Model converts decoded traces into the evaluator's model, reusing its
// buffers between traces. Not safe for concurrent use.
type Model struct {
	trace traceql.Trace
}

// Trace returns td (one trace) as the evaluator sees it. The result is
// valid until the next call.
func (m *Model) Trace(id [16]byte, td ptrace.Traces) *traceql.Trace {
	t := &m.trace
	t.ID = id
	t.Spans = t.Spans[:0]
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := attrs(nil, rs.Resource().Attributes())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope()
			scopeAttrs := attrs(nil, scope.Attributes())
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				t.Spans = append(t.Spans, traceql.Span{
					ID:            s.SpanID(),
					ParentID:      s.ParentSpanID(),
					Name:          s.Name(),
					Kind:          traceql.Kind(s.Kind()),
					Status:        traceql.Status(s.Status().Code()),
					StatusMessage: s.Status().Message(),
					Start:         int64(s.StartTimestamp()),
					End:           int64(s.EndTimestamp()),
					Attrs:         attrs(nil, s.Attributes()),
					Resource:      res,
					ScopeName:     scope.Name(),
					ScopeVersion:  scope.Version(),
					ScopeAttrs:    scopeAttrs,
					Events:        events(s.Events()),
					Links:         links(s.Links()),
				})
			}
		}
	}
	return t
}

func events(es ptrace.SpanEventSlice) []traceql.Event {
	if es.Len() == 0 {
		return nil
	}
	out := make([]traceql.Event, es.Len())
	for i := range out {
		e := es.At(i)
		out[i] = traceql.Event{Name: e.Name(), Time: int64(e.Timestamp()), Attrs: attrs(nil, e.Attributes())}
	}
	return out
}

func links(ls ptrace.SpanLinkSlice) []traceql.Link {
	if ls.Len() == 0 {
		return nil
	}
	out := make([]traceql.Link, ls.Len())
	for i := range out {
		l := ls.At(i)
		out[i] = traceql.Link{TraceID: l.TraceID(), SpanID: l.SpanID(), Attrs: attrs(nil, l.Attributes())}
	}
	return out
}

// attrs appends m's attributes to dst as evaluator attributes.
func attrs(dst []traceql.Attr, m pcommon.Map) []traceql.Attr {
	if m.Len() == 0 {
		return dst
	}
	dst = make([]traceql.Attr, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		dst = append(dst, traceql.Attr{Key: k, Value: value(v)})
		return true
	})
	return dst
}

// value converts an OTLP value; maps and bytes compare as their string
// form, arrays element by element.
func value(v pcommon.Value) traceql.Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return traceql.StringValue(v.Str())
	case pcommon.ValueTypeInt:
		return traceql.IntValue(v.Int())
	case pcommon.ValueTypeDouble:
		return traceql.FloatValue(v.Double())
	case pcommon.ValueTypeBool:
		return traceql.BoolValue(v.Bool())
	case pcommon.ValueTypeSlice:
		return arrayValue(v)
	case pcommon.ValueTypeEmpty:
		return traceql.NilValue()
	}
	return traceql.StringValue(v.AsString())
}

// arrayValue converts an OTLP array of one scalar type; a mixed or nested
// array compares as its JSON text.
func arrayValue(v pcommon.Value) traceql.Value {
	sl := v.Slice()
	if sl.Len() == 0 {
		return traceql.StringArrayValue(nil)
	}
	t := sl.At(0).Type()
	for i := 1; i < sl.Len(); i++ {
		if sl.At(i).Type() != t {
			t = pcommon.ValueTypeEmpty
			break
		}
	}
	switch t {
	case pcommon.ValueTypeStr:
		a := make([]string, sl.Len())
		for i := range a {
			a[i] = sl.At(i).Str()
		}
		return traceql.StringArrayValue(a)
	case pcommon.ValueTypeInt:
		a := make([]int64, sl.Len())
		for i := range a {
			a[i] = sl.At(i).Int()
		}
		return traceql.IntArrayValue(a)
	case pcommon.ValueTypeDouble:
		a := make([]float64, sl.Len())
		for i := range a {
			a[i] = sl.At(i).Double()
		}
		return traceql.FloatArrayValue(a)
	case pcommon.ValueTypeBool:
		a := make([]bool, sl.Len())
		for i := range a {
			a[i] = sl.At(i).Bool()
		}
		return traceql.BoolArrayValue(a)
	}
	return traceql.StringValue(v.AsString())
}
