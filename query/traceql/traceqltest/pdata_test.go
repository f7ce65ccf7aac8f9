package traceqltest_test

import (
	"fmt"
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/query/traceexec"
	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/query/traceql/traceqltest"
)

// TestPdataRoundTrip: Pdata, read back by the partitions' converter, is
// the data set again, span by span (resource, scope and all), and groups
// spans by resource and scope.
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
		var m traceexec.Model
		got := m.Trace(want.ID, byTrace[want.ID])
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
