package node

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	ppromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/starling-otel/starling/api/prometheus"
)

// The same samples go by remote write into Starling and into Prometheus'
// own TSDB (in process, with Prometheus' engine, served by the same HTTP
// API package); the same PromQL queries must give the same answers,
// decoded by the Prometheus API client, bit for bit. The queries run once
// while the data is in the heads and again after the blocks are flushed
// into chunks.

// compareSeries is one generated series: labels and samples (a float or a
// native histogram each).
type compareSeries struct {
	lset    labels.Labels
	samples []prompb.Sample
	hists   []prompb.Histogram
	ints    []*histogram.Histogram // the same histograms, for Prometheus' TSDB
}

// genCompareData makes 5 h at 15 s of scrape-like series ending at end:
// counters with resets, float counters, integer and decimal gauges, a
// classic histogram, a summary with NaN quantiles, a native histogram, and
// a series that goes stale half way.
func genCompareData(end time.Time) []*compareSeries {
	rng := rand.New(rand.NewPCG(7, 11))
	const step = 15 * time.Second
	n := int(5 * time.Hour / step)
	start := end.Add(-time.Duration(n-1) * step)
	var out []*compareSeries
	add := func(ls ...string) *compareSeries {
		s := &compareSeries{lset: labels.FromStrings(ls...)}
		out = append(out, s)
		return s
	}
	ts := func(i int) int64 { return start.Add(time.Duration(i) * step).UnixMilli() }
	for _, inst := range []string{"a:9100", "b:9100", "c:9100"} {
		for _, m := range []string{"GET", "POST"} {
			for _, code := range []string{"200", "500"} {
				s := add("__name__", "http_requests_total", "job", "api", "instance", inst, "method", m, "code", code)
				v := 0.0
				for i := range n {
					if rng.IntN(500) == 0 {
						v = 0 // a restart
					}
					v += float64(rng.IntN(20))
					s.samples = append(s.samples, prompb.Sample{Timestamp: ts(i), Value: v})
				}
			}
		}
		cpu := add("__name__", "process_cpu_seconds_total", "job", "api", "instance", inst)
		mem := add("__name__", "process_resident_memory_bytes", "job", "api", "instance", inst)
		temp := add("__name__", "room_temperature_celsius", "job", "api", "instance", inst)
		c, mb, t := 0.0, 2e8, 20.0
		for i := range n {
			c += float64(rng.IntN(3000)) / 1000
			mb += float64(rng.IntN(4096)-2048) * 4096
			t = math.Round((t+rng.NormFloat64()*0.1)*100) / 100
			cpu.samples = append(cpu.samples, prompb.Sample{Timestamp: ts(i), Value: c})
			mem.samples = append(mem.samples, prompb.Sample{Timestamp: ts(i), Value: mb})
			temp.samples = append(temp.samples, prompb.Sample{Timestamp: ts(i), Value: t})
		}
		// A classic histogram and a summary.
		bounds := []string{"0.005", "0.05", "0.5", "5", "+Inf"}
		counts := make([]float64, len(bounds))
		buckets := make([]*compareSeries, len(bounds))
		for j, le := range bounds {
			buckets[j] = add("__name__", "request_duration_seconds_bucket", "job", "api", "instance", inst, "le", le)
		}
		hsum := add("__name__", "request_duration_seconds_sum", "job", "api", "instance", inst)
		hcount := add("__name__", "request_duration_seconds_count", "job", "api", "instance", inst)
		q50 := add("__name__", "rpc_duration_seconds", "job", "api", "instance", inst, "quantile", "0.5")
		q99 := add("__name__", "rpc_duration_seconds", "job", "api", "instance", inst, "quantile", "0.99")
		sum := 0.0
		for i := range n {
			for k := range rng.IntN(30) {
				obs := rng.ExpFloat64() * 0.1
				sum += obs
				for j, le := range bounds {
					b, _ := strconv.ParseFloat(le, 64)
					if obs <= b {
						counts[j]++
					}
				}
				_ = k
			}
			for j := range bounds {
				buckets[j].samples = append(buckets[j].samples, prompb.Sample{Timestamp: ts(i), Value: counts[j]})
			}
			hsum.samples = append(hsum.samples, prompb.Sample{Timestamp: ts(i), Value: sum})
			hcount.samples = append(hcount.samples, prompb.Sample{Timestamp: ts(i), Value: counts[len(counts)-1]})
			v50, v99 := rng.Float64()*0.2, rng.Float64()*2
			if i%97 == 0 {
				v50, v99 = math.NaN(), math.NaN() // no observations in the window
			}
			q50.samples = append(q50.samples, prompb.Sample{Timestamp: ts(i), Value: v50})
			q99.samples = append(q99.samples, prompb.Sample{Timestamp: ts(i), Value: v99})
		}
		// A target that disappears: a staleness marker, then nothing.
		up := add("__name__", "up", "job", "api", "instance", inst)
		for i := range n {
			v := 1.0
			if inst == "c:9100" && i == n/2 {
				up.samples = append(up.samples, prompb.Sample{Timestamp: ts(i), Value: math.Float64frombits(value.StaleNaN)})
				break
			}
			up.samples = append(up.samples, prompb.Sample{Timestamp: ts(i), Value: v})
		}
		// A native histogram (integer counts, schema 1).
		nh := add("__name__", "rpc_latency_seconds", "job", "api", "instance", inst)
		var pos [4]int64
		zero, count, hs := uint64(0), uint64(0), 0.0
		for i := range n {
			for range rng.IntN(10) {
				b := rng.IntN(5)
				if b == 4 {
					zero++
				} else {
					pos[b]++
				}
				count++
				hs += rng.Float64()
			}
			h := &histogram.Histogram{
				Schema: 1, ZeroThreshold: 0.001, ZeroCount: zero, Count: count, Sum: hs,
				PositiveSpans:   []histogram.Span{{Offset: 0, Length: 4}},
				PositiveBuckets: []int64{pos[0], pos[1] - pos[0], pos[2] - pos[1], pos[3] - pos[2]},
			}
			nh.hists = append(nh.hists, prompb.FromIntHistogram(ts(i), h))
			nh.ints = append(nh.ints, h)
		}
	}
	return out
}

// remoteWrite sends the series to url as remote write 1.0, time-major, in
// requests of about 2,000 samples.
func remoteWrite(t *testing.T, url string, series []*compareSeries) {
	t.Helper()
	maxLen := 0
	for _, s := range series {
		maxLen = max(maxLen, len(s.samples), len(s.hists))
	}
	var req prompb.WriteRequest
	flush := func() {
		if len(req.Timeseries) == 0 {
			return
		}
		b, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		hr, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(snappy.Encode(nil, b)))
		hr.Header.Set("Content-Type", "application/x-protobuf")
		hr.Header.Set("Content-Encoding", "snappy")
		hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("remote write: status %d", resp.StatusCode)
		}
		req.Timeseries = req.Timeseries[:0]
	}
	for i := 0; i < maxLen; i += 4 {
		for _, s := range series {
			ts := prompb.TimeSeries{}
			s.lset.Range(func(l labels.Label) { ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value}) })
			for j := i; j < i+4 && j < len(s.samples); j++ {
				ts.Samples = append(ts.Samples, s.samples[j])
			}
			for j := i; j < i+4 && j < len(s.hists); j++ {
				ts.Histograms = append(ts.Histograms, s.hists[j])
			}
			if len(ts.Samples)+len(ts.Histograms) > 0 {
				req.Timeseries = append(req.Timeseries, ts)
			}
		}
		if len(req.Timeseries) > 500 {
			flush()
		}
	}
	flush()
}

// prometheusReference opens Prometheus' TSDB with the series and serves
// Prometheus' engine over it through the Prometheus API package.
func prometheusReference(t *testing.T, series []*compareSeries) promv1.API {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	app := db.Appender(context.Background())
	for _, s := range series {
		for _, smp := range s.samples {
			if _, err := app.Append(0, s.lset, smp.Timestamp, smp.Value); err != nil {
				t.Fatal(err)
			}
		}
		for i, h := range s.ints {
			if _, err := app.AppendHistogram(0, s.lset, s.hists[i].Timestamp, h, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	cfg := prometheus.DefaultConfig()
	api, err := prometheus.New(cfg, prometheus.Deps{Engine: ppromql.NewEngine(cfg.EngineOpts()), Queryable: db})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux, "/prometheus")
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := promapi.NewClient(promapi.Config{Address: srv.URL + "/prometheus"})
	if err != nil {
		t.Fatal(err)
	}
	return promv1.NewAPI(c)
}

// compareQueries are PromQL queries of every kind a dashboard runs.
var compareQueries = []string{
	`up`,
	`http_requests_total`,
	`rate(http_requests_total[5m])`,
	`irate(http_requests_total[5m])`,
	`increase(http_requests_total{code="500"}[10m])`,
	`sum by (instance) (rate(http_requests_total[5m]))`,
	`sum without (method) (rate(http_requests_total[5m])) / ignoring(code) group_left sum without (method, code) (rate(http_requests_total[5m]))`,
	`topk(3, rate(http_requests_total[5m]))`,
	`bottomk(2, sum by (instance) (process_resident_memory_bytes))`,
	`rate(http_requests_total[5m] offset 30m)`,
	`max_over_time(rate(http_requests_total[5m])[30m:1m])`,
	`histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))`,
	`histogram_quantile(0.5, rate(request_duration_seconds_bucket[10m]))`,
	`rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])`,
	`avg_over_time(room_temperature_celsius[15m])`,
	`quantile_over_time(0.9, room_temperature_celsius[1h])`,
	`deriv(process_resident_memory_bytes[10m])`,
	`predict_linear(process_resident_memory_bytes[30m], 3600)`,
	`resets(http_requests_total[1h])`,
	`changes(room_temperature_celsius[30m])`,
	`count by (job) (up == 1)`,
	`absent(nonexistent_metric)`,
	`label_replace(up, "host", "$1", "instance", "(.*):.*")`,
	`rpc_duration_seconds{quantile="0.99"} > 1`,
	`avg by (quantile) (rpc_duration_seconds)`,
	`histogram_quantile(0.9, sum(rate(rpc_latency_seconds[5m])))`,
	`histogram_count(rate(rpc_latency_seconds[5m]))`,
	`histogram_sum(rpc_latency_seconds)`,
	`rpc_latency_seconds`,
	`{__name__=~"process_.*", instance!~"a:.*"}`,
	`sum(rate({__name__=~"http_requests_total|process_cpu_seconds_total"}[5m])) by (__name__)`,
	`timestamp(up)`,
	`time() - process_cpu_seconds_total`,
	`vector(1) and on() absent(up{instance="c:9100"})`,
	`sort_desc(sum by (code) (http_requests_total))`,
}

func TestPromQLMatchesPrometheus(t *testing.T) {
	n := startNode(t, nil)
	end := time.Now().Add(-time.Minute).Truncate(15 * time.Second)
	series := genCompareData(end)
	remoteWrite(t, "http://"+n.HTTPAddr()+"/api/v1/write", series)
	ref := prometheusReference(t, series)
	got := promAPI(t, n)

	compare := func(t *testing.T) {
		for _, q := range compareQueries {
			for _, at := range []time.Time{end, end.Add(-2 * time.Hour).Add(7 * time.Second), end.Add(-4*time.Hour - 30*time.Minute)} {
				want, _, _, err1 := ref.Query(context.Background(), q, at)
				have, _, _, err2 := got.Query(context.Background(), q, at)
				checkSame(t, q, fmt.Sprintf("%s @%s", q, at.Format(time.TimeOnly)), want, have, err1, err2)
			}
			for _, step := range []time.Duration{15 * time.Second, time.Minute, 17 * time.Minute} {
				r := promv1.Range{Start: end.Add(-4*time.Hour - 50*time.Minute), End: end, Step: step}
				want, _, _, err1 := ref.QueryRange(context.Background(), q, r)
				have, _, _, err2 := got.QueryRange(context.Background(), q, r)
				checkSame(t, q, fmt.Sprintf("%s range step %s", q, step), want, have, err1, err2)
			}
		}
	}
	t.Run("heads", compare)
	t.Run("metadata", func(t *testing.T) { compareMetadata(t, ref, got, end) })
	// Blocks older than the out-of-order window are flushed into chunks
	// by now or soon: wait until every partition flushed its old blocks.
	eventually(t, 30*time.Second, func() string {
		if counterSum(scrape(t, n), "starling_tsdb_flushed_chunks_total", nil) == 0 {
			return "no block flushed yet"
		}
		return ""
	})
	time.Sleep(500 * time.Millisecond) // let the other partitions' flushes of the same tick finish
	t.Run("chunks", compare)
}

// compareMetadata compares labels, label values and series, over all time
// (no start or end: Prometheus' MinTime and MaxTime, which once overflowed
// in Starling's nanosecond windows) and over the last hour.
func compareMetadata(t *testing.T, ref, got promv1.API, end time.Time) {
	ctx := context.Background()
	for _, r := range []struct {
		name       string
		start, end time.Time
	}{{"all time", time.Time{}, time.Time{}}, {"last hour", end.Add(-time.Hour), end}} {
		for _, m := range [][]string{nil, {`http_requests_total`}} {
			want, _, _, err1 := ref.LabelNames(ctx, m, r.start, r.end)
			have, _, _, err2 := got.LabelNames(ctx, m, r.start, r.end)
			if err1 != nil || err2 != nil || !slices.Equal(want, have) {
				t.Errorf("labels %v, %s: got %v (%v), want %v (%v)", m, r.name, have, err2, want, err1)
			}
			for _, name := range []string{"__name__", "instance"} {
				want, _, _, err1 := ref.LabelValues(ctx, name, m, r.start, r.end)
				have, _, _, err2 := got.LabelValues(ctx, name, m, r.start, r.end)
				if err1 != nil || err2 != nil || len(want) == 0 || !slices.Equal(want, have) {
					t.Errorf("label %s values %v, %s: got %v (%v), want %v (%v)", name, m, r.name, have, err2, want, err1)
				}
			}
		}
		want, _, _, err1 := ref.Series(ctx, []string{`{__name__=~"http_.*"}`}, r.start, r.end)
		have, _, _, err2 := got.Series(ctx, []string{`{__name__=~"http_.*"}`}, r.start, r.end)
		// Prometheus lists the series of one selector in postings order
		// (unsorted); the set is what both must agree on.
		ws, hs := sortedStrings(want), sortedStrings(have)
		if err1 != nil || err2 != nil || len(want) == 0 || ws != hs {
			t.Errorf("series, %s: got %s (%v), want %s (%v)", r.name, clip(hs), err2, clip(ws), err1)
		}
	}
}

func sortedStrings(sets []model.LabelSet) string {
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = s.String()
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// checkSame fails when two answers differ (NaN equal to NaN). The order of
// an instant vector is PromQL's to choose (Prometheus' own compliance
// tester ignores it) unless the query sorts.
func checkSame(t *testing.T, q, what string, want, have model.Value, err1, err2 error) {
	t.Helper()
	if (err1 == nil) != (err2 == nil) {
		t.Errorf("%s: Prometheus error %v, Starling error %v", what, err1, err2)
		return
	}
	if err1 != nil {
		return
	}
	sorted := strings.Contains(q, "sort")
	if w, h := canonical(want, sorted), canonical(have, sorted); w != h {
		t.Errorf("%s:\nPrometheus %s\nStarling   %s", what, clip(w), clip(h))
	}
}

func canonical(v model.Value, keepOrder bool) string {
	if vec, ok := v.(model.Vector); ok && !keepOrder {
		vec = slices.Clone(vec)
		slices.SortFunc(vec, func(a, b *model.Sample) int { return strings.Compare(a.Metric.String(), b.Metric.String()) })
		return vec.String()
	}
	return v.String()
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}
