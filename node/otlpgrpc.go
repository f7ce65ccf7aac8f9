package node

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // OTLP clients may gzip requests
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/proto/starlingpb"
)

// OTLP/gRPC. The three Export services are registered with a codec that
// hands the handlers the raw message, so that the handlers decode it: a
// malformed request then gets InvalidArgument naming what is wrong (gRPC's
// own decoding answers Internal) and is counted. Requests over
// MaxRequestBytes are refused by gRPC with ResourceExhausted.

// rawMessage is a message as bytes on the wire.
type rawMessage struct{ b []byte }

// rawCodec passes rawMessages through unchanged.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*rawMessage)
	if !ok {
		return nil, fmt.Errorf("BUG: OTLP codec asked to marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(m.b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*rawMessage)
	if !ok {
		return fmt.Errorf("BUG: OTLP codec asked to unmarshal into %T", v)
	}
	m.b = data.Materialize()
	return nil
}

// otlpService describes one OTLP Export service.
type otlpService struct {
	name   string
	signal starlingpb.Signal
	// decode parses a request; respond encodes the answer to a stored one.
	decode  func(b []byte) (*actors.IngestRequest, error)
	respond func(out ingestOutcome) ([]byte, error)
}

func (n *Node) newGRPCServer() *grpc.Server {
	s := grpc.NewServer(
		grpc.MaxRecvMsgSize(int(n.cfg.MaxRequestBytes)),
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.StatsHandler(grpcTiming{n.metrics}),
	)
	for _, svc := range []otlpService{
		{
			name: "opentelemetry.proto.collector.trace.v1.TraceService", signal: starlingpb.Signal_SIGNAL_TRACES,
			decode: func(b []byte) (*actors.IngestRequest, error) {
				req := ptraceotlp.NewExportRequest()
				err := req.UnmarshalProto(b)
				return &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_TRACES, Traces: req.Traces()}, err
			},
			respond: func(out ingestOutcome) ([]byte, error) {
				r := ptraceotlp.NewExportResponse()
				if out.rejected > 0 || out.message != "" {
					r.PartialSuccess().SetRejectedSpans(int64(out.rejected))
					r.PartialSuccess().SetErrorMessage(out.message)
				}
				return r.MarshalProto()
			},
		},
		{
			name: "opentelemetry.proto.collector.logs.v1.LogsService", signal: starlingpb.Signal_SIGNAL_LOGS,
			decode: func(b []byte) (*actors.IngestRequest, error) {
				req := plogotlp.NewExportRequest()
				err := req.UnmarshalProto(b)
				return &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_LOGS, Logs: req.Logs()}, err
			},
			respond: func(out ingestOutcome) ([]byte, error) {
				r := plogotlp.NewExportResponse()
				if out.rejected > 0 || out.message != "" {
					r.PartialSuccess().SetRejectedLogRecords(int64(out.rejected))
					r.PartialSuccess().SetErrorMessage(out.message)
				}
				return r.MarshalProto()
			},
		},
		{
			name: "opentelemetry.proto.collector.metrics.v1.MetricsService", signal: starlingpb.Signal_SIGNAL_METRICS,
			decode: func(b []byte) (*actors.IngestRequest, error) {
				req := pmetricotlp.NewExportRequest()
				err := req.UnmarshalProto(b)
				return &actors.IngestRequest{Signal: starlingpb.Signal_SIGNAL_METRICS, Metrics: req.Metrics()}, err
			},
			respond: func(out ingestOutcome) ([]byte, error) {
				r := pmetricotlp.NewExportResponse()
				if out.rejected > 0 || out.message != "" {
					r.PartialSuccess().SetRejectedDataPoints(int64(out.rejected))
					r.PartialSuccess().SetErrorMessage(out.message)
				}
				return r.MarshalProto()
			},
		},
	} {
		s.RegisterService(&grpc.ServiceDesc{
			ServiceName: svc.name,
			HandlerType: (*any)(nil),
			Methods: []grpc.MethodDesc{{
				MethodName: "Export",
				Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
					var in rawMessage
					if err := dec(&in); err != nil {
						return nil, err
					}
					return n.exportGRPC(ctx, svc, in.b)
				},
			}},
		}, n)
	}
	return s
}

// exportGRPC decodes, stores and answers one OTLP/gRPC export.
func (n *Node) exportGRPC(ctx context.Context, svc otlpService, b []byte) (*rawMessage, error) {
	req, err := svc.decode(b)
	if err != nil {
		n.metrics.refuse(svc.signal, "grpc", "malformed")
		return nil, status.Errorf(codes.InvalidArgument, "request is not a valid OTLP protobuf export request: %v", err)
	}
	out := n.ingest(ctx, req)
	if err := grpcError(out); err != nil {
		return nil, err
	}
	resp, err := svc.respond(out)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode response: %v", err)
	}
	return &rawMessage{b: resp}, nil
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
