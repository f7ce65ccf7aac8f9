package node

import (
	"context"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP clients may gzip requests
	"google.golang.org/grpc/status"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/proto/starlingpb"
)

// newGRPCServer serves the three OTLP/gRPC services. Requests over
// MaxRequestBytes are refused by gRPC with ResourceExhausted.
func (n *Node) newGRPCServer() *grpc.Server {
	s := grpc.NewServer(grpc.MaxRecvMsgSize(int(n.cfg.MaxRequestBytes)), grpc.StatsHandler(grpcTiming{n.metrics}))
	ptraceotlp.RegisterGRPCServer(s, &traceGRPC{n: n})
	plogotlp.RegisterGRPCServer(s, &logGRPC{n: n})
	pmetricotlp.RegisterGRPCServer(s, &metricGRPC{n: n})
	return s
}

// grpcError maps an outcome to the OTLP/gRPC status: Unavailable asks the
// client to retry; a failure that a retry cannot fix is Internal.
func grpcError(out ingestOutcome) error {
	switch {
	case out.err == nil:
		return nil
	case out.retryable:
		return status.Error(codes.Unavailable, out.err.Error())
	default:
		return status.Error(codes.Internal, out.err.Error())
	}
}

type traceGRPC struct {
	ptraceotlp.UnimplementedGRPCServer
	n *Node
}

func (s *traceGRPC) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	out := s.n.ingest(ctx, &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_TRACES, Traces: req.Traces()})
	if err := grpcError(out); err != nil {
		return ptraceotlp.NewExportResponse(), err
	}
	resp := ptraceotlp.NewExportResponse()
	if out.rejected > 0 || out.message != "" {
		resp.PartialSuccess().SetRejectedSpans(int64(out.rejected))
		resp.PartialSuccess().SetErrorMessage(out.message)
	}
	return resp, nil
}

type logGRPC struct {
	plogotlp.UnimplementedGRPCServer
	n *Node
}

func (s *logGRPC) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	out := s.n.ingest(ctx, &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_LOGS, Logs: req.Logs()})
	if err := grpcError(out); err != nil {
		return plogotlp.NewExportResponse(), err
	}
	resp := plogotlp.NewExportResponse()
	if out.rejected > 0 || out.message != "" {
		resp.PartialSuccess().SetRejectedLogRecords(int64(out.rejected))
		resp.PartialSuccess().SetErrorMessage(out.message)
	}
	return resp, nil
}

type metricGRPC struct {
	pmetricotlp.UnimplementedGRPCServer
	n *Node
}

func (s *metricGRPC) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	out := s.n.ingest(ctx, &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_METRICS, Metrics: req.Metrics()})
	if err := grpcError(out); err != nil {
		return pmetricotlp.NewExportResponse(), err
	}
	resp := pmetricotlp.NewExportResponse()
	if out.rejected > 0 || out.message != "" {
		resp.PartialSuccess().SetRejectedDataPoints(int64(out.rejected))
		resp.PartialSuccess().SetErrorMessage(out.message)
	}
	return resp, nil
}
