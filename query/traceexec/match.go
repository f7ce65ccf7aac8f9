package traceexec

import (
	"fmt"
	"slices"
	"sort"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/storage"
)

// traceMatch summarises a matched trace with its spansets, at most spss
// spans each (the earliest), as a search result returns them.
func traceMatch(t *traceql.Trace, sets []traceql.Spanset, spss int) *starlingpb.TraceMatch {
	m := &starlingpb.TraceMatch{TraceId: slices.Clone(t.ID[:])}
	var root *traceql.Span
	start, end := int64(0), int64(0)
	stats := map[string]*starlingpb.ServiceSpanStats{}
	for i := range t.Spans {
		s := &t.Spans[i]
		if start == 0 || s.Start < start {
			start = s.Start
		}
		end = max(end, s.End)
		if s.ParentID == ([8]byte{}) && (root == nil || s.Start < root.Start) {
			root = s
		}
		svc := serviceName(s)
		st := stats[svc]
		if st == nil {
			st = &starlingpb.ServiceSpanStats{Service: svc}
			stats[svc] = st
		}
		st.SpanCount++
		if s.Status == traceql.Status(2) {
			st.ErrorCount++
		}
	}
	if root != nil {
		m.RootServiceName, m.RootSpanName = serviceName(root), root.Name
	}
	m.StartUnixNano, m.DurationNano, m.TimeUnixNano = start, end-start, start
	for _, st := range stats {
		m.ServiceStats = append(m.ServiceStats, st)
	}
	sort.Slice(m.ServiceStats, func(i, j int) bool { return m.ServiceStats[i].Service < m.ServiceStats[j].Service })
	for _, set := range sets {
		ps := &starlingpb.SpanSetMatch{Matched: uint32(set.Matched), Attributes: typedAttrs(set.Attributes)}
		spans := slices.Clone(set.Spans)
		sort.SliceStable(spans, func(i, j int) bool { return spans[i].Span.Start < spans[j].Span.Start })
		for _, sm := range spans[:min(len(spans), spss)] {
			s := sm.Span
			ps.Spans = append(ps.Spans, &starlingpb.SpanMatch{
				SpanId:        slices.Clone(s.ID[:]),
				Name:          s.Name,
				StartUnixNano: s.Start,
				DurationNano:  s.End - s.Start,
				Attributes:    typedAttrs(sm.Attributes),
			})
		}
		m.SpanSets = append(m.SpanSets, ps)
	}
	return m
}

// serviceName is a span's resource service.name, "" without one.
func serviceName(s *traceql.Span) string {
	for _, a := range s.Resource {
		if a.Key == "service.name" {
			return a.Value.Str()
		}
	}
	return ""
}

// typedAttrs converts evaluator attributes for the wire. Durations go as
// nanosecond integers, statuses and kinds as their names, arrays as their
// text.
func typedAttrs(as []traceql.Attr) []*starlingpb.TypedAttribute {
	if len(as) == 0 {
		return nil
	}
	out := make([]*starlingpb.TypedAttribute, len(as))
	for i, a := range as {
		ta := &starlingpb.TypedAttribute{Key: a.Key}
		v := a.Value
		switch v.Type() {
		case traceql.TypeString:
			ta.Value = &starlingpb.TypedAttribute_StringValue{StringValue: v.Str()}
		case traceql.TypeInt:
			ta.Value = &starlingpb.TypedAttribute_IntValue{IntValue: v.Int()}
		case traceql.TypeDuration:
			ta.Value = &starlingpb.TypedAttribute_IntValue{IntValue: int64(v.Duration())}
		case traceql.TypeFloat:
			ta.Value = &starlingpb.TypedAttribute_DoubleValue{DoubleValue: v.Float()}
		case traceql.TypeBool:
			ta.Value = &starlingpb.TypedAttribute_BoolValue{BoolValue: v.Bool()}
		case traceql.TypeNil:
		default:
			ta.Value = &starlingpb.TypedAttribute_StringValue{StringValue: v.Text()}
		}
		out[i] = ta
	}
	return out
}

// MatchShipped evaluates q on one trace shipped whole to the coordinator
// (records and refs as a trace read answers them): the execution without
// pushdown, kept to measure what pushdown saves. nil when q does not
// match.
func MatchShipped(q *traceql.Query, id [16]byte, records, refs []*starlingpb.Record, spss int) (*starlingpb.TraceMatch, error) {
	if len(records) == 0 {
		return nil, nil
	}
	spans, err := storage.DecodeSpans(records, refs)
	if err != nil {
		return nil, fmt.Errorf("decode trace: %w", err)
	}
	var m Model
	t := m.Trace(id, spans)
	sets, err := q.Eval(t)
	if err != nil || len(sets) == 0 {
		return nil, err
	}
	return traceMatch(t, sets, max(spss, 1)), nil
}
