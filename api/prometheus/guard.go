package prometheus

import (
	"math"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// The engine of Prometheus v0.316.0 tracks samples per step of every
// subquery, whether or not statistics were asked for, in two int64 slices
// it allocates before evaluating: `up[1y:1ms]` asks for 500 GB and kills
// the process, where older engines only ran into the query timeout. The
// API refuses such a query before it runs, counting a step of those
// slices as one sample against Config.MaxSamples (both cost 16 bytes), and
// answers what the engine answers for a query over the sample limit:
// 422 "query processing would load too many samples into memory in query
// execution". This is the one place where Starling refuses a query
// Prometheus would accept.

// subquerySteps returns the most steps one subquery of a built query
// evaluates, following promql's subqueryTimeRange: a subquery covers its
// parent's span plus its range (its range alone under an @ modifier or in
// a step-invariant part), at its step or, without one, defaultStep.
func subquerySteps(stmt *parser.EvalStmt, defaultStep time.Duration) int64 {
	root := stmt.End.Sub(stmt.Start).Milliseconds()
	var most int64
	parser.Inspect(stmt.Expr, func(node parser.Node, path []parser.Node) error {
		sq, ok := node.(*parser.SubqueryExpr)
		if !ok {
			return nil
		}
		span := root
		for _, anc := range path {
			switch a := anc.(type) {
			case *parser.StepInvariantExpr:
				span = 0
			case *parser.SubqueryExpr:
				span = subquerySpan(span, a)
			}
		}
		span = subquerySpan(span, sq)
		step := sq.Step.Milliseconds()
		if step <= 0 {
			step = defaultStep.Milliseconds()
		}
		most = max(most, span/max(step, 1)+1)
		return nil
	})
	return most
}

func subquerySpan(parent int64, sq *parser.SubqueryExpr) int64 {
	if sq.Timestamp != nil || sq.StartOrEnd != 0 {
		parent = 0
	}
	r := sq.Range.Milliseconds()
	if parent > math.MaxInt64-r {
		return math.MaxInt64 // Nested subqueries over all of time.
	}
	return parent + r
}

// checkSubquerySteps is the guard's error, or nil.
func (a *API) checkSubquerySteps(qry promql.Query) error {
	stmt, ok := qry.Statement().(*parser.EvalStmt)
	if !ok {
		return nil
	}
	if subquerySteps(stmt, a.cfg.SubqueryStep) > int64(a.cfg.MaxSamples) {
		return promql.ErrTooManySamples("query execution")
	}
	return nil
}
