package storage

import (
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// keptVersion returns the version of partition p's kept trace summary in
// the newest traces window of s, or 0 when Badger shows none.
func keptVersion(t *testing.T, s *Store, p uint32) uint64 {
	t.Helper()
	ws := s.acquireAll(sigTraces)
	defer releaseAll(ws)
	var v uint64
	err := ws[0].db(p).View(func(txn *badger.Txn) error {
		item, err := txn.Get(traceSummaryKey(nil, p))
		if err == badger.ErrKeyNotFound {
			return nil
		}
		if err == nil {
			v = item.Version()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTraceSummariesKeptAcrossRestarts: a clean close keeps every
// partition's summary; the next start reads it (no build from the keys)
// and answers with it; the first write after that deletes the kept one
// before its keys land (a crash then builds it again), and the next close
// keeps it again, now holding the new write.
func TestTraceSummariesKeptAcrossRestarts(t *testing.T) {
	e := newTestEnv(t, 4)
	start := e.clock.Now().Add(-10 * time.Minute)
	first := pcommon.TraceID{1, 2, 3}
	e.writeTraces(buildTrace(first, start, testSpan{service: "first", name: "op", dur: time.Millisecond}))
	home := PartitionOf(TraceHash([16]byte(first)), e.parts)
	if v := keptVersion(t, e.store, home); v != 0 {
		t.Fatalf("summary kept at version %d before any close", v)
	}

	e.reopen()
	kept := keptVersion(t, e.store, home)
	if kept == 0 {
		t.Fatal("no summary kept by the close")
	}
	builtBlooms(t, e)
	ws := e.store.acquireAll(sigTraces)
	b := &ws[0].shardOf(home).blooms
	b.mu.Lock()
	read := b.kept[home]
	b.mu.Unlock()
	releaseAll(ws)
	if read != kept {
		t.Fatalf("summary in memory is of version %d, want the kept %d (read, not built)", read, kept)
	}
	all := []uint32{0, 1, 2, 3}
	mayHold := func(service string) []bool {
		return e.store.MayHoldTraces(&starlingpb.TraceSearch{Service: service}, all, 0, maxTime)
	}
	for i, may := range mayHold("first") {
		if may != (all[i] == home) {
			t.Fatalf("after the restart, partition %d may hold service first: %v", all[i], may)
		}
	}

	second := pcommon.TraceID{1, 2, 4}
	e.writeTraces(buildTrace(second, start, testSpan{service: "second", name: "op", dur: time.Millisecond}))
	home2 := PartitionOf(TraceHash([16]byte(second)), e.parts)
	if v := keptVersion(t, e.store, home2); v != 0 {
		t.Fatalf("a write to partition %d left its kept summary (version %d) in place", home2, v)
	}
	if got := mayHold("second"); !got[home2] {
		t.Fatal("a write after the restart is not in the summary")
	}

	e.reopen()
	if v := keptVersion(t, e.store, home2); v <= kept && home2 == home || v == 0 {
		t.Fatalf("partition %d: kept summary version %d after the second close (first: %d)", home2, v, kept)
	}
	builtBlooms(t, e)
	if got := mayHold("second"); !got[home2] {
		t.Fatal("after the second restart, the write is not in the kept summary")
	}
	var out starlingpb.ResultChunk
	if err := e.store.ReadTrace(t.Context(), home2, [16]byte(second), &out); err != nil || len(out.Records) != 1 {
		t.Fatalf("trace read after the restart: %d records, %v", len(out.Records), err)
	}
}

// TestTraceSummariesKeptWhenQuiet: a window that is no longer the newest
// keeps the summaries of its partitions once they were not written for a
// retention interval; the newest window keeps none while it runs.
func TestTraceSummariesKeptWhenQuiet(t *testing.T) {
	e := newTestEnv(t, 2)
	id := pcommon.TraceID{7}
	e.writeTraces(buildTrace(id, e.clock.Now().Add(-time.Minute), testSpan{service: "s", name: "op", dur: time.Millisecond}))
	p := PartitionOf(TraceHash([16]byte(id)), e.parts)
	for range 2 {
		if err := e.store.keepQuietSummaries(); err != nil {
			t.Fatal(err)
		}
	}
	if v := keptVersion(t, e.store, p); v != 0 {
		t.Fatalf("the newest window kept a summary (version %d)", v)
	}
	e.clock.Advance(e.cfg.Window)
	if err := e.store.keepQuietSummaries(); err != nil { // written since the last check: not yet
		t.Fatal(err)
	}
	if v := keptVersion(t, e.store, p); v != 0 {
		t.Fatalf("kept (version %d) before a quiet interval", v)
	}
	if err := e.store.keepQuietSummaries(); err != nil {
		t.Fatal(err)
	}
	if v := keptVersion(t, e.store, p); v == 0 {
		t.Fatal("a quiet partition of a closed window kept no summary")
	}
}

// TestLoadedSummaryDroppedWhenNotClean: a snapshot's summary is kept only
// by a receiver whose partition held nothing else; one that held data and
// a kept summary of it deletes that summary (found by the chaos test: a
// catch-up loaded spans under a stale one, which hid them) and builds its
// own from the keys, holding both.
func TestLoadedSummaryDroppedWhenNotClean(t *testing.T) {
	clock := newFakeClock(time.Now())
	src := newTestEnvAt(t, t.TempDir(), 2, clock)
	dst := newTestEnvAt(t, t.TempDir(), 2, clock)
	start := clock.Now().Add(-time.Minute)
	sent := pcommon.TraceID{1}
	p := PartitionOf(TraceHash([16]byte(sent)), 2)
	src.writeTraces(buildTrace(sent, start, testSpan{service: "sent", name: "op", dur: time.Millisecond}))
	// The receiver has a trace of its own in p.
	var own pcommon.TraceID
	for i := byte(2); ; i++ {
		if own = (pcommon.TraceID{i}); PartitionOf(TraceHash([16]byte(own)), 2) == p {
			break
		}
	}
	dst.writeTraces(buildTrace(own, start, testSpan{service: "own", name: "op", dur: time.Millisecond}))
	dst.reopen() // its close keeps a summary of its own data
	if v := keptVersion(t, dst.store, p); v == 0 {
		t.Fatal("no summary kept by the receiver's close")
	}
	copyPartition(t, src.store, dst.store, sigTraces, p, 1<<20)
	if v := keptVersion(t, dst.store, p); v != 0 {
		t.Fatalf("after the load the receiver shows a kept summary (version %d): its own, which lacks the loaded data, or the sender's, which lacks its own", v)
	}
	builtBlooms(t, dst)
	for _, service := range []string{"sent", "own"} {
		if got := dst.store.MayHoldTraces(&starlingpb.TraceSearch{Service: service}, []uint32{p}, 0, maxTime); !got[0] {
			t.Fatalf("after the load, service %s is not in partition %d's summary", service, p)
		}
	}
}
