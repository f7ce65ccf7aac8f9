package chunk

import (
	"math"
	"slices"
	"testing"
)

// TestOrderedBits: the map of floats to integers is a bijection that keeps
// the floats' order (−0 just below +0), special values included.
func TestOrderedBits(t *testing.T) {
	vs := []float64{
		math.Inf(-1), -math.MaxFloat64, -1e300, -2.5, -1, -math.SmallestNonzeroFloat64,
		math.Copysign(0, -1), 0, math.SmallestNonzeroFloat64, 1e-300, 1, 1 + 1e-16, 2.5, math.MaxFloat64, math.Inf(1),
	}
	var ms []int64
	for _, v := range vs {
		m := orderedBits(v)
		if back := floatOfOrdered(m); math.Float64bits(back) != math.Float64bits(v) {
			t.Errorf("%v → %d → %v", v, m, back)
		}
		ms = append(ms, m)
	}
	if !slices.IsSorted(ms) {
		t.Errorf("order lost: %v", ms)
	}
	for _, b := range []uint64{0, 1 << 63, math.MaxUint64, 0x7ff8dead_beef0001, 0xfff0000000000001} {
		if got := math.Float64bits(floatOfOrdered(orderedBits(math.Float64frombits(b)))); got != b {
			t.Errorf("bits %#x came back as %#x", b, got)
		}
	}
}
