package chunk

import (
	"encoding/binary"
	"fmt"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Native histogram chunks are Prometheus chunkenc chunks framed by
// Starling's header. chunkenc refuses to append a histogram to a chunk on a
// schema, zero threshold or custom bounds change, on a counter reset, after
// a stale marker, or when a gauge histogram follows a counter one; the
// encoder then starts a new chunkenc chunk, a new part of the same Starling
// chunk. So every sample handed to AppendHistograms is encoded, and the
// caller cuts chunks by its own rules (sample count, time) only. Bucket
// layouts are merged up front (histogram_layout.go), so chunkenc never
// recodes.

// chunkenc's histogram chunk header: 2 bytes sample count, 1 byte flags.
const chunkencHistogramHeader = 3

// AppendHistograms appends to dst one chunk holding the integer native
// histogram samples (ts[i], hs[i]).
//
// The caller guarantees 1 ≤ len(ts) == len(hs) ≤ MaxSamples, strictly
// increasing timestamps and non-nil histograms; AppendHistograms panics
// with a "BUG:" message otherwise. A histogram that fails Validate (stale
// markers pass) makes it return dst unchanged and an error wrapping
// ErrInvalidHistogram. The histograms are not modified.
func AppendHistograms(dst []byte, ts []int64, hs []*histogram.Histogram) ([]byte, error) {
	var e Encoder
	return e.AppendHistograms(dst, ts, hs)
}

// AppendFloatHistograms is AppendHistograms for float native histograms.
func AppendFloatHistograms(dst []byte, ts []int64, fhs []*histogram.FloatHistogram) ([]byte, error) {
	var e Encoder
	return e.AppendFloatHistograms(dst, ts, fhs)
}

// AppendHistograms is the package-level AppendHistograms reusing e's
// scratch memory.
func (e *Encoder) AppendHistograms(dst []byte, ts []int64, hs []*histogram.Histogram) ([]byte, error) {
	checkSamples(ts, len(hs))
	for i, h := range hs {
		if h == nil {
			panic(fmt.Sprintf("BUG: chunk: nil histogram at sample %d", i))
		}
		if err := h.Validate(); err != nil {
			return dst, fmt.Errorf("%w: sample %d at %d: %w", ErrInvalidHistogram, i, ts[i], err)
		}
	}
	union := false
	parts, err := appendHistogramParts(ts,
		func() chunkenc.Chunk { return chunkenc.NewHistogramChunk() },
		func(i int) int {
			end := histSegmentEnd(hs, i)
			union = e.l.unionOf(end-i, func(j int) (pos, neg []histogram.Span) {
				return hs[i+j].PositiveSpans, hs[i+j].NegativeSpans
			})
			return end
		},
		func(app, prev chunkenc.Appender, i int, appendOnly bool) (chunkenc.Chunk, bool, chunkenc.Appender, error) {
			return app.AppendHistogram(prev, 0, ts[i], e.expandHistogram(hs[i], union), appendOnly)
		})
	if err != nil {
		return dst, err
	}
	return appendParts(dst, EncHistogram, ts, parts), nil
}

// AppendFloatHistograms is the package-level AppendFloatHistograms reusing
// e's scratch memory.
func (e *Encoder) AppendFloatHistograms(dst []byte, ts []int64, fhs []*histogram.FloatHistogram) ([]byte, error) {
	checkSamples(ts, len(fhs))
	for i, h := range fhs {
		if h == nil {
			panic(fmt.Sprintf("BUG: chunk: nil float histogram at sample %d", i))
		}
		if err := h.Validate(); err != nil {
			return dst, fmt.Errorf("%w: sample %d at %d: %w", ErrInvalidHistogram, i, ts[i], err)
		}
	}
	union := false
	parts, err := appendHistogramParts(ts,
		func() chunkenc.Chunk { return chunkenc.NewFloatHistogramChunk() },
		func(i int) int {
			end := floatHistSegmentEnd(fhs, i)
			union = e.l.unionOf(end-i, func(j int) (pos, neg []histogram.Span) {
				return fhs[i+j].PositiveSpans, fhs[i+j].NegativeSpans
			})
			return end
		},
		func(app, prev chunkenc.Appender, i int, appendOnly bool) (chunkenc.Chunk, bool, chunkenc.Appender, error) {
			return app.AppendFloatHistogram(prev, 0, ts[i], e.expandFloatHistogram(fhs[i], union), appendOnly)
		})
	if err != nil {
		return dst, err
	}
	return appendParts(dst, EncFloatHistogram, ts, parts), nil
}

// appendHistogramParts appends sample i with add, in segments from segment
// (which prepares the layout union for the samples from i on and returns
// where its segment ends). Within a part add is called with appendOnly, so
// chunkenc refuses instead of cutting or recoding; a refusal starts a new
// part, whose counter reset header chunkenc derives from the previous
// part's appender.
func appendHistogramParts(ts []int64, newChunk func() chunkenc.Chunk, segment func(i int) int,
	add func(app, prev chunkenc.Appender, i int, appendOnly bool) (chunkenc.Chunk, bool, chunkenc.Appender, error),
) ([]chunkenc.Chunk, error) {
	var parts []chunkenc.Chunk
	var c chunkenc.Chunk
	var app chunkenc.Appender
	end := 0
	for i := range ts {
		if i >= end {
			end = segment(i)
		}
		if app != nil {
			nc, _, a, err := add(app, nil, i, true)
			if err == nil && nc == nil {
				app = a
				continue
			}
			if err == nil {
				return nil, fmt.Errorf("BUG: chunk: chunkenc cut a chunk in append-only mode at sample %d", i)
			}
			parts = append(parts, c)
			end = segment(i) // The new part's layout covers what follows only.
		}
		prev := app
		c = newChunk()
		a, err := c.Appender()
		if err != nil {
			return nil, fmt.Errorf("BUG: chunk: appender of an empty histogram chunk: %w", err)
		}
		nc, _, a, err := add(a, prev, i, false)
		if err != nil || nc != nil {
			return nil, fmt.Errorf("BUG: chunk: chunkenc refused the first histogram of a chunk (sample %d at %d): %v", i, ts[i], err)
		}
		app = a
	}
	return append(parts, c), nil
}

// expandHistogram returns a copy of h in e's scratch histogram, with its
// buckets expanded to the current layout union if union is set. chunkenc
// may modify what it is given; h is never touched.
func (e *Encoder) expandHistogram(h *histogram.Histogram, union bool) *histogram.Histogram {
	if union && !value.IsStaleNaN(h.Sum) {
		x := &e.h
		pb, ok1 := expandBuckets(x.PositiveBuckets, e.l.pos, h.PositiveSpans, h.PositiveBuckets, false)
		nb, ok2 := expandBuckets(x.NegativeBuckets, e.l.neg, h.NegativeSpans, h.NegativeBuckets, false)
		x.PositiveBuckets, x.NegativeBuckets = pb, nb
		if ok1 && ok2 {
			x.CounterResetHint, x.Schema, x.ZeroThreshold = h.CounterResetHint, h.Schema, h.ZeroThreshold
			x.ZeroCount, x.Count, x.Sum, x.CustomValues = h.ZeroCount, h.Count, h.Sum, h.CustomValues
			x.PositiveSpans = unionSpans(x.PositiveSpans, e.l.pos)
			x.NegativeSpans = unionSpans(x.NegativeSpans, e.l.neg)
			return x
		}
	}
	h.CopyTo(&e.h)
	return &e.h
}

// expandFloatHistogram is expandHistogram for float histograms.
func (e *Encoder) expandFloatHistogram(h *histogram.FloatHistogram, union bool) *histogram.FloatHistogram {
	if union && !value.IsStaleNaN(h.Sum) {
		x := &e.fh
		pb, ok1 := expandBuckets(x.PositiveBuckets, e.l.pos, h.PositiveSpans, h.PositiveBuckets, true)
		nb, ok2 := expandBuckets(x.NegativeBuckets, e.l.neg, h.NegativeSpans, h.NegativeBuckets, true)
		x.PositiveBuckets, x.NegativeBuckets = pb, nb
		if ok1 && ok2 {
			x.CounterResetHint, x.Schema, x.ZeroThreshold = h.CounterResetHint, h.Schema, h.ZeroThreshold
			x.ZeroCount, x.Count, x.Sum, x.CustomValues = h.ZeroCount, h.Count, h.Sum, h.CustomValues
			x.PositiveSpans = unionSpans(x.PositiveSpans, e.l.pos)
			x.NegativeSpans = unionSpans(x.NegativeSpans, e.l.neg)
			return x
		}
	}
	h.CopyTo(&e.fh)
	return &e.fh
}

func appendParts(dst []byte, enc Encoding, ts []int64, parts []chunkenc.Chunk) []byte {
	dst = appendHeader(dst, enc, ts)
	dst = appendUvarint(dst, uint64(len(parts)))
	for _, p := range parts {
		b := p.Bytes()
		dst = appendUvarint(dst, uint64(len(b)))
		dst = append(dst, b...)
	}
	return dst
}

// part locates one chunkenc chunk inside a histogram chunk.
type part struct {
	off, len int
}

// readParts validates the framing of histogram chunk body r and appends
// the parts to dst. Each part must hold at least one sample, the counts
// must add up to n, and each part's bucket layout must be well formed: the
// layout is parsed here, with bounds, before chunkenc ever sees it, because
// chunkenc sizes its bucket slices from it.
func readParts(dst []part, r *byteReader, n int, float bool) ([]part, error) {
	np := r.uvarint()
	if r.bad || np == 0 || np > uint64(n) {
		return dst, corruptf("bad histogram part count")
	}
	total := 0
	for range np {
		l := r.uvarint()
		if r.bad || l < chunkencHistogramHeader+1 || l > uint64(len(r.b)-r.off) {
			return dst, corruptf("bad histogram part length")
		}
		off := r.off
		b := r.bytes(int(l))
		c := int(binary.BigEndian.Uint16(b))
		if c == 0 {
			return dst, corruptf("empty histogram part")
		}
		if err := checkLayout(b[chunkencHistogramHeader:], float); err != nil {
			return dst, err
		}
		total += c
		dst = append(dst, part{off: off, len: int(l)})
	}
	if total != n {
		return dst, corruptf("histogram parts hold %d samples, header says %d", total, n)
	}
	if !r.done() {
		return dst, corruptf("trailing bytes after histogram parts")
	}
	return dst, nil
}

// checkLayout parses the chunkenc histogram layout at the start of a part's
// stream (tsdb/chunkenc/histogram_meta.go) and checks that the schema is
// valid and that the bucket count cannot exceed what the remaining bits
// could hold (every bucket of the first sample takes at least one bit).
func checkLayout(stream []byte, float bool) error {
	r := newBitReader(stream)
	zt, ok := r.read(8)
	if ok && zt == 255 {
		_, ok = r.read(64)
	}
	schema, ok2 := r.readVarbitInt()
	if !ok || !ok2 {
		return corruptf("truncated histogram layout")
	}
	if !histogram.IsValidSchema(int32(schema)) || int64(int32(schema)) != schema {
		return corruptf("histogram schema %d", schema)
	}
	buckets := uint64(0)
	for range 2 { // Positive, then negative spans.
		num, ok := r.readVarbitUint()
		if !ok {
			return corruptf("truncated histogram spans")
		}
		for range num {
			l, ok1 := r.readVarbitUint()
			_, ok2 := r.readVarbitInt()
			if !ok1 || !ok2 {
				return corruptf("truncated histogram spans")
			}
			if l > 1<<32-1 {
				return corruptf("histogram span length %d", l)
			}
			buckets += l
			if buckets > uint64(8*len(stream)) {
				return corruptf("histogram with %d buckets in %d bytes", buckets, len(stream))
			}
		}
	}
	if histogram.IsCustomBucketsSchema(int32(schema)) {
		num, ok := r.readVarbitUint()
		if !ok {
			return corruptf("truncated custom bounds")
		}
		for range num {
			v, ok := r.readVarbitUint()
			if ok && v == 0 {
				_, ok = r.read(64)
			}
			if !ok {
				return corruptf("truncated custom bounds")
			}
		}
	}
	// The first sample stores one varbit (integer histograms) or 64 raw
	// bits (float histograms) per bucket after timestamp, counts and sum.
	perBucket := uint64(1)
	if float {
		perBucket = 64
	}
	left := uint64(8*(len(r.src)-r.pos)) + uint64(r.n)
	if buckets*perBucket > left {
		return corruptf("histogram with %d buckets in %d bits", buckets, left)
	}
	return nil
}
