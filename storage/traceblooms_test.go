package storage

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// builtBlooms waits until every partition of every traces window of e
// has its filter built (asking builds them) and returns them by partition.
func builtBlooms(t *testing.T, e *testEnv) map[uint32][]*traceBlooms {
	t.Helper()
	out := map[uint32][]*traceBlooms{}
	ws := e.store.acquireAll(sigTraces)
	defer releaseAll(ws)
	for p := range uint32(e.parts) {
		for _, w := range ws {
			b := &w.shardOf(p).blooms
			waitFor(t, 10*time.Second, "a trace bloom built", func() bool {
				b.mayHold(w, p, nil)
				b.mu.Lock()
				defer b.mu.Unlock()
				return b.summaries[p] != nil
			})
			out[p] = append(out[p], b)
		}
	}
	return out
}

// TestTraceBloomsOnRealData: the filters kept up by the writes
// hold every trace ID and posting term written (no false negatives), and
// answer at most about 1% of absent ones (measured on 200,000 probes; a
// filter is sized for 4,096 items, so these small ones do better).
func TestTraceBloomsOnRealData(t *testing.T) {
	e := newTestEnv(t, 4)
	td := genTraces(newRand(41), 3000, 8, e.clock.Now())
	e.writeTraces(td)
	blooms := builtBlooms(t, e)

	items := map[uint32]map[uint64]bool{} // what each partition holds
	for p := range uint32(e.parts) {
		items[p] = map[uint64]bool{}
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				id := [16]byte(spans.At(k).TraceID())
				p := PartitionOf(TraceHash(id), e.parts)
				items[p][traceItem(id[:])] = true
				items[p][nameTerm(spans.At(k).Name())] = true
			}
		}
	}
	inAny := func(p uint32, it uint64) bool { // spans may fall in two windows (just after midnight)
		for _, b := range blooms[p] {
			if b.mayHold(nil, p, []uint64{it}) {
				return true
			}
		}
		return false
	}
	for p, want := range items {
		for it := range want {
			if !inAny(p, it) {
				t.Fatalf("partition %d: a written trace ID or span name term is not in its filter", p)
			}
		}
	}
	rng := newRand(42)
	const probes = 200_000
	fp := 0
	for range probes {
		var id pcommon.TraceID
		for b := range id {
			id[b] = byte(rng.Uint32())
		}
		p := PartitionOf(TraceHash(id), e.parts)
		if blooms[p][0].mayHold(nil, p, []uint64{traceItem(id[:])}) {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("false positives: %d of %d absent trace IDs (%.3f%%)", fp, probes, 100*rate)
	if rate > 0.015 {
		t.Fatalf("false-positive rate %.3f%%, want about 1%%", 100*rate)
	}
}

// TestMayHoldTraces: a search's terms rule out the partitions whose
// filters lack one; a write after the filter was built is in it, and a
// dropped partition's filter is built again.
func TestMayHoldTraces(t *testing.T) {
	e := newTestEnv(t, 4)
	start := e.clock.Now().Add(-10 * time.Minute)
	id := pcommon.TraceID{1, 2, 3}
	e.writeTraces(buildTrace(id, start, testSpan{service: "only", name: "op", dur: time.Millisecond}))
	home := PartitionOf(TraceHash([16]byte(id)), e.parts)
	builtBlooms(t, e)
	all := []uint32{0, 1, 2, 3}
	check := func(step string, q *starlingpb.TraceSearch, want func(p uint32) bool) {
		t.Helper()
		got := e.store.MayHoldTraces(q, all, 0, maxTime)
		for i, p := range all {
			if got[i] != want(p) {
				t.Fatalf("%s: partition %d: may hold %v, want %v", step, p, got[i], want(p))
			}
		}
	}
	isHome := func(p uint32) bool { return p == home }
	check("service", &starlingpb.TraceSearch{Service: "only"}, isHome)
	check("absent service", &starlingpb.TraceSearch{Service: "none"}, func(uint32) bool { return false })
	check("no term", &starlingpb.TraceSearch{MinDurationNano: 1}, func(uint32) bool { return true })

	later := pcommon.TraceID{9, 9, 9}
	e.writeTraces(buildTrace(later, start, testSpan{service: "later", name: "op", dur: time.Millisecond}))
	laterHome := PartitionOf(TraceHash([16]byte(later)), e.parts)
	check("written after the build", &starlingpb.TraceSearch{Service: "later"}, func(p uint32) bool { return p == laterHome })

	if _, err := e.store.DropPartitions(t.Context(), sigTraces, []uint32{home}, time.Now().Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Forgotten: may hold anything until built again, then nothing.
	check("dropped, not built yet", &starlingpb.TraceSearch{Service: "only"}, isHome)
	builtBlooms(t, e)
	check("dropped and built again", &starlingpb.TraceSearch{Service: "only"}, func(uint32) bool { return false })
	var out starlingpb.ResultChunk
	if err := e.store.ReadTrace(t.Context(), home, [16]byte(id), &out); err != nil || len(out.Records) != 0 {
		t.Fatalf("dropped trace read: %d records, %v", len(out.Records), err)
	}
}
