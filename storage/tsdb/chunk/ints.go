package chunk

import (
	"math/bits"
)

// Int block kinds; see the package documentation. intScaled is a flag:
// a uvarint factor g ≥ 2 follows the base and values are base + g·x.
const (
	intForUnsigned = 0x00
	intForZigzag   = 0x01
	intVarint      = 0x02
	intScaled      = 0x10
)

// intPlan is how one int block will be written.
type intPlan struct {
	kind uint8 // Without intScaled; g says.
	w    uint8 // Slot width for the FOR kinds.
	base int64
	g    uint64 // Common factor of all v − base, ≥ 1.
	bits int    // Estimated encoded size in bits (exact but for exception gaps).

	// Exact division by g, for offsets that are multiples of g: shift out
	// g's trailing zeros, multiply by the inverse of its odd part mod 2^64.
	tz  uint8
	inv uint64
}

// withFactor returns p dividing by g.
func (p intPlan) withFactor(g uint64) intPlan {
	p.g = g
	p.tz = uint8(bits.TrailingZeros64(g))
	odd := g >> p.tz
	inv := odd // Newton's iteration doubles the correct low bits: 3, 6, ..., 96.
	for range 5 {
		inv *= 2 - odd*inv
	}
	p.inv = inv
	return p
}

// offset returns (v − base)/g as the FOR kinds store it: unsigned for
// intForUnsigned, zig-zag otherwise.
func (p *intPlan) offset(v int64) uint64 {
	d := uint64(v) - uint64(p.base)
	switch {
	case p.g == 1 && p.kind == intForUnsigned:
		return d
	case p.g == 1:
		return zigzag(int64(d))
	case p.kind == intForUnsigned:
		return (d >> p.tz) * p.inv
	}
	return zigzag(int64(uint64(int64(d)>>p.tz) * p.inv))
}

// gcdOffsets returns the greatest common divisor of all v − mn (v ≥ mn,
// span = max − mn < 2^62), or 1 early.
func gcdOffsets(vals []int64, mn int64) uint64 {
	g := uint64(0)
	for _, v := range vals {
		d := uint64(v) - uint64(mn)
		for d != 0 {
			g, d = d, g%d
		}
		if g == 1 {
			return 1
		}
	}
	return max(g, 1)
}

// planInts picks the smallest int block coding for vals. All arithmetic is
// modulo 2^64, so any int64 values (even wrapped differences) round-trip.
func (s *scratch) planInts(vals []int64) intPlan {
	if len(vals) == 0 {
		return intPlan{}
	}
	mn, mx := vals[0], vals[0]
	for _, v := range vals[1:] {
		mn = min(mn, v)
		mx = max(mx, v)
	}
	if mn == mx {
		p := intPlan{kind: intForUnsigned, base: mn}.withFactor(1)
		p.bits = 8 * (3 + uvarintLen(zigzag(mn)))
		return p
	}
	g := uint64(1)
	if uint64(mx)-uint64(mn) < 1<<62 {
		g = gcdOffsets(vals, mn)
	}
	// Unsigned FOR against the minimum: best when there are no low outliers.
	var hist [65]int32
	p := intPlan{kind: intForUnsigned, base: mn}.withFactor(g)
	for _, v := range vals {
		hist[bits.Len64(p.offset(v))]++
	}
	best := forPlan(&hist, len(vals), p)

	// Zig-zag FOR and varint around the median: robust to outliers on both
	// sides (counter resets, gaps in timestamps). Skip when unsigned FOR
	// needs at most 2 bits a value.
	if best.w > 2 || best.bits > 2*len(vals)+64 {
		p := intPlan{kind: intForZigzag, base: s.center(vals, mn, mx)}.withFactor(g)
		hist = [65]int32{}
		for _, v := range vals {
			hist[bits.Len64(p.offset(v))]++
		}
		if fp := forPlan(&hist, len(vals), p); fp.bits < best.bits {
			best = fp
		}
		p.kind = intVarint
		p.bits = 8 * (1 + uvarintLen(zigzag(p.base)))
		if g > 1 {
			p.bits += 8 * uvarintLen(g)
		}
		for l, c := range hist {
			p.bits += 8 * int(c) * uvarintLenBits(l)
		}
		if p.bits < best.bits {
			best = p
		}
	}
	return best
}

// scratch is the memory planInts and center work in.
type scratch struct {
	sel    []int64
	counts []int32
}

// centerSample is how many evenly spaced values center takes the median of
// when the values span a wide range; the base of a zig-zag FOR only needs
// to be central, and exceptions are counted exactly anyway.
const centerSample = 31

// center returns a central value of vals (min mn, max mx): the exact lower
// median when the range is small (counting, O(n + range)) or vals are few,
// else the median of an evenly spaced sample.
func (s *scratch) center(vals []int64, mn, mx int64) int64 {
	n := len(vals)
	if span := uint64(mx) - uint64(mn); span < uint64(4*n) {
		counts := grow(&s.counts, int(span)+1)
		clear(counts)
		for _, v := range vals {
			counts[uint64(v)-uint64(mn)]++
		}
		k, acc := int32((n-1)/2), int32(0)
		for i, c := range counts {
			if acc += c; acc > k {
				return int64(uint64(mn) + uint64(i))
			}
		}
	}
	if n <= 2*centerSample {
		sel := grow(&s.sel, n)
		copy(sel, vals)
		return median(sel)
	}
	sel := grow(&s.sel, centerSample)
	for i := range sel {
		sel[i] = vals[i*(n-1)/(centerSample-1)]
	}
	return median(sel)
}

// forPlan completes p with the slot width minimising slots plus
// exceptions, given the histogram of slot bit lengths of c values.
func forPlan(hist *[65]int32, c int, p intPlan) intPlan {
	header := 8 * (3 + uvarintLen(zigzag(p.base))) // kind, base, w, exception count (one byte, usually)
	if p.g > 1 {
		header += 8 * uvarintLen(p.g)
	}
	maxL := 64
	for maxL > 0 && hist[maxL] == 0 {
		maxL--
	}
	bestW, bestCost := maxL, c*maxL
	exc := 0  // Cost of the exceptions for widths below w.
	nexc := 0 // Number of values longer than w.
	for w := maxL; w >= 0; w-- {
		if cost := c*w + exc + 8*(uvarintLen(uint64(nexc))-1); cost <= bestCost {
			bestW, bestCost = w, cost
		}
		if h := int(hist[w]); h > 0 {
			// Values of length w become exceptions for smaller widths: a
			// gap byte (usually) plus the zig-zag offset, one bit longer for
			// unsigned slots.
			l := w
			if p.kind == intForUnsigned {
				l++
			}
			exc += h * 8 * (1 + uvarintLenBits(min(l, 64)))
			nexc += h
		}
	}
	p.w, p.bits = uint8(bestW), header+bestCost
	return p
}

// appendInts appends the int block of vals as planned.
func appendInts(dst []byte, vals []int64, p intPlan) []byte {
	if len(vals) == 0 {
		return dst
	}
	if p.g > 1 {
		dst = append(dst, p.kind|intScaled)
		dst = appendVarint(dst, p.base)
		dst = appendUvarint(dst, p.g)
	} else {
		dst = append(dst, p.kind)
		dst = appendVarint(dst, p.base)
	}
	if p.kind == intVarint {
		for _, v := range vals {
			dst = appendUvarint(dst, p.offset(v))
		}
		return dst
	}
	w := uint(p.w)
	dst = append(dst, p.w)
	limit := ^uint64(0) >> (64 - w) // Largest slot value; 0 when w == 0 (Go: x>>64 == 0).
	nexc := 0
	for _, v := range vals {
		if p.offset(v) > limit {
			nexc++
		}
	}
	dst = appendUvarint(dst, uint64(nexc))
	pk := packer{dst: dst}
	for _, v := range vals {
		s := p.offset(v)
		if s > limit {
			s = 0
		}
		pk.put(s, w)
	}
	dst = pk.flush()
	if nexc == 0 {
		return dst
	}
	// Exceptions carry the zig-zag offset whatever the slot kind.
	zp := p
	zp.kind = intForZigzag
	last := -1
	for i, v := range vals {
		if p.offset(v) > limit {
			dst = appendUvarint(dst, uint64(i-last-1))
			dst = appendUvarint(dst, zp.offset(v))
			last = i
		}
	}
	return dst
}

// decodeInts reads an int block of len(out) values. scratch must have at
// least len(out) elements.
func decodeInts(r *byteReader, out []int64, scratch []uint64) error {
	c := len(out)
	if c == 0 {
		return nil
	}
	kind := r.byte()
	ubase := uint64(r.varint())
	g := uint64(1)
	if kind&intScaled != 0 {
		kind &^= intScaled
		if g = r.uvarint(); g < 2 {
			return corruptf("int block factor %d", g)
		}
	}
	if r.bad {
		return corruptf("truncated int block")
	}
	switch kind {
	case intVarint:
		for i := range out {
			out[i] = int64(ubase + g*uint64(unzigzag(r.uvarint())))
		}
		if r.bad {
			return corruptf("truncated varint int block")
		}
		return nil
	case intForUnsigned, intForZigzag:
	default:
		return corruptf("unknown int block kind 0x%02x", kind)
	}
	w := uint(r.byte())
	nexc := r.uvarint()
	if r.bad || w > 64 || nexc > uint64(c) {
		return corruptf("bad int block width %d or %d exceptions", w, nexc)
	}
	packed := r.bytes(packedLen(c, w))
	if r.bad {
		return corruptf("truncated packed ints")
	}
	slots := scratch[:c]
	unpack(slots, packed, w)
	switch {
	case kind == intForZigzag:
		for i, s := range slots {
			out[i] = int64(ubase + g*uint64(unzigzag(s)))
		}
	case g == 1:
		for i, s := range slots {
			out[i] = int64(ubase + s)
		}
	default:
		for i, s := range slots {
			out[i] = int64(ubase + g*s)
		}
	}
	pos := -1
	for range nexc {
		gap := r.uvarint()
		v := r.uvarint()
		if r.bad || gap >= uint64(c-pos-1) {
			return corruptf("bad int block exception")
		}
		pos += int(gap) + 1
		out[pos] = int64(ubase + g*uint64(unzigzag(v)))
	}
	return nil
}

// median returns the lower median of a, reordering a (quickselect).
func median(a []int64) int64 {
	k := (len(a) - 1) / 2
	lo, hi := 0, len(a)-1
	for hi > lo {
		if hi-lo < 12 {
			insertionSort(a[lo : hi+1])
			return a[k]
		}
		// Median of three as pivot.
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}

func insertionSort(a []int64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
