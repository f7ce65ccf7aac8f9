package chunk

import "math"

// Decimal detection, VictoriaMetrics-style: many float series are decimals
// in disguise (12.34 is 1234/10^2; counters of seconds with a few decimals;
// integers). If every value v is float64(m)/10^k for an integer m with
// |m| ≤ 2^53 and one k for the whole chunk, the integers m compress far
// better than the float bits. Since float64(m) is exact and division by an
// exact power of ten is correctly rounded, v is the double nearest to the
// decimal m·10^−k, which is exactly what strconv.ParseFloat makes of the
// text the value was scraped as; the encoder still verifies every value
// bit-exactly and patches the ones that do not fit.

// maxDecimalExp is the largest k; 10^k is exact in float64 up to 10^22.
const maxDecimalExp = 18

// maxExactInt is the largest integer magnitude every float64 holds exactly.
const maxExactInt = 1 << 53

var pow10 = [maxDecimalExp + 1]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// scaleTo returns m with float64(m)/10^k bit-identical to v, if one exists
// with |m| ≤ 2^53. −0 never fits: it decodes as +0.
func scaleTo(v float64, k int) (int64, bool) {
	x := v * pow10[k]
	if !(math.Abs(x) <= maxExactInt) { // Also false for NaN.
		return 0, false
	}
	m := int64(math.RoundToEven(x))
	return m, math.Float64bits(float64(m)/pow10[k]) == math.Float64bits(v)
}

// scaleValues finds the decimal exponent k for vs and fills e.m with the
// scaled integers and e.patch with the positions of values that must be
// stored raw. ok is false when more than a quarter of the values would
// need patches (the XOR coding is then smaller).
//
// k grows greedily: a value that does not fit the current k tries larger
// ones, as long as the largest magnitude seen so far stays within 2^53.
// A value that fits k' fits every larger k (its integer just gains zeros),
// so the final pass at the final k only patches the rare rounding casualty
// near 2^53.
func (e *Encoder) scaleValues(vs []float64) (k int, ok bool) {
	n := len(vs)
	limit := n / 4
	patches := 0
	maxAbs := 0.0
	for i, v := range vs {
		if _, fit := scaleTo(v, k); fit {
			maxAbs = max(maxAbs, math.Abs(v))
			continue
		}
		a := max(maxAbs, math.Abs(v))
		found := false
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			for k2 := k + 1; k2 <= maxDecimalExp && a*pow10[k2] <= maxExactInt; k2++ {
				if _, fit := scaleTo(v, k2); fit {
					k, maxAbs, found = k2, a, true
					break
				}
			}
		}
		if !found {
			patches++
			// Give up early on data that is mostly not decimal.
			if patches > limit || (patches > 2 && 2*patches > i) {
				return 0, false
			}
		}
	}
	m := grow(&e.m, n)
	e.patch = e.patch[:0]
	first := -1
	for i, v := range vs {
		mi, fit := scaleTo(v, k)
		if !fit {
			e.patch = append(e.patch, int32(i))
			continue
		}
		m[i] = mi
		if first < 0 {
			first = i
		}
	}
	if len(e.patch) > limit || first < 0 {
		return 0, false
	}
	// A patched position repeats the previous integer (the first fitting
	// one for leading patches), so differences stay small.
	prev := m[first]
	pi := 0
	for i := range m {
		if pi < len(e.patch) && int(e.patch[pi]) == i {
			m[i] = prev
			pi++
			continue
		}
		prev = m[i]
	}
	return k, true
}
