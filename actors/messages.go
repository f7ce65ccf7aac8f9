package actors

import (
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// Messages that never leave the node. Everything that may cross nodes is a
// protobuf of proto/starlingpb.

// IngestRequest asks a frontend to store one decoded OTLP request, or a
// Prometheus-model write (remote write). Exactly one of Traces, Logs,
// Metrics and Prom is set, matching Signal (Prom is a metrics write). The
// frontend answers the sender with an *IngestResult. A Prom write is
// refused whole when one series is invalid.
type IngestRequest struct {
	Signal  starlingpb.Signal
	Traces  ptrace.Traces
	Logs    plog.Logs
	Metrics pmetric.Metrics
	Prom    *tsdb.WriteRequest
}

// IngestResult answers an IngestRequest. When Err is nil every accepted
// record is committed; rejected records were written nowhere.
type IngestResult struct {
	Accepted int
	Rejected int
	// Reasons counts rejected records by reason.
	Reasons map[string]int
	// Message names the fields of the first rejected records and why.
	Message string
	// Err is set when the accepted records could not all be committed; the
	// client should retry when Retryable.
	Err       error
	Retryable bool
}

// requestTimeout tells a frontend that a request's deadline passed.
type requestTimeout struct{ id uint64 }

// tableChanged tells the partition manager to reconcile with the table.
type tableChanged struct{}

// assignment tells a partition actor its current epoch, role and row.
type assignment struct {
	epoch uint64
	role  starlingpb.Role
	row   *starlingpb.Partition
}

// endpointDown tells a frontend that the actor remote lost a node.
type endpointDown struct{ addr string }
