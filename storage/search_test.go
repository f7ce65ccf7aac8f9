package storage

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// ---------------------------------------------------------------------------
// Traces

// oracleSpan is what a trace search can see of one span.
type oracleSpan struct {
	trace   pcommon.TraceID
	service string
	name    string
	status  uint32 // stored code: OTLP code + 1
	dur     uint64
	attrs   map[string]string // span attributes
	rattrs  map[string]string // resource attributes
}

func attrStrings(m pcommon.Map) map[string]string {
	out := make(map[string]string, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		out[k] = v.AsString()
		return true
	})
	return out
}

func oracleSpans(td ptrace.Traces) (spans []oracleSpan, traceTime map[pcommon.TraceID]int64) {
	traceTime = map[pcommon.TraceID]int64{}
	forEachSpan(td, func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		svc := UnknownService
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok && v.AsString() != "" {
			svc = v.AsString()
		}
		spans = append(spans, oracleSpan{
			trace: s.TraceID(), service: svc, name: s.Name(),
			status: uint32(s.Status().Code()) + 1,
			dur:    uint64(s.EndTimestamp() - s.StartTimestamp()),
			attrs:  attrStrings(s.Attributes()), rattrs: attrStrings(rs.Resource().Attributes()),
		})
		st := int64(s.StartTimestamp())
		if t, ok := traceTime[s.TraceID()]; !ok || st < t {
			traceTime[s.TraceID()] = st
		}
	})
	return spans, traceTime
}

func (s *oracleSpan) matches(q *starlingpb.TraceSearch) bool {
	if q.Service != "" && s.service != q.Service {
		return false
	}
	if q.Name != "" && s.name != q.Name {
		return false
	}
	if q.Status != 0 && s.status != q.Status {
		return false
	}
	if s.dur < uint64(q.MinDurationNano) || (q.MaxDurationNano > 0 && s.dur > uint64(q.MaxDurationNano)) {
		return false
	}
	for _, a := range q.Attributes {
		v, ok := s.attrs[a.Key]
		if ok && v == a.Value {
			continue
		}
		if a.Key == "service.name" {
			return false // not an attribute term
		}
		if v, ok := s.rattrs[a.Key]; !ok || v != a.Value {
			return false
		}
	}
	return true
}

func attr(k, v string) *starlingpb.Attribute { return &starlingpb.Attribute{Key: k, Value: v} }

// expectedTraceHits lists, per partition, the traces with one span matching
// q whose (single) group time is in [start, end], newest first.
func expectedTraceHits(spans []oracleSpan, traceTime map[pcommon.TraceID]int64, parts int, q *starlingpb.TraceSearch, start, end int64) map[uint32][]pcommon.TraceID {
	match := map[pcommon.TraceID]bool{}
	for i := range spans {
		if t := traceTime[spans[i].trace]; t >= start && t <= end && spans[i].matches(q) {
			match[spans[i].trace] = true
		}
	}
	out := map[uint32][]pcommon.TraceID{}
	for tid := range match {
		p := PartitionOf(TraceHash(tid), parts)
		out[p] = append(out[p], tid)
	}
	for _, ids := range out {
		sort.Slice(ids, func(i, j int) bool { return traceTime[ids[i]] > traceTime[ids[j]] })
	}
	return out
}

// TestSearchTracesMatchesOracle compares searches with a brute-force
// evaluation, in two regimes: few groups per partition (every term has
// postings) and many, written in many requests, so that frequent terms
// become common (postings stop, group records are scanned).
func TestSearchTracesMatchesOracle(t *testing.T) {
	t.Run("postings", func(t *testing.T) {
		e := newTestEnv(t, 16)
		td := genTraces(newRand(21), 250, 8, e.clock.Now())
		e.writeTraces(td)
		_, kinds := countKeys(t, e.store, sigTraces)
		if kinds[kindCommonTerm] != 0 {
			t.Fatalf("%d common-term markers in a small data set", kinds[kindCommonTerm])
		}
		checkTraceSearches(t, e, td)
	})
	t.Run("common terms", func(t *testing.T) {
		e := newTestEnv(t, 2)
		// 15 requests of 100 whole traces (the oracle wants one group per trace).
		td := ptrace.NewTraces()
		for k := 0; k < 15; k++ {
			part := genTraces(newRand(100+uint64(k)), 100, 6, e.clock.Now())
			e.writeTraces(part)
			part.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		}
		_, kinds := countKeys(t, e.store, sigTraces)
		if kinds[kindCommonTerm] == 0 {
			t.Fatal("no term became common")
		}
		t.Logf("%d common-term markers, %d postings, %d group records", kinds[kindCommonTerm], kinds[kindTracePosting], kinds[kindTraceGroup])
		checkTraceSearches(t, e, td)
	})
}

func checkTraceSearches(t *testing.T, e *testEnv, td ptrace.Traces) {
	spans, traceTime := oracleSpans(td)

	// A time range holding about the middle third of the traces, with
	// bounds exactly on trace times (inclusive).
	times := make([]int64, 0, len(traceTime))
	for _, t := range traceTime {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	lo, hi := times[len(times)/3], times[2*len(times)/3]

	ms := int64(time.Millisecond)
	queries := []struct {
		name string
		q    *starlingpb.TraceSearch
	}{
		{"all", &starlingpb.TraceSearch{}},
		{"service", &starlingpb.TraceSearch{Service: "payment"}},
		{"service unknown", &starlingpb.TraceSearch{Service: "nope"}},
		{"name", &starlingpb.TraceSearch{Name: "GET /api/cart"}},
		{"status error", &starlingpb.TraceSearch{Status: statusError}},
		{"status ok", &starlingpb.TraceSearch{Status: statusOK}},
		{"status unset", &starlingpb.TraceSearch{Status: statusUnset}},
		{"min duration", &starlingpb.TraceSearch{MinDurationNano: 150 * ms}},
		{"max duration", &starlingpb.TraceSearch{MaxDurationNano: ms}},
		{"duration range", &starlingpb.TraceSearch{MinDurationNano: 2 * ms, MaxDurationNano: 5 * ms}},
		{"span attr int", &starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{attr("http.status_code", "500")}}},
		{"span attr bool", &starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{attr("app.feature.enabled", "true")}}},
		{"resource attr", &starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{attr("host.name", "pay-1")}}},
		{"resource attr int", &starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{attr("process.pid", "7")}}},
		{"service+status", &starlingpb.TraceSearch{Service: "cart", Status: statusError}},
		{"service+unset", &starlingpb.TraceSearch{Service: "shipping", Status: statusUnset}},
		{"service+name", &starlingpb.TraceSearch{Service: "checkout", Name: "HTTP GET"}},
		{"service+attr+duration", &starlingpb.TraceSearch{Service: "frontend", Attributes: []*starlingpb.Attribute{attr("net.peer.name", "redis-master")}, MinDurationNano: ms}},
		{"resource+span attr", &starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{attr("telemetry.sdk.language", "go"), attr("http.method", "POST")}}},
		{"everything", &starlingpb.TraceSearch{Service: "checkout", Name: "POST /api/checkout", Status: statusUnset, MinDurationNano: 1, MaxDurationNano: math.MaxInt64,
			Attributes: []*starlingpb.Attribute{attr("http.route", "/api/checkout"), attr("host.name", "app-01")}}},
	}
	for _, tc := range queries {
		t.Run(tc.name, func(t *testing.T) {
			for _, rng := range [][2]int64{{0, maxTime}, {lo, hi}} {
				want := expectedTraceHits(spans, traceTime, e.parts, tc.q, rng[0], rng[1])
				got := e.searchTraces(tc.q, rng[0], rng[1], 1000)
				if tc.name != "service unknown" && rng[0] == 0 && len(want) == 0 {
					t.Fatalf("query matches nothing in the generated data; pick another")
				}
				checkHits(t, got, want, traceTime, 0)
				// Limits: each partition returns its newest matches.
				for _, limit := range []int{1, 3} {
					got := e.searchTraces(tc.q, rng[0], rng[1], limit)
					checkHits(t, got, want, traceTime, limit)
				}
			}
		})
	}
}

func checkHits(t *testing.T, got map[uint32][]*starlingpb.TraceHit, want map[uint32][]pcommon.TraceID, traceTime map[pcommon.TraceID]int64, limit int) {
	t.Helper()
	for p := range got {
		if _, ok := want[p]; !ok {
			want[p] = nil
		}
	}
	for p, w := range want {
		if limit > 0 && len(w) > limit {
			w = w[:limit]
		}
		var g []pcommon.TraceID
		for _, h := range got[p] {
			tid := pcommon.TraceID(h.TraceId)
			g = append(g, tid)
			if h.TimeUnixNano != traceTime[tid] {
				t.Errorf("partition %d: hit %s time %d, want %d", p, tid, h.TimeUnixNano, traceTime[tid])
			}
		}
		if !reflect.DeepEqual(g, w) && !(len(g) == 0 && len(w) == 0) {
			t.Errorf("partition %d, limit %d:\n got  %v\n want %v", p, limit, g, w)
		}
	}
}

// twoSpanTrace builds one trace of two spans in two resources.
type testSpan struct {
	service, name string
	status        ptrace.StatusCode
	dur           time.Duration
	attrs         map[string]string
}

func buildTrace(tid pcommon.TraceID, start time.Time, spans ...testSpan) ptrace.Traces {
	td := ptrace.NewTraces()
	for i, sp := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", sp.service)
		rs.Resource().Attributes().PutStr("res.of", sp.service)
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(pcommon.SpanID{byte(i + 1), 0xaa})
		s.SetName(sp.name)
		st := start.Add(time.Duration(i) * time.Millisecond)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(sp.dur)))
		s.Status().SetCode(sp.status)
		for k, v := range sp.attrs {
			s.Attributes().PutStr(k, v)
		}
	}
	return td
}

// TestSearchTracesSameSpan checks that every condition must hold on one
// span: conditions met by different spans of a trace, in one span group or
// in different ones, do not make it match.
func TestSearchTracesSameSpan(t *testing.T) {
	e := newTestEnv(t, 1)
	start := e.clock.Now().Add(-10 * time.Minute)
	rng := newRand(22)
	oneGroup := randTraceID(rng)
	e.writeTraces(buildTrace(oneGroup, start,
		testSpan{service: "x", name: "a", status: ptrace.StatusCodeError, dur: time.Millisecond, attrs: map[string]string{"k": "1"}},
		testSpan{service: "y", name: "b", status: ptrace.StatusCodeOk, dur: time.Second, attrs: map[string]string{"k": "2"}},
	))
	twoGroups := randTraceID(rng)
	g1 := buildTrace(twoGroups, start.Add(time.Minute), testSpan{service: "x", name: "c", dur: time.Millisecond})
	g2 := buildTrace(twoGroups, start.Add(time.Minute), testSpan{service: "y", name: "d", dur: time.Second})
	g2.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetSpanID(pcommon.SpanID{9})
	e.writeTraces(g1)
	e.writeTraces(g2)

	cases := []struct {
		name string
		q    *starlingpb.TraceSearch
		want []pcommon.TraceID
	}{
		{"x and a: one span", &starlingpb.TraceSearch{Service: "x", Name: "a"}, []pcommon.TraceID{oneGroup}},
		{"x and b: two spans", &starlingpb.TraceSearch{Service: "x", Name: "b"}, nil},
		{"b and error: two spans", &starlingpb.TraceSearch{Name: "b", Status: statusError}, nil},
		{"a and error", &starlingpb.TraceSearch{Name: "a", Status: statusError}, []pcommon.TraceID{oneGroup}},
		{"a and ok", &starlingpb.TraceSearch{Name: "a", Status: statusOK}, nil},
		{"a and unset", &starlingpb.TraceSearch{Name: "a", Status: statusUnset}, nil},
		{"x and slow: two spans", &starlingpb.TraceSearch{Service: "x", MinDurationNano: int64(500 * time.Millisecond)}, nil},
		{"y and slow", &starlingpb.TraceSearch{Service: "y", MinDurationNano: int64(500 * time.Millisecond)}, []pcommon.TraceID{twoGroups, oneGroup}},
		{"fast, y's attribute", &starlingpb.TraceSearch{MaxDurationNano: int64(time.Millisecond), Attributes: []*starlingpb.Attribute{attr("k", "2")}}, nil},
		{"x's resource, y's attribute", &starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{attr("res.of", "x"), attr("k", "2")}}, nil},
		{"x's resource, x's attribute", &starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{attr("res.of", "x"), attr("k", "1")}}, []pcommon.TraceID{oneGroup}},
		{"x and d: two groups", &starlingpb.TraceSearch{Service: "x", Name: "d"}, nil},
		{"y and d", &starlingpb.TraceSearch{Service: "y", Name: "d"}, []pcommon.TraceID{twoGroups}},
		{"x: found once in both", &starlingpb.TraceSearch{Service: "x"}, []pcommon.TraceID{twoGroups, oneGroup}},
		{"unset, x: c only", &starlingpb.TraceSearch{Service: "x", Status: statusUnset}, []pcommon.TraceID{twoGroups}},
	}
	for _, tc := range cases {
		var out starlingpb.ResultChunk
		if err := e.store.SearchTraces(context.Background(), 0, tc.q, 0, maxTime, 10, &out); err != nil {
			t.Fatal(err)
		}
		var got []pcommon.TraceID
		for _, h := range out.TraceHits {
			got = append(got, pcommon.TraceID(h.TraceId))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSearchTracesManyGroups writes one trace in many requests (span
// groups) across the time range: a search returns it once, with the time
// of its newest matching group, and the limit counts traces, not groups.
func TestSearchTracesManyGroups(t *testing.T) {
	e := newTestEnv(t, 1)
	rng := newRand(23)
	base := e.clock.Now().Add(-30 * time.Minute)
	multi := randTraceID(rng)
	for i := range 5 {
		td := buildTrace(multi, base.Add(time.Duration(i)*time.Minute), testSpan{service: "m", name: fmt.Sprint("g", i), dur: time.Millisecond})
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetSpanID(pcommon.SpanID{byte(i + 1)})
		e.writeTraces(td)
	}
	var singles []pcommon.TraceID
	for i := range 3 {
		tid := randTraceID(rng)
		singles = append(singles, tid)
		e.writeTraces(buildTrace(tid, base.Add(time.Duration(i)*time.Minute+30*time.Second), testSpan{service: "m", name: "s", dur: time.Millisecond}))
	}
	search := func(q *starlingpb.TraceSearch, start, end int64, limit int) []*starlingpb.TraceHit {
		var out starlingpb.ResultChunk
		if err := e.store.SearchTraces(context.Background(), 0, q, start, end, limit, &out); err != nil {
			t.Fatal(err)
		}
		return out.TraceHits
	}
	hits := search(&starlingpb.TraceSearch{Service: "m"}, 0, maxTime, 100)
	// Newest first: multi (group at +4m), singles[2] (+2m30s), singles[1], singles[0].
	want := []pcommon.TraceID{multi, singles[2], singles[1], singles[0]}
	var got []pcommon.TraceID
	for _, h := range hits {
		got = append(got, pcommon.TraceID(h.TraceId))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if hits[0].TimeUnixNano != base.Add(4*time.Minute).UnixNano() {
		t.Errorf("multi-group trace time %v, want its newest group", time.Unix(0, hits[0].TimeUnixNano))
	}
	hits = search(&starlingpb.TraceSearch{Service: "m"}, 0, maxTime, 2)
	if len(hits) != 2 || pcommon.TraceID(hits[1].TraceId) != singles[2] {
		t.Errorf("limit 2: %d hits", len(hits))
	}
	// A range holding only the trace's first two groups.
	hits = search(&starlingpb.TraceSearch{Service: "m"}, base.UnixNano(), base.Add(time.Minute).UnixNano(), 100)
	got = got[:0]
	for _, h := range hits {
		got = append(got, pcommon.TraceID(h.TraceId))
	}
	if want := []pcommon.TraceID{multi, singles[0]}; !reflect.DeepEqual(got, want) {
		t.Errorf("range: got %v, want %v", got, want)
	}
	// Only group 3 is called g3.
	hits = search(&starlingpb.TraceSearch{Name: "g3"}, 0, maxTime, 100)
	if len(hits) != 1 || hits[0].TimeUnixNano != base.Add(3*time.Minute).UnixNano() {
		t.Errorf("g3: %v", hits)
	}
	if hits := search(&starlingpb.TraceSearch{}, 0, maxTime, 0); len(hits) != 0 {
		t.Errorf("limit 0 returned %d hits", len(hits))
	}
}

func TestSearchTracesCancelled(t *testing.T) {
	e := newTestEnv(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Fill the read slots so that a cancelled context is noticed.
	for range e.cfg.ReadConcurrency {
		e.store.readSem <- struct{}{}
	}
	defer func() {
		for range e.cfg.ReadConcurrency {
			<-e.store.readSem
		}
	}()
	var out starlingpb.ResultChunk
	if err := e.store.SearchTraces(ctx, 0, &starlingpb.TraceSearch{}, 0, maxTime, 1, &out); err == nil {
		t.Error("SearchTraces with a cancelled context and no read slot: no error")
	}
	if err := e.store.ReadTrace(ctx, 0, [16]byte{1}, &out); err == nil {
		t.Error("ReadTrace with a cancelled context and no read slot: no error")
	}
}

// ---------------------------------------------------------------------------
// Logs

type oracleLog struct {
	canon   string
	time    int64
	service string
	words   map[string]bool
	sev     int32
	attrs   map[string]string
	rattrs  map[string]string
}

func oracleLogs(t *testing.T, ld plog.Logs) []oracleLog {
	var out []oracleLog
	forEachLog(ld, func(rl plog.ResourceLogs, sl plog.ScopeLogs, lr plog.LogRecord) {
		c := plog.NewLogRecord()
		lr.CopyTo(c)
		if c.Timestamp() == 0 {
			c.SetTimestamp(c.ObservedTimestamp())
		}
		svc := UnknownService
		if v, ok := rl.Resource().Attributes().Get("service.name"); ok && v.AsString() != "" {
			svc = v.AsString()
		}
		words := map[string]bool{}
		for _, w := range Words(lr.Body().AsString()) {
			words[w] = true
		}
		out = append(out, oracleLog{
			canon: canonLog(t, rl.Resource(), rl.SchemaUrl(), sl.Scope(), sl.SchemaUrl(), c),
			time:  int64(c.Timestamp()), service: svc, words: words, sev: int32(lr.SeverityNumber()),
			attrs: attrStrings(lr.Attributes()), rattrs: attrStrings(rl.Resource().Attributes()),
		})
	})
	return out
}

func (l *oracleLog) matches(q *starlingpb.LogSearch, start, end int64) bool {
	if l.time < start || l.time > end {
		return false
	}
	if q.Service != "" && l.service != q.Service {
		return false
	}
	if l.sev < q.MinSeverity {
		return false
	}
	for _, w := range q.Words {
		if !l.words[w] {
			return false
		}
	}
	for _, a := range q.Attributes {
		if v, ok := l.attrs[a.Key]; ok && v == a.Value {
			continue
		}
		if v, ok := l.rattrs[a.Key]; !ok || v != a.Value || a.Key == "service.name" {
			return false
		}
	}
	return true
}

func TestSearchLogsMatchesOracle(t *testing.T) {
	e := newTestEnv(t, 16)
	ld := genLogs(newRand(31), 1500, e.clock.Now())
	e.writeLogs(ld)
	logs := oracleLogs(t, ld)
	times := make([]int64, len(logs))
	for i := range logs {
		times[i] = logs[i].time
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	lo, hi := times[len(times)/4], times[len(times)/2]

	queries := []struct {
		name string
		q    *starlingpb.LogSearch
	}{
		{"all", &starlingpb.LogSearch{}},
		{"service", &starlingpb.LogSearch{Service: "payment"}},
		{"service unknown", &starlingpb.LogSearch{Service: "nope"}},
		{"words", &starlingpb.LogSearch{Words: Words("Connection RESET")}},
		{"one word", &starlingpb.LogSearch{Words: Words("cart")}},
		{"unicode word", &starlingpb.LogSearch{Words: Words("ÜBERWEISUNG")}},
		{"word in map body", &starlingpb.LogSearch{Words: Words("checkout")}},
		{"absent word", &starlingpb.LogSearch{Words: Words("zebra")}},
		{"severity 5", &starlingpb.LogSearch{MinSeverity: 5}},
		{"severity 9", &starlingpb.LogSearch{MinSeverity: 9}},
		{"severity 12", &starlingpb.LogSearch{MinSeverity: 12}},
		{"severity 13 WARN", &starlingpb.LogSearch{MinSeverity: 13}},
		{"severity 15", &starlingpb.LogSearch{MinSeverity: 15}},
		{"severity 17 ERROR", &starlingpb.LogSearch{MinSeverity: 17}},
		{"severity 19", &starlingpb.LogSearch{MinSeverity: 19}},
		{"severity 21 FATAL", &starlingpb.LogSearch{MinSeverity: 21}},
		{"severity 24", &starlingpb.LogSearch{MinSeverity: 24}},
		{"attr", &starlingpb.LogSearch{Attributes: []*starlingpb.Attribute{attr("thread.id", "7")}}},
		{"resource attr", &starlingpb.LogSearch{Attributes: []*starlingpb.Attribute{attr("host.name", "pay-1")}}},
		{"service+severity", &starlingpb.LogSearch{Service: "cart", MinSeverity: 17}},
		{"service+words+attr", &starlingpb.LogSearch{Service: "frontend", Words: Words("GET http"), Attributes: []*starlingpb.Attribute{attr("http.status_code", "404")}}},
		{"words+severity", &starlingpb.LogSearch{Words: Words("failed charge"), MinSeverity: 10}},
	}
	for _, tc := range queries {
		t.Run(tc.name, func(t *testing.T) {
			for _, rng := range [][2]int64{{0, maxTime}, {lo, hi}} {
				var want []string
				for i := range logs {
					if logs[i].matches(tc.q, rng[0], rng[1]) {
						want = append(want, logs[i].canon)
					}
				}
				if !strings.Contains(tc.name, "unknown") && !strings.Contains(tc.name, "absent") && rng[0] == 0 && len(want) == 0 {
					t.Fatal("query matches nothing in the generated data; pick another")
				}
				full := e.searchLogs(tc.q, rng[0], rng[1], 1<<20)
				var got []string
				for p, out := range full {
					checkNewestFirst(t, p, out)
					got = append(got, decodedLogsCanon(t, out)...)
				}
				compareSorted(t, "log", got, want, jsonOfCanonLog)
				// Limits: each partition returns the first records of its
				// full answer.
				for _, limit := range []int{1, 4} {
					for p, out := range e.searchLogs(tc.q, rng[0], rng[1], limit) {
						f := full[p]
						n := min(limit, len(f.Records))
						if len(out.Records) != n {
							t.Errorf("partition %d limit %d: %d records, want %d", p, limit, len(out.Records), n)
							continue
						}
						for i := range n {
							if string(out.Records[i].Key) != string(f.Records[i].Key) {
								t.Errorf("partition %d limit %d: record %d differs from the full answer", p, limit, i)
							}
						}
					}
				}
			}
		})
	}
}

func TestSearchLogsRefsPerRecord(t *testing.T) {
	// Every record of an answer comes with its resource record, also when
	// the answer spans two windows.
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	e := newTestEnvAt(t, t.TempDir(), 1, newFakeClock(midnight.Add(time.Hour)))
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "two-days")
	for i, at := range []time.Time{midnight.Add(-time.Minute), midnight.Add(time.Minute)} {
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
		lr.Body().SetStr(fmt.Sprint("record ", i))
	}
	e.writeLogs(ld)
	var out starlingpb.ResultChunk
	if err := e.store.SearchLogs(context.Background(), 0, &starlingpb.LogSearch{Words: []string{"record"}}, 0, maxTime, 10, &out); err != nil {
		t.Fatal(err)
	}
	les, err := DecodeLogs(out.Records, out.Refs)
	if err != nil {
		t.Fatal(err)
	}
	if len(les) != 2 {
		t.Fatalf("%d records, want 2", len(les))
	}
	for _, le := range les {
		if le.Service != "two-days" {
			t.Errorf("record %q lost its resource (service %q)", le.Record.Body().Str(), le.Service)
		}
	}
	if les[0].Record.Body().Str() != "record 1" {
		t.Errorf("newest first: got %q first", les[0].Record.Body().Str())
	}
}

func TestWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ,;  ", nil},
		{"Hello, World! hello", []string{"hello", "world"}},
		{"user_id=42 took 13ms", []string{"user_id", "42", "took", "13ms"}},
		{"GET /api/v1/items?id=7", []string{"get", "api", "v1", "items", "id", "7"}},
		{"Grüße aus Köln", []string{"grüße", "aus", "köln"}},
		{"ÜBERWEISUNG", []string{"überweisung"}},
		{"日本語のテキスト", []string{"日本語のテキスト"}},
		{"tab\tnew\nline", []string{"tab", "new", "line"}},
		{"trailing-", []string{"trailing"}},
		{"\xff\xfeabc", []string{"abc"}},
	}
	for _, tc := range cases {
		if got := Words(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Words(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// ---------------------------------------------------------------------------
// Metrics and catalog

func TestReadCatalog(t *testing.T) {
	e := newTestEnv(t, 16)
	td := genTraces(newRand(51), 80, 6, e.clock.Now())
	e.writeTraces(td)
	md := genMetrics(newRand(52), 2, 2, e.clock.Now())
	e.writeMetrics(md)

	services := map[string]bool{}
	ops := map[string]map[string]bool{}
	forEachSpan(td, func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		sn, _ := rs.Resource().Attributes().Get("service.name")
		services[sn.Str()] = true
		if ops[sn.Str()] == nil {
			ops[sn.Str()] = map[string]bool{}
		}
		ops[sn.Str()][s.Name()] = true
	})
	keys := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	if got, want := e.catalog(&starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_SERVICES}), keys(services); !reflect.DeepEqual(got, want) {
		t.Errorf("services: got %q, want %q", got, want)
	}
	for svc, names := range ops {
		got := e.catalog(&starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_OPERATIONS, Service: svc})
		if want := keys(names); !reflect.DeepEqual(got, want) {
			t.Errorf("operations of %s: got %q, want %q", svc, got, want)
		}
		// All of them in the service's catalog partition.
		out := &starlingpb.ResultChunk{}
		q := &starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_OPERATIONS, Service: svc}
		if err := e.store.ReadCatalog(context.Background(), CatalogPartition(svc, e.parts), q, 0, maxTime, out); err != nil {
			t.Fatal(err)
		}
		if sort.Strings(out.Names); !reflect.DeepEqual(out.Names, keys(names)) {
			t.Errorf("operations of %s in partition %d: got %q", svc, CatalogPartition(svc, e.parts), out.Names)
		}
	}
	if got := e.catalog(&starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_OPERATIONS, Service: "nope"}); len(got) != 0 {
		t.Errorf("operations of an unknown service: %q", got)
	}
	names := promNames(expectedProm(t, md))
	for _, prefix := range []string{"", "http_", "app_o", "app_", "j", "zzz", "http_server_request_duration_seconds", "http_server_request_duration_seconds_sum"} {
		var want []string
		for _, n := range names {
			if strings.HasPrefix(n, prefix) {
				want = append(want, n)
			}
		}
		got := e.catalog(&starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_METRIC_NAMES, Prefix: prefix})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("metric names %q: got %q, want %q", prefix, got, want)
		}
	}
	var out starlingpb.ResultChunk
	if err := e.store.ReadCatalog(context.Background(), 0, &starlingpb.Catalog{}, 0, maxTime, &out); err == nil {
		t.Error("catalog of unspecified kind: no error")
	}
}
