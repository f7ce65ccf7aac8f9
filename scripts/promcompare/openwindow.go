package main

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// Samples and subquery steps have whole-millisecond timestamps, so a
// window one millisecond shorter, [t-r+1ms, t], holds in 2.x exactly
// what (t-r, t] holds in 3.x. Where the answer does not depend on the
// window's length itself, Prometheus 2.42 asked the query with the
// shorter windows must answer what Starling answers: that proves a
// difference on a window's edge is the left-open change and nothing
// else. rate, increase and delta divide by or extrapolate to the
// window's length, so for them the edge found is the whole evidence.

// rangeLength are the functions whose value depends on the length of the
// window they are given, not only on the samples in it.
var rangeLength = map[string]bool{"rate": true, "increase": true, "delta": true}

// openWindowAgrees asks Prometheus for culprit n with its subquery
// windows (subqueries) or range selector windows (otherwise) 1 ms
// shorter at d's time and tells whether it answers Starling's value for
// d's series. tried is false when that cannot show anything: n depends
// on the length of such a window, or has none (an instant selector).
func (x *explainer) openWindowAgrees(n parser.Expr, d pointDiff, subqueries bool) (tried, ok bool, why string) {
	e, err := x.parser.ParseExpr(n.String())
	if err != nil {
		return false, false, ""
	}
	lengthMatters, shortened := false, false
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		switch node := node.(type) {
		case *parser.SubqueryExpr:
			if subqueries {
				node.Range -= time.Millisecond
				shortened = true
			}
		case *parser.MatrixSelector:
			if !subqueries {
				node.Range -= time.Millisecond
				shortened = true
			}
		case *parser.Call:
			if rangeLength[node.Func.Name] {
				for _, a := range node.Args {
					_, sub := a.(*parser.SubqueryExpr)
					_, sel := a.(*parser.MatrixSelector)
					if sub && subqueries || sel && !subqueries {
						lengthMatters = true
					}
				}
			}
		}
		return nil
	})
	if lengthMatters || !shortened { // (an instant selector's lookback cannot be shortened in a query)
		return false, false, ""
	}
	q := e.String()
	a := evaluation{instant: true, at: d.t.Time()}.run(x.c.prom, q)
	if a.err != nil {
		return true, false, fmt.Sprintf("Prometheus with open windows, %s: %v", q, a.err)
	}
	vec, isVec := a.val.(model.Vector)
	if !isVec {
		return true, false, fmt.Sprintf("Prometheus with open windows, %s: a %s", q, a.val.Type())
	}
	for _, s := range vec {
		if s.Metric.Equal(d.metric) {
			v := float64(s.Value)
			if d.inStar && (v == d.starling || math.IsNaN(v) && math.IsNaN(d.starling)) {
				return true, true, ""
			}
			return true, false, fmt.Sprintf("%s: Prometheus with open windows (%s) answers %v, Starling %v", d.metric, q, v, d.starling)
		}
	}
	if !d.inStar {
		return true, true, ""
	}
	return true, false, fmt.Sprintf("%s: Prometheus with open windows (%s) has no such series, Starling %v", d.metric, q, d.starling)
}
