package traceql

import (
	"encoding/hex"
	"math"
)

// Spanset is one set of spans of a trace that passed the whole pipeline.
type Spanset struct {
	Spans []Match
	// Attributes are the spanset's own attributes: the keys of by() named
	// "by(<field>)" and the values of the aggregates of scalar filters
	// named as written ("count()", "avg(duration)").
	Attributes []Attr
	// Matched is the number of spans of the spanset.
	Matched int
}

// Match is one span of a Spanset.
type Match struct {
	Span *Span
	// Attributes are the values, on this span, of the fields the query
	// reads (in its conditions, by(), aggregates and select()), in the
	// order the query first names them, keyed as Tempo keys them: attributes by
	// their name without the scope, intrinsics by their name (status,
	// kind, statusMessage, childCount, span:parentID, event:name, ...).
	// Absent fields are left out, and so are name, duration, span:id and
	// the trace-level intrinsics, which a result carries anyway.
	Attributes []Attr
}

// spanset is a spanset during evaluation: ascending span indices.
type spanset struct {
	spans []int32
	attrs []Attr
}

// ssFn is a compiled spanset expression or pipeline stage: it maps the
// input spansets to the output spansets.
type ssFn func(c *evalCtx, in []spanset) []spanset

// evalCtx is the state of one evaluation over one trace. What only some
// queries need (the tree, the root span) is computed on first use.
type evalCtx struct {
	t       *Trace
	arena   []int32
	scratch []int32
	keybuf  []byte

	infoDone bool
	trace    traceInfo
	ixDone   bool
	ix       traceIndex
	marks    []bool  // scratch of related: two flags per span
	counts   []int32 // scratch of related: one count per span, plus one
}

// traceInfo holds the trace-level intrinsics.
type traceInfo struct {
	root     int32 // the root span, -1 if none
	duration int64 // latest end minus earliest start
	id       string
}

func newCtx(t *Trace) *evalCtx { return &evalCtx{t: t} }

// take returns an empty slice with room for n indices, carved from an
// arena so that a filter costs no allocation of its own.
func (c *evalCtx) take(n int) []int32 {
	if cap(c.arena)-len(c.arena) < n {
		c.arena = make([]int32, 0, max(n, 2*len(c.t.Spans)+32))
	}
	l := len(c.arena)
	c.arena = c.arena[:l+n]
	return c.arena[l : l : l+n]
}

// keep copies indices into the arena.
func (c *evalCtx) keep(idx []int32) []int32 { return append(c.take(len(idx)), idx...) }

// info computes the trace-level intrinsics once. The root is the span
// without a parent ID that starts first (the first of them on a tie).
func (c *evalCtx) info() *traceInfo {
	if c.infoDone {
		return &c.trace
	}
	c.infoDone = true
	c.trace.root = -1
	var lo, hi int64 = math.MaxInt64, math.MinInt64
	for i := range c.t.Spans {
		s := &c.t.Spans[i]
		lo, hi = min(lo, s.Start), max(hi, s.End)
		if s.isRoot() && (c.trace.root < 0 || s.Start < c.t.Spans[c.trace.root].Start) {
			c.trace.root = int32(i)
		}
	}
	if len(c.t.Spans) > 0 {
		c.trace.duration = hi - lo
	}
	c.trace.id = hex.EncodeToString(c.t.ID[:])
	return &c.trace
}

// index builds the trace's tree once.
func (c *evalCtx) index() *traceIndex {
	if !c.ixDone {
		c.ixDone = true
		c.ix = buildIndex(c.t)
	}
	return &c.ix
}

// Eval evaluates the query on one trace and returns the spansets that pass
// the whole pipeline; nil if the trace does not match. For a metrics query
// it evaluates the pipeline before the metrics function.
func (q *Query) Eval(t *Trace) ([]Spanset, error) {
	if t == nil || len(t.Spans) == 0 {
		return nil, nil
	}
	if len(t.Spans) > math.MaxInt32 {
		return nil, ErrTooManySpans
	}
	c := newCtx(t)
	return q.output(c, q.evalSets(c)), nil
}

// evalSets runs the compiled pipeline on all spans of the trace.
func (q *Query) evalSets(c *evalCtx) []spanset {
	all := c.take(len(c.t.Spans))
	for i := range c.t.Spans {
		all = append(all, int32(i))
	}
	return q.run(c, []spanset{{spans: all}})
}

// output turns evaluation spansets into results, with the reported
// fields of each span.
func (q *Query) output(c *evalCtx, sets []spanset) []Spanset {
	if len(sets) == 0 {
		return nil
	}
	total := 0
	for _, ss := range sets {
		total += len(ss.spans)
	}
	matches := make([]Match, total)
	var slab []Attr
	if len(q.report) > 0 {
		slab = make([]Attr, 0, total*len(q.report))
	}
	out := make([]Spanset, len(sets))
	k := 0
	for n, ss := range sets {
		out[n] = Spanset{Spans: matches[k : k+len(ss.spans) : k+len(ss.spans)], Attributes: ss.attrs, Matched: len(ss.spans)}
		for _, i := range ss.spans {
			m := &matches[k]
			k++
			m.Span = &c.t.Spans[i]
			if len(q.report) == 0 {
				continue
			}
			start := len(slab)
			for _, f := range q.report {
				if v := f.val(c, i); v.t != TypeNil {
					slab = append(slab, Attr{Key: f.key, Value: v})
				}
			}
			if len(slab) > start {
				m.Attributes = slab[start:len(slab):len(slab)]
			}
		}
	}
	return out
}

// reportField is a field returned with each matched span.
type reportField struct {
	key string
	val valFn
}

// compile compiles the query's pipeline, its reported fields and its
// metrics function.
func (q *Query) compile() {
	q.run = compilePipeline(q.pipe)
	seen := map[string]bool{}
	add := func(e expr) {
		var key string
		switch e := e.(type) {
		case *attrExpr:
			key = e.name
		case *intrinsicExpr:
			switch e.in {
			case IntrinsicName, IntrinsicDuration, IntrinsicSpanID, IntrinsicRootName,
				IntrinsicRootService, IntrinsicTraceDuration, IntrinsicTraceID:
				return
			}
			if key = e.in.legacyName(); key == "" {
				key = e.in.String()
			}
		default:
			return
		}
		if !seen[key] {
			seen[key] = true
			q.report = append(q.report, reportField{key: key, val: compileVal(e)})
		}
	}
	walkPipeline(q.pipe, func(s stage) {
		switch s := s.(type) {
		case *filterNode:
			walkExpr(s.e, add)
		case *scalarFilter:
			walkExpr(s.l, add)
			walkExpr(s.r, add)
		case *groupStage:
			for _, e := range s.by {
				walkExpr(e, add)
			}
		case *selectStage:
			for _, f := range s.fields {
				add(f)
			}
		}
	})
	if m := q.metrics; m != nil {
		if m.field != nil {
			q.metricsOf = compileVal(m.field)
		}
		for _, b := range m.by {
			q.metricsBy = append(q.metricsBy, compileVal(b))
			q.byNames = append(q.byNames, exprString(b))
		}
	}
}

// walkPipeline calls f on every stage of a pipeline, descending into
// spanset operations and nested pipelines.
func walkPipeline(p *pipelineNode, f func(stage)) {
	for _, s := range p.stages {
		walkStage(s, f)
	}
}

func walkStage(s stage, f func(stage)) {
	f(s)
	switch s := s.(type) {
	case *spansetOpNode:
		walkStage(s.l, f)
		walkStage(s.r, f)
	case *pipelineNode:
		walkPipeline(s, f)
	}
}

// walkExpr calls f on every node of an expression, parents first.
func walkExpr(e expr, f func(expr)) {
	if e == nil {
		return
	}
	f(e)
	switch e := e.(type) {
	case *binaryExpr:
		walkExpr(e.l, f)
		walkExpr(e.r, f)
	case *unaryExpr:
		walkExpr(e.x, f)
	case *aggExpr:
		walkExpr(e.x, f)
	}
}

// compilePipeline compiles a pipeline: each stage runs on the output of
// the one before.
func compilePipeline(p *pipelineNode) ssFn {
	stages := make([]ssFn, len(p.stages))
	for i, s := range p.stages {
		stages[i] = compileStage(s)
	}
	if len(stages) == 1 {
		return stages[0]
	}
	return func(c *evalCtx, in []spanset) []spanset {
		for _, s := range stages {
			if in = s(c, in); len(in) == 0 {
				return nil
			}
		}
		return in
	}
}

// compileStage compiles one stage.
func compileStage(s stage) ssFn {
	switch s := s.(type) {
	case *filterNode:
		return compileFilter(s)
	case *spansetOpNode:
		return compileSpansetOp(s)
	case *pipelineNode:
		return compilePipeline(s)
	case *scalarFilter:
		return compileScalarFilter(s)
	case *groupStage:
		return compileGroup(s)
	case *selectStage:
		return func(_ *evalCtx, in []spanset) []spanset { return in }
	case *coalesceStage:
		return compileCoalesce()
	}
	panic("BUG: compileStage of an unknown stage")
}

// compileFilter compiles { expr }: the spans of each input spanset that
// satisfy the condition, spansets left empty dropped.
func compileFilter(f *filterNode) ssFn {
	if f.e == nil {
		return func(_ *evalCtx, in []spanset) []spanset { return in }
	}
	cond := compileBool(f.e)
	return func(c *evalCtx, in []spanset) []spanset {
		var out []spanset
		for _, ss := range in {
			sel := c.scratch[:0]
			for _, i := range ss.spans {
				if cond(c, i) {
					sel = append(sel, i)
				}
			}
			c.scratch = sel
			if len(sel) == 0 {
				continue
			}
			if out == nil {
				out = make([]spanset, 0, len(in))
			}
			out = append(out, spanset{spans: c.keep(sel), attrs: ss.attrs})
		}
		return out
	}
}
