package chunk

import "math"

// EncFloatBits: floats that are neither integers nor short decimals, such
// as sums of float seconds (every counter of durations) or measured values
// at full precision. Their bit patterns, read as sign-magnitude integers
// and made two's complement, are ordered as the floats are, and are nearly
// linear within one binary exponent: a counter's increments become small
// integer differences (order 1), a gauge hovering within one exponent a
// narrow range of levels (order 0). The differenced integers go into an
// int block like EncFloatInt's. XOR coding, in comparison, pays Gorilla's
// control bits on every sample and, for a rising counter, the carries that
// spread the change over more bits than the increment needs.

// orderedBits maps a float's bits to an int64 ordered as the floats are:
// non-negative floats (sign bit clear) to their bits, negative ones to
// −magnitude − 1, so that −0 and +0 stay distinct and the map is a
// bijection of uint64 onto int64.
func orderedBits(v float64) int64 {
	b := math.Float64bits(v)
	if b>>63 == 0 {
		return int64(b)
	}
	return -int64(b&^(1<<63)) - 1
}

// floatOfOrdered inverts orderedBits.
func floatOfOrdered(m int64) float64 {
	if m >= 0 {
		return math.Float64frombits(uint64(m))
	}
	return math.Float64frombits(uint64(-(m + 1)) | 1<<63)
}

// appendBitsValues appends the EncFloatBits value block of vs.
func (e *Encoder) appendBitsValues(dst []byte, vs []float64) []byte {
	m := grow(&e.m, len(vs))
	for i, v := range vs {
		m[i] = orderedBits(v)
	}
	return e.appendDifferenced(dst, m)
}

// decodeBitsValues fills out from the EncFloatBits value block at r.
func (d *Decoder) decodeBitsValues(r *byteReader, out []float64) error {
	m := grow(&d.ints, len(out))
	if err := d.decodeDifferenced(r, m); err != nil {
		return err
	}
	for i, mi := range m {
		out[i] = floatOfOrdered(mi)
	}
	return nil
}
