package storage

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
	"github.com/starling-otel/starling/storage/tsdb/chunk"
)

// MaxChunkSamples bounds the samples of one chunk: a block's samples of a
// series past it are cut into several chunks (2 h at 15 s is 480 samples,
// one chunk; at 1 s, 7,200 samples, eight).
const MaxChunkSamples = 1024

// FlushStats is what one block flush wrote.
type FlushStats struct {
	Series  int // series flushed
	Samples int // samples in the chunks written (stored ones merged in included)
	Chunks  int // chunk keys written
	Merged  int // series whose stored chunks were merged and rewritten
	Bytes   int // bytes of chunk values written
	Rollups int // series whose rollups were written
	// RollupSamples are the samples rolled up anew (a block that has its
	// rollups already, reopened by late samples).
	RollupSamples int
}

// FlushEntries returns the entries of the first commit of a block flush
// of partition p: every series' samples of the block, merged with the
// chunks already stored for it in the block (a block reopened by late
// samples, or replayed after a restart), as chunk keys; deletions of the
// stored chunks they replace; for a block rolled up already, the rollups
// of the merged float samples. The block must be flushing (tsdb.Head.Due).
func (s *Store) FlushEntries(ctx context.Context, p uint32, b *tsdb.Block) ([]byte, FlushStats, error) {
	var st FlushStats
	startNs := b.Start * 1e6
	ws := s.acquire(starlingpb.Signal_SIGNAL_METRICS, startNs, startNs)
	defer releaseAll(ws)
	win := windowOfMs(b.Start, s.WindowSeconds())
	// Chunks take about 1.5-7 bytes a sample, and a key with its entry
	// header about 50 bytes: sized once, out is not copied as it grows.
	out := make([]byte, 0, b.Samples()*4+b.SeriesCount()*64)
	var txn *badger.Txn
	var it *badger.Iterator
	if len(ws) > 0 {
		txn = ws[0].db(p).NewTransactionAt(^uint64(0), false)
		defer txn.Discard()
		it = txn.NewIterator(badger.IteratorOptions{Prefix: appendHeader(nil, p, kindChunk)})
		defer it.Close()
	}
	// A block rolled up already gets its rollups anew from the merged
	// samples; the others get theirs from a rollup pass once they are old
	// enough (RollupEntries).
	var rw *rollupWriter
	if txn != nil {
		if _, err := txn.Get(rollupMarkKey(nil, p, b.Start)); err == nil {
			rw = s.newRollupWriter(p, b.Start, txn)
			defer rw.close()
		} else if err != badger.ErrKeyNotFound {
			return nil, st, err
		}
	}
	var key, val, keys []byte
	var written [][]byte
	var ts []int64
	var vs []float64
	var stored []storedChunk
	var old series
	var ci chunk.Iterator
	err := b.EachSeries(func(hash uint64, samples []tsdb.Sample, hists []tsdb.HistogramSample) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		st.Series++
		stored = stored[:0]
		if it != nil {
			var err error
			if stored, err = storedChunks(it, p, hash, b.Start, b.End, stored); err != nil {
				return err
			}
		}
		if len(stored) > 0 {
			st.Merged++
			old.reset()
			for _, c := range stored {
				if err := old.decode(&ci, c.value); err != nil {
					return fmt.Errorf("merge stored chunk of series %016x: %w", hash, err)
				}
			}
			samples = tsdb.MergeSamples(old.floats, samples)
			hists = tsdb.MergeHistograms(old.hists, hists)
		}
		if rw != nil && len(samples) > 0 {
			var err error
			if out, err = rw.append(out, hash, samples); err != nil {
				return fmt.Errorf("rollups of series %016x: %w", hash, err)
			}
			st.Rollups++
			st.RollupSamples += len(samples)
		}
		keys, written = keys[:0], written[:0]
		emit := func(v []byte, minT int64) {
			key = chunkKey(key[:0], p, hash, minT, uint32(xxhash.Sum64(v)))
			if len(stored) > 0 { // kept to tell the stored chunks it replaces
				keys = append(keys, key...)
				written = append(written, keys[len(keys)-len(key):])
			}
			for _, c := range stored {
				if bytes.Equal(c.key, key) {
					return // the same chunk is stored already
				}
			}
			out = appendEntry(out, win, key, v)
			st.Chunks++
			st.Bytes += len(v)
		}
		for len(samples) > 0 {
			n := min(len(samples), MaxChunkSamples)
			ts, vs = splitSamples(ts[:0], vs[:0], samples[:n])
			val = chunk.AppendFloats(val[:0], ts, vs)
			emit(val, ts[0])
			st.Samples += n
			samples = samples[n:]
		}
		ints, floats := splitHistograms(hists)
		for _, part := range [][]tsdb.HistogramSample{ints, floats} {
			for len(part) > 0 {
				n := min(len(part), MaxChunkSamples)
				var err error
				if val, err = appendHistogramChunk(val[:0], part[:n]); err != nil {
					return fmt.Errorf("encode histograms of series %016x: %w", hash, err)
				}
				emit(val, part[0].T)
				st.Samples += n
				part = part[n:]
			}
		}
		for _, c := range stored {
			kept := false
			for _, w := range written {
				kept = kept || bytes.Equal(w, c.key)
			}
			if !kept {
				out = appendDelete(out, win, c.key)
			}
		}
		return nil
	})
	return out, st, err
}

type storedChunk struct {
	key, value []byte
}

// storedChunks appends the chunks of series hash whose first sample is in
// [start, end) (a block) to dst, copied.
func storedChunks(it *badger.Iterator, p uint32, hash uint64, start, end int64, dst []storedChunk) ([]storedChunk, error) {
	prefix := chunkPrefix(nil, p, hash)
	for it.Seek(appendFixed64(append([]byte(nil), prefix...), sortableTime(start))); it.ValidForPrefix(prefix); it.Next() {
		k := it.Item().Key()
		if len(k) != chunkKeyLen || chunkMinTime(k) >= end {
			break
		}
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			return dst, err
		}
		dst = append(dst, storedChunk{key: it.Item().KeyCopy(nil), value: v})
	}
	return dst, nil
}

// series is the decoded samples of some chunks of one series.
type series struct {
	floats []tsdb.Sample
	hists  []tsdb.HistogramSample
}

func (s *series) reset() {
	s.floats = s.floats[:0]
	s.hists = s.hists[:0]
}

// decode appends the samples of chunk b (the floats and histograms of
// several chunks come out sorted by MergeSamples and MergeHistograms).
func (s *series) decode(it *chunk.Iterator, b []byte) error {
	if err := it.Reset(b); err != nil {
		return err
	}
	for {
		switch it.Next() {
		case chunkenc.ValNone:
			return it.Err()
		case chunkenc.ValFloat:
			t, v := it.At()
			s.floats = append(s.floats, tsdb.Sample{T: t, V: v})
		case chunkenc.ValHistogram:
			t, h := it.AtHistogram(nil)
			s.hists = append(s.hists, tsdb.HistogramSample{T: t, H: h})
		case chunkenc.ValFloatHistogram:
			t, h := it.AtFloatHistogram(nil)
			s.hists = append(s.hists, tsdb.HistogramSample{T: t, FH: h})
		}
	}
}

func splitSamples(ts []int64, vs []float64, ss []tsdb.Sample) ([]int64, []float64) {
	for _, s := range ss {
		ts, vs = append(ts, s.T), append(vs, s.V)
	}
	return ts, vs
}

// splitHistograms separates integer and float histogram samples.
func splitHistograms(hs []tsdb.HistogramSample) (ints, floats []tsdb.HistogramSample) {
	for _, h := range hs {
		if h.H != nil {
			ints = append(ints, h)
		} else {
			floats = append(floats, h)
		}
	}
	return ints, floats
}

// appendHistogramChunk encodes histogram samples all of one kind.
func appendHistogramChunk(dst []byte, hs []tsdb.HistogramSample) ([]byte, error) {
	ts := make([]int64, len(hs))
	for i, h := range hs {
		ts[i] = h.T
	}
	if hs[0].H != nil {
		v := make([]*histogram.Histogram, len(hs))
		for i, h := range hs {
			v[i] = h.H
		}
		return chunk.AppendHistograms(dst, ts, v)
	}
	v := make([]*histogram.FloatHistogram, len(hs))
	for i, h := range hs {
		v[i] = h.FH
	}
	return chunk.AppendFloatHistograms(dst, ts, v)
}
