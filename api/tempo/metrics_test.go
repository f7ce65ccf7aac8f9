package tempo

import (
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestParseMetricsRangeParams(t *testing.T) {
	ns := func(n int64) time.Time { return time.Unix(0, n) }
	tests := []struct {
		query   string
		want    MetricsRequest
		wantErr string
	}{
		// explicit seconds; end at the cutoff; aligned, one step more before the start, end pulled back
		{"q=x&start=1699996400&end=1699999970&step=60",
			MetricsRequest{Query: "x", Start: ns(1699996320000000000), End: ns(1699999920000000000), Step: time.Minute, Exemplars: 100}, ""},
		// defaults: the last hour ending now, a 15s step, end cut off 30s before now
		{"query=x", MetricsRequest{Query: "x", Start: ns(1699996380000000000), End: ns(1699999965000000000), Step: 15 * time.Second, Exemplars: 100}, ""},
		// q wins over query
		{"query=a&q=b&since=15m", MetricsRequest{Query: "b", Start: ns(1699999095000000000), End: ns(1699999968000000000), Step: 3 * time.Second, Exemplars: 100}, ""},
		// RFC 3339 start, nanosecond end, Go duration step
		{"q=x&start=2023-11-14T21:13:20Z&end=1699999900000000000&step=1m",
			MetricsRequest{Query: "x", Start: ns(1699996320000000000), End: ns(1699999920000000000), Step: time.Minute, Exemplars: 100}, ""},
		// fractional seconds; default step of a 43m range is 10s
		{"q=x&start=1699996400.5&end=1699999000",
			MetricsRequest{Query: "x", Start: ns(1699996390000000000), End: ns(1699999000000000000), Step: 10 * time.Second, Exemplars: 100}, ""},
		// float seconds step
		{"q=x&start=1699996400&end=1699999000&step=30.5",
			MetricsRequest{Query: "x", Start: ns(1699996342500000000), End: ns(1699999026500000000), Step: 30500 * time.Millisecond, Exemplars: 100}, ""},
		// under a minute: 50ms granularity
		{"q=x&start=1699999940&end=1699999960",
			MetricsRequest{Query: "x", Start: ns(1699999939950000000), End: ns(1699999960000000000), Step: 50 * time.Millisecond, Exemplars: 100}, ""},
		// exemplars: kept below the maximum, capped above, maximum when 0 or unparsable
		{"q=x&start=1699996400&end=1699999970&step=60&exemplars=5",
			MetricsRequest{Query: "x", Start: ns(1699996320000000000), End: ns(1699999920000000000), Step: time.Minute, Exemplars: 5}, ""},
		{"q=x&start=1699996400&end=1699999970&step=60&exemplars=500",
			MetricsRequest{Query: "x", Start: ns(1699996320000000000), End: ns(1699999920000000000), Step: time.Minute, Exemplars: 100}, ""},
		{"q=x&start=1699996400&end=1699999970&step=60&exemplars=-1",
			MetricsRequest{Query: "x", Start: ns(1699996320000000000), End: ns(1699999920000000000), Step: time.Minute, Exemplars: 100}, ""},
		// instant=true: no alignment
		{"q=x&start=1699996400&end=1699999900&step=60&instant=true",
			MetricsRequest{Query: "x", Start: ns(1699996400000000000), End: ns(1699999900000000000), Step: time.Minute, Exemplars: 100, Instant: true}, ""},
		{"q=x&start=1699996400&end=1699999970&step=60&instant=maybe",
			MetricsRequest{Query: "x", Start: ns(1699996320000000000), End: ns(1699999920000000000), Step: time.Minute, Exemplars: 100}, ""},
		// errors
		{"q=x&start=abc", MetricsRequest{}, `could not parse 'start' parameter: strconv.ParseInt: parsing "abc": invalid syntax`},
		{"q=x&end=2023-13-01T00:00:00Z", MetricsRequest{}, `could not parse 'end' parameter: strconv.ParseInt: parsing "2023-13-01T00:00:00Z": invalid syntax`},
		{"q=x&since=abc", MetricsRequest{}, `could not parse 'since' parameter: not a valid duration string: "abc"`},
		{"q=x&step=abc", MetricsRequest{}, `cannot parse "abc" to a valid duration`},
		{"q=x&step=1e300", MetricsRequest{}, `cannot parse "1e300" to a valid duration. It overflows int64`},
		{"q=x&step=-1s", MetricsRequest{}, `cannot parse "-1s": step must be positive`},
		{"q=x&step=0", MetricsRequest{}, "step of 0s is too small, minimum step for given range is 357ms"},
		{"q=x&step=100ms", MetricsRequest{}, "step of 100ms is too small, minimum step for given range is 357ms"},
		{"q=x&start=1699999000&end=1699998000", MetricsRequest{}, "end must be greater than start"},
		{"q=x&start=1699999000&end=1699999000", MetricsRequest{}, "end must be greater than start"},
		{"q=x&start=1699999980&end=1700000000", MetricsRequest{}, "query window falls entirely within query_end_cutoff"},
		{"q=x&start=1699900000&end=1699999000", MetricsRequest{}, "metrics query time range exceeds the maximum allowed duration of 24h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			vals, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseMetricsRangeParams(vals, DefaultConfig(), testNow)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, got, tt.want)
		})
	}
}

func TestParseMetricsRangeParamsConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.QueryEndCutoff, cfg.MetricsMaxDuration, cfg.MetricsMaxIntervals, cfg.MetricsMaxExemplars = 0, 0, 0, 7
	vals := url.Values{"q": {"x"}, "start": {"1600000000"}, "end": {"1800000000"}, "step": {"1ms"}}
	got, err := parseMetricsRangeParams(vals, cfg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	// no duration or interval bound; a future end still comes back to now
	want := MetricsRequest{Query: "x", Start: time.Unix(1600000000, 0).Add(-time.Millisecond), End: testNow, Step: time.Millisecond, Exemplars: 7}
	wantEqual(t, got, want)
	vals.Set("step", "0")
	if _, err := parseMetricsRangeParams(vals, cfg, testNow); err == nil || err.Error() != "step of 0s is too small, minimum step for given range is 1ns" {
		t.Fatalf("step 0: %v", err)
	}
}

func TestParseMetricsInstantParams(t *testing.T) {
	tests := []struct {
		query   string
		want    MetricsRequest
		wantErr string
	}{
		// the last hour; the end pulled back by whole seconds out of the cutoff
		{"q=x", MetricsRequest{Query: "x", Start: time.Unix(1699996400, 0), End: time.Unix(1699999970, 0), Step: 3570 * time.Second, Instant: true}, ""},
		{"query=x&start=1699990000&end=1699999000",
			MetricsRequest{Query: "x", Start: time.Unix(1699990000, 0), End: time.Unix(1699999000, 0), Step: 9000 * time.Second, Instant: true}, ""},
		{"q=x&start=1699990000&end=1699999980.25",
			MetricsRequest{Query: "x", Start: time.Unix(1699990000, 0), End: time.Unix(1699999969, 250000000), Step: 9969250 * time.Millisecond, Instant: true}, ""},
		{"q=x&start=1699999980&end=1700000000", MetricsRequest{}, "query window falls entirely within query_end_cutoff"},
		{"q=x&start=1699999000&end=1699998000", MetricsRequest{}, "end must be greater than start"},
		{"q=x&since=2d", MetricsRequest{}, "metrics query time range exceeds the maximum allowed duration of 24h0m0s"},
		{"q=x&start=now", MetricsRequest{}, `could not parse 'start' parameter: strconv.ParseInt: parsing "now": invalid syntax`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			vals, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseMetricsInstantParams(vals, DefaultConfig(), testNow)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, got, tt.want)
		})
	}
}

func metricsQuerier() *fakeQuerier {
	return &fakeQuerier{metricsRes: MetricsResult{
		Series: []Series{
			{
				Labels: []Label{{Key: "resource.service.name", Value: "b"}},
				Samples: []Sample{
					{TimestampMs: 1699999920000, Value: 2},
					{TimestampMs: 1699999860000, Value: 0},
					{TimestampMs: 1699999980000, Value: math.NaN()},
				},
				Exemplars: []Exemplar{
					{Labels: []Label{{Key: "trace:id", Value: "abc"}, {Key: "span:duration", Value: 1500 * time.Millisecond}}, Value: 1.25, TimestampMs: 1699999921000},
					{TimestampMs: 1699999861000, Value: math.Inf(1)},
				},
			},
			{Labels: []Label{{Key: "resource.service.name", Value: "a"}}, Samples: []Sample{{TimestampMs: 1699999860000, Value: 1}}},
			{Labels: []Label{{Key: "resource.service.name", Value: "nan"}}, Samples: []Sample{{TimestampMs: 1, Value: math.NaN()}}},
			{Labels: []Label{{Key: "n", Value: int64(10)}, {Key: "ok", Value: true}}, Samples: []Sample{{TimestampMs: 1699999860000, Value: 3}}},
			{Labels: []Label{{Key: "n", Value: int64(9)}, {Key: "ok", Value: false}}, Samples: []Sample{{TimestampMs: 1699999860000, Value: 4}}},
			{Labels: nil, Samples: []Sample{{TimestampMs: 1699999860000, Value: 0.5}}},
			{Labels: []Label{{Key: "f", Value: 0.5}}, Samples: []Sample{{TimestampMs: 1699999860000, Value: -1}}},
		},
		InspectedTraces: 12, InspectedBytes: 3456,
	}}
}

func TestMetricsQueryRange(t *testing.T) {
	q := metricsQuerier()
	mux := newTestMux(t, DefaultConfig(), q)
	rec := get(t, mux, "/tempo/api/metrics/query_range?q=%7B%7D+%7C+rate%28%29+by+%28resource.service.name%29&start=1699996400&end=1699999970&step=60&exemplars=10")
	// NaN samples and empty series dropped; fewer labels first, then by
	// key and value text (int 10 before 9, as Tempo compares them); samples
	// and exemplars by time; zero values left out
	wantJSON(t, rec, `{"series":[`+
		`{"labels":[],"samples":[{"timestampMs":"1699999860000","value":0.5}]},`+
		`{"labels":[{"key":"f","value":{"doubleValue":0.5}}],"samples":[{"timestampMs":"1699999860000","value":-1}]},`+
		`{"labels":[{"key":"resource.service.name","value":{"stringValue":"a"}}],"samples":[{"timestampMs":"1699999860000","value":1}]},`+
		`{"labels":[{"key":"resource.service.name","value":{"stringValue":"b"}}],"samples":[{"timestampMs":"1699999860000"},{"timestampMs":"1699999920000","value":2}],`+
		`"exemplars":[{"labels":[],"value":"Infinity","timestampMs":"1699999861000"},`+
		`{"labels":[{"key":"trace:id","value":{"stringValue":"abc"}},{"key":"span:duration","value":{"stringValue":"1.5s"}}],"value":1.25,"timestampMs":"1699999921000"}]},`+
		`{"labels":[{"key":"n","value":{"intValue":"10"}},{"key":"ok","value":{"boolValue":true}}],"samples":[{"timestampMs":"1699999860000","value":3}]},`+
		`{"labels":[{"key":"n","value":{"intValue":"9"}},{"key":"ok","value":{"boolValue":false}}],"samples":[{"timestampMs":"1699999860000","value":4}]}`+
		`],"metrics":{"inspectedTraces":12,"inspectedBytes":"3456"}}`)
	wantEqual(t, q.metricsReqs, []MetricsRequest{{
		Query: "{} | rate() by (resource.service.name)", Start: time.Unix(1699996320, 0), End: time.Unix(1699999920, 0),
		Step: time.Minute, Exemplars: 10,
	}})
}

func TestMetricsQueryInstant(t *testing.T) {
	q := metricsQuerier()
	mux := newTestMux(t, DefaultConfig(), q)
	wantJSON(t, get(t, mux, "/tempo/api/metrics/query?query=%7B%7D+%7C+rate%28%29&start=1699990000&end=1699999000"), `{"series":[`+
		`{"labels":[],"value":0.5},`+
		`{"labels":[{"key":"f","value":{"doubleValue":0.5}}],"value":-1},`+
		`{"labels":[{"key":"resource.service.name","value":{"stringValue":"a"}}],"value":1},`+
		`{"labels":[{"key":"resource.service.name","value":{"stringValue":"b"}}]},`+
		`{"labels":[{"key":"n","value":{"intValue":"10"}},{"key":"ok","value":{"boolValue":true}}],"value":3},`+
		`{"labels":[{"key":"n","value":{"intValue":"9"}},{"key":"ok","value":{"boolValue":false}}],"value":4}`+
		`],"metrics":{"inspectedTraces":12,"inspectedBytes":"3456"}}`)
	wantEqual(t, q.metricsReqs, []MetricsRequest{{
		Query: "{} | rate()", Start: time.Unix(1699990000, 0), End: time.Unix(1699999000, 0), Step: 9000 * time.Second, Instant: true,
	}})
}

func TestMetricsEmpty(t *testing.T) {
	mux := newTestMux(t, DefaultConfig(), &fakeQuerier{})
	wantJSON(t, get(t, mux, "/tempo/api/metrics/query_range?q=x"), `{"series":[],"metrics":{}}`)
	wantJSON(t, get(t, mux, "/tempo/api/metrics/query?q=x"), `{"metrics":{}}`)
}

func TestMetricsParamErrorsAnswer400(t *testing.T) {
	q := &fakeQuerier{}
	mux := newTestMux(t, DefaultConfig(), q)
	wantStatus(t, get(t, mux, "/tempo/api/metrics/query_range?q=x&step=-1s"), http.StatusBadRequest, `cannot parse "-1s": step must be positive`)
	wantStatus(t, get(t, mux, "/tempo/api/metrics/query?q=x&start=1699999980&end=1700000000"), http.StatusBadRequest, "query window falls entirely within query_end_cutoff")
	if len(q.metricsReqs) != 0 {
		t.Fatal("the querier was asked")
	}
}

func TestLabelValues(t *testing.T) {
	type custom struct{ A int }
	for _, tt := range []struct {
		v    any
		want string
	}{
		{"s", `{"stringValue":"s"}`},
		{int64(-3), `{"intValue":"-3"}`},
		{7, `{"intValue":"7"}`},
		{int32(2), `{"intValue":"2"}`},
		{uint32(4), `{"intValue":"4"}`},
		{1.5, `{"doubleValue":1.5}`},
		{float32(0.5), `{"doubleValue":0.5}`},
		{math.NaN(), `{"doubleValue":"NaN"}`},
		{math.Inf(-1), `{"doubleValue":"-Infinity"}`},
		{true, `{"boolValue":true}`},
		{false, `{"boolValue":false}`},
		{2 * time.Second, `{"stringValue":"2s"}`},
		{nil, `{"stringValue":"nil"}`},
		{custom{1}, `{"stringValue":"{1}"}`},
	} {
		b, err := labelValue(tt.v).MarshalJSON()
		if err != nil || string(b) != tt.want {
			t.Errorf("labelValue(%#v) = %s, %v; want %s", tt.v, b, err, tt.want)
		}
	}
}
