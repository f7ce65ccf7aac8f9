package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// ErrNotReady is returned for writes and queries a node cannot serve yet.
var ErrNotReady = errors.New("node not ready")

// ingestOutcome is the answer to one OTLP request, before a transport
// encodes it.
type ingestOutcome struct {
	accepted, rejected int
	message            string // names rejected fields; empty when none
	err                error  // set when the accepted records are not all committed
	retryable          bool
}

// ingest stores a decoded request through the frontend pool.
func (n *Node) ingest(ctx context.Context, req *actors.IngestRequest) ingestOutcome {
	sv := n.serving.Load()
	if sv == nil {
		return ingestOutcome{err: fmt.Errorf("%w: %s", ErrNotReady, n.notReadyReason()), retryable: true}
	}
	res, err := sv.frontends.Ingest(ctx, req)
	if err != nil {
		return ingestOutcome{err: err, retryable: true}
	}
	return ingestOutcome{
		accepted: res.Accepted, rejected: res.Rejected, message: res.Message,
		err: res.Err, retryable: res.Retryable,
	}
}

// receiverMetrics counts requests refused before their records could be
// counted (malformed, too large, wrong method or media type).
type receiverMetrics struct {
	refused        *prometheus.CounterVec
	requestSeconds *prometheus.HistogramVec
}

func newReceiverMetrics(reg prometheus.Registerer) *receiverMetrics {
	m := &receiverMetrics{
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_rejected_requests_total",
			Help: "OTLP requests refused whole, before decoding their records: malformed, too_large, unsupported.",
		}, []string{"signal", "transport", "reason"}),
		requestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starling_otlp_request_seconds",
			Help:    "Time from the first byte of an OTLP request to its response, decoding included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"signal", "transport"}),
	}
	reg.MustRegister(m.refused, m.requestSeconds)
	return m
}

func (m *receiverMetrics) refuse(sig starlingpb.Signal, transport, reason string) {
	m.refused.WithLabelValues(storage.SignalName(sig), transport, reason).Inc()
}
