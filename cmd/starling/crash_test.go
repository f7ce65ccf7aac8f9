package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Crash safety of the binary: whatever was acknowledged before a SIGKILL
// is readable after a restart on the same data directory; a SIGTERM lets
// in-flight requests finish and exits 0.

// workload makes request number i of each signal; every record carries
// run (distinct per test) so that reads only see this test's data.
type workload struct {
	run  string
	base time.Time
}

func (w workload) traceID(i int) pcommon.TraceID {
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", w.run, i))
	var id pcommon.TraceID
	copy(id[:], h[:])
	return id
}

// traces: one trace of 3 spans (root and two children).
func (w workload) traces(i int) []byte { return w.paddedTraces(i, 0) }

// paddedTraces is traces(i) with a pad-byte attribute on the root span.
func (w workload) paddedTraces(i, pad int) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "crash-"+w.run)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	start := w.base.Add(time.Duration(i) * time.Millisecond)
	for k := range 3 {
		s := spans.AppendEmpty()
		s.SetTraceID(w.traceID(i))
		s.SetSpanID(pcommon.SpanID{byte(i >> 8), byte(i), byte(k + 1), 1, 2, 3, 4, 5})
		if k > 0 {
			s.SetParentSpanID(pcommon.SpanID{byte(i >> 8), byte(i), 1, 1, 2, 3, 4, 5})
		}
		s.SetName(fmt.Sprintf("op-%d", k))
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(k+1) * time.Millisecond)))
		s.Attributes().PutInt("i", int64(i))
		if k == 0 && pad > 0 {
			s.Attributes().PutStr("pad", strings.Repeat("p", pad))
		}
	}
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err)
	}
	return b
}

func (w workload) logBody(i int) string { return fmt.Sprintf("crash log %s %d", w.run, i) }

func (w workload) logs(i int) []byte {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "crash-"+w.run)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(w.base.Add(time.Duration(i) * time.Millisecond)))
	lr.SetSeverityNumber(plog.SeverityNumberInfo)
	lr.Body().SetStr(w.logBody(i))
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	if err != nil {
		panic(err)
	}
	return b
}

// metrics: point i of the gauge crash.gauge{run}, at base + i ms, value i.
func (w workload) metrics(i int) []byte {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "crash-"+w.run)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("crash.gauge")
	p := m.SetEmptyGauge().DataPoints().AppendEmpty()
	p.SetTimestamp(pcommon.NewTimestampFromTime(w.pointTime(i)))
	p.SetIntValue(int64(i))
	p.Attributes().PutStr("run", w.run)
	b, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		panic(err)
	}
	return b
}

func (w workload) pointTime(i int) time.Time { return w.base.Add(time.Duration(i) * time.Millisecond) }

// acked records which requests were answered 200 with nothing rejected.
type acked struct {
	mu                    sync.Mutex
	traces, logs, metrics map[int]bool
	failures              []string // answers other than 200
}

func newAcked() *acked {
	return &acked{traces: map[int]bool{}, logs: map[int]bool{}, metrics: map[int]bool{}}
}

// send posts request i of one signal and records an acknowledgement;
// transport errors (the process died or closed the connection) are not
// acknowledgements and not failures.
func (a *acked) send(ctx context.Context, addr, signal string, i int, body []byte) bool {
	status, resp, err := post(ctx, addr, "/v1/"+signal, body)
	if err != nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if status != http.StatusOK {
		a.failures = append(a.failures, fmt.Sprintf("%s %d: status %d %q", signal, i, status, resp))
		return false
	}
	if rejected, msg := partialRejected(signal, resp); rejected != 0 {
		a.failures = append(a.failures, fmt.Sprintf("%s %d: %d rejected: %s", signal, i, rejected, msg))
		return false
	}
	map[string]map[int]bool{"traces": a.traces, "logs": a.logs, "metrics": a.metrics}[signal][i] = true
	return true
}

func partialRejected(signal string, resp []byte) (int64, string) {
	switch signal {
	case "traces":
		r := ptraceotlp.NewExportResponse()
		if err := r.UnmarshalProto(resp); err != nil {
			return -1, err.Error()
		}
		return r.PartialSuccess().RejectedSpans(), r.PartialSuccess().ErrorMessage()
	case "logs":
		r := plogotlp.NewExportResponse()
		if err := r.UnmarshalProto(resp); err != nil {
			return -1, err.Error()
		}
		return r.PartialSuccess().RejectedLogRecords(), r.PartialSuccess().ErrorMessage()
	default:
		r := pmetricotlp.NewExportResponse()
		if err := r.UnmarshalProto(resp); err != nil {
			return -1, err.Error()
		}
		return r.PartialSuccess().RejectedDataPoints(), r.PartialSuccess().ErrorMessage()
	}
}

// verify reads back every acknowledged record from p, exactly once.
func (a *acked) verify(t *testing.T, p *proc, w workload) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	// Traces by id: 3 spans each.
	for i := range a.traces {
		id := w.traceID(i)
		status, body := p.get(t, "/api/v1/traces/"+hex.EncodeToString(id[:]))
		if status != http.StatusOK {
			t.Errorf("acknowledged trace %d: status %d %s", i, status, body)
			continue
		}
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		if err != nil {
			t.Fatal(err)
		}
		if td.SpanCount() != 3 {
			t.Errorf("acknowledged trace %d: %d spans, want 3", i, td.SpanCount())
		}
	}
	// Logs of the run: every acknowledged body, each once.
	status, body := p.get(t, "/api/v1/logs?"+url.Values{"service": {"crash-" + w.run}, "limit": {"1000"}}.Encode())
	if status != http.StatusOK {
		t.Fatalf("logs: status %d %s", status, body)
	}
	var logs struct{ Logs []struct{ Body any } }
	if err := json.Unmarshal(body, &logs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, l := range logs.Logs {
		seen[fmt.Sprint(l.Body)]++
	}
	for i := range a.logs {
		if c := seen[w.logBody(i)]; c != 1 {
			t.Errorf("acknowledged log %d found %d times", i, c)
		}
	}
	// The run's series: a point at every acknowledged time, each once.
	// Stored under its Prometheus name (OTLP metrics are translated).
	status, body = p.get(t, "/api/v1/metrics/series?"+url.Values{"name": {"crash_gauge"}, "label.run": {w.run}}.Encode())
	if status != http.StatusOK {
		t.Fatalf("series: status %d %s", status, body)
	}
	var series struct {
		Series []struct {
			Samples []struct {
				Time  time.Time
				Value json.Number
			}
		}
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&series); err != nil {
		t.Fatal(err)
	}
	if len(a.metrics) > 0 && len(series.Series) != 1 {
		t.Fatalf("crash.gauge{run=%s}: %d series, want 1", w.run, len(series.Series))
	}
	points := map[int64]string{}
	if len(series.Series) == 1 {
		for _, pt := range series.Series[0].Samples {
			if _, dup := points[pt.Time.UnixNano()]; dup {
				t.Errorf("point at %s returned twice", pt.Time)
			}
			points[pt.Time.UnixNano()] = pt.Value.String()
		}
	}
	for i := range a.metrics {
		if v, ok := points[w.pointTime(i).UnixNano()]; !ok || v != fmt.Sprint(i) {
			t.Errorf("acknowledged point %d: value %q found %v", i, v, ok)
		}
	}
	t.Logf("verified %d traces, %d logs, %d points", len(a.traces), len(a.logs), len(a.metrics))
}

// TestKill9KeepsAcknowledgedWrites writes over OTLP/HTTP from several
// clients, SIGKILLs the process the moment the N-th trace is acknowledged
// (other requests still in flight), restarts it on the same data directory
// and reads back every acknowledged record.
func TestKill9KeepsAcknowledgedWrites(t *testing.T) {
	dir := t.TempDir()
	p := startStarling(t, dir)
	w := workload{run: "kill9", base: time.Now().Add(-time.Minute).Truncate(time.Millisecond)} // metric samples are kept to the ms
	const N = 300
	a := newAcked()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var next, tracesAcked atomic.Int64
	var killOnce sync.Once
	kill := func() {
		killOnce.Do(func() {
			if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Errorf("SIGKILL: %v", err)
			}
		})
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= 2*N {
					return
				}
				// Metrics and logs first, the trace last: the N-th
				// acknowledged trace triggers the kill.
				if !a.send(ctx, p.otlpHTTP, "metrics", i, w.metrics(i)) ||
					!a.send(ctx, p.otlpHTTP, "logs", i, w.logs(i)) ||
					!a.send(ctx, p.otlpHTTP, "traces", i, w.traces(i)) {
					select {
					case <-p.done:
						return
					default:
						continue
					}
				}
				if tracesAcked.Add(1) == N {
					kill()
					return
				}
			}
		})
	}
	wg.Wait()
	kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("starling did not die of SIGKILL")
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("process ended with %v, not by SIGKILL", p.cmd.ProcessState)
	}
	if len(a.failures) > 0 {
		t.Errorf("%d requests failed before the kill, e.g. %s", len(a.failures), a.failures[0])
	}
	if len(a.traces) < N {
		t.Fatalf("only %d traces acknowledged before the kill", len(a.traces))
	}

	p2 := startStarling(t, dir)
	a.verify(t, p2, w)
}

// TestSIGTERMDrainsInFlightRequests sends SIGTERM while one request is
// half sent and others stream in: the half-sent request completes with
// 200 after the listeners closed, every answer is 200, the process exits
// 0 and a restart serves everything acknowledged.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	p := startStarling(t, dir)
	w := workload{run: "sigterm", base: time.Now().Add(-time.Minute).Truncate(time.Millisecond)}
	a := newAcked()

	// The slow request: trace number 100000, its body sent in two halves;
	// 256 KiB, so that the first half goes through the client's buffers
	// and the server is inside the handler, reading the body, at SIGTERM.
	const slow = 100000
	body := w.paddedTraces(slow, 256<<10)
	pr, pw := io.Pipe()
	headersSent := make(chan struct{})
	type answer struct {
		status int
		body   []byte
		err    error
	}
	slowDone := make(chan answer, 1)
	go func() {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			WroteHeaders: func() { close(headersSent) },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+p.otlpHTTP+"/v1/traces", pr)
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.ContentLength = int64(len(body))
		// A connection of its own, not one the other clients share.
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
		resp, err := c.Do(req)
		if err != nil {
			slowDone <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slowDone <- answer{resp.StatusCode, b, err}
	}()
	if _, err := pw.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-headersSent:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request's headers were not sent")
	}

	// A stream of ordinary requests until the process stops answering.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var sent atomic.Int64
	var next atomic.Int64
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				ok := a.send(ctx, p.otlpHTTP, "logs", i, w.logs(i)) &&
					a.send(ctx, p.otlpHTTP, "metrics", i, w.metrics(i)) &&
					a.send(ctx, p.otlpHTTP, "traces", i, w.traces(i))
				if !ok {
					select {
					case <-p.done:
						return
					default:
					}
				}
				sent.Add(1)
			}
		})
	}
	// Let the stream get going, then ask the process to stop.
	deadline := time.Now().Add(10 * time.Second)
	for sent.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Wait until the OTLP/HTTP listener is closed: the drain has begun.
	deadline = time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.otlpHTTP, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the OTLP/HTTP listener is still open 20s after SIGTERM")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-p.done:
		t.Fatalf("starling exited (%v) with a request in flight", p.waitErr)
	default:
	}
	// Finish the slow request: it must still be served.
	if _, err := pw.Write(body[len(body)/2:]); err != nil {
		t.Fatalf("finish the in-flight request: %v", err)
	}
	pw.Close()
	var ans answer
	select {
	case ans = <-slowDone:
	case <-time.After(30 * time.Second):
		t.Fatal("the in-flight request got no answer")
	}
	if ans.err != nil || ans.status != http.StatusOK {
		t.Fatalf("in-flight request: status %d, err %v, body %q", ans.status, ans.err, ans.body)
	}
	if rejected, msg := partialRejected("traces", ans.body); rejected != 0 {
		t.Fatalf("in-flight request: %d rejected: %s", rejected, msg)
	}
	a.mu.Lock()
	a.traces[slow] = true
	a.mu.Unlock()

	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("starling did not exit within 30s of SIGTERM\n%s", p.logs.String())
	}
	cancel()
	wg.Wait()
	if p.waitErr != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0\n%s", p.waitErr, p.logs.String())
	}
	if len(a.failures) > 0 {
		sort.Strings(a.failures)
		t.Errorf("%d requests were answered with an error, e.g. %s", len(a.failures), a.failures[0])
	}

	p2 := startStarling(t, dir)
	a.verify(t, p2, w)
}
