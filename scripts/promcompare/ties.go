package main

import (
	"fmt"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// topk and bottomk keep k series per group; among series whose values
// tie at the k-th place, which are kept depends on the order the engine
// meets them, which is the order the storage lists them: Prometheus' TSDB
// lists them by series reference (the order they were created), Starling
// by partition and hash. PromQL leaves that order undefined. tieOnly
// checks that this is all there is: the culprit's input (which both
// engines agree on) holds, in d's group, fewer than k series beyond d's
// value and more than k at or beyond it, so that d's series is one of
// several tied for the last places.

// tieOnly tells whether the point d, kept by one engine's topk or bottomk
// n and not by the other's, is tied at the k-th place; when not, why.
func (x *explainer) tieOnly(n *parser.AggregateExpr, d pointDiff) (bool, string) {
	lit, ok := n.Param.(*parser.NumberLiteral)
	if !ok || d.inProm == d.inStar {
		return false, d.String()
	}
	k := int(lit.Val)
	v := d.starling
	if d.inProm {
		v = d.prom
	}
	vec, err := x.promVector(n.Expr.String(), d.t)
	if err != nil {
		return false, fmt.Sprintf("input of %s: %v", n, err)
	}
	return tiedAt(n, k, vec, d, v)
}

// tiedAt tells whether d's series, of value v, is tied at place k of
// topk or bottomk n over its input vec; when not, why.
func tiedAt(n *parser.AggregateExpr, k int, vec model.Vector, d pointDiff, v float64) (bool, string) {
	g := group(n, d.metric)
	beyond, tied, self := 0, 0, false
	for _, s := range vec {
		if !group(n, s.Metric).Equal(g) {
			continue
		}
		w := float64(s.Value)
		switch {
		case w == v:
			tied++
			self = self || s.Metric.Equal(d.metric)
		case n.Op == parser.TOPK && w > v, n.Op == parser.BOTTOMK && w < v:
			beyond++
		}
	}
	if !self || beyond >= k || beyond+tied <= k {
		return false, fmt.Sprintf("%s: %v is not tied at place %d of %s (%d beyond it, %d equal)", d.metric, v, k, n, beyond, tied)
	}
	return true, ""
}
