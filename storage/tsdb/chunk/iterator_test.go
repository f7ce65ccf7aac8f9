package chunk

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// seekChunks returns chunks of several encodings with timestamps 100, 110,
// ..., 100+10·(n−1).
func seekChunks(t *testing.T) map[string][]byte {
	const n = 50
	ts := make([]int64, n)
	for i := range ts {
		ts[i] = 100 + 10*int64(i)
	}
	r := rand.New(rand.NewPCG(1, 1))
	g := newHistGen(3, 2)
	hs := make([]*histogram.Histogram, n)
	for i := range hs {
		if i == n/2 {
			g.reset() // Two parts.
		}
		hs[i] = g.next()
	}
	fhs := make([]*histogram.FloatHistogram, n)
	for i, h := range hs {
		fhs[i] = h.ToFloat(nil)
	}
	hb, err := AppendHistograms(nil, ts, hs)
	if err != nil {
		t.Fatal(err)
	}
	fhb, err := AppendFloatHistograms(nil, ts, fhs)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"const":           AppendFloats(nil, ts, fill(n, func(int) float64 { return 3 })),
		"int":             AppendFloats(nil, ts, fill(n, func(i int) float64 { return float64(i) })),
		"xor":             AppendFloats(nil, ts, fill(n, func(int) float64 { return r.NormFloat64() })),
		"histogram":       hb,
		"float histogram": fhb,
	}
}

func TestIteratorSeek(t *testing.T) {
	for name, b := range seekChunks(t) {
		t.Run(name, func(t *testing.T) {
			var it Iterator
			if it.Next() != chunkenc.ValNone || it.Seek(0) != chunkenc.ValNone {
				t.Fatal("zero Iterator not exhausted")
			}
			want := chunkenc.ValFloat
			switch EncodingOf(b) {
			case EncHistogram:
				want = chunkenc.ValHistogram
			case EncFloatHistogram:
				want = chunkenc.ValFloatHistogram
			}
			steps := []struct {
				seek int64
				want int64 // Expected AtT; math.MinInt64: ValNone.
			}{
				{math.MinInt64, 100}, // Before the first Next: the first sample.
				{50, 100},            // Backwards: no effect.
				{100, 100},           // Current qualifies: no effect.
				{101, 110},           // Between samples: the next one.
				{250, 250},           // Exact.
				{250, 250},           // Again: no effect.
				{0, 250},             // Backwards again.
				{345, 350},           // Across the part boundary of histogram chunks.
				{590, 590},           // The last sample.
				{591, math.MinInt64}, // Past the end.
				{0, math.MinInt64},   // Exhausted stays exhausted.
			}
			if err := it.Reset(b); err != nil {
				t.Fatal(err)
			}
			for _, s := range steps {
				vt := it.Seek(s.seek)
				if s.want == math.MinInt64 {
					if vt != chunkenc.ValNone {
						t.Fatalf("Seek(%d) = %v at %d, want ValNone", s.seek, vt, it.AtT())
					}
					continue
				}
				if vt != want || it.AtT() != s.want {
					t.Fatalf("Seek(%d) = %v at %d, want %v at %d", s.seek, vt, it.AtT(), want, s.want)
				}
			}
			if it.Next() != chunkenc.ValNone || it.Err() != nil {
				t.Fatalf("after end: err %v", it.Err())
			}

			// Seek then Next continues from the sought sample.
			if err := it.Reset(b); err != nil {
				t.Fatal(err)
			}
			if it.Next() != want || it.AtT() != 100 {
				t.Fatal("first Next")
			}
			if it.Seek(300) != want || it.AtT() != 300 {
				t.Fatalf("Seek(300) at %d", it.AtT())
			}
			if it.Next() != want || it.AtT() != 310 {
				t.Fatalf("Next after Seek at %d", it.AtT())
			}
			// Past the end straight away.
			if err := it.Reset(b); err != nil {
				t.Fatal(err)
			}
			if it.Seek(1000) != chunkenc.ValNone || it.Next() != chunkenc.ValNone {
				t.Fatal("Seek past end on fresh iterator")
			}
		})
	}
}

func TestIteratorReuseAcrossEncodings(t *testing.T) {
	chunks := seekChunks(t)
	order := []string{"xor", "histogram", "const", "float histogram", "int", "histogram", "xor", "float histogram", "const"}
	var it Iterator
	for round := range 2 {
		for _, name := range order {
			b := chunks[name]
			if round == 1 {
				// A corrupt chunk in between must not disturb the next one.
				if err := it.Reset(b[:len(b)/2]); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s truncated: err %v", name, err)
				}
				if it.Next() != chunkenc.ValNone || !errors.Is(it.Err(), ErrCorrupt) {
					t.Fatalf("%s truncated: iteration did not end with ErrCorrupt", name)
				}
			}
			if err := it.Reset(b); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			count, last := 0, int64(math.MinInt64)
			for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
				if it.AtT() <= last {
					t.Fatalf("%s: timestamps out of order", name)
				}
				last = it.AtT()
				switch vt {
				case chunkenc.ValFloat:
					it.At()
				case chunkenc.ValHistogram:
					it.AtHistogram(nil)
				case chunkenc.ValFloatHistogram:
					it.AtFloatHistogram(nil)
				}
				count++
			}
			if count != 50 || it.Err() != nil {
				t.Fatalf("%s: %d samples, err %v", name, count, it.Err())
			}
		}
	}
}

func TestIteratorFloatAllocs(t *testing.T) {
	chunks := seekChunks(t)
	var it Iterator
	allocs := testing.AllocsPerRun(100, func() {
		for _, name := range []string{"xor", "int", "const"} {
			if err := it.Reset(chunks[name]); err != nil {
				t.Fatal(err)
			}
			for it.Next() != chunkenc.ValNone {
				it.At()
			}
			it.Seek(400)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run, want 0", allocs)
	}
	var e Encoder
	ts := regularTS(120, 15000)
	vs := fill(120, func(i int) float64 { return float64(i) / 100 })
	dst := make([]byte, 0, 4096)
	allocs = testing.AllocsPerRun(100, func() {
		dst = e.AppendFloats(dst[:0], ts, vs)
	})
	if allocs != 0 {
		t.Errorf("Encoder.AppendFloats: %v allocations per run, want 0", allocs)
	}
}

func TestIteratorWrongAt(t *testing.T) {
	chunks := seekChunks(t)
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	it, err := NewIterator(chunks["xor"])
	if err != nil {
		t.Fatal(err)
	}
	it.Next()
	mustPanic("AtHistogram on float", func() { it.AtHistogram(nil) })
	mustPanic("AtFloatHistogram on float", func() { it.AtFloatHistogram(nil) })
	if err := it.Reset(chunks["histogram"]); err != nil {
		t.Fatal(err)
	}
	it.Next()
	mustPanic("At on histogram", func() { it.At() })
	if err := it.Reset(chunks["float histogram"]); err != nil {
		t.Fatal(err)
	}
	it.Next()
	mustPanic("AtHistogram on float histogram", func() { it.AtHistogram(nil) })
}

func TestMetaHelpers(t *testing.T) {
	b := AppendFloats(nil, []int64{-5, 7, 1 << 40}, []float64{1, 2, 3})
	if n, err := NumSamples(b); n != 3 || err != nil {
		t.Errorf("NumSamples %d %v", n, err)
	}
	if lo, hi, err := TimeRange(b); lo != -5 || hi != 1<<40 || err != nil {
		t.Errorf("TimeRange %d %d %v", lo, hi, err)
	}
	if EncodingOf(nil) != EncNone || EncodingOf(b) != EncFloatInt {
		t.Errorf("EncodingOf %v", EncodingOf(b))
	}
	for _, bad := range [][]byte{nil, {0}, {byte(EncFloatXOR)}, {byte(EncFloatXOR), 0, 0, 0}, {byte(EncFloatXOR), 2, 0, 0}} {
		if _, err := ReadMeta(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadMeta(%x): %v", bad, err)
		}
	}
	for e := Encoding(0); e < 10; e++ {
		if e.String() == "" {
			t.Errorf("empty name for %d", e)
		}
	}
}
