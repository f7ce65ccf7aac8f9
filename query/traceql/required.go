package traceql

import (
	"regexp"
	"unsafe"
)

// Predicate pushdown. Required derives, from the query alone, conditions
// that a trace must meet to match at all, for a storage layer to skip
// traces (or blocks) that cannot match.

// Condition is a predicate on one span: a field compared with a literal,
// with the evaluator's own semantics (arrays match if an element does,
// ints and floats compare as numbers, incompatible types never match).
type Condition struct {
	Scope     Scope     // where the attribute lives; ScopeIntrinsic for intrinsics
	Name      string    // the attribute key; for an intrinsic its scoped spelling (span:name)
	Intrinsic Intrinsic // for ScopeIntrinsic
	Op        Op        // OpEq, OpGt, OpGte, OpLt, OpLte or OpRegex
	Value     Value     // the literal; for OpRegex the pattern (fully anchored, RE2)
	Prefix    string    // for OpRegex: a prefix every matching string has ("" if none is known)
	// Group identifies the &&-chain of one filter the condition comes
	// from: within one alternative of Required, the conditions with the
	// same Group must hold on one and the same span.
	Group int

	match boolFn
}

// Matches reports whether the span satisfies the condition.
func (c Condition) Matches(s *Span) bool {
	if c.match == nil || s == nil {
		return false
	}
	ctx := evalCtx{t: &Trace{Spans: unsafe.Slice(s, 1)}}
	return c.match(&ctx, 0)
}

// String writes the condition as TraceQL.
func (c Condition) String() string {
	f := attrString(c.Scope, c.Name)
	if c.Scope == ScopeIntrinsic {
		f = c.Name
	}
	return f + " " + c.Op.String() + " " + c.Value.String()
}

// Limits of the disjunctive normal form; past them Required gives up on
// a part of the query (dropping conditions, which stays sound).
const (
	maxAlternatives = 64
	maxConditions   = 32
)

// Required returns an OR of ANDs of span conditions that over-approximates
// the query: if any span set of a trace can match, then for at least one
// inner slice every condition is met by at least one span of the trace,
// and conditions with the same Group by one span. It returns nil when
// nothing can be said, as for { }, for a condition under ! or compared
// with != or nil, or when any alternative is unconstrained. A metrics
// query requires what its pipeline requires.
//
// Filters joined by && or a structural operator, and successive filter
// stages, require both sides; || requires either; a negated structural
// operator (!>>, !~, ...) requires its right side only; aggregates,
// by(), select() and coalesce() add nothing.
func (q *Query) Required() [][]Condition {
	d := pipelineDNF(q.pipe)
	if isTop(d) {
		return nil
	}
	out := make([][]Condition, len(d))
	for i, alt := range d {
		out[i] = append([]Condition(nil), alt...)
	}
	return out
}

// dnf is a disjunction of conjunctions; one empty conjunction is "true"
// (nothing known). A dnf is never empty: false is not represented (a
// query that cannot match is treated as unconstrained).
type dnf [][]Condition

func top() dnf { return dnf{nil} }

func isTop(d dnf) bool {
	for _, alt := range d {
		if len(alt) == 0 {
			return true
		}
	}
	return len(d) == 0
}

func and(a, b dnf) dnf {
	switch {
	case isTop(a):
		return b
	case isTop(b):
		return a
	case len(a)*len(b) > maxAlternatives:
		return a
	}
	out := make(dnf, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			alt := make([]Condition, 0, len(x)+len(y))
			alt = append(append(alt, x...), y...)
			if len(alt) > maxConditions {
				alt = alt[:maxConditions]
			}
			out = append(out, alt)
		}
	}
	return out
}

func or(a, b dnf) dnf {
	if isTop(a) || isTop(b) || len(a)+len(b) > maxAlternatives {
		return top()
	}
	return append(append(make(dnf, 0, len(a)+len(b)), a...), b...)
}

func pipelineDNF(p *pipelineNode) dnf {
	d := top()
	for _, s := range p.stages {
		if n, ok := s.(spansetNode); ok {
			d = and(d, spansetDNF(n))
		}
	}
	return d
}

func spansetDNF(n spansetNode) dnf {
	switch n := n.(type) {
	case *filterNode:
		if n.e == nil {
			return top()
		}
		return exprDNF(n.e, n.id)
	case *pipelineNode:
		return pipelineDNF(n)
	case *spansetOpNode:
		switch {
		case n.op == OpSpansetOr:
			return or(spansetDNF(n.l), spansetDNF(n.r))
		case isNegated(n.op):
			return spansetDNF(n.r)
		}
		return and(spansetDNF(n.l), spansetDNF(n.r))
	}
	return top()
}

// exprDNF derives the conditions of a filter expression.
func exprDNF(e expr, group int) dnf {
	switch e := e.(type) {
	case *binaryExpr:
		switch {
		case e.op == OpAnd:
			return and(exprDNF(e.l, group), exprDNF(e.r, group))
		case e.op == OpOr:
			return or(exprDNF(e.l, group), exprDNF(e.r, group))
		case e.op.isComparison():
			if c, ok := condition(e, group); ok {
				return dnf{{c}}
			}
		}
	case *attrExpr:
		// A bare attribute holds when it is true.
		c := Condition{Scope: e.scope, Name: e.name, Op: OpEq, Value: BoolValue(true), Group: group}
		c.match = attrCompare(e.scope, e.name, OpEq, c.Value)
		return dnf{{c}}
	}
	return top()
}

// condition turns a comparison of a per-span field with a literal into a
// Condition.
func condition(b *binaryExpr, group int) (Condition, bool) {
	op, l, r := b.op, b.l, b.r
	if _, ok := l.(*staticExpr); ok && op != OpRegex {
		l, r, op = r, l, flip(op)
	}
	s, ok := r.(*staticExpr)
	if !ok || s.v.t == TypeNil {
		return Condition{}, false
	}
	switch op {
	case OpEq, OpGt, OpGte, OpLt, OpLte, OpRegex:
	default:
		return Condition{}, false
	}
	c := Condition{Op: op, Value: s.v, Group: group}
	switch f := l.(type) {
	case *attrExpr:
		c.Scope, c.Name = f.scope, f.name
	case *intrinsicExpr:
		if !f.in.perSpan() {
			return Condition{}, false
		}
		c.Scope, c.Name, c.Intrinsic = ScopeIntrinsic, f.in.String(), f.in
	default:
		return Condition{}, false
	}
	if op == OpRegex {
		c.match = compileRegex(l, b)
		if re, err := regexp.Compile(s.v.Str()); err == nil {
			c.Prefix, _ = re.LiteralPrefix()
		}
		return c, true
	}
	if c.Scope == ScopeIntrinsic {
		c.match = intrinsicCompare(c.Intrinsic, op, s.v)
	} else {
		c.match = attrCompare(c.Scope, c.Name, op, s.v)
	}
	return c, true
}

// Conjunction reports whether the query is one spanset filter whose
// expression is nothing but comparisons of a field with a literal joined
// by && (or empty: { } matches every span), and how many comparisons it
// has. For such a query a planner that checks every comparison exactly
// (as Required lists them) needs no evaluation at all.
func (q *Query) Conjunction() (comparisons int, ok bool) {
	if q.metrics != nil || q.pipe == nil || len(q.pipe.stages) != 1 {
		return 0, false
	}
	f, isFilter := q.pipe.stages[0].(*filterNode)
	if !isFilter {
		return 0, false
	}
	if f.e == nil {
		return 0, true
	}
	var walk func(e expr) bool
	walk = func(e expr) bool {
		b, isBin := e.(*binaryExpr)
		if !isBin {
			return false
		}
		if b.op == OpAnd {
			return walk(b.l) && walk(b.r)
		}
		switch b.op {
		case OpEq, OpNeq, OpGt, OpGte, OpLt, OpLte, OpRegex, OpNotRegex:
		default:
			return false
		}
		if _, lit := b.r.(*staticExpr); !lit {
			return false
		}
		switch b.l.(type) {
		case *attrExpr, *intrinsicExpr:
		default:
			return false
		}
		comparisons++
		return true
	}
	if !walk(f.e) {
		return 0, false
	}
	return comparisons, true
}
