package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/starling-otel/starling/storage/tsdb/chunk"
)

// Rollups (downsampling). A rollup resolution cuts time into buckets
// (End-res, End], End a multiple of res: left-open like Prometheus' range
// selectors, so that a query evaluated at multiples of res over ranges of
// whole buckets sees exactly the samples of whole buckets. A bucket keeps
// what the functions that can be answered from it need: count, sum, min,
// max, the first and last sample, the sum of a counter's values before its
// resets (what PromQL's rate adds back) and a staleness marker that ends
// the bucket. Staleness markers count in nothing else.
//
// Buckets are combinable: a block flush rolls up the samples of one block
// [start, end), whose first and last buckets are partial when the block
// edges fall inside them (a sample exactly at the block start belongs to
// the bucket ending there); reading merges the partial buckets of adjacent
// blocks with Combine.

// Rollup resolutions in milliseconds.
const (
	Res5m = int64(5 * 60 * 1000)
	Res1h = int64(60 * 60 * 1000)
)

// NoStale is Bucket.Stale when no staleness marker ends the bucket.
const NoStale = math.MinInt64

// Bucket is the rollup of the samples of one series in (End-res, End].
// First, Last, Min, Max, Sum and Increase are meaningful when Count > 0.
type Bucket struct {
	End           int64 // milliseconds, a multiple of the resolution
	Count         int64 // samples, staleness markers excluded
	FirstT, LastT int64
	First, Last   float64
	Min, Max, Sum float64
	// ResetSum is the sum of the values before each drop (a counter
	// reset) between consecutive samples: increase() over exactly these
	// samples counts Last - First + ResetSum before extrapolation, as
	// PromQL's rate adds them back.
	ResetSum float64
	// Stale is the time of a staleness marker after LastT, or NoStale.
	Stale int64
}

// resetValue is what a step from prev to cur adds to a counter's
// ResetSum: prev when the value drops (a reset), else nothing.
func resetValue(prev, cur float64) float64 {
	if cur < prev {
		return prev
	}
	return 0
}

// bucketEnd is the end of the bucket of resolution res holding time t.
func bucketEnd(t, res int64) int64 {
	q := t / res
	if t%res > 0 {
		q++
	}
	return q * res
}

// add appends sample s (no earlier than the bucket's samples) to b.
func (b *Bucket) add(s Sample) {
	if IsStaleNaN(s.V) {
		b.Stale = s.T
		return
	}
	if b.Count == 0 {
		*b = Bucket{End: b.End, Count: 1, FirstT: s.T, LastT: s.T, First: s.V, Last: s.V, Min: s.V, Max: s.V, Sum: s.V, Stale: NoStale}
		return
	}
	b.Count++
	b.ResetSum += resetValue(b.Last, s.V)
	b.LastT, b.Last = s.T, s.V
	b.Min, b.Max = minNaN(b.Min, s.V), maxNaN(b.Max, s.V)
	b.Sum += s.V
	b.Stale = NoStale
}

// minNaN and maxNaN keep a number over NaN, as min_over_time and
// max_over_time do.
func minNaN(a, v float64) float64 {
	if v < a || math.IsNaN(a) {
		return v
	}
	return a
}

func maxNaN(a, v float64) float64 {
	if v > a || math.IsNaN(a) {
		return v
	}
	return a
}

// AppendRollup appends to dst the buckets of resolution res of samples
// (sorted by time, one per time), in order.
func AppendRollup(dst []Bucket, samples []Sample, res int64) []Bucket {
	cur := -1
	for _, s := range samples {
		end := bucketEnd(s.T, res)
		if cur < 0 || dst[cur].End != end {
			dst = append(dst, Bucket{End: end, Stale: NoStale})
			cur = len(dst) - 1
		}
		dst[cur].add(s)
	}
	return dst
}

// Combine merges bucket b into a: both of the same End, a's samples all
// earlier than b's.
func Combine(a *Bucket, b Bucket) {
	stale := max(a.Stale, b.Stale)
	switch {
	case b.Count == 0:
	case a.Count == 0:
		end := a.End
		*a = b
		a.End = end
	default:
		a.ResetSum += resetValue(a.Last, b.First) + b.ResetSum
		a.Count += b.Count
		a.LastT, a.Last = b.LastT, b.Last
		a.Min, a.Max = minNaN(a.Min, b.Min), maxNaN(a.Max, b.Max)
		a.Sum += b.Sum
	}
	if a.Count > 0 && stale < a.LastT {
		stale = NoStale
	}
	a.Stale = stale
}

// MergeBuckets merges sorted bucket lists of disjoint time spans (the
// partial buckets of adjacent blocks) into one list, one bucket per End.
// Each list is sorted by End; lists are given oldest first.
func MergeBuckets(lists ...[]Bucket) []Bucket {
	var out []Bucket
	for _, l := range lists {
		out = append(out, l...)
	}
	if len(out) < 2 {
		return out
	}
	// A stable sort by End keeps the lists' order among buckets of one End.
	sortBucketsStable(out)
	n := 0
	for i := 1; i < len(out); i++ {
		if out[i].End == out[n].End {
			Combine(&out[n], out[i])
			continue
		}
		n++
		out[n] = out[i]
	}
	return out[:n+1]
}

func sortBucketsStable(bs []Bucket) {
	// Insertion sort: the lists come nearly sorted (block after block).
	for i := 1; i < len(bs); i++ {
		for j := i; j > 0 && bs[j].End < bs[j-1].End; j-- {
			bs[j], bs[j-1] = bs[j-1], bs[j]
		}
	}
}

// Rollup encoding, version 1:
//
//	version   byte (1)
//	n         uvarint, buckets
//	ends      varint first End/res, then uvarint (End[i]-End[i-1])/res
//	per bucket:
//	  count   uvarint
//	  stale   uvarint: 0 none, else Stale-(End-res)
//	  if count > 0: uvarint FirstT-(End-res), uvarint End-LastT
//	six value columns over the buckets with count > 0, each a length
//	(uvarint) and a float chunk (package chunk; its timestamps are the
//	values' indexes 0, 1, …, which cost nearly nothing):
//	First, Last, Min, Max, Sum, ResetSum
const rollupVersion = 1

// ErrCorruptRollup wraps every error of DecodeRollup.
var ErrCorruptRollup = errors.New("tsdb: corrupt rollup")

// AppendRollupValue appends the encoding of buckets (sorted by End, each
// End a multiple of res) to dst.
func AppendRollupValue(dst []byte, buckets []Bucket, res int64) []byte {
	dst = append(dst, rollupVersion)
	dst = binary.AppendUvarint(dst, uint64(len(buckets)))
	for i, b := range buckets {
		if i == 0 {
			dst = binary.AppendVarint(dst, b.End/res)
		} else {
			dst = binary.AppendUvarint(dst, uint64((b.End-buckets[i-1].End)/res))
		}
	}
	var ts []int64
	for _, b := range buckets {
		start := b.End - res
		dst = binary.AppendUvarint(dst, uint64(b.Count))
		if b.Stale == NoStale {
			dst = binary.AppendUvarint(dst, 0)
		} else {
			dst = binary.AppendUvarint(dst, uint64(b.Stale-start))
		}
		if b.Count > 0 {
			dst = binary.AppendUvarint(dst, uint64(b.FirstT-start))
			dst = binary.AppendUvarint(dst, uint64(b.End-b.LastT))
			ts = append(ts, int64(len(ts)))
		}
	}
	if len(ts) == 0 {
		return dst
	}
	var enc chunk.Encoder
	vs := make([]float64, len(ts))
	var col []byte
	for c := range numColumns {
		i := 0
		for _, b := range buckets {
			if b.Count > 0 {
				vs[i] = *column(&b, c)
				i++
			}
		}
		for off := 0; off < len(ts); off += chunk.MaxSamples {
			n := min(len(ts)-off, chunk.MaxSamples)
			col = enc.AppendFloats(col[:0], ts[off:off+n], vs[off:off+n])
			dst = binary.AppendUvarint(dst, uint64(len(col)))
			dst = append(dst, col...)
		}
	}
	return dst
}

const numColumns = 6

func column(b *Bucket, c int) *float64 {
	switch c {
	case 0:
		return &b.First
	case 1:
		return &b.Last
	case 2:
		return &b.Min
	case 3:
		return &b.Max
	case 4:
		return &b.Sum
	}
	return &b.ResetSum
}

// DecodeRollup appends the buckets of rollup value v of resolution res to
// dst. Any input is safe: a corrupt value returns an error wrapping
// ErrCorruptRollup and dst unchanged.
func DecodeRollup(dst []Bucket, v []byte, res int64) ([]Bucket, error) {
	orig := len(dst)
	fail := func(format string, args ...any) ([]Bucket, error) {
		return dst[:orig], fmt.Errorf("%w: "+format, append([]any{ErrCorruptRollup}, args...)...)
	}
	if res <= 0 {
		return fail("resolution %d", res)
	}
	if len(v) == 0 || v[0] != rollupVersion {
		return fail("version %v", v[:min(1, len(v))])
	}
	r := reader{b: v[1:]}
	n, ok := r.uvarint()
	if !ok || n > uint64(len(v)) {
		return fail("bucket count")
	}
	limit := math.MaxInt64 / res
	var end int64
	for i := range n {
		var q int64
		if i == 0 {
			first, ok := r.varint()
			if !ok || first > limit || first < -limit {
				return fail("first end")
			}
			q = first
		} else {
			d, ok := r.uvarint()
			if !ok || d == 0 || d > uint64(limit) || end/res > limit-int64(d) {
				return fail("end of bucket %d", i)
			}
			q = end/res + int64(d)
		}
		end = q * res
		dst = append(dst, Bucket{End: end, Stale: NoStale})
	}
	bs := dst[orig:]
	var withValues []int
	for i := range bs {
		b := &bs[i]
		start := b.End - res
		count, ok1 := r.uvarint()
		stale, ok2 := r.uvarint()
		if !ok1 || !ok2 || count > math.MaxInt64 || stale > uint64(res) {
			return fail("bucket %d header", i)
		}
		b.Count = int64(count)
		if stale > 0 {
			b.Stale = start + int64(stale)
		}
		if b.Count == 0 {
			continue
		}
		first, ok1 := r.uvarint()
		last, ok2 := r.uvarint()
		if !ok1 || !ok2 || first == 0 || first > uint64(res) || last >= uint64(res) {
			return fail("bucket %d times", i)
		}
		b.FirstT, b.LastT = start+int64(first), b.End-int64(last)
		if b.LastT < b.FirstT {
			return fail("bucket %d last before first", i)
		}
		withValues = append(withValues, i)
	}
	var dec chunk.Decoder
	var ts []int64
	var vs []float64
	for c := range numColumns {
		ts, vs = ts[:0], vs[:0]
		for len(vs) < len(withValues) {
			l, ok := r.uvarint()
			if !ok || l > uint64(len(r.b)) {
				return fail("column %d length", c)
			}
			var err error
			if ts, vs, err = dec.DecodeFloats(ts, vs, r.b[:l]); err != nil {
				return fail("column %d: %v", c, err)
			}
			r.b = r.b[l:]
		}
		if len(vs) != len(withValues) {
			return fail("column %d has %d values for %d buckets", c, len(vs), len(withValues))
		}
		for k, i := range withValues {
			if ts[k] != int64(k) {
				return fail("column %d index %d for value %d", c, ts[k], k)
			}
			*column(&bs[i], c) = vs[k]
		}
	}
	if len(r.b) != 0 {
		return fail("%d trailing bytes", len(r.b))
	}
	return dst, nil
}

// reader reads varints from a byte slice.
type reader struct{ b []byte }

func (r *reader) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, false
	}
	r.b = r.b[n:]
	return v, true
}

func (r *reader) varint() (int64, bool) {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		return 0, false
	}
	r.b = r.b[n:]
	return v, true
}
