package chunk

import (
	"errors"
	"fmt"
	"math"
)

// Encoding is the first byte of a chunk. Values are a disk format: see the
// package documentation for the table; a value never changes meaning.
type Encoding uint8

// Defined encodings.
const (
	EncNone           Encoding = 0x00 // Reserved: never written; returned by Encoding for empty input.
	EncFloatConst     Encoding = 0x01 // Floats, all values bit-identical.
	EncFloatInt       Encoding = 0x02 // Floats that are exact integers (within ±2^53), patched exceptions.
	EncFloatDecimal   Encoding = 0x03 // Floats that are exact decimals m/10^k, patched exceptions.
	EncFloatXOR       Encoding = 0x04 // Floats, Gorilla XOR.
	EncFloatPlain     Encoding = 0x05 // Floats, raw 8 bytes each.
	EncHistogram      Encoding = 0x06 // Integer native histograms, chunkenc.HistogramChunk parts.
	EncFloatHistogram Encoding = 0x07 // Float native histograms, chunkenc.FloatHistogramChunk parts.
	EncFloatBits      Encoding = 0x08 // Floats, their bit patterns as ordered integers, differenced.
	EncFloatPromXOR   Encoding = 0x09 // Floats, a Prometheus chunkenc XOR chunk as it is.
)

// MaxSamples is the largest number of samples one chunk holds.
const MaxSamples = math.MaxUint16

func (e Encoding) String() string {
	switch e {
	case EncNone:
		return "none"
	case EncFloatConst:
		return "float-const"
	case EncFloatInt:
		return "float-int"
	case EncFloatDecimal:
		return "float-decimal"
	case EncFloatXOR:
		return "float-xor"
	case EncFloatPlain:
		return "float-plain"
	case EncHistogram:
		return "histogram"
	case EncFloatHistogram:
		return "float-histogram"
	case EncFloatBits:
		return "float-bits"
	case EncFloatPromXOR:
		return "float-prom-xor"
	}
	return fmt.Sprintf("unknown(0x%02x)", uint8(e))
}

// IsFloat reports whether chunks of encoding e hold float samples.
func (e Encoding) IsFloat() bool {
	return (e >= EncFloatConst && e <= EncFloatPlain) || e == EncFloatBits || e == EncFloatPromXOR
}

// IsValid reports whether e is a defined encoding.
func (e Encoding) IsValid() bool { return e >= EncFloatConst && e <= EncFloatPromXOR }

// Errors returned by this package. Decoding errors wrap ErrCorrupt; callers
// test them with errors.Is.
var (
	// ErrCorrupt means the bytes are not a valid chunk: truncated,
	// inconsistent, trailing garbage, or an undefined encoding id.
	ErrCorrupt = errors.New("chunk: corrupt chunk")
	// ErrWrongType means a valid chunk holds another kind of sample than the
	// caller asked for (for example DecodeFloats on a histogram chunk).
	ErrWrongType = errors.New("chunk: wrong sample type")
	// ErrInvalidHistogram means a histogram handed to AppendHistograms or
	// AppendFloatHistograms failed Validate; nothing was appended.
	ErrInvalidHistogram = errors.New("chunk: invalid histogram")
)

// Meta is what a chunk's header says without decoding the samples.
type Meta struct {
	Encoding   Encoding
	NumSamples int
	MinTime    int64 // Timestamp of the first sample (ms).
	MaxTime    int64 // Timestamp of the last sample (ms).
}

// EncodingOf returns the encoding id of chunk b (its first byte) or EncNone
// for an empty slice. It does not validate b.
func EncodingOf(b []byte) Encoding {
	if len(b) == 0 {
		return EncNone
	}
	return Encoding(b[0])
}

// ReadMeta parses and validates the header of chunk b.
func ReadMeta(b []byte) (Meta, error) {
	m, _, err := readHeader(b)
	return m, err
}

// NumSamples returns the number of samples in chunk b from its header.
func NumSamples(b []byte) (int, error) {
	m, _, err := readHeader(b)
	return m.NumSamples, err
}

// TimeRange returns the first and last timestamps of chunk b from its header.
func TimeRange(b []byte) (minT, maxT int64, err error) {
	m, _, err := readHeader(b)
	return m.MinTime, m.MaxTime, err
}

// appendHeader appends the encoding id and header for timestamps ts.
func appendHeader(dst []byte, enc Encoding, ts []int64) []byte {
	return appendHeaderOf(dst, enc, len(ts), ts[0], ts[len(ts)-1])
}

// appendHeaderOf appends the header of n samples from minT to maxT.
func appendHeaderOf(dst []byte, enc Encoding, n int, minT, maxT int64) []byte {
	dst = append(dst, byte(enc))
	dst = appendUvarint(dst, uint64(n))
	dst = appendVarint(dst, minT)
	return appendUvarint(dst, uint64(maxT)-uint64(minT))
}

// readHeader parses the header and returns the reader positioned at the body.
func readHeader(b []byte) (Meta, byteReader, error) {
	r := byteReader{b: b}
	var m Meta
	m.Encoding = Encoding(r.byte())
	n := r.uvarint()
	minT := r.varint()
	span := r.uvarint()
	if r.bad {
		return Meta{}, r, corruptf("truncated header")
	}
	if !m.Encoding.IsValid() {
		return Meta{}, r, corruptf("unknown encoding id 0x%02x", uint8(m.Encoding))
	}
	if n == 0 || n > MaxSamples {
		return Meta{}, r, corruptf("sample count %d out of range", n)
	}
	// maxT = minT + span must not overflow, and samples strictly increase.
	if span > uint64(math.MaxInt64)-uint64(minT) || (n == 1) != (span == 0) || span < n-1 {
		return Meta{}, r, corruptf("time span %d invalid for %d samples", span, n)
	}
	m.NumSamples = int(n)
	m.MinTime = minT
	m.MaxTime = int64(uint64(minT) + span)
	return m, r, nil
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// checkSamples panics if the caller broke the invariants every Append
// function documents: 1 ≤ n ≤ MaxSamples, len(ts) == nv, ts strictly
// increasing.
func checkSamples(ts []int64, nv int) {
	if len(ts) != nv {
		panic(fmt.Sprintf("BUG: chunk: %d timestamps but %d values", len(ts), nv))
	}
	if len(ts) == 0 || len(ts) > MaxSamples {
		panic(fmt.Sprintf("BUG: chunk: %d samples, want 1..%d", len(ts), MaxSamples))
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			panic(fmt.Sprintf("BUG: chunk: timestamps not strictly increasing at %d: %d after %d", i, ts[i], ts[i-1]))
		}
	}
}
