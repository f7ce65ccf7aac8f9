package tempo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

func TestEcho(t *testing.T) {
	mux := newTestMux(t, DefaultConfig(), &fakeQuerier{})
	rec := get(t, mux, "/tempo/api/echo")
	wantStatus(t, rec, http.StatusOK, "echo\n")
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestBuildInfo(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BuildInfo.Revision = "abc123"
	mux := newTestMux(t, cfg, &fakeQuerier{})
	rec := get(t, mux, "/tempo/api/status/buildinfo")
	want := fmt.Sprintf(`{"version":"2.10.8","revision":"abc123","branch":"unknown","buildUser":"unknown","buildDate":"unknown","goVersion":%q}`+"\n", runtime.Version())
	wantJSON(t, rec, want)
}

func TestRoutes(t *testing.T) {
	q := &fakeQuerier{}
	mux := newTestMux(t, DefaultConfig(), q)
	tests := []struct {
		method, target string
		code           int
	}{
		{http.MethodGet, "/tempo/api/echo", 200},
		{http.MethodHead, "/tempo/api/echo", 200},
		{http.MethodPost, "/tempo/api/echo", 405},
		{http.MethodPost, "/tempo/api/search", 405},
		{http.MethodGet, "/tempo/api/search", 200},
		{http.MethodGet, "/tempo/api/search/tags", 200},
		{http.MethodGet, "/tempo/api/v2/search/tags", 200},
		{http.MethodGet, "/tempo/api/search/tag/service.name/values", 200},
		{http.MethodGet, "/tempo/api/v2/search/tag/resource.service.name/values", 200},
		{http.MethodGet, "/tempo/api/search/tag/service.name", 404},
		{http.MethodGet, "/tempo/api/traces/1234", 404}, // not found
		{http.MethodGet, "/tempo/api/v2/traces/1234", 200},
		{http.MethodGet, "/tempo/api/traces/", 404},
		{http.MethodGet, "/tempo/api/metrics/query_range?q={}|rate()", 200},
		{http.MethodGet, "/tempo/api/metrics/query?q={}|rate()", 200},
		{http.MethodGet, "/tempo/api/unknown", 404},
		{http.MethodGet, "/api/echo", 404},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.code {
				t.Fatalf("%s %s = %d %q, want %d", tt.method, tt.target, rec.Code, rec.Body.String(), tt.code)
			}
		})
	}
}

func TestRegisterPrefixes(t *testing.T) {
	for _, tt := range []struct{ prefix, path string }{
		{"/tempo", "/tempo/api/echo"},
		{"tempo/", "/tempo/api/echo"},
		{"", "/api/echo"},
		{"/", "/api/echo"},
		{"/a/b", "/a/b/api/echo"},
	} {
		a, err := New(DefaultConfig(), &fakeQuerier{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		a.Register(mux, tt.prefix)
		wantStatus(t, get(t, mux, tt.path), http.StatusOK, "echo\n")
	}
}

func TestQuerierErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code int
		body string
	}{
		{"bad query", BadQuery(errors.New("invalid TraceQL query: unexpected }")), 400, "invalid TraceQL query: unexpected }"},
		{"wrapped bad query", fmt.Errorf("%w: unknown attribute", ErrBadQuery), 400, "bad query: unknown attribute"},
		{"not found", NotFound(errors.New("no such tag")), 404, "no such tag"},
		{"canceled", fmt.Errorf("partition 3: %w", context.Canceled), 499, "context canceled"},
		{"deadline", fmt.Errorf("partition 3: %w", context.DeadlineExceeded), 504, "context deadline exceeded"},
		{"other", errors.New("partition 3 is unavailable"), 500, "partition 3 is unavailable\n"},
	}
	endpoints := []struct {
		target string
		set    func(*fakeQuerier, error)
	}{
		{"/tempo/api/search", func(f *fakeQuerier, err error) { f.searchErr = err }},
		{"/tempo/api/search/tags", func(f *fakeQuerier, err error) { f.tagsErr = err }},
		{"/tempo/api/v2/search/tags", func(f *fakeQuerier, err error) { f.tagsErr = err }},
		{"/tempo/api/search/tag/foo/values", func(f *fakeQuerier, err error) { f.valuesErr = err }},
		{"/tempo/api/v2/search/tag/span.foo/values", func(f *fakeQuerier, err error) { f.valuesErr = err }},
		{"/tempo/api/v2/traces/1", func(f *fakeQuerier, err error) { f.traceErr = err }},
		{"/tempo/api/metrics/query_range?q=x", func(f *fakeQuerier, err error) { f.metricsErr = err }},
		{"/tempo/api/metrics/query?q=x", func(f *fakeQuerier, err error) { f.metricsErr = err }},
	}
	for _, tt := range tests {
		for _, ep := range endpoints {
			t.Run(tt.name+" "+ep.target, func(t *testing.T) {
				q := &fakeQuerier{}
				ep.set(q, tt.err)
				mux := newTestMux(t, DefaultConfig(), q)
				rec := get(t, mux, ep.target)
				if tt.code == 404 && ep.target == "/tempo/api/v2/traces/1" {
					// a missing trace is an empty trace in v2, as in Tempo
					wantJSON(t, rec, `{"trace":{},"metrics":{}}`)
					return
				}
				wantStatus(t, rec, tt.code, tt.body)
				if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Fatalf("Content-Type %q", ct)
				}
			})
		}
	}
}

func TestPanicIsInternalError(t *testing.T) {
	mux := newTestMux(t, DefaultConfig(), &fakeQuerier{panicWith: "boom"})
	wantStatus(t, get(t, mux, "/tempo/api/search"), http.StatusInternalServerError, "internal error\n")
}

func TestQuerySizeLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxQueryBytes = 8
	mux := newTestMux(t, cfg, &fakeQuerier{})
	want := "TraceQL expression exceeds the configured maximum size of 8 bytes, reduce the query expression size or contact your system administrator"
	for _, target := range []string{
		"/tempo/api/search?q=%7B123456789%7D",
		"/tempo/api/v2/search/tags?q=%7B123456789%7D",
		"/tempo/api/v2/search/tag/span.a/values?q=%7B123456789%7D",
		"/tempo/api/metrics/query_range?query=%7B123456789%7D",
		"/tempo/api/metrics/query?q=%7B%7D&query=%7B123456789%7D",
		"/tempo/api/v2/traces/1?q=%7B123456789%7D",
	} {
		wantStatus(t, get(t, mux, target), http.StatusBadRequest, want)
	}
	// at the limit is fine
	wantJSON(t, get(t, mux, "/tempo/api/search?q=%7B123456%7D"), `{"traces":[],"metrics":{}}`)
}
