package chunk

import (
	"math"
	"math/bits"
)

// Gorilla XOR value coding (Pelkonen et al., VLDB 2015), the fallback for
// float values no other coding fits: NaN payloads, infinities, −0 and
// arbitrary floats round-trip bit-exactly.
//
// The first value is stored as 64 raw bits. Each further value v is XORed
// with its predecessor p:
//
//	'0'                             v == p
//	'10' + meaningful bits          the XOR fits the current window of
//	                                (64 − leading − trailing) bits
//	'11' + 5-bit leading + 6-bit    a new window; 64 significant bits are
//	       significant + bits       stored as 0
//
// The bit stream is written MSB-first and padded with zero bits. Unlike
// Prometheus' encoder, Starling's opens a new window when that is cheaper
// than reusing a much wider one (the decoder does not care which).

// xorState is the encoder's window.
type xorState struct {
	leading, trailing uint
	valid             bool
}

// next returns how v's XOR delta d (non-zero) is coded: reuse the window
// or open a new one (updating s), and the number of bits that costs.
func (s *xorState) next(d uint64) (reuse bool, cost uint) {
	lead := uint(bits.LeadingZeros64(d))
	if lead > 31 {
		lead = 31
	}
	trail := uint(bits.TrailingZeros64(d))
	newSig := 64 - lead - trail
	if s.valid && lead >= s.leading && trail >= s.trailing {
		curSig := 64 - s.leading - s.trailing
		if curSig <= newSig+11 {
			return true, 2 + curSig
		}
	}
	s.leading, s.trailing, s.valid = lead, trail, true
	return false, 13 + newSig
}

// xorSize returns the size in bytes of the XOR coding of vs.
func xorSize(vs []float64) int {
	var s xorState
	total := uint(64)
	prev := math.Float64bits(vs[0])
	for _, v := range vs[1:] {
		b := math.Float64bits(v)
		d := b ^ prev
		prev = b
		if d == 0 {
			total++
			continue
		}
		_, c := s.next(d)
		total += c
	}
	return int((total + 7) / 8)
}

// appendXOR appends the XOR coding of vs.
func appendXOR(dst []byte, vs []float64) []byte {
	w := bitWriter{dst: dst}
	var s xorState
	prev := math.Float64bits(vs[0])
	w.write(prev, 64)
	for _, v := range vs[1:] {
		b := math.Float64bits(v)
		d := b ^ prev
		prev = b
		if d == 0 {
			w.write(0, 1)
			continue
		}
		if reuse, _ := s.next(d); reuse {
			w.write(0b10, 2)
			w.write(d>>s.trailing, 64-s.leading-s.trailing)
			continue
		}
		sig := 64 - s.leading - s.trailing
		w.write(0b11<<11|uint64(s.leading)<<6|uint64(sig&63), 13)
		w.write(d>>s.trailing, sig)
	}
	return w.flush()
}

// decodeXOR fills out from the XOR stream src, which must be consumed
// exactly (but for zero padding).
func decodeXOR(out []float64, src []byte) error {
	r := newBitReader(src)
	v, ok := r.read(64)
	if !ok {
		return corruptf("truncated XOR stream")
	}
	out[0] = math.Float64frombits(v)
	var leading, sig uint // Current window; sig == 0 means none yet.
	for i := 1; i < len(out); i++ {
		if r.n < 13 {
			r.refill()
		}
		if r.n == 0 {
			return corruptf("truncated XOR stream at sample %d", i)
		}
		if r.peek(1) == 0 {
			r.skip(1)
			out[i] = math.Float64frombits(v)
			continue
		}
		if r.n < 2 {
			return corruptf("truncated XOR stream at sample %d", i)
		}
		if r.peek(2) == 0b11 {
			if r.n < 13 {
				return corruptf("truncated XOR stream at sample %d", i)
			}
			ctl := r.peek(13)
			r.skip(13)
			leading = uint(ctl>>6) & 31
			sig = uint(ctl) & 63
			if sig == 0 {
				sig = 64
			}
			if leading+sig > 64 {
				return corruptf("XOR window %d+%d bits at sample %d", leading, sig, i)
			}
		} else {
			r.skip(2)
			if sig == 0 {
				return corruptf("XOR window reused before defined at sample %d", i)
			}
		}
		d, ok := r.read(sig)
		if !ok {
			return corruptf("truncated XOR stream at sample %d", i)
		}
		v ^= d << (64 - leading - sig)
		out[i] = math.Float64frombits(v)
	}
	if !r.atEnd() {
		return corruptf("trailing bytes after XOR stream")
	}
	return nil
}
