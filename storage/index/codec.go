package index

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// checksum returns the CRC-32C (Castagnoli) of b, the trailer of every
// encoding in this package. MakeTable returns a table cached by hash/crc32.
func checksum(b []byte) uint32 {
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}

// verifyChecksum checks the 4-byte trailer of data and returns data without
// it.
func verifyChecksum(data []byte) ([]byte, error) {
	if len(data) < 5 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(data))
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if checksum(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return body, nil
}

// reader decodes from a byte slice, recording the first failure in err;
// once err is set every method returns zero values.
type reader struct {
	b   []byte
	err error
}

// fail records a truncation.
func (r *reader) fail() {
	if r.err == nil {
		r.err = ErrCorrupt
	}
	r.b = nil
}

// byte reads one byte.
func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// uvarint reads an unsigned varint.
func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// uint64 reads 8 little-endian bytes.
func (r *reader) uint64() uint64 {
	if len(r.b) < 8 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// take returns the next n bytes, aliasing the input.
func (r *reader) take(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}
