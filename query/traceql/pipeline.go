package traceql

import (
	"encoding/binary"
	"math"
	"time"
)

// The pipeline stages other than filters: scalar filters over aggregates,
// by(), coalesce(). select() changes no spanset; its fields are reported
// with each span (see Query.compile).

// scalarFn computes a scalar expression on a spanset.
type scalarFn func(c *evalCtx, ss *spanset) Value

// compileScalarFilter compiles a scalar filter such as count() > 2: the
// spansets for which the comparison holds, each with the values of the
// filter's aggregates added to its attributes.
func compileScalarFilter(f *scalarFilter) ssFn {
	l, r, op := compileScalar(f.l), compileScalar(f.r), f.op
	type named struct {
		key string
		fn  scalarFn
	}
	var aggs []named
	for _, side := range []expr{f.l, f.r} {
		walkExpr(side, func(e expr) {
			if a, ok := e.(*aggExpr); ok {
				aggs = append(aggs, named{key: exprString(a), fn: compileScalar(a)})
			}
		})
	}
	return func(c *evalCtx, in []spanset) []spanset {
		var out []spanset
		for k := range in {
			ss := &in[k]
			if !compareValues(op, l(c, ss), r(c, ss)) {
				continue
			}
			attrs := ss.attrs
			for _, a := range aggs {
				attrs = setAttr(attrs, a.key, a.fn(c, ss))
			}
			out = append(out, spanset{spans: ss.spans, attrs: attrs})
		}
		return out
	}
}

// setAttr returns attrs with key set to v, never writing into the array
// behind attrs (spansets may share it).
func setAttr(attrs []Attr, key string, v Value) []Attr {
	out := make([]Attr, len(attrs), len(attrs)+1)
	copy(out, attrs)
	for i := range out {
		if out[i].Key == key {
			out[i].Value = v
			return out
		}
	}
	return append(out, Attr{Key: key, Value: v})
}

// mergeAttrs returns the attributes of all the spansets, the first value
// of a key winning.
func mergeAttrs(sides ...[]spanset) []Attr {
	var first []Attr
	n, distinct := 0, false
	for _, sets := range sides {
		for _, s := range sets {
			if len(s.attrs) == 0 {
				continue
			}
			if first == nil {
				first = s.attrs
			} else if &s.attrs[0] != &first[0] || len(s.attrs) != len(first) {
				distinct = true
			}
			n += len(s.attrs)
		}
	}
	if !distinct {
		return first
	}
	out := make([]Attr, 0, n)
	for _, sets := range sides {
		for _, s := range sets {
			for _, a := range s.attrs {
				if _, dup := lookupAttr(out, a.Key); !dup {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// compileScalar compiles a scalar expression over a spanset.
func compileScalar(e expr) scalarFn {
	switch e := e.(type) {
	case *staticExpr:
		v := e.v
		return func(*evalCtx, *spanset) Value { return v }
	case *aggExpr:
		if e.fn == aggCount {
			return func(_ *evalCtx, ss *spanset) Value { return IntValue(int64(len(ss.spans))) }
		}
		x, fn := compileVal(e.x), e.fn
		return func(c *evalCtx, ss *spanset) Value { return aggregate(c, fn, x, ss.spans) }
	case *unaryExpr:
		x := compileScalar(e.x)
		if e.op == OpNot {
			return func(c *evalCtx, ss *spanset) Value { return BoolValue(!truthy(x(c, ss))) }
		}
		return func(c *evalCtx, ss *spanset) Value { return negate(x(c, ss)) }
	case *binaryExpr:
		l, r, op := compileScalar(e.l), compileScalar(e.r), e.op
		if op.isArithmetic() {
			return func(c *evalCtx, ss *spanset) Value { return arith(op, l(c, ss), r(c, ss)) }
		}
		return func(c *evalCtx, ss *spanset) Value { return BoolValue(compareValues(op, l(c, ss), r(c, ss))) }
	}
	panic("BUG: compileScalar of a field expression")
}

// aggregate computes avg, min, max or sum of x over the spans. The first
// numeric value decides the kind: durations aggregate only durations,
// numbers only ints and floats; other values are skipped. sum of ints is
// an int, avg of numbers a float, min and max keep the value's type;
// durations stay durations. No value at all gives nil.
func aggregate(c *evalCtx, fn aggFunc, x valFn, spans []int32) Value {
	var (
		n       int
		dur     bool
		allInt  = true
		isum    int64
		fsum    float64
		best    Value
		bestNum float64
	)
	for _, i := range spans {
		v := x(c, i)
		switch {
		case n == 0 && v.t == TypeDuration:
			dur = true
		case n == 0 && v.isNumber():
		case dur && v.t == TypeDuration:
		case !dur && n > 0 && v.isNumber():
		default:
			continue
		}
		var f float64
		if dur {
			f = float64(int64(v.n))
			isum += int64(v.n)
		} else {
			f = v.Float()
			if v.t == TypeInt {
				isum += int64(v.n)
			} else {
				allInt = false
			}
		}
		fsum += f
		if n == 0 || (fn == aggMin && f < bestNum) || (fn == aggMax && f > bestNum) {
			best, bestNum = v, f
		}
		n++
	}
	if n == 0 {
		return Value{}
	}
	switch fn {
	case aggMin, aggMax:
		return best
	case aggSum:
		switch {
		case dur:
			return DurationValue(time.Duration(isum))
		case allInt:
			return IntValue(isum)
		}
		return FloatValue(fsum)
	}
	if dur {
		return DurationValue(time.Duration(math.Round(fsum / float64(n))))
	}
	return FloatValue(fsum / float64(n))
}

// compileGroup compiles by(e, ...): each input spanset splits into one
// spanset per distinct combination of the values (nil included), in the
// order of first appearance, each with a "by(e)" attribute per
// expression.
func compileGroup(g *groupStage) ssFn {
	fns := make([]valFn, len(g.by))
	keys := make([]string, len(g.by))
	for i, e := range g.by {
		fns[i], keys[i] = compileVal(e), "by("+exprString(e)+")"
	}
	return func(c *evalCtx, in []spanset) []spanset {
		var out []spanset
		vals := make([]Value, len(fns))
		for k := range in {
			ss := &in[k]
			index := map[string]int{}
			first := len(out)
			for _, i := range ss.spans {
				c.keybuf = c.keybuf[:0]
				for j, f := range fns {
					vals[j] = f(c, i)
					c.keybuf = appendValue(c.keybuf, vals[j])
				}
				g, ok := index[string(c.keybuf)]
				if !ok {
					g = len(out) - first
					index[string(c.keybuf)] = g
					attrs := make([]Attr, len(ss.attrs), len(ss.attrs)+len(fns))
					copy(attrs, ss.attrs)
					for j := range fns {
						attrs = setAttrInPlace(attrs, keys[j], vals[j])
					}
					out = append(out, spanset{attrs: attrs})
				}
				out[first+g].spans = append(out[first+g].spans, i)
			}
		}
		return out
	}
}

// setAttrInPlace sets key to v in attrs it owns.
func setAttrInPlace(attrs []Attr, key string, v Value) []Attr {
	for i := range attrs {
		if attrs[i].Key == key {
			attrs[i].Value = v
			return attrs
		}
	}
	return append(attrs, Attr{Key: key, Value: v})
}

// compileCoalesce compiles coalesce(): all input spansets become one.
func compileCoalesce() ssFn {
	return func(c *evalCtx, in []spanset) []spanset {
		if len(in) <= 1 {
			return in
		}
		return []spanset{{spans: c.flatten(in), attrs: mergeAttrs(in)}}
	}
}

// appendValue appends a self-delimiting binary encoding of a value: its
// type, then its contents. Equal values (Value.Equal) encode equally.
func appendValue(b []byte, v Value) []byte {
	b = append(b, byte(v.t))
	switch v.t {
	case TypeNil:
	case TypeString:
		b = binary.AppendUvarint(b, v.n)
		b = append(b, v.Str()...)
	case TypeStringArray:
		b = binary.AppendUvarint(b, v.n)
		for _, s := range v.Strings() {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
	case TypeIntArray:
		b = binary.AppendUvarint(b, v.n)
		for _, x := range v.Ints() {
			b = binary.AppendVarint(b, x)
		}
	case TypeFloatArray:
		b = binary.AppendUvarint(b, v.n)
		for _, x := range v.Floats() {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
	case TypeBoolArray:
		b = binary.AppendUvarint(b, v.n)
		for _, x := range v.Bools() {
			if x {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	case TypeFloat:
		b = binary.LittleEndian.AppendUint64(b, v.n)
	default:
		b = binary.AppendVarint(b, int64(v.n))
	}
	return b
}
