package jaeger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Structs mirroring Jaeger's JSON (internal/uimodel/model.go and the
// envelope of http_handler.go), written apart from model.go so that a
// wrong tag there shows here. Responses are decoded with
// DisallowUnknownFields.

type jEnvelope struct {
	Data   json.RawMessage `json:"data"`
	Total  int             `json:"total"`
	Limit  int             `json:"limit"`
	Offset int             `json:"offset"`
	Errors []jError        `json:"errors"`
}

type jError struct {
	Code    int    `json:"code"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID"`
}

type jTrace struct {
	TraceID   string              `json:"traceID"`
	Spans     []jSpan             `json:"spans"`
	Processes map[string]jProcess `json:"processes"`
	Warnings  []string            `json:"warnings"`
}

type jSpan struct {
	TraceID       string   `json:"traceID"`
	SpanID        string   `json:"spanID"`
	Flags         uint32   `json:"flags"`
	OperationName string   `json:"operationName"`
	References    []jRef   `json:"references"`
	StartTime     uint64   `json:"startTime"`
	Duration      uint64   `json:"duration"`
	Tags          []jKV    `json:"tags"`
	Logs          []jLog   `json:"logs"`
	ProcessID     string   `json:"processID"`
	Warnings      []string `json:"warnings"`
}

type jRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jProcess struct {
	ServiceName string `json:"serviceName"`
	Tags        []jKV  `json:"tags"`
}

type jLog struct {
	Timestamp uint64 `json:"timestamp"`
	Fields    []jKV  `json:"fields"`
}

// jKV keeps the value as raw JSON, so that 42, "42" and 42.0 differ.
type jKV struct {
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

type jOperation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

type jLink struct {
	Parent    string `json:"parent"`
	Child     string `json:"child"`
	CallCount uint64 `json:"callCount"`
}

// strictDecode decodes data into v, failing on unknown fields and trailing
// data.
func strictDecode(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	if dec.More() {
		t.Fatalf("trailing data after JSON in %s", data)
	}
}

// The fixture: a fixed set of traces, built once per test.

// t0 is the start of the fixture's trace A: its 789 ns below the
// microsecond show that the API truncates to microseconds.
var t0 = time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)

// t0us is t0 in Unix microseconds.
const t0us = 1704164645123456

var (
	traceA = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	// traceB is a 64-bit trace ID: Jaeger writes it as 16 hex characters.
	traceB    = pcommon.TraceID{8: 0x0b, 9: 0x0b, 10: 0x0b, 11: 0x0b, 12: 0x0b, 13: 0x0b, 14: 0x0b, 15: 0x0b}
	traceC    = pcommon.TraceID{0xcc, 15: 0xcc}
	traceNone = pcommon.TraceID{0xee, 15: 0xee}
)

const (
	traceAHex    = "0102030405060708090a0b0c0d0e0f10"
	traceBHex    = "0b0b0b0b0b0b0b0b"
	traceCHex    = "cc0000000000000000000000000000cc"
	traceNoneHex = "ee0000000000000000000000000000ee"
)

func sid(b byte) pcommon.SpanID { return pcommon.SpanID{7: b} }

func ts(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t0.Add(d)) }

// fixtureA is trace A: frontend (two resources with the same attributes in
// different orders, so one process) calls backend. Its resources come in
// an order different from the spans' start times.
//
//	a1 frontend server "GET /"         t0        1500.999µs  OK, every attribute type, 3 events
//	a4 frontend internal "cache"       t0+50µs   10µs        child of a1, a link to a1 (follows_from)
//	a2 frontend client "call backend"  t0+100µs  200µs       child of a1, error "boom"
//	a3 backend server "handle"         t0+150µs  100µs       child of a2, 3 links, a warning
func fixtureA() ptrace.Traces {
	td := ptrace.NewTraces()

	r2 := td.ResourceSpans().AppendEmpty()
	r2.Resource().Attributes().PutStr("service.name", "backend")
	a3 := r2.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	a3.SetTraceID(traceA)
	a3.SetSpanID(sid(0xa3))
	a3.SetParentSpanID(sid(0xa2))
	a3.SetName("handle")
	a3.SetKind(ptrace.SpanKindServer)
	a3.SetStartTimestamp(ts(150 * time.Microsecond))
	a3.SetEndTimestamp(ts(250 * time.Microsecond))
	a3.Status().SetMessage("note") // unset status with a message
	a3.Attributes().PutEmptySlice(warningsAttr).AppendEmpty().SetStr("w1")
	l1 := a3.Links().AppendEmpty()
	l1.SetTraceID(traceB)
	l1.SetSpanID(sid(0xb1))
	l2 := a3.Links().AppendEmpty()
	l2.SetTraceID(traceA)
	l2.SetSpanID(sid(0xa1))
	l2.Attributes().PutStr(linkRefTypeAttr, linkRefTypeChildOf)
	l3 := a3.Links().AppendEmpty() // empty trace ID: removed
	l3.SetSpanID(sid(0x33))

	r1 := td.ResourceSpans().AppendEmpty()
	r1.Resource().Attributes().PutStr("service.name", "frontend")
	r1.Resource().Attributes().PutStr("host.name", "h1")
	r1.Resource().Attributes().PutStr("a.first", "x")
	ss1 := r1.ScopeSpans().AppendEmpty()
	ss1.Scope().SetName("io.opentelemetry.http")
	ss1.Scope().SetVersion("1.2.3")
	a2 := ss1.Spans().AppendEmpty()
	a2.SetTraceID(traceA)
	a2.SetSpanID(sid(0xa2))
	a2.SetParentSpanID(sid(0xa1))
	a2.SetName("call backend")
	a2.SetKind(ptrace.SpanKindClient)
	a2.SetStartTimestamp(ts(100 * time.Microsecond))
	a2.SetEndTimestamp(ts(300 * time.Microsecond))
	a2.Status().SetCode(ptrace.StatusCodeError)
	a2.Status().SetMessage("boom")

	a1 := ss1.Spans().AppendEmpty()
	a1.SetTraceID(traceA)
	a1.SetSpanID(sid(0xa1))
	a1.SetName("GET /")
	a1.SetKind(ptrace.SpanKindServer)
	a1.SetStartTimestamp(ts(0))
	a1.SetEndTimestamp(ts(1500*time.Microsecond + 999))
	a1.SetFlags(0x301) // sampled, plus the OTLP has/is-remote bits
	a1.TraceState().FromRaw("k=v")
	a1.Status().SetCode(ptrace.StatusCodeOk)
	at := a1.Attributes()
	at.PutStr("str", "s")
	at.PutInt("int", 42)
	at.PutInt("big", 1<<53+1)
	at.PutInt("neg.big", -(1 << 53))
	at.PutBool("bool", true)
	at.PutDouble("double", 1.5)
	at.PutDouble("nan", math.NaN())
	at.PutEmptyBytes("bytes").FromRaw([]byte{1, 2, 3})
	m := at.PutEmptyMap("map")
	m.PutStr("k", "v")
	m.PutInt("n", 1)
	sl := at.PutEmptySlice("slice")
	sl.AppendEmpty().SetStr("a")
	sl.AppendEmpty().SetInt(2)
	at.PutEmpty("empty")
	e1 := a1.Events().AppendEmpty()
	e1.SetName("retry")
	e1.SetTimestamp(ts(10 * time.Microsecond))
	e1.Attributes().PutInt("attempt", 2)
	e2 := a1.Events().AppendEmpty()
	e2.SetName("exception")
	e2.SetTimestamp(ts(20 * time.Microsecond))
	e2.Attributes().PutStr("exception.message", "bad")
	e2.Attributes().PutStr("event", "overridden")
	e3 := a1.Events().AppendEmpty() // no name
	e3.SetTimestamp(ts(30*time.Microsecond + 999))
	e3.Attributes().PutStr("x", "y")

	r3 := td.ResourceSpans().AppendEmpty()
	r3.Resource().Attributes().PutStr("a.first", "x")
	r3.Resource().Attributes().PutStr("service.name", "frontend")
	r3.Resource().Attributes().PutStr("host.name", "h1")
	ss3 := r3.ScopeSpans().AppendEmpty()
	ss3.Scope().SetName("io.opentelemetry.http")
	ss3.Scope().SetVersion("1.2.3")
	a4 := ss3.Spans().AppendEmpty()
	a4.SetTraceID(traceA)
	a4.SetSpanID(sid(0xa4))
	a4.SetParentSpanID(sid(0xa1))
	a4.SetName("cache")
	a4.SetKind(ptrace.SpanKindInternal)
	a4.SetStartTimestamp(ts(50 * time.Microsecond))
	a4.SetEndTimestamp(ts(60 * time.Microsecond))
	l4 := a4.Links().AppendEmpty()
	l4.SetTraceID(traceA)
	l4.SetSpanID(sid(0xa1))
	l4.Attributes().PutStr(linkRefTypeAttr, "follows_from")
	return td
}

// fixtureB is trace B (a 64-bit ID): backend's consumer b1 and its child
// b2, whose resource has no attributes at all.
func fixtureB() ptrace.Traces {
	td := ptrace.NewTraces()
	r := td.ResourceSpans().AppendEmpty()
	r.Resource().Attributes().PutStr("service.name", "backend")
	b1 := r.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	b1.SetTraceID(traceB)
	b1.SetSpanID(sid(0xb1))
	b1.SetName("consume")
	b1.SetKind(ptrace.SpanKindConsumer)
	b1.SetStartTimestamp(ts(time.Second))
	b1.SetEndTimestamp(ts(2 * time.Second))
	b2 := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	b2.SetTraceID(traceB)
	b2.SetSpanID(sid(0xb2))
	b2.SetParentSpanID(sid(0xb1))
	b2.SetName("publish")
	b2.SetKind(ptrace.SpanKindProducer)
	b2.SetStartTimestamp(ts(time.Second + time.Millisecond))
	b2.SetEndTimestamp(ts(time.Second)) // ends before it starts
	return td
}

// fixtureC is trace C: two spans that start at the same time (c2 listed
// first, c1 has the smaller ID), of a resource with attributes but no
// service.name, and an unspecified kind.
func fixtureC() ptrace.Traces {
	td := ptrace.NewTraces()
	r := td.ResourceSpans().AppendEmpty()
	r.Resource().Attributes().PutStr("host.name", "h2")
	spans := r.ScopeSpans().AppendEmpty().Spans()
	for _, id := range []byte{0xc2, 0xc1} {
		s := spans.AppendEmpty()
		s.SetTraceID(traceC)
		s.SetSpanID(sid(id))
		s.SetName("tick")
		s.SetStartTimestamp(ts(time.Hour))
		s.SetEndTimestamp(ts(time.Hour + time.Millisecond))
	}
	return td
}

func fixtures() []ptrace.Traces { return []ptrace.Traces{fixtureA(), fixtureB(), fixtureC()} }

// fakeQuerier is a Querier over a fixed set of traces, each ptrace.Traces
// one trace. It records what it is asked.
type fakeQuerier struct {
	traces []ptrace.Traces
	// links are added to the answer of Dependencies (to test merging).
	links []DependencyLink
	// err, when set, is the error of every method.
	err error
	// panicTrace makes Trace panic.
	panicTrace bool
	// failID, when set, is the one ID Trace fails for ("boom"); with
	// blockOthers, Trace waits for the others' context to end.
	failID      pcommon.TraceID
	blockOthers bool

	mu         sync.Mutex
	queries    []TraceQuery
	traceCalls []traceCall
	opCalls    [][2]string
	depCalls   [][2]time.Time
}

type traceCall struct {
	id         pcommon.TraceID
	start, end time.Time
}

func newFake() *fakeQuerier { return &fakeQuerier{traces: fixtures()} }

// spans calls fn for every span of the fixture with its service.
func (f *fakeQuerier) spans(fn func(td ptrace.Traces, res pcommon.Resource, s ptrace.Span)) {
	for _, td := range f.traces {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					fn(td, rs.Resource(), s)
				}
			}
		}
	}
}

func (f *fakeQuerier) Services(context.Context) ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	var names []string // with repeats, in fixture order: the API sorts
	f.spans(func(_ ptrace.Traces, res pcommon.Resource, _ ptrace.Span) {
		names = append(names, serviceName(res))
	})
	return names, nil
}

func (f *fakeQuerier) Operations(_ context.Context, service, kind string) ([]Operation, error) {
	f.mu.Lock()
	f.opCalls = append(f.opCalls, [2]string{service, kind})
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var ops []Operation // one per span, so with repeats
	f.spans(func(_ ptrace.Traces, res pcommon.Resource, s ptrace.Span) {
		k := spanKindTags[s.Kind()]
		if serviceName(res) == service && (kind == "" || kind == k) {
			ops = append(ops, Operation{Name: s.Name(), SpanKind: k})
		}
	})
	return ops, nil
}

// FindTraces matches service, operation, attribute tags, durations and
// start times, returning the matching traces in reverse fixture order.
func (f *fakeQuerier) FindTraces(_ context.Context, q TraceQuery) ([]ptrace.Traces, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	matched := map[int]bool{}
	for i, td := range f.traces {
		(&fakeQuerier{traces: []ptrace.Traces{td}}).spans(func(_ ptrace.Traces, res pcommon.Resource, s ptrace.Span) {
			start, end := s.StartTimestamp().AsTime(), s.EndTimestamp().AsTime()
			d := end.Sub(start)
			ok := serviceName(res) == q.Service &&
				(q.Operation == "" || q.Operation == s.Name()) &&
				(q.MinDuration == 0 || d >= q.MinDuration) &&
				(q.MaxDuration == 0 || d <= q.MaxDuration) &&
				!start.Before(q.Start) && !start.After(q.End)
			for k, v := range q.Tags {
				a, found := s.Attributes().Get(k)
				if !found {
					a, found = res.Attributes().Get(k)
				}
				ok = ok && found && a.AsString() == v
			}
			if ok {
				matched[i] = true
			}
		})
	}
	var out []ptrace.Traces
	for i := len(f.traces) - 1; i >= 0 && len(out) < q.Limit; i-- {
		if matched[i] {
			out = append(out, f.traces[i])
		}
	}
	return out, nil
}

func (f *fakeQuerier) Trace(ctx context.Context, id pcommon.TraceID, start, end time.Time) (ptrace.Traces, bool, error) {
	f.mu.Lock()
	f.traceCalls = append(f.traceCalls, traceCall{id, start, end})
	f.mu.Unlock()
	if f.panicTrace {
		panic("querier bug")
	}
	if f.err != nil {
		return ptrace.Traces{}, false, f.err
	}
	if !f.failID.IsEmpty() {
		if id == f.failID {
			return ptrace.Traces{}, false, errors.New("boom")
		}
		if f.blockOthers {
			<-ctx.Done()
			return ptrace.Traces{}, false, ctx.Err()
		}
	}
	for _, td := range f.traces {
		if td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID() == id {
			return td, true, nil
		}
	}
	return ptrace.Traces{}, false, nil
}

func (f *fakeQuerier) Dependencies(_ context.Context, start, end time.Time) ([]DependencyLink, error) {
	f.mu.Lock()
	f.depCalls = append(f.depCalls, [2]time.Time{start, end})
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	return append(Dependencies(f.traces), f.links...), nil
}

// testNow is the "now" of every test API.
var testNow = time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC)

// newTestAPI returns the API over q with DefaultConfig, mounted under
// /jaeger.
func newTestAPI(t testing.TB, q Querier) http.Handler {
	t.Helper()
	a, err := New(DefaultConfig(), q, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.now = func() time.Time { return testNow }
	mux := http.NewServeMux()
	a.Register(mux, "/jaeger")
	return mux
}

// get serves GET target on h.
func get(h http.Handler, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

// getOK serves GET target, requires 200 and application/json, and decodes
// the envelope strictly, then its data into data (when not nil).
func getOK(t *testing.T, h http.Handler, target string, data any) jEnvelope {
	t.Helper()
	rec := get(h, target)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", target, ct)
	}
	var env jEnvelope
	strictDecode(t, rec.Body.Bytes(), &env)
	if env.Limit != 0 || env.Offset != 0 {
		t.Errorf("GET %s: limit %d offset %d, want 0 0", target, env.Limit, env.Offset)
	}
	if data != nil {
		strictDecode(t, env.Data, data)
	}
	return env
}

// wantError checks that rec is Jaeger's error answer: the status, the
// envelope {"data":null,…,"errors":[{"code":code,"msg":msg}]} and
// http.Error's headers.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, code int, msg string) {
	t.Helper()
	if rec.Code != code {
		t.Errorf("status %d, want %d (%s)", rec.Code, code, rec.Body)
	}
	want, _ := json.Marshal(msg)
	body := `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":` + itoa(code) + `,"msg":` + string(want) + "}]}\n"
	if rec.Body.String() != body {
		t.Errorf("body\n%s\nwant\n%s", rec.Body, body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("no X-Content-Type-Options: nosniff")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// traceIDs lists the IDs of traces.
func traceIDs(traces []jTrace) []string {
	var ids []string
	for _, tr := range traces {
		ids = append(ids, tr.TraceID)
	}
	return ids
}

// spanIDs lists the span IDs of a trace.
func spanIDs(tr jTrace) []string {
	var ids []string
	for _, s := range tr.Spans {
		ids = append(ids, s.SpanID)
	}
	return ids
}

// tagKeys lists the keys of tags.
func tagKeys(kvs []jKV) []string {
	keys := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		keys = append(keys, kv.Key)
	}
	return keys
}

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }
