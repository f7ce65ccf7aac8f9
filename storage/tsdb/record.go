package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
)

// A record is the write-through copy of one write batch's samples for one
// partition and one block: what makes an acknowledged sample survive a
// crash before its block is flushed into chunks. The frontend builds it,
// every copy of the partition appends it to its head and commits it; a
// flush deletes it once the block's chunks are committed.
//
// Format, version 2 (1 had a table of names; never released):
//
//	[version byte = 2]
//	[series uvarint] series ×
//	    [hash fixed64][name len uvarint][name]
//	    [floats uvarint]     floats × [t varint, delta to the previous t of the series (the first: absolute)][v fixed64 bits]
//	    [histograms uvarint] histograms × [t varint, as above][histogram, see appendHistogram]
//
// Names are written inline, and only in the batch that also writes the
// series' definition (else the name is empty): a table would cost a map
// lookup per series to build, and the head needs a series' name only when
// it first holds it (HeadConfig.Names finds the ones left out).
const recordVersion byte = 2

// ErrCorruptRecord is returned for record bytes that do not decode.
var ErrCorruptRecord = errors.New("tsdb: corrupt record")

// RecordSeries is one series of a record: the series hash, its metric name
// (as bytes of the record: Name makes a string) and its samples.
type RecordSeries struct {
	Hash       uint64
	NameBytes  []byte
	Samples    []Sample
	Histograms []HistogramSample
}

// Name returns the metric name as a new string.
func (rs *RecordSeries) Name() string { return string(rs.NameBytes) }

// recordSeries is one series given to a RecordBuilder.
type recordSeries struct {
	hash       uint64
	name       string
	samples    []Sample
	histograms []HistogramSample
}

// RecordBuilder builds one record. The zero value is ready; Reset reuses it.
type RecordBuilder struct {
	series []recordSeries
}

// Reset empties the builder, keeping its memory.
func (b *RecordBuilder) Reset() { b.series = b.series[:0] }

// Len is the number of series added.
func (b *RecordBuilder) Len() int { return len(b.series) }

// Add adds samples of one series. The slices are kept until Append.
func (b *RecordBuilder) Add(hash uint64, name string, samples []Sample, hists []HistogramSample) {
	b.series = append(b.series, recordSeries{hash: hash, name: name, samples: samples, histograms: hists})
}

// Append appends the encoded record to dst.
func (b *RecordBuilder) Append(dst []byte) []byte {
	dst = AppendRecordHeader(dst, len(b.series))
	for _, s := range b.series {
		dst = AppendRecordSeries(dst, s.hash, s.name, s.samples, s.histograms)
	}
	return dst
}

// A record can also be written piece by piece, as a writer that streams
// series into many records at once does: AppendRecordHeader with the
// number of series, then AppendRecordSeries for each.

// AppendRecordHeader appends the head of a record of n series.
func AppendRecordHeader(dst []byte, n int) []byte {
	return binary.AppendUvarint(append(dst, recordVersion), uint64(n))
}

// AppendRecordSeries appends one series of a record.
func AppendRecordSeries(dst []byte, hash uint64, name string, samples []Sample, hists []HistogramSample) []byte {
	dst = binary.BigEndian.AppendUint64(dst, hash)
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	prev := int64(0)
	for _, smp := range samples {
		dst = binary.AppendVarint(dst, smp.T-prev)
		prev = smp.T
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(smp.V))
	}
	dst = binary.AppendUvarint(dst, uint64(len(hists)))
	prev = 0
	for _, h := range hists {
		dst = binary.AppendVarint(dst, h.T-prev)
		prev = h.T
		dst = appendHistogram(dst, h)
	}
	return dst
}

// DecodeRecord calls fn for every series of a record, in order. The
// RecordSeries and its slices are reused between calls and alias b: fn
// copies what it keeps. Corrupt input returns ErrCorruptRecord (wrapped),
// possibly after fn saw the series before the damage.
func DecodeRecord(b []byte, fn func(*RecordSeries) error) error {
	d := recDecoder{b: b}
	if v := d.byte(); d.err == nil && v != recordVersion {
		return fmt.Errorf("%w: version %d", ErrCorruptRecord, v)
	}
	n := d.count(11)
	var rs RecordSeries
	for i := 0; i < n && d.err == nil; i++ {
		rs.Hash = d.fixed64()
		rs.NameBytes = d.bytes()
		rs.Samples = rs.Samples[:0]
		prev := int64(0)
		for j, m := 0, d.count(9); j < m && d.err == nil; j++ {
			t := prev + d.varint()
			prev = t
			rs.Samples = append(rs.Samples, Sample{T: t, V: math.Float64frombits(d.fixed64())})
		}
		rs.Histograms = rs.Histograms[:0]
		prev = 0
		for j, m := 0, d.count(8); j < m && d.err == nil; j++ {
			t := prev + d.varint()
			prev = t
			h := d.histogram()
			h.T = t
			rs.Histograms = append(rs.Histograms, h)
		}
		if d.err != nil {
			break
		}
		if err := fn(&rs); err != nil {
			return err
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("trailing bytes")
	}
	return d.err
}

// Histogram encoding inside a record:
//
//	[kind byte: 1 integer counts, 2 float counts]
//	[schema varint][zero threshold fixed64][counter reset hint byte]
//	integer: [count uvarint][zero count uvarint]   float: [count fixed64][zero count fixed64]
//	[sum fixed64]
//	positive spans, negative spans: [n uvarint] n × ([offset varint][length uvarint])
//	positive, negative buckets: [n uvarint] n × (integer: delta varint | float: fixed64)
//	[custom values uvarint] n × fixed64
const (
	histInt   byte = 1
	histFloat byte = 2
)

func appendHistogram(dst []byte, hs HistogramSample) []byte {
	if h := hs.H; h != nil {
		dst = append(dst, histInt)
		dst = binary.AppendVarint(dst, int64(h.Schema))
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(h.ZeroThreshold))
		dst = append(dst, byte(h.CounterResetHint))
		dst = binary.AppendUvarint(dst, h.Count)
		dst = binary.AppendUvarint(dst, h.ZeroCount)
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(h.Sum))
		dst = appendSpans(dst, h.PositiveSpans)
		dst = appendSpans(dst, h.NegativeSpans)
		for _, bs := range [][]int64{h.PositiveBuckets, h.NegativeBuckets} {
			dst = binary.AppendUvarint(dst, uint64(len(bs)))
			for _, v := range bs {
				dst = binary.AppendVarint(dst, v)
			}
		}
		return appendFloats(dst, h.CustomValues)
	}
	h := hs.FH
	dst = append(dst, histFloat)
	dst = binary.AppendVarint(dst, int64(h.Schema))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(h.ZeroThreshold))
	dst = append(dst, byte(h.CounterResetHint))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(h.Count))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(h.ZeroCount))
	dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(h.Sum))
	dst = appendSpans(dst, h.PositiveSpans)
	dst = appendSpans(dst, h.NegativeSpans)
	dst = appendFloats(dst, h.PositiveBuckets)
	dst = appendFloats(dst, h.NegativeBuckets)
	return appendFloats(dst, h.CustomValues)
}

func appendSpans(dst []byte, ss []histogram.Span) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = binary.AppendVarint(dst, int64(s.Offset))
		dst = binary.AppendUvarint(dst, uint64(s.Length))
	}
	return dst
}

func appendFloats(dst []byte, fs []float64) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(fs)))
	for _, f := range fs {
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(f))
	}
	return dst
}

func (d *recDecoder) histogram() HistogramSample {
	kind := d.byte()
	schema := d.varint()
	if schema < math.MinInt32 || schema > math.MaxInt32 {
		d.fail("histogram schema")
	}
	zt := math.Float64frombits(d.fixed64())
	hint := histogram.CounterResetHint(d.byte())
	if hint > histogram.GaugeType {
		d.fail("histogram counter reset hint")
	}
	switch kind {
	case histInt:
		h := &histogram.Histogram{Schema: int32(schema), ZeroThreshold: zt, CounterResetHint: hint}
		h.Count = d.uvarint()
		h.ZeroCount = d.uvarint()
		h.Sum = math.Float64frombits(d.fixed64())
		h.PositiveSpans = d.spans()
		h.NegativeSpans = d.spans()
		h.PositiveBuckets = d.int64s()
		h.NegativeBuckets = d.int64s()
		h.CustomValues = d.floats()
		return HistogramSample{H: h}
	case histFloat:
		h := &histogram.FloatHistogram{Schema: int32(schema), ZeroThreshold: zt, CounterResetHint: hint}
		h.Count = math.Float64frombits(d.fixed64())
		h.ZeroCount = math.Float64frombits(d.fixed64())
		h.Sum = math.Float64frombits(d.fixed64())
		h.PositiveSpans = d.spans()
		h.NegativeSpans = d.spans()
		h.PositiveBuckets = d.floats()
		h.NegativeBuckets = d.floats()
		h.CustomValues = d.floats()
		return HistogramSample{FH: h}
	}
	d.fail("histogram kind")
	return HistogramSample{FH: &histogram.FloatHistogram{}}
}

func (d *recDecoder) spans() []histogram.Span {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	out := make([]histogram.Span, n)
	for i := range out {
		off := d.varint()
		l := d.uvarint()
		if off < math.MinInt32 || off > math.MaxInt32 || l > math.MaxUint32 {
			d.fail("histogram span")
			return nil
		}
		out[i] = histogram.Span{Offset: int32(off), Length: uint32(l)}
	}
	return out
}

func (d *recDecoder) int64s() []int64 {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = d.varint()
	}
	return out
}

func (d *recDecoder) floats() []float64 {
	n := d.count(8)
	if n == 0 {
		return nil
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Float64frombits(d.fixed64())
	}
	return out
}

// recDecoder reads a record; the first failure sticks.
type recDecoder struct {
	b   []byte
	err error
}

func (d *recDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorruptRecord, what)
	}
	d.b = nil
}

func (d *recDecoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *recDecoder) fixed64() uint64 {
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *recDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length whose elements take at least minBytes each, so a
// corrupt count cannot make the decoder allocate more than the input.
func (d *recDecoder) count(minBytes int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.b)/minBytes) {
		d.fail("count beyond the input")
		return 0
	}
	return int(n)
}

func (d *recDecoder) bytes() []byte {
	n := d.count(1)
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
