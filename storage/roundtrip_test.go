package storage

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// compareCanon compares two sets of canonical encodings keyed by id.
func compareCanon(t *testing.T, what string, got, want map[string]string, toJSON func(string) string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d, want %d", what, len(got), len(want))
	}
	bad := 0
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s %x: missing", what, id)
		case g != w:
			gj, wj := toJSON(g), toJSON(w)
			t.Errorf("%s %x differs %s", what, id, firstDiff(gj, wj))
		default:
			continue
		}
		if bad++; bad > 5 {
			t.Fatalf("%s: too many differences", what)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s %x: not written but read back", what, id)
		}
	}
}

func TestTraceRoundTrip(t *testing.T) {
	for _, parts := range []int{16, 256} {
		t.Run(fmt.Sprintf("P%d", parts), func(t *testing.T) {
			e := newTestEnv(t, parts)
			td := genTraces(newRand(uint64(parts)), 80, 12, e.clock.Now())
			want := spansByID(t, td)
			r := e.writeTraces(td)
			if r.Accepted != spanCount(td) {
				t.Fatalf("accepted %d of %d spans", r.Accepted, spanCount(td))
			}
			got := make(map[string]string)
			for _, tid := range traceIDsOf(td) {
				out := e.readTrace(tid)
				dt, err := DecodeTrace(out.Records, out.Refs)
				if err != nil {
					t.Fatalf("DecodeTrace %s: %v", tid, err)
				}
				checkDecodedTraceShape(t, dt, tid)
				for id, c := range spansByID(t, dt) {
					if _, dup := got[id]; dup {
						t.Errorf("span %x read twice", id)
					}
					got[id] = c
				}
			}
			compareCanon(t, "span", got, want, jsonOfCanonSpan)
		})
	}
}

// checkDecodedTraceShape checks that dt holds only spans of tid, one
// ResourceSpans per distinct resource+scope, spans in start time order.
func checkDecodedTraceShape(t *testing.T, dt ptrace.Traces, tid pcommon.TraceID) {
	t.Helper()
	seenScope := map[string]bool{}
	for i := 0; i < dt.ResourceSpans().Len(); i++ {
		rs := dt.ResourceSpans().At(i)
		if rs.ScopeSpans().Len() != 1 {
			t.Errorf("ResourceSpans %d has %d scopes, want 1", i, rs.ScopeSpans().Len())
			continue
		}
		ss := rs.ScopeSpans().At(0)
		key := canonSpan(t, rs.Resource(), rs.SchemaUrl(), ss.Scope(), ss.SchemaUrl(), ptrace.NewSpan())
		if seenScope[key] {
			t.Errorf("resource+scope repeated in DecodeTrace output")
		}
		seenScope[key] = true
		var last pcommon.Timestamp
		for k := 0; k < ss.Spans().Len(); k++ {
			s := ss.Spans().At(k)
			if s.TraceID() != tid {
				t.Errorf("ReadTrace(%s) returned a span of trace %s", tid, s.TraceID())
			}
			if s.StartTimestamp() < last {
				t.Errorf("spans not in start time order")
			}
			last = s.StartTimestamp()
		}
	}
}

func TestSummarizeTrace(t *testing.T) {
	e := newTestEnv(t, 16)
	td := genTraces(newRand(7), 20, 9, e.clock.Now())
	e.writeTraces(td)
	type want struct {
		service, name string
		start, end    uint64
		spans         int
	}
	wants := map[pcommon.TraceID]*want{}
	forEachSpan(td, func(rs ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		w := wants[s.TraceID()]
		if w == nil {
			w = &want{start: math.MaxUint64}
			wants[s.TraceID()] = w
		}
		w.spans++
		w.start = min(w.start, uint64(s.StartTimestamp()))
		w.end = max(w.end, uint64(s.EndTimestamp()))
		if s.ParentSpanID().IsEmpty() {
			sn, _ := rs.Resource().Attributes().Get("service.name")
			w.service, w.name = sn.Str(), s.Name()
		}
	})
	for tid, w := range wants {
		out := e.readTrace(tid)
		sum, err := SummarizeTrace(out.Records, out.Refs)
		if err != nil {
			t.Fatal(err)
		}
		got := want{sum.RootService, sum.RootName, sum.Start, sum.End, sum.SpanCount}
		if got != *w || sum.TraceID != tid {
			t.Errorf("summary of %s: got %+v, want %+v", tid, got, *w)
		}
	}

	// Without its root, a trace is summarised by its earliest span.
	tid := randTraceID(newRand(99))
	td = ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "late")
	now := e.clock.Now()
	for i, name := range []string{"second", "first", "third"} {
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(pcommon.SpanID{1, byte(i + 1)})
		s.SetParentSpanID(pcommon.SpanID{9})
		s.SetName(name)
		st := now.Add(-time.Minute + time.Duration([]int{2, 1, 3}[i])*time.Second)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(time.Millisecond)))
	}
	e.writeTraces(td)
	out := e.readTrace(tid)
	sum, err := SummarizeTrace(out.Records, out.Refs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.RootName != "first" || sum.RootService != "late" || sum.SpanCount != 3 {
		t.Errorf("rootless summary: %+v", sum)
	}
}

// TestTraceAcrossWindows writes one trace in two requests whose spans lie
// on either side of a window boundary: ReadTrace finds both halves.
func TestTraceAcrossWindows(t *testing.T) {
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	clock := newFakeClock(midnight.Add(30 * time.Minute))
	e := newTestEnvAt(t, t.TempDir(), 16, clock)
	tid := randTraceID(newRand(3))
	var all []ptrace.Traces
	for i, at := range []time.Time{midnight.Add(-10 * time.Minute), midnight.Add(10 * time.Minute)} {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "edge")
		s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		s.SetTraceID(tid)
		s.SetSpanID(pcommon.SpanID{byte(i + 1)})
		s.SetName(fmt.Sprint("op", i))
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Second)))
		e.writeTraces(td)
		all = append(all, td)
	}
	if n := len(e.store.Windows()); n != 2 {
		t.Fatalf("%d windows open, want 2 (one per day)", n)
	}
	out := e.readTrace(tid)
	dt, err := DecodeTrace(out.Records, out.Refs)
	if err != nil {
		t.Fatal(err)
	}
	want := spansByID(t, all[0])
	for k, v := range spansByID(t, all[1]) {
		want[k] = v
	}
	compareCanon(t, "span", spansByID(t, dt), want, jsonOfCanonSpan)

	// A search over the whole range sees the trace once; a search over the
	// second day only sees it through the second group.
	hits := e.searchTraces(&starlingpb.TraceSearch{Service: "edge"}, 0, maxTime, 10)
	if n := countHits(hits); n != 1 {
		t.Errorf("search over both windows: %d hits, want 1", n)
	}
	hits = e.searchTraces(&starlingpb.TraceSearch{Name: "op0"}, midnight.UnixNano(), maxTime, 10)
	if n := countHits(hits); n != 0 {
		t.Errorf("search for the first day's span in the second day: %d hits, want 0", n)
	}
}

func countHits(hits map[uint32][]*starlingpb.TraceHit) int {
	n := 0
	for _, h := range hits {
		n += len(h)
	}
	return n
}

// TestSpanValueEdgeCases round-trips spans with extreme field values.
func TestSpanValueEdgeCases(t *testing.T) {
	e := newTestEnv(t, 16)
	now := e.clock.Now()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty() // no service.name, no schema
	ss := rs.ScopeSpans().AppendEmpty()
	mk := func(i byte) ptrace.Span {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, i})
		s.SetSpanID(pcommon.SpanID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, i})
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Minute)))
		s.SetEndTimestamp(s.StartTimestamp())
		return s
	}
	mk(1) // minimal: no name, zero duration
	s := mk(2)
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(30 * time.Minute))) // long span
	s.SetName(string([]byte{0, 0xff, 'x'}))                                    // not UTF-8
	s.SetKind(ptrace.SpanKindConsumer)
	s.SetFlags(math.MaxUint32)
	s.SetDroppedAttributesCount(math.MaxUint32)
	s.SetDroppedEventsCount(math.MaxUint32)
	s.SetDroppedLinksCount(math.MaxUint32)
	s.Attributes().PutDouble("nan", math.NaN())
	s.Attributes().PutDouble("inf", math.Inf(-1))
	s.Attributes().PutInt("max", math.MaxInt64)
	s.Attributes().PutStr("", "empty key")
	s.Attributes().PutEmptyBytes("nil-bytes")
	deep := s.Attributes().PutEmptyMap("deep")
	for range 20 {
		deep = deep.PutEmptyMap("d")
	}
	deep.PutStr("leaf", "x")
	ev := s.Events().AppendEmpty()
	ev.SetTimestamp(0) // before the span start
	ev = s.Events().AppendEmpty()
	ev.SetTimestamp(s.EndTimestamp() + 1e9) // after the end
	ev.SetName("late")
	l := s.Links().AppendEmpty() // link with zero ids
	l.SetFlags(math.MaxUint32)
	s.Status().SetCode(ptrace.StatusCodeError)
	s.Status().SetMessage(string(make([]byte, 5000)))
	s = mk(3)
	s.SetParentSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 1})
	s.Status().SetCode(ptrace.StatusCodeOk)
	s.Attributes().PutStr("long", string(bytes.Repeat([]byte("v"), 1<<16)))

	want := spansByID(t, td)
	e.writeTraces(td)
	got := map[string]string{}
	for _, tid := range traceIDsOf(td) {
		out := e.readTrace(tid)
		dt, err := DecodeTrace(out.Records, out.Refs)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range spansByID(t, dt) {
			got[k] = v
		}
	}
	compareCanon(t, "span", got, want, jsonOfCanonSpan)
}

// expectedLogs is the canonical form of every record of ld as it should be
// read back: a record without timestamp gets its observed timestamp.
func expectedLogs(t *testing.T, ld plog.Logs) []string {
	var out []string
	forEachLog(ld, func(rl plog.ResourceLogs, sl plog.ScopeLogs, lr plog.LogRecord) {
		c := plog.NewLogRecord()
		lr.CopyTo(c)
		if c.Timestamp() == 0 {
			c.SetTimestamp(c.ObservedTimestamp())
		}
		out = append(out, canonLog(t, rl.Resource(), rl.SchemaUrl(), sl.Scope(), sl.SchemaUrl(), c))
	})
	sort.Strings(out)
	return out
}

func decodedLogsCanon(t *testing.T, out *starlingpb.ResultChunk) []string {
	t.Helper()
	entries, err := DecodeLogs(out.Records, out.Refs)
	if err != nil {
		t.Fatalf("DecodeLogs: %v", err)
	}
	var cs []string
	for _, le := range entries {
		cs = append(cs, canonLog(t, le.Resource, le.ResourceSchemaURL, le.Scope, le.ScopeSchemaURL, le.Record))
		sn, _ := le.Resource.Attributes().Get("service.name")
		if le.Service != sn.Str() {
			t.Errorf("LogEntry.Service %q, resource says %q", le.Service, sn.Str())
		}
	}
	return cs
}

func compareSorted(t *testing.T, what string, got, want []string, toJSON func(string) string) {
	t.Helper()
	sort.Strings(got)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Errorf("%s: got %d, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Errorf("%s %d differs %s", what, i, firstDiff(toJSON(got[i]), toJSON(want[i])))
			if bad++; bad > 3 {
				t.FailNow()
			}
		}
	}
}

func TestLogRoundTrip(t *testing.T) {
	for _, parts := range []int{16, 256} {
		t.Run(fmt.Sprintf("P%d", parts), func(t *testing.T) {
			e := newTestEnv(t, parts)
			ld := genLogs(newRand(uint64(parts)+1), 600, e.clock.Now())
			r := e.writeLogs(ld)
			if r.Accepted != ld.LogRecordCount() {
				t.Fatalf("accepted %d of %d", r.Accepted, ld.LogRecordCount())
			}
			var got []string
			for p, out := range e.searchLogs(&starlingpb.LogSearch{}, 0, maxTime, 1<<20) {
				checkNewestFirst(t, p, out)
				got = append(got, decodedLogsCanon(t, out)...)
			}
			compareSorted(t, "log", got, expectedLogs(t, ld), jsonOfCanonLog)
		})
	}
}

// checkNewestFirst checks that the log records of one partition's answer are
// in descending time order.
func checkNewestFirst(t *testing.T, p uint32, out *starlingpb.ResultChunk) {
	t.Helper()
	for i := 1; i < len(out.Records); i++ {
		if LogTime(out.Records[i].Key) > LogTime(out.Records[i-1].Key) {
			t.Errorf("partition %d: log records not newest first at %d", p, i)
			return
		}
	}
}

func TestLogRecordWithoutTimes(t *testing.T) {
	e := newTestEnv(t, 16)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "clockless")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("no time at all")
	e.writeLogs(ld)
	var got []LogEntry
	for _, out := range e.searchLogs(&starlingpb.LogSearch{Service: "clockless"}, 0, maxTime, 10) {
		les, err := DecodeLogs(out.Records, out.Refs)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, les...)
	}
	if len(got) != 1 {
		t.Fatalf("got %d records, want 1", len(got))
	}
	if ts := got[0].Record.Timestamp().AsTime(); !ts.Equal(e.clock.Now()) {
		t.Errorf("record without time stored at %v, want the builder's now %v", ts, e.clock.Now())
	}
}
