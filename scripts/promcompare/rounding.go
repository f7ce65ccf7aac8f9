package main

import (
	"fmt"
	"math"
	"math/big"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// A sum or mean whose inputs agree in both engines may still come out
// different in its last bits: 2.x adds plainly (sum) or keeps an
// incremental mean (avg, avg_over_time), 3.x adds with Kahan
// compensation. roundingOnly checks that this is all there is: it takes
// the inputs of the point (from Prometheus; the culprit's children agree
// in both), computes their exact sum with big.Float, and requires both
// answers within the float64 error bound of plain summation of them,
// n·u·Σ|x| for a sum (u = 2⁻⁵³), 4·n·u·max|x| for a mean. A missing or
// extra input, or any other change of value, is far outside that bound.

// unitRoundoff is u, half the distance from 1 to the next float64.
const unitRoundoff = 0x1p-53

// roundingOnly tells whether both values of d are the exact sum (or
// mean) of the inputs of culprit n up to float64 summation error; when
// not, why.
func (x *explainer) roundingOnly(n parser.Expr, d pointDiff) (bool, string) {
	xs, mean, err := x.summands(n, d)
	if err != nil {
		return false, "inputs of " + n.String() + ": " + err.Error()
	}
	if len(xs) == 0 {
		return false, "no inputs of " + n.String() + " for " + d.metric.String()
	}
	exact := new(big.Float).SetPrec(2400)
	var abs, maxAbs float64
	for _, v := range xs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false, fmt.Sprintf("input %v of %s is not finite", v, n)
		}
		exact.Add(exact, new(big.Float).SetFloat64(v))
		abs += math.Abs(v)
		maxAbs = max(maxAbs, math.Abs(v))
	}
	nf := float64(len(xs))
	bound := nf * unitRoundoff * abs
	if mean {
		exact.Quo(exact, big.NewFloat(nf))
		bound = 4 * nf * unitRoundoff * maxAbs
	}
	for _, v := range []float64{d.prom, d.starling} {
		diff := new(big.Float).Sub(new(big.Float).SetFloat64(v), exact)
		if f, _ := diff.Float64(); math.Abs(f) > bound {
			e, _ := exact.Float64()
			return false, fmt.Sprintf("%s: %v is %g from the exact %s of its %d inputs (%v), beyond the rounding bound %g",
				d.metric, v, math.Abs(f), map[bool]string{false: "sum", true: "mean"}[mean], len(xs), e, bound)
		}
	}
	return true, ""
}

// summands returns the inputs culprit n adds up for point d, and
// whether n takes their mean: the series of n's argument in d's group
// (sum, avg) or the samples of d's series in the window (sum_over_time,
// avg_over_time), at d's time, as Prometheus answers them.
func (x *explainer) summands(n parser.Expr, d pointDiff) (xs []float64, mean bool, err error) {
	at := evaluation{instant: true, at: d.t.Time()}
	switch n := n.(type) {
	case *parser.AggregateExpr:
		vec, err := x.promVector(n.Expr.String(), d.t)
		if err != nil {
			return nil, false, err
		}
		for _, s := range vec {
			if group(n, s.Metric).Equal(d.metric) {
				xs = append(xs, float64(s.Value))
			}
		}
		return xs, n.Op == parser.AVG, nil
	case *parser.Call:
		ms, ok := n.Args[0].(*parser.MatrixSelector)
		if !ok {
			return nil, false, fmt.Errorf("argument is not a range selector")
		}
		a := at.run(x.c.prom, ms.String())
		if a.err != nil {
			return nil, false, a.err
		}
		m, ok := a.val.(model.Matrix)
		if !ok {
			return nil, false, fmt.Errorf("%s answer", a.val.Type())
		}
		for _, s := range m {
			if withoutName(s.Metric).Equal(d.metric) {
				for _, p := range s.Values {
					xs = append(xs, float64(p.Value))
				}
			}
		}
		return xs, n.Func.Name == "avg_over_time", nil
	}
	return nil, false, fmt.Errorf("not a sum")
}

// promVector is Prometheus' answer to instant vector query q at t.
func (x *explainer) promVector(q string, t model.Time) (model.Vector, error) {
	a := evaluation{instant: true, at: t.Time()}.run(x.c.prom, q)
	if a.err != nil {
		return nil, a.err
	}
	vec, ok := a.val.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("a %s answer", a.val.Type())
	}
	return vec, nil
}

// group is the labels of the output series of aggregation a that the
// input series m goes into.
func group(a *parser.AggregateExpr, m model.Metric) model.Metric {
	if a.Without {
		g := withoutName(m)
		for _, l := range a.Grouping {
			delete(g, model.LabelName(l))
		}
		return g
	}
	g := model.Metric{}
	for _, l := range a.Grouping {
		if v, ok := m[model.LabelName(l)]; ok {
			g[model.LabelName(l)] = v
		}
	}
	return g
}

func withoutName(m model.Metric) model.Metric {
	g := m.Clone()
	delete(g, model.MetricNameLabel)
	return g
}
