package jaeger

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ErrInvalidQuery may be wrapped by an error a Querier returns for a query
// it refuses to run as asked (a time range longer than the node serves,
// say). The API answers such an error with 400 and its text, as Jaeger
// after v2.20.0 answers a search its storage cannot serve
// (querysvc.ErrServiceNameRequired in http_handler.go's handleError). Every
// other Querier error answers 500.
var ErrInvalidQuery = errors.New("invalid query")

// Querier is what the API reads. Every method is called from the HTTP
// server's request goroutines, so calls overlap; each gets the request's
// context (cancelled when the client goes away) and may block until then.
// The API neither modifies nor keeps the ptrace.Traces it is given.
type Querier interface {
	// Services lists the names of the services that have spans, in any order
	// (the API sorts them).
	Services(ctx context.Context) ([]string, error)

	// Operations lists span names of a service; kind "" means every kind,
	// otherwise it is one of server, client, producer, consumer, internal.
	Operations(ctx context.Context, service, kind string) ([]Operation, error)

	// FindTraces returns up to q.Limit whole traces that have one span
	// matching every condition of q, newest first. Each element holds the
	// spans of one trace (the API groups by trace ID all the same).
	FindTraces(ctx context.Context, q TraceQuery) ([]ptrace.Traces, error)

	// Trace returns every span of one trace; found false when none is
	// stored. start and end are a hint of when the trace's spans started
	// (from the request's start and end parameters); either may be zero,
	// meaning unbounded.
	Trace(ctx context.Context, id pcommon.TraceID, start, end time.Time) (td ptrace.Traces, found bool, err error)

	// Dependencies returns the service call graph of spans started in
	// [start, end]: the function Dependencies computes it from spans. Links
	// may repeat; the API sums their counts.
	Dependencies(ctx context.Context, start, end time.Time) ([]DependencyLink, error)
}

// Operation is one span name of a service and its kind.
type Operation struct {
	Name string
	// SpanKind is spelled as Jaeger spells it: server, client, producer,
	// consumer, internal, or "" for an unspecified kind.
	SpanKind string
}

// TraceQuery is the search of GET /api/traces. A trace matches when one of
// its spans meets every condition.
type TraceQuery struct {
	// Service is the span's service.name (always set: Jaeger requires it).
	Service string
	// Operation is the span name; "" means any.
	Operation string
	// Tags are key = value conditions on a span attribute or a resource
	// attribute, values compared as strings (pcommon.Value.AsString), or on
	// one of the tags the Jaeger model adds to a span and that users search
	// for: span.kind, error ("true"), otel.status_code (OK, ERROR),
	// otel.status_description, otel.scope.name, otel.scope.version and
	// w3c.tracestate (see convert.go). Nil when there is none.
	Tags map[string]string
	// MinDuration and MaxDuration bound the span's duration, both
	// inclusive; 0 means no bound. Never negative; when both are set,
	// MinDuration <= MaxDuration.
	MinDuration, MaxDuration time.Duration
	// Start and End bound the span's start time, both inclusive. Always set.
	Start, End time.Time
	// Limit is the most traces to return, at least 1.
	Limit int
}

// DependencyLink is one edge of the service graph: Parent called Child
// CallCount times.
type DependencyLink struct {
	Parent, Child string
	CallCount     uint64
}
