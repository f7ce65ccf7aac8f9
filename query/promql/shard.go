package promql

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
)

// The Prometheus engine evaluates a query on one goroutine: on a range
// query over many series, rate and the aggregation take most of its time
// while the other cores wait. A query whose outermost operation
// aggregates by labels (sum by (instance) (rate(x[5m])), and the other
// aggregations below) splits exactly into parts by its groups: every
// series of a group goes to the same part, each part is the same query
// evaluated by the engine over its groups' series only, and the answer is
// the parts' series together, sorted as the engine sorts a matrix. Inside
// a group nothing changes (the same series, in the same order), so every
// figure is the one the engine computes unsplit, to the bit.
//
// It holds only when each series the aggregation sees comes from one
// selected series with the same labels apart from the metric name
// (seriesLocal), and the group key leaves the name out. The parts share
// one read of each selector (Shards).

// ShardPlan says how a query's series are put in parts: by their group
// key (see sharedSelects.assign). Built by PlanShards.
type ShardPlan struct {
	without  bool
	grouping []string // sorted
}

// shardableAggregations are the aggregations computed per group from the
// group's series alone.
var shardableAggregations = map[parser.ItemType]bool{
	parser.SUM: true, parser.AVG: true, parser.COUNT: true, parser.MIN: true, parser.MAX: true,
	parser.GROUP: true, parser.STDDEV: true, parser.STDVAR: true, parser.QUANTILE: true,
	parser.TOPK: true, parser.BOTTOMK: true,
}

// PlanShards reports whether expr splits into parts by groups, and how.
func PlanShards(expr parser.Expr) (ShardPlan, bool) {
	agg, ok := unparen(expr).(*parser.AggregateExpr)
	if !ok || !shardableAggregations[agg.Op] {
		return ShardPlan{}, false
	}
	if !agg.Without && len(agg.Grouping) == 0 {
		return ShardPlan{}, false // one group
	}
	if !agg.Without && slices.Contains(agg.Grouping, labels.MetricName) {
		return ShardPlan{}, false // the name may be dropped below: the key would differ
	}
	if agg.Param != nil && countSelectors(agg.Param) > 0 {
		return ShardPlan{}, false
	}
	if !seriesLocal(agg.Expr) || countSelectors(agg.Expr) != 1 {
		return ShardPlan{}, false // each select assigns its groups to parts alone
	}
	g := slices.Clone(agg.Grouping)
	slices.Sort(g)
	return ShardPlan{without: agg.Without, grouping: g}, true
}

func unparen(e parser.Expr) parser.Expr {
	for {
		switch p := e.(type) {
		case *parser.ParenExpr:
			e = p.Expr
		case *parser.StepInvariantExpr:
			e = p.Expr
		default:
			return e
		}
	}
}

// seriesLocalFunctions are the functions whose every output series comes
// from one input series, with its labels but perhaps the name. Those of
// them that without an argument read vector(time()) need one.
var seriesLocalFunctions = map[string]bool{
	"abs": true, "acos": true, "acosh": true, "asin": true, "asinh": true, "atan": true, "atanh": true,
	"avg_over_time": true, "ceil": true, "changes": true, "clamp": true, "clamp_max": true, "clamp_min": true,
	"cos": true, "cosh": true, "count_over_time": true, "days_in_month": true, "day_of_month": true,
	"day_of_week": true, "day_of_year": true, "deg": true, "delta": true, "deriv": true, "exp": true,
	"first_over_time": true, "floor": true, "histogram_avg": true, "histogram_count": true, "histogram_sum": true,
	"histogram_stddev": true, "histogram_stdvar": true, "histogram_fraction": true,
	"double_exponential_smoothing": true, "hour": true, "idelta": true, "increase": true, "integral": true,
	"irate": true, "last_over_time": true, "ln": true, "log10": true, "log2": true, "mad_over_time": true,
	"max_over_time": true, "min_over_time": true, "minute": true, "month": true, "predict_linear": true,
	"present_over_time": true, "quantile_over_time": true, "rad": true, "rate": true, "resets": true,
	"round": true, "sgn": true, "sin": true, "sinh": true, "sqrt": true, "start_timestamp": true,
	"stddev_over_time": true, "stdvar_over_time": true, "sum_over_time": true, "tan": true, "tanh": true,
	"timestamp": true, "ts_of_first_over_time": true, "ts_of_last_over_time": true,
	"ts_of_max_over_time": true, "ts_of_min_over_time": true, "year": true,
}

// seriesLocal reports whether every series of e's value comes from one
// selected series, with the same labels apart from the name: selectors,
// and series-local functions and operations with constant scalars of
// them. Anything else (vector matching, label_replace, absent, vector(),
// histogram_quantile, nested aggregations, scalar(…)) is not.
func seriesLocal(e parser.Expr) bool {
	switch n := e.(type) {
	case *parser.ParenExpr:
		return seriesLocal(n.Expr)
	case *parser.StepInvariantExpr:
		return seriesLocal(n.Expr)
	case *parser.VectorSelector:
		return true
	case *parser.MatrixSelector:
		return seriesLocal(n.VectorSelector)
	case *parser.SubqueryExpr:
		return seriesLocal(n.Expr)
	case *parser.UnaryExpr:
		return seriesLocal(n.Expr)
	case *parser.BinaryExpr:
		lv, rv := n.LHS.Type() == parser.ValueTypeVector, n.RHS.Type() == parser.ValueTypeVector
		switch {
		case lv && !rv:
			return seriesLocal(n.LHS) && countSelectors(n.RHS) == 0
		case rv && !lv:
			return seriesLocal(n.RHS) && countSelectors(n.LHS) == 0
		}
		return false
	case *parser.Call:
		if !seriesLocalFunctions[n.Func.Name] {
			return false
		}
		local := false
		for _, a := range n.Args {
			switch a.Type() {
			case parser.ValueTypeVector, parser.ValueTypeMatrix:
				if !seriesLocal(a) {
					return false
				}
				local = true
			default: // a scalar or string: the same in every part if it reads no series
				if countSelectors(a) > 0 {
					return false
				}
			}
		}
		return local // without a series argument it reads vector(time())
	}
	return false
}

// countSelectors counts e's vector selectors (a matrix selector holds
// one); an expression without any has the same value in every part.
func countSelectors(e parser.Expr) int {
	n := 0
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		if _, ok := node.(*parser.VectorSelector); ok {
			n++
		}
		return nil
	})
	return n
}

// group hashes the group key of a series with labels ls into buf.
func (p ShardPlan) group(ls []tsdb.Label, buf []byte) (uint64, []byte) {
	buf = buf[:0]
	for _, l := range ls {
		_, listed := slices.BinarySearch(p.grouping, l.Name)
		if l.Name == labels.MetricName || listed == p.without {
			continue
		}
		buf = append(buf, l.Name...)
		buf = append(buf, 0xff)
		buf = append(buf, l.Value...)
		buf = append(buf, 0xff)
	}
	return xxhash.Sum64(buf), buf
}

// Shards returns n queryables for the n parts of one query planned by
// plan: each part sees the series of its groups (see assign). The parts'
// selects with the same hints and matchers are read once, by whichever
// part asks first, with its context. Safe for concurrent use by the
// parts.
func (q *Queryable) Shards(plan ShardPlan, n int) []promstorage.Queryable {
	shared := &sharedSelects{plan: plan, n: n, calls: map[string]*sharedSelect{}}
	out := make([]promstorage.Queryable, n)
	for i := range out {
		out[i] = partQueryable{q: q, shared: shared, part: i}
	}
	return out
}

type partQueryable struct {
	q      *Queryable
	shared *sharedSelects
	part   int
}

func (p partQueryable) Querier(mint, maxt int64) (promstorage.Querier, error) {
	return &partQuerier{querier: querier{q: p.q, mint: mint, maxt: maxt}, shared: p.shared, part: p.part}, nil
}

// partQuerier is a querier of one part: its selects are shared, then
// filtered to the part's groups; label queries are the querier's.
type partQuerier struct {
	querier
	shared *sharedSelects
	part   int
}

func (p *partQuerier) Select(ctx context.Context, _ bool, hints *promstorage.SelectHints, ms ...*labels.Matcher) promstorage.SeriesSet {
	key := fmt.Sprintf("%d %d %+v %v", p.mint, p.maxt, hints, ms) // a pointer to a struct prints its fields
	c := p.shared.get(ctx, key, func(ctx context.Context) (*seriesSet, error) {
		return p.querier.read(ctx, hints, ms)
	})
	if c.err != nil {
		return promstorage.ErrSeriesSet(c.err)
	}
	set := &seriesSet{i: -1, synth: c.set.synth, warnings: c.set.warnings}
	for i, f := range c.set.found {
		if c.parts[i] == p.part {
			set.found = append(set.found, f)
		}
	}
	return set
}

// sharedSelects are the selects of one query's parts.
type sharedSelects struct {
	plan ShardPlan
	n    int

	mu    sync.Mutex
	calls map[string]*sharedSelect
}

// sharedSelect is one select read for every part: done closes once set
// (every series, sorted) and parts (each one's part) or err are set.
type sharedSelect struct {
	done  chan struct{}
	set   *seriesSet
	parts []int
	err   error
}

// get returns the select of key, reading it with read if no part has.
func (s *sharedSelects) get(ctx context.Context, key string, read func(context.Context) (*seriesSet, error)) *sharedSelect {
	s.mu.Lock()
	c, ok := s.calls[key]
	if !ok {
		c = &sharedSelect{done: make(chan struct{})}
		s.calls[key] = c
	}
	s.mu.Unlock()
	if ok {
		select {
		case <-c.done:
		case <-ctx.Done():
			return &sharedSelect{err: ctx.Err()}
		}
		return c
	}
	defer close(c.done)
	c.set, c.err = read(ctx)
	if c.err == nil {
		c.parts = s.assign(c.set.found)
	}
	return c
}

// assign puts each group of found into a part, balancing the parts' chunk
// bytes (the engine's work follows the samples): the largest groups
// first, each into the lightest part so far. Every part computes the
// same assignment from the same select.
func (s *sharedSelects) assign(found []storage.SelectedSeries) []int {
	type group struct {
		hash   uint64
		weight int
		part   int
	}
	var (
		groups []*group
		byHash = map[uint64]*group{}
		of     = make([]*group, len(found))
		buf    []byte
	)
	for i, f := range found {
		var h uint64
		h, buf = s.plan.group(f.Labels, buf)
		g := byHash[h]
		if g == nil {
			g = &group{hash: h}
			byHash[h] = g
			groups = append(groups, g)
		}
		g.weight++
		for _, c := range f.Chunks {
			g.weight += len(c)
		}
		of[i] = g
	}
	slices.SortFunc(groups, func(a, b *group) int {
		if a.weight != b.weight {
			return b.weight - a.weight
		}
		return cmp.Compare(a.hash, b.hash)
	})
	load := make([]int, s.n)
	for _, g := range groups {
		g.part = 0
		for p := range load {
			if load[p] < load[g.part] {
				g.part = p
			}
		}
		load[g.part] += g.weight
	}
	parts := make([]int, len(found))
	for i, g := range of {
		parts[i] = g.part
	}
	return parts
}

var _ promstorage.Querier = (*partQuerier)(nil)

// Parts returns the n part queryables of a query of expr (see Shards),
// or nil when expr does not split by groups.
func (q *Queryable) Parts(expr parser.Expr, n int) []promstorage.Queryable {
	plan, ok := PlanShards(expr)
	if !ok {
		return nil
	}
	return q.Shards(plan, n)
}
