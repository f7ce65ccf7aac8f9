package prometheus

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzParams sends arbitrary query strings to /query, /query_range,
// /series and /labels, as GET or as a POST form. Nothing panics, and
// every answer is an envelope: 200 success, 400 bad_data or 422
// execution — or 503 timeout, since a fuzzed query (a subquery with a
// tiny step) or timeout parameter can run out of time.
func FuzzParams(f *testing.F) {
	for _, seed := range []struct {
		which uint8
		raw   string
	}{
		{0, "query=up"},
		{0, "query=rate(http_requests_total[5m])&time=1700000300.123&limit=1&stats=all"},
		{0, "query=up{&time=abc"},
		{0, "query=sum(up)&timeout=1ms&lookback_delta=30s"},
		{0, "query=request_duration_seconds&time=2023-11-14T22:18:20Z"},
		{0, "query=up&time=-9223372036854775808"},
		{0, "query=up[1y:1ms]&timeout=0.05"},
		{1, "query=up&start=1700000000&end=1700000600&step=15"},
		{1, "query=up&start=1700000000&end=1699999999&step=15"},
		{1, "query=up&start=0&end=1e18&step=1e-3"},
		{1, "query=histogram_quantile(0.9,rate(request_duration_seconds[1m]))&start=1700000000&end=1700000600&step=1m"},
		{1, "query=up&start=-292277026596-12-04T15:30:07Z&end=292277026596-12-04T15:30:07.999999999Z&step=1e15"},
		{2, "match[]=up&start=1&end=2"},
		{2, "match[]=%zz"},
		{2, "match[]={job=~\".*\"}&match[]=up&limit=1"},
		{3, "match[]=up&limit=-1"},
		{3, "start=NaN&end=Inf"},
	} {
		f.Add(seed.which, seed.raw, false)
		f.Add(seed.which, seed.raw, true)
	}
	fx := newFixture(f, func(c *Config, d *Deps) { c.QueryTimeout = 2 * time.Second })
	mux := http.NewServeMux()
	fx.api.Register(mux, prefix)
	paths := []string{"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels"}

	f.Fuzz(func(t *testing.T, which uint8, raw string, post bool) {
		path := prefix + paths[int(which)%len(paths)]
		var req *http.Request
		if post {
			req = httptest.NewRequest(http.MethodPost, path, strings.NewReader(raw))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			var err error
			if req, err = http.NewRequest(http.MethodGet, path+"?"+raw, nil); err != nil || strings.ContainsAny(raw, "# \t\r\n") {
				t.Skip("not a query string a client can send")
			}
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)

		var env envelope
		if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
			t.Fatalf("%q: %d, body is not an envelope: %q", raw, rec.Code, rec.Body)
		}
		switch {
		case rec.Code == http.StatusOK && env.Status == "success":
		case rec.Code == http.StatusBadRequest && env.ErrorType == "bad_data":
		case rec.Code == http.StatusUnprocessableEntity && env.ErrorType == "execution":
		case rec.Code == http.StatusServiceUnavailable && env.ErrorType == "timeout":
		default:
			t.Fatalf("%q: %d %+v", raw, rec.Code, env)
		}
		if env.Status == "error" && env.Error == "" {
			t.Fatalf("%q: an error envelope without error: %s", raw, rec.Body)
		}
	})
}
