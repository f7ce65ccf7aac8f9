package tempo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// testNow is the API's clock in tests: 2023-11-14T22:13:20Z.
var testNow = time.Unix(1_700_000_000, 0)

// fakeQuerier answers fixed data and records the requests it gets.
type fakeQuerier struct {
	mu sync.Mutex

	searchRes  SearchResult
	searchErr  error
	searchReqs []SearchRequest

	trace      ptrace.Traces
	found      bool
	traceErr   error
	traceCalls []traceCall

	tags     []ScopeTags
	tagsErr  error
	tagsReqs []TagsRequest

	values     []TagValue
	valuesErr  error
	valuesReqs []TagValuesRequest

	metricsRes  MetricsResult
	metricsErr  error
	metricsReqs []MetricsRequest

	panicWith any // panics in every method when set
}

type traceCall struct {
	id         [16]byte
	start, end time.Time
}

func (f *fakeQuerier) maybePanic() {
	if f.panicWith != nil {
		panic(f.panicWith)
	}
}

func (f *fakeQuerier) Search(_ context.Context, r SearchRequest) (SearchResult, error) {
	f.maybePanic()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.searchReqs = append(f.searchReqs, r)
	return f.searchRes, f.searchErr
}

func (f *fakeQuerier) Trace(_ context.Context, id [16]byte, start, end time.Time) (ptrace.Traces, bool, error) {
	f.maybePanic()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.traceCalls = append(f.traceCalls, traceCall{id, start, end})
	if f.trace == (ptrace.Traces{}) {
		return ptrace.NewTraces(), f.found, f.traceErr
	}
	return f.trace, f.found, f.traceErr
}

func (f *fakeQuerier) TagNames(_ context.Context, r TagsRequest) ([]ScopeTags, error) {
	f.maybePanic()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tagsReqs = append(f.tagsReqs, r)
	return f.tags, f.tagsErr
}

func (f *fakeQuerier) TagValues(_ context.Context, r TagValuesRequest) ([]TagValue, error) {
	f.maybePanic()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.valuesReqs = append(f.valuesReqs, r)
	return f.values, f.valuesErr
}

func (f *fakeQuerier) MetricsQueryRange(_ context.Context, r MetricsRequest) (MetricsResult, error) {
	f.maybePanic()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.metricsReqs = append(f.metricsReqs, r)
	return f.metricsRes, f.metricsErr
}

// newTestMux returns a mux with the API under /tempo, the API's clock at
// testNow.
func newTestMux(t *testing.T, cfg Config, q Querier) *http.ServeMux {
	t.Helper()
	a, err := New(cfg, q, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.now = func() time.Time { return testNow }
	mux := http.NewServeMux()
	a.Register(mux, "/tempo")
	return mux
}

// get serves GET target (a path under /tempo with its query) with the
// given headers (name, value pairs).
func get(t *testing.T, mux http.Handler, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

// wantStatus fails unless rec answered code with body (exactly).
func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, code int, body string) {
	t.Helper()
	if rec.Code != code || rec.Body.String() != body {
		t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), code, body)
	}
}

// wantJSON fails unless rec answered 200 application/json with exactly
// body.
func wantJSON(t *testing.T, rec *httptest.ResponseRecorder, body string) {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %q", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if got := rec.Body.String(); got != body {
		t.Fatalf("body\n got %s\nwant %s", got, body)
	}
}

// decodeStrict decodes JSON into v, refusing unknown fields, so that a
// mirror struct proves every field the API wrote.
func decodeStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func wantEqual(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// The mirror of tempopb's JSON used to decode answers; 64-bit integers
// are strings there, so they are strings here.
type (
	jSearchResponse struct {
		Traces  []jTrace       `json:"traces"`
		Metrics jSearchMetrics `json:"metrics"`
	}
	jTrace struct {
		TraceID           string                   `json:"traceID"`
		RootServiceName   string                   `json:"rootServiceName"`
		RootTraceName     string                   `json:"rootTraceName"`
		StartTimeUnixNano string                   `json:"startTimeUnixNano"`
		DurationMs        *uint32                  `json:"durationMs"`
		SpanSet           *jSpanSet                `json:"spanSet"`
		SpanSets          []jSpanSet               `json:"spanSets"`
		ServiceStats      map[string]jServiceStats `json:"serviceStats"`
	}
	jSpanSet struct {
		Spans      []jSpan     `json:"spans"`
		Matched    *uint32     `json:"matched"`
		Attributes []jKeyValue `json:"attributes"`
	}
	jSpan struct {
		SpanID            string      `json:"spanID"`
		Name              string      `json:"name"`
		StartTimeUnixNano string      `json:"startTimeUnixNano"`
		DurationNanos     string      `json:"durationNanos"`
		Attributes        []jKeyValue `json:"attributes"`
	}
	jServiceStats struct {
		SpanCount  *uint32 `json:"spanCount"`
		ErrorCount *uint32 `json:"errorCount"`
	}
	jKeyValue struct {
		Key   string    `json:"key"`
		Value jAnyValue `json:"value"`
	}
	jAnyValue struct {
		StringValue *string      `json:"stringValue"`
		IntValue    *string      `json:"intValue"`
		DoubleValue *json.Number `json:"doubleValue"`
		BoolValue   *bool        `json:"boolValue"`
	}
	jSearchMetrics struct {
		InspectedTraces *uint32 `json:"inspectedTraces"`
		InspectedBytes  string  `json:"inspectedBytes"`
		CompletedJobs   *uint32 `json:"completedJobs"`
		TotalJobs       *uint32 `json:"totalJobs"`
	}
)

func u32p(v uint32) *uint32 { return &v }
func strp(v string) *string { return &v }
