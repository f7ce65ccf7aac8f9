package traceql

import (
	"cmp"
	"slices"
)

// Projection pushdown. Fields lists what a query reads, so that a storage
// layer can decode only those columns.

// Field is an attribute or an intrinsic a query reads.
type Field struct {
	Scope     Scope     // ScopeIntrinsic for intrinsics
	Name      string    // the attribute key; for an intrinsic its scoped spelling
	Intrinsic Intrinsic // for ScopeIntrinsic
}

// Fields returns the attributes and intrinsics the query reads, sorted by
// scope and name, each once. A ScopeUnscoped field reads both the span and
// the resource attribute of that name; event and link fields read the
// span's events or links. The span and trace IDs, the parent ID and the
// start and end times are always needed and are not listed (but the
// intrinsics that expose them are, when the query names them); the root
// name and service read the root span's name and resource service.name,
// which are listed then.
func (q *Query) Fields() []Field {
	var out []Field
	add := func(f Field) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	visit := func(e expr) {
		walkExpr(e, func(e expr) {
			switch e := e.(type) {
			case *attrExpr:
				add(Field{Scope: e.scope, Name: e.name})
			case *intrinsicExpr:
				add(Field{Scope: ScopeIntrinsic, Name: e.in.String(), Intrinsic: e.in})
				switch e.in {
				case IntrinsicRootName:
					add(Field{Scope: ScopeIntrinsic, Name: IntrinsicName.String(), Intrinsic: IntrinsicName})
				case IntrinsicRootService:
					add(Field{Scope: ScopeResource, Name: "service.name"})
				}
			}
		})
	}
	walkPipeline(q.pipe, func(s stage) {
		switch s := s.(type) {
		case *filterNode:
			visit(s.e)
		case *scalarFilter:
			visit(s.l)
			visit(s.r)
		case *groupStage:
			for _, e := range s.by {
				visit(e)
			}
		case *selectStage:
			for _, e := range s.fields {
				visit(e)
			}
		}
	})
	if m := q.metrics; m != nil {
		visit(m.field)
		for _, e := range m.by {
			visit(e)
		}
	}
	slices.SortFunc(out, func(a, b Field) int {
		if c := cmp.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// NeedsTree reports whether evaluation needs the parent/child links of
// the whole trace: structural operators, childCount, and the trace-level
// intrinsics (root name and service, trace duration) need every span of a
// trace, not only those that match a filter.
func (q *Query) NeedsTree() bool {
	need := false
	walkPipeline(q.pipe, func(s stage) {
		if op, ok := s.(*spansetOpNode); ok && op.op.isStructural() {
			need = true
		}
		var exprs []expr
		switch s := s.(type) {
		case *filterNode:
			exprs = []expr{s.e}
		case *groupStage:
			exprs = s.by
		case *selectStage:
			exprs = s.fields
		case *scalarFilter:
			exprs = []expr{s.l, s.r}
		}
		for _, e := range exprs {
			walkExpr(e, func(e expr) {
				if in, ok := e.(*intrinsicExpr); ok && !in.in.perSpan() && in.in != IntrinsicTraceID {
					need = true
				}
			})
		}
	})
	if m := q.metrics; m != nil {
		for _, e := range append([]expr{m.field}, m.by...) {
			walkExpr(e, func(e expr) {
				if in, ok := e.(*intrinsicExpr); ok && !in.in.perSpan() && in.in != IntrinsicTraceID {
					need = true
				}
			})
		}
	}
	return need
}
