package tempo

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Querier is what the API reads. Every method is called from the HTTP
// server's request goroutines, so calls overlap; each gets the request's
// context (cancelled when the client goes away) and may block until then.
//
// An error wrapping ErrBadQuery answers 400 with its text (BadQuery keeps
// the text exact); ErrNotFound 404; context.Canceled 499 and
// context.DeadlineExceeded 504, as Tempo's frontend answers them; anything
// else 500. The API keeps none of the values it is given after it returns.
type Querier interface {
	// Search runs a TraceQL search. The API sorts the matches newest first
	// (by start time) and keeps at most r.Limit of them.
	Search(ctx context.Context, r SearchRequest) (SearchResult, error)
	// Trace returns the spans of one trace, found=false when there are
	// none. A zero start or end leaves that side of the range open.
	Trace(ctx context.Context, id [16]byte, start, end time.Time) (td ptrace.Traces, found bool, err error)
	// TagNames returns attribute names by scope; Scope "" means every
	// scope. The API adds the intrinsics itself (Scope is never
	// "intrinsic"), deduplicates, sorts and applies the limits.
	TagNames(ctx context.Context, r TagsRequest) ([]ScopeTags, error)
	// TagValues returns the distinct values of one attribute or intrinsic.
	// The API deduplicates and applies the limits.
	TagValues(ctx context.Context, r TagValuesRequest) ([]TagValue, error)
	// MetricsQueryRange evaluates a TraceQL metrics query on the grid
	// Start, Start+Step, ... up to End (both already aligned as Tempo
	// aligns them); r.Instant asks one interval covering [Start, End).
	MetricsQueryRange(ctx context.Context, r MetricsRequest) (MetricsResult, error)
}

// SearchRequest is one /api/search.
type SearchRequest struct {
	// Query is TraceQL, never empty: the request's q, or its legacy tags,
	// minDuration and maxDuration turned into TraceQL (see legacyTraceQL),
	// `{}` for a search with neither.
	Query string
	// Start and End are the searched range, whole seconds as Tempo takes
	// them. A search without start and end reads the last
	// Config.RecentRange up to now.
	Start, End time.Time
	// Limit is the most traces to answer, at least 1.
	Limit int
	// SpansPerSpanSet is the most spans kept per spanset, at least 1.
	SpansPerSpanSet int
}

// SearchResult is the answer of Search.
type SearchResult struct {
	// Traces are the matches, in any order.
	Traces []*starlingpb.TraceMatch
	// InspectedTraces and InspectedBytes are what the search read; they go
	// to the response's metrics.
	InspectedTraces, InspectedBytes uint64
	// TotalJobs and CompletedJobs count the search's parts (partitions);
	// they go to the response's metrics.
	TotalJobs, CompletedJobs int
}

// TagsRequest is one /api/search/tags or /api/v2/search/tags.
type TagsRequest struct {
	// Scope is "" (every scope), "span", "resource", "event", "link",
	// "instrumentation" or "trace".
	Scope string
	// Query is TraceQL restricting the spans whose attributes count (v2
	// only; may be incomplete, as Grafana sends what the user typed).
	// Tempo answers 400 only when it holds too many condition groups.
	Query string
	// Start and End are the read range (see SearchRequest).
	Start, End time.Time
	// Limit is the most names per scope, 0 for no limit; a hint, applied
	// again by the API.
	Limit int
}

// ScopeTags are the attribute names of one scope.
type ScopeTags struct {
	Scope string
	Tags  []string
}

// TagValuesRequest is one /api/search/tag/{tag}/values or
// /api/v2/search/tag/{tag}/values.
type TagValuesRequest struct {
	// Tag is a TraceQL identifier: a scoped or unscoped attribute
	// (resource.service.name, span.http.method, .service.name) or an
	// intrinsic (name, status, span:name, ...). The v1 endpoint's plain
	// names are translated (see v1TagIdentifier).
	Tag string
	// Query is TraceQL restricting the spans whose values count (v2 only;
	// may be incomplete, and Tempo then answers the unfiltered values).
	Query string
	// Start and End are the read range (see SearchRequest).
	Start, End time.Time
	// Limit is the most values, 0 for no limit; a hint, applied again by
	// the API.
	Limit int
}

// TagValue is one value and its type as Tempo names it: string, int,
// float, bool, duration, status, kind or keyword.
type TagValue struct {
	Type, Value string
}

// MetricsRequest is one /api/metrics/query_range or /api/metrics/query.
type MetricsRequest struct {
	// Query is TraceQL with a metrics pipeline. Its hints (with(...)) are
	// the evaluator's, including exemplars=..., which Tempo lets override
	// Exemplars.
	Query string
	// Start, End and Step define the grid, in nanoseconds.
	Start, End time.Time
	Step       time.Duration
	// Exemplars is the most exemplars to return, 0 for none.
	Exemplars int
	// Instant asks a single interval [Start, End) (Step is End-Start).
	Instant bool
}

// MetricsResult is the answer of MetricsQueryRange.
type MetricsResult struct {
	Series                          []Series
	InspectedTraces, InspectedBytes uint64
}

// Series is one time series of a metrics query.
type Series struct {
	Labels    []Label
	Samples   []Sample
	Exemplars []Exemplar
}

// Label is one label of a series or an exemplar. Value is a string,
// int64, float64, bool or time.Duration (written as its String, as Tempo
// writes durations); anything else is written with fmt.Sprint.
type Label struct {
	Key   string
	Value any
}

// Sample is one point of a series; NaN values are dropped, as Tempo
// drops them.
type Sample struct {
	TimestampMs int64
	Value       float64
}

// Exemplar is one exemplar of a series.
type Exemplar struct {
	Labels      []Label
	Value       float64
	TimestampMs int64
}
