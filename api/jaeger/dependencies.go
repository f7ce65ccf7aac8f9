package jaeger

import (
	"cmp"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Dependencies computes the service call graph of the given spans, as
// Jaeger's Badger and in-memory stores compute it (processTrace of
// internal/storage/v1/badger/dependencystore/storage.go): one call from the
// parent span's service to the child span's service for every span whose
// parent span is among the spans of the same trace and belongs to another
// service. The parent is the OTLP parent span ID (the first CHILD_OF
// reference of the Jaeger span); the service of a span is its resource's
// service.name, as in the Jaeger model (convert.go). Spans of one trace may
// be spread over several elements of traces. The links are sorted by
// parent, then child; nil when there is none.
func Dependencies(traces []ptrace.Traces) []DependencyLink {
	type spanKey struct {
		trace pcommon.TraceID
		span  pcommon.SpanID
	}
	type edge struct{ parent, child string }
	type child struct {
		key     spanKey // the parent's key
		service string
	}

	services := make(map[spanKey]string)
	var children []child
	for _, td := range traces {
		for _, rs := range td.ResourceSpans().All() {
			svc := serviceName(rs.Resource())
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					services[spanKey{s.TraceID(), s.SpanID()}] = svc
					if p := s.ParentSpanID(); !p.IsEmpty() {
						children = append(children, child{spanKey{s.TraceID(), p}, svc})
					}
				}
			}
		}
	}

	counts := make(map[edge]uint64)
	for _, c := range children {
		parent, ok := services[c.key]
		if ok && parent != c.service {
			counts[edge{parent, c.service}]++
		}
	}
	if len(counts) == 0 {
		return nil
	}
	links := make([]DependencyLink, 0, len(counts))
	for e, n := range counts {
		links = append(links, DependencyLink{Parent: e.parent, Child: e.child, CallCount: n})
	}
	sortLinks(links)
	return links
}

// sortLinks orders links by parent, then child.
func sortLinks(links []DependencyLink) {
	slices.SortFunc(links, func(a, b DependencyLink) int {
		if c := cmp.Compare(a.Parent, b.Parent); c != 0 {
			return c
		}
		return cmp.Compare(a.Child, b.Child)
	})
}

// mergeLinks is the dependencies handler's filterDependenciesByService and
// deduplicateDependencies (http_handler.go): the links that have service
// as parent or child (all of them when service is ""), with the counts of
// repeated parent-child pairs summed; sorted, and never nil.
func mergeLinks(links []DependencyLink, service string) []dependencyLink {
	type edge struct{ parent, child string }
	counts := make(map[edge]uint64)
	for _, l := range links {
		if service == "" || l.Parent == service || l.Child == service {
			counts[edge{l.Parent, l.Child}] += l.CallCount
		}
	}
	merged := make([]DependencyLink, 0, len(counts))
	for e, n := range counts {
		merged = append(merged, DependencyLink{Parent: e.parent, Child: e.child, CallCount: n})
	}
	sortLinks(merged)
	out := make([]dependencyLink, len(merged))
	for i, l := range merged {
		out[i] = dependencyLink{Parent: l.Parent, Child: l.Child, CallCount: l.CallCount}
	}
	return out
}
