package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/api/tempo"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/plan"
	"github.com/starling-otel/starling/query/traceql"
)

// The Tempo query API under /tempo on the API port: TraceQL over the
// cluster's trace partitions.

// tagSampleTraces bounds the traces a tag name or value lookup reads for
// the attributes no catalog keeps: those of the newest traces of the range.
const tagSampleTraces = 200

// registerTempo adds the Tempo API to mux.
func (n *Node) registerTempo(mux *http.ServeMux) error {
	api, err := tempo.New(tempo.DefaultConfig(), nodeTempo{n}, n.log.With("component", "tempo-api"))
	if err != nil {
		return fmt.Errorf("tempo api: %w", err)
	}
	sub := http.NewServeMux()
	api.Register(sub, "/tempo")
	mux.Handle("/tempo/", n.plainWhenServing(sub))
	return nil
}

// nodeTempo is the node as the Tempo API reads it (tempo.Querier).
type nodeTempo struct{ n *Node }

// planTraceQL plans a query; a query that does not parse is the client's
// error.
func planTraceQL(src string) (*plan.TracePlan, error) {
	tp, err := plan.Trace(src)
	if err != nil {
		var pe *traceql.ParseError
		if errors.As(err, &pe) {
			return nil, tempo.BadQuery(err)
		}
		return nil, err
	}
	return tp, nil
}

func (t nodeTempo) Search(ctx context.Context, r tempo.SearchRequest) (tempo.SearchResult, error) {
	tp, err := planTraceQL(r.Query)
	if err != nil {
		return tempo.SearchResult{}, err
	}
	if tp.Query.IsMetrics() {
		return tempo.SearchResult{}, tempo.BadQuery(errors.New("a metrics query is answered by /api/metrics/query_range, not by search"))
	}
	matches, st, err := t.n.querier().SearchTraceQL(ctx, tp, r.Start.UnixNano(), r.End.UnixNano(), r.Limit, r.SpansPerSpanSet)
	if err != nil {
		return tempo.SearchResult{}, err
	}
	return tempo.SearchResult{
		Traces: matches, InspectedTraces: st.InspectedTraces, InspectedBytes: st.InspectedBytes,
		TotalJobs: st.Partitions, CompletedJobs: st.Partitions,
	}, nil
}

func (t nodeTempo) Trace(ctx context.Context, id [16]byte, _, _ time.Time) (ptrace.Traces, bool, error) {
	return t.n.querier().TraceByID(ctx, id)
}

// TagNames lists the attribute names of the newest traces of the range
// (no catalog keeps attribute names yet).
func (t nodeTempo) TagNames(ctx context.Context, r tempo.TagsRequest) ([]tempo.ScopeTags, error) {
	traces, err := t.sample(ctx, r.Start, r.End)
	if err != nil {
		return nil, err
	}
	names := map[string]map[string]struct{}{"span": {}, "resource": {}, "event": {}, "link": {}, "instrumentation": {}}
	for _, td := range traces {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			rs := rss.At(i)
			for k := range rs.Resource().Attributes().All() {
				names["resource"][k] = struct{}{}
			}
			sss := rs.ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				ss := sss.At(j)
				for k := range ss.Scope().Attributes().All() {
					names["instrumentation"][k] = struct{}{}
				}
				spans := ss.Spans()
				for s := 0; s < spans.Len(); s++ {
					sp := spans.At(s)
					for k := range sp.Attributes().All() {
						names["span"][k] = struct{}{}
					}
					for e := 0; e < sp.Events().Len(); e++ {
						for k := range sp.Events().At(e).Attributes().All() {
							names["event"][k] = struct{}{}
						}
					}
					for l := 0; l < sp.Links().Len(); l++ {
						for k := range sp.Links().At(l).Attributes().All() {
							names["link"][k] = struct{}{}
						}
					}
				}
			}
		}
	}
	var out []tempo.ScopeTags
	for _, scope := range []string{"span", "resource", "event", "link", "instrumentation"} {
		if r.Scope != "" && r.Scope != scope {
			continue
		}
		st := tempo.ScopeTags{Scope: scope}
		for k := range names[scope] {
			st.Tags = append(st.Tags, k)
		}
		sort.Strings(st.Tags)
		out = append(out, st)
	}
	return out, nil
}

// TagValues answers service names and span names from the catalog, the
// keywords of status and kind, and other attributes' values from the
// newest traces of the range.
func (t nodeTempo) TagValues(ctx context.Context, r tempo.TagValuesRequest) ([]tempo.TagValue, error) {
	q := t.n.querier()
	switch r.Tag {
	case "resource.service.name", ".service.name", "service.name", "trace:rootService", "rootServiceName":
		names, err := q.Services(ctx)
		return stringValues(names), err
	case "status", "span:status":
		return keywords("error", "ok", "unset"), nil
	case "kind", "span:kind":
		return keywords("unspecified", "internal", "server", "client", "producer", "consumer"), nil
	case "name", "span:name", "rootName", "trace:rootName":
		services, err := q.Services(ctx)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, s := range services {
			ops, err := q.Operations(ctx, s)
			if err != nil {
				return nil, err
			}
			out = append(out, ops...)
		}
		return stringValues(out), nil
	}
	src := "{ " + r.Tag + " != nil } | select(" + r.Tag + ")"
	tp, err := planTraceQL(src)
	if err != nil {
		return nil, err
	}
	matches, _, err := q.SearchTraceQL(ctx, tp, r.Start.UnixNano(), r.End.UnixNano(), tagSampleTraces, 1000)
	if err != nil {
		return nil, err
	}
	seen := map[tempo.TagValue]struct{}{}
	var out []tempo.TagValue
	for _, m := range matches {
		for _, set := range m.SpanSets {
			for _, s := range set.Spans {
				for _, a := range s.Attributes {
					v, ok := tagValue(a)
					if _, dup := seen[v]; ok && !dup {
						seen[v] = struct{}{}
						out = append(out, v)
					}
				}
			}
		}
	}
	return out, nil
}

// sample reads the newest traces of a range whole.
func (t nodeTempo) sample(ctx context.Context, start, end time.Time) ([]ptrace.Traces, error) {
	return t.n.querier().FindTraces(ctx, &starlingpb.TraceSearch{}, start.UnixNano(), end.UnixNano(), tagSampleTraces)
}

func stringValues(names []string) []tempo.TagValue {
	out := make([]tempo.TagValue, len(names))
	for i, n := range names {
		out[i] = tempo.TagValue{Type: "string", Value: n}
	}
	return out
}

func keywords(ks ...string) []tempo.TagValue {
	out := make([]tempo.TagValue, len(ks))
	for i, k := range ks {
		out[i] = tempo.TagValue{Type: "keyword", Value: k}
	}
	return out
}

// tagValue is a returned attribute as a tag value.
func tagValue(a *starlingpb.TypedAttribute) (tempo.TagValue, bool) {
	switch v := a.Value.(type) {
	case *starlingpb.TypedAttribute_StringValue:
		return tempo.TagValue{Type: "string", Value: v.StringValue}, true
	case *starlingpb.TypedAttribute_IntValue:
		return tempo.TagValue{Type: "int", Value: fmt.Sprint(v.IntValue)}, true
	case *starlingpb.TypedAttribute_DoubleValue:
		return tempo.TagValue{Type: "float", Value: fmt.Sprint(v.DoubleValue)}, true
	case *starlingpb.TypedAttribute_BoolValue:
		return tempo.TagValue{Type: "bool", Value: fmt.Sprint(v.BoolValue)}, true
	}
	return tempo.TagValue{}, false
}

func (t nodeTempo) MetricsQueryRange(ctx context.Context, r tempo.MetricsRequest) (tempo.MetricsResult, error) {
	tp, err := planTraceQL(r.Query)
	if err != nil {
		return tempo.MetricsResult{}, err
	}
	if !tp.Query.IsMetrics() {
		return tempo.MetricsResult{}, tempo.BadQuery(errors.New("not a metrics query: end it with a metrics function such as | rate()"))
	}
	step := r.Step
	if r.Instant {
		step = r.End.Sub(r.Start)
	}
	m, st, err := t.n.querier().TraceQLMetrics(ctx, tp, r.Start.UnixNano(), r.End.UnixNano(), int64(step))
	if err != nil {
		return tempo.MetricsResult{}, err
	}
	res := tempo.MetricsResult{InspectedTraces: st.InspectedTraces, InspectedBytes: st.InspectedBytes}
	for _, s := range m.Result() {
		ts := tempo.Series{}
		for _, l := range s.Labels {
			ts.Labels = append(ts.Labels, tempo.Label{Key: l.Key, Value: labelValue(l.Value)})
		}
		for _, smp := range s.Samples {
			ts.Samples = append(ts.Samples, tempo.Sample{TimestampMs: smp.T, Value: smp.V})
		}
		res.Series = append(res.Series, ts)
	}
	return res, nil
}

// labelValue is a series label's value as the API writes it.
func labelValue(v traceql.Value) any {
	switch v.Type() {
	case traceql.TypeString:
		return v.Str()
	case traceql.TypeInt:
		return v.Int()
	case traceql.TypeFloat:
		return v.Float()
	case traceql.TypeBool:
		return v.Bool()
	case traceql.TypeDuration:
		return int64(v.Duration())
	}
	return v.Text()
}
