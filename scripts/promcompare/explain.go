package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// change is a documented change of the PromQL engine between Prometheus
// 2.42 (the peer) and 3.x (embedded in Starling) that can make their
// answers differ on the same samples.
type change struct {
	key   string
	short string // for the summary line
	what  string // what changed, and how it shows
	where string // where it is documented
}

var (
	leftOpen = change{"left-open", "left-open range selectors (a sample on a window's lower edge)",
		"range selectors and the lookback delta are left-open in 3.x: a sample exactly on a window's lower edge, which 2.x counts, is left out",
		"Prometheus 3.0.0 CHANGELOG, #13904; Prometheus 3.0 migration guide"}
	subqueryEdge = change{"subquery-edge", "left-open subquery ranges (a subquery step on the lower edge)",
		"subquery ranges are left-open in 3.x: a subquery step on the window's lower edge, which 2.x evaluates, is left out",
		"Prometheus 3.0.0 CHANGELOG, #13904 (range selectors, subqueries included, are left-open)"}
	kahan = change{"kahan", "Kahan summation in sum, avg and avg_over_time (last bits)",
		"3.x adds with Kahan compensation in sum, avg and avg_over_time (2.x: a plain sum in sum, an incremental mean in avg and avg_over_time): on the same inputs the last bits differ, both within float64 rounding of the exact sum",
		"Prometheus 2.53.0 CHANGELOG (sum, #14074 #14362), 3.0.0 (avg, avg_over_time, #14413), 3.5.0 (#16569 #16773)"}
	rateExtrapolation = change{"rate-extrapolation", "rate()/increase() extrapolation of a counter starting in the window",
		"rate() and increase() of a counter that starts inside the window: 2.x extrapolates back to the counter's zero point when that is within 1.1 sample intervals, 3.x never more than half an interval (both recomputed from the window's samples)",
		"Prometheus 2.50.0 CHANGELOG, #13725 (constrain extrapolation in rate() to half of sample interval)"}

	topkTie = change{"topk-tie", "topk/bottomk among series tied at the k-th value",
		"topk and bottomk keep k series per group, and which of several series tied at the k-th value are kept follows the order the storage lists series in, which PromQL leaves undefined (checked: the input both engines agree on has the point's series tied at the k-th place)",
		"prometheus/prometheus#15908 (maintainers: the order is not defined for equal sample values)"}
)

var changes = []change{leftOpen, subqueryEdge, kahan, rateExtrapolation, topkTie}

// explanation says why one evaluation's answers differ: the innermost
// sub-expressions whose answers already differ (culprits), and for each
// of their differing points the documented change that explains it, if
// any.
type explanation struct {
	culprits    []string
	byChange    map[string]int // points explained, by change key
	checked     map[string]int // of those, points whose values were recomputed or reproduced
	unexplained int            // points (or failures) no documented change explains
	note        string         // the first unexplained point, or why none could be analysed
}

func (e explanation) explained() bool {
	return e.unexplained == 0 && e.note == "" && len(e.byChange) > 0
}

func (e explanation) String() string {
	var parts []string
	for _, c := range changes {
		if n := e.byChange[c.key]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s (%d points, %d of them recomputed)", c.key, n, e.checked[c.key]))
		}
	}
	where := ""
	if len(e.culprits) > 0 {
		where = ", traced to " + strings.Join(e.culprits, " and ")
	}
	if e.explained() {
		return "explained" + where + ": " + strings.Join(parts, ", ")
	}
	s := fmt.Sprintf("NOT EXPLAINED%s: %d points", where, e.unexplained)
	if e.note != "" {
		s += ", first: " + e.note
	}
	if len(parts) > 0 {
		s += "; explained: " + strings.Join(parts, ", ")
	}
	return s
}

// explainer traces differences to their sub-expressions and classifies
// them.
type explainer struct {
	c        *clients
	scrapes  scrapeTimes
	interval time.Duration // Prometheus' evaluation_interval (subqueries without a step)
	lookback time.Duration // both engines' default lookback delta
	parser   parser.Parser
	cache    map[string]comparison
}

func newExplainer(c *clients, scrapes scrapeTimes, interval time.Duration) *explainer {
	return &explainer{c: c, scrapes: scrapes, interval: interval, lookback: 5 * time.Minute,
		parser: parser.NewParser(parser.Options{}), cache: map[string]comparison{}}
}

type culprit struct {
	expr parser.Expr
	cmp  comparison
}

// explain classifies the differences of query q evaluated as e. A
// difference of an expression whose children differ is put down to
// theirs: only the culprits' own points are classified.
func (x *explainer) explain(q string, e evaluation, top comparison) explanation {
	ex := explanation{byChange: map[string]int{}, checked: map[string]int{}}
	expr, err := x.parser.ParseExpr(q)
	if err != nil {
		ex.note = "cannot parse: " + err.Error()
		return ex
	}
	cus := x.culprits(expr, e, &top)
	if len(cus) == 0 {
		ex.note = "no sub-expression differs"
	}
	for _, cu := range cus {
		ex.culprits = append(ex.culprits, cu.expr.String())
		if cu.cmp.errs != "" {
			ex.unexplained++
			if ex.note == "" {
				ex.note = cu.cmp.errs
			}
			continue
		}
		for _, d := range cu.cmp.diffs {
			c, checked, why := x.classify(cu.expr, d)
			if why == "" {
				ex.byChange[c.key]++
				if checked {
					ex.checked[c.key]++
				}
				continue
			}
			ex.unexplained++
			if ex.note == "" {
				ex.note = why
			}
		}
	}
	return ex
}

// culprits returns the innermost sub-expressions of n whose answers
// differ when evaluated as e on their own: n itself when it differs and
// none of its children do. known is n's comparison when already made.
// Range vectors (selectors, subqueries) are not evaluated on their own:
// a function of one is a leaf here, examined by classify.
func (x *explainer) culprits(n parser.Expr, e evaluation, known *comparison) []culprit {
	for {
		p, ok := n.(*parser.ParenExpr)
		if !ok {
			break
		}
		n = p.Expr
	}
	if !evaluable(n) {
		return nil
	}
	var c comparison
	if known != nil {
		c = *known
	} else {
		c = x.compare(n.String(), e)
	}
	if c.same() {
		return nil
	}
	var below []culprit
	for _, ch := range parser.Children(n) {
		if ce, ok := ch.(parser.Expr); ok {
			below = append(below, x.culprits(ce, e, nil)...)
		}
	}
	if len(below) > 0 {
		return below
	}
	return []culprit{{n, c}}
}

func (x *explainer) compare(q string, e evaluation) comparison {
	key := fmt.Sprint(q, e.instant, e.at.UnixMilli(), e.rng.Start.UnixMilli(), e.rng.End.UnixMilli(), e.rng.Step)
	if c, ok := x.cache[key]; ok {
		return c
	}
	c := compareAnswers(x.c.both(e, q))
	x.cache[key] = c
	return c
}

// evaluable: an instant vector or scalar expression that reads samples.
func evaluable(n parser.Expr) bool {
	switch n.Type() {
	case parser.ValueTypeVector, parser.ValueTypeScalar:
	default:
		return false
	}
	reads := false
	parser.Inspect(n, func(node parser.Node, _ []parser.Node) error {
		if _, ok := node.(*parser.VectorSelector); ok {
			reads = true
		}
		return nil
	})
	return reads
}

// classify names the documented change that explains the differing
// point d of culprit n, or says why none does:
//   - n reads a window (an instant selector's lookback, a range selector,
//     a subquery) and d's time puts a sample of d's targets exactly on a
//     window's lower edge, or a subquery step on a subquery's lower edge,
//     and (where the value does not depend on the window's length)
//     Prometheus asked with windows 1 ms shorter answers what Starling
//     does (openWindowAgrees): left-open ranges;
//   - n sums (sum, avg, avg_over_time, sum_over_time) inputs that agree,
//     and both values are the exact sum up to float64 rounding
//     (roundingOnly): Kahan summation;
//   - n is rate or increase, and the values are 2.42's and 3.x's
//     extrapolation of the window's samples (extrapolationOnly);
//   - n is topk or bottomk and d's series is tied at the k-th place in
//     the input both agree on (tieOnly): an undefined order.
func (x *explainer) classify(n parser.Expr, d pointDiff) (c change, checked bool, why string) {
	if windowed(n) && (d.inProm || d.inStar) {
		var ed edges
		x.edges(n, int64(d.t), &ed)
		onEdge := false
		for _, ts := range x.scrapes.of(d.metric) {
			onEdge = onEdge || slices.ContainsFunc(ed.samples, func(t int64) bool { return ts[t] })
		}
		if ed.subqueryStep || onEdge {
			c = leftOpen
			if ed.subqueryStep {
				c = subqueryEdge
			}
			if ed.subqueryStep && onEdge { // both at once: the edges are the evidence
				return c, false, ""
			}
			tried, ok, why := x.openWindowAgrees(n, d, ed.subqueryStep)
			if tried && !ok {
				return change{}, false, why
			}
			return c, tried, ""
		}
	}
	if sums(n) && d.within() {
		if ok, why := x.roundingOnly(n, d); !ok {
			return change{}, false, why
		}
		return kahan, true, ""
	}
	if call, ok := n.(*parser.Call); ok && (call.Func.Name == "rate" || call.Func.Name == "increase") {
		if ok, why := x.extrapolationOnly(call, d); !ok {
			return change{}, false, why
		}
		return rateExtrapolation, true, ""
	}
	if agg, ok := n.(*parser.AggregateExpr); ok && (agg.Op == parser.TOPK || agg.Op == parser.BOTTOMK) {
		if ok, why := x.tieOnly(agg, d); !ok {
			return change{}, false, why
		}
		return topkTie, true, ""
	}
	return change{}, false, d.String()
}

// windowed: n selects samples over a window itself, as an instant
// selector or a function of a range selector or subquery.
func windowed(n parser.Expr) bool {
	switch n := n.(type) {
	case *parser.VectorSelector:
		return true
	case *parser.Call:
		for _, a := range n.Args {
			switch a.(type) {
			case *parser.MatrixSelector, *parser.SubqueryExpr:
				return true
			}
		}
	}
	return false
}

// sums: n adds up floats, which 3.x does with Kahan summation.
func sums(n parser.Expr) bool {
	switch n := n.(type) {
	case *parser.AggregateExpr:
		return n.Op == parser.SUM || n.Op == parser.AVG
	case *parser.Call:
		return n.Func.Name == "sum_over_time" || n.Func.Name == "avg_over_time"
	}
	return false
}

// edges are the lower edges of the windows an expression reads when
// evaluated at one time, as 2.x evaluates it.
type edges struct {
	samples      []int64 // a sample exactly here is in 2.x's window, not in 3.x's
	subqueryStep bool    // a subquery's lower edge is one of its steps
}

// (The parser keeps the offset written in the query in OriginalOffset;
// Offset is the engine's, set when it evaluates.)
func (x *explainer) edges(n parser.Node, t int64, out *edges) {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	switch n := n.(type) {
	case *parser.MatrixSelector:
		vs := n.VectorSelector.(*parser.VectorSelector)
		out.samples = append(out.samples, t-ms(vs.OriginalOffset)-ms(n.Range))
		return
	case *parser.VectorSelector:
		out.samples = append(out.samples, t-ms(n.OriginalOffset)-ms(x.lookback))
		return
	case *parser.SubqueryExpr:
		step := ms(n.Step)
		if step == 0 {
			step = ms(x.interval)
		}
		lo, hi := t-ms(n.OriginalOffset)-ms(n.Range), t-ms(n.OriginalOffset)
		if lo%step == 0 {
			out.subqueryStep = true
		}
		first := lo - lo%step // 2.x: the first step at or after lo
		if first < lo {
			first += step
		}
		for ti := first; ti <= hi; ti += step {
			x.edges(n.Expr, ti, out)
		}
		return
	}
	for _, ch := range parser.Children(n) {
		x.edges(ch, t, out)
	}
}
