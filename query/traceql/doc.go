// Package traceql owns the TraceQL language: its syntax (lexer, parser,
// abstract syntax tree and a normalised printer), its meaning, and its
// evaluation over one trace held in memory (Trace, Span, Value). It also
// owns what can be derived from a query without data: the aggregation of
// metrics queries into partials that merge exactly and cross nodes as bytes
// (Metrics), the conditions a trace must meet to match at all (Required,
// for predicate pushdown) and the fields a query reads (Fields, for
// projection pushdown).
//
// It must not know how traces are stored (key layout, blocks, columns),
// which actor or node runs a query, or HTTP and its parameters: the storage
// layer fills Trace values and uses Required and Fields to read less, the
// coordinator merges Metrics partials, and the API renders the results.
//
// The language is Tempo's TraceQL as its documentation describes it; the
// choices made where that documentation is silent are listed in
// docs/traceql.md. A Query is immutable after Parse and safe for concurrent
// use; a Metrics accumulator is not.
package traceql
