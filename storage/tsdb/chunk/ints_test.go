package chunk

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestIntBlockRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	gen := func(n int, f func(i int) int64) []int64 {
		v := make([]int64, n)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	inputs := map[string][]int64{
		"one":          {42},
		"constant":     gen(100, func(int) int64 { return -7 }),
		"small":        gen(100, func(int) int64 { return r.Int64N(16) }),
		"jitter":       gen(100, func(int) int64 { return 15000 + r.Int64N(21) - 10 }),
		"outliers":     gen(100, func(i int) int64 { return 100 + r.Int64N(9) - int64(i%37/36)*1e9 + int64(i%41/40)*1e12 }),
		"pages":        gen(100, func(int) int64 { return 4096 * r.Int64N(1e6) }),
		"thousands":    gen(100, func(int) int64 { return 1000 * (15 + r.Int64N(3) - 1) }),
		"wide":         gen(100, func(int) int64 { return int64(r.Uint64()) }),
		"extremes":     {math.MinInt64, math.MaxInt64, 0, -1, 1, math.MinInt64 + 1, math.MaxInt64 - 1},
		"half range":   gen(50, func(i int) int64 { return int64(i%2) * (1 << 62) }),
		"scaled wide":  gen(50, func(i int) int64 { return int64(i%3) * (1 << 61) }),
		"negative":     gen(100, func(int) int64 { return -r.Int64N(1 << 40) }),
		"one outlier":  append(gen(99, func(int) int64 { return 3 }), math.MinInt64),
		"powers":       gen(64, func(i int) int64 { return 1 << uint(i) }),
		"varint-ish":   gen(100, func(i int) int64 { return r.Int64N(100) << uint(r.IntN(40)) }),
		"big constant": gen(10, func(int) int64 { return math.MaxInt64 }),
	}
	var s scratch
	slots := make([]uint64, 200)
	for name, vals := range inputs {
		plans := []intPlan{s.planInts(vals)}
		// Every kind and a range of widths, forced.
		for _, kind := range []uint8{intForUnsigned, intForZigzag, intVarint} {
			for _, w := range []uint8{0, 1, 7, 33, 64} {
				mn := slices.Min(vals)
				base := mn
				if kind != intForUnsigned {
					base = vals[len(vals)/2]
				}
				plans = append(plans, intPlan{kind: kind, w: w, base: base}.withFactor(1))
				if mx := slices.Max(vals); uint64(mx)-uint64(mn) < 1<<62 {
					if g := gcdOffsets(vals, mn); g > 1 {
						plans = append(plans, intPlan{kind: kind, w: w, base: base}.withFactor(g))
					}
				}
			}
		}
		for _, p := range plans {
			b := appendInts([]byte{0xaa}, vals, p)
			if b[0] != 0xaa {
				t.Fatal("clobbered dst")
			}
			r := byteReader{b: b, off: 1}
			out := make([]int64, len(vals))
			if err := decodeInts(&r, out, slots); err != nil {
				t.Fatalf("%s %+v: %v", name, p, err)
			}
			if !r.done() {
				t.Fatalf("%s %+v: %d bytes left", name, p, len(b)-r.off)
			}
			if !slices.Equal(out, vals) {
				t.Fatalf("%s %+v:\n got %v\nwant %v", name, p, out, vals)
			}
		}
		// The plan's estimate is close to the real size.
		p := plans[0]
		if got := 8 * (len(appendInts(nil, vals, p))); got < p.bits-8 || got > p.bits+8*len(vals)/8+16 {
			t.Errorf("%s: planned %d bits, wrote %d", name, p.bits, got)
		}
	}
}

func TestIntBlockChoices(t *testing.T) {
	var s scratch
	jitter := make([]int64, 120)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range jitter {
		jitter[i] = 15000 + r.Int64N(11) - 5
	}
	if p := s.planInts(jitter); p.kind != intForZigzag && p.kind != intForUnsigned || p.w > 4 {
		t.Errorf("jitter: %+v", p)
	}
	withReset := slices.Clone(jitter)
	withReset[60] = -123456789
	if p := s.planInts(withReset); p.kind != intForZigzag || p.w > 5 {
		t.Errorf("reset: %+v", p)
	}
	pages := make([]int64, 100)
	for i := range pages {
		pages[i] = 4096 * (1000 + int64(i%7))
	}
	if p := s.planInts(pages); p.g != 4096 || p.w != 3 {
		t.Errorf("pages: %+v", p)
	}
}

func TestPackUnpack(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	for w := uint(0); w <= 64; w++ {
		for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 65, 200} {
			vals := make([]uint64, n)
			mask := ^uint64(0) >> (64 - w)
			for i := range vals {
				vals[i] = r.Uint64() & mask
			}
			p := packer{}
			for _, v := range vals {
				p.put(v, w)
			}
			b := p.flush()
			if len(b) != packedLen(n, w) {
				t.Fatalf("w=%d n=%d: %d bytes, want %d", w, n, len(b), packedLen(n, w))
			}
			out := make([]uint64, n)
			unpack(out, b, w)
			if !slices.Equal(out, vals) {
				t.Fatalf("w=%d n=%d: mismatch", w, n)
			}
		}
	}
}

func TestBitStream(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 5))
	type item struct {
		v uint64
		k uint
	}
	var items []item
	w := bitWriter{}
	for range 5000 {
		k := uint(1 + r.IntN(64))
		v := r.Uint64() >> (64 - k)
		items = append(items, item{v, k})
		w.write(v, k)
	}
	b := w.flush()
	rd := newBitReader(b)
	for i, it := range items {
		v, ok := rd.read(it.k)
		if !ok || v != it.v {
			t.Fatalf("item %d: got %x/%v want %x (%d bits)", i, v, ok, it.v, it.k)
		}
	}
	if !rd.atEnd() {
		t.Fatal("not at end")
	}
	if _, ok := rd.read(8); ok {
		t.Fatal("read past end")
	}
}

func TestMedian(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	for _, n := range []int{1, 2, 3, 10, 11, 12, 13, 100, 1001} {
		for _, spread := range []int64{1, 3, 1000, math.MaxInt64} {
			a := make([]int64, n)
			for i := range a {
				a[i] = r.Int64N(spread)
			}
			sorted := slices.Clone(a)
			slices.Sort(sorted)
			want := sorted[(n-1)/2]
			if got := median(slices.Clone(a)); got != want {
				t.Fatalf("n=%d: median %d want %d", n, got, want)
			}
			var s scratch
			if n <= 2*centerSample || spread < int64(4*n) {
				if got := s.center(a, sorted[0], sorted[n-1]); got != want {
					t.Fatalf("n=%d spread %d: center %d want %d", n, spread, got, want)
				}
			}
		}
	}
}

func TestExactDivision(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for range 10000 {
		g := 1 + r.Uint64N(1<<20)
		if r.IntN(2) == 0 {
			g <<= uint(r.IntN(20))
		}
		p := intPlan{kind: intForUnsigned}.withFactor(g)
		q := r.Uint64N(1<<62/g + 1)
		if got := p.offset(int64(q * g)); got != q {
			t.Fatalf("%d/%d = %d, want %d", q*g, g, got, q)
		}
		p.kind = intForZigzag
		sq := int64(q) * int64(1-2*r.IntN(2))
		if got := p.offset(sq * int64(g)); got != zigzag(sq) {
			t.Fatalf("%d/%d: zigzag %d, want %d", sq*int64(g), g, got, zigzag(sq))
		}
	}
}
