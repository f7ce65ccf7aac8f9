package promql

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

// Config configures a Queryable.
type Config struct {
	// LookbackDelta is the engine's default lookback delta: it tells the
	// first evaluation time of an instant selector from its hints, which
	// decides whether a rollup can answer it.
	LookbackDelta time.Duration
}

// DefaultConfig is Prometheus' default lookback delta.
func DefaultConfig() Config { return Config{LookbackDelta: 5 * time.Minute} }

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.LookbackDelta <= 0 {
		return fmt.Errorf("promql: lookback delta %s must be positive", c.LookbackDelta)
	}
	return nil
}

// Queryable is a Prometheus storage.Queryable and ExemplarQueryable over a
// Reader. Safe for concurrent use.
type Queryable struct {
	r       Reader
	cfg     Config
	selects *prometheus.CounterVec
}

// NewQueryable returns a queryable reading through r; reg (nil: none)
// gets its metrics.
func NewQueryable(r Reader, cfg Config, reg prometheus.Registerer) (*Queryable, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	q := &Queryable{r: r, cfg: cfg, selects: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "starling_promql_selects_total",
		Help: "PromQL selectors read, by the resolution that answered them (raw, 5m, 1h).",
	}, []string{"resolution"})}
	if reg != nil {
		if err := reg.Register(q.selects); err != nil {
			return nil, fmt.Errorf("promql: register metrics: %w", err)
		}
	}
	return q, nil
}

var (
	_ promstorage.Queryable         = (*Queryable)(nil)
	_ promstorage.ExemplarQueryable = (*Queryable)(nil)
)

// Querier returns a querier of [mint, maxt] (milliseconds).
func (q *Queryable) Querier(mint, maxt int64) (promstorage.Querier, error) {
	return &querier{q: q, mint: mint, maxt: maxt}, nil
}

type querier struct {
	q          *Queryable
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

// Select reads the series matching ms (see read).
func (q *querier) Select(ctx context.Context, _ bool, hints *promstorage.SelectHints, ms ...*labels.Matcher) promstorage.SeriesSet {
	set, err := q.read(ctx, hints, ms)
	if err != nil {
		return promstorage.ErrSeriesSet(err)
	}
	return set
}

// read runs a select: the series matching ms in the hinted time range
// (the querier's otherwise), from the coarsest rollup that answers the
// hinted function exactly (see rollup.go). The engine's "series" hint
// reads labels only.
func (q *querier) read(ctx context.Context, hints *promstorage.SelectHints, ms []*labels.Matcher) (*seriesSet, error) {
	pm, err := toMatchers(ms)
	if err != nil {
		return nil, err
	}
	sel := &starlingpb.SeriesSelect{Matchers: pm, StartMs: q.mint, EndMs: q.maxt}
	limit := 0
	set := &seriesSet{i: -1}
	if hints != nil {
		sel.StartMs, sel.EndMs = hints.Start, hints.End
		sel.LabelsOnly = hints.Func == "series"
		limit = hints.Limit
		var name string
		sel.Resolution, name = chooseResolution(hints, lookback(ctx, q.q.cfg.LookbackDelta), maxResolution(ctx))
		q.q.selects.WithLabelValues(name).Inc()
		if sel.Resolution != starlingpb.Resolution_RESOLUTION_RAW {
			set.synth, set.warnings = synthOf(hints), resolutionInfo(name)
		}
	}
	found, err := q.q.r.SelectSeries(ctx, sel, limit)
	if err != nil {
		return nil, err
	}
	set.found = found
	return set, nil
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
	out, err := q.q.r.LabelValues(ctx, &starlingpb.LabelQuery{Name: name, Matchers: pm, StartMs: q.mint, EndMs: q.maxt})
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
	found    []storage.SelectedSeries
	i        int
	cur      series
	synth    synth // how rolled up series become samples
	warnings annotations.Annotations
}

func (s *seriesSet) Next() bool {
	s.i++
	if s.i >= len(s.found) {
		return false
	}
	f := &s.found[s.i]
	s.cur = series{lset: toLabels(f.Labels), chunks: f.Chunks}
	if f.Res > 0 {
		s.cur.rolled, s.cur.samples = true, synthesize(f.Buckets, s.synth)
	}
	return true
}

func (s *seriesSet) At() promstorage.Series {
	c := s.cur
	return &c
}

func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return s.warnings }
