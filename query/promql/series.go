package promql

import (
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
	"github.com/starling-otel/starling/storage/tsdb/chunk"
)

// series is one selected series: its labels and chunks, or the samples
// synthesized from its rollup buckets.
type series struct {
	lset    labels.Labels
	chunks  [][]byte
	rolled  bool
	samples []tsdb.Sample
}

func (s *series) Labels() labels.Labels { return s.lset }

// Iterator returns an iterator over the series' samples. Chunks that do not
// overlap (the usual case: one per block, then the head's) are read one
// after the other without decoding ahead; overlapping ones (a block being
// flushed, a copy that got chunks by handoff) are merged first.
func (s *series) Iterator(reuse chunkenc.Iterator) chunkenc.Iterator {
	if s.rolled {
		it, ok := reuse.(*listIterator)
		if !ok {
			it = &listIterator{}
		}
		it.reset(s.samples, nil, nil)
		it.seeker.seek = it.seekTo
		return it
	}
	if disjoint(s.chunks) {
		it, ok := reuse.(*chainIterator)
		if !ok {
			it = &chainIterator{}
			it.seeker.seek = it.seekTo
		}
		it.reset(s.chunks)
		return it
	}
	floats, hists, err := storage.DecodeChunks(s.chunks)
	it, ok := reuse.(*listIterator)
	if !ok {
		it = &listIterator{}
	}
	it.reset(floats, hists, err)
	it.seeker.seek = it.seekTo
	return it
}

// seeker gives an iterator its Seek method. It is generic for one reason:
// go vet's stdmethods check flags a Seek(int64) that is not io.Seeker's,
// and chunkenc.Iterator's Seek(int64) ValueType is not; the check does not
// see a type parameter as int64 (as storage/tsdb/chunk.Iterator does).
type seeker[T ~int64] struct {
	seek func(int64) chunkenc.ValueType
}

// Seek advances to the first sample at or after t (never backwards).
func (s seeker[T]) Seek(t T) chunkenc.ValueType { return s.seek(int64(t)) }

// disjoint reports whether chunks are in time order without overlap.
func disjoint(chunks [][]byte) bool {
	last := int64(0)
	for i, c := range chunks {
		minT, maxT, err := chunk.TimeRange(c)
		if err != nil {
			return false // let the merge report it
		}
		if i > 0 && minT <= last {
			return false
		}
		last = maxT
	}
	return true
}

// chainIterator iterates disjoint chunks one after the other.
type chainIterator struct {
	seeker[int64]
	chunks [][]byte
	i      int
	cur    chunk.Iterator
	vt     chunkenc.ValueType
	err    error
}

func (c *chainIterator) reset(chunks [][]byte) {
	c.chunks, c.i, c.err, c.vt = chunks, -1, nil, chunkenc.ValNone
	c.nextChunk()
}

// nextChunk moves to the next chunk; false at the end or on error.
func (c *chainIterator) nextChunk() bool {
	c.i++
	if c.i >= len(c.chunks) {
		return false
	}
	if err := c.cur.Reset(c.chunks[c.i]); err != nil {
		c.err = err
		c.i = len(c.chunks)
		return false
	}
	return true
}

func (c *chainIterator) Next() chunkenc.ValueType {
	for c.i < len(c.chunks) {
		if c.vt = c.cur.Next(); c.vt != chunkenc.ValNone {
			return c.vt
		}
		if c.err = c.cur.Err(); c.err != nil {
			c.i = len(c.chunks)
			break
		}
		if !c.nextChunk() {
			break
		}
	}
	c.vt = chunkenc.ValNone
	return c.vt
}

func (c *chainIterator) seekTo(t int64) chunkenc.ValueType {
	if c.vt != chunkenc.ValNone && c.cur.AtT() >= t {
		return c.vt
	}
	for c.i < len(c.chunks) {
		_, maxT, err := chunk.TimeRange(c.chunks[c.i])
		if err == nil && maxT >= t {
			if c.vt = c.cur.Seek(t); c.vt != chunkenc.ValNone {
				return c.vt
			}
			if c.err = c.cur.Err(); c.err != nil {
				break
			}
		}
		if !c.nextChunk() {
			break
		}
	}
	c.vt = chunkenc.ValNone
	return c.vt
}

func (c *chainIterator) At() (int64, float64) { return c.cur.At() }
func (c *chainIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	return c.cur.AtHistogram(h)
}
func (c *chainIterator) AtFloatHistogram(h *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	return c.cur.AtFloatHistogram(h)
}
func (c *chainIterator) AtT() int64  { return c.cur.AtT() }
func (c *chainIterator) AtST() int64 { return 0 }
func (c *chainIterator) Err() error  { return c.err }

// listIterator iterates decoded samples: floats and histograms, merged in
// time order.
type listIterator struct {
	seeker[int64]
	floats []tsdb.Sample
	hists  []tsdb.HistogramSample
	fi, hi int  // next unread
	onF    bool // the current sample is floats[fi-1], else hists[hi-1]
	vt     chunkenc.ValueType
	err    error
}

func (l *listIterator) reset(f []tsdb.Sample, h []tsdb.HistogramSample, err error) {
	*l = listIterator{seeker: l.seeker, floats: f, hists: h, err: err}
	if err != nil {
		l.floats, l.hists = nil, nil
	}
}

func (l *listIterator) Next() chunkenc.ValueType {
	switch {
	case l.fi < len(l.floats) && (l.hi >= len(l.hists) || l.floats[l.fi].T <= l.hists[l.hi].T):
		l.fi++
		l.onF, l.vt = true, chunkenc.ValFloat
	case l.hi < len(l.hists):
		l.hi++
		l.onF = false
		l.vt = chunkenc.ValFloatHistogram
		if l.hists[l.hi-1].H != nil {
			l.vt = chunkenc.ValHistogram
		}
	default:
		l.vt = chunkenc.ValNone
	}
	return l.vt
}

func (l *listIterator) seekTo(t int64) chunkenc.ValueType {
	if l.vt != chunkenc.ValNone && l.AtT() >= t {
		return l.vt
	}
	for l.Next() != chunkenc.ValNone {
		if l.AtT() >= t {
			return l.vt
		}
	}
	return chunkenc.ValNone
}

func (l *listIterator) At() (int64, float64) {
	s := l.floats[l.fi-1]
	return s.T, s.V
}

func (l *listIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	s := l.hists[l.hi-1]
	if h == nil {
		return s.T, s.H.Copy()
	}
	s.H.CopyTo(h)
	return s.T, h
}

func (l *listIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	s := l.hists[l.hi-1]
	src := s.FH
	if s.H != nil {
		src = s.H.ToFloat(nil)
	}
	if fh == nil {
		return s.T, src.Copy()
	}
	src.CopyTo(fh)
	return s.T, fh
}

func (l *listIterator) AtT() int64 {
	if l.onF {
		return l.floats[l.fi-1].T
	}
	return l.hists[l.hi-1].T
}

func (l *listIterator) AtST() int64 { return 0 }
func (l *listIterator) Err() error  { return l.err }
