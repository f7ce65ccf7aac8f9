package traceql

import "regexp"

// Op is an operator of the language: a comparison, a logical or arithmetic
// operator of field expressions, or an operator between spansets.
type Op uint8

// The operators.
const (
	OpNone Op = iota

	OpEq       // =
	OpNeq      // !=
	OpGt       // >
	OpGte      // >=
	OpLt       // <
	OpLte      // <=
	OpRegex    // =~
	OpNotRegex // !~

	OpAnd // &&
	OpOr  // ||
	OpNot // !

	OpAdd // +
	OpSub // -
	OpMul // *
	OpDiv // /
	OpMod // %
	OpPow // ^
	OpNeg // unary -

	OpSpansetAnd      // {} && {}
	OpSpansetOr       // {} || {}
	OpDescendant      // >>
	OpChild           // >
	OpAncestor        // <<
	OpParent          // <
	OpSibling         // ~
	OpNotDescendant   // !>>
	OpNotChild        // !>
	OpNotAncestor     // !<<
	OpNotParent       // !<
	OpNotSibling      // !~
	OpUnionDescendant // &>>
	OpUnionChild      // &>
	OpUnionAncestor   // &<<
	OpUnionParent     // &<
	OpUnionSibling    // &~
)

// String returns the operator as TraceQL spells it.
func (o Op) String() string {
	switch o {
	case OpEq:
		return "="
	case OpNeq:
		return "!="
	case OpGt, OpChild:
		return ">"
	case OpGte:
		return ">="
	case OpLt, OpParent:
		return "<"
	case OpLte:
		return "<="
	case OpRegex:
		return "=~"
	case OpNotRegex, OpNotSibling:
		return "!~"
	case OpAnd, OpSpansetAnd:
		return "&&"
	case OpOr, OpSpansetOr:
		return "||"
	case OpNot:
		return "!"
	case OpAdd:
		return "+"
	case OpSub, OpNeg:
		return "-"
	case OpMul:
		return "*"
	case OpDiv:
		return "/"
	case OpMod:
		return "%"
	case OpPow:
		return "^"
	case OpDescendant:
		return ">>"
	case OpAncestor:
		return "<<"
	case OpSibling:
		return "~"
	case OpNotDescendant:
		return "!>>"
	case OpNotChild:
		return "!>"
	case OpNotAncestor:
		return "!<<"
	case OpNotParent:
		return "!<"
	case OpUnionDescendant:
		return "&>>"
	case OpUnionChild:
		return "&>"
	case OpUnionAncestor:
		return "&<<"
	case OpUnionParent:
		return "&<"
	case OpUnionSibling:
		return "&~"
	}
	return "<op>"
}

// isComparison reports whether the operator compares two field values.
func (o Op) isComparison() bool { return o >= OpEq && o <= OpNotRegex }

// isArithmetic reports whether the operator is a binary arithmetic one.
func (o Op) isArithmetic() bool { return o >= OpAdd && o <= OpPow }

// isStructural reports whether the operator relates spans by the tree.
func (o Op) isStructural() bool { return o >= OpDescendant && o <= OpUnionSibling }

// Scope says where an attribute lives, or that a field is an intrinsic.
type Scope uint8

// The scopes.
const (
	ScopeUnscoped        Scope = iota // .x: the span attribute, failing that the resource attribute
	ScopeSpan                         // span.x
	ScopeResource                     // resource.x
	ScopeEvent                        // event.x: any event of the span
	ScopeLink                         // link.x: any link of the span
	ScopeInstrumentation              // instrumentation.x: the instrumentation scope's attributes
	ScopeIntrinsic                    // name, status, span:id, ...
)

// String returns the scope as TraceQL spells it before the dot ("" for
// unscoped, "intrinsic" for intrinsics).
func (s Scope) String() string {
	switch s {
	case ScopeUnscoped:
		return ""
	case ScopeSpan:
		return "span"
	case ScopeResource:
		return "resource"
	case ScopeEvent:
		return "event"
	case ScopeLink:
		return "link"
	case ScopeInstrumentation:
		return "instrumentation"
	case ScopeIntrinsic:
		return "intrinsic"
	}
	return "scope(" + itoa(int64(s)) + ")"
}

// Intrinsic is a field every span (or its trace) has without attributes.
type Intrinsic uint8

// The intrinsics. The comment gives every accepted spelling.
const (
	IntrinsicNone                   Intrinsic = iota
	IntrinsicName                             // name, span:name
	IntrinsicStatus                           // status, span:status
	IntrinsicKind                             // kind, span:kind
	IntrinsicDuration                         // duration, span:duration
	IntrinsicStatusMessage                    // statusMessage, span:statusMessage
	IntrinsicSpanID                           // span:id
	IntrinsicParentID                         // span:parentID
	IntrinsicChildCount                       // childCount, span:childCount
	IntrinsicRootName                         // rootName, trace:rootName
	IntrinsicRootService                      // rootServiceName, trace:rootService
	IntrinsicTraceDuration                    // traceDuration, trace:duration
	IntrinsicTraceID                          // trace:id
	IntrinsicEventName                        // event:name
	IntrinsicEventTimeSinceStart              // event:timeSinceStart
	IntrinsicLinkTraceID                      // link:traceID
	IntrinsicLinkSpanID                       // link:spanID
	IntrinsicInstrumentationName              // instrumentation:name
	IntrinsicInstrumentationVersion           // instrumentation:version
)

// String returns the intrinsic's scoped spelling (span:name, trace:id).
func (in Intrinsic) String() string {
	switch in {
	case IntrinsicName:
		return "span:name"
	case IntrinsicStatus:
		return "span:status"
	case IntrinsicKind:
		return "span:kind"
	case IntrinsicDuration:
		return "span:duration"
	case IntrinsicStatusMessage:
		return "span:statusMessage"
	case IntrinsicSpanID:
		return "span:id"
	case IntrinsicParentID:
		return "span:parentID"
	case IntrinsicChildCount:
		return "span:childCount"
	case IntrinsicRootName:
		return "trace:rootName"
	case IntrinsicRootService:
		return "trace:rootService"
	case IntrinsicTraceDuration:
		return "trace:duration"
	case IntrinsicTraceID:
		return "trace:id"
	case IntrinsicEventName:
		return "event:name"
	case IntrinsicEventTimeSinceStart:
		return "event:timeSinceStart"
	case IntrinsicLinkTraceID:
		return "link:traceID"
	case IntrinsicLinkSpanID:
		return "link:spanID"
	case IntrinsicInstrumentationName:
		return "instrumentation:name"
	case IntrinsicInstrumentationVersion:
		return "instrumentation:version"
	}
	return "intrinsic(" + itoa(int64(in)) + ")"
}

// legacyName returns the unscoped spelling of the intrinsic, or "" if it
// has none.
func (in Intrinsic) legacyName() string {
	switch in {
	case IntrinsicName:
		return "name"
	case IntrinsicStatus:
		return "status"
	case IntrinsicKind:
		return "kind"
	case IntrinsicDuration:
		return "duration"
	case IntrinsicStatusMessage:
		return "statusMessage"
	case IntrinsicChildCount:
		return "childCount"
	case IntrinsicRootName:
		return "rootName"
	case IntrinsicRootService:
		return "rootServiceName"
	case IntrinsicTraceDuration:
		return "traceDuration"
	}
	return ""
}

// lookupIntrinsic resolves a spelling of an intrinsic. legacy reports the
// unscoped spelling.
func lookupIntrinsic(word string) (in Intrinsic, legacy bool) {
	for i := IntrinsicName; i <= IntrinsicInstrumentationVersion; i++ {
		if word == i.String() {
			return i, false
		}
		if l := i.legacyName(); l != "" && word == l {
			return i, true
		}
	}
	return IntrinsicNone, false
}

// perSpan reports whether the intrinsic is a property of the span alone
// (not of its trace or its place in the trace).
func (in Intrinsic) perSpan() bool {
	switch in {
	case IntrinsicChildCount, IntrinsicRootName, IntrinsicRootService, IntrinsicTraceDuration, IntrinsicTraceID:
		return false
	}
	return in != IntrinsicNone
}

// multi reports whether a span can have several values of the intrinsic
// (one per event or link).
func (in Intrinsic) multi() bool {
	switch in {
	case IntrinsicEventName, IntrinsicEventTimeSinceStart, IntrinsicLinkTraceID, IntrinsicLinkSpanID:
		return true
	}
	return false
}

// staticType returns the type every value of the intrinsic has.
func (in Intrinsic) staticType() ValueType {
	switch in {
	case IntrinsicStatus:
		return TypeStatus
	case IntrinsicKind:
		return TypeKind
	case IntrinsicDuration, IntrinsicTraceDuration, IntrinsicEventTimeSinceStart:
		return TypeDuration
	case IntrinsicChildCount:
		return TypeInt
	}
	return TypeString
}

// The abstract syntax tree. Field expressions (inside { }) and scalar
// expressions (aggregates in a pipeline) are expr; spanset expressions are
// spansetNode; a pipeline is a list of stages.

// expr is a field or scalar expression. at is its byte offset in the
// source, for errors.
type expr interface{ offset() int }

// staticExpr is a literal.
type staticExpr struct {
	v  Value
	at int
}

// attrExpr is an attribute reference.
type attrExpr struct {
	scope Scope
	name  string
	at    int
}

// intrinsicExpr is an intrinsic reference; legacy records the spelling.
type intrinsicExpr struct {
	in     Intrinsic
	legacy bool
	at     int
}

// binaryExpr is a binary operation; re is the compiled regular expression
// of =~ and !~.
type binaryExpr struct {
	op   Op
	l, r expr
	re   *regexp.Regexp
	at   int
}

// unaryExpr is ! or unary -.
type unaryExpr struct {
	op Op
	x  expr
	at int
}

// aggExpr is an aggregate of a spanset in a scalar filter: count(),
// avg(x), min(x), max(x), sum(x).
type aggExpr struct {
	fn aggFunc
	x  expr // nil for count()
	at int
}

func (e *staticExpr) offset() int    { return e.at }
func (e *attrExpr) offset() int      { return e.at }
func (e *intrinsicExpr) offset() int { return e.at }
func (e *binaryExpr) offset() int    { return e.at }
func (e *unaryExpr) offset() int     { return e.at }
func (e *aggExpr) offset() int       { return e.at }

// aggFunc is the aggregate of an aggExpr.
type aggFunc uint8

const (
	aggCount aggFunc = iota
	aggAvg
	aggMin
	aggMax
	aggSum
)

func (a aggFunc) String() string {
	switch a {
	case aggCount:
		return "count"
	case aggAvg:
		return "avg"
	case aggMin:
		return "min"
	case aggMax:
		return "max"
	case aggSum:
		return "sum"
	}
	return "agg"
}

// stage is one stage of a pipeline: a spansetNode, or one of the stage
// types below.
type stage interface{ isStage() }

// spansetNode is a spanset expression: a filter, an operation between two
// spanset expressions, or a parenthesised pipeline.
type spansetNode interface {
	stage
	isSpanset()
}

// filterNode is { e }; e is nil for { }. id numbers the filters of a query
// (for Required's groups).
type filterNode struct {
	e  expr
	id int
}

// spansetOpNode is l op r for a spanset operator.
type spansetOpNode struct {
	op   Op
	l, r spansetNode
}

// pipelineNode is stage | stage | ...; inside another expression it was
// written in parentheses.
type pipelineNode struct {
	stages []stage
}

// scalarFilter is a stage comparing aggregates: count() > 2.
type scalarFilter struct {
	op   Op
	l, r expr
}

// groupStage is by(e, ...).
type groupStage struct{ by []expr }

// selectStage is select(f, ...).
type selectStage struct{ fields []expr }

// coalesceStage is coalesce().
type coalesceStage struct{}

func (*filterNode) isStage()    {}
func (*spansetOpNode) isStage() {}
func (*pipelineNode) isStage()  {}
func (*scalarFilter) isStage()  {}
func (*groupStage) isStage()    {}
func (*selectStage) isStage()   {}
func (*coalesceStage) isStage() {}

func (*filterNode) isSpanset()    {}
func (*spansetOpNode) isSpanset() {}
func (*pipelineNode) isSpanset()  {}

// metricsFunc is the function of a metrics query.
type metricsFunc uint8

const (
	metricsRate metricsFunc = iota + 1
	metricsCount
	metricsMin
	metricsMax
	metricsAvg
	metricsSum
	metricsQuantile
	metricsHistogram
)

func (m metricsFunc) String() string {
	switch m {
	case metricsRate:
		return "rate"
	case metricsCount:
		return "count_over_time"
	case metricsMin:
		return "min_over_time"
	case metricsMax:
		return "max_over_time"
	case metricsAvg:
		return "avg_over_time"
	case metricsSum:
		return "sum_over_time"
	case metricsQuantile:
		return "quantile_over_time"
	case metricsHistogram:
		return "histogram_over_time"
	}
	return "metrics"
}

// lookupMetricsFunc resolves a metrics function name.
func lookupMetricsFunc(word string) metricsFunc {
	for m := metricsRate; m <= metricsHistogram; m++ {
		if m.String() == word {
			return m
		}
	}
	return 0
}

// takesField reports whether the function takes a field argument.
func (m metricsFunc) takesField() bool { return m != metricsRate && m != metricsCount }

// metricsNode is the last stage of a metrics query.
type metricsNode struct {
	fn        metricsFunc
	field     expr      // the argument of the *_over_time functions that take one
	quantiles []float64 // quantile_over_time's quantiles
	by        []expr    // by (f, ...)
	topk      int       // > 0: | topk(n) or | bottomk(n)
	bottom    bool      // bottomk rather than topk
}
