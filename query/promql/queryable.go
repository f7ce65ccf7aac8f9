package promql

import (
	"context"
	"fmt"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
)

// Reader runs partition reads for the queryable: the node's querier. It is
// called from the engine's goroutines; calls overlap and may block until
// every partition answered or ctx ends.
type Reader interface {
	// SelectSeries returns the series matching sel, sorted by labels, at
	// most limit (0: all), with their chunks unless sel.LabelsOnly.
	SelectSeries(ctx context.Context, sel *starlingpb.SeriesSelect, limit int) ([]storage.SelectedSeries, error)
	// LabelValues returns sorted label names (q.Name empty) or values.
	LabelValues(ctx context.Context, q *starlingpb.LabelQuery) ([]string, error)
	// Exemplars returns the exemplars of the series matching q.
	Exemplars(ctx context.Context, q *starlingpb.ExemplarQuery) ([]storage.SeriesExemplars, error)
}

// Queryable is a Prometheus storage.Queryable and ExemplarQueryable over a
// Reader. Safe for concurrent use.
type Queryable struct {
	r Reader
}

// NewQueryable returns a queryable reading through r.
func NewQueryable(r Reader) *Queryable { return &Queryable{r: r} }

var (
	_ promstorage.Queryable         = (*Queryable)(nil)
	_ promstorage.ExemplarQueryable = (*Queryable)(nil)
)

// Querier returns a querier of [mint, maxt] (milliseconds).
func (q *Queryable) Querier(mint, maxt int64) (promstorage.Querier, error) {
	return &querier{r: q.r, mint: mint, maxt: maxt}, nil
}

type querier struct {
	r          Reader
	mint, maxt int64
}

// toMatchers turns Prometheus matchers into partition matchers.
func toMatchers(ms []*labels.Matcher) ([]*starlingpb.LabelMatcher, error) {
	out := make([]*starlingpb.LabelMatcher, 0, len(ms))
	for _, m := range ms {
		var t starlingpb.LabelMatcher_Type
		switch m.Type {
		case labels.MatchEqual:
			t = starlingpb.LabelMatcher_TYPE_EQUAL
		case labels.MatchNotEqual:
			t = starlingpb.LabelMatcher_TYPE_NOT_EQUAL
		case labels.MatchRegexp:
			t = starlingpb.LabelMatcher_TYPE_REGEX
		case labels.MatchNotRegexp:
			t = starlingpb.LabelMatcher_TYPE_NOT_REGEX
		default:
			return nil, fmt.Errorf("matcher type %v", m.Type)
		}
		out = append(out, &starlingpb.LabelMatcher{Type: t, Name: m.Name, Value: m.Value})
	}
	return out, nil
}

// Select reads the series matching ms in the hinted time range (the
// querier's otherwise). The engine's "series" hint reads labels only.
func (q *querier) Select(ctx context.Context, _ bool, hints *promstorage.SelectHints, ms ...*labels.Matcher) promstorage.SeriesSet {
	pm, err := toMatchers(ms)
	if err != nil {
		return promstorage.ErrSeriesSet(err)
	}
	sel := &starlingpb.SeriesSelect{Matchers: pm, StartMs: q.mint, EndMs: q.maxt}
	limit := 0
	if hints != nil {
		sel.StartMs, sel.EndMs = hints.Start, hints.End
		sel.LabelsOnly = hints.Func == "series"
		limit = hints.Limit
	}
	found, err := q.r.SelectSeries(ctx, sel, limit)
	if err != nil {
		return promstorage.ErrSeriesSet(err)
	}
	return &seriesSet{found: found, i: -1}
}

// LabelValues returns the values of label name among the series matching
// ms (all series with none).
func (q *querier) LabelValues(ctx context.Context, name string, hints *promstorage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return q.labels(ctx, name, hints, ms)
}

// LabelNames returns the label names of the series matching ms.
func (q *querier) LabelNames(ctx context.Context, hints *promstorage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return q.labels(ctx, "", hints, ms)
}

func (q *querier) labels(ctx context.Context, name string, hints *promstorage.LabelHints, ms []*labels.Matcher) ([]string, annotations.Annotations, error) {
	pm, err := toMatchers(ms)
	if err != nil {
		return nil, nil, err
	}
	out, err := q.r.LabelValues(ctx, &starlingpb.LabelQuery{Name: name, Matchers: pm, StartMs: q.mint, EndMs: q.maxt})
	if err != nil {
		return nil, nil, err
	}
	if hints != nil && hints.Limit > 0 && len(out) > hints.Limit {
		out = out[:hints.Limit]
	}
	return out, nil, nil
}

func (q *querier) Close() error { return nil }

// ExemplarQuerier returns a querier of exemplars.
func (q *Queryable) ExemplarQuerier(ctx context.Context) (promstorage.ExemplarQuerier, error) {
	return &exemplarQuerier{ctx: ctx, r: q.r}, nil
}

type exemplarQuerier struct {
	ctx context.Context
	r   Reader
}

// Select returns the exemplars in [start, end] of the series matching any
// of the matcher sets (one per selector of the query).
func (e *exemplarQuerier) Select(start, end int64, sets ...[]*labels.Matcher) ([]exemplar.QueryResult, error) {
	var out []exemplar.QueryResult
	seen := map[uint64]bool{}
	for _, ms := range sets {
		pm, err := toMatchers(ms)
		if err != nil {
			return nil, err
		}
		res, err := e.r.Exemplars(e.ctx, &starlingpb.ExemplarQuery{Matchers: pm, StartMs: start, EndMs: end})
		if err != nil {
			return nil, err
		}
		for _, s := range res {
			h := tsdb.SeriesHash(s.Labels)
			if seen[h] {
				continue
			}
			seen[h] = true
			qr := exemplar.QueryResult{SeriesLabels: toLabels(s.Labels)}
			for _, x := range s.Exemplars {
				qr.Exemplars = append(qr.Exemplars, exemplar.Exemplar{Labels: toLabels(x.Labels), Value: x.V, Ts: x.T, HasTs: true})
			}
			out = append(out, qr)
		}
	}
	return out, nil
}

func toLabels(ls []tsdb.Label) labels.Labels {
	b := labels.NewScratchBuilder(len(ls))
	for _, l := range ls {
		b.Add(l.Name, l.Value)
	}
	return b.Labels()
}

// seriesSet iterates selected series.
type seriesSet struct {
	found []storage.SelectedSeries
	i     int
	cur   series
}

func (s *seriesSet) Next() bool {
	s.i++
	if s.i >= len(s.found) {
		return false
	}
	f := &s.found[s.i]
	s.cur = series{lset: toLabels(f.Labels), chunks: f.Chunks}
	return true
}

func (s *seriesSet) At() promstorage.Series {
	c := s.cur
	return &c
}

func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }
