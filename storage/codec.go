package storage

import (
	"encoding/binary"
	"math"
)

// Append-style primitives of the storage encodings. Every encoder appends to
// a caller's buffer and returns it; every decoder reads through a decoder
// whose first error sticks, so a value is decoded straight-line and checked
// once at the end.

func appendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }

func appendVarint(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

func appendFixed64(dst []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(dst, v) }

func appendFloat64(dst []byte, f float64) []byte { return appendFixed64(dst, math.Float64bits(f)) }

func appendBytes(dst, b []byte) []byte {
	dst = appendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendString(dst []byte, s string) []byte {
	dst = appendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// decoder reads the primitives written above. Its zero value over a slice is
// ready to use; the first malformed read sets err and every later read returns
// zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail()
		return false
	}
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length or element count and checks it against what is left,
// assuming each element takes at least min bytes, so a corrupt count cannot
// make a caller allocate more than the input could hold.
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if min < 1 {
		min = 1
	}
	if v > uint64(len(d.b)/min) {
		if v != 0 {
			d.fail()
		}
		return 0
	}
	return int(v)
}

func (d *decoder) fixed64() uint64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) float64() float64 { return math.Float64frombits(d.fixed64()) }

// bytes returns a length-prefixed byte string aliasing the input.
func (d *decoder) bytes() []byte {
	n := d.count(1)
	if d.err != nil {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) fixed(n int) []byte {
	if len(d.b) < n {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.bytes()) }

// done reports the sticky error, or ErrCorrupt when input is left over.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		return ErrCorrupt
	}
	return d.err
}

func (d *decoder) traceID() (id [16]byte) {
	copy(id[:], d.fixed(16))
	return id
}

func (d *decoder) spanID() (id [8]byte) {
	copy(id[:], d.fixed(8))
	return id
}
