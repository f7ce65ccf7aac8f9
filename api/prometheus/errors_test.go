package prometheus

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/prometheus/prometheus/promql"
)

// Bad parameters answer the status code, errorType and error text that
// Prometheus answers. The texts come from web/api/v1/api.go of Prometheus
// v0.316.0: invalidParamError wraps as `invalid parameter "<name>": …`;
// parseTimeParam adds `invalid time value for '<name>': …` (but query_range
// calls parseTime directly, without it); parseTime, parseDuration and
// parseLimitParam give `cannot parse … to a valid timestamp|duration`,
// strconv's error and `limit must be non-negative`; query_range has the
// step, end-before-start and 11,000-point texts; series, labels and label
// values differ in which errors they wrap (series wraps match[] errors,
// labels and label values do not); extractQueryOpts gives the
// lookback_delta and header texts; metricMetadata gives `limit must be a
// number`. The parse error texts after the prefixes are the PromQL
// parser's, with their line:column position.
func TestBadParameters(t *testing.T) {
	f := newFixture(t, nil)
	type q = url.Values
	const badData = "bad_data"
	for _, c := range []struct {
		name    string
		path    string
		params  url.Values
		rawQS   string // Sent as is, for escapes url.Values would fix.
		header  map[string]string
		code    int
		errType string
		err     string
	}{
		// /query.
		{name: "query limit not a number", path: "/api/v1/query", params: q{"query": {"up"}, "limit": {"abc"}},
			code: 400, errType: badData, err: `invalid parameter "limit": strconv.Atoi: parsing "abc": invalid syntax`},
		{name: "query negative limit", path: "/api/v1/query", params: q{"query": {"up"}, "limit": {"-1"}},
			code: 400, errType: badData, err: `invalid parameter "limit": limit must be non-negative`},
		{name: "query bad time", path: "/api/v1/query", params: q{"query": {"up"}, "time": {"yesterday"}},
			code: 400, errType: badData, err: `invalid parameter "time": invalid time value for 'time': cannot parse "yesterday" to a valid timestamp`},
		{name: "query time out of float range", path: "/api/v1/query", params: q{"query": {"up"}, "time": {"1e400"}},
			code: 400, errType: badData, err: `invalid parameter "time": invalid time value for 'time': cannot parse "1e400" to a valid timestamp`},
		{name: "query bad timeout", path: "/api/v1/query", params: q{"query": {"up"}, "timeout": {"soon"}},
			code: 400, errType: badData, err: `invalid parameter "timeout": cannot parse "soon" to a valid duration`},
		{name: "query zero timeout", path: "/api/v1/query", params: q{"query": {"up"}, "timeout": {"0"}},
			code: 400, errType: badData, err: `invalid parameter "timeout": timeout must be positive, got 0s`},
		{name: "query negative timeout", path: "/api/v1/query", params: q{"query": {"up"}, "timeout": {"-1.5"}},
			code: 400, errType: badData, err: `invalid parameter "timeout": timeout must be positive, got -1.5s`},
		{name: "query bad lookback delta", path: "/api/v1/query", params: q{"query": {"up"}, "lookback_delta": {"a while"}},
			code: 400, errType: badData, err: `error parsing lookback delta duration: cannot parse "a while" to a valid duration`},
		{name: "query bad start timestamps header", path: "/api/v1/query", params: q{"query": {"up"}}, header: map[string]string{"X-Prometheus-Use-Start-Timestamps": "maybe"},
			code: 400, errType: badData, err: `error parsing X-Prometheus-Use-Start-Timestamps header: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{name: "query missing", path: "/api/v1/query", params: q{},
			code: 400, errType: badData, err: `invalid parameter "query": unknown position: parse error: no expression found in input`},
		{name: "query unclosed brace", path: "/api/v1/query", params: q{"query": {"up{"}},
			code: 400, errType: badData, err: `invalid parameter "query": 1:4: parse error: unexpected end of input inside braces`},
		{name: "query unknown function", path: "/api/v1/query", params: q{"query": {"sum(rate(x[5m])) + frobnicate(y)"}},
			code: 400, errType: badData, err: `invalid parameter "query": 1:20: parse error: unknown function with name "frobnicate"`},
		{name: "query second line", path: "/api/v1/query", params: q{"query": {"sum(\n  rate(x[5m]) by"}},
			code: 400, errType: badData, err: `invalid parameter "query": 2:15: parse error: unexpected <by> in aggregation`},

		// /query_range.
		{name: "range missing start", path: "/api/v1/query_range", params: q{"query": {"up"}, "end": {"1"}, "step": {"1"}},
			code: 400, errType: badData, err: `invalid parameter "start": cannot parse "" to a valid timestamp`},
		{name: "range bad end", path: "/api/v1/query_range", params: q{"query": {"up"}, "start": {"1"}, "end": {"x"}, "step": {"1"}},
			code: 400, errType: badData, err: `invalid parameter "end": cannot parse "x" to a valid timestamp`},
		{name: "range end before start", path: "/api/v1/query_range", params: q{"query": {"up"}, "start": {"2023-11-14T22:13:20Z"}, "end": {"1699999999.999"}, "step": {"1"}},
			code: 400, errType: badData, err: `invalid parameter "end": end timestamp must not be before start time`},
		{name: "range missing step", path: "/api/v1/query_range", params: q{"query": {"up"}, "start": {"1"}, "end": {"2"}},
			code: 400, errType: badData, err: `invalid parameter "step": cannot parse "" to a valid duration`},
		{name: "range zero step", path: "/api/v1/query_range", params: q{"query": {"up"}, "start": {"1"}, "end": {"2"}, "step": {"0s"}},
			code: 400, errType: badData, err: `invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer`},
		{name: "range negative step", path: "/api/v1/query_range", params: q{"query": {"up"}, "start": {"1"}, "end": {"2"}, "step": {"-15"}},
			code: 400, errType: badData, err: `invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer`},
		{name: "range step overflows", path: "/api/v1/query_range", params: q{"query": {"up"}, "start": {"1"}, "end": {"2"}, "step": {"1e300"}},
			code: 400, errType: badData, err: `invalid parameter "step": cannot parse "1e300" to a valid duration. It overflows int64`},
		{name: "range too many points", path: "/api/v1/query_range", params: q{"query": {"up"}, "start": {"0"}, "end": {"11001"}, "step": {"1s"}},
			code: 400, errType: badData, err: `exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)`},
		{name: "range over all time", path: "/api/v1/query_range", params: q{"query": {"up"}, "start": {minTimeFormatted}, "end": {maxTimeFormatted}, "step": {"1h"}},
			code: 400, errType: badData, err: `exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)`},
		{name: "range of a range vector", path: "/api/v1/query_range", params: q{"query": {"up[5m]"}, "start": {"1"}, "end": {"2"}, "step": {"1"}},
			code: 400, errType: badData, err: `invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector`},
		{name: "range limit", path: "/api/v1/query_range", params: q{"query": {"up"}, "limit": {"1.5"}},
			code: 400, errType: badData, err: `invalid parameter "limit": strconv.Atoi: parsing "1.5": invalid syntax`},

		// /series.
		{name: "series without match", path: "/api/v1/series", params: q{"start": {"1"}},
			code: 400, errType: badData, err: `no match[] parameter provided`},
		{name: "series empty selector", path: "/api/v1/series", params: q{"match[]": {"{}"}},
			code: 400, errType: badData, err: `invalid parameter "match[]": match[] must contain at least one non-empty matcher`},
		{name: "series selector matching everything", path: "/api/v1/series", params: q{"match[]": {`up`, `{job=~".*"}`}},
			code: 400, errType: badData, err: `invalid parameter "match[]": match[] must contain at least one non-empty matcher`},
		{name: "series bad start", path: "/api/v1/series", params: q{"match[]": {"up"}, "start": {"noon"}},
			code: 400, errType: badData, err: `invalid parameter "start": invalid time value for 'start': cannot parse "noon" to a valid timestamp`},
		{name: "series bad escape", path: "/api/v1/series", rawQS: "match[]=up&x=%zz",
			code: 400, errType: badData, err: `error parsing form values: invalid URL escape "%zz"`},

		// /labels and /label/{name}/values: match[] errors are not wrapped.
		{name: "labels selector matching everything", path: "/api/v1/labels", params: q{"match[]": {`{job=~".*"}`}},
			code: 400, errType: badData, err: `match[] must contain at least one non-empty matcher`},
		{name: "labels bad end", path: "/api/v1/labels", params: q{"end": {"later"}},
			code: 400, errType: badData, err: `invalid parameter "end": invalid time value for 'end': cannot parse "later" to a valid timestamp`},
		{name: "label values bad selector", path: "/api/v1/label/job/values", params: q{"match[]": {"up{"}},
			code: 400, errType: badData, err: `1:4: parse error: unexpected end of input inside braces`},
		{name: "label values invalid name", path: "/api/v1/label/%ff/values",
			code: 400, errType: badData, err: `invalid label name: "\xff"`},
		{name: "label values negative limit", path: "/api/v1/label/job/values", params: q{"limit": {"-3"}},
			code: 400, errType: badData, err: `invalid parameter "limit": limit must be non-negative`},

		// /query_exemplars: the parse error is not wrapped either.
		{name: "exemplars end before start", path: "/api/v1/query_exemplars", params: q{"query": {"up"}, "start": {"10"}, "end": {"5"}},
			code: 400, errType: badData, err: `end timestamp must not be before start timestamp`},
		{name: "exemplars bad query", path: "/api/v1/query_exemplars", params: q{"query": {"up{"}},
			code: 400, errType: badData, err: `1:4: parse error: unexpected end of input inside braces`},

		// /metadata.
		{name: "metadata limit", path: "/api/v1/metadata", params: q{"limit": {"ten"}},
			code: 400, errType: badData, err: `limit must be a number`},
		{name: "metadata limit per metric", path: "/api/v1/metadata", params: q{"limit_per_metric": {"1e3"}},
			code: 400, errType: badData, err: `limit_per_metric must be a number`},

		// /format_query and /parse_query.
		{name: "format bad query", path: "/api/v1/format_query", params: q{"query": {"sum(up"}},
			code: 400, errType: badData, err: `invalid parameter "query": 1:7: parse error: unclosed left parenthesis`},
		{name: "parse bad query", path: "/api/v1/parse_query", params: q{"query": {"up +"}},
			code: 400, errType: badData, err: `invalid parameter "query": 1:5: parse error: unexpected end of input`},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := f.srv.URL + prefix + c.path
			if c.rawQS != "" {
				u += "?" + c.rawQS
			} else if len(c.params) > 0 {
				u += "?" + c.params.Encode()
			}
			req, err := http.NewRequest(http.MethodGet, u, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			code, env := do(t, f, req)
			if code != c.code || env.Status != "error" || env.ErrorType != c.errType || env.Error != c.err {
				t.Errorf("got %d %s %s %q\nwant %d error %s %q", code, env.Status, env.ErrorType, env.Error, c.code, c.errType, c.err)
			}
		})
	}
}

func do(t *testing.T, f *fixture, req *http.Request) (int, envelope) {
	t.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env envelope
	if err := decodeJSON(resp.Body, &env); err != nil {
		t.Fatalf("body is not an envelope: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, env
}

// Errors of execution are 422 "execution" with the engine's own text.
func TestExecutionErrors(t *testing.T) {
	f := newFixture(t, func(c *Config, d *Deps) {
		c.MaxSamples = 20
		d.Engine = promql.NewEngine(c.EngineOpts())
	})
	for _, c := range []struct{ query, err string }{
		{`http_requests_total + on(job) http_requests_total`, directErr(t, f, `http_requests_total + on(job) http_requests_total`)},
		{`http_requests_total[10m]`, `query processing would load too many samples into memory in query execution`},
	} {
		code, _, env := f.call(t, http.MethodGet, "/api/v1/query", url.Values{"query": {c.query}, "time": {"1700000600"}})
		if code != http.StatusUnprocessableEntity || env.ErrorType != "execution" || env.Error != c.err {
			t.Errorf("%s: %d %s %q, want 422 execution %q", c.query, code, env.ErrorType, env.Error, c.err)
		}
	}
}

// directErr is the error the engine gives for an instant query at tEnd.
func directErr(t *testing.T, f *fixture, q string) string {
	t.Helper()
	qry, err := f.engine.NewInstantQuery(context.Background(), f.db, nil, q, tEnd)
	if err != nil {
		t.Fatal(err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err == nil {
		t.Fatalf("%s: no error", q)
	}
	return res.Err.Error()
}

// A query out of time is 503 "timeout"; one whose client went away is
// Prometheus' 499 "canceled".
func TestTimeoutAndCancel(t *testing.T) {
	f := newFixture(t, nil)
	code, _, env := f.call(t, http.MethodGet, "/api/v1/query", url.Values{"query": {"up"}, "timeout": {"0.000000001"}})
	if code != http.StatusServiceUnavailable || env.ErrorType != "timeout" || env.Error != "query timed out in query execution" {
		t.Errorf("timeout: %d %s %q", code, env.ErrorType, env.Error)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, prefix+"/api/v1/query_range?query=up&start=1&end=100&step=1", nil)
	rec := httptest.NewRecorder()
	mux := http.NewServeMux()
	f.api.Register(mux, prefix)
	mux.ServeHTTP(rec, req)
	var env2 envelope
	if err := decodeJSON(rec.Body, &env2); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 499 || env2.ErrorType != "canceled" || env2.Error != "query was canceled in query execution" {
		t.Errorf("cancel: %d %s %q", rec.Code, env2.ErrorType, env2.Error)
	}
}
