package storage

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/starling-otel/starling/storage/tsdb"
)

// TestSelectionsGenerations: an answer is kept only when the partition's
// index did not move while it was read, and served only until it moves.
func TestSelectionsGenerations(t *testing.T) {
	var s selections
	k := selectionKey{p: 3, kind: kindSeries, matchers: "a"}
	other := selectionKey{p: 4, kind: kindSeries, matchers: "a"}
	ans := []matched{{hash: 1}}

	_, gen, ok := s.get(k)
	if ok {
		t.Fatal("hit in an empty cache")
	}
	s.noteWrites([]uint32{3}) // a write lands while the answer is read
	s.put(k, gen, ans)
	if _, _, ok := s.get(k); ok {
		t.Fatal("an answer read across a write was kept")
	}

	_, gen, _ = s.get(k)
	s.put(k, gen, ans)
	_, ogen, _ := s.get(other)
	s.put(other, ogen, ans)
	if got, _, ok := s.get(k); !ok || len(got) != 1 {
		t.Fatalf("answer not kept: %v %v", got, ok)
	}
	s.noteWrites([]uint32{3})
	if _, _, ok := s.get(k); ok {
		t.Fatal("an answer served after its partition's index moved")
	}
	if _, _, ok := s.get(other); !ok {
		t.Fatal("another partition's answer was dropped")
	}
	s.forget(4)
	if _, _, ok := s.get(other); ok {
		t.Fatal("an answer served after its partition was forgotten")
	}
}

// TestSelectionsBounded: the cache keeps at most maxSelections answers
// and no answer above maxSelectionMatches series.
func TestSelectionsBounded(t *testing.T) {
	var s selections
	for i := range maxSelections + 10 {
		s.put(selectionKey{p: uint32(i)}, 0, []matched{{hash: 1}})
	}
	if n := len(s.answers); n != maxSelections {
		t.Fatalf("%d answers kept", n)
	}
	s.put(selectionKey{p: 1 << 20}, 0, make([]matched, maxSelectionMatches+1))
	if _, _, ok := s.get(selectionKey{p: 1 << 20}); ok {
		t.Fatal("an oversized answer was kept")
	}
}

// TestSelectSeesNewAndDroppedSeries: a select repeated after a new series
// of the same selector is written finds it, and after the partition is
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

	clock.Advance(2 * e.cfg.Window)
	if _, err := e.store.DropPartitions(context.Background(), sigMetrics, []uint32{0}, clock.Now().Truncate(e.cfg.Window)); err != nil {
		t.Fatal(err)
	}
	e.replayHeads() // the heads are rebuilt from what is left: nothing
	if n := count(); n != 0 {
		t.Fatalf("after the drop: %d series, want 0", n)
	}
}
