package tsdb

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// xorWriter appends float samples in Prometheus' XOR chunk format
// (Gorilla: delta-of-delta times, XOR values) so that chunkenc reads what
// it wrote (chunk). It is the head's own appender: its state lives in the
// head's series, and the newest bits wait in a 64-bit accumulator there,
// so that an append touches the stream's memory once every few samples
// (the head appends to thousands of series in turn: each touch is a cache
// miss), where chunkenc's appender, made for a chunk it also reads, costs
// several dependent loads a sample.
//
// b is the chunk as far as it is written: a 2-byte big-endian sample count
// (set by chunk), then the bit stream, whole 64-bit words of it after the
// first sample; acc holds the next nacc bits.
type xorWriter struct {
	b        []byte
	acc      uint64
	nacc     uint8
	n        uint16
	t        int64
	v        float64
	tDelta   uint64
	leading  uint8
	trailing uint8
}

// maxXORSamples is what the 2-byte count holds.
const maxXORSamples = math.MaxUint16

// append adds a sample with t after every sample before (the caller
// checks, and that n < maxXORSamples).
func (w *xorWriter) append(t int64, v float64) {
	switch w.n {
	case 0:
		if w.b == nil {
			w.b = make([]byte, 2, 128)
		}
		w.b = binary.AppendVarint(w.b, t)
		w.bits(math.Float64bits(v), 64)
		w.leading = 0xff
	case 1:
		w.tDelta = uint64(t - w.t)
		w.bytesAligned(binary.AppendUvarint(nil, w.tDelta))
		w.xorValue(v)
	default:
		tDelta := uint64(t - w.t)
		dod := int64(tDelta - w.tDelta)
		switch {
		case dod == 0:
			w.bits(0, 1)
		case bitRange(dod, 14):
			w.bits(0b10<<14|uint64(dod)&(1<<14-1), 16)
		case bitRange(dod, 17):
			w.bits(0b110<<17|uint64(dod)&(1<<17-1), 20)
		case bitRange(dod, 20):
			w.bits(0b1110<<20|uint64(dod)&(1<<20-1), 24)
		default:
			w.bits(0b1111, 4)
			w.bits(uint64(dod), 64)
		}
		w.tDelta = tDelta
		w.xorValue(v)
	}
	w.t, w.v = t, v
	w.n++
}

// chunk appends the chunk's bytes (count, stream, pending bits) to dst.
func (w *xorWriter) chunk(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, w.b...)
	if len(dst)-start >= 2 {
		binary.BigEndian.PutUint16(dst[start:], w.n)
	}
	rest := w.acc << (64 - w.nacc) // left-aligned
	for k := uint8(0); k < w.nacc; k += 8 {
		dst = append(dst, byte(rest>>56))
		rest <<= 8
	}
	return dst
}

func bitRange(x int64, nbits uint8) bool {
	return -((1<<(nbits-1))-1) <= x && x <= 1<<(nbits-1)
}

// xorValue writes v XOR the previous value, with the previous value's
// leading and trailing zeros when they still fit, as chunkenc does.
func (w *xorWriter) xorValue(v float64) {
	delta := math.Float64bits(v) ^ math.Float64bits(w.v)
	if delta == 0 {
		w.bits(0, 1)
		return
	}
	leading := uint8(bits.LeadingZeros64(delta))
	trailing := uint8(bits.TrailingZeros64(delta))
	if leading >= 32 {
		leading = 31
	}
	if w.leading != 0xff && leading >= w.leading && trailing >= w.trailing {
		w.bits(0b10, 2)
		w.bits(delta>>w.trailing, int(64-w.leading-w.trailing))
		return
	}
	w.leading, w.trailing = leading, trailing
	sig := 64 - leading - trailing
	// 1, 1, 5 bits of leading zeros, 6 bits of significant bits (64 as 0).
	w.bits(0b11<<11|uint64(leading)<<6|uint64(sig&63), 13)
	w.bits(delta>>trailing, int(sig))
}

// bits appends the low n bits of u (n ≤ 64), most significant first.
func (w *xorWriter) bits(u uint64, n int) {
	if n < 64 {
		u &= 1<<uint(n) - 1
	}
	free := 64 - int(w.nacc)
	if n < free {
		w.acc = w.acc<<uint(n) | u
		w.nacc += uint8(n)
		return
	}
	// Fill the accumulator, write it out, keep the rest of u (a shift by
	// 64 gives 0).
	rest := n - free
	w.b = binary.BigEndian.AppendUint64(w.b, w.acc<<uint(free)|u>>uint(rest))
	w.acc, w.nacc = u&(1<<uint(rest)-1), uint8(rest)
}

// bytesAligned appends whole bytes at the current bit position.
func (w *xorWriter) bytesAligned(bs []byte) {
	for _, c := range bs {
		w.bits(uint64(c), 8)
	}
}
