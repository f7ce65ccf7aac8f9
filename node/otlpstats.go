package node

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// grpcTiming is a gRPC stats handler that times each OTLP export from its
// first byte to its response (receive and decode included, which the
// frontend's write latency leaves out).
type grpcTiming struct{ m *receiverMetrics }

type rpcStart struct{}

func (g grpcTiming) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, rpcStart{}, rpcInfo{began: time.Now(), signal: signalOfMethod(info.FullMethodName)})
}

type rpcInfo struct {
	began  time.Time
	signal string
}

func (g grpcTiming) HandleRPC(ctx context.Context, s stats.RPCStats) {
	end, ok := s.(*stats.End)
	if !ok {
		return
	}
	info, ok := ctx.Value(rpcStart{}).(rpcInfo)
	if !ok || info.signal == "" {
		return
	}
	g.m.requestSeconds.WithLabelValues(info.signal, "grpc").Observe(time.Since(info.began).Seconds())
	// gRPC refuses oversized requests before a handler runs: count them here.
	if status.Code(end.Error) == codes.ResourceExhausted {
		g.m.refused.WithLabelValues(info.signal, "grpc", "too_large").Inc()
	}
}

func (grpcTiming) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (grpcTiming) HandleConn(context.Context, stats.ConnStats)                       {}

// signalOfMethod maps an OTLP gRPC method to its signal.
func signalOfMethod(method string) string {
	switch {
	case strings.HasPrefix(method, "/opentelemetry.proto.collector.trace."):
		return "traces"
	case strings.HasPrefix(method, "/opentelemetry.proto.collector.logs."):
		return "logs"
	case strings.HasPrefix(method, "/opentelemetry.proto.collector.metrics."):
		return "metrics"
	}
	return ""
}
