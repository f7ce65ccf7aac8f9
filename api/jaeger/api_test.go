package jaeger

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestServices(t *testing.T) {
	var names []string
	env := getOK(t, newTestAPI(t, newFake()), "/jaeger/api/services", &names)
	want := []string{"", noServiceName, "backend", "frontend"}
	if !equalStrings(names, want) || env.Total != 4 || env.Errors != nil {
		t.Errorf("services %q total %d errors %v", names, env.Total, env.Errors)
	}

	// No service: [] (not null), and the whole envelope byte for byte.
	rec := get(newTestAPI(t, &fakeQuerier{}), "/jaeger/api/services")
	if want := `{"data":[],"total":0,"limit":0,"offset":0,"errors":null}`; rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("empty services: %d %s, want %s", rec.Code, rec.Body, want)
	}
}

func TestServiceOperations(t *testing.T) {
	f := newFake()
	h := newTestAPI(t, f)
	var names []string
	env := getOK(t, h, "/jaeger/api/services/frontend/operations", &names)
	if want := []string{"GET /", "cache", "call backend"}; !equalStrings(names, want) || env.Total != 3 {
		t.Errorf("operations %q total %d", names, env.Total)
	}
	// An escaped slash reaches the Querier decoded once; no operations is [].
	rec := get(h, "/jaeger/api/services/a%2Fb+c/operations")
	if want := `{"data":[],"total":0,"limit":0,"offset":0,"errors":null}`; rec.Body.String() != want {
		t.Errorf("no operations: %s", rec.Body)
	}
	if got := f.opCalls; len(got) != 2 || got[0] != [2]string{"frontend", ""} || got[1] != [2]string{"a/b+c", ""} {
		t.Errorf("Operations calls %q", got)
	}
}

func TestOperations(t *testing.T) {
	f := newFake()
	h := newTestAPI(t, f)
	var ops []jOperation
	env := getOK(t, h, "/jaeger/api/operations?service=frontend", &ops)
	want := []jOperation{{"GET /", "server"}, {"cache", "internal"}, {"call backend", "client"}}
	if !slices.Equal(ops, want) || env.Total != 3 {
		t.Errorf("operations %+v total %d", ops, env.Total)
	}
	env = getOK(t, h, "/jaeger/api/operations?service=frontend&spanKind=client", &ops)
	if !slices.Equal(ops, want[2:]) || env.Total != 1 {
		t.Errorf("client operations %+v total %d", ops, env.Total)
	}
	// An unspecified kind is "", and is written.
	f = &fakeQuerier{traces: depTraces([]depSpan{{1, 1, 0, "a"}})}
	if body := get(newTestAPI(t, f), "/jaeger/api/operations?service=a").Body.String(); body != `{"data":[{"name":"","spanKind":""}],"total":1,"limit":0,"offset":0,"errors":null}` {
		t.Errorf("unspecified kind: %s", body)
	}
}

func TestSearch(t *testing.T) {
	f := newFake()
	h := newTestAPI(t, f)
	q := url.Values{
		"service":     {"frontend"},
		"operation":   {"GET /"},
		"tag":         {"http.url:http://x:8080/a", "str:ignored"},
		"tags":        {`{"str":"s","int":"42"}`},
		"minDuration": {"1ms"},
		"maxDuration": {"1.6ms"},
		"start":       {fmt.Sprint(t0us - 1)},
		"end":         {fmt.Sprint(t0us + 1)},
		"limit":       {"20"},
		"lookback":    {"custom"},
	}
	var traces []jTrace
	// The fixture has no http.url: no trace, data [].
	env := getOK(t, h, "/jaeger/api/traces?"+q.Encode(), &traces)
	if len(traces) != 0 || traces == nil || env.Total != 0 || env.Errors != nil {
		t.Errorf("unexpected %+v", env)
	}
	want := TraceQuery{
		Service:     "frontend",
		Operation:   "GET /",
		Tags:        map[string]string{"http.url": "http://x:8080/a", "str": "s", "int": "42"},
		MinDuration: time.Millisecond,
		MaxDuration: 1600 * time.Microsecond,
		Start:       time.UnixMicro(t0us - 1),
		End:         time.UnixMicro(t0us + 1),
		Limit:       20,
	}
	if got := f.queries[0]; !equalQuery(got, want) {
		t.Errorf("query\n got %+v\nwant %+v", got, want)
	}

	q.Del("tag")
	getOK(t, h, "/jaeger/api/traces?"+q.Encode(), &traces)
	if ids := traceIDs(traces); !equalStrings(ids, []string{traceAHex}) {
		t.Fatalf("traces %v", ids)
	}
	var golden []jTrace
	strictDecode(t, []byte(compactJSON(t, goldenA)), &golden)
	if marshal(t, traces) != marshal(t, golden) {
		t.Errorf("trace A as searched differs from the golden:\n%s", marshal(t, traces))
	}

	// Several traces, in the Querier's order (newest first), cut at limit.
	getOK(t, h, "/jaeger/api/traces?service=backend&start=0", &traces)
	if ids := traceIDs(traces); !equalStrings(ids, []string{traceBHex, traceAHex}) {
		t.Errorf("backend traces %v", ids)
	}
	getOK(t, h, "/jaeger/api/traces?service=backend&start=0&limit=1", &traces)
	if ids := traceIDs(traces); !equalStrings(ids, []string{traceBHex}) {
		t.Errorf("backend traces, limit 1: %v", ids)
	}
}

func equalQuery(a, b TraceQuery) bool {
	return a.Service == b.Service && a.Operation == b.Operation && fmt.Sprint(a.Tags) == fmt.Sprint(b.Tags) &&
		a.MinDuration == b.MinDuration && a.MaxDuration == b.MaxDuration &&
		a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.Limit == b.Limit
}

func TestSearchDefaults(t *testing.T) {
	end := time.UnixMicro(t0us)
	for _, c := range []struct {
		query      string
		start, end time.Time
		limit      int
	}{
		{"", testNow.Add(-48 * time.Hour), testNow, 100},
		{"&limit=0", testNow.Add(-48 * time.Hour), testNow, 100},
		{"&limit=1500", testNow.Add(-48 * time.Hour), testNow, 1500},
		{"&limit=1501", testNow.Add(-48 * time.Hour), testNow, 1500},
		{"&lookback=custom", testNow.Add(-48 * time.Hour), testNow, 100},
		{"&lookback=1h", testNow.Add(-time.Hour), testNow, 100},
		{"&lookback=2d", testNow.Add(-48 * time.Hour), testNow, 100},
		{"&lookback=3w", testNow.Add(-21 * 24 * time.Hour), testNow, 100},
		{"&lookback=1h30m", testNow.Add(-90 * time.Minute), testNow, 100},
		// With an end and no start, the lookback counts back from end.
		{fmt.Sprintf("&end=%d&lookback=5m", t0us), end.Add(-5 * time.Minute), end, 100},
		// With a start, lookback is ignored, even when it is not valid.
		{fmt.Sprintf("&start=%d&lookback=bogus", t0us-7), time.UnixMicro(t0us - 7), testNow, 100},
		{"&start=-1&end=-1", time.UnixMicro(-1), time.UnixMicro(-1), 100},
	} {
		f := &fakeQuerier{}
		getOK(t, newTestAPI(t, f), "/jaeger/api/traces?service=s"+c.query, nil)
		if len(f.queries) != 1 {
			t.Fatalf("%s: %d queries", c.query, len(f.queries))
		}
		got := f.queries[0]
		if !got.Start.Equal(c.start) || !got.End.Equal(c.end) || got.Limit != c.limit ||
			got.Tags != nil || got.MinDuration != 0 || got.MaxDuration != 0 {
			t.Errorf("%s: %+v, want start %v end %v limit %d", c.query, got, c.start, c.end, c.limit)
		}
	}
}

func TestSearchByTraceIDs(t *testing.T) {
	f := newFake()
	h := newTestAPI(t, f)
	target := "/jaeger/api/traces?traceID=" + traceNoneHex + "&traceID=" + traceCHex + "&traceID=" +
		strings.ToUpper(traceAHex) + "&traceID=" + traceCHex + "&service=ignored&limit=1"
	var traces []jTrace
	env := getOK(t, h, target, &traces)
	if ids := traceIDs(traces); !equalStrings(ids, []string{traceCHex, traceAHex}) {
		t.Errorf("traces %v", ids)
	}
	if want := []jError{{Msg: "trace not found", TraceID: traceNoneHex}}; !slices.Equal(env.Errors, want) || env.Total != 0 {
		t.Errorf("errors %+v total %d", env.Errors, env.Total)
	}
	if len(f.queries) != 0 || len(f.traceCalls) != 3 {
		t.Errorf("%d searches, %d trace lookups (want 0, 3: repeats dropped)", len(f.queries), len(f.traceCalls))
	}
	for _, c := range f.traceCalls {
		if !c.start.IsZero() || !c.end.IsZero() {
			t.Errorf("lookup without start and end got %v %v", c.start, c.end)
		}
	}
	// The error entry has no code: decode it raw.
	if body := get(h, target).Body.String(); !strings.Contains(body, `"errors":[{"msg":"trace not found","traceID":"`+traceNoneHex+`"}]`) {
		t.Errorf("errors as sent: %s", body)
	}

	// Explicit start and end are passed on; the hint of a 64-bit ID.
	f.traceCalls = nil
	getOK(t, h, "/jaeger/api/traces?traceID="+traceBHex+"&start=5&end=6", &traces)
	if ids := traceIDs(traces); !equalStrings(ids, []string{traceBHex}) {
		t.Errorf("trace B: %v", ids)
	}
	if c := f.traceCalls; len(c) != 1 || c[0].id != traceB || !c[0].start.Equal(time.UnixMicro(5)) || !c[0].end.Equal(time.UnixMicro(6)) {
		t.Errorf("lookup %+v", c)
	}
}

func TestGetTrace(t *testing.T) {
	f := newFake()
	h := newTestAPI(t, f)
	for _, id := range []string{
		traceAHex,
		strings.ToUpper(traceAHex),
		base64.StdEncoding.EncodeToString(traceA[:]),
		base64.RawURLEncoding.EncodeToString(traceA[:]),
	} {
		var traces []jTrace
		env := getOK(t, h, "/jaeger/api/traces/"+url.PathEscape(id), &traces)
		var golden []jTrace
		strictDecode(t, []byte(compactJSON(t, goldenA)), &golden)
		if marshal(t, traces) != marshal(t, golden) || env.Total != 0 || env.Errors != nil {
			t.Errorf("GET trace %s: %s", id, marshal(t, traces))
		}
	}
	// 64-bit: 16 hex characters, 32 with leading zeros, or 8 bytes of base64.
	for _, id := range []string{traceBHex, "0000000000000000" + traceBHex, base64.StdEncoding.EncodeToString(traceB[8:])} {
		var traces []jTrace
		getOK(t, h, "/jaeger/api/traces/"+url.PathEscape(id), &traces)
		if len(traces) != 1 || traces[0].TraceID != traceBHex || len(traces[0].Spans) != 2 {
			t.Errorf("GET trace %s: %+v", id, traces)
		}
	}
	f.traceCalls = nil
	getOK(t, h, "/jaeger/api/traces/"+traceAHex+"?start=10&end=20&raw=true", nil)
	if c := f.traceCalls; len(c) != 1 || c[0].id != traceA || !c[0].start.Equal(time.UnixMicro(10)) || !c[0].end.Equal(time.UnixMicro(20)) {
		t.Errorf("lookup %+v", c)
	}

	// A missing trace is a 404 with Jaeger's envelope, byte for byte.
	rec := get(h, "/jaeger/api/traces/"+traceNoneHex)
	wantError(t, rec, http.StatusNotFound, "trace not found")
	if want := `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}` + "\n"; rec.Body.String() != want {
		t.Errorf("404 body %q", rec.Body)
	}
}

func TestGetTraceRaw(t *testing.T) {
	var traces []jTrace
	getOK(t, newTestAPI(t, newFake()), "/jaeger/api/traces/"+traceAHex+"?raw=true", &traces)
	if len(traces[0].Processes) != 3 {
		t.Errorf("raw: %d processes, want 3", len(traces[0].Processes))
	}
}

func TestGetTraceOtherTraceIgnored(t *testing.T) {
	// A Querier answering spans of other traces too: only the asked one's
	// are shown; none of them is a 404.
	mixed := ptrace.NewTraces()
	fixtureB().ResourceSpans().MoveAndAppendTo(mixed.ResourceSpans())
	fixtureC().ResourceSpans().MoveAndAppendTo(mixed.ResourceSpans())
	f := &fakeQuerier{traces: []ptrace.Traces{mixed}}
	var traces []jTrace
	getOK(t, newTestAPI(t, f), "/jaeger/api/traces/"+traceBHex, &traces)
	if len(traces) != 1 || traces[0].TraceID != traceBHex || len(traces[0].Spans) != 2 {
		t.Errorf("trace B: %+v", traces)
	}
	wantError(t, get(newTestAPI(t, f), "/jaeger/api/traces/"+traceCHex), http.StatusNotFound, "trace not found")
}

func TestDependenciesEndpoint(t *testing.T) {
	f := newFake()
	f.links = []DependencyLink{{"frontend", "backend", 2}, {"x", "y", 1}}
	h := newTestAPI(t, f)
	var links []jLink
	env := getOK(t, h, "/jaeger/api/dependencies?endTs=1704164645123&lookback=60000", &links)
	want := []jLink{{"backend", noServiceName, 1}, {"frontend", "backend", 3}, {"x", "y", 1}}
	if !slices.Equal(links, want) || env.Total != 0 {
		t.Errorf("links %+v", links)
	}
	end := time.UnixMilli(1704164645123)
	if c := f.depCalls[0]; !c[0].Equal(end.Add(-time.Minute)) || !c[1].Equal(end) {
		t.Errorf("range %v", c)
	}
	getOK(t, h, "/jaeger/api/dependencies?service=backend", &links)
	if !slices.Equal(links, want[:2]) {
		t.Errorf("links of backend %+v", links)
	}
	if c := f.depCalls[1]; !c[0].Equal(testNow.Add(-24*time.Hour)) || !c[1].Equal(testNow) {
		t.Errorf("default range %v", c)
	}
	rec := get(newTestAPI(t, &fakeQuerier{}), "/jaeger/api/dependencies")
	if want := `{"data":[],"total":0,"limit":0,"offset":0,"errors":null}`; rec.Body.String() != want {
		t.Errorf("no links: %s", rec.Body)
	}
}

func TestQuerierErrors(t *testing.T) {
	targets := []string{
		"/jaeger/api/services",
		"/jaeger/api/services/a/operations",
		"/jaeger/api/operations?service=a",
		"/jaeger/api/traces?service=a",
		"/jaeger/api/traces?traceID=1&traceID=2&traceID=3&traceID=4&traceID=5&traceID=6",
		"/jaeger/api/traces/1",
		"/jaeger/api/dependencies",
	}
	for _, target := range targets {
		h := newTestAPI(t, &fakeQuerier{err: errors.New("partition 7 unreachable")})
		wantError(t, get(h, target), http.StatusInternalServerError, "partition 7 unreachable")
		h = newTestAPI(t, &fakeQuerier{err: fmt.Errorf("%w: range too long", ErrInvalidQuery)})
		wantError(t, get(h, target), http.StatusBadRequest, "invalid query: range too long")
	}
	// The first error is answered, not the cancellation it causes.
	f := newFake()
	f.failID, f.blockOthers = traceNone, true
	wantError(t, get(newTestAPI(t, f), "/jaeger/api/traces?traceID=a1&traceID=a2&traceID=a3&traceID="+traceNoneHex),
		http.StatusInternalServerError, "boom")
	// A zero ptrace.Traces from the Querier is a 500, not a panic.
	nilDeref := "runtime error: invalid memory address or nil pointer dereference"
	h := newTestAPI(t, zeroTraces{&fakeQuerier{}})
	wantError(t, get(h, "/jaeger/api/traces?service=a"), http.StatusInternalServerError, "querier returned invalid traces: "+nilDeref)
	wantError(t, get(h, "/jaeger/api/traces/1"), http.StatusInternalServerError, "trace lookup panicked: "+nilDeref)
	wantError(t, get(h, "/jaeger/api/traces?traceID=1"), http.StatusInternalServerError, "trace lookup panicked: "+nilDeref)
	// A panicking Querier on the goroutines of a search by IDs is a 500.
	f = newFake()
	f.panicTrace = true
	wantError(t, get(newTestAPI(t, f), "/jaeger/api/traces?traceID=1&traceID=2"), http.StatusInternalServerError, "trace lookup panicked: querier bug")
}

func TestPrettyPrint(t *testing.T) {
	h := newTestAPI(t, &fakeQuerier{traces: []ptrace.Traces{fixtureC()}})
	want := "{\n    \"data\": [\n        \"\"\n    ],\n    \"total\": 1,\n    \"limit\": 0,\n    \"offset\": 0,\n    \"errors\": null\n}"
	if got := get(h, "/jaeger/api/services?prettyPrint=true").Body.String(); got != want {
		t.Errorf("pretty\n%s\nwant\n%s", got, want)
	}
	if got := get(h, "/jaeger/api/services?prettyPrint=false").Body.String(); got != `{"data":[""],"total":1,"limit":0,"offset":0,"errors":null}` {
		t.Errorf("prettyPrint=false: %s", got)
	}
}

func TestRegister(t *testing.T) {
	for _, prefix := range []string{"jaeger/", "/jaeger", ""} {
		a, err := New(DefaultConfig(), newFake(), nil)
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		a.Register(mux, prefix)
		base := "/jaeger"
		if prefix == "" {
			base = ""
		}
		if rec := get(mux, base+"/api/services"); rec.Code != http.StatusOK {
			t.Errorf("prefix %q: GET services %d", prefix, rec.Code)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, base+"/api/services", nil))
		if rec.Code != http.StatusMethodNotAllowed || !strings.Contains(rec.Header().Get("Allow"), "GET") {
			t.Errorf("prefix %q: POST services %d %v", prefix, rec.Code, rec.Header())
		}
		for _, p := range []string{"/api/nope", "/api/traces/", "/api/services/a/b"} {
			if rec := get(mux, base+p); rec.Code != http.StatusNotFound || bytes.HasPrefix(rec.Body.Bytes(), []byte("{")) {
				t.Errorf("prefix %q: GET %s %d %s", prefix, p, rec.Code, rec.Body)
			}
		}
	}
}

func TestRequestsDoNotModifyTraces(t *testing.T) {
	f := newFake()
	var before [][]byte
	for _, td := range f.traces {
		b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		before = append(before, b)
	}
	h := newTestAPI(t, f)
	getOK(t, h, "/jaeger/api/traces?service=backend&start=0", nil)
	getOK(t, h, "/jaeger/api/traces/"+traceAHex, nil)
	for i, td := range f.traces {
		if b, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td); !bytes.Equal(b, before[i]) {
			t.Errorf("trace %d modified", i)
		}
	}
}

// zeroTraces answers zero ptrace.Traces, on which pdata panics.
type zeroTraces struct{ *fakeQuerier }

func (zeroTraces) FindTraces(context.Context, TraceQuery) ([]ptrace.Traces, error) {
	return []ptrace.Traces{{}}, nil
}

func (zeroTraces) Trace(context.Context, pcommon.TraceID, time.Time, time.Time) (ptrace.Traces, bool, error) {
	return ptrace.Traces{}, true, nil
}
