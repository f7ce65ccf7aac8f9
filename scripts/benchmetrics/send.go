package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// Request is one pre-encoded write request.
type Request struct {
	Body    []byte
	Samples int
}

// Payload is the data set encoded for one protocol, before any timing: the
// requests of sender i are Shards[i], sent in order. Series i goes to
// sender i mod senders, as Prometheus shards by series, so that a series'
// samples arrive in time order; within a shard the requests are
// time-major (all its series at t, then at t+interval, …).
type Payload struct {
	Proto   string // "remote write" or "OTLP"
	Header  map[string]string
	Path    string // the URL path the requests go to
	Shards  [][]*Request
	Samples int
	Bytes   int64 // body bytes, as sent (compressed)
	Build   time.Duration
}

// Requests is the number of requests.
func (p *Payload) Requests() int {
	n := 0
	for _, s := range p.Shards {
		n += len(s)
	}
	return n
}

// batch is the samples of one request before encoding.
type batch struct {
	series []int32
	ts     []int64
	vs     []float64
	start  []int64 // counters' start times (OTLP)
}

func newBatch(n int) *batch {
	return &batch{series: make([]int32, 0, n), ts: make([]int64, 0, n), vs: make([]float64, 0, n), start: make([]int64, 0, n)}
}

// encoder turns a batch into a request body.
type encoder func(d *Dataset, b *batch) ([]byte, error)

// buildPayload runs the generator once over the data set and encodes every
// request, on all cores (nothing is measured yet).
func buildPayload(d *Dataset, senders, size int, proto string, enc encoder) (*Payload, error) {
	t0 := time.Now()
	p := &Payload{Proto: proto, Shards: make([][]*Request, senders), Samples: d.Samples()}
	type job struct {
		b   *batch
		req *Request
	}
	jobs := make(chan job, 2*runtime.NumCPU())
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	var bytesOut atomic.Int64
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Go(func() {
			for j := range jobs {
				body, err := enc(d, j.b)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				j.req.Body = body
				bytesOut.Add(int64(len(body)))
			}
		})
	}
	cur := make([]*batch, senders)
	for s := range cur {
		cur[s] = newBatch(size)
	}
	flush := func(s int) {
		r := &Request{Samples: len(cur[s].series)}
		p.Shards[s] = append(p.Shards[s], r)
		jobs <- job{cur[s], r}
		cur[s] = newBatch(size)
	}
	g := d.NewGen()
	ts := make([]int64, len(d.Series))
	vs := make([]float64, len(d.Series))
	for g.Next(ts, vs) {
		for i := range d.Series {
			s := i % senders
			b := cur[s]
			b.series = append(b.series, int32(i))
			b.ts = append(b.ts, ts[i])
			b.vs = append(b.vs, vs[i])
			b.start = append(b.start, g.StartMs(i))
			if len(b.series) >= size {
				flush(s)
			}
		}
	}
	for s := range cur {
		if len(cur[s].series) > 0 {
			flush(s)
		}
	}
	close(jobs)
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return nil, *e
	}
	p.Bytes = bytesOut.Load()
	p.Build = time.Since(t0)
	return p, nil
}

// remoteWritePayload is the data set as Prometheus remote write 1.0
// requests: snappy-compressed prompb.WriteRequest, one TimeSeries entry per
// sample (what Prometheus' queue manager sends).
func remoteWritePayload(d *Dataset, senders, size int) (*Payload, error) {
	p, err := buildPayload(d, senders, size, "remote write", encodeRemoteWrite)
	if err != nil {
		return nil, err
	}
	p.Path = "/api/v1/write"
	p.Header = map[string]string{
		"Content-Encoding":                  "snappy",
		"Content-Type":                      "application/x-protobuf",
		"X-Prometheus-Remote-Write-Version": "0.1.0",
	}
	return p, nil
}

func encodeRemoteWrite(d *Dataset, b *batch) ([]byte, error) {
	samples := make([]prompb.Sample, len(b.series))
	req := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, len(b.series))}
	for k, i := range b.series {
		samples[k] = prompb.Sample{Timestamp: b.ts[k], Value: b.vs[k]}
		req.Timeseries[k] = prompb.TimeSeries{Labels: d.Series[i].Labels, Samples: samples[k : k+1 : k+1]}
	}
	raw, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	// Cloned: snappy.Encode's buffer has the capacity of the worst case,
	// about the uncompressed size, and it would stay with the payload.
	return bytes.Clone(snappy.Encode(nil, raw)), nil
}

// otlpPayload is the data set as OTLP/HTTP protobuf requests, gzipped (the
// OpenTelemetry exporters' default): one resource per instance
// (service.name = job, service.instance.id = instance), counters as
// monotonic cumulative sums, gauges and constants as gauges, integer kinds
// as int points, the other labels as point attributes.
func otlpPayload(d *Dataset, senders, size int) (*Payload, error) {
	p, err := buildPayload(d, senders, size, "OTLP", encodeOTLP)
	if err != nil {
		return nil, err
	}
	p.Path = "/v1/metrics"
	p.Header = map[string]string{"Content-Encoding": "gzip", "Content-Type": "application/x-protobuf"}
	return p, nil
}

func encodeOTLP(d *Dataset, b *batch) ([]byte, error) {
	md := pmetric.NewMetrics()
	scopes := map[string]pmetric.MetricSlice{}
	type mkey struct {
		instance string
		metric   int
	}
	metrics := map[mkey]pmetric.NumberDataPointSlice{}
	for k, i := range b.series {
		s := &d.Series[i]
		ms, ok := scopes[s.Instance]
		if !ok {
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("service.name", s.Job)
			rm.Resource().Attributes().PutStr("service.instance.id", s.Instance)
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName("starling-benchmetrics")
			ms = sm.Metrics()
			scopes[s.Instance] = ms
		}
		mk := mkey{s.Instance, s.Metric}
		dps, ok := metrics[mk]
		if !ok {
			m := ms.AppendEmpty()
			m.SetName(s.Name)
			if s.Kind.Counter() {
				sum := m.SetEmptySum()
				sum.SetIsMonotonic(true)
				sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
				dps = sum.DataPoints()
			} else {
				dps = m.SetEmptyGauge().DataPoints()
			}
			metrics[mk] = dps
		}
		dp := dps.AppendEmpty()
		for _, a := range s.Attrs {
			dp.Attributes().PutStr(a.Name, a.Value)
		}
		dp.SetTimestamp(pcommon.Timestamp(b.ts[k] * 1e6))
		if s.Kind.Counter() {
			dp.SetStartTimestamp(pcommon.Timestamp(b.start[k] * 1e6))
		}
		if s.Kind.Integer() {
			dp.SetIntValue(int64(b.vs[k]))
		} else {
			dp.SetDoubleValue(b.vs[k])
		}
	}
	raw, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	// A copy of exactly its length: the buffer's spare capacity would
	// stay with the payload, up to half of it.
	return bytes.Clone(buf.Bytes()), nil
}

// sendResult is what one send phase did.
type sendResult struct {
	Wall              time.Duration
	Accepted, Failed  int // samples in requests answered 2xx; refused (4xx) or given up on
	Requests, Retries int
	Refused, GaveUp   int           // requests
	Errors            []string      // the first few refusals and failures
	Mean, Worst2s     float64       // samples/s accepted, over the send and its worst 2 s window
	GenCPU            float64       // CPU seconds of this process (the senders) during the send
	Slowest           time.Duration // the slowest request (all its attempts)
}

const (
	maxRetries   = 8
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
	keepErrors   = 5
)

// send posts every request of p to base+p.Path, one goroutine per shard
// sending its requests one after another, retrying on 5xx, 429 and
// transport errors with exponential backoff. A 4xx other than 429 counts
// as refused and is not retried. Once alive says the server has exited,
// the requests left are given up without trying.
func send(base string, p *Payload, alive func() bool) sendResult {
	senders := len(p.Shards)
	client := &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 2 * senders,
			DisableCompression:  true,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	defer client.CloseIdleConnections()
	url := base + p.Path
	var (
		accepted, failed        atomic.Int64
		retries, refused, given atomic.Int64
		mu                      sync.Mutex
		res                     sendResult
	)
	note := func(msg string) {
		mu.Lock()
		if len(res.Errors) < keepErrors {
			res.Errors = append(res.Errors, msg)
		}
		mu.Unlock()
	}
	var slowest atomic.Int64
	post := func(r *Request) {
		t0 := time.Now()
		defer func() {
			d := int64(time.Since(t0))
			for cur := slowest.Load(); d > cur && !slowest.CompareAndSwap(cur, d); cur = slowest.Load() {
			}
		}()
		backoff := firstBackoff
		for attempt := 0; ; attempt++ {
			if !alive() {
				given.Add(1)
				failed.Add(int64(r.Samples))
				note("the server exited")
				return
			}
			req, _ := http.NewRequest("POST", url, bytes.NewReader(r.Body))
			for k, v := range p.Header {
				req.Header.Set(k, v)
			}
			req.Header.Set("User-Agent", "starling-benchmetrics")
			resp, err := client.Do(req)
			msg := ""
			if err == nil {
				if resp.StatusCode/100 == 2 {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					accepted.Add(int64(r.Samples))
					return
				}
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				msg = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(b))
				if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500 {
					refused.Add(1)
					failed.Add(int64(r.Samples))
					note(msg)
					return
				}
			} else {
				msg = err.Error()
			}
			if attempt >= maxRetries {
				given.Add(1)
				failed.Add(int64(r.Samples))
				note(fmt.Sprintf("gave up after %d attempts: %s", attempt+1, msg))
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
	for _, shard := range p.Shards {
		wg.Go(func() {
			for _, r := range shard {
				post(r)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var rates benchkit.Rates
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	lastLog := t0
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			cur := float64(accepted.Load())
			rates.Add(cur)
			if time.Since(lastLog) >= 10*time.Second {
				lastLog = time.Now()
				logf("  %s: %5.1f%% of %d samples accepted, %.0f samples/s so far", p.Proto, 100*cur/float64(p.Samples), p.Samples, cur/time.Since(t0).Seconds())
			}
		}
	}
	res.Wall = time.Since(t0)
	res.GenCPU = benchkit.ProcCPU(os.Getpid()) - cpu0
	res.Accepted, res.Failed = int(accepted.Load()), int(failed.Load())
	res.Requests, res.Retries = p.Requests(), int(retries.Load())
	res.Refused, res.GaveUp = int(refused.Load()), int(given.Load())
	res.Mean = float64(res.Accepted) / res.Wall.Seconds()
	res.Slowest = time.Duration(slowest.Load())
	if _, worst := rates.Summary(); len(p.Shards) > 0 && res.Wall >= 8*time.Second {
		res.Worst2s = worst
	}
	return res
}
