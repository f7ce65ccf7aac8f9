package chunk

import "encoding/binary"

// bitWriter appends bits MSB-first (the first bit written is the highest bit
// of the first byte), as Gorilla and Prometheus' chunkenc do.
type bitWriter struct {
	dst []byte
	acc uint64 // The n pending bits, right-aligned, oldest highest.
	n   uint   // 0..63
}

// write appends the low k bits of v, highest first (1 ≤ k ≤ 64, v < 2^k).
func (w *bitWriter) write(v uint64, k uint) {
	if w.n+k < 64 {
		w.acc = w.acc<<k | v
		w.n += k
		return
	}
	free := 64 - w.n // 1..64
	rem := k - free  // 0..63
	w.dst = binary.BigEndian.AppendUint64(w.dst, w.acc<<free|v>>rem)
	w.acc = v & (1<<rem - 1)
	w.n = rem
}

// flush appends the pending bits padded with zeros to a whole byte.
func (w *bitWriter) flush() []byte {
	if w.n > 0 {
		x := w.acc << (64 - w.n)
		for i := uint(0); i < w.n; i += 8 {
			w.dst = append(w.dst, byte(x>>56))
			x <<= 8
		}
	}
	w.acc, w.n = 0, 0
	return w.dst
}

// bitReader reads bits MSB-first. buf holds the next n valid bits
// left-aligned; bits below them are either zero or copies of the stream's
// next bits, so refilling with OR is idempotent.
type bitReader struct {
	src []byte
	pos int // Next byte of src not yet fully in buf.
	buf uint64
	n   uint
}

func newBitReader(src []byte) bitReader { return bitReader{src: src} }

// refill tops buf up to at least 57 bits while input remains.
func (r *bitReader) refill() {
	if r.pos+8 <= len(r.src) {
		r.buf |= binary.BigEndian.Uint64(r.src[r.pos:]) >> r.n
		adv := (64 - r.n) >> 3
		r.pos += int(adv)
		r.n += adv << 3
		return
	}
	for r.n <= 56 && r.pos < len(r.src) {
		r.buf |= uint64(r.src[r.pos]) << (56 - r.n)
		r.pos++
		r.n += 8
	}
}

// peek returns the next k bits (1 ≤ k ≤ n) without consuming them.
func (r *bitReader) peek(k uint) uint64 { return r.buf >> (64 - k) }

// skip consumes k ≤ n bits.
func (r *bitReader) skip(k uint) {
	r.buf <<= k
	r.n -= k
}

// read returns the next k bits (1 ≤ k ≤ 64) and false if the input ends
// first.
func (r *bitReader) read(k uint) (uint64, bool) {
	if k > 56 {
		hi, ok1 := r.read(k - 32)
		lo, ok2 := r.read(32)
		return hi<<32 | lo, ok1 && ok2
	}
	if r.n < k {
		r.refill()
		if r.n < k {
			return 0, false
		}
	}
	v := r.buf >> (64 - k)
	r.skip(k)
	return v, true
}

// bit returns the next bit.
func (r *bitReader) bit() (uint64, bool) { return r.read(1) }

// atEnd reports whether only zero padding of the last byte remains.
func (r *bitReader) atEnd() bool {
	return r.pos == len(r.src) && r.n < 8 && r.buf == 0
}

// Prometheus' varbit codes (tsdb/chunkenc/varbit.go): a unary prefix of up
// to 8 one-bits selects the payload width.
var varbitWidths = [9]uint{0, 3, 6, 9, 12, 18, 25, 56, 64}

// readVarbitUint reads one chunkenc varbit unsigned integer.
func (r *bitReader) readVarbitUint() (uint64, bool) {
	p := 0
	for p < 8 {
		b, ok := r.bit()
		if !ok {
			return 0, false
		}
		if b == 0 {
			break
		}
		p++
	}
	if p == 0 {
		return 0, true
	}
	return r.read(varbitWidths[p])
}

// readVarbitInt reads one chunkenc varbit signed integer.
func (r *bitReader) readVarbitInt() (int64, bool) {
	p := 0
	for p < 8 {
		b, ok := r.bit()
		if !ok {
			return 0, false
		}
		if b == 0 {
			break
		}
		p++
	}
	if p == 0 {
		return 0, true
	}
	sz := varbitWidths[p]
	v, ok := r.read(sz)
	if sz < 64 && v > 1<<(sz-1) {
		v -= 1 << sz
	}
	return int64(v), ok
}
