package chunk

import (
	"encoding/binary"
	"math"
)

// Integer value blocks, shared by EncFloatInt (k = 0) and EncFloatDecimal.
//
// The integers m are differenced d times (d = 0: levels, for gauges that
// hover; d = 1: deltas, for counters and random walks; d = 2: delta of
// delta, for counters whose rate drifts smoothly) and the remaining values go
// into an int block. All three orders are planned and the smallest wins.
// Counter resets and other jumps become int block exceptions rather than
// widening every slot.

// maxOrder is the highest differencing order.
const maxOrder = 2

// appendIntValues appends the integer value block of e.m (len n) with the
// raw values vs[p] at the patched positions e.patch.
func (e *Encoder) appendIntValues(dst []byte, vs []float64) []byte {
	m := e.m[:len(vs)]
	dst = appendUvarint(dst, uint64(len(e.patch)))
	last := -1
	for _, p := range e.patch {
		dst = appendUvarint(dst, uint64(int(p)-last-1))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(vs[p]))
		last = int(p)
	}
	return e.appendDifferenced(dst, m)
}

// appendDifferenced appends m differenced d times (the order, its d
// seeds, the int block of the rest), d the order of the smallest block.
func (e *Encoder) appendDifferenced(dst []byte, m []int64) []byte {
	n := len(m)
	// diffs[d] is m differenced d times; the first d elements are seeds.
	var diffs [maxOrder + 1][]int64
	diffs[0] = m
	diffs[1] = grow(&e.i0, n)
	diffs[2] = grow(&e.i1, n)
	for d := 1; d <= maxOrder; d++ {
		copy(diffs[d], diffs[d-1])
		a := diffs[d]
		for i := n - 1; i >= d; i-- {
			a[i] -= a[i-1]
		}
	}
	bestOrder, bestBits := -1, 0
	var bestPlan intPlan
	for d := 0; d <= maxOrder && d <= n; d++ {
		p := e.s.planInts(diffs[d][d:])
		cost := p.bits
		for _, s := range diffs[d][:d] {
			cost += 8 * uvarintLen(zigzag(s))
		}
		if bestOrder < 0 || cost < bestBits {
			bestOrder, bestBits, bestPlan = d, cost, p
		}
	}
	dst = append(dst, byte(bestOrder))
	a := diffs[bestOrder]
	for _, s := range a[:bestOrder] {
		dst = appendVarint(dst, s)
	}
	return appendInts(dst, a[bestOrder:], bestPlan)
}

// decodeDifferenced fills m from the block appendDifferenced wrote at r.
func (d *Decoder) decodeDifferenced(r *byteReader, m []int64) error {
	n := len(m)
	order := int(r.byte())
	if r.bad || order > maxOrder || order > n {
		return corruptf("bad integer block order")
	}
	for i := range order {
		m[i] = r.varint()
	}
	if r.bad {
		return corruptf("truncated integer seeds")
	}
	if err := decodeInts(r, m[order:], grow(&d.slots, n)); err != nil {
		return err
	}
	for lvl := order; lvl >= 1; lvl-- {
		for i := lvl; i < n; i++ {
			m[i] += m[i-1]
		}
	}
	return nil
}

// decodeIntValues fills out from the integer value block at r, scaling by
// 10^−k.
func (d *Decoder) decodeIntValues(r *byteReader, out []float64, k int) error {
	n := len(out)
	np := r.uvarint()
	if r.bad || np > uint64(n) {
		return corruptf("bad patch count")
	}
	// Skip the patches now and apply them once the integers are decoded.
	patchStart := r.off
	for range np {
		r.uvarint()
		r.bytes(8)
	}
	m := grow(&d.ints, n)
	if err := d.decodeDifferenced(r, m); err != nil {
		return err
	}
	for i, mi := range m {
		if mi > maxExactInt || mi < -maxExactInt {
			return corruptf("integer %d out of range at sample %d", mi, i)
		}
		out[i] = float64(mi)
	}
	if k > 0 {
		scale := pow10[k]
		for i := range out {
			out[i] /= scale
		}
	}
	pr := byteReader{b: r.b, off: patchStart}
	pos := -1
	for range np {
		gap := pr.uvarint()
		bits := pr.uint64le()
		if pr.bad || gap >= uint64(n-pos-1) {
			return corruptf("bad patch position")
		}
		pos += int(gap) + 1
		out[pos] = math.Float64frombits(bits)
	}
	return nil
}
