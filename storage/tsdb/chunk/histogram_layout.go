package chunk

import (
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
)

// Bucket layout unions. When a histogram brings buckets its chunkenc chunk
// does not have yet, chunkenc re-encodes the whole chunk with the new
// layout (a "recode"), which makes appending n histograms O(n²). The
// encoder knows all samples in advance, so it expands every histogram of a
// segment to the union of the segment's layouts instead: the bytes are what
// the recodes would have produced (earlier samples carry the later buckets
// as zeros), without the recodes. A segment is a run of samples that chunkenc
// could put into one chunk as far as layout goes: same schema, zero
// threshold, custom bounds and gauge-ness, and no decrease of the count
// (for counter histograms).

// bucketRange is the run of bucket indices [lo, hi).
type bucketRange struct{ lo, hi int64 }

// layoutScratch holds the unions and merge buffers.
type layoutScratch struct {
	pos, neg, tmp, spans []bucketRange
}

// spanRanges appends the bucket ranges of spans to dst.
func spanRanges(dst []bucketRange, spans []histogram.Span) []bucketRange {
	idx := int64(0)
	for i, s := range spans {
		idx += int64(s.Offset)
		if i > 0 && len(dst) > 0 && dst[len(dst)-1].hi == idx {
			dst[len(dst)-1].hi += int64(s.Length)
		} else if s.Length > 0 {
			dst = append(dst, bucketRange{idx, idx + int64(s.Length)})
		}
		idx += int64(s.Length)
	}
	return dst
}

// union merges the spans into *u.
func (l *layoutScratch) union(u *[]bucketRange, spans []histogram.Span) {
	l.spans = spanRanges(l.spans[:0], spans)
	a, b := *u, l.spans
	out := l.tmp[:0]
	add := func(r bucketRange) {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			return
		}
		out = append(out, r)
	}
	for len(a) > 0 || len(b) > 0 {
		if len(b) == 0 || len(a) > 0 && a[0].lo <= b[0].lo {
			add(a[0])
			a = a[1:]
		} else {
			add(b[0])
			b = b[1:]
		}
	}
	l.tmp, *u = *u, out
}

// unionSpans returns the spans of union u, reusing dst.
func unionSpans(dst []histogram.Span, u []bucketRange) []histogram.Span {
	dst = dst[:0]
	prev := int64(0)
	for _, r := range u {
		dst = append(dst, histogram.Span{Offset: int32(r.lo - prev), Length: uint32(r.hi - r.lo)})
		prev = r.hi
	}
	return dst
}

// layoutFits reports whether the union's indices fit Span fields.
func layoutFits(u []bucketRange) bool {
	prev := int64(0)
	for _, r := range u {
		if r.lo-prev > math.MaxInt32 || r.lo-prev < math.MinInt32 || r.hi-r.lo > math.MaxUint32 {
			return false
		}
		prev = r.hi
	}
	return true
}

// expandBuckets rewrites the buckets of spans onto union u: buckets the
// spans lack become 0. abs says whether the buckets are absolute (float
// histograms) or deltas (integer histograms). ok is false if the spans have
// a bucket outside u.
func expandBuckets[T int64 | float64](dst []T, u []bucketRange, spans []histogram.Span, buckets []T, abs bool) ([]T, bool) {
	dst = dst[:0]
	si, left := 0, int64(0) // Current span and buckets left in it.
	idx, bi := int64(0), 0  // Absolute index of the next bucket of spans, its position in buckets.
	next := func() {
		for left == 0 && si < len(spans) {
			idx += int64(spans[si].Offset)
			left = int64(spans[si].Length)
			si++
		}
	}
	if len(spans) > 0 {
		idx = int64(spans[0].Offset)
		left = int64(spans[0].Length)
		si = 1
		next()
	}
	var cur, prevOut T // Absolute value of the spans' current bucket; last value written.
	for _, r := range u {
		for i := r.lo; i < r.hi; i++ {
			var v T
			if left > 0 && idx == i {
				if abs {
					cur = buckets[bi]
				} else {
					cur += buckets[bi]
				}
				v = cur
				bi++
				idx++
				left--
				next()
			}
			if abs {
				dst = append(dst, v)
			} else {
				dst = append(dst, v-prevOut)
				prevOut = v
			}
		}
	}
	return dst, bi == len(buckets)
}

// histSegmentEnd returns the end of the segment starting at i.
func histSegmentEnd(hs []*histogram.Histogram, i int) int {
	first := i
	for first < len(hs) && value.IsStaleNaN(hs[first].Sum) {
		first++
	}
	if first == len(hs) {
		return len(hs)
	}
	a, prev := hs[first], hs[first]
	for j := first + 1; j < len(hs); j++ {
		h := hs[j]
		if value.IsStaleNaN(h.Sum) {
			continue
		}
		if h.Schema != a.Schema || h.ZeroThreshold != a.ZeroThreshold ||
			(h.CounterResetHint == histogram.GaugeType) != (a.CounterResetHint == histogram.GaugeType) ||
			h.CounterResetHint == histogram.CounterReset ||
			(h.Count < prev.Count && h.CounterResetHint != histogram.GaugeType) ||
			!histogram.CustomBucketBoundsMatch(h.CustomValues, a.CustomValues) {
			return j
		}
		prev = h
	}
	return len(hs)
}

// floatHistSegmentEnd is histSegmentEnd for float histograms.
func floatHistSegmentEnd(hs []*histogram.FloatHistogram, i int) int {
	first := i
	for first < len(hs) && value.IsStaleNaN(hs[first].Sum) {
		first++
	}
	if first == len(hs) {
		return len(hs)
	}
	a, prev := hs[first], hs[first]
	for j := first + 1; j < len(hs); j++ {
		h := hs[j]
		if value.IsStaleNaN(h.Sum) {
			continue
		}
		if h.Schema != a.Schema || h.ZeroThreshold != a.ZeroThreshold ||
			(h.CounterResetHint == histogram.GaugeType) != (a.CounterResetHint == histogram.GaugeType) ||
			h.CounterResetHint == histogram.CounterReset ||
			(h.Count < prev.Count && h.CounterResetHint != histogram.GaugeType) ||
			!histogram.CustomBucketBoundsMatch(h.CustomValues, a.CustomValues) {
			return j
		}
		prev = h
	}
	return len(hs)
}

// unionOf computes the positive and negative layout unions of the
// non-stale histograms in hs, reporting false if they do not fit spans.
func (l *layoutScratch) unionOf(n int, spans func(i int) (pos, neg []histogram.Span)) bool {
	l.pos, l.neg = l.pos[:0], l.neg[:0]
	for i := range n {
		p, q := spans(i)
		l.union(&l.pos, p)
		l.union(&l.neg, q)
	}
	return layoutFits(l.pos) && layoutFits(l.neg)
}
