package node

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/storage"
)

// The HTTP API on --http-port: JSON query endpoints under /api/v1,
// Prometheus metrics, health and readiness. Bad parameters answer 400 with
// {"error": "<param>: <reason>"}.

func (n *Node) apiHandler() (http.Handler, error) {
	mux := http.NewServeMux()
	if err := n.registerTempo(mux); err != nil {
		return nil, err
	}
	if err := n.registerJaeger(mux); err != nil {
		return nil, err
	}
	if err := n.registerPrometheus(mux); err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /api/v1/traces/{traceID}", n.whenServing(n.getTrace))
	mux.HandleFunc("GET /api/v1/traces", n.whenServing(n.searchTraces))
	mux.HandleFunc("GET /api/v1/autocomplete", n.whenServing(n.autocomplete))
	mux.HandleFunc("GET /api/v1/services", n.whenServing(n.listServices))
	mux.HandleFunc("GET /api/v1/services/{service}/operations", n.whenServing(n.listOperations))
	mux.HandleFunc("GET /api/v1/logs", n.whenServing(n.searchLogs))
	mux.HandleFunc("GET /api/v1/metrics/names", n.whenServing(n.listMetricNames))
	mux.HandleFunc("GET /api/v1/metrics/series", n.whenServing(n.searchSeries))
	mux.HandleFunc("GET /api/v1/metrics/cardinality", n.whenServing(n.getCardinality))
	mux.HandleFunc("GET /api/v1/cluster/members", n.clusterMembers)
	mux.HandleFunc("GET /api/v1/cluster/raft", n.clusterRaft)
	mux.HandleFunc("GET /api/v1/cluster/partitions", n.clusterPartitions)
	mux.HandleFunc("GET /api/v1/cluster/migrations", n.clusterMigrations)
	mux.HandleFunc("GET /api/v1/cluster/leave", n.clusterLeave)
	mux.HandleFunc("POST /api/v1/cluster/leave", n.clusterLeave)
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{Registry: n.reg}))
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !n.Ready() {
			http.Error(w, "not ready: "+n.notReadyReason(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return noCache(mux), nil
}

// noCache serves a request that says Cache-Control: no-cache (or
// no-store) without the query cache's answers: it is computed again (and
// kept, for the next request that allows the cache).
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cc := strings.ToLower(r.Header.Get("Cache-Control")); strings.Contains(cc, "no-cache") || strings.Contains(cc, "no-store") {
			r = r.WithContext(actors.WithoutCache(r.Context()))
		}
		h.ServeHTTP(w, r)
	})
}

// whenServing answers 503 until the node serves queries.
func (n *Node) whenServing(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if n.serving.Load() == nil {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, fmt.Errorf("%w: %s", ErrNotReady, n.notReadyReason()))
			return
		}
		h(w, r)
	}
}

// querier is the query entry point; only handlers behind whenServing call it.
func (n *Node) querier() *actors.Querier { return n.serving.Load().querier }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response: `+jsonEscape(err.Error())+`"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// writeQueryError answers a failed query: 400 for bad parameters and for
// a query past its memory cap, 503 for timeouts and unreachable partitions
// (retry), 500 otherwise.
func writeQueryError(w http.ResponseWriter, err error) {
	var pe *query.ParamError
	switch {
	case errors.As(err, &pe), errors.Is(err, actors.ErrQueryMemory):
		writeError(w, http.StatusBadRequest, err)
	case errors.Is(err, actors.ErrQueryTimeout), errors.Is(err, actors.ErrNoRoute), errors.Is(err, context.DeadlineExceeded):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, err)
	default:
		writeError(w, http.StatusInternalServerError, err)
	}
}

func (n *Node) getTrace(w http.ResponseWriter, r *http.Request) {
	id, err := query.ParseTraceID(r.PathValue("traceID"))
	if err == nil {
		err = query.ParseNone(r.URL.Query())
	}
	if err != nil {
		writeQueryError(w, err)
		return
	}
	td, found, err := n.querier().TraceByID(r.Context(), id)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, errors.New("trace "+hex.EncodeToString(id[:])+" not found"))
		return
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (n *Node) listServices(w http.ResponseWriter, r *http.Request) {
	if err := query.ParseNone(r.URL.Query()); err != nil {
		writeQueryError(w, err)
		return
	}
	names, err := n.querier().Services(r.Context())
	if err != nil {
		writeQueryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": nonNil(names)})
}

func (n *Node) listOperations(w http.ResponseWriter, r *http.Request) {
	if err := query.ParseNone(r.URL.Query()); err != nil {
		writeQueryError(w, err)
		return
	}
	names, err := n.querier().Operations(r.Context(), r.PathValue("service"))
	if err != nil {
		writeQueryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"operations": nonNil(names)})
}

func (n *Node) searchLogs(w http.ResponseWriter, r *http.Request) {
	q, err := query.ParseLogSearch(r.URL.Query(), time.Now(), storage.Words)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	entries, err := n.querier().SearchLogs(r.Context(), q.Search, q.Range.Start, q.Range.End, q.Limit)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	out := make([]logJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, renderLog(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"logs": out})
}

func (n *Node) listMetricNames(w http.ResponseWriter, r *http.Request) {
	prefix, err := query.ParsePrefix(r.URL.Query())
	if err != nil {
		writeQueryError(w, err)
		return
	}
	names, err := n.querier().MetricNames(r.Context(), prefix)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"names": nonNil(names)})
}

func (n *Node) searchSeries(w http.ResponseWriter, r *http.Request) {
	q, err := query.ParseSeriesSearch(r.URL.Query(), time.Now())
	if err != nil {
		writeQueryError(w, err)
		return
	}
	sel := &starlingpb.SeriesSelect{Matchers: q.Matchers, StartMs: q.Range.Start / 1e6, EndMs: q.Range.End / 1e6}
	series, err := n.querier().SelectSeries(r.Context(), sel, q.Limit)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	out := make([]seriesJSON, 0, len(series))
	for _, s := range series {
		j, err := renderSeries(s)
		if err != nil {
			writeQueryError(w, fmt.Errorf("decode series: %w", err))
			return
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"series": out})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// overCap hands a query past its memory cap to bad, the front door's
// client error (400: the query must be narrowed), and any other error
// back as it is.
func overCap(err error, bad func(error) error) error {
	if errors.Is(err, actors.ErrQueryMemory) {
		return bad(err)
	}
	return err
}
