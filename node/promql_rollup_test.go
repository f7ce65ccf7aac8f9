package node

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
)

// genRollupData makes 7 days and 3 hours at 60 s of counters with resets,
// gauges and a target that goes stale for a while every day, ending at
// end.
func genRollupData(end time.Time) []*compareSeries {
	rng := rand.New(rand.NewPCG(3, 5))
	const step = time.Minute
	n := int((7*24*time.Hour + 3*time.Hour) / step)
	start := end.Add(-time.Duration(n-1) * step)
	var out []*compareSeries
	for _, inst := range []string{"a:9100", "b:9100", "c:9100"} {
		req := &compareSeries{lset: labels.FromStrings("__name__", "requests_total", "job", "api", "instance", inst)}
		temp := &compareSeries{lset: labels.FromStrings("__name__", "temperature_celsius", "job", "api", "instance", inst)}
		up := &compareSeries{lset: labels.FromStrings("__name__", "up", "job", "api", "instance", inst)}
		c, tc := 0.0, 20.0
		for i := range n {
			ts := start.Add(time.Duration(i) * step).UnixMilli()
			if rng.IntN(2000) == 0 {
				c = 0 // a restart
			}
			c += float64(rng.IntN(50))
			tc = math.Round((tc+rng.NormFloat64()*0.2)*100) / 100
			req.samples = append(req.samples, prompb.Sample{Timestamp: ts, Value: c})
			temp.samples = append(temp.samples, prompb.Sample{Timestamp: ts, Value: tc})
			switch day := i % 1440; {
			case inst == "c:9100" && day == 600:
				up.samples = append(up.samples, prompb.Sample{Timestamp: ts, Value: math.Float64frombits(value.StaleNaN)})
			case inst == "c:9100" && day > 600 && day < 700:
			default:
				up.samples = append(up.samples, prompb.Sample{Timestamp: ts, Value: 1})
			}
		}
		out = append(out, req, temp, up)
	}
	return out
}

// resolutionParam adds max_source_resolution to every request.
type resolutionParam struct{ value string }

func (p resolutionParam) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	q := r.URL.Query()
	q.Set("max_source_resolution", p.value)
	r.URL.RawQuery = q.Encode()
	return http.DefaultTransport.RoundTrip(r)
}

// TestRollupQueriesMatchRaw: a 7-day range query at a 1 h step reads the
// 1 h rollup (an info says so, and the selects metric counts it) and
// gives the raw answer within floating-point rounding; a 5 m step reads
// the 5 m rollup.
func TestRollupQueriesMatchRaw(t *testing.T) {
	n := startNode(t, func(c *Config) { c.RetentionMetrics, c.MetricsRollupAfter = 9*24*time.Hour, 0 })
	end := time.Now().Add(-time.Minute).Truncate(time.Minute)
	series := genRollupData(end)
	remoteWrite(t, "http://"+n.HTTPAddr()+"/api/v1/write", series)
	total := 0
	for _, s := range series {
		for _, smp := range s.samples {
			if smp.Timestamp < end.Add(-3*time.Hour).UnixMilli() {
				total++
			}
		}
	}
	// Every block older than the last few hours gets flushed, then rolled
	// up by a rollup pass.
	eventually(t, 60*time.Second, func() string {
		if got := counterSum(scrape(t, n), "starling_tsdb_rollup_samples_total", nil); got < float64(total) {
			return fmt.Sprintf("%.0f of %d old samples rolled up", got, total)
		}
		return ""
	})
	client := func(res string) promv1.API {
		c, err := promapi.NewClient(promapi.Config{Address: "http://" + n.HTTPAddr() + "/prometheus", RoundTripper: resolutionParam{res}})
		if err != nil {
			t.Fatal(err)
		}
		return promv1.NewAPI(c)
	}
	auto, raw := client("auto"), client("0s")
	queries := []string{
		`sum by (instance) (rate(requests_total[1h]))`,
		`increase(requests_total[2h])`,
		`max_over_time(temperature_celsius[1h])`,
		`min_over_time(temperature_celsius[3h])`,
		`sum_over_time(temperature_celsius[1h])`,
		`delta(temperature_celsius[1h])`,
		`temperature_celsius`,
		`avg by (job) (temperature_celsius)`,
		`up`,
		`count(up)`,
		`last_over_time(up[1h])`,
		`timestamp(temperature_celsius)`,
	}
	for _, tc := range []struct {
		step time.Duration
		name string
	}{{time.Hour, "1h"}, {5 * time.Minute, "5m"}} {
		// Aligned to the step, as Grafana aligns a dashboard's range.
		r := promv1.Range{Start: end.Add(-7 * 24 * time.Hour).Truncate(tc.step), End: end.Truncate(tc.step), Step: tc.step}
		for _, q := range queries {
			before := counterSum(scrape(t, n), "starling_promql_selects_total", map[string]string{"resolution": tc.name})
			rolled, _, infos, err := auto.QueryRange(context.Background(), q, r)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			if !slices.ContainsFunc(infos, func(s string) bool { return strings.Contains(s, "read the "+tc.name+" rollup") }) {
				t.Errorf("%s at %s: infos %v do not name the %s rollup", q, tc.step, infos, tc.name)
			}
			if after := counterSum(scrape(t, n), "starling_promql_selects_total", map[string]string{"resolution": tc.name}); after <= before {
				t.Errorf("%s at %s: the %s selects counter stayed at %.0f", q, tc.step, tc.name, after)
			}
			exact, _, rawInfos, err := raw.QueryRange(context.Background(), q, r)
			if err != nil {
				t.Fatalf("%s raw: %v", q, err)
			}
			if len(rawInfos) > 0 {
				t.Errorf("%s raw: infos %v", q, rawInfos)
			}
			if d := matrixDiff(rolled, exact, 1e-9); d != "" {
				t.Errorf("%s at %s: rollup and raw differ: %s", q, tc.step, d)
			}
		}
	}
	// A step the tiers do not divide reads raw.
	_, _, infos, err := auto.QueryRange(context.Background(), `max_over_time(temperature_celsius[1h])`,
		promv1.Range{Start: end.Add(-24 * time.Hour), End: end, Step: 7 * time.Minute})
	if err != nil || len(infos) > 0 {
		t.Errorf("7m step: %v, infos %v", err, infos)
	}
}

// matrixDiff compares two range answers with a relative tolerance.
func matrixDiff(a, b model.Value, tol float64) string {
	ma, ok1 := a.(model.Matrix)
	mb, ok2 := b.(model.Matrix)
	if !ok1 || !ok2 {
		return fmt.Sprintf("types %s and %s", a.Type(), b.Type())
	}
	if len(ma) != len(mb) {
		return fmt.Sprintf("%d series and %d", len(ma), len(mb))
	}
	for i := range ma {
		sa, sb := ma[i], mb[i]
		if !sa.Metric.Equal(sb.Metric) {
			return fmt.Sprintf("series %d: %s and %s", i, sa.Metric, sb.Metric)
		}
		if len(sa.Values) != len(sb.Values) {
			return fmt.Sprintf("%s: %d points and %d", sa.Metric, len(sa.Values), len(sb.Values))
		}
		for j := range sa.Values {
			pa, pb := sa.Values[j], sb.Values[j]
			x, y := float64(pa.Value), float64(pb.Value)
			if pa.Timestamp != pb.Timestamp || !(x == y || math.IsNaN(x) && math.IsNaN(y) || math.Abs(x-y) <= tol*math.Max(1, math.Abs(y))) {
				return fmt.Sprintf("%s at %s: %v and %v", sa.Metric, pa.Timestamp.Time().UTC(), pa.Value, pb.Value)
			}
		}
	}
	return ""
}
