package actors

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
)

// Metrics reads: every query asks every metrics partition (a series lives
// in the partition of its labels' hash, so any selector may match series
// in any of them) and merges the answers. A partition that does not answer
// fails the query: an answer is complete or an error.

func (q *Querier) metricsAll(req func() *starlingpb.ReadRequest) []readTarget {
	return q.all(starlingpb.Signal_SIGNAL_METRICS, req)
}

// SelectSeries returns the series matching sel with their chunks, sorted
// by labels; with limit > 0 at most limit series.
func (q *Querier) SelectSeries(ctx context.Context, sel *starlingpb.SeriesSelect, limit int) ([]storage.SelectedSeries, error) {
	targets := q.metricsAll(func() *starlingpb.ReadRequest {
		return &starlingpb.ReadRequest{Limit: uint32(max(limit, 0)), Query: &starlingpb.ReadRequest_SeriesSelect{SeriesSelect: sel}}
	})
	res, err := q.run(ctx, starlingpb.Signal_SIGNAL_METRICS, q.pruneLocal(starlingpb.Signal_SIGNAL_METRICS, targets, func(ps []uint32) []bool {
		return q.local.MayHoldSeries(sel, ps)
	}))
	if err != nil {
		return nil, err
	}
	var out []storage.SelectedSeries
	for _, r := range res {
		if r == nil {
			continue
		}
		ss, err := storage.DecodeSelect(r.Records)
		if err != nil {
			return nil, fmt.Errorf("decode series: %w", err)
		}
		out = append(out, ss...)
	}
	slices.SortFunc(out, func(a, b storage.SelectedSeries) int { return tsdb.CompareLabels(a.Labels, b.Labels) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// pruneLocal drops the targets of sig whose reads go to a copy on this
// node that may says cannot answer (LocalSeries, LocalTraces). The table
// may move before the reads are sent: a partition that moved away was
// pruned on what this node's copy held, which a read of the new copy would
// see too (it was in sync); one that moved here is asked as usual.
func (q *Querier) pruneLocal(sig starlingpb.Signal, targets []readTarget, may func(ps []uint32) []bool) []readTarget {
	if q.local == nil {
		return targets
	}
	self := q.system.Address()
	var local []uint32 // partitions read here, in target order
	isLocal := make([]bool, len(targets))
	for i, t := range targets {
		if pid, _, err := q.router.Reader(sig, t.partition); err == nil && pid.GetAddress() == self {
			isLocal[i], local = true, append(local, t.partition)
		}
	}
	if len(local) == 0 {
		return targets
	}
	holds := may(local)
	kept, j := targets[:0], 0
	for i, t := range targets {
		if isLocal[i] {
			j++
			if !holds[j-1] {
				continue
			}
		}
		kept = append(kept, t)
	}
	return kept
}

// LabelValues returns the sorted distinct label names (lq.Name empty) or
// values of label lq.Name over every partition.
func (q *Querier) LabelValues(ctx context.Context, lq *starlingpb.LabelQuery) ([]string, error) {
	res, err := q.run(ctx, starlingpb.Signal_SIGNAL_METRICS, q.metricsAll(func() *starlingpb.ReadRequest {
		return &starlingpb.ReadRequest{Query: &starlingpb.ReadRequest_LabelQuery{LabelQuery: lq}}
	}))
	if err != nil {
		return nil, err
	}
	return query.UnionNames(res), nil
}

// Metadata returns metric family metadata (metric empty: every family),
// sorted by family.
func (q *Querier) Metadata(ctx context.Context, metric string) ([]tsdb.Metadata, error) {
	mq := &starlingpb.MetadataQuery{Metric: metric}
	var targets []readTarget
	if metric != "" {
		p := storage.PartitionOf(storage.FamilyHash(metric), q.router.Partitions(starlingpb.Signal_SIGNAL_METRICS))
		targets = []readTarget{{partition: p, req: &starlingpb.ReadRequest{Query: &starlingpb.ReadRequest_MetadataQuery{MetadataQuery: mq}}}}
	} else {
		targets = q.metricsAll(func() *starlingpb.ReadRequest {
			return &starlingpb.ReadRequest{Query: &starlingpb.ReadRequest_MetadataQuery{MetadataQuery: mq}}
		})
	}
	res, err := q.run(ctx, starlingpb.Signal_SIGNAL_METRICS, targets)
	if err != nil {
		return nil, err
	}
	var out []tsdb.Metadata
	for _, r := range res {
		if r == nil {
			continue
		}
		ms, err := storage.DecodeMetadata(r.Records)
		if err != nil {
			return nil, fmt.Errorf("decode metadata: %w", err)
		}
		out = append(out, ms...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Family < out[j].Family })
	return out, nil
}

// Exemplars returns the exemplars of the series matching eq, by series.
func (q *Querier) Exemplars(ctx context.Context, eq *starlingpb.ExemplarQuery) ([]storage.SeriesExemplars, error) {
	res, err := q.run(ctx, starlingpb.Signal_SIGNAL_METRICS, q.metricsAll(func() *starlingpb.ReadRequest {
		return &starlingpb.ReadRequest{Query: &starlingpb.ReadRequest_ExemplarQuery{ExemplarQuery: eq}}
	}))
	if err != nil {
		return nil, err
	}
	var out []storage.SeriesExemplars
	for _, r := range res {
		if r == nil {
			continue
		}
		es, err := storage.DecodeExemplars(r.Records)
		if err != nil {
			return nil, fmt.Errorf("decode exemplars: %w", err)
		}
		out = append(out, es...)
	}
	sort.Slice(out, func(i, j int) bool { return tsdb.CompareLabels(out[i].Labels, out[j].Labels) < 0 })
	return out, nil
}

// Cardinality sums every partition's active series: the total, per metric
// name (descending), and the top label pairs.
func (q *Querier) Cardinality(ctx context.Context, top int) (*starlingpb.Cardinality, error) {
	res, err := q.run(ctx, starlingpb.Signal_SIGNAL_METRICS, q.metricsAll(func() *starlingpb.ReadRequest {
		return &starlingpb.ReadRequest{Query: &starlingpb.ReadRequest_CardinalityQuery{CardinalityQuery: &starlingpb.CardinalityQuery{Top: uint32(top)}}}
	}))
	if err != nil {
		return nil, err
	}
	total := &starlingpb.Cardinality{}
	metrics, pairs := map[string]uint64{}, map[string]uint64{}
	for _, r := range res {
		c := r.GetCardinality()
		total.ActiveSeries += c.GetActiveSeries()
		for _, m := range c.GetMetrics() {
			metrics[m.Name] += m.Series
		}
		for _, l := range c.GetLabelPairs() {
			pairs[l.Name] += l.Series
		}
	}
	total.Metrics = sortedCounts(metrics, 0)
	total.LabelPairs = sortedCounts(pairs, top)
	return total, nil
}

// sortedCounts orders counts by series (descending) then name, keeping the
// first n (0: all).
func sortedCounts(m map[string]uint64, n int) []*starlingpb.NameCount {
	out := make([]*starlingpb.NameCount, 0, len(m))
	for k, v := range m {
		out = append(out, &starlingpb.NameCount{Name: k, Series: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Series != out[j].Series {
			return out[i].Series > out[j].Series
		}
		return strings.Compare(out[i].Name, out[j].Name) < 0
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
