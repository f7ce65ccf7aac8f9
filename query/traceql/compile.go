package traceql

import (
	"encoding/hex"
	"time"
)

// Field expressions are compiled once, at Parse, into closures over the
// evaluation context and a span index: attribute keys, literals, operators
// and regular expressions are resolved, and comparisons of a field with a
// literal get a closure of their own that reads the field in place, so the
// common filter allocates nothing per span.

// valFn computes an expression's value on span i of the context's trace.
type valFn func(c *evalCtx, i int32) Value

// boolFn decides a condition on span i of the context's trace.
type boolFn func(c *evalCtx, i int32) bool

// compileVal compiles a field expression to its value.
func compileVal(e expr) valFn {
	switch e := e.(type) {
	case *staticExpr:
		v := e.v
		return func(*evalCtx, int32) Value { return v }
	case *attrExpr:
		return attrVal(e.scope, e.name)
	case *intrinsicExpr:
		return intrinsicVal(e.in)
	case *unaryExpr:
		if e.op == OpNot {
			x := compileBool(e.x)
			return func(c *evalCtx, i int32) Value { return BoolValue(!x(c, i)) }
		}
		x := compileVal(e.x)
		return func(c *evalCtx, i int32) Value { return negate(x(c, i)) }
	case *binaryExpr:
		if e.op.isArithmetic() {
			l, r, op := compileVal(e.l), compileVal(e.r), e.op
			return func(c *evalCtx, i int32) Value { return arith(op, l(c, i), r(c, i)) }
		}
		b := compileBool(e)
		return func(c *evalCtx, i int32) Value { return BoolValue(b(c, i)) }
	}
	panic("BUG: compileVal of an aggregate or unknown expression")
}

// compileBool compiles a condition.
func compileBool(e expr) boolFn {
	switch e := e.(type) {
	case *staticExpr:
		b := truthy(e.v)
		return func(*evalCtx, int32) bool { return b }
	case *unaryExpr:
		if e.op == OpNot {
			x := compileBool(e.x)
			return func(c *evalCtx, i int32) bool { return !x(c, i) }
		}
	case *binaryExpr:
		switch {
		case e.op == OpAnd:
			l, r := compileBool(e.l), compileBool(e.r)
			return func(c *evalCtx, i int32) bool { return l(c, i) && r(c, i) }
		case e.op == OpOr:
			l, r := compileBool(e.l), compileBool(e.r)
			return func(c *evalCtx, i int32) bool { return l(c, i) || r(c, i) }
		case e.op.isComparison():
			return compileCompare(e)
		}
	}
	v := compileVal(e)
	return func(c *evalCtx, i int32) bool { return truthy(v(c, i)) }
}

func isNilStatic(e expr) bool {
	s, ok := e.(*staticExpr)
	return ok && s.v.t == TypeNil
}

// compileCompare compiles a comparison.
func compileCompare(b *binaryExpr) boolFn {
	op, l, r := b.op, b.l, b.r
	if op == OpRegex || op == OpNotRegex {
		return compileRegex(l, b)
	}
	if isNilStatic(l) && !isNilStatic(r) {
		l, r = r, l
	}
	if isNilStatic(r) {
		present := compilePresent(l)
		switch op {
		case OpEq:
			return func(c *evalCtx, i int32) bool { return !present(c, i) }
		case OpNeq:
			return present
		}
		return func(*evalCtx, int32) bool { return false }
	}
	if _, ok := l.(*staticExpr); ok {
		if _, ok := r.(*staticExpr); !ok {
			l, r, op = r, l, flip(op)
		}
	}
	if s, ok := r.(*staticExpr); ok {
		switch f := l.(type) {
		case *attrExpr:
			return attrCompare(f.scope, f.name, op, s.v)
		case *intrinsicExpr:
			return intrinsicCompare(f.in, op, s.v)
		}
	}
	lv, rv := compileVal(l), compileVal(r)
	return func(c *evalCtx, i int32) bool { return compareValues(op, lv(c, i), rv(c, i)) }
}

// compileRegex compiles =~ and !~; a multi-valued field matches if any of
// its values does.
func compileRegex(l expr, b *binaryExpr) boolFn {
	re, neg := b.re, b.op == OpNotRegex
	if m := multiField(l); m != nil {
		return func(c *evalCtx, i int32) bool {
			s := &c.t.Spans[i]
			for j, n := 0, m.count(s); j < n; j++ {
				if v, ok := m.at(s, j); ok && matchRegex(re, neg, v) {
					return true
				}
			}
			return false
		}
	}
	lv := compileVal(l)
	return func(c *evalCtx, i int32) bool { return matchRegex(re, neg, lv(c, i)) }
}

// compilePresent compiles "the expression is not nil"; a multi-valued
// field is present if any event or link has it.
func compilePresent(e expr) boolFn {
	if a, ok := e.(*attrExpr); ok {
		key := a.name
		switch a.scope {
		case ScopeSpan:
			return func(c *evalCtx, i int32) bool { _, ok := lookupAttr(c.t.Spans[i].Attrs, key); return ok }
		case ScopeResource:
			return func(c *evalCtx, i int32) bool { _, ok := lookupAttr(c.t.Spans[i].Resource, key); return ok }
		}
	}
	if m := multiField(e); m != nil {
		return func(c *evalCtx, i int32) bool {
			s := &c.t.Spans[i]
			for j, n := 0, m.count(s); j < n; j++ {
				if _, ok := m.at(s, j); ok {
					return true
				}
			}
			return false
		}
	}
	v := compileVal(e)
	return func(c *evalCtx, i int32) bool { return v(c, i).t != TypeNil }
}

// multi reads a field of which a span has one value per event or link.
type multi struct {
	count func(s *Span) int
	at    func(s *Span, j int) (Value, bool)
}

// multiField returns the reader of a multi-valued field, or nil if the
// expression is not one.
func multiField(e expr) *multi {
	switch e := e.(type) {
	case *attrExpr:
		key := e.name
		switch e.scope {
		case ScopeEvent:
			return &multi{
				count: func(s *Span) int { return len(s.Events) },
				at:    func(s *Span, j int) (Value, bool) { return lookupAttr(s.Events[j].Attrs, key) },
			}
		case ScopeLink:
			return &multi{
				count: func(s *Span) int { return len(s.Links) },
				at:    func(s *Span, j int) (Value, bool) { return lookupAttr(s.Links[j].Attrs, key) },
			}
		}
	case *intrinsicExpr:
		events := func(s *Span) int { return len(s.Events) }
		links := func(s *Span) int { return len(s.Links) }
		switch e.in {
		case IntrinsicEventName:
			return &multi{count: events, at: func(s *Span, j int) (Value, bool) { return StringValue(s.Events[j].Name), true }}
		case IntrinsicEventTimeSinceStart:
			return &multi{count: events, at: func(s *Span, j int) (Value, bool) {
				return DurationValue(time.Duration(s.Events[j].Time - s.Start)), true
			}}
		case IntrinsicLinkTraceID:
			return &multi{count: links, at: func(s *Span, j int) (Value, bool) {
				return StringValue(hex.EncodeToString(s.Links[j].TraceID[:])), true
			}}
		case IntrinsicLinkSpanID:
			return &multi{count: links, at: func(s *Span, j int) (Value, bool) {
				return StringValue(hex.EncodeToString(s.Links[j].SpanID[:])), true
			}}
		}
	}
	return nil
}

// attrVal reads an attribute; event and link attributes read the first
// event or link that has the key.
func attrVal(sc Scope, key string) valFn {
	switch sc {
	case ScopeSpan:
		return func(c *evalCtx, i int32) Value { v, _ := lookupAttr(c.t.Spans[i].Attrs, key); return v }
	case ScopeResource:
		return func(c *evalCtx, i int32) Value { v, _ := lookupAttr(c.t.Spans[i].Resource, key); return v }
	case ScopeInstrumentation:
		return func(c *evalCtx, i int32) Value { v, _ := lookupAttr(c.t.Spans[i].ScopeAttrs, key); return v }
	case ScopeUnscoped:
		return func(c *evalCtx, i int32) Value { return unscoped(&c.t.Spans[i], key) }
	}
	m := multiField(&attrExpr{scope: sc, name: key})
	return func(c *evalCtx, i int32) Value { return firstOf(m, &c.t.Spans[i]) }
}

// unscoped implements .key: the span attribute if the span has it, else
// the resource attribute.
func unscoped(s *Span, key string) Value {
	if v, ok := lookupAttr(s.Attrs, key); ok {
		return v
	}
	v, _ := lookupAttr(s.Resource, key)
	return v
}

// firstOf returns the first value of a multi-valued field, or nil.
func firstOf(m *multi, s *Span) Value {
	for j, n := 0, m.count(s); j < n; j++ {
		if v, ok := m.at(s, j); ok {
			return v
		}
	}
	return Value{}
}

// attrCompare compiles a comparison of an attribute with a literal.
func attrCompare(sc Scope, key string, op Op, lit Value) boolFn {
	if op == OpEq && lit.t == TypeString && (sc == ScopeSpan || sc == ScopeResource) {
		// The most common condition of all gets a closure of its own.
		want, resource := lit.Str(), sc == ScopeResource
		return func(c *evalCtx, i int32) bool {
			attrs := c.t.Spans[i].Attrs
			if resource {
				attrs = c.t.Spans[i].Resource
			}
			for j := range attrs {
				if attrs[j].Key == key {
					v := attrs[j].Value
					if v.t == TypeString {
						return v.Str() == want
					}
					return compareValues(op, v, lit)
				}
			}
			return false
		}
	}
	switch sc {
	case ScopeSpan:
		return func(c *evalCtx, i int32) bool {
			v, ok := lookupAttr(c.t.Spans[i].Attrs, key)
			return ok && compareValues(op, v, lit)
		}
	case ScopeResource:
		return func(c *evalCtx, i int32) bool {
			v, ok := lookupAttr(c.t.Spans[i].Resource, key)
			return ok && compareValues(op, v, lit)
		}
	case ScopeInstrumentation:
		return func(c *evalCtx, i int32) bool {
			v, ok := lookupAttr(c.t.Spans[i].ScopeAttrs, key)
			return ok && compareValues(op, v, lit)
		}
	case ScopeUnscoped:
		return func(c *evalCtx, i int32) bool { return compareValues(op, unscoped(&c.t.Spans[i], key), lit) }
	}
	return multiCompare(multiField(&attrExpr{scope: sc, name: key}), op, lit)
}

// multiCompare compiles a comparison of a multi-valued field with a
// literal: true if any value satisfies it.
func multiCompare(m *multi, op Op, lit Value) boolFn {
	return func(c *evalCtx, i int32) bool {
		s := &c.t.Spans[i]
		for j, n := 0, m.count(s); j < n; j++ {
			if v, ok := m.at(s, j); ok && compareValues(op, v, lit) {
				return true
			}
		}
		return false
	}
}

// intrinsicCompare compiles a comparison of an intrinsic with a literal.
// Identifiers compared with = and != against a string compare bytes: the
// string must be the lowercase hex form of the identifier.
func intrinsicCompare(in Intrinsic, op Op, lit Value) boolFn {
	switch in {
	case IntrinsicName:
		if op == OpEq && lit.t == TypeString {
			s := lit.Str()
			return func(c *evalCtx, i int32) bool { return c.t.Spans[i].Name == s }
		}
	case IntrinsicStatus:
		if lit.t == TypeStatus && (op == OpEq || op == OpNeq) {
			want, eq := lit.Status(), op == OpEq
			return func(c *evalCtx, i int32) bool { return (c.t.Spans[i].Status == want) == eq }
		}
	case IntrinsicKind:
		if lit.t == TypeKind && (op == OpEq || op == OpNeq) {
			want, eq := lit.Kind(), op == OpEq
			return func(c *evalCtx, i int32) bool { return (c.t.Spans[i].Kind == want) == eq }
		}
	case IntrinsicDuration:
		if lit.t == TypeDuration {
			d := int64(lit.n)
			return func(c *evalCtx, i int32) bool {
				s := &c.t.Spans[i]
				return ordered(op, cmpInt(s.End-s.Start, d))
			}
		}
	case IntrinsicSpanID, IntrinsicParentID, IntrinsicTraceID, IntrinsicLinkSpanID, IntrinsicLinkTraceID:
		if lit.t == TypeString && (op == OpEq || op == OpNeq) {
			return idCompare(in, op == OpEq, lit.Str())
		}
	}
	if m := multiField(&intrinsicExpr{in: in}); m != nil {
		return multiCompare(m, op, lit)
	}
	v := intrinsicVal(in)
	return func(c *evalCtx, i int32) bool { return compareValues(op, v(c, i), lit) }
}

// decodeID decodes the lowercase hex form of an identifier of n bytes.
func decodeID(s string, n int) ([]byte, bool) {
	if len(s) != 2*n {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
			return nil, false
		}
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}

// idCompare compiles id = "hex" (eq) or id != "hex".
func idCompare(in Intrinsic, eq bool, s string) boolFn {
	width := 8
	if in == IntrinsicTraceID || in == IntrinsicLinkTraceID {
		width = 16
	}
	raw, valid := decodeID(s, width)
	var want8 [8]byte
	var want16 [16]byte
	copy(want8[:], raw)
	copy(want16[:], raw)
	switch in {
	case IntrinsicSpanID:
		return func(c *evalCtx, i int32) bool { return (valid && c.t.Spans[i].ID == want8) == eq }
	case IntrinsicParentID:
		return func(c *evalCtx, i int32) bool {
			sp := &c.t.Spans[i]
			return !sp.isRoot() && (valid && sp.ParentID == want8) == eq
		}
	case IntrinsicTraceID:
		return func(c *evalCtx, i int32) bool { return (valid && c.t.ID == want16) == eq }
	case IntrinsicLinkSpanID:
		return func(c *evalCtx, i int32) bool {
			for _, l := range c.t.Spans[i].Links {
				if (valid && l.SpanID == want8) == eq {
					return true
				}
			}
			return false
		}
	}
	return func(c *evalCtx, i int32) bool {
		for _, l := range c.t.Spans[i].Links {
			if (valid && l.TraceID == want16) == eq {
				return true
			}
		}
		return false
	}
}

// intrinsicVal reads an intrinsic. Identifiers are lowercase hex strings;
// the parent ID of a root span, and the root name and service of a trace
// without a root, are nil; multi-valued intrinsics give their first value.
func intrinsicVal(in Intrinsic) valFn {
	switch in {
	case IntrinsicName:
		return func(c *evalCtx, i int32) Value { return StringValue(c.t.Spans[i].Name) }
	case IntrinsicStatus:
		return func(c *evalCtx, i int32) Value { return StatusValue(c.t.Spans[i].Status) }
	case IntrinsicKind:
		return func(c *evalCtx, i int32) Value { return KindValue(c.t.Spans[i].Kind) }
	case IntrinsicDuration:
		return func(c *evalCtx, i int32) Value {
			s := &c.t.Spans[i]
			return DurationValue(time.Duration(s.End - s.Start))
		}
	case IntrinsicStatusMessage:
		return func(c *evalCtx, i int32) Value { return StringValue(c.t.Spans[i].StatusMessage) }
	case IntrinsicSpanID:
		return func(c *evalCtx, i int32) Value { return StringValue(hex.EncodeToString(c.t.Spans[i].ID[:])) }
	case IntrinsicParentID:
		return func(c *evalCtx, i int32) Value {
			s := &c.t.Spans[i]
			if s.isRoot() {
				return Value{}
			}
			return StringValue(hex.EncodeToString(s.ParentID[:]))
		}
	case IntrinsicChildCount:
		return func(c *evalCtx, i int32) Value { return IntValue(int64(c.index().nchild[i])) }
	case IntrinsicRootName:
		return func(c *evalCtx, i int32) Value {
			if r := c.info().root; r >= 0 {
				return StringValue(c.t.Spans[r].Name)
			}
			return Value{}
		}
	case IntrinsicRootService:
		return func(c *evalCtx, i int32) Value {
			if r := c.info().root; r >= 0 {
				v, _ := c.t.Spans[r].serviceName()
				return v
			}
			return Value{}
		}
	case IntrinsicTraceDuration:
		return func(c *evalCtx, i int32) Value { return DurationValue(time.Duration(c.info().duration)) }
	case IntrinsicTraceID:
		return func(c *evalCtx, i int32) Value { return StringValue(c.info().id) }
	case IntrinsicInstrumentationName:
		return func(c *evalCtx, i int32) Value { return StringValue(c.t.Spans[i].ScopeName) }
	case IntrinsicInstrumentationVersion:
		return func(c *evalCtx, i int32) Value { return StringValue(c.t.Spans[i].ScopeVersion) }
	}
	if m := multiField(&intrinsicExpr{in: in}); m != nil {
		return func(c *evalCtx, i int32) Value { return firstOf(m, &c.t.Spans[i]) }
	}
	panic("BUG: intrinsicVal of an unknown intrinsic")
}
