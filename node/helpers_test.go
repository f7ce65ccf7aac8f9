package node

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Helpers shared by the node tests: a started node, API reads, Prometheus
// scrapes and polling with deadlines.

// endpoints are the listening addresses of a node under test: an in-process
// *Node, or a starling process (multiprocess_test.go).
type endpoints interface {
	OTLPGRPCAddr() string
	OTLPHTTPAddr() string
	HTTPAddr() string
}

// startNode starts a LocalConfig node in a temporary directory (mutate may
// change the config first) and stops it when the test ends.
func startNode(t testing.TB, mutate func(*Config)) *Node {
	t.Helper()
	cfg := LocalConfig(t.TempDir())
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return n
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// apiURL is the URL of path (with query) on the node's HTTP API.
func apiURL(n endpoints, path string) string { return "http://" + n.HTTPAddr() + path }

// httpGet returns the status and body of GET url.
func httpGet(t testing.TB, u string) (int, []byte) {
	t.Helper()
	resp, err := httpClient.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", u, err)
	}
	return resp.StatusCode, b
}

// getJSON decodes the JSON answer of GET path on the API into v (numbers
// as json.Number) and fails the test unless the status is 200.
func getJSON(t testing.TB, n endpoints, path string, v any) {
	t.Helper()
	status, body := httpGet(t, apiURL(n, path))
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, status, body)
	}
	if err := decodeJSON(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// postOTLP posts body to the OTLP/HTTP path with the content type and
// encoding given (gzip, deflate and zstd compress body first).
func postOTLP(t testing.TB, addr, path, contentType, encoding string, body []byte) (int, []byte) {
	t.Helper()
	body = compress(t, encoding, body)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: read body: %v", path, err)
	}
	return resp.StatusCode, b
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// scrape returns the metric families of the node's /metrics endpoint.
func scrape(t testing.TB, n endpoints) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := httpGet(t, apiURL(n, "/metrics"))
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// counterSum sums the counter name over the series whose labels include
// every label of match (absent series count as 0).
func counterSum(mfs map[string]*dto.MetricFamily, name string, match map[string]string) float64 {
	mf := mfs[name]
	if mf == nil {
		return 0
	}
	var sum float64
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range match {
			if labels[k] != v {
				ok = false
			}
		}
		if ok {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// ingested is starling_ingested_records_total for one signal.
func ingested(t testing.TB, n endpoints, signal string) float64 {
	t.Helper()
	return counterSum(scrape(t, n), "starling_ingested_records_total", map[string]string{"signal": signal})
}

// withQuery builds "path?k=v&…" from pairs.
func withQuery(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// API answers, as the tests read them (independent of the structs the
// server renders with).

type apiTraceSummary struct {
	TraceID     string      `json:"traceID"`
	RootService string      `json:"rootService"`
	RootName    string      `json:"rootName"`
	StartTime   string      `json:"startTime"`
	DurationMs  json.Number `json:"durationMs"`
	SpanCount   int         `json:"spanCount"`
}

type apiTraces struct {
	Traces []apiTraceSummary `json:"traces"`
}

type apiLog struct {
	Time           string         `json:"time"`
	ObservedTime   string         `json:"observedTime"`
	Severity       string         `json:"severity"`
	SeverityNumber int32          `json:"severityNumber"`
	Body           any            `json:"body"`
	Service        string         `json:"service"`
	TraceID        string         `json:"traceID"`
	SpanID         string         `json:"spanID"`
	EventName      string         `json:"eventName"`
	Attributes     map[string]any `json:"attributes"`
	Resource       map[string]any `json:"resource"`
	Scope          string         `json:"scope"`
}

type apiLogs struct {
	Logs []apiLog `json:"logs"`
}

type apiBuckets struct {
	Offset       int32    `json:"offset"`
	BucketCounts []uint64 `json:"bucketCounts"`
}

type apiSeries struct {
	Name       string            `json:"name"`
	Labels     map[string]string `json:"labels"`
	Samples    []apiSample       `json:"samples"`
	Histograms []json.RawMessage `json:"histograms"`
}

type apiSample struct {
	Time  string `json:"time"`
	Value any    `json:"value"`
}

type apiSeriesList struct {
	Series []apiSeries `json:"series"`
}

// nanos parses an RFC 3339 time of the API into unix nanoseconds.
func nanos(t testing.TB, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("API time %q: %v", s, err)
	}
	return tm.UnixNano()
}

// promAPI is the Prometheus API client on a node's /prometheus.
func promAPI(t testing.TB, n endpoints) promv1.API {
	t.Helper()
	c, err := promapi.NewClient(promapi.Config{Address: "http://" + n.HTTPAddr() + "/prometheus"})
	if err != nil {
		t.Fatal(err)
	}
	return promv1.NewAPI(c)
}

// checkInstant runs an instant query now and compares its vector with
// want: each series' labels (as model.Metric prints them) and value.
func checkInstant(t *testing.T, api promv1.API, q string, want map[string]float64) {
	t.Helper()
	v, warnings, _, err := api.Query(context.Background(), q, time.Now())
	if err != nil {
		t.Errorf("%s: %v", q, err)
		return
	}
	if len(warnings) > 0 {
		t.Errorf("%s: warnings %v", q, warnings)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		t.Errorf("%s: %s result, want a vector", q, v.Type())
		return
	}
	got := map[string]float64{}
	for _, s := range vec {
		got[s.Metric.String()] = float64(s.Value)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got  %v\n want %v", q, got, want)
	}
}
