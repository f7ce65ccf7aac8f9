package prometheus

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// POST form bodies work where Prometheus takes them, with the same answer
// as GET.
func TestPostForm(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		path   string
		params url.Values
	}{
		{"/api/v1/query", url.Values{"query": {"sum by (method) (rate(http_requests_total[5m]))"}, "time": {"1700000500"}}},
		{"/api/v1/query_range", url.Values{"query": {"request_duration_seconds"}, "start": {"1700000000"}, "end": {"1700000300"}, "step": {"1m"}}},
		{"/api/v1/series", url.Values{"match[]": {"up", `http_requests_total{method="GET"}`}, "start": {"1700000000"}}},
		{"/api/v1/labels", url.Values{"match[]": {"up"}}},
		{"/api/v1/query_exemplars", url.Values{"query": {"http_requests_total"}, "start": {"1700000000"}, "end": {"1700000600"}}},
		{"/api/v1/format_query", url.Values{"query": {"sum(rate(x[5m]))by(job)"}}},
		{"/api/v1/parse_query", url.Values{"query": {`sum by (job) (rate(x{a="b"}[5m] offset 1m)) > bool 2`}}},
	} {
		getCode, getBody, _ := f.call(t, http.MethodGet, c.path, c.params)
		postCode, postBody, env := f.call(t, http.MethodPost, c.path, c.params)
		if postCode != http.StatusOK || env.Status != "success" || len(env.Data) < 3 {
			t.Errorf("POST %s: %d %s", c.path, postCode, postBody)
		}
		if getCode != postCode || getBody != postBody {
			t.Errorf("%s: GET answered %d %s, POST %d %s", c.path, getCode, getBody, postCode, postBody)
		}
	}

	// A parameter in the body wins over one in the URL, as in Go's and
	// Prometheus' FormValue.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+prefix+"/api/v1/query?query=nonexistent&time=1700000600", strings.NewReader("query=up"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, env := do(t, f, req); code != http.StatusOK || !strings.Contains(string(env.Data), `"__name__":"up"`) {
		t.Errorf("body over URL: %d %s", code, env.Data)
	}

	_, body, _ := f.call(t, http.MethodPost, "/api/v1/format_query", url.Values{"query": {"sum(rate(x[5m]))by(job)"}})
	if want := `{"status":"success","data":"sum by (job) (rate(x[5m]))"}`; body != want {
		t.Errorf("format_query: %s, want %s", body, want)
	}
	_, body, _ = f.call(t, http.MethodPost, "/api/v1/parse_query", url.Values{"query": {"-up"}})
	if want := `{"status":"success","data":{"expr":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":0,"offsetExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"op":"-","type":"unaryExpr"}}`; body != want {
		t.Errorf("parse_query:\n got %s\nwant %s", body, want)
	}
}

// Unknown paths, wrong methods and preflights answer what Prometheus'
// router answers.
func TestRoutes(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		method, path string
		code         int
		allow, body  string
	}{
		{http.MethodGet, "/api/v1/nonexistent", 404, "", "404 page not found\n"},
		{http.MethodGet, "/api/v2/query", 404, "", "404 page not found\n"},
		{http.MethodGet, "/graph", 404, "", "404 page not found\n"},
		{http.MethodDelete, "/api/v1/query", 405, "GET, OPTIONS, POST", "Method Not Allowed\n"},
		{http.MethodPut, "/api/v1/series", 405, "GET, OPTIONS, POST", "Method Not Allowed\n"},
		{http.MethodPost, "/api/v1/metadata", 405, "GET, OPTIONS", "Method Not Allowed\n"},
		{http.MethodPost, "/api/v1/label/job/values", 405, "GET, OPTIONS", "Method Not Allowed\n"},
		{http.MethodHead, "/api/v1/status/buildinfo", 405, "GET, OPTIONS", ""},
		{http.MethodOptions, "/api/v1/query", 204, "", ""},
		{http.MethodOptions, "/api/v1/anything/at/all", 204, "", ""},
	} {
		req, _ := http.NewRequest(c.method, f.srv.URL+prefix+c.path, nil)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || resp.Header.Get("Allow") != c.allow || string(b) != c.body {
			t.Errorf("%s %s: %d Allow %q %q; want %d %q %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), b, c.code, c.allow, c.body)
		}
	}

	// CORS headers for a browser's Origin, as with --web.cors.origin=".*".
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+prefix+"/api/v1/status/buildinfo", nil)
	req.Header.Set("Origin", "https://grafana.example")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin %q", got)
	}

	// Compression when the client asks for it.
	req, _ = http.NewRequest(http.MethodGet, f.srv.URL+prefix+"/api/v1/labels", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err = f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if !strings.HasPrefix(string(b), `{"status":"success","data":["__name__",`) {
		t.Errorf("gzip body %s", b)
	}
}

// Register takes the prefix with or without slashes, and an empty one.
func TestRegisterPrefixes(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct{ prefix, path string }{
		{"", "/api/v1/status/buildinfo"},
		{"prom/", "/prom/api/v1/status/buildinfo"},
		{"/a/b", "/a/b/api/v1/status/buildinfo"},
	} {
		mux := http.NewServeMux()
		f.api.Register(mux, c.prefix)
		req, _ := http.NewRequest(http.MethodGet, c.path, nil)
		if _, pattern := mux.Handler(req); !strings.HasSuffix(pattern, "/api/v1/status/buildinfo") {
			t.Errorf("prefix %q: %s goes to %q", c.prefix, c.path, pattern)
		}
	}
	// Other routes under the prefix stay possible, e.g. remote write's.
	mux := http.NewServeMux()
	f.api.Register(mux, prefix)
	mux.HandleFunc("POST "+prefix+"/api/v1/write", func(http.ResponseWriter, *http.Request) {})
	req, _ := http.NewRequest(http.MethodPost, prefix+"/api/v1/write", nil)
	if _, pattern := mux.Handler(req); pattern != "POST "+prefix+"/api/v1/write" {
		t.Errorf("write goes to %q", pattern)
	}
}
