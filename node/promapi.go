package node

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/metadata"
	ppromql "github.com/prometheus/prometheus/promql"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/api/prometheus"
	"github.com/starling-otel/starling/api/prometheus/remotewrite"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/query/promql"
	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
)

// The Prometheus HTTP API under /prometheus (and remote write at
// /api/v1/write) on the API port: the Prometheus engine over the
// cluster's metrics partitions.

// registerPrometheus adds the Prometheus API to mux.
func (n *Node) registerPrometheus(mux *http.ServeMux) error {
	cfg := prometheus.DefaultConfig()
	cfg.QueryTimeout = n.cfg.QueryTimeout
	engine := ppromql.NewEngine(cfg.EngineOpts())
	qcfg := promql.DefaultConfig()
	qcfg.LookbackDelta = cfg.LookbackDelta
	q, err := promql.NewQueryable(nodeReader{n}, qcfg, n.reg)
	if err != nil {
		return err
	}
	api, err := prometheus.New(cfg, prometheus.Deps{
		Engine:    engine,
		Queryable: q,
		Parts:     q,
		Exemplars: q,
		Metadata:  nodeMetadata{n},
		RuntimeInfo: func() (prometheus.RuntimeInfo, error) {
			ri := prometheus.ProcessRuntimeInfo(n.started)
			ri.StorageRetention = model.Duration(n.cfg.RetentionMetrics).String()
			return ri, nil
		},
		Logger: n.log.With("component", "prometheus-api"),
	})
	if err != nil {
		return fmt.Errorf("prometheus api: %w", err)
	}
	sub := http.NewServeMux()
	api.Register(sub, "/prometheus")
	rw, err := prometheus.NewWriteHandler(nodeWriter{n}, remotewrite.DefaultConfig(), n.cfg.MaxRequestBytes, n.log.With("component", "remote-write"))
	if err != nil {
		return fmt.Errorf("remote write: %w", err)
	}
	sub.Handle("/prometheus/api/v1/write", rw)
	mux.Handle("/prometheus/", n.promWhenServing(sub))
	mux.Handle("/api/v1/write", n.promWhenServing(rw))
	return nil
}

// promWhenServing answers 503 in Prometheus' envelope until the node
// serves queries and writes.
func (n *Node) promWhenServing(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.serving.Load() == nil {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{
				"status": "error", "errorType": "unavailable", "error": fmt.Sprintf("%v: %s", ErrNotReady, n.notReadyReason()),
			})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// nodeWriter stores remote writes through the frontends.
type nodeWriter struct{ n *Node }

func (nw nodeWriter) Write(ctx context.Context, req *tsdb.WriteRequest) (prometheus.WriteResult, error) {
	out := nw.n.ingest(ctx, &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_METRICS, Prom: req})
	switch {
	case out.err != nil && out.retryable:
		return prometheus.WriteResult{}, fmt.Errorf("%w: %v", prometheus.ErrRetryable, out.err)
	case out.err != nil:
		return prometheus.WriteResult{}, out.err
	}
	return prometheus.WriteResult{Rejected: out.rejected, Message: out.message}, nil
}

// nodeReader is the queryable's reader: the node's querier once the node
// serves queries.
type nodeReader struct{ n *Node }

func (r nodeReader) querier() (*actors.Querier, error) {
	sv := r.n.serving.Load()
	if sv == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotReady, r.n.notReadyReason())
	}
	return sv.querier, nil
}

func (r nodeReader) SelectSeries(ctx context.Context, sel *starlingpb.SeriesSelect, limit int) ([]storage.SelectedSeries, error) {
	q, err := r.querier()
	if err != nil {
		return nil, err
	}
	return q.SelectSeries(ctx, sel, limit)
}

func (r nodeReader) LabelValues(ctx context.Context, lq *starlingpb.LabelQuery) ([]string, error) {
	q, err := r.querier()
	if err != nil {
		return nil, err
	}
	return q.LabelValues(ctx, lq)
}

func (r nodeReader) Exemplars(ctx context.Context, eq *starlingpb.ExemplarQuery) ([]storage.SeriesExemplars, error) {
	q, err := r.querier()
	if err != nil {
		return nil, err
	}
	return q.Exemplars(ctx, eq)
}

// nodeMetadata answers /api/v1/metadata from the families' metadata.
type nodeMetadata struct{ n *Node }

func (m nodeMetadata) MetricMetadata(ctx context.Context, mq prometheus.MetadataQuery) (map[string][]metadata.Metadata, error) {
	sv := m.n.serving.Load()
	if sv == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotReady, m.n.notReadyReason())
	}
	ms, err := sv.querier.Metadata(ctx, mq.Metric)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]metadata.Metadata, len(ms))
	for _, x := range ms {
		out[x.Family] = append(out[x.Family], metadata.Metadata{Type: model.MetricType(x.Type), Help: x.Help, Unit: x.Unit})
	}
	return out, nil
}

// getCardinality answers GET /api/v1/metrics/cardinality?top=N: the
// cluster's active series, per metric name and the top label pairs.
func (n *Node) getCardinality(w http.ResponseWriter, r *http.Request) {
	top := 10
	for k, vs := range r.URL.Query() {
		if k != "top" || len(vs) != 1 {
			writeQueryError(w, &query.ParamError{Param: k, Reason: "unknown parameter, or given twice"})
			return
		}
		v, err := strconv.Atoi(vs[0])
		if err != nil || v < 0 || v > 10000 {
			writeQueryError(w, &query.ParamError{Param: "top", Reason: "must be a number in 0..10000"})
			return
		}
		top = v
	}
	ctx, cancel := context.WithTimeout(r.Context(), n.cfg.QueryTimeout)
	defer cancel()
	c, err := n.querier().Cardinality(ctx, top)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	type count struct {
		Name   string `json:"name"`
		Series uint64 `json:"series"`
	}
	conv := func(in []*starlingpb.NameCount) []count {
		out := make([]count, 0, len(in))
		for _, c := range in {
			out = append(out, count{c.Name, c.Series})
		}
		return out
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"activeSeries": c.GetActiveSeries(),
		"metrics":      conv(c.GetMetrics()),
		"labelPairs":   conv(c.GetLabelPairs()),
		"time":         time.Now().UTC().Format(time.RFC3339),
	})
}

// runSeriesCounts refreshes the series limiter's counts from every
// metrics partition's head until the node stops.
func (n *Node) runSeriesCounts() {
	every := n.cfg.SeriesLimits.RefreshInterval
	refresh := func() {
		sv := n.serving.Load()
		if sv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(every, time.Second))
		defer cancel()
		c, err := sv.querier.Cardinality(ctx, 0)
		if err != nil {
			n.log.Warn("series limits: counting active series failed; keeping the last counts", "err", err)
			return
		}
		n.limiter.Set(c)
	}
	refresh()
	n.every(every, refresh)
}
