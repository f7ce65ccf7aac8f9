package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/api/tempo"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/plan"
	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/storage"
)

// The Tempo query API under /tempo on the API port: TraceQL over the
// cluster's trace partitions.

// tagSampleTraces bounds the traces a tag value lookup reads for the
// intrinsics no catalog keeps (event:name, instrumentation:name,
// statusMessage, ...): those of the newest traces of the range.
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
		return tempo.SearchResult{}, overCap(err, tempo.BadQuery)
	}
	return tempo.SearchResult{
		Traces: matches, InspectedTraces: st.InspectedTraces, InspectedBytes: st.InspectedBytes,
		TotalJobs: st.Partitions, CompletedJobs: st.Partitions,
	}, nil
}

func (t nodeTempo) Trace(ctx context.Context, id [16]byte, _, _ time.Time) (ptrace.Traces, bool, error) {
	return t.n.querier().TraceByID(ctx, id)
}

// TagNames lists the attribute names of every scope (or of r.Scope) kept
// in the trace catalog's windows that overlap the range. r.Query (TraceQL
// restricting the spans whose names count) is ignored: the catalog does not
// know which spans carry a name, and Tempo's own filter is best-effort too
// (it answers every name of the range for a query it cannot apply).
func (t nodeTempo) TagNames(ctx context.Context, r tempo.TagsRequest) ([]tempo.ScopeTags, error) {
	if r.Scope == "trace" {
		return nil, nil // OTLP has no trace-level attributes
	}
	keys, _, err := t.n.querier().AttributeKeys(ctx, r.Scope, "", r.Start.UnixNano(), r.End.UnixNano())
	if err != nil {
		return nil, err
	}
	byScope := make(map[string][]string)
	for _, k := range keys {
		byScope[k.Scope] = append(byScope[k.Scope], k.Name)
	}
	var out []tempo.ScopeTags
	for _, scope := range storage.CatalogScopes {
		if r.Scope != "" && r.Scope != scope {
			continue
		}
		out = append(out, tempo.ScopeTags{Scope: scope, Tags: byScope[scope]})
	}
	return out, nil
}

// TagValues answers service names and span names from the catalog, the
// keywords of status and kind, attribute values (typed) from the attribute
// catalog's windows that overlap the range (an unscoped .key: its span and
// resource values), and other intrinsics' values from the newest traces of
// the range. r.Query is ignored, as in TagNames.
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
	if scope, key, ok := attributeTag(r.Tag); ok {
		return t.attributeValues(ctx, scope, key, r.Start, r.End)
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

// attributeValues reads the values of an attribute of scope ("" for span
// and resource) from the catalog.
func (t nodeTempo) attributeValues(ctx context.Context, scope, key string, start, end time.Time) ([]tempo.TagValue, error) {
	scopes := []string{scope}
	switch scope {
	case "":
		scopes = []string{"span", "resource"}
	case "trace":
		return nil, nil // OTLP has no trace-level attributes
	}
	seen := make(map[tempo.TagValue]struct{})
	var out []tempo.TagValue
	for _, sc := range scopes {
		vs, _, err := t.n.querier().AttributeValues(ctx, sc, key, "", start.UnixNano(), end.UnixNano())
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			tv := tempo.TagValue{Type: v.Type, Value: v.Value}
			if _, dup := seen[tv]; !dup {
				seen[tv] = struct{}{}
				out = append(out, tv)
			}
		}
	}
	return out, nil
}

// attributeTag splits a TraceQL attribute identifier (span.http.method,
// .http.method, resource."a b") into its scope ("" when unscoped) and key;
// ok is false for an intrinsic or a malformed quoted name.
func attributeTag(tag string) (scope, key string, ok bool) {
	i := strings.IndexByte(tag, '.')
	if i < 0 {
		return "", "", false
	}
	scope, rest := tag[:i], tag[i+1:]
	switch scope {
	case "", "span", "resource", "event", "link", "instrumentation", "trace":
	default:
		return "", "", false
	}
	// Unquoted runs and quoted segments ("a b", with Go escapes), joined.
	var b strings.Builder
	for len(rest) > 0 {
		if rest[0] != '"' {
			j := strings.IndexByte(rest, '"')
			if j < 0 {
				j = len(rest)
			}
			b.WriteString(rest[:j])
			rest = rest[j:]
			continue
		}
		j := 1
		for j < len(rest) && rest[j] != '"' {
			if rest[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(rest) {
			return "", "", false
		}
		seg, err := strconv.Unquote(rest[:j+1])
		if err != nil {
			return "", "", false
		}
		b.WriteString(seg)
		rest = rest[j+1:]
	}
	if b.Len() == 0 {
		return "", "", false
	}
	return scope, b.String(), true
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
		return tempo.MetricsResult{}, overCap(err, tempo.BadQuery)
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
