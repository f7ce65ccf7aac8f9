package chunk

import (
	"fmt"
	"math"
	"slices"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// Iterator iterates over the samples of one Starling chunk of any encoding
// and implements chunkenc.Iterator, so it plugs into Prometheus' storage and
// PromQL code. Reset points it at another chunk without allocating once its
// buffers have grown, like chunkenc's Iterator(reuse).
//
// Float chunks are decoded in full by Reset (a few ns a sample), so Reset
// reports any corruption and Seek is a binary search. Histogram chunks are
// decoded lazily by chunkenc; Reset validates their framing and layouts, and
// a problem found later ends the iteration with Err wrapping ErrCorrupt.
//
// The zero Iterator is exhausted until Reset. An Iterator must be used by one
// goroutine at a time. For histogram chunks it reads b while iterating, so b
// must not change until the next Reset.
type Iterator struct {
	seekable[int64]
}

// seekable gives Iterator its Seek method. It is generic for one reason: go
// vet's stdmethods check flags any method Seek(int64, ...) that is not
// io.Seeker's, and chunkenc.Iterator's Seek(int64) ValueType, which Iterator
// must implement, is not (it trips the check in chunkenc itself). The check
// does not recognise a type parameter as int64.
type seekable[T ~int64] struct{ iterState }

// iterState is the state and all other methods of Iterator.
type iterState struct {
	enc  Encoding
	meta Meta
	err  error

	// Float chunks: the decoded samples and the current index (−1 before
	// the first Next, len(ts) when exhausted).
	ts  []int64
	vs  []float64
	idx int
	dec Decoder

	// Histogram chunks.
	b        []byte
	parts    []part
	part     int // Index of the part sub iterates; −1 before the first Next.
	sub      chunkenc.Iterator
	subH     chunkenc.Iterator // Reused across parts and Resets.
	subFH    chunkenc.Iterator
	hc       chunkenc.HistogramChunk
	fhc      chunkenc.FloatHistogramChunk
	subRead  int   // Samples read from the current part.
	read     int   // Samples read from the chunk.
	t        int64 // Timestamp of the current histogram sample.
	cur      chunkenc.ValueType
	partHead chunkenc.CounterResetHeader
}

var _ chunkenc.Iterator = (*Iterator)(nil)

// NewIterator returns an Iterator over chunk b.
func NewIterator(b []byte) (*Iterator, error) {
	it := &Iterator{}
	return it, it.Reset(b)
}

// Reset points the iterator at chunk b. On error (wrapping ErrCorrupt) the
// iterator is exhausted and Err returns the same error.
func (it *iterState) Reset(b []byte) error {
	it.ts, it.vs = it.ts[:0], it.vs[:0]
	it.idx = -1
	it.b, it.parts, it.part, it.sub = nil, it.parts[:0], -1, nil
	it.subRead, it.read, it.cur = 0, 0, chunkenc.ValNone
	it.err, it.meta = nil, Meta{}
	meta, r, err := readHeader(b)
	if err != nil {
		return it.fail(err)
	}
	it.meta, it.enc = meta, meta.Encoding
	if meta.Encoding.IsFloat() {
		it.ts = grow(&it.ts, meta.NumSamples)
		it.vs = grow(&it.vs, meta.NumSamples)
		if err := it.dec.decodeFloatBody(&r, meta, it.ts, it.vs); err != nil {
			it.ts, it.vs = it.ts[:0], it.vs[:0]
			return it.fail(err)
		}
		return nil
	}
	it.b = b
	it.parts, err = readParts(it.parts, &r, meta.NumSamples, meta.Encoding == EncFloatHistogram)
	if err != nil {
		it.parts = it.parts[:0]
		return it.fail(err)
	}
	return nil
}

func (it *iterState) fail(err error) error {
	it.err = err
	it.enc = EncNone
	it.idx = 0
	return err
}

// Meta returns the header of the current chunk (zero after a failed Reset).
func (it *iterState) Meta() Meta { return it.meta }

// Next advances to the next sample and returns its type, or ValNone when the
// chunk is exhausted or corrupt (see Err).
func (it *iterState) Next() chunkenc.ValueType {
	if it.enc.IsFloat() {
		if it.idx+1 < len(it.ts) {
			it.idx++
			return chunkenc.ValFloat
		}
		it.idx = len(it.ts)
		return chunkenc.ValNone
	}
	if it.enc == EncNone {
		return chunkenc.ValNone
	}
	return it.nextHistogram()
}

// Seek advances to the first sample with a timestamp ≥ t and returns its
// type. If the current sample already qualifies, Seek does nothing (it
// never moves backwards). If no sample qualifies it returns ValNone and the
// iterator is exhausted.
func (s *seekable[T]) Seek(t T) chunkenc.ValueType { return s.seek(int64(t)) }

func (it *iterState) seek(t int64) chunkenc.ValueType {
	if it.enc.IsFloat() {
		if it.idx >= len(it.ts) {
			return chunkenc.ValNone
		}
		if it.idx < 0 {
			it.idx = 0
		}
		if it.ts[it.idx] < t {
			i, _ := slices.BinarySearch(it.ts[it.idx+1:], t)
			it.idx += 1 + i
			if it.idx >= len(it.ts) {
				it.idx = len(it.ts)
				return chunkenc.ValNone
			}
		}
		return chunkenc.ValFloat
	}
	if it.enc == EncNone {
		return chunkenc.ValNone
	}
	if it.cur == chunkenc.ValNone {
		if it.part >= len(it.parts) {
			return chunkenc.ValNone // Exhausted.
		}
		if it.nextHistogram() == chunkenc.ValNone {
			return chunkenc.ValNone
		}
	}
	for it.t < t {
		if it.nextHistogram() == chunkenc.ValNone {
			return chunkenc.ValNone
		}
	}
	return it.cur
}

// At returns the current float sample. It panics on histogram samples, as
// chunkenc's iterators do.
func (it *iterState) At() (int64, float64) {
	if it.enc.IsFloat() {
		if it.idx < 0 || it.idx >= len(it.ts) {
			return math.MinInt64, 0
		}
		return it.ts[it.idx], it.vs[it.idx]
	}
	if it.cur != chunkenc.ValNone {
		panic("BUG: chunk: Iterator.At on a histogram sample")
	}
	return math.MinInt64, 0
}

// AtT returns the current timestamp.
func (it *iterState) AtT() int64 {
	if it.enc.IsFloat() {
		if it.idx < 0 || it.idx >= len(it.ts) {
			return math.MinInt64
		}
		return it.ts[it.idx]
	}
	return it.t
}

// AtST returns 0: Starling chunks store no start timestamps.
func (*iterState) AtST() int64 { return 0 }

// AtHistogram returns the current integer histogram sample, reusing h when
// not nil. It panics on other sample types, as chunkenc's iterators do.
func (it *iterState) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	if it.cur != chunkenc.ValHistogram {
		panic("BUG: chunk: Iterator.AtHistogram without a current histogram sample")
	}
	t, h := it.sub.AtHistogram(h)
	if it.resetAtPartStart() && !value.IsStaleNaN(h.Sum) {
		h.CounterResetHint = histogram.CounterReset
	}
	return t, h
}

// AtFloatHistogram returns the current histogram sample as a float
// histogram (integer histograms are converted), reusing fh when not nil. It
// panics on float samples, as chunkenc's iterators do.
func (it *iterState) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	if it.cur != chunkenc.ValHistogram && it.cur != chunkenc.ValFloatHistogram {
		panic("BUG: chunk: Iterator.AtFloatHistogram without a current histogram sample")
	}
	t, fh := it.sub.AtFloatHistogram(fh)
	if it.resetAtPartStart() && !value.IsStaleNaN(fh.Sum) {
		fh.CounterResetHint = histogram.CounterReset
	}
	return t, fh
}

// Err returns the error that ended the iteration, if any.
func (it *iterState) Err() error { return it.err }

// resetAtPartStart reports whether the current sample starts a part that
// chunkenc cut because of a counter reset. chunkenc reports such a sample as
// UnknownCounterReset because it cannot know that the previous chunk is
// adjacent; inside one Starling chunk it is.
func (it *iterState) resetAtPartStart() bool {
	return it.part > 0 && it.subRead == 1 && it.partHead == chunkenc.CounterReset
}

func (it *iterState) nextHistogram() chunkenc.ValueType {
	for {
		if it.sub != nil {
			if vt := it.sub.Next(); vt != chunkenc.ValNone {
				t := it.sub.AtT()
				it.subRead++
				it.read++
				switch {
				case it.read == 1 && t != it.meta.MinTime:
					return it.corrupt(fmt.Errorf("first timestamp %d, header says %d", t, it.meta.MinTime))
				case it.read > 1 && t <= it.t:
					return it.corrupt(fmt.Errorf("timestamps not increasing at sample %d", it.read-1))
				case it.read == it.meta.NumSamples && t != it.meta.MaxTime:
					return it.corrupt(fmt.Errorf("last timestamp %d, header says %d", t, it.meta.MaxTime))
				}
				it.t, it.cur = t, vt
				return vt
			}
			if err := it.sub.Err(); err != nil {
				return it.corrupt(err)
			}
		}
		it.part++
		if it.part >= len(it.parts) {
			it.part = len(it.parts)
			it.cur, it.sub = chunkenc.ValNone, nil
			return chunkenc.ValNone
		}
		p := it.parts[it.part]
		pb := it.b[p.off : p.off+p.len : p.off+p.len]
		it.partHead = chunkenc.CounterResetHeader(pb[2] & chunkenc.CounterResetHeaderMask)
		it.subRead = 0
		if it.enc == EncHistogram {
			it.hc.Reset(pb)
			it.subH = it.hc.Iterator(it.subH)
			it.sub = it.subH
		} else {
			it.fhc.Reset(pb)
			it.subFH = it.fhc.Iterator(it.subFH)
			it.sub = it.subFH
		}
	}
}

func (it *iterState) corrupt(err error) chunkenc.ValueType {
	it.err = fmt.Errorf("%w: histogram sample %d: %w", ErrCorrupt, it.read, err)
	it.enc = EncNone
	it.cur, it.sub = chunkenc.ValNone, nil
	return chunkenc.ValNone
}
