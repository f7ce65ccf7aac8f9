package storage

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/dgraph-io/badger/v4"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
	"github.com/starling-otel/starling/storage/tsdb/chunk"
)

// A series select reads one partition: the postings of each window it
// touches give the candidate series of the matchers that select values
// (an equality, or a regex or inequality that rejects the empty value);
// their definitions are checked against every matcher; then each matched
// series' chunks overlapping the time range are read, and the head's
// samples of the range are added as one more chunk. The answer is, per
// series, a series record (its definition) followed by chunk records.

// Matchers turns protobuf matchers into Prometheus matchers (regexes
// compiled), or an error naming the bad one.
func Matchers(ms []*starlingpb.LabelMatcher) ([]*labels.Matcher, error) {
	out := make([]*labels.Matcher, 0, len(ms))
	for _, m := range ms {
		var t labels.MatchType
		switch m.GetType() {
		case starlingpb.LabelMatcher_TYPE_EQUAL:
			t = labels.MatchEqual
		case starlingpb.LabelMatcher_TYPE_NOT_EQUAL:
			t = labels.MatchNotEqual
		case starlingpb.LabelMatcher_TYPE_REGEX:
			t = labels.MatchRegexp
		case starlingpb.LabelMatcher_TYPE_NOT_REGEX:
			t = labels.MatchNotRegexp
		default:
			return nil, fmt.Errorf("matcher type %v: %w", m.GetType(), ErrCorrupt)
		}
		lm, err := labels.NewMatcher(t, m.GetName(), m.GetValue())
		if err != nil {
			return nil, fmt.Errorf("matcher %s%s%q: %w", m.GetName(), t, m.GetValue(), err)
		}
		out = append(out, lm)
	}
	return out, nil
}

// matched is one series a select found.
type matched struct {
	hash   uint64
	def    []byte // the series definition value
	labels []tsdb.Label
}

// SelectSeries appends to out the series of partition p matching every
// matcher of q with data in [q.StartMs, q.EndMs] (by window), at most
// limit series (0: no limit): each one's definition record and, unless
// q.LabelsOnly, its chunks overlapping the range, stored and from head
// (nil: none).
func (s *Store) SelectSeries(ctx context.Context, p uint32, q *starlingpb.SeriesSelect, limit int, head *tsdb.Head, out *starlingpb.ResultChunk) error {
	ms, err := Matchers(q.GetMatchers())
	if err != nil {
		return err
	}
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	ws, t, rolled := s.selectWindows(q)
	defer releaseAll(ws)
	found, err := s.selectMatched(ctx, ws, p, ms, limit)
	if err != nil || len(found) == 0 {
		return err
	}
	if rolled {
		if err := s.selectRollups(ws, p, t, q, found, head, out); err != nil {
			return err
		}
		return ctx.Err()
	}
	if q.GetLabelsOnly() {
		for _, m := range found {
			out.Records = append(out.Records, &starlingpb.Record{Key: seriesKey(nil, p, m.hash), Value: m.def})
		}
		return ctx.Err()
	}
	// The head before the stored chunks: a block the head no longer holds
	// was flushed, its chunks committed (and the read cache's generation
	// moved) before; read the other way round, a flush in between would
	// hide the block from both. A block read from both is the same samples.
	heads := make([][]*starlingpb.Record, len(found))
	if head != nil {
		var sc headScratch
		for i, m := range found {
			if heads[i], err = sc.records(head, p, m.hash, q.GetStartMs(), q.GetEndMs()); err != nil {
				return err
			}
		}
	}
	chunks := make([][]*starlingpb.Record, len(found))
	for i := len(ws) - 1; i >= 0; i-- { // oldest first
		if ws[i].space != spaceMain {
			continue
		}
		if err := readChunks(ws[i].shardOf(p), p, found, q.GetStartMs(), q.GetEndMs(), s.blockMs(), chunks, nil); err != nil {
			return err
		}
	}
	for i, m := range found {
		out.Records = append(out.Records, &starlingpb.Record{Key: seriesKey(nil, p, m.hash), Value: m.def})
		out.Records = append(out.Records, chunks[i]...)
		out.Records = append(out.Records, heads[i]...) // last: the head's samples win
	}
	return ctx.Err()
}

// selectWindows acquires the windows whose indexes a select of q reads,
// newest first, and says whether it reads rollups of tier t.
func (s *Store) selectWindows(q *starlingpb.SeriesSelect) (ws []*window, t rollupTier, rolled bool) {
	startMs, endMs := q.GetStartMs(), q.GetEndMs()
	t, rolled = tierOf(q.GetResolution())
	rolled = rolled && !q.GetLabelsOnly()
	sp := spaceRollup1h // the longest kept index, for series of expired raw data
	if rolled {
		sp = t.sp
		startMs, endMs = bucketEndOf(startMs, t.res)-t.res+1, bucketEndOf(endMs, t.res)
	}
	return s.indexWindows(startNs(startMs), endNs(endMs), sp), t, rolled
}

// MayHoldSeries reports, for each partition of ps, whether it may hold
// series that q selects. It is false only when q names its metric
// (__name__="…") and no window of q's range holds a marker of that name
// in the partition: exactly the first test of SelectSeries, from the
// in-memory marker sets, so that a reader may skip asking the partition
// at all. Safe for concurrent use.
func (s *Store) MayHoldSeries(q *starlingpb.SeriesSelect, ps []uint32) []bool {
	may := make([]bool, len(ps))
	name := ""
	for _, m := range q.GetMatchers() {
		if m.GetName() == tsdb.MetricNameLabel && m.GetType() == starlingpb.LabelMatcher_TYPE_EQUAL {
			name = m.GetValue()
			break
		}
	}
	if name == "" {
		for i := range may {
			may[i] = true
		}
		return may
	}
	ws, _, _ := s.selectWindows(q)
	defer releaseAll(ws)
	for i, p := range ps {
		for _, w := range ws {
			if sh := w.shardOf(p); sh.markers.has(sh.db, p, indexOf(w.space).marker, name) {
				may[i] = true
				break
			}
		}
	}
	return may
}

// startNs and endNs turn a millisecond bound into nanoseconds, saturating
// instead of overflowing: the Prometheus API's default range is
// [math.MinInt64/2, math.MaxInt64/2] milliseconds.
func startNs(startMs int64) int64 {
	if startMs < math.MinInt64/1_000_000 {
		return math.MinInt64
	}
	return startMs * 1e6
}

func endNs(endMs int64) int64 {
	if endMs > math.MaxInt64/1_000_000 {
		return math.MaxInt64
	}
	return endMs * 1e6
}

func (s *Store) blockMs() int64 { return BlockDuration(s.cfg.Window).Milliseconds() }

// selectMatched finds the series matching ms in windows ws of partition p,
// sorted by hash, with their labels from the newest window.
func (s *Store) selectMatched(ctx context.Context, ws []*window, p uint32, ms []*labels.Matcher, limit int) ([]matched, error) {
	var found []matched
	seen := map[uint64]bool{}
	name := metricNameMatch(ms)
	var key string         // the cache key of ms, once needed
	for _, w := range ws { // newest first
		ix := indexOf(w.space)
		sh := w.shardOf(p)
		if name != "" && !sh.markers.has(sh.db, p, ix.marker, name) {
			continue // no series of the name here
		}
		if limit > 0 {
			// A limited select stops reading early: not cached.
			var err error
			if found, err = readMatched(ctx, sh.db, ix, p, ms, limit, seen, found); err != nil {
				return nil, err
			}
			continue
		}
		if key == "" {
			key = matchersKey(ms)
		}
		k := selectionKey{p: p, kind: ix.series, matchers: key}
		got, gen, ok := sh.cache.selection(k)
		if !ok {
			var err error
			if got, err = readMatched(ctx, sh.db, ix, p, ms, 0, nil, nil); err != nil {
				return nil, err
			}
			sh.cache.putSelection(k, gen, got)
		}
		for _, m := range got {
			if !seen[m.hash] {
				seen[m.hash] = true
				found = append(found, m)
			}
		}
	}
	slices.SortFunc(found, func(a, b matched) int { return cmpUint64(a.hash, b.hash) })
	return found, nil
}

// readMatched appends to found the series of partition p in db matching
// every matcher of ms, at most limit in all (0: no limit), skipping and
// adding to seen (if not nil) the series seen before.
func readMatched(ctx context.Context, db *badger.DB, ix indexKinds, p uint32, ms []*labels.Matcher, limit int, seen map[uint64]bool, found []matched) ([]matched, error) {
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: partitionPrefix(p)})
		defer it.Close()
		cands, err := candidates(it, ix, p, ms)
		if err != nil {
			return err
		}
		for _, h := range cands {
			if seen[h] {
				continue
			}
			if limit > 0 && len(found) >= limit {
				break
			}
			def, err := getValue(txn, ix.seriesKey(nil, p, h))
			if err != nil || def == nil {
				if err != nil {
					return err
				}
				continue
			}
			ls, err := decodeSeriesDef(def)
			if err != nil {
				continue // a definition of an unknown format
			}
			if seen != nil {
				seen[h] = true
			}
			if matchesAll(ls, ms) {
				found = append(found, matched{hash: h, def: def, labels: ls})
			}
		}
		return ctx.Err()
	})
	return found, err
}

// metricNameMatch is the metric name an equality matcher asks for, or "".
func metricNameMatch(ms []*labels.Matcher) string {
	for _, m := range ms {
		if m.Name == tsdb.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func getValue(txn *badger.Txn, key []byte) ([]byte, error) {
	item, err := txn.Get(key)
	if err == badger.ErrKeyNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// matchesAll reports whether labels ls satisfy every matcher (a missing
// label has the empty value).
func matchesAll(ls []tsdb.Label, ms []*labels.Matcher) bool {
	for _, m := range ms {
		v := ""
		for _, l := range ls {
			if l.Name == m.Name {
				v = l.Value
				break
			}
		}
		if !m.Matches(v) {
			return false
		}
	}
	return true
}

// candidates returns the series (sorted hashes) of one window that may
// match ms: the intersection of the postings of every matcher that rejects
// the empty value. With none such, every series of the window.
func candidates(it *badger.Iterator, ix indexKinds, p uint32, ms []*labels.Matcher) ([]uint64, error) {
	var lists [][]uint64
	for _, m := range ms {
		if m.Matches("") {
			continue
		}
		var l []uint64
		if m.Type == labels.MatchEqual {
			l = postings(it, ix.postingValuePrefix(nil, p, m.Name, m.Value), nil)
		} else {
			eachValue(it, ix, p, m.Name, func(v string, prefix []byte) {
				if m.Matches(v) {
					l = postings(it, prefix, l)
				}
			})
			slices.Sort(l)
			l = slices.Compact(l)
		}
		if len(l) == 0 {
			return nil, nil
		}
		lists = append(lists, l)
	}
	if len(lists) == 0 {
		var all []uint64
		eachValue(it, ix, p, tsdb.MetricNameLabel, func(_ string, prefix []byte) { all = postings(it, prefix, all) })
		slices.Sort(all)
		return slices.Compact(all), nil
	}
	sort.Slice(lists, func(i, j int) bool { return len(lists[i]) < len(lists[j]) })
	out := lists[0]
	for _, l := range lists[1:] {
		out = intersect(out, l)
	}
	return out, nil
}

// postings appends the series of every posting key under prefix
// ([p][kind][name 0xff value 0xff]) to dst; they come sorted.
func postings(it *badger.Iterator, prefix []byte, dst []uint64) []uint64 {
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		k := it.Item().Key()
		if len(k) == len(prefix)+8 {
			dst = append(dst, keySeriesAt(k, len(prefix)))
		}
	}
	return dst
}

func keySeriesAt(k []byte, off int) uint64 {
	var h uint64
	for _, c := range k[off : off+8] {
		h = h<<8 | uint64(c)
	}
	return h
}

// eachValue calls fn with every distinct value of label name in the
// window and the posting prefix of name=value, seeking past each value's
// postings.
func eachValue(it *badger.Iterator, ix indexKinds, p uint32, name string, fn func(value string, prefix []byte)) {
	np := ix.postingPrefix(nil, p, name)
	for it.Seek(np); it.ValidForPrefix(np); {
		_, value, _, ok := parsePosting(it.Item().Key())
		if !ok {
			it.Next()
			continue
		}
		v := string(value)
		prefix := ix.postingValuePrefix(nil, p, name, v)
		fn(v, prefix)
		// Past every posting of this value: its prefix with 0xff bumped.
		it.Seek(prefixEnd(prefix))
	}
}

// eachName calls fn with every distinct label name of the window.
func eachName(it *badger.Iterator, ix indexKinds, p uint32, fn func(name string)) {
	base := appendHeader(nil, p, ix.posting)
	for it.Seek(base); it.ValidForPrefix(base); {
		name, _, _, ok := parsePosting(it.Item().Key())
		if !ok {
			it.Next()
			continue
		}
		n := string(name)
		fn(n)
		it.Seek(prefixEnd(ix.postingPrefix(nil, p, n)))
	}
}

func intersect(a, b []uint64) []uint64 {
	out := a[:0:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// readChunks appends to chunks[i] the stored chunks of found[i] in shard
// sh that may hold samples in [mint, maxt]: a chunk lies in one block, so
// the ones whose first sample is from the block of mint on; skip (nil:
// none) leaves out the blocks it reports. A series' chunks of the blocks
// from mint's to maxt's come from the shard's read cache (readcache.go)
// or, for the series it lacks, one iterator reads them all and caches
// them.
func readChunks(sh *shard, p uint32, found []matched, mint, maxt, blockMs int64, chunks [][]*starlingpb.Record, skip func(i int, block int64) bool) error {
	from := max(mint, 0)
	from -= from % blockMs
	to := max(maxt, from)
	to -= to % blockMs
	end := to + blockMs // the first chunk start past the blocks read
	if end < to {
		end = math.MaxInt64
	}
	take := func(i int, recs []*starlingpb.Record) {
		for _, r := range recs {
			minT := chunkMinTime(r.Key)
			if minT > maxt {
				break
			}
			if skip == nil || !skip(i, floorTo(minT, blockMs)) {
				chunks[i] = append(chunks[i], r)
			}
		}
	}
	var missed []int
	for i, m := range found {
		if recs, ok := sh.cache.chunkList(chunksKey{p, m.hash, from, to}); ok {
			take(i, recs)
		} else {
			missed = append(missed, i)
		}
	}
	if len(missed) == 0 {
		return nil
	}
	gen := sh.cache.gen(p) // before the read: see readcache.go
	return sh.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: appendHeader(nil, p, kindChunk), PrefetchValues: false})
		defer it.Close()
		var seek []byte
		for _, i := range missed {
			prefix := chunkPrefix(nil, p, found[i].hash)
			seek = appendFixed64(append(seek[:0], prefix...), sortableTime(from))
			var recs []*starlingpb.Record
			for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
				k := it.Item().Key()
				if len(k) != chunkKeyLen {
					continue
				}
				if chunkMinTime(k) >= end {
					break
				}
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				recs = append(recs, &starlingpb.Record{Key: it.Item().KeyCopy(nil), Value: v})
			}
			sh.cache.putChunkList(chunksKey{p, found[i].hash, from, to}, gen, recs)
			take(i, recs)
		}
		return nil
	})
}

// headScratch is the scratch memory of reading heads into chunk records,
// reused across the series of a select.
type headScratch struct {
	ts      []int64
	vs      []float64
	xor     []byte
	samples []tsdb.Sample
	hists   []tsdb.HistogramSample
}

// records returns the head's samples of series hash in [mint, maxt] as
// chunk records: the open chunk as it is when it alone holds them, else
// the samples decoded and encoded again.
func (sc *headScratch) records(head *tsdb.Head, p uint32, hash uint64, mint, maxt int64) ([]*starlingpb.Record, error) {
	xor, n, minT, maxT, ok := head.ReadXOR(hash, mint, maxt, sc.xor[:0])
	if ok {
		sc.xor = xor
		if n == 0 {
			return nil, nil
		}
		v := chunk.AppendPromXOR(make([]byte, 0, len(xor)+24), n, minT, maxT, xor)
		return []*starlingpb.Record{{Key: chunkKey(nil, p, hash, minT, 0), Value: v}}, nil
	}
	sc.samples, sc.hists = head.Read(hash, mint, maxt, sc.samples[:0], sc.hists[:0])
	return appendHeadChunks(nil, p, hash, sc.samples, sc.hists, sc)
}

// appendHeadChunks appends the head's samples of a series to dst as chunk
// records, with sc's memory.
func appendHeadChunks(dst []*starlingpb.Record, p uint32, hash uint64, floats []tsdb.Sample, hists []tsdb.HistogramSample, sc *headScratch) ([]*starlingpb.Record, error) {
	for len(floats) > 0 {
		n := min(len(floats), chunk.MaxSamples)
		sc.ts, sc.vs = splitSamples(sc.ts[:0], sc.vs[:0], floats[:n])
		// Plain: it travels, never stored, so cheap beats small. Sized
		// once: the header and timestamps take at most 9 bytes a sample.
		v := chunk.AppendFloatsPlain(make([]byte, 0, 32+17*n), sc.ts, sc.vs)
		dst = append(dst, &starlingpb.Record{Key: chunkKey(nil, p, hash, sc.ts[0], 0), Value: v})
		floats = floats[n:]
	}
	ints, fl := splitHistograms(hists)
	for _, part := range [][]tsdb.HistogramSample{ints, fl} {
		for len(part) > 0 {
			n := min(len(part), chunk.MaxSamples)
			v, err := appendHistogramChunk(nil, part[:n])
			if err != nil {
				return dst, err
			}
			dst = append(dst, &starlingpb.Record{Key: chunkKey(nil, p, hash, part[0].T, 0), Value: v})
			part = part[n:]
		}
	}
	return dst, nil
}

// SelectedSeries is one series of a select's answer: its labels and the
// chunks read for it (stored ones in key order, then the head's), or, in
// a select at a rollup resolution, its buckets of resolution Res (ms).
type SelectedSeries struct {
	Hash    uint64
	Labels  []tsdb.Label
	Chunks  [][]byte
	Buckets []tsdb.Bucket
	Res     int64
}

// DecodeSelect decodes records as SelectSeries returns them.
func DecodeSelect(recs []*starlingpb.Record) ([]SelectedSeries, error) {
	var out []SelectedSeries
	for _, r := range recs {
		switch {
		case len(r.Key) == seriesKeyLen && r.Key[partLen] == kindSeries:
			ls, err := decodeSeriesDef(r.Value)
			if err != nil {
				return nil, fmt.Errorf("series definition: %w", err)
			}
			out = append(out, SelectedSeries{Hash: keySeries(r.Key), Labels: ls})
		case len(r.Key) == chunkKeyLen && r.Key[partLen] == kindChunk:
			if len(out) == 0 || out[len(out)-1].Hash != keySeries(r.Key) {
				return nil, fmt.Errorf("chunk of a series not announced: %w", ErrCorrupt)
			}
			out[len(out)-1].Chunks = append(out[len(out)-1].Chunks, r.Value)
		case len(r.Key) == rollupKeyLen && (r.Key[partLen] == kindRollup5m || r.Key[partLen] == kindRollup1h):
			if len(out) == 0 || out[len(out)-1].Hash != keySeries(r.Key) {
				return nil, fmt.Errorf("rollup of a series not announced: %w", ErrCorrupt)
			}
			res := rollupTiers[0].res
			if r.Key[partLen] == kindRollup1h {
				res = rollupTiers[1].res
			}
			last := &out[len(out)-1]
			bs, err := tsdb.DecodeRollup(last.Buckets, r.Value, res)
			if err != nil {
				return nil, err
			}
			last.Buckets, last.Res = bs, res
		default:
			return nil, fmt.Errorf("record of kind %d in a select: %w", r.Key[min(partLen, len(r.Key)-1)], ErrCorrupt)
		}
	}
	return out, nil
}

// DecodeChunks decodes a series' chunks into its samples, sorted, one per
// time: of chunks that overlap, the later one's sample wins (the head's
// chunk comes last).
func DecodeChunks(chunks [][]byte) ([]tsdb.Sample, []tsdb.HistogramSample, error) {
	var s series
	var it chunk.Iterator
	var floats []tsdb.Sample
	var hists []tsdb.HistogramSample
	for _, c := range chunks {
		s.reset()
		if err := s.decode(&it, c); err != nil {
			return nil, nil, err
		}
		floats = tsdb.MergeSamples(floats, s.floats)
		hists = tsdb.MergeHistograms(hists, s.hists)
	}
	return floats, hists, nil
}

// SeriesName returns the metric name of series hash of partition p from
// its definition in the newest window that has it ("" when none does):
// what a head asks for the series a record leaves unnamed.
func (s *Store) SeriesName(p uint32, hash uint64) string {
	ws := s.acquire(starlingpb.Signal_SIGNAL_METRICS, math.MinInt64, math.MaxInt64)
	defer releaseAll(ws)
	key := seriesKey(nil, p, hash)
	for _, w := range ws { // newest first
		var def []byte
		err := w.db(p).View(func(txn *badger.Txn) error {
			var err error
			def, err = getValue(txn, key)
			return err
		})
		if err != nil || def == nil {
			continue
		}
		if ls, err := decodeSeriesDef(def); err == nil {
			return tsdb.MetricName(ls)
		}
	}
	return ""
}
