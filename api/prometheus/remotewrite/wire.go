package remotewrite

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Protobuf wire decoding over one buffer. Every helper takes the whole
// buffer b and absolute offsets, so that a position is a byte offset into
// the decoded body however deep the message; a helper reads within [i, end)
// and returns the next offset, or a negative wire* code when the bytes are
// not valid. uvarint is small enough to inline (a call would not be: it
// costs most of the inlining budget); the message decoders add fast paths
// for the encodings senders produce (see label and sample in v1.go).

// Wire types.
const (
	wtVarint  = 0
	wtFixed64 = 1
	wtBytes   = 2
	wtGroup   = 3 // start group; 4 is end group
	wtFixed32 = 5
)

// maxField is the largest protobuf field number.
const maxField = 1<<29 - 1

// Negative results of the helpers: what is wrong at the offset read.
const (
	wireTruncated = -1 - iota // the value runs past the end of its message
	wireOverflow              // a varint longer than 10 bytes or above 2^64-1
	wireLength                // a length prefix runs past the end of its message
	wireGroup                 // wire type 3 or 4 (groups, deprecated)
	wireType                  // wire type 6 or 7
	wireFieldZero             // field number 0
	wireFieldBig              // field number above 2^29-1
	wirePacked                // packed fixed-size values not a multiple of their size
)

func wireText(code int) string {
	switch code {
	case wireTruncated:
		return "truncated: the value runs past the end of its message"
	case wireOverflow:
		return "varint longer than 10 bytes or beyond 64 bits"
	case wireLength:
		return "length prefix runs past the end of its message"
	case wireGroup:
		return "group wire types (3, 4) are not supported"
	case wireType:
		return "invalid wire type (6 or 7)"
	case wireFieldZero:
		return "field number 0"
	case wireFieldBig:
		return "field number above 2^29-1"
	case wirePacked:
		return "packed fixed-size values: length is not a multiple of the value size"
	}
	return fmt.Sprintf("wire error %d", code)
}

var wireTypeNames = [8]string{"varint", "fixed64", "length-delimited", "start group", "end group", "fixed32", "invalid (6)", "invalid (7)"}

// uvarint reads a varint at i. One loop and no call, so that it inlines.
func uvarint(b []byte, i, end int) (uint64, int) {
	var v uint64
	for shift := uint(0); i < end; shift += 7 {
		c := b[i]
		i++
		if c < 0x80 {
			if shift == 63 && c > 1 {
				return 0, wireOverflow
			}
			return v | uint64(c)<<shift, i
		}
		if shift == 63 {
			return 0, wireOverflow
		}
		v |= uint64(c&0x7f) << shift
	}
	return 0, wireTruncated
}

// tag reads a field tag at i: the field number, the wire type and the next
// offset, or a negative code (a field number of 0 or above maxField is one).
func tag(b []byte, i, end int) (num int, wt int, next int) {
	v, next := uvarint(b, i, end)
	if f := v >> 3; f-1 >= maxField && next >= 0 { // 0, or above maxField
		next = wireFieldZero
		if f != 0 {
			next = wireFieldBig
		}
	}
	return int(v >> 3), int(v & 7), next
}

// span reads a length prefix at i and returns the field's bytes as
// [start, stop), or a negative code as start.
func span(b []byte, i, end int) (start, stop int) {
	n, j := uvarint(b, i, end) // on error n == 0 and j < 0: returned as start
	if n > uint64(end-j) {
		return wireLength, 0
	}
	return j, j + int(n)
}

// fixed64 reads 8 little-endian bytes at i.
func fixed64(b []byte, i, end int) (uint64, int) {
	if end-i < 8 {
		return 0, wireTruncated
	}
	return binary.LittleEndian.Uint64(b[i:]), i + 8
}

// double reads a float64 at i, bit for bit.
func double(b []byte, i, end int) (float64, int) {
	u, j := fixed64(b, i, end)
	return math.Float64frombits(u), j
}

// skip skips the value of a field of wire type wt at i.
func skip(b []byte, i, end, wt int) int {
	switch wt {
	case wtVarint:
		_, j := uvarint(b, i, end)
		return j
	case wtFixed64:
		if end-i < 8 {
			return wireTruncated
		}
		return i + 8
	case wtBytes:
		s, e := span(b, i, end)
		if s < 0 {
			return s
		}
		return e
	case wtFixed32:
		if end-i < 4 {
			return wireTruncated
		}
		return i + 4
	case wtGroup, wtGroup + 1:
		return wireGroup
	}
	return wireType
}

// zigzag32 decodes a sint32 from its varint, truncated to 32 bits as
// protobuf (and gogo) do.
func zigzag32(v uint64) int32 {
	u := uint32(v)
	return int32(u>>1) ^ -int32(u&1)
}

// zigzag64 decodes a sint64 from its varint.
func zigzag64(v uint64) int64 {
	return int64(v>>1) ^ -int64(v&1)
}

// appendPackedUint32 appends the varints of a packed field in [i, end),
// each truncated to 32 bits; on a bad varint it returns a negative code and
// the varint's offset.
func appendPackedUint32(dst []uint32, b []byte, i, end int) ([]uint32, int, int) {
	for i < end {
		v, j := uvarint(b, i, end)
		if j < 0 {
			return dst, j, i
		}
		dst = append(dst, uint32(v))
		i = j
	}
	return dst, 0, 0
}

// appendPackedSint64 appends the zigzag varints of a packed field.
func appendPackedSint64(dst []int64, b []byte, i, end int) ([]int64, int, int) {
	if dst == nil && end > i {
		dst = make([]int64, 0, countVarints(b, i, end))
	}
	for i < end {
		v, j := uvarint(b, i, end)
		if j < 0 {
			return dst, j, i
		}
		dst = append(dst, zigzag64(v))
		i = j
	}
	return dst, 0, 0
}

// appendPackedDoubles appends the float64s of a packed field, bit for bit.
func appendPackedDoubles(dst []float64, b []byte, i, end int) ([]float64, int, int) {
	if (end-i)%8 != 0 {
		return dst, wirePacked, i
	}
	if dst == nil && end > i {
		dst = make([]float64, 0, (end-i)/8)
	}
	for ; i < end; i += 8 {
		dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
	}
	return dst, 0, 0
}

// isASCII reports whether b is all ASCII, eight bytes at a time.
func isASCII(b []byte) bool {
	var x uint64
	for len(b) >= 8 {
		x |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		x |= uint64(c)
	}
	return x&0x8080808080808080 == 0
}

// countVarints returns how many varints the packed bytes [i, end) hold, for
// sizing a slice.
func countVarints(b []byte, i, end int) int {
	n := 0
	for _, c := range b[i:end] {
		if c < 0x80 {
			n++
		}
	}
	return n
}
