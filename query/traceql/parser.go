package traceql

import (
	"regexp"
	"sort"
	"strconv"
)

// maxDepth bounds the nesting of a query, so that no input can exhaust
// the stack.
const maxDepth = 200

// Binding strength of the binary operators of field expressions (higher
// binds tighter). Comparisons are left associative like the arithmetic
// operators; ^ is right associative. Unary minus binds tighter than any
// binary operator; ! takes a comparison as its operand (!.a = 1 is
// !(.a = 1)) but not && or ||.
const (
	precOr  = 1
	precAnd = 2
	precCmp = 3
	precAdd = 4
	precMul = 5
	precPow = 6
)

// binPrec returns the binding strength of a binary field operator.
func binPrec(op Op) int {
	switch {
	case op == OpOr:
		return precOr
	case op == OpAnd:
		return precAnd
	case op.isComparison():
		return precCmp
	case op == OpAdd || op == OpSub:
		return precAdd
	case op == OpMul || op == OpDiv || op == OpMod:
		return precMul
	case op == OpPow:
		return precPow
	}
	return 0
}

// spansetPrec returns the binding strength of a spanset operator: the
// structural operators bind tighter than &&, which binds tighter than ||.
func spansetPrec(op Op) int {
	switch {
	case op == OpSpansetOr:
		return 1
	case op == OpSpansetAnd:
		return 2
	case op.isStructural():
		return 3
	}
	return 0
}

// parser is a recursive descent parser over the tokens of one query.
type parser struct {
	src     string
	toks    []token
	i       int
	depth   int
	filters int
}

func (p *parser) peek() *token { return &p.toks[p.i] }

func (p *parser) advance() *token {
	t := &p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// text returns the source text of a token.
func (p *parser) text(t *token) string { return p.src[t.pos:t.end] }

// expected builds the error for an unexpected token.
func (p *parser) expected(t *token, what string) error {
	return errAt(p.src, t.pos, what, p.text(t))
}

// expect consumes a token of kind k or fails with what.
func (p *parser) expect(k tokKind, what string) (*token, error) {
	t := p.peek()
	if t.kind != k {
		return nil, p.expected(t, what)
	}
	return p.advance(), nil
}

// enter counts a level of nesting; leave undoes it.
func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.expected(p.peek(), "at most "+strconv.Itoa(maxDepth)+" levels of nesting")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// tokenAt returns the token that starts at a byte offset.
func (p *parser) tokenAt(off int) *token {
	j := sort.Search(len(p.toks), func(k int) bool { return p.toks[k].pos >= off })
	if j == len(p.toks) {
		j = len(p.toks) - 1
	}
	return &p.toks[j]
}

// query parses a whole query.
func (p *parser) query() (*Query, error) {
	pipe, m, err := p.pipeline(true)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.endError(t, pipe, m, "end of query")
	}
	return &Query{pipe: pipe, metrics: m, filters: p.filters}, nil
}

// endError explains an unexpected token after a pipeline.
func (p *parser) endError(t *token, pipe *pipelineNode, m *metricsNode, end string) error {
	if t.kind == tIdent && t.s == "with" {
		return unsupportedAt(p.src, t.pos, "with() hints")
	}
	if m != nil {
		if t.kind.fieldOp().isComparison() {
			return unsupportedAt(p.src, t.pos, "comparisons on a metrics result")
		}
		return p.expected(t, end)
	}
	if _, ok := pipe.stages[len(pipe.stages)-1].(spansetNode); ok {
		return p.expected(t, `a spanset operator, "|" or `+end)
	}
	return p.expected(t, `"|" or `+end)
}

// pipeline parses stage | stage | ...; top allows a metrics function as
// the last stage. A stage that is itself a parenthesised pipeline is
// spliced in, as A | (B | C) means A | B | C.
func (p *parser) pipeline(top bool) (*pipelineNode, *metricsNode, error) {
	pipe := &pipelineNode{}
	var m *metricsNode
	for {
		s, ms, err := p.stage(top, len(pipe.stages) == 0)
		if err != nil {
			return nil, nil, err
		}
		if ms != nil {
			m = ms
			break
		}
		if inner, ok := s.(*pipelineNode); ok {
			pipe.stages = append(pipe.stages, inner.stages...)
		} else {
			pipe.stages = append(pipe.stages, s)
		}
		if p.peek().kind != tPipe {
			return pipe, nil, nil
		}
		p.advance()
	}
	if len(pipe.stages) == 0 {
		pipe.stages = append(pipe.stages, &filterNode{id: p.nextFilter()})
	}
	if p.peek().kind == tPipe {
		p.advance()
		t := p.peek()
		if t.kind != tIdent || (t.s != "topk" && t.s != "bottomk") {
			if t.kind == tIdent && t.s == "with" {
				return nil, nil, unsupportedAt(p.src, t.pos, "with() hints")
			}
			return nil, nil, p.expected(t, "topk() or bottomk() after a metrics function")
		}
		p.advance()
		m.bottom = t.s == "bottomk"
		if _, err := p.expect(tLParen, `"("`); err != nil {
			return nil, nil, err
		}
		n := p.peek()
		if n.kind != tInt || n.i <= 0 || n.i > 1<<20 {
			return nil, nil, p.expected(n, "a positive integer")
		}
		p.advance()
		m.topk = int(n.i)
		if _, err := p.expect(tRParen, `")"`); err != nil {
			return nil, nil, err
		}
	}
	return pipe, m, nil
}

func (p *parser) nextFilter() int {
	p.filters++
	return p.filters
}

// stage parses one pipeline stage; a metrics function is returned as ms.
func (p *parser) stage(top, first bool) (s stage, ms *metricsNode, err error) {
	t := p.peek()
	switch t.kind {
	case tLBrace:
		s, err = p.spansetExpr(0)
		return s, nil, err
	case tLParen:
		if p.parenStartsSpanset() {
			s, err = p.spansetExpr(0)
			return s, nil, err
		}
		s, err = p.scalarFilter()
		return s, nil, err
	case tInt, tFloat, tDuration, tSub:
		s, err = p.scalarFilter()
		return s, nil, err
	case tIdent:
		switch t.s {
		case "count", "avg", "min", "max", "sum":
			s, err = p.scalarFilter()
			return s, nil, err
		case "by":
			s, err = p.groupStage()
			return s, nil, err
		case "select":
			s, err = p.selectStage()
			return s, nil, err
		case "coalesce":
			p.advance()
			if _, err := p.expect(tLParen, `"("`); err != nil {
				return nil, nil, err
			}
			if _, err := p.expect(tRParen, `")"`); err != nil {
				return nil, nil, err
			}
			return &coalesceStage{}, nil, nil
		case "with":
			return nil, nil, unsupportedAt(p.src, t.pos, "with() hints")
		case "compare":
			return nil, nil, unsupportedAt(p.src, t.pos, "compare()")
		case "topk", "bottomk":
			return nil, nil, p.expected(t, "a metrics function before "+t.s+"()")
		}
		if fn := lookupMetricsFunc(t.s); fn != 0 {
			if !top {
				return nil, nil, unsupportedAt(p.src, t.pos, "a metrics function inside parentheses")
			}
			ms, err = p.metrics(fn)
			return nil, ms, err
		}
	}
	if first {
		return nil, nil, p.expected(t, "a spanset filter")
	}
	return nil, nil, p.expected(t, "a pipeline stage")
}

// parenStartsSpanset reports whether the parentheses at the current token
// open a spanset expression (rather than a scalar expression).
func (p *parser) parenStartsSpanset() bool {
	j := p.i
	for p.toks[j].kind == tLParen {
		j++
	}
	t := p.toks[j]
	return t.kind == tLBrace || (t.kind == tIdent && (t.s == "by" || t.s == "select" || t.s == "coalesce"))
}

// spansetExpr parses spanset operands joined by spanset operators.
func (p *parser) spansetExpr(minPrec int) (spansetNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	l, err := p.spansetPrimary()
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek().kind.spansetOp()
		prec := spansetPrec(op)
		if op == OpNone || prec < minPrec {
			return l, nil
		}
		p.advance()
		r, err := p.spansetExpr(prec + 1)
		if err != nil {
			return nil, err
		}
		l = &spansetOpNode{op: op, l: l, r: r}
	}
}

// spansetPrimary parses a filter or a parenthesised pipeline.
func (p *parser) spansetPrimary() (spansetNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	switch t.kind {
	case tLBrace:
		return p.filter()
	case tLParen:
		p.advance()
		pipe, _, err := p.pipeline(false)
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t.kind != tRParen {
			return nil, p.endError(t, pipe, nil, `")"`)
		}
		p.advance()
		if len(pipe.stages) == 1 {
			if s, ok := pipe.stages[0].(spansetNode); ok {
				return s, nil
			}
		}
		return pipe, nil
	case tNot:
		return nil, p.expected(t, "a spanset filter (! applies inside { })")
	}
	return nil, p.expected(t, "a spanset filter")
}

// filter parses { } or { expr }.
func (p *parser) filter() (spansetNode, error) {
	p.advance()
	f := &filterNode{id: p.nextFilter()}
	if p.peek().kind == tRBrace {
		p.advance()
		return f, nil
	}
	e, err := p.expr(0, false)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if !boolCapable(typeOf(e)) {
		return nil, p.expected(t, "a comparison operator")
	}
	if t.kind != tRBrace {
		if isCondition(e) {
			return nil, p.expected(t, `"&&", "||" or "}"`)
		}
		return nil, p.expected(t, "a comparison operator")
	}
	p.advance()
	f.e = e
	return f, nil
}

// isCondition reports whether an expression is a comparison or a logical
// operation (rather than a bare operand).
func isCondition(e expr) bool {
	switch e := e.(type) {
	case *binaryExpr:
		return e.op.isComparison() || e.op == OpAnd || e.op == OpOr
	case *unaryExpr:
		return e.op == OpNot
	}
	return false
}

// expr parses a field expression (scalar false: inside { }, by(), the
// argument of an aggregate) or a scalar expression (scalar true: a
// pipeline's scalar filter, whose operands are aggregates and numbers and
// which has no && or ||).
func (p *parser) expr(minPrec int, scalar bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	l, err := p.unary(scalar)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op := t.kind.fieldOp()
		if op == OpNone || (scalar && (op == OpAnd || op == OpOr)) {
			return l, nil
		}
		prec := binPrec(op)
		if prec < minPrec {
			return l, nil
		}
		p.advance()
		next := prec + 1
		if op == OpPow {
			next = prec
		}
		r, err := p.expr(next, scalar)
		if err != nil {
			return nil, err
		}
		b := &binaryExpr{op: op, l: l, r: r, at: l.offset()}
		if err := p.check(b); err != nil {
			return nil, err
		}
		l = b
	}
}

// check type-checks a binary expression and compiles its regular
// expression.
func (p *parser) check(b *binaryExpr) error {
	lt, rt := typeOf(b.l), typeOf(b.r)
	switch {
	case b.op == OpRegex || b.op == OpNotRegex:
		s, ok := b.r.(*staticExpr)
		if !ok || s.v.t != TypeString {
			return p.expected(p.tokenAt(b.r.offset()), "a string literal (the regular expression) after "+b.op.String())
		}
		_, err := regexp.Compile(s.v.Str())
		var re *regexp.Regexp
		if err == nil {
			re, err = regexp.Compile("^(?:" + s.v.Str() + ")$")
		}
		if err != nil {
			e := errAt(p.src, s.at, "a valid regular expression", p.text(p.tokenAt(s.at)))
			e.Detail = err.Error()
			return e
		}
		b.re = re
	case b.op == OpAnd || b.op == OpOr:
		if !boolCapable(lt) {
			return p.expected(p.tokenAt(b.l.offset()), "a boolean expression")
		}
		if !boolCapable(rt) {
			return p.expected(p.tokenAt(b.r.offset()), "a boolean expression")
		}
	case b.op.isArithmetic():
		if !numberCapable(lt) {
			return p.expected(p.tokenAt(b.l.offset()), "a number or duration")
		}
		if !numberCapable(rt) {
			return p.expected(p.tokenAt(b.r.offset()), "a number or duration")
		}
	}
	return nil
}

// unary parses ! and unary minus; a minus before a literal is folded
// into it.
func (p *parser) unary(scalar bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	switch t.kind {
	case tNot:
		p.advance()
		x, err := p.expr(precCmp, scalar)
		if err != nil {
			return nil, err
		}
		if !boolCapable(typeOf(x)) {
			return nil, p.expected(p.tokenAt(x.offset()), "a boolean expression after !")
		}
		return &unaryExpr{op: OpNot, x: x, at: t.pos}, nil
	case tSub:
		p.advance()
		x, err := p.unary(scalar)
		if err != nil {
			return nil, err
		}
		if !numberCapable(typeOf(x)) {
			return nil, p.expected(p.tokenAt(x.offset()), "a number or duration after -")
		}
		if s, ok := x.(*staticExpr); ok {
			return &staticExpr{v: negate(s.v), at: t.pos}, nil
		}
		return &unaryExpr{op: OpNeg, x: x, at: t.pos}, nil
	}
	return p.primary(scalar)
}

// primary parses an operand.
func (p *parser) primary(scalar bool) (expr, error) {
	t := p.peek()
	switch t.kind {
	case tLParen:
		p.advance()
		e, err := p.expr(0, scalar)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, `")"`); err != nil {
			return nil, err
		}
		return e, nil
	case tString:
		p.advance()
		return &staticExpr{v: StringValue(t.s), at: t.pos}, nil
	case tInt:
		p.advance()
		return &staticExpr{v: IntValue(t.i), at: t.pos}, nil
	case tFloat:
		p.advance()
		return &staticExpr{v: FloatValue(t.f), at: t.pos}, nil
	case tDuration:
		p.advance()
		return &staticExpr{v: Value{n: uint64(t.i), t: TypeDuration}, at: t.pos}, nil
	case tIdent:
		if v, ok := keywordValue(t.s); ok {
			p.advance()
			return &staticExpr{v: v, at: t.pos}, nil
		}
		if scalar {
			if fn, ok := aggregateName(t.s); ok {
				return p.aggregate(fn)
			}
			break
		}
		if in, legacy := lookupIntrinsic(t.s); in != IntrinsicNone {
			p.advance()
			return &intrinsicExpr{in: in, legacy: legacy, at: t.pos}, nil
		}
		if refused := refusedIntrinsic(t.s); refused != "" {
			return nil, unsupportedAt(p.src, t.pos, refused)
		}
		if t.s == "parent" {
			return nil, unsupportedAt(p.src, t.pos, "the parent scope (parent.)")
		}
		for _, c := range t.s {
			if c == ':' {
				return nil, p.expected(t, "a known intrinsic")
			}
		}
	case tAttr:
		if scalar {
			return nil, p.expected(t, "an aggregate (count(), avg(), min(), max(), sum()) or a number")
		}
		return p.attribute(t)
	}
	if scalar {
		return nil, p.expected(t, "an aggregate (count(), avg(), min(), max(), sum()) or a number")
	}
	return nil, p.expected(t, "an attribute, intrinsic or literal")
}

// attribute resolves the scope of an attribute token.
func (p *parser) attribute(t *token) (expr, error) {
	var sc Scope
	switch t.scope {
	case "":
		sc = ScopeUnscoped
	case "span":
		sc = ScopeSpan
	case "resource":
		sc = ScopeResource
	case "event":
		sc = ScopeEvent
	case "link":
		sc = ScopeLink
	case "instrumentation":
		sc = ScopeInstrumentation
	case "parent":
		return nil, unsupportedAt(p.src, t.pos, "the parent scope (parent.)")
	default:
		return nil, errAt(p.src, t.pos, "an attribute scope (span, resource, event, link, instrumentation or none)", t.scope)
	}
	p.advance()
	return &attrExpr{scope: sc, name: t.s, at: t.pos}, nil
}

// keywordValue resolves the literal keywords.
func keywordValue(w string) (Value, bool) {
	switch w {
	case "true":
		return BoolValue(true), true
	case "false":
		return BoolValue(false), true
	case "nil":
		return Value{}, true
	case "ok":
		return StatusValue(StatusOK), true
	case "error":
		return StatusValue(StatusError), true
	case "unset":
		return StatusValue(StatusUnset), true
	case "unspecified":
		return KindValue(KindUnspecified), true
	case "internal":
		return KindValue(KindInternal), true
	case "server":
		return KindValue(KindServer), true
	case "client":
		return KindValue(KindClient), true
	case "producer":
		return KindValue(KindProducer), true
	case "consumer":
		return KindValue(KindConsumer), true
	}
	return Value{}, false
}

// refusedIntrinsic names Tempo intrinsics this package refuses.
func refusedIntrinsic(w string) string {
	switch w {
	case "nestedSetLeft", "nestedSetRight", "nestedSetParent",
		"span:nestedSetLeft", "span:nestedSetRight", "span:nestedSetParent":
		return "the " + w + " intrinsic"
	}
	return ""
}

// aggregateName resolves an aggregate of a scalar filter.
func aggregateName(w string) (aggFunc, bool) {
	switch w {
	case "count":
		return aggCount, true
	case "avg":
		return aggAvg, true
	case "min":
		return aggMin, true
	case "max":
		return aggMax, true
	case "sum":
		return aggSum, true
	}
	return 0, false
}

// aggregate parses count() or avg(x) and friends.
func (p *parser) aggregate(fn aggFunc) (expr, error) {
	t := p.advance()
	if _, err := p.expect(tLParen, `"("`); err != nil {
		return nil, err
	}
	a := &aggExpr{fn: fn, at: t.pos}
	if fn != aggCount {
		x, err := p.expr(0, false)
		if err != nil {
			return nil, err
		}
		if !numberCapable(typeOf(x)) {
			return nil, p.expected(p.tokenAt(x.offset()), "a number or duration")
		}
		a.x = x
	}
	if _, err := p.expect(tRParen, `")"`); err != nil {
		return nil, err
	}
	return a, nil
}

// scalarFilter parses a comparison of scalar expressions.
func (p *parser) scalarFilter() (stage, error) {
	e, err := p.expr(precCmp, true)
	if err != nil {
		return nil, err
	}
	b, ok := e.(*binaryExpr)
	if !ok || !b.op.isComparison() {
		return nil, p.expected(p.peek(), "a comparison operator")
	}
	if b.op == OpRegex || b.op == OpNotRegex {
		return nil, p.expected(p.tokenAt(b.r.offset()), "a numeric comparison (=~ and !~ need strings)")
	}
	return &scalarFilter{op: b.op, l: b.l, r: b.r}, nil
}

// fieldRef parses an attribute or an intrinsic.
func (p *parser) fieldRef() (expr, error) {
	t := p.peek()
	if t.kind != tAttr && t.kind != tIdent {
		return nil, p.expected(t, "an attribute or intrinsic")
	}
	if t.kind == tIdent {
		if _, ok := keywordValue(t.s); ok {
			return nil, p.expected(t, "an attribute or intrinsic")
		}
	}
	return p.primary(false)
}

// list parses ( item, item, ... ) with at least one item.
func (p *parser) list(item func() (expr, error)) ([]expr, error) {
	if _, err := p.expect(tLParen, `"("`); err != nil {
		return nil, err
	}
	var out []expr
	for {
		e, err := item()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if p.peek().kind != tComma {
			break
		}
		p.advance()
	}
	if _, err := p.expect(tRParen, `"," or ")"`); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *parser) anyExpr() (expr, error) { return p.expr(0, false) }

// groupStage parses by(e, ...).
func (p *parser) groupStage() (stage, error) {
	p.advance()
	by, err := p.list(p.anyExpr)
	if err != nil {
		return nil, err
	}
	return &groupStage{by: by}, nil
}

// selectStage parses select(f, ...).
func (p *parser) selectStage() (stage, error) {
	p.advance()
	fields, err := p.list(p.fieldRef)
	if err != nil {
		return nil, err
	}
	return &selectStage{fields: fields}, nil
}

// metrics parses a metrics function with its by clause.
func (p *parser) metrics(fn metricsFunc) (*metricsNode, error) {
	p.advance()
	if _, err := p.expect(tLParen, `"("`); err != nil {
		return nil, err
	}
	m := &metricsNode{fn: fn}
	if fn.takesField() {
		f, err := p.fieldRef()
		if err != nil {
			return nil, err
		}
		m.field = f
		if fn == metricsQuantile {
			if _, err := p.expect(tComma, `"," and a quantile`); err != nil {
				return nil, err
			}
			for {
				t := p.peek()
				var q float64
				switch t.kind {
				case tInt:
					q = float64(t.i)
				case tFloat:
					q = t.f
				default:
					return nil, p.expected(t, "a quantile between 0 and 1")
				}
				if !(q >= 0 && q <= 1) {
					return nil, p.expected(t, "a quantile between 0 and 1")
				}
				p.advance()
				m.quantiles = append(m.quantiles, q)
				if p.peek().kind != tComma {
					break
				}
				p.advance()
			}
		}
	}
	if _, err := p.expect(tRParen, `")"`); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tIdent && t.s == "by" {
		p.advance()
		by, err := p.list(p.fieldRef)
		if err != nil {
			return nil, err
		}
		m.by = by
	}
	return m, nil
}
