package chunk

// Timestamp block kinds; see the package documentation.
const (
	tsRegular = 0x00
	tsDelta   = 0x01
	tsGrid    = 0x02
)

// appendTimestamps appends the ts block of ts (n ≥ 1, strictly increasing;
// the header already holds n, minT and maxT).
//
// Three codings compete. Regular costs nothing and covers exact scrape
// intervals. Delta stores t_i − t_{i−1} in an int block, whose zig-zag FOR
// around the median delta turns ±j ms of jitter into about log2(4j) bits and
// a missed scrape into one exception. Grid stores the offset of each sample
// from the ideal grid minT + i·step (step = median delta): jitter costs
// about log2(2j) bits, a bit less than Delta, but every sample after a gap
// is off-grid, which the exact size comparison then rejects.
func (e *Encoder) appendTimestamps(dst []byte, ts []int64) []byte {
	n := len(ts)
	if n <= 2 {
		return append(dst, tsRegular)
	}
	deltas := grow(&e.i0, n-1)
	regular := true
	for i := 1; i < n; i++ {
		deltas[i-1] = int64(uint64(ts[i]) - uint64(ts[i-1]))
		regular = regular && deltas[i-1] == deltas[0]
	}
	if regular {
		return append(dst, tsRegular)
	}
	inner := deltas[:n-2] // The last delta is implied by maxT.
	dp := e.s.planInts(inner)

	// The grid step is the median delta; the residuals' zig-zag base is
	// then about −jitter of the first sample.
	mn, mx := deltas[0], deltas[0]
	for _, d := range deltas {
		mn, mx = min(mn, d), max(mx, d)
	}
	step := e.s.center(deltas, mn, mx)
	resid := grow(&e.i1, n-2)
	base := uint64(ts[0])
	for i := 1; i < n-1; i++ {
		resid[i-1] = int64(uint64(ts[i]) - (base + uint64(i)*uint64(step)))
	}
	gp := e.s.planInts(resid)
	if gp.bits+8*uvarintLen(uint64(step)) < dp.bits {
		dst = append(dst, tsGrid)
		dst = appendUvarint(dst, uint64(step))
		return appendInts(dst, resid, gp)
	}
	dst = append(dst, tsDelta)
	return appendInts(dst, inner, dp)
}

// decodeTimestamps fills out (len n) from the ts block at r and checks that
// the result is strictly increasing and ends at maxT.
func decodeTimestamps(r *byteReader, out []int64, minT, maxT int64, scratch []uint64) error {
	n := len(out)
	out[0] = minT
	kind := r.byte()
	if r.bad {
		return corruptf("truncated timestamp block")
	}
	if n == 1 {
		if kind != tsRegular {
			return corruptf("timestamp kind 0x%02x for one sample", kind)
		}
		return nil
	}
	switch kind {
	case tsRegular:
		span := uint64(maxT) - uint64(minT)
		if span%uint64(n-1) != 0 {
			return corruptf("regular timestamps: span %d not a multiple of %d", span, n-1)
		}
		step := span / uint64(n-1) // ≥ 1: the header checked span ≥ n−1.
		t := uint64(minT)
		for i := 1; i < n; i++ {
			t += step
			out[i] = int64(t)
		}
		return nil
	case tsDelta:
		if n < 3 {
			return corruptf("delta timestamps with %d samples", n)
		}
		inner := out[1 : n-1]
		if err := decodeInts(r, inner, scratch); err != nil {
			return err
		}
		t := uint64(minT)
		for i := range inner {
			t += uint64(inner[i])
			inner[i] = int64(t)
		}
	case tsGrid:
		if n < 3 {
			return corruptf("grid timestamps with %d samples", n)
		}
		step := r.uvarint()
		if r.bad {
			return corruptf("truncated grid step")
		}
		inner := out[1 : n-1]
		if err := decodeInts(r, inner, scratch); err != nil {
			return err
		}
		g := uint64(minT)
		for i := range inner {
			g += step
			inner[i] = int64(g + uint64(inner[i]))
		}
	default:
		return corruptf("unknown timestamp kind 0x%02x", kind)
	}
	out[n-1] = maxT
	for i := 1; i < n; i++ {
		if out[i] <= out[i-1] {
			return corruptf("timestamps not increasing at sample %d", i)
		}
	}
	return nil
}

// grow returns (*s)[:n], reallocating *s when its capacity is short.
func grow[T any](s *[]T, n int) []T {
	if cap(*s) < n {
		*s = make([]T, n, n+n/4)
	}
	return (*s)[:n]
}
