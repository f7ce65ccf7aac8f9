package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor (-gzip)
	"google.golang.org/grpc/status"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// loadResult is what sending batches [from, to) did.
type loadResult struct {
	Spans             int64 // spans in the requests sent
	Accepted          int64 // spans in requests answered OK, less those the answer's partial success rejected
	Rejected          int64 // spans of partial successes and of requests refused or given up on
	Requests, Retries int
	Failed            int // requests refused (a non-retryable code) or given up on
	Errors            []string
	Wall              time.Duration
	GenCPU            float64 // CPU seconds of this process (generation, encoding, gRPC)
	Worst2s           float64 // spans/s accepted in the worst 2 s window (< 0: too short to say)
	Slowest           time.Duration
}

func (l *loadResult) add(o loadResult) {
	l.Spans += o.Spans
	l.Accepted += o.Accepted
	l.Rejected += o.Rejected
	l.Requests += o.Requests
	l.Retries += o.Retries
	l.Failed += o.Failed
	for _, e := range o.Errors {
		if len(l.Errors) < keepErrors {
			l.Errors = append(l.Errors, e)
		}
	}
	l.Wall += o.Wall
	l.GenCPU += o.GenCPU
	if o.Worst2s >= 0 && (l.Worst2s < 0 || o.Worst2s < l.Worst2s) {
		l.Worst2s = o.Worst2s
	}
	l.Slowest = max(l.Slowest, o.Slowest)
}

const (
	maxAttempts  = 10
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
	keepErrors   = 5
	exportTimout = 2 * time.Minute
)

// retryable are the gRPC codes the OTLP specification lets an exporter
// retry.
func retryable(c codes.Code) bool {
	switch c {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted, codes.Canceled, codes.OutOfRange, codes.DataLoss:
		return true
	}
	return false
}

// exportMethod is the OTLP trace service's one method.
const exportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

// rawCodec sends a request body encoded beforehand as it is and hands the
// answer back undecoded (the gRPC content subtype stays "proto").
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// Payload is the data set encoded into OTLP export requests (protobuf),
// before any timing: the driver then only sends bytes while a server is
// measured, and both servers get the same requests.
type Payload struct {
	Requests [][]byte
	Bytes    int64
	Build    time.Duration
}

// encodeAll generates and encodes every batch of d on all cores; it fills
// d.Samples.
func encodeAll(d *Dataset) (*Payload, error) {
	t0 := time.Now()
	p := &Payload{Requests: make([][]byte, d.Batches)}
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var bytesOut atomic.Int64
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Go(func() {
			for {
				b := int(next.Add(1) - 1)
				if b >= d.Batches {
					return
				}
				raw, err := ptraceotlp.NewExportRequestFromTraces(d.Generate(b)).MarshalProto()
				if err != nil {
					err = fmt.Errorf("encode batch %d: %w", b, err)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				p.Requests[b] = raw
				bytesOut.Add(int64(len(raw)))
			}
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return nil, *e
	}
	p.Bytes, p.Build = bytesOut.Load(), time.Since(t0)
	return p, nil
}

// sendBatches sends the requests of batches [from, to) to endpoint
// (OTLP/gRPC, plaintext) from o.clients clients, each with its own
// connection and one request in flight: the load is closed-loop, as fast
// as the server answers, and what counts is what the server accepted.
// Every few seconds it logs the spans sent, the rate and the time left
// (counted, if given, is the server's own count, for the same line).
func sendBatches(o *options, d *Dataset, payload *Payload, endpoint string, from, to int, totalSpans int64, doneBefore int64, counted func() float64) (loadResult, error) {
	var res loadResult
	conns := make([]*grpc.ClientConn, o.clients)
	for i := range conns {
		c, err := grpc.NewClient(endpoint,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20), grpc.MaxCallRecvMsgSize(16<<20)))
		if err != nil {
			return res, fmt.Errorf("OTLP client for %s: %w", endpoint, err)
		}
		defer c.Close()
		conns[i] = c
	}
	var (
		next                      atomic.Int64
		accepted, rejected, spans atomic.Int64
		requests, retries, failed atomic.Int64
		slowest                   atomic.Int64
		mu                        sync.Mutex
		errs                      []string
	)
	next.Store(int64(from))
	note := func(msg string) {
		mu.Lock()
		if len(errs) < keepErrors {
			errs = append(errs, msg)
		}
		mu.Unlock()
	}
	callOpts := []grpc.CallOption{grpc.ForceCodec(rawCodec{})}
	if o.gzip {
		callOpts = append(callOpts, grpc.UseCompressor("gzip"))
	}
	export := func(conn *grpc.ClientConn, b int) {
		req := payload.Requests[b]
		n := int64(d.BatchSpans(b))
		spans.Add(n)
		requests.Add(1)
		t0 := time.Now()
		defer func() {
			el := int64(time.Since(t0))
			for cur := slowest.Load(); el > cur && !slowest.CompareAndSwap(cur, el); cur = slowest.Load() {
			}
		}()
		backoff := firstBackoff
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), exportTimout)
			var raw []byte
			err := conn.Invoke(ctx, exportMethod, &req, &raw, callOpts...)
			cancel()
			if err == nil {
				resp := ptraceotlp.NewExportResponse()
				if err := resp.UnmarshalProto(raw); err != nil {
					failed.Add(1)
					rejected.Add(n)
					note(fmt.Sprintf("answer: %s", err))
					return
				}
				ps := resp.PartialSuccess()
				if r := ps.RejectedSpans(); r > 0 {
					rejected.Add(r)
					note(fmt.Sprintf("partial success: %d spans rejected: %s", r, ps.ErrorMessage()))
				}
				accepted.Add(n - ps.RejectedSpans())
				return
			}
			st, _ := status.FromError(err)
			if !retryable(st.Code()) {
				failed.Add(1)
				rejected.Add(n)
				note(fmt.Sprintf("refused: %s", err))
				return
			}
			if attempt >= maxAttempts {
				failed.Add(1)
				rejected.Add(n)
				note(fmt.Sprintf("gave up after %d attempts: %s", attempt, err))
				return
			}
			retries.Add(1)
			time.Sleep(backoff)
			backoff = min(2*backoff, maxBackoff)
		}
	}

	cpu0 := benchkit.ProcCPU(os.Getpid())
	t0 := time.Now()
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Go(func() {
			for {
				b := int(next.Add(1) - 1)
				if b >= to {
					return
				}
				export(conn, b)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var rates benchkit.Rates
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	lastLog, lastN := t0, int64(0)
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			cur := accepted.Load()
			rates.Add(float64(cur))
			if since := time.Since(lastLog); since >= o.progress {
				all := doneBefore + cur
				mean := float64(cur) / time.Since(t0).Seconds()
				eta := "?"
				if mean > 0 {
					eta = (time.Duration(float64(totalSpans-all)/mean) * time.Second).Round(time.Second).String()
				}
				srv := ""
				if counted != nil {
					srv = fmt.Sprintf(", server counted %.0f", counted())
				}
				logf("  sent %d of %d spans (%.1f%%), %.0f spans/s now, %.0f mean, ETA %s%s",
					all, totalSpans, 100*float64(all)/float64(totalSpans), float64(cur-lastN)/since.Seconds(), mean, eta, srv)
				lastLog, lastN = time.Now(), cur
			}
		}
	}
	res.Wall = time.Since(t0)
	res.GenCPU = benchkit.ProcCPU(os.Getpid()) - cpu0
	res.Spans, res.Accepted, res.Rejected = spans.Load(), accepted.Load(), rejected.Load()
	res.Requests, res.Retries, res.Failed = int(requests.Load()), int(retries.Load()), int(failed.Load())
	res.Errors = errs
	res.Slowest = time.Duration(slowest.Load())
	res.Worst2s = -1
	if _, worst := rates.Summary(); res.Wall >= 8*time.Second {
		res.Worst2s = worst
	}
	if res.Accepted == 0 && res.Spans > 0 {
		return res, errors.New("no span accepted: " + fmt.Sprint(errs))
	}
	return res, nil
}
