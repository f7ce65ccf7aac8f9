package prometheus

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/tsdb"
)

// The test data lives in a real Prometheus TSDB: counters, a gauge, a
// native histogram, a series with a UTF-8 label name and one with label
// values that JSON would HTML-escape, and exemplars, sampled every 15 s
// for 10 minutes from t0.
var (
	t0       = time.Unix(1_700_000_000, 0).UTC()
	tEnd     = t0.Add(10 * time.Minute)
	interval = 15 * time.Second
)

const prefix = "/prometheus"

type fixture struct {
	db     *tsdb.DB
	engine *promql.Engine
	api    *API
	srv    *httptest.Server
	client v1.API
}

// newFixture opens a TSDB in t.TempDir, fills it and serves the API on it
// under /prometheus. edit, if set, changes the config and deps before New.
func newFixture(t testing.TB, edit func(*Config, *Deps)) *fixture {
	t.Helper()
	opts := tsdb.DefaultOptions()
	opts.EnableExemplarStorage = true
	opts.MaxExemplars = 100
	db, err := tsdb.Open(t.TempDir(), nil, nil, opts, nil)
	if err != nil {
		t.Fatalf("open tsdb: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	fill(t, db)

	cfg := DefaultConfig()
	engine := promql.NewEngine(cfg.EngineOpts())
	deps := Deps{Engine: engine, Queryable: db, Exemplars: db}
	if edit != nil {
		edit(&cfg, &deps)
		if e, ok := deps.Engine.(*promql.Engine); ok {
			engine = e
		}
	}
	a, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.now = func() time.Time { return tEnd }
	mux := http.NewServeMux()
	a.Register(mux, prefix)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client, err := api.NewClient(api.Config{Address: srv.URL + prefix})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &fixture{db: db, engine: engine, api: a, srv: srv, client: v1.NewAPI(client)}
}

func fill(t testing.TB, db *tsdb.DB) {
	t.Helper()
	app := db.Appender(context.Background())
	reqA := labels.FromStrings("__name__", "http_requests_total", "job", "api", "instance", "a", "method", "GET")
	reqB := labels.FromStrings("__name__", "http_requests_total", "job", "api", "instance", "b", "method", "POST")
	upA := labels.FromStrings("__name__", "up", "job", "api", "instance", "a")
	temp := labels.FromStrings("__name__", "room_temperature_celsius", "room", "<kitchen> & co")
	utf8 := labels.FromStrings("__name__", "utf8.metric", "http.status_code", "200", "job", "api")
	hist := labels.FromStrings("__name__", "request_duration_seconds", "job", "api")
	for i := 0; t0.Add(time.Duration(i)*interval).Compare(tEnd) <= 0; i++ {
		ts := t0.Add(time.Duration(i) * interval).UnixMilli()
		for _, s := range []struct {
			l labels.Labels
			v float64
		}{
			{reqA, float64(10 * i)},
			{reqB, float64(3*i) + 0.5},
			{upA, 1},
			{temp, 20 + float64(i%7)/4},
			{utf8, float64(i)},
		} {
			if _, err := app.Append(0, s.l, ts, s.v); err != nil {
				t.Fatalf("append %s: %v", s.l, err)
			}
		}
		if _, err := app.AppendHistogram(0, hist, ts, nativeHistogram(i), nil); err != nil {
			t.Fatalf("append histogram: %v", err)
		}
		if i%8 == 0 {
			ex := exemplar.Exemplar{Labels: labels.FromStrings("trace_id", "trace-"+string(rune('a'+i/8))), Value: float64(10 * i), Ts: ts, HasTs: true}
			if _, err := app.AppendExemplar(0, reqA, ex); err != nil {
				t.Fatalf("append exemplar: %v", err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// nativeHistogram is the i-th sample of a growing exponential histogram
// (schema 1) with observations in the zero bucket, two positive and one
// negative bucket.
func nativeHistogram(i int) *histogram.Histogram {
	n := int64(i + 1)
	return &histogram.Histogram{
		Schema:          1,
		ZeroThreshold:   0.001,
		ZeroCount:       uint64(n),
		Count:           uint64(5 * n),
		Sum:             float64(n) * 3.25,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 1}, {Offset: 2, Length: 1}},
		PositiveBuckets: []int64{n, n}, // Deltas: n, then 2n.
		NegativeSpans:   []histogram.Span{{Offset: 1, Length: 1}},
		NegativeBuckets: []int64{n},
	}
}

// direct evaluates a query with the engine over the TSDB, without HTTP;
// a zero step is an instant query at start.
func (f *fixture) direct(t *testing.T, q string, start, end time.Time, step time.Duration) model.Value {
	t.Helper()
	var (
		qry promql.Query
		err error
	)
	if step == 0 {
		qry, err = f.engine.NewInstantQuery(context.Background(), f.db, nil, q, start)
	} else {
		qry, err = f.engine.NewRangeQuery(context.Background(), f.db, nil, q, start, end, step)
	}
	if err != nil {
		t.Fatalf("direct %q: %v", q, err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("direct %q: %v", q, res.Err)
	}
	return toModel(res.Value)
}

// toModel converts an engine result into client_golang's types, which
// are what the HTTP answer decodes into.
func toModel(v parser.Value) model.Value {
	switch v := v.(type) {
	case promql.Vector:
		out := model.Vector{}
		for _, s := range v {
			ms := &model.Sample{Metric: toMetric(s.Metric), Timestamp: model.Time(s.T), Value: model.SampleValue(s.F)}
			if s.H != nil {
				ms.Value = 0
				ms.Histogram = toHistogram(s.H)
			}
			out = append(out, ms)
		}
		slices.SortFunc(out, func(a, b *model.Sample) int { return strings.Compare(a.Metric.String(), b.Metric.String()) })
		return out
	case promql.Matrix:
		out := model.Matrix{}
		for _, s := range v {
			ss := &model.SampleStream{Metric: toMetric(s.Metric)}
			for _, p := range s.Floats {
				ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.Time(p.T), Value: model.SampleValue(p.F)})
			}
			for _, p := range s.Histograms {
				ss.Histograms = append(ss.Histograms, model.SampleHistogramPair{Timestamp: model.Time(p.T), Histogram: toHistogram(p.H)})
			}
			out = append(out, ss)
		}
		return out
	case promql.Scalar:
		return &model.Scalar{Timestamp: model.Time(v.T), Value: model.SampleValue(v.V)}
	case promql.String:
		return &model.String{Timestamp: model.Time(v.T), Value: v.V}
	}
	panic("unknown value type")
}

func toMetric(ls labels.Labels) model.Metric {
	m := model.Metric{}
	ls.Range(func(l labels.Label) { m[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return m
}

// toHistogram lists the non-empty buckets, with the boundary codes of
// Prometheus' JSON format.
func toHistogram(h *histogram.FloatHistogram) *model.SampleHistogram {
	sh := &model.SampleHistogram{Count: model.FloatString(h.Count), Sum: model.FloatString(h.Sum)}
	it := h.AllBucketIterator()
	for it.Next() {
		b := it.At()
		if b.Count == 0 {
			continue
		}
		var boundaries int32 = 2
		switch {
		case b.LowerInclusive && b.UpperInclusive:
			boundaries = 3
		case b.LowerInclusive:
			boundaries = 1
		case b.UpperInclusive:
			boundaries = 0
		}
		sh.Buckets = append(sh.Buckets, &model.HistogramBucket{
			Boundaries: boundaries, Lower: model.FloatString(b.Lower), Upper: model.FloatString(b.Upper), Count: model.FloatString(b.Count),
		})
	}
	return sh
}

// sortVector sorts a decoded vector as toModel does, since the order of an
// instant vector is the engine's and may differ between two runs.
func sortVector(v model.Value) model.Value {
	if vec, ok := v.(model.Vector); ok {
		vec = slices.Clone(vec)
		slices.SortFunc(vec, func(a, b *model.Sample) int { return strings.Compare(a.Metric.String(), b.Metric.String()) })
		return vec
	}
	return v
}

// envelope is an answer decoded loosely, for the error and raw tests.
type envelope struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Infos     []string        `json:"infos"`
}

// call sends method path?params (GET) or a form body (POST) and returns
// the status code, the raw body and the decoded envelope (zero when the
// body is not one).
func (f *fixture) call(t *testing.T, method, path string, params url.Values) (int, string, envelope) {
	t.Helper()
	u := f.srv.URL + prefix + path
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(params.Encode())
	} else if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var env envelope
	_ = json.Unmarshal(b, &env)
	return resp.StatusCode, string(b), env
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func decodeJSON(r io.Reader, v any) error {
	return json.NewDecoder(r).Decode(v)
}
