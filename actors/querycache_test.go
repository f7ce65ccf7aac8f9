package actors

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/plan"
)

// tracesAt is n traces of one span each started at t, their ids' first
// byte from first on.
func tracesAt(n int, first byte, t time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{first + byte(i), 9})
		s.SetSpanID(pcommon.SpanID{1})
		s.SetName("op")
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(t))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(t.Add(time.Millisecond)))
	}
	return td
}

// TestQueryCache: a TraceQL search over a closed range is answered from
// the cache the second time; a late write through a frontend, a LateData
// from another node and a partition table change each make the next one
// a miss with the new answer; a range that is not closed is never cached.
func TestQueryCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := time.Now().Add(-time.Hour)
	ingest := func(td ptrace.Traces) {
		t.Helper()
		if res, err := e.frontends.Ingest(ctx, &IngestRequest{Signal: starlingpb.Signal_SIGNAL_TRACES, Traces: td}); err != nil || res.Err != nil {
			t.Fatalf("ingest: %+v %v", res, err)
		}
	}
	ingest(tracesAt(5, 1, old))
	q := NewQuerier(e.system, e.router, QuerierConfig{Timeout: 5 * time.Second, Cache: e.qcache}, e.store)
	tp, err := plan.Trace(`{ resource.service.name = "svc" }`)
	if err != nil {
		t.Fatal(err)
	}
	closedEnd := time.Now().Add(-30 * time.Minute).UnixNano()
	search := func(end int64) (int, string) {
		t.Helper()
		ms, st, err := q.SearchTraceQL(ctx, tp, old.Add(-time.Minute).UnixNano(), end, 100, 3)
		if err != nil {
			t.Fatal(err)
		}
		return len(ms), st.Cache
	}
	expect := func(step string, end int64, traces int, how string) {
		t.Helper()
		if n, got := search(end); n != traces || got != how {
			t.Fatalf("%s: %d traces, cache %q; want %d, %q", step, n, got, traces, how)
		}
	}
	expect("first", closedEnd, 5, "miss")
	expect("again", closedEnd, 5, "hit")
	if hits := e.results.Stats().L1Hits; hits != 1 {
		t.Fatalf("L1 hits %d, want 1", hits)
	}

	none, err := plan.Trace(`{ resource.service.name = "nobody" }`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"miss", "hit"} { // an empty answer is kept too
		ms, st, err := q.SearchTraceQL(ctx, none, old.Add(-time.Minute).UnixNano(), closedEnd, 100, 3)
		if err != nil || len(ms) != 0 || st.Cache != want {
			t.Fatalf("no match: %d traces, cache %q, %v; want 0, %q", len(ms), st.Cache, err, want)
		}
	}

	ingest(tracesAt(2, 100, old)) // late: an hour old
	expect("after a late write", closedEnd, 7, "miss")
	expect("again after it", closedEnd, 7, "hit")
	ingest(tracesAt(1, 200, time.Now())) // fresh: the closed range keeps its entry
	expect("after a fresh write", closedEnd, 7, "hit")

	e.system.Root.Send(actor.NewPID(e.system.Address(), QueryCacheName), &starlingpb.LateData{Signal: starlingpb.Signal_SIGNAL_TRACES})
	waitFor(t, "a miss after LateData", func() bool { _, how := search(closedEnd); return how == "miss" })
	expect("again after LateData", closedEnd, 7, "hit")

	e.table.bump(starlingpb.Signal_SIGNAL_TRACES, 0)
	expect("after a table change", closedEnd, 7, "miss")

	open := time.Now().Add(time.Minute).UnixNano()
	for range 2 {
		if n, how := search(open); n != 8 || how[:15] != "not cacheable: " {
			t.Fatalf("open range: %d traces, cache %q; want 8, not cacheable", n, how)
		}
	}
}

// TestQueryCacheMetrics: a TraceQL metrics query over a closed range is
// answered from the cache the second time, with the same series.
func TestQueryCacheMetrics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := time.Now().Add(-time.Hour).Truncate(time.Minute)
	if res, err := e.frontends.Ingest(ctx, &IngestRequest{Signal: starlingpb.Signal_SIGNAL_TRACES, Traces: tracesAt(6, 1, old)}); err != nil || res.Err != nil {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	q := NewQuerier(e.system, e.router, QuerierConfig{Timeout: 5 * time.Second, Cache: e.qcache}, e.store)
	tp, err := plan.Trace(`{ } | count_over_time() by (resource.service.name)`)
	if err != nil {
		t.Fatal(err)
	}
	start, end, step := old.Add(-5*time.Minute).UnixNano(), old.Add(5*time.Minute).UnixNano(), int64(time.Minute)
	var first string
	for i, want := range []string{"miss", "hit"} {
		m, st, err := q.TraceQLMetrics(ctx, tp, start, end, step)
		if err != nil {
			t.Fatal(err)
		}
		if st.Cache != want {
			t.Fatalf("query %d: cache %q, want %q", i, st.Cache, want)
		}
		got := fmt.Sprint(m.Result())
		if i == 0 {
			first = got
			if !strings.Contains(got, " 6}") {
				t.Fatalf("no count of 6 in %s", got)
			}
		} else if got != first {
			t.Fatalf("cached series %s, want %s", got, first)
		}
	}
}
