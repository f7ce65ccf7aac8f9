package jaeger

import (
	"slices"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// depSpan is one span of a dependencies case: its trace (a byte of the
// ID), span and parent IDs (0: root) and service ("-" for a resource
// without attributes).
type depSpan struct {
	trace, id, parent byte
	service           string
}

// depTraces builds one ptrace.Traces per group of spans, each span in its
// own resource.
func depTraces(groups ...[]depSpan) []ptrace.Traces {
	var out []ptrace.Traces
	for _, g := range groups {
		td := ptrace.NewTraces()
		for _, d := range g {
			rs := td.ResourceSpans().AppendEmpty()
			if d.service != "-" {
				rs.Resource().Attributes().PutStr("service.name", d.service)
			}
			s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			s.SetTraceID(pcommon.TraceID{15: d.trace})
			s.SetSpanID(sid(d.id))
			if d.parent != 0 {
				s.SetParentSpanID(sid(d.parent))
			}
		}
		out = append(out, td)
	}
	return out
}

func TestDependencies(t *testing.T) {
	for _, c := range []struct {
		name   string
		traces []ptrace.Traces
		want   []DependencyLink
	}{
		{"none", nil, nil},
		{"root only", depTraces([]depSpan{{1, 1, 0, "a"}}), nil},
		{"same service", depTraces([]depSpan{{1, 1, 0, "a"}, {1, 2, 1, "a"}}), nil},
		{"one call", depTraces([]depSpan{{1, 1, 0, "a"}, {1, 2, 1, "b"}}),
			[]DependencyLink{{"a", "b", 1}}},
		{"counted and sorted", depTraces(
			[]depSpan{{1, 1, 0, "z"}, {1, 2, 1, "b"}, {1, 3, 1, "b"}, {1, 4, 2, "a"}},
			[]depSpan{{2, 1, 0, "z"}, {2, 2, 1, "b"}}),
			[]DependencyLink{{"b", "a", 1}, {"z", "b", 3}}},
		{"parent not stored", depTraces([]depSpan{{1, 2, 9, "b"}}), nil},
		{"parent in another trace", depTraces([]depSpan{{1, 1, 0, "a"}}, []depSpan{{2, 2, 1, "b"}}), nil},
		{"trace split over two elements", depTraces([]depSpan{{1, 1, 0, "a"}}, []depSpan{{1, 2, 1, "b"}}),
			[]DependencyLink{{"a", "b", 1}}},
		{"resource without attributes", depTraces([]depSpan{{1, 1, 0, "a"}, {1, 2, 1, "-"}}),
			[]DependencyLink{{"a", noServiceName, 1}}},
	} {
		if got := Dependencies(c.traces); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// The fixture: a3 (backend) is a child of a2 (frontend); b2's resource
	// has no attributes; the rest call within a service or are roots.
	want := []DependencyLink{{"backend", noServiceName, 1}, {"frontend", "backend", 1}}
	if got := Dependencies(fixtures()); !slices.Equal(got, want) {
		t.Errorf("fixtures: %v, want %v", got, want)
	}
}

func TestMergeLinks(t *testing.T) {
	links := []DependencyLink{{"b", "c", 2}, {"a", "b", 1}, {"b", "c", 3}, {"c", "d", 1}}
	for _, c := range []struct {
		service string
		want    []dependencyLink
	}{
		{"", []dependencyLink{{"a", "b", 1}, {"b", "c", 5}, {"c", "d", 1}}},
		{"b", []dependencyLink{{"a", "b", 1}, {"b", "c", 5}}},
		{"d", []dependencyLink{{"c", "d", 1}}},
		{"x", []dependencyLink{}},
	} {
		got := mergeLinks(links, c.service)
		if got == nil || !slices.Equal(got, c.want) {
			t.Errorf("service %q: %v, want %v", c.service, got, c.want)
		}
	}
}
