package traceqltest_test

import (
	"fmt"
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/query/traceql/traceqltest"
)

// TestPdataRoundTrip: Pdata, read back (fromPdata), is the data set
// again, span by span (resource, scope and all), and groups spans by
// resource and scope. (The stored form is checked end to end by the
// node's TestTraceQLConformance.)
func TestPdataRoundTrip(t *testing.T) {
	traces := traceqltest.Traces(traceqltest.T0)
	td := traceqltest.Pdata(traces)
	total := 0
	for _, tr := range traces {
		total += len(tr.Spans)
	}
	if td.SpanCount() != total {
		t.Fatalf("%d spans, want %d", td.SpanCount(), total)
	}
	// Resources are distinct; in each, scopes are distinct.
	seen := map[string]bool{}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		k := fmt.Sprint(rss.At(i).Resource().Attributes().AsRaw())
		if seen[k] {
			t.Errorf("resource %s appears twice", k)
		}
		seen[k] = true
	}
	resources, scopes := map[string]bool{}, map[string]bool{}
	for _, tr := range traces {
		for _, s := range tr.Spans {
			resources[fmt.Sprint(s.Resource)] = true
			scopes[fmt.Sprint(s.Resource, s.ScopeName, s.ScopeVersion, s.ScopeAttrs)] = true
		}
	}
	nScopes := 0
	for i := 0; i < rss.Len(); i++ {
		nScopes += rss.At(i).ScopeSpans().Len()
	}
	if rss.Len() != len(resources) || nScopes != len(scopes) {
		t.Errorf("%d resources and %d scopes, want the %d and %d distinct ones", rss.Len(), nScopes, len(resources), len(scopes))
	}
	byTrace := map[[16]byte]ptrace.Traces{}
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				s := ss.Spans().At(k)
				one, ok := byTrace[s.TraceID()]
				if !ok {
					one = ptrace.NewTraces()
					byTrace[s.TraceID()] = one
				}
				ors := one.ResourceSpans().AppendEmpty()
				rs.Resource().CopyTo(ors.Resource())
				oss := ors.ScopeSpans().AppendEmpty()
				ss.Scope().CopyTo(oss.Scope())
				s.CopyTo(oss.Spans().AppendEmpty())
			}
		}
	}
	if len(byTrace) != len(traces) {
		t.Fatalf("%d traces, want %d", len(byTrace), len(traces))
	}
	for _, want := range traces {
		got := fromPdata(want.ID, byTrace[want.ID])
		if len(got.Spans) != len(want.Spans) {
			t.Errorf("trace %x: %d spans, want %d", want.ID, len(got.Spans), len(want.Spans))
			continue
		}
		for _, ws := range want.Spans {
			i := slices.IndexFunc(got.Spans, func(s traceql.Span) bool { return s.ID == ws.ID })
			if i < 0 {
				t.Errorf("trace %x: span %x missing", want.ID, ws.ID)
				continue
			}
			if g, w := spanString(&got.Spans[i]), spanString(&ws); g != w {
				t.Errorf("span %s:\n got %s\nwant %s", traceqltest.SpanLabel(&ws), g, w)
			}
		}
	}
}

// spanString prints every field of a span, values with their types.
func spanString(s *traceql.Span) string {
	attrs := func(as []traceql.Attr) string {
		out := ""
		for _, a := range as {
			out += fmt.Sprintf("%s=%s(%s) ", a.Key, a.Value.Type(), a.Value)
		}
		return "[" + out + "]"
	}
	out := fmt.Sprintf("%x<%x %q %v %v %q %d-%d attrs%s res%s scope %q %q %s", s.ID, s.ParentID, s.Name, s.Kind, s.Status,
		s.StatusMessage, s.Start, s.End, attrs(s.Attrs), attrs(s.Resource), s.ScopeName, s.ScopeVersion, attrs(s.ScopeAttrs))
	for _, e := range s.Events {
		out += fmt.Sprintf(" event %q %d %s", e.Name, e.Time, attrs(e.Attrs))
	}
	for _, l := range s.Links {
		out += fmt.Sprintf(" link %x %x %s", l.TraceID, l.SpanID, attrs(l.Attrs))
	}
	return out
}

// fromPdata reads one trace of pdata back into the evaluator's model.
func fromPdata(id [16]byte, td ptrace.Traces) *traceql.Trace {
	t := &traceql.Trace{ID: id}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				s := ss.Spans().At(k)
				sp := traceql.Span{
					ID: s.SpanID(), ParentID: s.ParentSpanID(), Name: s.Name(),
					Kind: traceql.Kind(s.Kind()), Status: traceql.Status(s.Status().Code()), StatusMessage: s.Status().Message(),
					Start: int64(s.StartTimestamp()), End: int64(s.EndTimestamp()),
					Attrs: pdataAttrs(s.Attributes()), Resource: pdataAttrs(rs.Resource().Attributes()),
					ScopeName: ss.Scope().Name(), ScopeVersion: ss.Scope().Version(), ScopeAttrs: pdataAttrs(ss.Scope().Attributes()),
				}
				for e := 0; e < s.Events().Len(); e++ {
					ev := s.Events().At(e)
					sp.Events = append(sp.Events, traceql.Event{Name: ev.Name(), Time: int64(ev.Timestamp()), Attrs: pdataAttrs(ev.Attributes())})
				}
				for l := 0; l < s.Links().Len(); l++ {
					ln := s.Links().At(l)
					sp.Links = append(sp.Links, traceql.Link{TraceID: ln.TraceID(), SpanID: ln.SpanID(), Attrs: pdataAttrs(ln.Attributes())})
				}
				t.Spans = append(t.Spans, sp)
			}
		}
	}
	return t
}

func pdataAttrs(m pcommon.Map) []traceql.Attr {
	var out []traceql.Attr
	for k, v := range m.All() {
		out = append(out, traceql.Attr{Key: k, Value: pdataValue(v)})
	}
	return out
}

func pdataValue(v pcommon.Value) traceql.Value {
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
		sl := v.Slice()
		if sl.Len() == 0 {
			return traceql.StringArrayValue(nil)
		}
		switch sl.At(0).Type() {
		case pcommon.ValueTypeStr:
			var a []string
			for i := 0; i < sl.Len(); i++ {
				a = append(a, sl.At(i).Str())
			}
			return traceql.StringArrayValue(a)
		case pcommon.ValueTypeInt:
			var a []int64
			for i := 0; i < sl.Len(); i++ {
				a = append(a, sl.At(i).Int())
			}
			return traceql.IntArrayValue(a)
		case pcommon.ValueTypeDouble:
			var a []float64
			for i := 0; i < sl.Len(); i++ {
				a = append(a, sl.At(i).Double())
			}
			return traceql.FloatArrayValue(a)
		case pcommon.ValueTypeBool:
			var a []bool
			for i := 0; i < sl.Len(); i++ {
				a = append(a, sl.At(i).Bool())
			}
			return traceql.BoolArrayValue(a)
		}
	}
	return traceql.StringValue(v.AsString())
}
