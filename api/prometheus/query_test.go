package prometheus

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// The answers of /query and /query_range, decoded by client_golang, equal
// what the engine returns over the same TSDB.

func TestQueryMatchesEngine(t *testing.T) {
	f := newFixture(t, nil)
	at := t0.Add(7 * time.Minute)
	for _, q := range []string{
		`up`,
		`http_requests_total`,
		`rate(http_requests_total[5m])`,
		`sum by (job) (rate(http_requests_total[1m]))`,
		`http_requests_total[1m]`, // A matrix from an instant query.
		`request_duration_seconds`,
		`rate(request_duration_seconds[5m])`,
		`histogram_quantile(0.9, rate(request_duration_seconds[5m]))`,
		`histogram_count(request_duration_seconds)`,
		`request_duration_seconds[1m]`,
		`{"utf8.metric", "http.status_code"="200"}`,
		`room_temperature_celsius`,
		`1 + 2`,
		`time()`,
		`1e-7 * up`, // Exponent notation below 1e-6.
		`up / 0`,    // +Inf.
		`up - up/0`, // -Inf.
		`0/0 + up`,  // NaN.
		`vector(1)`,
		`nonexistent_metric`,
	} {
		t.Run(q, func(t *testing.T) {
			got, _, _, err := f.client.Query(ctxT(t), q, at)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			want := f.direct(t, q, at, at, 0)
			if sortVector(got).String() != want.String() {
				t.Errorf("HTTP answer differs from the engine's\n got: %s\nwant: %s", got, want)
			}
			if got.Type() != want.Type() {
				t.Errorf("type %s, want %s", got.Type(), want.Type())
			}
		})
	}
}

func TestQueryRangeMatchesEngine(t *testing.T) {
	f := newFixture(t, nil)
	start, end := t0.Add(2*time.Minute), t0.Add(9*time.Minute+30*time.Second)
	for _, c := range []struct {
		q    string
		step time.Duration
	}{
		{`up`, 15 * time.Second},
		{`rate(http_requests_total[1m])`, 30 * time.Second},
		{`sum(rate(http_requests_total[1m]))`, 7 * time.Second},
		{`request_duration_seconds`, 45 * time.Second},
		{`rate(request_duration_seconds[2m])`, time.Minute},
		{`histogram_quantile(0.5, rate(request_duration_seconds[2m]))`, time.Minute},
		{`{"utf8.metric"}`, 90 * time.Second},
		{`scalar(up)`, time.Minute},
		{`1.5`, 2 * time.Minute},
		{`nonexistent_metric`, time.Minute},
	} {
		t.Run(c.q, func(t *testing.T) {
			got, _, _, err := f.client.QueryRange(ctxT(t), c.q, v1.Range{Start: start, End: end, Step: c.step})
			if err != nil {
				t.Fatalf("QueryRange: %v", err)
			}
			want := f.direct(t, c.q, start, end, c.step)
			if got.String() != want.String() {
				t.Errorf("HTTP answer differs from the engine's\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

// client_golang cannot decode string results; Prometheus encodes them
// with promql.String's MarshalJSON.
func TestQueryStringResult(t *testing.T) {
	f := newFixture(t, nil)
	code, body, _ := f.call(t, http.MethodGet, "/api/v1/query", url.Values{"query": {`"a <string>"`}, "time": {"1700000420.5"}})
	want := `{"status":"success","data":{"resultType":"string","result":[1700000420.5,"a \u003cstring\u003e"]}}`
	if code != http.StatusOK || body != want {
		t.Errorf("got %d %s\nwant %s", code, body, want)
	}
}

// A query without a time parameter is evaluated at the API's now.
func TestQueryDefaultTime(t *testing.T) {
	f := newFixture(t, nil)
	got, _, _, err := f.client.Query(ctxT(t), `up`, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	vec := got.(model.Vector)
	if len(vec) != 1 || !vec[0].Timestamp.Time().Equal(tEnd) {
		t.Fatalf("got %s, want one sample at %s", got, tEnd)
	}
}

// The engine's annotations arrive as warnings and infos, with the query
// position Prometheus appends.
func TestQueryAnnotations(t *testing.T) {
	f := newFixture(t, nil)
	_, warnings, infos, err := f.client.Query(ctxT(t), `rate(up[5m])`, tEnd)
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := `PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "up" (1:6)`
	if !slices.Equal(infos, []string{wantInfo}) || len(warnings) != 0 {
		t.Errorf("warnings %q, infos %q; want info %q", warnings, infos, wantInfo)
	}

	_, warnings, _, err = f.client.Query(ctxT(t), `histogram_quantile(2, request_duration_seconds)`, tEnd)
	if err != nil {
		t.Fatal(err)
	}
	wantWarn := `PromQL warning: quantile value should be between 0 and 1, got 2 (1:20)`
	if !slices.Equal(warnings, []string{wantWarn}) {
		t.Errorf("warnings %q, want %q", warnings, wantWarn)
	}
}

// limit cuts vectors and matrices with Prometheus' warning.
func TestQueryLimit(t *testing.T) {
	f := newFixture(t, nil)
	got, warnings, _, err := f.client.Query(ctxT(t), `http_requests_total`, tEnd, v1.WithLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.(model.Vector)); n != 1 || !slices.Equal(warnings, []string{"results truncated due to limit"}) {
		t.Errorf("%d samples, warnings %q", n, warnings)
	}
	got, warnings, _, err = f.client.QueryRange(ctxT(t), `http_requests_total`, v1.Range{Start: t0, End: tEnd, Step: time.Minute}, v1.WithLimit(2))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.(model.Matrix)); n != 2 || len(warnings) != 0 {
		t.Errorf("limit equal to the result: %d series, warnings %q", n, warnings)
	}
}

// stats=all adds the statistics, with per-step samples on a range query;
// an unknown value still works but is deprecated.
func TestQueryStats(t *testing.T) {
	f := newFixture(t, nil)
	code, _, env := f.call(t, http.MethodGet, "/api/v1/query_range", url.Values{
		"query": {"up"}, "start": {"1700000000"}, "end": {"1700000060"}, "step": {"15"}, "stats": {"all"},
	})
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	data := string(env.Data)
	for _, want := range []string{`"stats":{"timings":{"evalTotalTime":`, `"samples":{"totalQueryableSamplesPerStep":[[1700000000,1],`, `"totalQueryableSamples":5,`, `"peakSamples":`} {
		if !strings.Contains(data, want) {
			t.Errorf("data lacks %s:\n%s", want, data)
		}
	}
	_, _, env = f.call(t, http.MethodGet, "/api/v1/query", url.Values{"query": {"up"}, "stats": {"yes"}})
	wantWarn := `value "yes" for parameter "stats" is deprecated and will be rejected in the next major release, use "true" or "all"`
	if !strings.Contains(string(env.Data), `"stats":{`) || !slices.Equal(env.Warnings, []string{wantWarn}) {
		t.Errorf("stats=yes: warnings %q, data %s", env.Warnings, env.Data)
	}
	_, _, env = f.call(t, http.MethodGet, "/api/v1/query", url.Values{"query": {"up"}})
	if strings.Contains(string(env.Data), `"stats"`) {
		t.Errorf("no stats parameter, but stats in %s", env.Data)
	}
}

// lookback_delta overrides the staleness window for one query.
func TestQueryLookbackDelta(t *testing.T) {
	f := newFixture(t, nil)
	at := tEnd.Add(2 * time.Minute)
	got, _, _, err := f.client.Query(ctxT(t), `up`, at)
	if err != nil || len(got.(model.Vector)) != 1 {
		t.Fatalf("default lookback: %v %v", got, err)
	}
	got, _, _, err = f.client.Query(ctxT(t), `up`, at, v1.WithLookbackDelta(time.Minute))
	if err != nil || len(got.(model.Vector)) != 0 {
		t.Fatalf("lookback_delta=1m: %v %v", got, err)
	}
}

// warnQueryable adds a warning to every SeriesSet and label lookup of the
// TSDB, as Starling's storage does for partitions that did not answer.
type warnQueryable struct{ storage.Queryable }

type partialErr string

func (e partialErr) Error() string { return string(e) }

const errPartialMsg = partialErr("partial result: partitions 3, 7 did not answer")

func partial() annotations.Annotations {
	var a annotations.Annotations
	return a.Add(errPartialMsg)
}

func (w warnQueryable) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := w.Queryable.Querier(mint, maxt)
	return warnQuerier{q}, err
}

type warnQuerier struct{ storage.Querier }

func (w warnQuerier) Select(ctx context.Context, sorted bool, h *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	return warnSet{w.Querier.Select(ctx, sorted, h, ms...)}
}

func (w warnQuerier) LabelNames(ctx context.Context, h *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	names, ws, err := w.Querier.LabelNames(ctx, h, ms...)
	return names, ws.Merge(partial()), err
}

func (w warnQuerier) LabelValues(ctx context.Context, name string, h *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	vals, ws, err := w.Querier.LabelValues(ctx, name, h, ms...)
	return vals, ws.Merge(partial()), err
}

type warnSet struct{ storage.SeriesSet }

func (w warnSet) Warnings() annotations.Annotations {
	ws := w.SeriesSet.Warnings()
	return ws.Merge(partial())
}

// The storage's warnings reach every endpoint that reads it.
func TestStorageWarnings(t *testing.T) {
	f := newFixture(t, func(_ *Config, d *Deps) {
		d.Queryable = warnQueryable{d.Queryable}
	})
	want := []string{string(errPartialMsg)}
	ctx := ctxT(t)
	check := func(name string, warnings v1.Warnings, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(warnings, want) {
			t.Errorf("%s: warnings %q, want %q", name, warnings, want)
		}
	}
	_, w, _, err := f.client.Query(ctx, `sum(up)`, tEnd)
	check("query", w, err)
	_, w, _, err = f.client.QueryRange(ctx, `up`, v1.Range{Start: t0, End: tEnd, Step: time.Minute})
	check("query_range", w, err)
	_, w, _, err = f.client.Series(ctx, []string{`up`}, t0, tEnd)
	check("series", w, err)
	_, w, _, err = f.client.Series(ctx, []string{`up`, `http_requests_total`}, t0, tEnd)
	check("series with two match[]", w, err)
	_, w, _, err = f.client.LabelNames(ctx, nil, t0, tEnd)
	check("labels", w, err)
	_, w, _, err = f.client.LabelNames(ctx, []string{`up`, `http_requests_total`}, t0, tEnd)
	check("labels with two match[]", w, err)
	_, w, _, err = f.client.LabelValues(ctx, "job", nil, t0, tEnd)
	check("label values", w, err)
}
