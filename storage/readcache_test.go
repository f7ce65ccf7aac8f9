package storage

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// TestSelectionsGenerations: an answer is kept only when the partition's
// index did not move while it was read, and served only until it moves.
func TestReadCacheGenerations(t *testing.T) {
	var s readCache
	k := selectionKey{p: 3, kind: kindSeries, matchers: "a"}
	other := selectionKey{p: 4, kind: kindSeries, matchers: "a"}
	ans := []matched{{hash: 1}}

	_, gen, ok := s.selection(k)
	if ok {
		t.Fatal("hit in an empty cache")
	}
	s.noteWrites([]uint32{3}) // a write lands while the answer is read
	s.putSelection(k, gen, ans)
	if _, _, ok := s.selection(k); ok {
		t.Fatal("an answer read across a write was kept")
	}

	_, gen, _ = s.selection(k)
	s.putSelection(k, gen, ans)
	_, ogen, _ := s.selection(other)
	s.putSelection(other, ogen, ans)
	if got, _, ok := s.selection(k); !ok || len(got) != 1 {
		t.Fatalf("answer not kept: %v %v", got, ok)
	}
	s.noteWrites([]uint32{3})
	if _, _, ok := s.selection(k); ok {
		t.Fatal("an answer served after its partition's index moved")
	}
	if _, _, ok := s.selection(other); !ok {
		t.Fatal("another partition's answer was dropped")
	}
	s.forget(4)
	if _, _, ok := s.selection(other); ok {
		t.Fatal("an answer served after its partition was forgotten")
	}
}

// TestReadCacheBounded: the cache keeps at most maxSelections answers,
// no answer above maxSelectionMatches series, and at most
// maxCachedChunkBytes of chunk lists.
func TestReadCacheBounded(t *testing.T) {
	var s readCache
	for i := range maxSelections + 10 {
		s.putSelection(selectionKey{p: uint32(i)}, 0, []matched{{hash: 1}})
	}
	if n := len(s.answers); n != maxSelections {
		t.Fatalf("%d answers kept", n)
	}
	s.putSelection(selectionKey{p: 1 << 20}, 0, make([]matched, maxSelectionMatches+1))
	if _, _, ok := s.selection(selectionKey{p: 1 << 20}); ok {
		t.Fatal("an oversized answer was kept")
	}
	rec := []*starlingpb.Record{{Key: make([]byte, 1<<10), Value: make([]byte, 63<<10)}}
	for i := range 2 * maxCachedChunkBytes / (64 << 10) {
		s.putChunkList(chunksKey{series: uint64(i)}, 0, rec)
		if s.chunkBytes > maxCachedChunkBytes {
			t.Fatalf("%d bytes of chunks kept after %d lists", s.chunkBytes, i+1)
		}
	}
	if _, ok := s.chunkList(chunksKey{series: uint64(2*maxCachedChunkBytes/(64<<10) - 1)}); !ok {
		t.Fatal("the last list was not kept")
	}
}

// TestSelectSeesNewAndDroppedSeries: a select repeated after a new series
// of the same selector is written finds it, after a late sample is merged
// into a stored chunk reads the new chunk, and after the partition is
// dropped finds nothing, although the first answers were cached.
func TestSelectSeesNewAndDroppedSeries(t *testing.T) {
	clock := newFakeClock(time.Now().Add(-3 * time.Hour))
	e := newTestEnvAt(t, t.TempDir(), 1, clock)
	at := clock.Now().UnixMilli()
	name := labels.MustNewMatcher(labels.MatchEqual, tsdb.MetricNameLabel, "cached")
	count := func() int { return len(e.selectSeries(0, maxTime, name)) }

	e.writeProm(&tsdb.WriteRequest{Series: []tsdb.Series{promSeries("cached", []tsdb.Sample{{T: at, V: 1}}, "x", "a")}})
	for range 2 { // the second answer comes from the cache
		if n := count(); n != 1 {
			t.Fatalf("%d series, want 1", n)
		}
	}
	e.writeProm(&tsdb.WriteRequest{Series: []tsdb.Series{promSeries("cached", []tsdb.Sample{{T: at + 1000, V: 2}}, "x", "b")}})
	if n := count(); n != 2 {
		t.Fatalf("after a new series: %d series, want 2", n)
	}
	e.flushMetrics(true)
	if n := count(); n != 2 {
		t.Fatalf("after the flush: %d series, want 2", n)
	}
	samples := func() int {
		n := 0
		for _, s := range e.selectSeries(0, maxTime, name) {
			n += len(s.Samples)
		}
		return n
	}
	for range 2 { // the second answer's chunks come from the cache
		if n := samples(); n != 2 {
			t.Fatalf("after the flush: %d samples, want 2", n)
		}
	}
	// A late sample of the flushed block: the flush merges it into the
	// series' chunk, which replaces the cached one.
	e.writeProm(&tsdb.WriteRequest{Series: []tsdb.Series{promSeries("cached", []tsdb.Sample{{T: at + 500, V: 3}}, "x", "a")}})
	e.flushMetrics(true)
	if n := samples(); n != 3 {
		t.Fatalf("after a late sample: %d samples, want 3", n)
	}

	clock.Advance(2 * e.cfg.Window)
	if _, err := e.store.DropPartitions(context.Background(), sigMetrics, []uint32{0}, clock.Now().Truncate(e.cfg.Window)); err != nil {
		t.Fatal(err)
	}
	e.replayHeads() // the heads are rebuilt from what is left: nothing
	if n := count(); n != 0 {
		t.Fatalf("after the drop: %d series, want 0", n)
	}
}

// TestCommitNotesBeforeAcknowledging: by the time a writer hears that
// its batch is committed, the committer has noted the batch's index keys
// twice, so a reader the writer tells is not served what the cache read
// before the keys landed.
func TestCommitNotesBeforeAcknowledging(t *testing.T) {
	e := newTestEnv(t, 1)
	e.writeProm(&tsdb.WriteRequest{Series: []tsdb.Series{promSeries("acked", []tsdb.Sample{{T: e.clock.Now().UnixMilli(), V: 1}}, "x", "a")}})
	ws := e.store.acquireAll(sigMetrics)
	defer releaseAll(ws)
	var w *window
	for _, c := range ws {
		if c.space == spaceMain {
			w = c
		}
	}
	if w == nil {
		t.Fatal("no main window")
	}
	sh := w.shardOf(0)
	before := sh.cache.gen(0)
	// One index key of that window alone: one commit, whose callback is
	// the acknowledgement.
	entries := appendEntry(nil, w.start, mainIndex.markerKey(nil, 0, "another"), nil)
	moved := make(chan uint64, 1)
	e.store.Apply(sigMetrics, entries, 0, func(err error) {
		if err != nil {
			t.Error(err)
		}
		moved <- sh.cache.gen(0) - before
	})
	if n := <-moved; n != 2 {
		t.Fatalf("the generation moved %d times before the acknowledgement, want 2", n)
	}
}
