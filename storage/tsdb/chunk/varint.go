package chunk

import (
	"encoding/binary"
	"math/bits"
)

func appendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }
func appendVarint(dst []byte, v int64) []byte   { return binary.AppendVarint(dst, v) }

// uvarintLen is the encoded size of v in bytes.
func uvarintLen(v uint64) int { return uvarintLenBits(bits.Len64(v)) }

// uvarintLenBits is the encoded size in bytes of a value of bit length l.
func uvarintLenBits(l int) int {
	if l == 0 {
		return 1
	}
	return (l + 6) / 7
}

// zigzag maps signed to unsigned so that small magnitudes stay small.
func zigzag(x int64) uint64 { return uint64(x<<1) ^ uint64(x>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// byteReader reads a chunk body. Errors are sticky: after the first short or
// malformed read, bad is set and every read returns zero values, so decoders
// check once after a group of reads.
type byteReader struct {
	b   []byte
	off int
	bad bool
}

func (r *byteReader) byte() byte {
	if r.off >= len(r.b) {
		r.bad = true
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *byteReader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.off += n
	return v
}

func (r *byteReader) varint() int64 {
	if r.bad {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.off += n
	return v
}

func (r *byteReader) uint64le() uint64 {
	if r.bad || len(r.b)-r.off < 8 {
		r.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

// bytes returns the next n bytes (n ≥ 0) without copying.
func (r *byteReader) bytes(n int) []byte {
	if r.bad || n < 0 || len(r.b)-r.off < n {
		r.bad = true
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

// rest returns the unread bytes and consumes them.
func (r *byteReader) rest() []byte {
	if r.bad {
		return nil
	}
	s := r.b[r.off:len(r.b):len(r.b)]
	r.off = len(r.b)
	return s
}

// done reports whether the reader consumed its input exactly and cleanly.
func (r *byteReader) done() bool { return !r.bad && r.off == len(r.b) }
