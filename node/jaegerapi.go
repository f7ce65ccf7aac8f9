package node

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/api/jaeger"
	"github.com/starling-otel/starling/proto/starlingpb"
)

// The Jaeger query API under /jaeger on the API port, over the cluster's
// trace partitions.

// dependencyTraces bounds the traces /jaeger/api/dependencies reads: the
// graph is that of the newest traces of the range.
const dependencyTraces = 2000

// registerJaeger adds the Jaeger API to mux.
func (n *Node) registerJaeger(mux *http.ServeMux) error {
	api, err := jaeger.New(jaeger.DefaultConfig(), nodeJaeger{n}, n.log.With("component", "jaeger-api"))
	if err != nil {
		return fmt.Errorf("jaeger api: %w", err)
	}
	sub := http.NewServeMux()
	api.Register(sub, "/jaeger")
	mux.Handle("/jaeger/", n.plainWhenServing(sub))
	return nil
}

// plainWhenServing answers 503 in plain text until the node serves
// queries.
func (n *Node) plainWhenServing(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.serving.Load() == nil {
			w.Header().Set("Retry-After", "1")
			http.Error(w, fmt.Sprintf("%v: %s", ErrNotReady, n.notReadyReason()), http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// nodeJaeger is the node as the Jaeger API reads it (jaeger.Querier).
type nodeJaeger struct{ n *Node }

func (j nodeJaeger) Services(ctx context.Context) ([]string, error) {
	return j.n.querier().Services(ctx)
}

// Operations lists a service's span names with their span kinds (kind
// "": every kind). A name only in windows written before the catalog kept
// kinds answers with kind "" when no kind is asked for.
func (j nodeJaeger) Operations(ctx context.Context, service, kind string) ([]jaeger.Operation, error) {
	names, err := j.n.querier().Operations(ctx, service)
	if err != nil {
		return nil, err
	}
	kinds, err := j.n.querier().OperationKinds(ctx, service)
	if err != nil {
		return nil, err
	}
	var out []jaeger.Operation
	known := map[string]bool{}
	for _, ok := range kinds {
		known[ok.Name] = true
		k := ok.Kind
		if k == "unspecified" {
			k = "" // Jaeger's spelling of an unspecified kind
		}
		if kind == "" || k == kind {
			out = append(out, jaeger.Operation{Name: ok.Name, SpanKind: k})
		}
	}
	if kind == "" {
		for _, name := range names {
			if !known[name] {
				out = append(out, jaeger.Operation{Name: name})
			}
		}
	}
	return out, nil
}

func (j nodeJaeger) FindTraces(ctx context.Context, q jaeger.TraceQuery) ([]ptrace.Traces, error) {
	s, err := jaegerSearch(q)
	if err != nil {
		return nil, err
	}
	found, err := j.n.querier().FindTraces(ctx, s, q.Start.UnixNano(), q.End.UnixNano(), q.Limit)
	return found, overCap(err, func(err error) error { return fmt.Errorf("%w: %w", jaeger.ErrInvalidQuery, err) })
}

// jaegerSearch turns a Jaeger search into the trace search the partitions
// run. The tags the Jaeger model derives from a span's status become the
// status condition; span.kind and the scope tags are not indexed and are
// refused rather than ignored.
func jaegerSearch(q jaeger.TraceQuery) (*starlingpb.TraceSearch, error) {
	s := &starlingpb.TraceSearch{
		Service:         q.Service,
		Name:            q.Operation,
		MinDurationNano: int64(q.MinDuration),
		MaxDurationNano: int64(q.MaxDuration),
	}
	keys := make([]string, 0, len(q.Tags))
	for k := range q.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	status := func(code uint32) error {
		if s.Status != 0 && s.Status != code {
			return fmt.Errorf("%w: tags ask for two statuses", jaeger.ErrInvalidQuery)
		}
		s.Status = code
		return nil
	}
	for _, k := range keys {
		v := q.Tags[k]
		var err error
		switch k {
		case "error":
			if v != "true" {
				return nil, fmt.Errorf("%w: tag error=%q: only error=true is searchable", jaeger.ErrInvalidQuery, v)
			}
			err = status(3)
		case "otel.status_code":
			switch strings.ToUpper(v) {
			case "ERROR":
				err = status(3)
			case "OK":
				err = status(2)
			default:
				return nil, fmt.Errorf("%w: tag otel.status_code=%q: want OK or ERROR", jaeger.ErrInvalidQuery, v)
			}
		case "span.kind", "otel.status_description", "otel.scope.name", "otel.scope.version", "w3c.tracestate":
			return nil, fmt.Errorf("%w: tag %s is not searchable", jaeger.ErrInvalidQuery, k)
		default:
			s.Attributes = append(s.Attributes, &starlingpb.Attribute{Key: k, Value: v})
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (j nodeJaeger) Trace(ctx context.Context, id pcommon.TraceID, _, _ time.Time) (ptrace.Traces, bool, error) {
	return j.n.querier().TraceByID(ctx, [16]byte(id))
}

// Dependencies computes the call graph of the newest dependencyTraces
// traces started in [start, end].
func (j nodeJaeger) Dependencies(ctx context.Context, start, end time.Time) ([]jaeger.DependencyLink, error) {
	traces, err := j.n.querier().FindTraces(ctx, &starlingpb.TraceSearch{}, start.UnixNano(), end.UnixNano(), dependencyTraces)
	if err != nil {
		return nil, err
	}
	return jaeger.Dependencies(traces), nil
}
