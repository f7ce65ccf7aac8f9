package traceql

import (
	"bytes"
	"slices"
)

// The tree of a trace and the spanset operators. The tree is derived from
// the spans' IDs: a span's parent is the span whose ID is its ParentID. A
// span whose parent is not in the trace is the root of a tree of its own
// (a trace may have several), so it has no ancestors and no siblings.
// Cycles, which only bad data can make, are broken where the depth-first
// walk meets them; a duplicated span ID resolves to the first span with
// it.

// traceIndex is the tree of one trace, as arrays indexed by span.
type traceIndex struct {
	parent []int32 // the parent span, -1 for a root
	pre    []int32 // position in a depth-first preorder
	size   []int32 // the number of spans of the subtree, the span included
	nchild []int32 // the number of children
}

// buildIndex derives the tree of a trace.
func buildIndex(t *Trace) traceIndex {
	n := len(t.Spans)
	mem := make([]int32, 11*n+1)
	part := func(k int) []int32 {
		s := mem[:k:k]
		mem = mem[k:]
		return s
	}
	ix := traceIndex{parent: part(n), pre: part(n), size: part(n), nchild: part(n)}
	byID, stack, cursor, start := part(n), part(n), part(n), part(n+1)
	for i := range byID {
		byID[i] = int32(i)
	}
	slices.SortStableFunc(byID, func(a, b int32) int { return bytes.Compare(t.Spans[a].ID[:], t.Spans[b].ID[:]) })
	for i := range t.Spans {
		s := &t.Spans[i]
		ix.parent[i] = -1
		if s.isRoot() {
			continue
		}
		j, found := slices.BinarySearchFunc(byID, s.ParentID, func(k int32, id [8]byte) int {
			return bytes.Compare(t.Spans[k].ID[:], id[:])
		})
		if found && byID[j] != int32(i) {
			ix.parent[i] = byID[j]
		}
	}
	// The children of each span in index order, in a CSR layout: count
	// them, then place them.
	for _, p := range ix.parent {
		if p >= 0 {
			start[p+1]++
		}
	}
	for i := 0; i < n; i++ {
		start[i+1] += start[i]
	}
	kids, fill := part(int(start[n])), part(n)
	copy(fill, start[:n])
	for i, p := range ix.parent {
		if p >= 0 {
			kids[fill[p]] = int32(i)
			fill[p]++
		}
	}
	// Preorder from every root, then from any span a cycle kept out of
	// reach (it becomes a root); a span already placed is never entered
	// twice. The stack holds (span, next child) pairs.
	for i := range ix.pre {
		ix.pre[i] = -1
	}
	next := int32(0)
	order := part(n)[:0]
	walk := func(r int32) {
		sp := 0
		stack[sp], cursor[sp] = r, start[r]
		sp++
		ix.pre[r] = next
		next++
		order = append(order, r)
		for sp > 0 {
			v := stack[sp-1]
			if cursor[sp-1] == start[v+1] {
				sp--
				continue
			}
			ch := kids[cursor[sp-1]]
			cursor[sp-1]++
			if ix.pre[ch] >= 0 {
				continue
			}
			ix.pre[ch] = next
			next++
			order = append(order, ch)
			stack[sp], cursor[sp] = ch, start[ch]
			sp++
		}
	}
	for i, p := range ix.parent {
		if p < 0 {
			walk(int32(i))
		}
	}
	for i := range ix.pre {
		if ix.pre[i] < 0 {
			ix.parent[i] = -1
			walk(int32(i))
		}
	}
	// The tree parent is the span the walk came from; an edge a cycle
	// closes is dropped. Sizes accumulate bottom-up in reverse preorder.
	for i, p := range ix.parent {
		if p >= 0 && ix.pre[p] >= ix.pre[i] {
			ix.parent[i] = -1
		}
	}
	for k := len(order) - 1; k >= 0; k-- {
		v := order[k]
		ix.size[v]++
		if p := ix.parent[v]; p >= 0 {
			ix.size[p] += ix.size[v]
			ix.nchild[p]++
		}
	}
	return ix
}

// compileSpansetOp compiles l op r. Both sides run on each input spanset;
// each side's output spansets are flattened into one set of spans; the
// operator combines the two sets into one output spanset, which carries
// the attributes of both sides.
func compileSpansetOp(n *spansetOpNode) ssFn {
	l, r, op := compileStage(n.l), compileStage(n.r), n.op
	needLeft := op != OpSpansetOr && !isNegated(op)
	return func(c *evalCtx, in []spanset) []spanset {
		var out []spanset
		for k := range in {
			one := in[k : k+1]
			ls := l(c, one)
			if needLeft && len(ls) == 0 {
				continue
			}
			rs := r(c, one)
			spans := c.combine(op, c.flatten(ls), c.flatten(rs))
			if len(spans) == 0 {
				continue
			}
			out = append(out, spanset{spans: spans, attrs: mergeAttrs(ls, rs)})
		}
		return out
	}
}

// isNegated reports whether a structural operator is a negated one.
func isNegated(op Op) bool { return op >= OpNotDescendant && op <= OpNotSibling }

// isUnion reports whether a structural operator returns both sides.
func isUnion(op Op) bool { return op >= OpUnionDescendant && op <= OpUnionSibling }

// baseRelation maps a structural operator to its plain form.
func baseRelation(op Op) Op {
	switch {
	case isNegated(op):
		return op - OpNotDescendant + OpDescendant
	case isUnion(op):
		return op - OpUnionDescendant + OpDescendant
	}
	return op
}

// converse returns the relation seen from the other side.
func converse(op Op) Op {
	switch op {
	case OpDescendant:
		return OpAncestor
	case OpAncestor:
		return OpDescendant
	case OpChild:
		return OpParent
	case OpParent:
		return OpChild
	}
	return op
}

// flatten returns the union of the spans of spansets.
func (c *evalCtx) flatten(sets []spanset) []int32 {
	switch len(sets) {
	case 0:
		return nil
	case 1:
		return sets[0].spans
	}
	u := sets[0].spans
	for _, s := range sets[1:] {
		u = c.union(u, s.spans)
	}
	return u
}

// union merges two ascending index lists.
func (c *evalCtx) union(a, b []int32) []int32 {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := c.take(len(a) + len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// combine applies a spanset operator to the flattened sides.
func (c *evalCtx) combine(op Op, a, b []int32) []int32 {
	switch op {
	case OpSpansetAnd:
		if len(a) == 0 || len(b) == 0 {
			return nil
		}
		return c.union(a, b)
	case OpSpansetOr:
		return c.union(a, b)
	}
	if len(b) == 0 || (len(a) == 0 && !isNegated(op)) {
		return nil
	}
	base := baseRelation(op)
	rel := c.related(base, a)
	picked := c.pick(b, rel, !isNegated(op))
	if !isUnion(op) || len(picked) == 0 {
		return picked
	}
	return c.union(picked, c.pick(a, c.related(converse(base), b), true))
}

// pick returns the spans of set whose mark equals want.
func (c *evalCtx) pick(set []int32, mark []bool, want bool) []int32 {
	sel := c.scratch[:0]
	for _, i := range set {
		if mark[i] == want {
			sel = append(sel, i)
		}
	}
	c.scratch = sel
	return c.keep(sel)
}

// related marks every span that stands in the relation to some span of
// set: for OpDescendant the descendants of the set, for OpChild their
// children, for OpAncestor their ancestors, for OpParent their parents,
// for OpSibling the spans with a sibling in the set. The marks are valid
// until the next call.
func (c *evalCtx) related(rel Op, set []int32) []bool {
	ix := c.index()
	n := len(c.t.Spans)
	if c.marks == nil {
		c.marks = make([]bool, 2*n)
		c.counts = make([]int32, n+1)
	}
	mark, in := c.marks[:n], c.marks[n:]
	clear(mark)
	switch rel {
	case OpDescendant:
		// Descendants of a are the spans at preorder positions
		// pre[a]+1 .. pre[a]+size[a]-1: a difference array covers them.
		cnt := c.counts
		clear(cnt)
		for _, a := range set {
			cnt[ix.pre[a]+1]++
			cnt[ix.pre[a]+ix.size[a]]--
		}
		for p := 1; p <= n; p++ {
			cnt[p] += cnt[p-1]
		}
		for x := range mark {
			mark[x] = cnt[ix.pre[x]] > 0
		}
	case OpChild:
		clear(in)
		for _, a := range set {
			in[a] = true
		}
		for x, p := range ix.parent {
			mark[x] = p >= 0 && in[p]
		}
	case OpAncestor:
		for _, a := range set {
			for p := ix.parent[a]; p >= 0 && !mark[p]; p = ix.parent[p] {
				mark[p] = true
			}
		}
	case OpParent:
		for _, a := range set {
			if p := ix.parent[a]; p >= 0 {
				mark[p] = true
			}
		}
	case OpSibling:
		cnt := c.counts
		clear(cnt)
		clear(in)
		for _, a := range set {
			in[a] = true
			if p := ix.parent[a]; p >= 0 {
				cnt[p]++
			}
		}
		for x, p := range ix.parent {
			if p < 0 {
				continue
			}
			others := cnt[p]
			if in[x] {
				others--
			}
			mark[x] = others > 0
		}
	default:
		panic("BUG: related of a non-structural operator")
	}
	return mark
}
