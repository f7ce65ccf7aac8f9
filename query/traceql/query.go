package traceql

// Query is a parsed TraceQL query, compiled for evaluation. It is
// immutable and safe for concurrent use.
type Query struct {
	pipe    *pipelineNode
	metrics *metricsNode
	filters int    // the number of filters, numbered 1..filters
	text    string // the normalised text

	run       ssFn          // the compiled pipeline
	report    []reportField // the fields returned with each matched span
	metricsBy []valFn       // the compiled by() of a metrics query
	metricsOf valFn         // the compiled argument of a *_over_time function
	byNames   []string      // the label names of the metrics by()
}

// Parse parses and compiles a TraceQL query. Its errors are *ParseError.
func Parse(src string) (*Query, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	q.text = queryString(q.pipe, q.metrics)
	q.compile()
	return q, nil
}

// String returns the query in normalised form: canonical spacing, quoting
// and parentheses. Parsing it gives a query with the same String, so it
// can serve as a cache key.
func (q *Query) String() string { return q.text }

// IsMetrics reports whether the query ends in a metrics function.
func (q *Query) IsMetrics() bool { return q.metrics != nil }
