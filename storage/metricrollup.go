package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// Rollups: a block flush writes, per series with float samples, one key
// per rollup tier holding the tier's buckets of the block's samples
// (tsdb.AppendRollup; the first and last bucket partial where the block
// edges cut them). A select at a rollup resolution answers per series one
// rollup record: the stored buckets of the flushed blocks, merged with the
// buckets rolled up on the spot from the raw samples of blocks that have
// none yet (the head's, or a block reopened by late samples). A series
// with native histograms in those raw samples is answered raw.

// rollupTier is one rollup resolution: its key kind, space and bucket.
type rollupTier struct {
	kind byte
	sp   space
	res  int64 // ms
}

var rollupTiers = [...]rollupTier{
	{kindRollup5m, spaceRollup5m, tsdb.Res5m},
	{kindRollup1h, spaceRollup1h, tsdb.Res1h},
}

// tierOf returns the tier of a resolution; ok is false for raw.
func tierOf(r starlingpb.Resolution) (rollupTier, bool) {
	switch r {
	case starlingpb.Resolution_RESOLUTION_5M:
		return rollupTiers[0], true
	case starlingpb.Resolution_RESOLUTION_1H:
		return rollupTiers[1], true
	}
	return rollupTier{}, false
}

// ResolutionDuration is the bucket of a resolution (0 for raw).
func ResolutionDuration(r starlingpb.Resolution) time.Duration {
	if t, ok := tierOf(r); ok {
		return time.Duration(t.res) * time.Millisecond
	}
	return 0
}

// rollupWriter writes, at one block flush of a partition, each series'
// rollup keys, and its index entries into the tier windows of the block
// that do not hold them yet.
type rollupWriter struct {
	s       *Store
	p       uint32
	block   int64
	main    *badger.Txn // the block's main window: series definitions
	tiers   [len(rollupTiers)]*badger.Txn
	wins    [len(rollupTiers)]int64
	held    []*window
	buckets []tsdb.Bucket
	key     []byte
	value   []byte
}

func (s *Store) newRollupWriter(p uint32, block int64, main *badger.Txn) *rollupWriter {
	rw := &rollupWriter{s: s, p: p, block: block, main: main}
	for i, t := range rollupTiers {
		rw.wins[i] = windowOfMs(block, int64(s.cfg.windowLength(t.sp)/time.Second))
		ws := s.acquireSpace(starlingpb.Signal_SIGNAL_METRICS, t.sp, block*1e6, block*1e6)
		rw.held = append(rw.held, ws...)
		for _, w := range ws {
			if w.start == rw.wins[i] {
				rw.tiers[i] = w.db(p).NewTransactionAt(^uint64(0), false)
			}
		}
	}
	return rw
}

func (rw *rollupWriter) close() {
	for _, txn := range rw.tiers {
		if txn != nil {
			txn.Discard()
		}
	}
	releaseAll(rw.held)
}

// append appends the rollup entries of series hash's float samples of the
// block (sorted) to out.
func (rw *rollupWriter) append(out []byte, hash uint64, samples []tsdb.Sample) ([]byte, error) {
	var def []byte
	var ls []tsdb.Label
	for i, t := range rollupTiers {
		rw.buckets = tsdb.AppendRollup(rw.buckets[:0], samples, t.res)
		rw.value = tsdb.AppendRollupValue(rw.value[:0], rw.buckets, t.res)
		rw.key = rollupKey(rw.key[:0], rw.p, t.kind, hash, rw.block)
		out = appendEntry(out, rw.wins[i], rw.key, rw.value)
		ix := indexOf(t.sp)
		if rw.tiers[i] != nil {
			if _, err := rw.tiers[i].Get(ix.seriesKey(rw.key[:0], rw.p, hash)); err == nil {
				continue // indexed
			} else if err != badger.ErrKeyNotFound {
				return out, err
			}
		}
		if def == nil && rw.main != nil {
			var err error
			if def, err = getValue(rw.main, seriesKey(nil, rw.p, hash)); err != nil {
				return out, err
			}
			if def != nil {
				if ls, err = decodeSeriesDef(def); err != nil {
					def = nil
				}
			}
		}
		if def == nil {
			continue // no definition to index (it should not happen)
		}
		out, rw.key = appendSeriesIndex(out, rw.key, ix, rw.wins[i], rw.p, hash, def, ls)
	}
	return out, nil
}

// storedRollups reads, per series of found, the stored rollup buckets of
// the tier for the blocks that may hold buckets ending in [from, to]:
// blocks[i] maps a block start to its buckets.
func (s *Store) storedRollups(p uint32, t rollupTier, found []matched, from, to int64) ([]map[int64][]tsdb.Bucket, error) {
	out := make([]map[int64][]tsdb.Bucket, len(found))
	blockMs := s.blockMs()
	// A block [S, S+len) holds buckets ending in [S, S+len].
	first := floorTo(from, blockMs) - blockMs
	ws := s.acquireSpace(starlingpb.Signal_SIGNAL_METRICS, t.sp, startNs(first), endNs(to))
	defer releaseAll(ws)
	for _, w := range ws {
		err := w.db(p).View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: appendHeader(nil, p, t.kind)})
			defer it.Close()
			var seek []byte
			for i, m := range found {
				prefix := appendFixed64(appendHeader(seek[:0:0], p, t.kind), m.hash)
				seek = appendFixed64(append(seek[:0], prefix...), sortableTime(first))
				for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
					k := it.Item().Key()
					if len(k) != rollupKeyLen {
						continue
					}
					block := timeOfSortable(binary.BigEndian.Uint64(k[headerLen+8:]))
					if block > to {
						break
					}
					var bs []tsdb.Bucket
					err := it.Item().Value(func(v []byte) error {
						var err error
						bs, err = tsdb.DecodeRollup(nil, v, t.res)
						return err
					})
					if err != nil {
						return fmt.Errorf("rollup of series %016x block %d: %w", m.hash, block, err)
					}
					if out[i] == nil {
						out[i] = map[int64][]tsdb.Bucket{}
					}
					out[i][block] = bs
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// selectRollups answers a select at a rollup resolution for the series
// found: per series its definition and a rollup record of the buckets
// ending in the range widened to whole buckets, or its raw chunks when
// the unrolled samples hold histograms.
func (s *Store) selectRollups(ws []*window, p uint32, t rollupTier, q *starlingpb.SeriesSelect, found []matched, head *tsdb.Head, out *starlingpb.ResultChunk) error {
	from := bucketEndOf(q.GetStartMs(), t.res)
	to := bucketEndOf(q.GetEndMs(), t.res)
	mint, maxt := from-t.res+1, to // the samples of those buckets
	stored, err := s.storedRollups(p, t, found, from, to)
	if err != nil {
		return err
	}
	blockMs := s.blockMs()
	// Raw reads: the head's samples, then the chunks of every block with
	// no rollup stored or reopened in the head.
	heads := make([][]tsdb.Sample, len(found))
	hheads := make([][]tsdb.HistogramSample, len(found))
	raw := make([]map[int64]bool, len(found))
	for i, m := range found {
		if head != nil {
			heads[i], hheads[i] = head.Read(m.hash, mint, maxt, nil, nil)
		}
		raw[i] = map[int64]bool{}
		for _, smp := range heads[i] {
			raw[i][floorTo(smp.T, blockMs)] = true
		}
		for _, h := range hheads[i] {
			raw[i][floorTo(h.T, blockMs)] = true
		}
	}
	chunks := make([][]*starlingpb.Record, len(found))
	skip := func(i int, block int64) bool {
		_, rolled := stored[i][block]
		return rolled && !raw[i][block]
	}
	for j := len(ws) - 1; j >= 0; j-- { // oldest first
		if ws[j].space != spaceMain {
			continue
		}
		if err := readChunks(ws[j].shardOf(p), p, found, mint, maxt, blockMs, chunks, skip); err != nil {
			return err
		}
	}
	var sc headScratch
	for i, m := range found {
		out.Records = append(out.Records, &starlingpb.Record{Key: seriesKey(nil, p, m.hash), Value: m.def})
		vals := make([][]byte, len(chunks[i]))
		for k, c := range chunks[i] {
			vals[k] = c.Value
		}
		floats, hists, err := DecodeChunks(vals)
		if err != nil {
			return fmt.Errorf("chunks of series %016x: %w", m.hash, err)
		}
		floats = tsdb.MergeSamples(floats, heads[i])
		if len(hists) > 0 || len(hheads[i]) > 0 {
			out.Records = append(out.Records, chunks[i]...)
			if out.Records, err = appendHeadChunks(out.Records, p, m.hash, heads[i], hheads[i], &sc); err != nil {
				return err
			}
			continue
		}
		// Buckets block by block, oldest first: stored ones where the
		// block is rolled up and untouched since, the raw samples' else.
		blocks := make([]int64, 0, len(stored[i]))
		for b := range stored[i] {
			if !raw[i][b] {
				blocks = append(blocks, b)
			}
		}
		for _, smp := range floats {
			if b := floorTo(smp.T, blockMs); len(blocks) == 0 || blocks[len(blocks)-1] != b {
				blocks = append(blocks, b)
			}
		}
		slices.Sort(blocks)
		blocks = slices.Compact(blocks)
		lists := make([][]tsdb.Bucket, 0, len(blocks))
		for _, b := range blocks {
			if bs, ok := stored[i][b]; ok && !raw[i][b] {
				lists = append(lists, bs)
				continue
			}
			lo, _ := slices.BinarySearchFunc(floats, b, func(s tsdb.Sample, t int64) int { return cmpInt64(s.T, t) })
			hi, _ := slices.BinarySearchFunc(floats, b+blockMs, func(s tsdb.Sample, t int64) int { return cmpInt64(s.T, t) })
			lists = append(lists, tsdb.AppendRollup(nil, floats[lo:hi], t.res))
		}
		merged := tsdb.MergeBuckets(lists...)
		lo, _ := slices.BinarySearchFunc(merged, from, func(b tsdb.Bucket, t int64) int { return cmpInt64(b.End, t) })
		hi, _ := slices.BinarySearchFunc(merged, to+1, func(b tsdb.Bucket, t int64) int { return cmpInt64(b.End, t) })
		v := tsdb.AppendRollupValue(nil, merged[lo:hi], t.res)
		out.Records = append(out.Records, &starlingpb.Record{Key: rollupKey(nil, p, t.kind, m.hash, 0), Value: v})
	}
	return nil
}

// bucketEndOf is the end of the bucket of resolution res holding t.
func bucketEndOf(t, res int64) int64 {
	return floorTo(t-1, res) + res
}

// floorTo rounds t down to a multiple of d (negative times included).
func floorTo(t, d int64) int64 {
	r := t % d
	if r < 0 {
		r += d
	}
	return t - r
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// indexWindows returns the windows whose series index answers a metrics
// read of [startNs, endNs], newest first: the main space's and, where the
// range reaches before the oldest main window (raw data expired while
// rollups are kept), rollup space sp's.
func (s *Store) indexWindows(startNs, endNs int64, sp space) []*window {
	ws := s.acquire(starlingpb.Signal_SIGNAL_METRICS, startNs, endNs)
	main := s.space(starlingpb.Signal_SIGNAL_METRICS, spaceMain)
	oldest := int64(math.MaxInt64)
	main.mu.RLock()
	for start := range main.windows {
		oldest = min(oldest, start*1e9)
	}
	main.mu.RUnlock()
	if startNs >= oldest {
		return ws
	}
	ws = append(ws, s.acquireSpace(starlingpb.Signal_SIGNAL_METRICS, sp, startNs, endNs)...)
	slices.SortStableFunc(ws, func(a, b *window) int { return cmpInt64(b.start, a.start) })
	return ws
}

// RollupStats is what a rollup pass wrote.
type RollupStats struct {
	Blocks  int // blocks rolled up (marked)
	Series  int // series-blocks with float samples rolled up
	Samples int // samples read
}

// maxRollupBlocks bounds the blocks of one rollup pass: a day of 2 h
// blocks.
const maxRollupBlocks = 12

// RollupEntries returns the entries of one rollup pass of partition p:
// the rollups of the flushed blocks that end by upTo (ms) and have none
// yet, read from their chunks, oldest first and at most maxRollupBlocks,
// with each block's mark. The caller keeps upTo at or before the head's
// oldest open block: a block still in the head has no chunks yet.
func (s *Store) RollupEntries(ctx context.Context, p uint32, upTo int64) ([]byte, RollupStats, error) {
	var st RollupStats
	var out []byte
	blockMs := s.blockMs()
	ws := s.acquire(starlingpb.Signal_SIGNAL_METRICS, math.MinInt64, endNs(upTo))
	defer releaseAll(ws)
	for i := len(ws) - 1; i >= 0 && st.Blocks < maxRollupBlocks; i-- { // oldest first
		w := ws[i]
		txn := w.db(p).NewTransactionAt(^uint64(0), false)
		start := w.start * 1000
		end := min(start+s.cfg.Window.Milliseconds(), upTo)
		var pending []int64
		for b := start; b+blockMs <= end && st.Blocks+len(pending) < maxRollupBlocks; b += blockMs {
			if _, err := txn.Get(rollupMarkKey(nil, p, b)); err == badger.ErrKeyNotFound {
				pending = append(pending, b)
			} else if err != nil {
				txn.Discard()
				return nil, st, err
			}
		}
		if len(pending) > 0 {
			var err error
			out, err = s.rollupBlocks(ctx, txn, out, p, w.start, pending, &st)
			if err != nil {
				txn.Discard()
				return nil, st, err
			}
		}
		txn.Discard()
	}
	return out, st, ctx.Err()
}

// rollupBlocks appends the rollups of blocks (sorted, of one window of
// partition p, read through txn) and their marks to out.
func (s *Store) rollupBlocks(ctx context.Context, txn *badger.Txn, out []byte, p uint32, win int64, blocks []int64, st *RollupStats) ([]byte, error) {
	blockMs := s.blockMs()
	first, last := blocks[0], blocks[len(blocks)-1]+blockMs
	writers := map[int64]*rollupWriter{}
	for _, b := range blocks {
		writers[b] = s.newRollupWriter(p, b, txn)
		defer writers[b].close()
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: appendHeader(nil, p, kindChunk)})
	defer it.Close()
	var cur uint64
	chunks := map[int64][][]byte{} // block → chunks of the current series
	finish := func() error {
		for _, b := range blocks {
			cs := chunks[b]
			if len(cs) == 0 {
				continue
			}
			floats, _, err := DecodeChunks(cs)
			if err != nil {
				return fmt.Errorf("chunks of series %016x: %w", cur, err)
			}
			if len(floats) > 0 {
				if out, err = writers[b].append(out, cur, floats); err != nil {
					return err
				}
				st.Series++
				st.Samples += len(floats)
			}
			chunks[b] = cs[:0]
		}
		return ctx.Err()
	}
	var seek []byte
	for it.Rewind(); it.Valid(); {
		k := it.Item().Key()
		if len(k) != chunkKeyLen {
			it.Next()
			continue
		}
		h, minT := keySeries(k), chunkMinTime(k)
		if h != cur {
			if err := finish(); err != nil {
				return nil, err
			}
			cur = h
		}
		switch b := floorTo(minT, blockMs); {
		case minT < first:
			seek = appendFixed64(chunkPrefix(seek[:0], p, h), sortableTime(first))
			it.Seek(seek)
			continue
		case minT >= last:
			it.Seek(prefixEnd(chunkPrefix(seek[:0], p, h)))
			continue
		case writers[b] != nil:
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return nil, err
			}
			chunks[b] = append(chunks[b], v)
		}
		it.Next()
	}
	if err := finish(); err != nil {
		return nil, err
	}
	var key []byte
	for _, b := range blocks {
		key = rollupMarkKey(key[:0], p, b)
		out = appendEntry(out, win, key, nil)
		st.Blocks++
	}
	return out, nil
}
