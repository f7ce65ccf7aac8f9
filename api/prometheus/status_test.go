package prometheus

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/metadata"
	"go.yaml.in/yaml/v3"
)

// /metadata, /query_exemplars, /status/* and the routes of things
// Starling does not have.

// mapMetadata is a MetadataSource over a map; it ignores the hints, so
// the API's own limits are what the test sees.
type mapMetadata struct {
	m   map[string][]metadata.Metadata
	err error
}

func (s mapMetadata) MetricMetadata(context.Context, MetadataQuery) (map[string][]metadata.Metadata, error) {
	return s.m, s.err
}

func TestMetadata(t *testing.T) {
	counter := metadata.Metadata{Type: model.MetricTypeCounter, Help: "Requests served.", Unit: ""}
	counter2 := metadata.Metadata{Type: model.MetricTypeCounter, Help: "Requests served, by method.", Unit: ""}
	gauge := metadata.Metadata{Type: model.MetricTypeGauge, Help: "Room temperature.", Unit: "celsius"}
	hist := metadata.Metadata{Type: model.MetricTypeHistogram, Help: "Request latency.", Unit: "seconds"}
	src := mapMetadata{m: map[string][]metadata.Metadata{
		"http_requests_total":      {counter, counter2, counter}, // A duplicate, dropped.
		"room_temperature_celsius": {gauge},
		"request_duration_seconds": {hist},
		"empty_family":             {},
	}}
	f := newFixture(t, func(_ *Config, d *Deps) { d.Metadata = src })
	ctx := ctxT(t)

	all, err := f.client.Metadata(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || len(all["http_requests_total"]) != 2 || all["room_temperature_celsius"][0].Unit != "celsius" ||
		all["request_duration_seconds"][0].Type != "histogram" || all["http_requests_total"][1].Help != counter2.Help {
		t.Errorf("Metadata() = %+v", all)
	}
	one, err := f.client.Metadata(ctx, "room_temperature_celsius", "")
	if err != nil || len(one) != 1 || one["room_temperature_celsius"][0].Help != "Room temperature." {
		t.Errorf("Metadata(metric) = %+v, %v", one, err)
	}
	// limit keeps the first families by name.
	two, err := f.client.Metadata(ctx, "", "2")
	if _, ok := two["request_duration_seconds"]; err != nil || len(two) != 2 || !ok {
		t.Errorf("Metadata(limit 2) = %+v, %v", two, err)
	}
	// limit=0 is an empty answer in Prometheus.
	if none, err := f.client.Metadata(ctx, "", "0"); err != nil || len(none) != 0 {
		t.Errorf("Metadata(limit 0) = %+v, %v", none, err)
	}

	_, body, _ := f.call(t, http.MethodGet, "/api/v1/metadata", url.Values{"metric": {"http_requests_total"}, "limit_per_metric": {"1"}})
	if want := `{"status":"success","data":{"http_requests_total":[{"type":"counter","unit":"","help":"Requests served."}]}}`; body != want {
		t.Errorf("limit_per_metric=1:\n got %s\nwant %s", body, want)
	}

	// No source: an empty object.
	f2 := newFixture(t, nil)
	if _, body, _ := f2.call(t, http.MethodGet, "/api/v1/metadata", nil); body != `{"status":"success","data":{}}` {
		t.Errorf("no source: %s", body)
	}

	// A source error is an execution error.
	f3 := newFixture(t, func(_ *Config, d *Deps) { d.Metadata = mapMetadata{err: errors.New("metadata store down")} })
	code, _, env := f3.call(t, http.MethodGet, "/api/v1/metadata", nil)
	if code != http.StatusUnprocessableEntity || env.ErrorType != "execution" || env.Error != "metadata store down" {
		t.Errorf("source error: %d %+v", code, env)
	}
}

func TestQueryExemplars(t *testing.T) {
	f := newFixture(t, nil)
	got, err := f.client.QueryExemplars(ctxT(t), `rate(http_requests_total{instance="a"}[5m])`, t0, tEnd)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].SeriesLabels["method"] != "GET" || len(got[0].Exemplars) != 6 {
		t.Fatalf("QueryExemplars = %+v", got)
	}
	e := got[0].Exemplars[1]
	if e.Labels["trace_id"] != "trace-b" || e.Value != 80 || !e.Timestamp.Time().Equal(t0.Add(8*interval)) {
		t.Errorf("second exemplar %+v", e)
	}
	// A query without selectors answers 204 No Content, as in Prometheus.
	if code, body, _ := f.call(t, http.MethodGet, "/api/v1/query_exemplars", url.Values{"query": {"1 + 1"}}); code != http.StatusNoContent || body != "" {
		t.Errorf("no selectors: %d %q", code, body)
	}
	// Without an exemplar store: an empty list.
	f2 := newFixture(t, func(_ *Config, d *Deps) { d.Exemplars = nil })
	if _, body, _ := f2.call(t, http.MethodGet, "/api/v1/query_exemplars", url.Values{"query": {"up"}}); body != `{"status":"success","data":[]}` {
		t.Errorf("no exemplar store: %s", body)
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)

	bi, err := f.client.Buildinfo(ctx)
	if err != nil || bi.Version != CompatibleVersion || bi.GoVersion != runtime.Version() {
		t.Errorf("Buildinfo = %+v, %v", bi, err)
	}

	ri, err := f.client.Runtimeinfo(ctx)
	if err != nil || ri.CWD == "" || ri.GOMAXPROCS != runtime.GOMAXPROCS(0) || !ri.StartTime.Equal(f.api.start) || !ri.ReloadConfigSuccess {
		t.Errorf("Runtimeinfo = %+v, %v", ri, err)
	}
	f2 := newFixture(t, func(_ *Config, d *Deps) {
		d.RuntimeInfo = func() (RuntimeInfo, error) {
			ri := ProcessRuntimeInfo(t0)
			ri.StorageRetention = "15d"
			return ri, nil
		}
	})
	if ri, err := f2.client.Runtimeinfo(ctx); err != nil || ri.StorageRetention != "15d" || !ri.StartTime.Equal(t0) {
		t.Errorf("Runtimeinfo from Deps = %+v, %v", ri, err)
	}
	f3 := newFixture(t, func(_ *Config, d *Deps) {
		d.RuntimeInfo = func() (RuntimeInfo, error) { return RuntimeInfo{CWD: "/x"}, errors.New("no hostname") }
	})
	code, _, env := f3.call(t, http.MethodGet, "/api/v1/status/runtimeinfo", nil)
	if code != http.StatusInternalServerError || env.ErrorType != "internal" || env.Error != "no hostname" || len(env.Data) == 0 {
		t.Errorf("runtime info error: %d %+v", code, env)
	}

	flags, err := f.client.Flags(ctx)
	if err != nil || flags["query.lookback-delta"] != "5m" || flags["query.timeout"] != "2m" || flags["query.max-samples"] != "50000000" {
		t.Errorf("Flags = %v, %v", flags, err)
	}

	cfg, err := f.client.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Global struct {
			ScrapeInterval     string `yaml:"scrape_interval"`
			EvaluationInterval string `yaml:"evaluation_interval"`
		} `yaml:"global"`
	}
	if err := yaml.Unmarshal([]byte(cfg.YAML), &parsed); err != nil || parsed.Global.EvaluationInterval != "1m" || parsed.Global.ScrapeInterval != "1m" {
		t.Errorf("Config = %q (%+v, %v)", cfg.YAML, parsed, err)
	}
}

// What Starling has no equivalent for answers what a Prometheus without
// targets, rules and alertmanagers answers.
func TestUnsupported(t *testing.T) {
	f := newFixture(t, nil)
	for path, want := range map[string]string{
		"/api/v1/targets":          `{"status":"success","data":{"activeTargets":[],"droppedTargets":[],"droppedTargetCounts":{}}}`,
		"/api/v1/targets/metadata": `{"status":"success","data":[]}`,
		"/api/v1/scrape_pools":     `{"status":"success","data":{"scrapePools":[]}}`,
		"/api/v1/rules":            `{"status":"success","data":{"groups":[]}}`,
		"/api/v1/alerts":           `{"status":"success","data":{"alerts":[]}}`,
		"/api/v1/alertmanagers":    `{"status":"success","data":{"activeAlertmanagers":[],"droppedAlertmanagers":[]}}`,
	} {
		if code, body, _ := f.call(t, http.MethodGet, path, nil); code != http.StatusOK || body != want {
			t.Errorf("%s: %d %s\nwant %s", path, code, body, want)
		}
	}
	ctx := ctxT(t)
	if r, err := f.client.Rules(ctx, nil); err != nil || len(r.Groups) != 0 {
		t.Errorf("Rules = %+v, %v", r, err)
	}
	if a, err := f.client.Alerts(ctx); err != nil || len(a.Alerts) != 0 {
		t.Errorf("Alerts = %+v, %v", a, err)
	}
	if tg, err := f.client.Targets(ctx); err != nil || len(tg.Active) != 0 {
		t.Errorf("Targets = %+v, %v", tg, err)
	}
}
