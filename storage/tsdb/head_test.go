package tsdb

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// testClock is a settable wall clock.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func newTestHead(t *testing.T, clock *testClock) *Head {
	t.Helper()
	cfg := DefaultHeadConfig()
	cfg.Now = clock.now
	h, err := NewHead(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func record(series ...RecordSeries) []byte {
	var b RecordBuilder
	for _, s := range series {
		b.Add(s.Hash, string(s.NameBytes), s.Samples, s.Histograms)
	}
	return b.Append(nil)
}

func TestHeadOrderDuplicatesAndBlocks(t *testing.T) {
	clock := &testClock{t: time.UnixMilli(10 * 3600 * 1000)}
	h := newTestHead(t, clock)
	base := clock.t.UnixMilli() - 3600*1000 // inside the open block [8h, 10h)
	block := h.Config().BlockStart(base)
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[int64]float64{}
	for _, i := range rng.Perm(500) {
		ts := base + int64(i)*1000
		v := float64(i)
		if i%50 == 0 { // a duplicate time later: the later write wins
			if err := h.Append(block, h.NextSeq(), record(RecordSeries{Hash: 1, NameBytes: []byte("m"), Samples: []Sample{{T: ts, V: -1}}})); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.Append(block, h.NextSeq(), record(RecordSeries{Hash: 1, NameBytes: []byte("m"), Samples: []Sample{{T: ts, V: v}}})); err != nil {
			t.Fatal(err)
		}
		want[ts] = v
	}
	got, _ := h.Read(1, 0, math.MaxInt64, nil, nil)
	if len(got) != len(want) {
		t.Fatalf("%d samples, want %d", len(got), len(want))
	}
	for i, s := range got {
		if i > 0 && s.T <= got[i-1].T {
			t.Fatalf("samples out of order at %d", i)
		}
		if want[s.T] != s.V {
			t.Fatalf("sample at %d: %v, want %v", s.T, s.V, want[s.T])
		}
	}
	if got, _ := h.Read(1, base+10000, base+19999, nil, nil); len(got) != 10 {
		t.Errorf("range read: %d samples, want 10", len(got))
	}
	if st := h.Stats(); st.Series != 1 || st.Blocks != 1 {
		t.Errorf("stats %+v", st)
	}
	// A sample outside the record's block is corruption.
	if err := h.Append(block, h.NextSeq(), record(RecordSeries{Hash: 1, NameBytes: []byte("m"), Samples: []Sample{{T: block - 1, V: 1}}})); err == nil {
		t.Error("a sample before its block was taken")
	}
}

// TestHeadLateIdle: a late block (a backfill) is flushed once samples
// stop coming for LateFlushIdle, long before LateFlushDelay.
func TestHeadLateIdle(t *testing.T) {
	clock := &testClock{t: time.UnixMilli(4 * 3600 * 1000)}
	h := newTestHead(t, clock)
	cfg := h.Config()
	old := cfg.BlockStart(clock.t.UnixMilli()) - 2*cfg.BlockDuration
	for i := range 3 {
		if err := h.Append(old, h.NextSeq(), record(RecordSeries{Hash: 1, NameBytes: []byte("m"), Samples: []Sample{{T: old + int64(i), V: 1}}})); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(cfg.LateFlushIdle - time.Millisecond)
		if due := h.Due(false); len(due) != 0 {
			t.Fatalf("due %s after a sample", cfg.LateFlushIdle-time.Millisecond)
		}
	}
	clock.t = clock.t.Add(time.Millisecond)
	due := h.Due(false)
	if len(due) != 1 || due[0].Samples() != 3 {
		t.Fatalf("due %d blocks %s after the last sample", len(due), cfg.LateFlushIdle)
	}
	h.Flushed(due[0])
	// A steady trickle: flushed LateFlushDelay after the block was made.
	created := clock.t
	for clock.t.Add(cfg.LateFlushIdle / 2).Before(created.Add(cfg.LateFlushDelay)) {
		if err := h.Append(old, h.NextSeq(), record(RecordSeries{Hash: 1, NameBytes: []byte("m"), Samples: []Sample{{T: old, V: 2}}})); err != nil {
			t.Fatal(err)
		}
		clock.t = clock.t.Add(cfg.LateFlushIdle / 2)
		if due := h.Due(false); len(due) != 0 {
			t.Fatalf("due while late samples keep coming, %s after the first", clock.t.Sub(created))
		}
	}
	clock.t = created.Add(cfg.LateFlushDelay)
	if due := h.Due(false); len(due) != 1 {
		t.Fatalf("due %d blocks LateFlushDelay after the first of a trickle", len(due))
	}
}

func TestHeadDueAndFlush(t *testing.T) {
	clock := &testClock{t: time.UnixMilli(4 * 3600 * 1000)}
	h := newTestHead(t, clock)
	cfg := h.Config()
	now := clock.t.UnixMilli()
	open := cfg.BlockStart(now)
	old := open - cfg.BlockDuration // ended 0 to 2 h ago: due by the wall clock once past the out-of-order window
	app := func(block, ts int64, hash uint64) {
		t.Helper()
		if err := h.Append(block, h.NextSeq(), record(RecordSeries{Hash: hash, NameBytes: []byte("m"), Samples: []Sample{{T: ts, V: 1}}})); err != nil {
			t.Fatal(err)
		}
	}
	app(open, now, 1)
	clock.t = time.UnixMilli(open + cfg.OutOfOrder - 1) // the old block's out-of-order window not over yet
	app(old, old+1000, 2)
	// The old block was created after its end (late): due only after
	// LateFlushDelay.
	if due := h.Due(false); len(due) != 0 {
		t.Fatalf("due %d blocks at once", len(due))
	}
	clock.t = clock.t.Add(cfg.LateFlushDelay + time.Second)
	due := h.Due(false)
	if len(due) != 1 || due[0].Start != old {
		t.Fatalf("due: %d blocks", len(due))
	}
	// Samples for a block being flushed go to a new block of the same start.
	app(old, old+2000, 2)
	n := 0
	if err := due[0].EachSeries(func(hash uint64, s []Sample, _ []HistogramSample) error {
		n += len(s)
		return nil
	}); err != nil || n != 1 {
		t.Fatalf("flushing block holds %d samples, %v", n, err)
	}
	h.Flushed(due[0])
	if got, _ := h.Read(2, 0, math.MaxInt64, nil, nil); len(got) != 1 || got[0].T != old+2000 {
		t.Errorf("after the flush the head holds %v", got)
	}
	if h.Stats().Blocks != 2 || !h.IsActive(2) {
		t.Errorf("stats %+v", h.Stats())
	}
	if all := h.Due(true); len(all) != 2 {
		t.Errorf("Due(all): %d blocks", len(all))
	}
}

func TestHeadHistogramsAndActive(t *testing.T) {
	clock := &testClock{t: time.UnixMilli(5 * 3600 * 1000)}
	h := newTestHead(t, clock)
	block := h.Config().BlockStart(clock.t.UnixMilli())
	hist := &histogram.Histogram{Count: 3, Sum: 2, Schema: 1, ZeroThreshold: 0.001, ZeroCount: 1,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 0}}
	rec := record(
		RecordSeries{Hash: 7, NameBytes: []byte("h"), Histograms: []HistogramSample{{T: block + 5, H: hist}, {T: block + 1, FH: hist.ToFloat(nil)}}},
		RecordSeries{Hash: 8, NameBytes: []byte("g"), Samples: []Sample{{T: block + 1, V: 2}}},
	)
	if err := h.Append(block, h.NextSeq(), rec); err != nil {
		t.Fatal(err)
	}
	_, hs := h.Read(7, 0, math.MaxInt64, nil, nil)
	if len(hs) != 2 || hs[0].T != block+1 || hs[0].FH == nil || hs[1].H == nil {
		t.Fatalf("histograms %+v", hs)
	}
	names := map[string]int{}
	h.ActiveByName(func(n string, c int) { names[n] = c })
	if names["h"] != 1 || names["g"] != 1 {
		t.Errorf("active by name %v", names)
	}
}

// TestHeadReadXOR: the open XOR chunk is handed out as it is only when it
// alone holds a series' head samples of the range, and then holds exactly
// what Read returns (and perhaps more outside the range).
func TestHeadReadXOR(t *testing.T) {
	clock := &testClock{t: time.UnixMilli(10 * 3600 * 1000)}
	h := newTestHead(t, clock)
	base := clock.t.UnixMilli() - 3600*1000
	block := h.Config().BlockStart(base)
	prev := block - h.Config().BlockDuration
	app := func(b int64, hash uint64, ts ...int64) {
		t.Helper()
		var ss []Sample
		for _, x := range ts {
			ss = append(ss, Sample{T: x, V: float64(x) / 7})
		}
		if err := h.Append(b, h.NextSeq(), record(RecordSeries{Hash: hash, NameBytes: []byte("m"), Samples: ss})); err != nil {
			t.Fatal(err)
		}
	}
	app(block, 1, base, base+15000, base+30000, base+45000)
	app(block, 2, base+15000, base) // out of order
	app(prev, 3, prev+1000)         // two blocks
	app(block, 3, base)             // …
	app(block, 4, base, base+15000) // in range of one block only
	app(prev, 4, prev+1000)         // (its other block is outside the range)
	rangeStart, rangeEnd := base+10000, base+40000

	if _, n, _, _, ok := h.ReadXOR(9, 0, math.MaxInt64, nil); !ok || n != 0 {
		t.Errorf("absent series: n %d ok %v", n, ok)
	}
	for _, tc := range []struct {
		hash uint64
		ok   bool
	}{{1, true}, {2, false}, {4, true}} {
		xor, n, minT, maxT, ok := h.ReadXOR(tc.hash, rangeStart, rangeEnd, nil)
		if ok != tc.ok {
			t.Fatalf("series %d: ok %v", tc.hash, ok)
		}
		if !ok {
			continue
		}
		c, err := chunkenc.FromData(chunkenc.EncXOR, xor)
		if err != nil || c.NumSamples() != n {
			t.Fatalf("series %d: %v, %d samples, n %d", tc.hash, err, c.NumSamples(), n)
		}
		var got []Sample
		it := c.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			x, v := it.At()
			if x >= rangeStart && x <= rangeEnd {
				got = append(got, Sample{T: x, V: v})
			}
			if x < minT || x > maxT {
				t.Errorf("series %d: sample at %d outside [%d, %d]", tc.hash, x, minT, maxT)
			}
		}
		want, _ := h.Read(tc.hash, rangeStart, rangeEnd, nil, nil)
		if !slices.Equal(got, want) {
			t.Errorf("series %d: chunk holds %v in range, Read %v", tc.hash, got, want)
		}
	}
	if _, _, _, _, ok := h.ReadXOR(3, prev, rangeEnd, nil); ok {
		t.Error("series in two blocks of the range: ok")
	}
}
