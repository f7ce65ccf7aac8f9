package chunk

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

var customBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// histGen produces a realistic cumulative native histogram series: counts
// grow, new buckets appear now and then (chunkenc recodes), and a reset can
// be forced.
type histGen struct {
	r        *rand.Rand
	schema   int32
	pos, neg map[int32]uint64
	zero     uint64
	sum      float64
}

func newHistGen(seed uint64, schema int32) *histGen {
	g := &histGen{r: rand.New(rand.NewPCG(seed, 7)), schema: schema}
	g.reset()
	return g
}

func (g *histGen) reset() {
	g.pos, g.neg, g.zero, g.sum = map[int32]uint64{}, map[int32]uint64{}, 0, 0
}

func (g *histGen) custom() bool { return g.schema == histogram.CustomBucketsSchema }

func (g *histGen) next() *histogram.Histogram {
	for range 1 + g.r.IntN(20) {
		switch {
		case g.custom():
			// Mostly low buckets; the high ones appear late.
			g.pos[int32(min(g.r.IntN(1+len(g.pos)+1), len(customBounds)))]++
			g.sum += g.r.Float64() * 3
		case g.r.IntN(10) == 0:
			g.zero++
		case g.r.IntN(4) == 0:
			g.neg[int32(g.r.IntN(3))]++
			g.sum -= g.r.Float64()
		default:
			g.pos[int32(g.r.NormFloat64()*3)]++
			g.sum += g.r.Float64() * 10
		}
	}
	h := &histogram.Histogram{Schema: g.schema, Sum: g.sum, ZeroCount: g.zero}
	if g.custom() {
		h.CustomValues = customBounds
	} else {
		h.ZeroThreshold = 1e-128
	}
	h.PositiveSpans, h.PositiveBuckets = spansOf(g.pos)
	h.NegativeSpans, h.NegativeBuckets = spansOf(g.neg)
	var c uint64
	for _, v := range g.pos {
		c += v
	}
	for _, v := range g.neg {
		c += v
	}
	h.Count = c + g.zero
	return h
}

// spansOf turns absolute bucket counts into one span per run of indices and
// delta-coded buckets.
func spansOf(m map[int32]uint64) ([]histogram.Span, []int64) {
	if len(m) == 0 {
		return nil, nil
	}
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	for k := range m {
		lo, hi = min(lo, k), max(hi, k)
	}
	var spans []histogram.Span
	var buckets []int64
	prev, last := int64(0), lo-1
	for i := lo; i <= hi; i++ {
		v, ok := m[i]
		if !ok {
			continue
		}
		if len(spans) == 0 || i != last+1 {
			off := i - last - 1
			if len(spans) == 0 {
				off = i
			}
			spans = append(spans, histogram.Span{Offset: off, Length: 0})
		}
		spans[len(spans)-1].Length++
		buckets = append(buckets, int64(v)-prev)
		prev, last = int64(v), i
	}
	return spans, buckets
}

type histCase struct {
	name   string
	hs     []*histogram.Histogram
	resets []int // Samples that start a part because of a counter reset.
	parts  int
}

func histCases(n int) []histCase {
	series := func(seed uint64, schema int32, resetAt ...int) []*histogram.Histogram {
		g := newHistGen(seed, schema)
		hs := make([]*histogram.Histogram, n)
		for i := range hs {
			for _, r := range resetAt {
				if i == r {
					g.reset()
				}
			}
			hs[i] = g.next()
		}
		return hs
	}
	schemaChange := series(3, 3)
	for i := n / 2; i < n; i++ {
		h := schemaChange[i].Copy()
		if err := h.ReduceResolution(1); err != nil {
			panic(err)
		}
		schemaChange[i] = h
	}
	stale := series(4, 0)
	stale[n/3] = &histogram.Histogram{Sum: staleNaN}
	gauge := series(5, 2)
	for i, h := range gauge {
		h = h.Copy()
		h.CounterResetHint = histogram.GaugeType
		if i%2 == 1 { // Gauges go down, too.
			h = gauge[i-1].Copy()
		}
		gauge[i] = h
	}
	customChange := series(6, histogram.CustomBucketsSchema)
	for i := 2 * n / 3; i < n; i++ {
		h := customChange[i].Copy()
		h.CustomValues = append([]float64{0.001}, customBounds...)
		customChange[i] = h
	}
	hinted := series(12, 1)
	hinted[n/2] = hinted[n/2].Copy()
	hinted[n/2].CounterResetHint = histogram.CounterReset // Counts keep growing: only the hint says so.
	return []histCase{
		{name: "exponential", hs: series(1, 0), parts: 1},
		{name: "explicit reset hint", hs: hinted, resets: []int{n / 2}, parts: 2},
		{name: "exponential schema 8", hs: series(2, 8), parts: 1},
		{name: "exponential schema -4", hs: series(2, -4), parts: 1},
		{name: "counter reset", hs: series(7, 1, n/2), resets: []int{n / 2}, parts: 2},
		{name: "two resets", hs: series(8, 1, n/4, 3*n/4), resets: []int{n / 4, 3 * n / 4}, parts: 3},
		{name: "schema change", hs: schemaChange, parts: 2},
		{name: "stale marker", hs: stale, parts: 2},
		{name: "gauge", hs: gauge, parts: 1},
		{name: "custom buckets", hs: series(9, histogram.CustomBucketsSchema), parts: 1},
		{name: "custom buckets reset", hs: series(10, histogram.CustomBucketsSchema, n/2), resets: []int{n / 2}, parts: 2},
		{name: "custom bounds change", hs: customChange, resets: []int{2 * n / 3}, parts: 2},
		{name: "single", hs: series(11, 0)[:1], parts: 1},
	}
}

func TestHistogramRoundTrip(t *testing.T) {
	for _, n := range []int{120, 1000} {
		for _, c := range histCases(n) {
			t.Run(c.name, func(t *testing.T) {
				ts := regularTS(len(c.hs), 15000)
				inputs := copyHistograms(c.hs)
				b, err := AppendHistograms([]byte("x"), ts, c.hs)
				if err != nil {
					t.Fatal(err)
				}
				b = b[1:]
				for i := range c.hs {
					if !c.hs[i].Equals(inputs[i]) {
						t.Fatalf("AppendHistograms modified input %d", i)
					}
				}
				if EncodingOf(b) != EncHistogram {
					t.Fatalf("encoding %v", EncodingOf(b))
				}
				checkParts(t, b, c.parts)
				checkHistograms(t, b, ts, c.hs, c.resets)

				fhs := make([]*histogram.FloatHistogram, len(c.hs))
				for i, h := range c.hs {
					fhs[i] = h.ToFloat(nil)
				}
				fb, err := AppendFloatHistograms(nil, ts, fhs)
				if err != nil {
					t.Fatal(err)
				}
				if EncodingOf(fb) != EncFloatHistogram {
					t.Fatalf("encoding %v", EncodingOf(fb))
				}
				checkParts(t, fb, c.parts)
				checkFloatHistograms(t, fb, ts, fhs, c.resets)
			})
		}
	}
}

func checkParts(t *testing.T, b []byte, want int) {
	t.Helper()
	meta, r, err := readHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := readParts(nil, &r, meta.NumSamples, meta.Encoding == EncFloatHistogram)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != want {
		t.Errorf("%d parts, want %d", len(parts), want)
	}
}

func copyHistograms(hs []*histogram.Histogram) []*histogram.Histogram {
	out := make([]*histogram.Histogram, len(hs))
	for i, h := range hs {
		out[i] = h.Copy()
	}
	return out
}

func wantHint(i int, resets []int, h histogram.CounterResetHint) histogram.CounterResetHint {
	for _, r := range resets {
		if i == r {
			return histogram.CounterReset
		}
	}
	return h
}

func checkHistograms(t *testing.T, b []byte, ts []int64, hs []*histogram.Histogram, resets []int) {
	t.Helper()
	meta, err := ReadMeta(b)
	if err != nil || meta.NumSamples != len(hs) || meta.MinTime != ts[0] || meta.MaxTime != ts[len(ts)-1] {
		t.Fatalf("meta %+v, %v", meta, err)
	}
	it, err := NewIterator(b)
	if err != nil {
		t.Fatal(err)
	}
	var reuse *histogram.Histogram
	i := 0
	for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
		if vt != chunkenc.ValHistogram {
			t.Fatalf("sample %d: type %v", i, vt)
		}
		gt, h := it.AtHistogram(reuse)
		if i%2 == 0 {
			reuse = h // Alternate between fresh and reused histograms.
		} else {
			reuse = nil
		}
		if gt != ts[i] || it.AtT() != ts[i] {
			t.Fatalf("sample %d: t %d want %d", i, gt, ts[i])
		}
		if !h.Copy().Compact(0).Equals(hs[i].Copy().Compact(0)) {
			t.Fatalf("sample %d:\n got %v\nwant %v", i, h, hs[i])
		}
		if r := wantHint(i, resets, h.CounterResetHint); h.CounterResetHint != r {
			t.Errorf("sample %d: hint %v want %v", i, h.CounterResetHint, r)
		}
		if hs[i].CounterResetHint == histogram.GaugeType && h.CounterResetHint != histogram.GaugeType {
			t.Errorf("sample %d: gauge came back as %v", i, h.CounterResetHint)
		}
		_, fh := it.AtFloatHistogram(nil)
		if !fh.Copy().Compact(0).Equals(hs[i].ToFloat(nil).Compact(0)) {
			t.Fatalf("sample %d as float:\n got %v\nwant %v", i, fh, hs[i])
		}
		i++
	}
	if it.Err() != nil || i != len(hs) {
		t.Fatalf("read %d of %d: %v", i, len(hs), it.Err())
	}
}

func checkFloatHistograms(t *testing.T, b []byte, ts []int64, fhs []*histogram.FloatHistogram, resets []int) {
	t.Helper()
	it, err := NewIterator(b)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
		if vt != chunkenc.ValFloatHistogram {
			t.Fatalf("sample %d: type %v", i, vt)
		}
		gt, fh := it.AtFloatHistogram(nil)
		if gt != ts[i] {
			t.Fatalf("sample %d: t %d want %d", i, gt, ts[i])
		}
		if !fh.Copy().Compact(0).Equals(fhs[i].Copy().Compact(0)) {
			t.Fatalf("sample %d:\n got %v\nwant %v", i, fh, fhs[i])
		}
		if r := wantHint(i, resets, fh.CounterResetHint); fh.CounterResetHint != r {
			t.Errorf("sample %d: hint %v want %v", i, fh.CounterResetHint, r)
		}
		i++
	}
	if it.Err() != nil || i != len(fhs) {
		t.Fatalf("read %d of %d: %v", i, len(fhs), it.Err())
	}
}

func TestHistogramInvalid(t *testing.T) {
	h := newHistGen(1, 0).next()
	bad := h.Copy()
	bad.Count++ // Count no longer matches the buckets.
	dst := []byte("keep")
	out, err := AppendHistograms(dst, []int64{1, 2}, []*histogram.Histogram{h, bad})
	if !errors.Is(err, ErrInvalidHistogram) || string(out) != "keep" {
		t.Fatalf("err %v, out %q", err, out)
	}
	fbad := h.ToFloat(nil)
	fbad.PositiveBuckets[0] = -1
	out, err = AppendFloatHistograms(dst, []int64{1}, []*histogram.FloatHistogram{fbad})
	if !errors.Is(err, ErrInvalidHistogram) || string(out) != "keep" {
		t.Fatalf("float: err %v, out %q", err, out)
	}
	unknown := h.Copy()
	unknown.Schema = 9
	if _, err := AppendHistograms(nil, []int64{1}, []*histogram.Histogram{unknown}); !errors.Is(err, ErrInvalidHistogram) {
		t.Fatalf("schema 9: err %v", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("nil histogram: no panic")
			}
		}()
		_, _ = AppendHistograms(nil, []int64{1}, []*histogram.Histogram{nil})
	}()
}

// histogramChunk returns a small valid histogram chunk.
func histogramChunk(t testing.TB) []byte {
	g := newHistGen(2, 1)
	hs := []*histogram.Histogram{g.next(), g.next(), g.next()}
	b, err := AppendHistograms(nil, []int64{10, 20, 30}, hs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHistogramHugeLayout hands the iterator a part whose layout claims a
// million buckets in a few bytes: chunkenc would allocate them all, so
// Reset must refuse it.
func TestHistogramHugeLayout(t *testing.T) {
	for _, float := range []bool{false, true} {
		var w bitWriter
		w.write(0, 8)         // Zero threshold 0.
		w.write(0, 1)         // Schema 0.
		w.write(0b10_001, 5)  // One positive span,
		w.write(0b1111110, 7) // whose length takes 25 bits:
		w.write(1<<20, 25)    // 2^20 buckets,
		w.write(0, 1)         // offset 0.
		w.write(0, 1)         // No negative spans.
		w.write(0, 64)        // Some sample data.
		stream := w.flush()
		part := append([]byte{0, 1, 0}, stream...)
		enc := EncHistogram
		if float {
			enc = EncFloatHistogram
		}
		b := appendHeader(nil, enc, []int64{1000})
		b = appendUvarint(b, 1)
		b = appendUvarint(b, uint64(len(part)))
		b = append(b, part...)
		var it Iterator
		if err := it.Reset(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("float=%v: Reset: %v", float, err)
		}
		// The same layout with a sane length passes the check.
		var w2 bitWriter
		w2.write(0, 8)
		w2.write(0, 1)
		w2.write(0b10_001, 5)
		w2.write(0b10_010, 5) // Length 2.
		w2.write(0, 1)
		w2.write(0, 1)
		if err := checkLayout(append(w2.flush(), make([]byte, 200)...), float); err != nil {
			t.Errorf("float=%v: sane layout rejected: %v", float, err)
		}
	}
}

// TestHistogramRandomLayouts round-trips gauge histograms whose bucket
// layouts change arbitrarily from sample to sample, and counter histograms
// whose empty buckets come and go.
func TestHistogramRandomLayouts(t *testing.T) {
	r := rand.New(rand.NewPCG(77, 1))
	randSpans := func() ([]histogram.Span, int) {
		var spans []histogram.Span
		n := 0
		for i := range 1 + r.IntN(3) {
			off := int32(r.IntN(5))
			if i == 0 {
				off = int32(r.IntN(21) - 10)
			}
			l := uint32(1 + r.IntN(4))
			spans = append(spans, histogram.Span{Offset: off, Length: l})
			n += int(l)
		}
		return spans, n
	}
	for round := range 20 {
		n := 1 + r.IntN(200)
		ts := irregularTS(r, n)
		hs := make([]*histogram.Histogram, n)
		for i := range hs {
			h := &histogram.Histogram{Schema: int32(r.IntN(3)), ZeroThreshold: 0.001, CounterResetHint: histogram.GaugeType}
			if round%2 == 1 {
				h.CounterResetHint = histogram.UnknownCounterReset // Counters; resets wherever counts drop.
			}
			var np, nn int
			h.PositiveSpans, np = randSpans()
			h.NegativeSpans, nn = randSpans()
			var total, prev int64
			for range np {
				v := r.Int64N(5)
				h.PositiveBuckets = append(h.PositiveBuckets, v-prev)
				prev, total = v, total+v
			}
			prev = 0
			for range nn {
				v := r.Int64N(5)
				h.NegativeBuckets = append(h.NegativeBuckets, v-prev)
				prev, total = v, total+v
			}
			h.ZeroCount = uint64(r.IntN(3))
			h.Count = uint64(total) + h.ZeroCount
			h.Sum = r.NormFloat64()
			if r.IntN(30) == 0 {
				h = &histogram.Histogram{Sum: staleNaN}
			}
			hs[i] = h
		}
		b, err := AppendHistograms(nil, ts, hs)
		if err != nil {
			t.Fatal(err)
		}
		checkHistograms(t, b, ts, hs, nil)
		fhs := make([]*histogram.FloatHistogram, n)
		for i, h := range hs {
			fhs[i] = h.ToFloat(nil)
		}
		fb, err := AppendFloatHistograms(nil, ts, fhs)
		if err != nil {
			t.Fatal(err)
		}
		checkFloatHistograms(t, fb, ts, fhs, nil)
	}
}

func TestHistogramMaxSamples(t *testing.T) {
	n := MaxSamples
	g := newHistGen(13, 2)
	hs := make([]*histogram.Histogram, n)
	for i := range hs {
		if i%1000 == 0 {
			hs[i] = g.next()
		} else {
			hs[i] = hs[i-1] // Few distinct values keep the test fast.
		}
	}
	ts := regularTS(n, 1000)
	b, err := AppendHistograms(nil, ts, hs)
	if err != nil {
		t.Fatal(err)
	}
	it, err := NewIterator(b)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	var h histogram.Histogram
	for it.Next() == chunkenc.ValHistogram {
		if _, got := it.AtHistogram(&h); i%997 == 0 && !got.Copy().Compact(0).Equals(hs[i].Copy().Compact(0)) {
			t.Fatalf("sample %d differs", i)
		}
		i++
	}
	if i != n || it.Err() != nil {
		t.Fatalf("read %d of %d: %v", i, n, it.Err())
	}
}
