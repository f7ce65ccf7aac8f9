package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// writeSeries remote-writes one sample at t of each series name{i="k"}
// for k in ks, and returns the status and body.
func writeSeries(t *testing.T, n *Node, name string, t0 time.Time, ks ...int) (int, string) {
	t.Helper()
	var req prompb.WriteRequest
	for _, k := range ks {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels:  []prompb.Label{{Name: "__name__", Value: name}, {Name: "i", Value: fmt.Sprint(k)}},
			Samples: []prompb.Sample{{Timestamp: t0.UnixMilli(), Value: float64(k)}},
		})
	}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := http.NewRequest(http.MethodPost, "http://"+n.HTTPAddr()+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, b)))
	hr.Header.Set("Content-Type", "application/x-protobuf")
	hr.Header.Set("Content-Encoding", "snappy")
	resp, err := httpClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestSeriesLimits: --max-series-per-metric and --max-series refuse the
// samples of new series beyond them (remote write 400 naming the limit,
// OTLP partial success), keep taking the series already active, and
// count what they refused; /metrics shows the active series. The counts
// are refreshed once, before the writes: a refresh replaces the counts
// with the heads' as read, which may miss the series admitted while it
// reads (the limits hold within one refresh interval's admissions).
func TestSeriesLimits(t *testing.T) {
	n := startNode(t, func(c *Config) {
		c.SeriesLimits.MaxSeriesPerMetric = 5
		c.SeriesLimits.MaxSeries = 8
		c.SeriesLimits.RefreshInterval = time.Hour
	})
	eventually(t, 10*time.Second, func() string {
		if n.limiter.Refreshes() == 0 {
			return "the series counts were not read yet"
		}
		return ""
	})
	api := promAPI(t, n)
	now := time.Now().Add(-time.Minute)
	count := func(q string) float64 {
		t.Helper()
		v, _, _, err := api.Query(context.Background(), "count("+q+")", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		vec, ok := v.(model.Vector)
		if !ok || len(vec) != 1 {
			t.Fatalf("count(%s): %v", q, v)
		}
		return float64(vec[0].Value)
	}

	code, body := writeSeries(t, n, "a", now, 0, 1, 2, 3, 4, 5, 6)
	if code != http.StatusBadRequest || !strings.Contains(body, "--max-series-per-metric") || !strings.Contains(body, "2 new series refused") {
		t.Fatalf("7 series of a with a limit of 5: %d %q", code, body)
	}
	if got := count("a"); got != 5 {
		t.Fatalf("%v series of a stored, want 5", got)
	}
	// The active ones keep being written; a refused one stays refused.
	v, _, _, err := api.Query(context.Background(), "a", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var active []int
	for _, s := range v.(model.Vector) {
		active = append(active, int(s.Value))
	}
	code, body = writeSeries(t, n, "a", now.Add(time.Second), active...)
	if code != http.StatusNoContent {
		t.Fatalf("the 5 active series %v again: %d %q", active, code, body)
	}
	// The cluster-wide bound: 3 more series of b, then none.
	code, body = writeSeries(t, n, "b", now, 0, 1, 2, 3)
	if code != http.StatusBadRequest || !strings.Contains(body, "--max-series)") {
		t.Fatalf("4 series of b at 5 of 8: %d %q", code, body)
	}
	if got := count("b"); got != 3 {
		t.Fatalf("%v series of b stored, want 3", got)
	}

	// OTLP: a partial success counting the refused points.
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty()
	g.SetName("c")
	for i := range 2 {
		p := g.SetEmptyGauge().DataPoints().AppendEmpty()
		p.SetTimestamp(ts(now))
		p.SetIntValue(int64(i))
		p.Attributes().PutInt("i", int64(i))
	}
	body2, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	code, resp := postOTLP(t, n.OTLPHTTPAddr(), "/v1/metrics", "application/x-protobuf", "", body2)
	er := pmetricotlp.NewExportResponse()
	if err := er.UnmarshalProto(resp); err != nil || code != http.StatusOK {
		t.Fatalf("OTLP: %d %v", code, err)
	}
	if ps := er.PartialSuccess(); ps.RejectedDataPoints() == 0 || !strings.Contains(ps.ErrorMessage(), "--max-series") {
		t.Errorf("OTLP partial success: %d rejected, %q", ps.RejectedDataPoints(), ps.ErrorMessage())
	}

	mfs := scrape(t, n)
	if got := counterSum(mfs, "starling_tsdb_head_series", nil); got != 8 {
		t.Errorf("starling_tsdb_head_series %v, want 8", got)
	}
	if got := counterSum(mfs, "starling_tsdb_head_series_by_metric", map[string]string{"metric": "a"}); got != 5 {
		t.Errorf("active series of a in /metrics: %v, want 5", got)
	}
	if got := counterSum(mfs, "starling_series_refused_total", nil); got < 2+1+1 {
		t.Errorf("starling_series_refused_total %v, want at least 4", got)
	}
}
