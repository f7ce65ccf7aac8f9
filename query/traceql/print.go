package traceql

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The normalised printer. Its output parses back to the same tree, so
// String() of a parsed query is a canonical key: one space around binary
// operators and inside braces, strings in double quotes with Go escapes,
// durations in Go's notation, parentheses only where the tree needs them
// (and around && under ||, so the reading never depends on precedence).

// printer accumulates the text of a query.
type printer struct{ b strings.Builder }

// queryString prints a query.
func queryString(pipe *pipelineNode, m *metricsNode) string {
	var p printer
	p.pipeline(pipe, false)
	if m != nil {
		p.b.WriteString(" | ")
		p.metrics(m)
	}
	return p.b.String()
}

// exprString prints a field or scalar expression alone.
func exprString(e expr) string {
	var p printer
	p.expr(e, 0, false)
	return p.b.String()
}

func (p *printer) pipeline(pipe *pipelineNode, nested bool) {
	if nested {
		p.b.WriteByte('(')
	}
	for i, s := range pipe.stages {
		if i > 0 {
			p.b.WriteString(" | ")
		}
		p.stage(s)
	}
	if nested {
		p.b.WriteByte(')')
	}
}

func (p *printer) stage(s stage) {
	switch s := s.(type) {
	case spansetNode:
		p.spanset(s, 0, false)
	case *scalarFilter:
		p.expr(s.l, precCmp, false)
		p.b.WriteString(" " + s.op.String() + " ")
		p.expr(s.r, precCmp, true)
	case *groupStage:
		p.b.WriteString("by")
		p.exprList(s.by)
	case *selectStage:
		p.b.WriteString("select")
		p.exprList(s.fields)
	case *coalesceStage:
		p.b.WriteString("coalesce()")
	}
}

func (p *printer) exprList(es []expr) {
	p.b.WriteByte('(')
	for i, e := range es {
		if i > 0 {
			p.b.WriteString(", ")
		}
		p.expr(e, 0, false)
	}
	p.b.WriteByte(')')
}

// spanset prints a spanset expression that is an operand of an operator
// of strength parent (0 at the top), on its right side if right.
func (p *printer) spanset(n spansetNode, parent int, right bool) {
	switch n := n.(type) {
	case *filterNode:
		if n.e == nil {
			p.b.WriteString("{ }")
			return
		}
		p.b.WriteString("{ ")
		p.expr(n.e, 0, false)
		p.b.WriteString(" }")
	case *pipelineNode:
		p.pipeline(n, true)
	case *spansetOpNode:
		prec := spansetPrec(n.op)
		paren := prec < parent || (prec == parent && right) || (n.op == OpSpansetAnd && parent == spansetPrec(OpSpansetOr))
		if paren {
			p.b.WriteByte('(')
		}
		p.spanset(n.l, prec, false)
		p.b.WriteString(" " + n.op.String() + " ")
		p.spanset(n.r, prec, true)
		if paren {
			p.b.WriteByte(')')
		}
	}
}

// expr prints an expression that is an operand of an operator of strength
// parent (0 at the top), on its right side if right.
func (p *printer) expr(e expr, parent int, right bool) {
	switch e := e.(type) {
	case *staticExpr:
		p.b.WriteString(e.v.String())
	case *attrExpr:
		p.b.WriteString(attrString(e.scope, e.name))
	case *intrinsicExpr:
		if e.legacy {
			p.b.WriteString(e.in.legacyName())
		} else {
			p.b.WriteString(e.in.String())
		}
	case *aggExpr:
		p.b.WriteString(e.fn.String())
		p.b.WriteByte('(')
		if e.x != nil {
			p.expr(e.x, 0, false)
		}
		p.b.WriteByte(')')
	case *unaryExpr:
		if e.op == OpNot {
			paren := parent >= precCmp
			if paren {
				p.b.WriteByte('(')
			}
			p.b.WriteByte('!')
			p.operand(e.x)
			if paren {
				p.b.WriteByte(')')
			}
			return
		}
		p.b.WriteByte('-')
		p.operand(e.x)
	case *binaryExpr:
		prec := binPrec(e.op)
		paren := prec < parent || (e.op == OpAnd && parent == precOr)
		if prec == parent {
			if e.op == OpPow {
				paren = paren || !right
			} else {
				paren = paren || right
			}
		}
		if paren {
			p.b.WriteByte('(')
		}
		p.expr(e.l, prec, false)
		p.b.WriteString(" " + e.op.String() + " ")
		p.expr(e.r, prec, true)
		if paren {
			p.b.WriteByte(')')
		}
	}
}

// operand prints the operand of a unary operator: parenthesised unless it
// is a plain operand.
func (p *printer) operand(x expr) {
	switch x.(type) {
	case *binaryExpr, *unaryExpr:
		p.b.WriteByte('(')
		p.expr(x, 0, false)
		p.b.WriteByte(')')
	default:
		p.expr(x, 0, false)
	}
}

func (p *printer) metrics(m *metricsNode) {
	p.b.WriteString(m.fn.String())
	p.b.WriteByte('(')
	if m.field != nil {
		p.expr(m.field, 0, false)
	}
	for _, q := range m.quantiles {
		p.b.WriteString(", ")
		p.b.WriteString(formatFloat(q))
	}
	p.b.WriteByte(')')
	if len(m.by) > 0 {
		p.b.WriteString(" by ")
		p.exprList(m.by)
	}
	if m.topk > 0 {
		if m.bottom {
			p.b.WriteString(" | bottomk(")
		} else {
			p.b.WriteString(" | topk(")
		}
		p.b.WriteString(strconv.Itoa(m.topk))
		p.b.WriteByte(')')
	}
}

// attrString writes an attribute reference: scope, dot and the name, the
// name quoted unless every rune of it may stand unquoted.
func attrString(sc Scope, name string) string {
	return sc.String() + "." + quoteName(sc, name)
}

// quoteName quotes an attribute name when the lexer would not read it
// back unquoted.
func quoteName(sc Scope, name string) string {
	bare := name != ""
	for i, r := range name {
		if !isNameRune(r) || r == '\\' || r == utf8.RuneError || !unicode.IsGraphic(r) {
			bare = false
			break
		}
		if i == 0 && sc == ScopeUnscoped && r >= '0' && r <= '9' {
			bare = false
			break
		}
	}
	if bare {
		return name
	}
	return strconv.Quote(name)
}
