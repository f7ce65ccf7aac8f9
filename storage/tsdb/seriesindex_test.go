package tsdb

import (
	"math/rand/v2"
	"testing"
)

// TestSeriesIndex: the index answers as a map does, through growth, for
// random and for crafted hashes (sharing their low bits, or 0).
func TestSeriesIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for name, gen := range map[string]func(i int) uint64{
		"random":       func(int) uint64 { return rng.Uint64() },
		"low bits 0":   func(i int) uint64 { return uint64(i) << 40 },
		"sequential":   func(i int) uint64 { return uint64(i) },
		"zero and one": func(i int) uint64 { return uint64(i % 2) },
	} {
		var x seriesIndex
		want := map[uint64]int32{}
		for i := range 20_000 {
			h := gen(i)
			if _, ok := want[nonZero(h)]; ok {
				continue
			}
			if x.get(h) >= 0 {
				t.Fatalf("%s: %x found before it was put", name, h)
			}
			x.put(h, int32(i))
			want[nonZero(h)] = int32(i)
		}
		for h, i := range want {
			if got := x.get(h); got != i {
				t.Fatalf("%s: %x at %d, want %d", name, h, got, i)
			}
		}
		if x.get(0xdeadbeefdeadbeef) >= 0 && want[0xdeadbeefdeadbeef] == 0 {
			t.Fatalf("%s: an absent hash found", name)
		}
	}
}
