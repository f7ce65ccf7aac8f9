package chunk

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Encoder holds scratch memory for encoding chunks, so that a flush loop
// encoding many chunks does not allocate beyond the output. The zero value
// is ready to use. An Encoder must not be used by two goroutines at once.
type Encoder struct {
	i0, i1 []int64 // Scratch for differences and residuals.
	s      scratch // For planning int blocks.
	m      []int64 // Scaled integer values.
	patch  []int32 // Positions of values stored raw in an integer block.

	h  histogram.Histogram      // Copy handed to chunkenc, which may modify it.
	fh histogram.FloatHistogram // Likewise for float histograms.
	l  layoutScratch            // Bucket layout unions.

}

// AppendFloats appends to dst one chunk holding the float samples (ts[i],
// vs[i]) and returns the extended slice. It picks the encoding that gives
// the smallest chunk for this data.
//
// The caller guarantees 1 ≤ len(ts) == len(vs) ≤ MaxSamples and strictly
// increasing timestamps; AppendFloats panics with a "BUG:" message
// otherwise. Values may be any float64, bit patterns included (NaN
// payloads such as Prometheus' stale marker, ±Inf, −0).
func AppendFloats(dst []byte, ts []int64, vs []float64) []byte {
	var e Encoder
	return e.AppendFloats(dst, ts, vs)
}

// AppendFloats is the package-level AppendFloats reusing e's scratch memory.
func (e *Encoder) AppendFloats(dst []byte, ts []int64, vs []float64) []byte {
	checkSamples(ts, len(vs))
	n := len(vs)
	start := len(dst)
	dst = appendHeader(dst, EncFloatConst, ts)
	dst = e.appendTimestamps(dst, ts)
	body := len(dst)

	first := math.Float64bits(vs[0])
	constant := true
	for _, v := range vs[1:] {
		if math.Float64bits(v) != first {
			constant = false
			break
		}
	}
	if constant {
		return binary.LittleEndian.AppendUint64(dst, first)
	}

	xs := xorSize(vs)
	if k, ok := e.scaleValues(vs); ok {
		enc := EncFloatInt
		if k > 0 {
			enc = EncFloatDecimal
			dst = append(dst, byte(k))
		}
		dst = e.appendIntValues(dst, vs)
		if len(dst)-body <= min(xs, 8*n) {
			dst[start] = byte(enc)
			return dst
		}
		dst = dst[:body]
	}

	// The bit patterns as integers: kept where smaller than XOR (and than
	// plain, which the XOR size then decides).
	dst = e.appendBitsValues(dst, vs)
	if len(dst)-body < min(xs, 8*n) {
		dst[start] = byte(EncFloatBits)
		return dst
	}
	dst = dst[:body]

	// Plain only when XOR would be larger. Storing plain whenever XOR saves
	// less than 10 % was measured on hard float gauges: 1 % larger on disk
	// after ZSTD (which gains nothing on raw float bytes either).
	if xs >= 8*n {
		dst[start] = byte(EncFloatPlain)
		for _, v := range vs {
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
		}
		return dst
	}
	dst[start] = byte(EncFloatXOR)
	return appendXOR(dst, vs)
}

// Decoder holds scratch memory for decoding float chunks. The zero value is
// ready to use. A Decoder must not be used by two goroutines at once.
type Decoder struct {
	ints  []int64
	slots []uint64
}

// DecodeFloats appends the samples of float chunk b to dstT and dstV. It
// never panics: corrupt input returns an error wrapping ErrCorrupt (dstT
// and dstV are then returned at their original lengths), and a histogram
// chunk returns ErrWrongType.
func DecodeFloats(dstT []int64, dstV []float64, b []byte) ([]int64, []float64, error) {
	var d Decoder
	return d.DecodeFloats(dstT, dstV, b)
}

// DecodeFloats is the package-level DecodeFloats reusing d's scratch memory.
func (d *Decoder) DecodeFloats(dstT []int64, dstV []float64, b []byte) ([]int64, []float64, error) {
	meta, r, err := readHeader(b)
	if err != nil {
		return dstT, dstV, err
	}
	if !meta.Encoding.IsFloat() {
		return dstT, dstV, ErrWrongType
	}
	n := meta.NumSamples
	t0, v0 := len(dstT), len(dstV)
	dstT = growTail(dstT, n)
	dstV = growTail(dstV, n)
	if err := d.decodeFloatBody(&r, meta, dstT[t0:], dstV[v0:]); err != nil {
		return dstT[:t0], dstV[:v0], err
	}
	return dstT, dstV, nil
}

func (d *Decoder) decodeFloatBody(r *byteReader, meta Meta, ts []int64, vs []float64) error {
	if meta.Encoding == EncFloatPromXOR {
		return decodePromXOR(r.rest(), meta, ts, vs)
	}
	n := len(ts)
	if err := decodeTimestamps(r, ts, meta.MinTime, meta.MaxTime, grow(&d.slots, n)); err != nil {
		return err
	}
	switch meta.Encoding {
	case EncFloatConst:
		v := math.Float64frombits(r.uint64le())
		for i := range vs {
			vs[i] = v
		}
	case EncFloatInt:
		if err := d.decodeIntValues(r, vs, 0); err != nil {
			return err
		}
	case EncFloatDecimal:
		k := int(r.byte())
		if r.bad || k < 1 || k > maxDecimalExp {
			return corruptf("decimal exponent %d out of range", k)
		}
		if err := d.decodeIntValues(r, vs, k); err != nil {
			return err
		}
	case EncFloatBits:
		if err := d.decodeBitsValues(r, vs); err != nil {
			return err
		}
	case EncFloatXOR:
		if err := decodeXOR(vs, r.rest()); err != nil {
			return err
		}
	case EncFloatPlain:
		raw := r.bytes(8 * n)
		if r.bad {
			return corruptf("truncated plain values")
		}
		for i := range vs {
			vs[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
	default:
		return errors.New("BUG: chunk: decodeFloatBody on non-float encoding")
	}
	if !r.done() {
		return corruptf("%d trailing or missing bytes", len(r.b)-r.off)
	}
	return nil
}

// growTail extends s by n elements, reallocating when capacity is short.
func growTail[T any](s []T, n int) []T {
	if cap(s)-len(s) < n {
		ns := make([]T, len(s), len(s)+n+len(s)/4)
		copy(ns, s)
		s = ns
	}
	return s[:len(s)+n]
}

// AppendFloatsPlain appends a chunk of the samples with the values stored
// raw (EncFloatPlain): the cheapest chunk to write and to read, for chunks
// that only travel (a head's samples answering a query), not for disk.
// The caller's guarantees are AppendFloats'.
func AppendFloatsPlain(dst []byte, ts []int64, vs []float64) []byte {
	var e Encoder
	return e.AppendFloatsPlain(dst, ts, vs)
}

// AppendFloatsPlain is the package-level AppendFloatsPlain reusing e's
// scratch memory.
func (e *Encoder) AppendFloatsPlain(dst []byte, ts []int64, vs []float64) []byte {
	checkSamples(ts, len(vs))
	dst = appendHeader(dst, EncFloatPlain, ts)
	dst = e.appendTimestamps(dst, ts)
	for _, v := range vs {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return dst
}

// AppendPromXOR appends a chunk of the n samples, from minT to maxT, of
// xor: the bytes of a Prometheus XOR chunk (chunkenc.XORChunk.Bytes). It
// is how a head's open chunk answers a query without being decoded and
// encoded again; it is larger than AppendFloats' choice, so it only
// travels. The caller guarantees that xor holds exactly those samples.
func AppendPromXOR(dst []byte, n int, minT, maxT int64, xor []byte) []byte {
	dst = appendHeaderOf(dst, EncFloatPromXOR, n, minT, maxT)
	return append(dst, xor...)
}

// decodePromXOR decodes the Prometheus XOR chunk b into ts and vs, checking
// it against the header.
func decodePromXOR(b []byte, meta Meta, ts []int64, vs []float64) error {
	if len(b) < 2 {
		return corruptf("truncated Prometheus XOR chunk")
	}
	c, err := chunkenc.FromData(chunkenc.EncXOR, b)
	if err != nil {
		return corruptf("Prometheus XOR chunk: %v", err)
	}
	if c.NumSamples() != meta.NumSamples {
		return corruptf("Prometheus XOR chunk of %d samples, header says %d", c.NumSamples(), meta.NumSamples)
	}
	it := c.Iterator(nil)
	i := 0
	for it.Next() == chunkenc.ValFloat {
		if i == len(ts) {
			return corruptf("Prometheus XOR chunk holds more than %d samples", len(ts))
		}
		ts[i], vs[i] = it.At()
		if i > 0 && ts[i] <= ts[i-1] {
			return corruptf("Prometheus XOR chunk: timestamps not increasing")
		}
		i++
	}
	if err := it.Err(); err != nil {
		return corruptf("Prometheus XOR chunk: %v", err)
	}
	if i != len(ts) || ts[0] != meta.MinTime || ts[i-1] != meta.MaxTime {
		return corruptf("Prometheus XOR chunk does not match its header")
	}
	return nil
}
