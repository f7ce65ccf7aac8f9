package node

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// A request that cannot be committed in time is answered "retry later":
// HTTP 503 with Retry-After and an Unavailable status, gRPC Unavailable.
func TestIngestTimeoutAsksForRetry(t *testing.T) {
	n := startNode(t, func(c *Config) { c.IngestTimeout = time.Nanosecond })
	base := time.Now().Add(-time.Minute)
	body := must(ptraceotlp.NewExportRequestFromTraces(testTraces("timeout", base)).MarshalProto())
	resp, rb := doRequest(t, http.MethodPost, "http://"+n.OTLPHTTPAddr()+"/v1/traces", "application/x-protobuf", "", body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After: %q", resp.StatusCode, resp.Header.Get("Retry-After"), rb)
	}
	if st := otlpError(t, resp.Header.Get("Content-Type"), rb); codes.Code(st.GetCode()) != codes.Unavailable || st.GetMessage() == "" {
		t.Errorf("status %v %q, want Unavailable with a reason", codes.Code(st.GetCode()), st.GetMessage())
	}

	conn, err := grpc.NewClient(n.OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs("timeout", base)))
	if st, _ := status.FromError(err); st.Code() != codes.Unavailable {
		t.Errorf("gRPC: %v, want Unavailable", err)
	}
	mfs := scrape(t, n)
	if got := counterSum(mfs, "starling_ingested_records_total", nil); got != 0 {
		t.Errorf("starling_ingested_records_total = %v after refused requests", got)
	}
	if got := counterSum(mfs, "starling_rejected_records_total", map[string]string{"reason": "unavailable"}); got != 8 {
		t.Errorf("starling_rejected_records_total{reason=unavailable} = %v, want 8 (4 spans, 4 log records)", got)
	}
}
