package storage

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	bpb "github.com/dgraph-io/badger/v4/pb"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/index"
)

// Trace summaries. Every traces shard keeps, per partition of its window,
// a summary of what the partition holds: a bloom filter (storage/index, 1%
// false positives) over its trace IDs and the terms of its trace postings,
// the set of its common terms (commonterms.go), and term counts: the span
// groups written and, for up to maxCountedTerms terms seen in more than
// one, how many carry each (a term of one group is in the filter only):
// the selectivity a plan is chosen by (termstats.go). A search asks Badger
// only in the windows whose filter may hold every term it needs, knows
// without a lookup which of its terms have postings, and a coordinator on
// this node skips the partitions that cannot answer without sending them a
// read (MayHoldTraces). A common term keeps the postings written before it
// became common (at least commonMinGroups of them), so it is in the filter
// too.
//
// Where a summary comes from:
//   - a window this process created starts every partition with an empty
//     summary, kept up by the writes;
//   - otherwise it is read the first time it is asked for, on its own
//     goroutine, one read at a time per store (no query waits for one;
//     until it is ready the partition counts as holding everything): from
//     the summary kept in the partition's key range if there is one, else
//     built from the partition's keys (one key per trace, one seek per
//     distinct term, the common term markers).
//
// A summary in memory stays an exact superset of what Badger holds by the
// rules of the metric name markers (markers.go):
//   - the group committer adds the trace IDs, terms and common markers of
//     every write before it goes to Badger and again once it has, before
//     the writers are acknowledged (noteWrites);
//   - a snapshot load or a partition drop forgets the partition's summary
//     (forgetReads, before and after), to be read again when asked for;
//   - a summary being read is installed only if no write or forget of its
//     partition came meanwhile (gen); else the next ask reads it again.
//
// Kept summaries. A summary is written to [p][kindTraceSummary] (the last
// kind of a partition's traces keys) when its window's shard closes, when
// the partition is streamed to another node (so the handoff carries it),
// and when a window that is no longer the newest has had no write to the
// partition for a retention interval. The one Badger shows must cover all
// the partition's data, so:
//   - the first write to a partition after its summary may have been kept
//     deletes the kept one, in the same group and ahead of its keys (the
//     write queue keeps order: a crash keeps the deletion if it keeps any
//     of the keys);
//   - versions of the key come from the shard's summary clock, above every
//     version of it the shard has seen (read at open), so a deletion hides
//     every summary written before it and a summary written later is seen;
//   - a snapshot stream sends only the newest live version, after the
//     partition's data (it sorts last, and the stream reads in key order):
//     it covers every key sent before it. The receiver keeps it only when
//     the partition had no keys of its own there (a window it created,
//     never written or dropped there before, and no write during the load);
//     else it drops it and builds the summary from the keys;
//   - a snapshot load deletes the kept summary ahead of the keys it loads,
//     as a write does (it writes without the committer).
//
// Old versions of the key are not compacted away (trace databases keep
// every version: span groups are versions of one key), which is why a
// summary is kept on those occasions only and not after every quiet spell
// of the newest window.

// bloomFalsePositives is the rate the trace blooms are sized for.
const bloomFalsePositives = 0.01

// bloomExpected is the items a filter is first sized for; it grows in
// stages beyond (index.Bloom keeps its rate).
const bloomExpected = 4096

// traceIDSalt keeps trace ID hashes apart from term hashes in a filter.
const traceIDSalt = 0x9e3779b97f4a7c15

func traceItem(id []byte) uint64 { return TraceHash([16]byte(id)) ^ traceIDSalt }

// summaryVersion is the format of a kept summary: version byte, common
// term count (uvarint) and the terms (8 bytes each, big-endian), span
// groups (uvarint), their first and last start times (8 bytes each),
// counted term count (uvarint) and per term the term (8 bytes) and its
// groups (uvarint), then the filter (index.Bloom's encoding). A summary of another version is built again from the keys.
const summaryVersion = 2

// maxCountedTerms bounds the terms a partition's summary counts; a term
// that comes later is counted as a term of one group (the frequent ones
// come early: they are frequent).
const maxCountedTerms = 1024

func traceSummaryKey(dst []byte, p uint32) []byte { return appendHeader(dst, p, kindTraceSummary) }

// traceSummary is what a partition of a window holds, as far as searches
// need: every trace ID and posting term may be in filter, common holds
// every term marked common, groups counts the span groups and counts the
// groups of the terms counted (written twice, a group counts twice).
type traceSummary struct {
	filter *index.Bloom
	common map[uint64]struct{}
	groups uint64
	counts map[uint64]uint32
	// first and last are the oldest and newest group start times (unix
	// ns; first > last while there is none): a range's share of the
	// counts is its share of [first, last].
	first, last int64
}

func newTraceSummary() *traceSummary {
	return &traceSummary{filter: index.NewBloom(bloomExpected, bloomFalsePositives), common: map[uint64]struct{}{}, counts: map[uint64]uint32{}, first: math.MaxInt64, last: math.MinInt64}
}

// countGroup counts a span group from its group record key.
func (s *traceSummary) countGroup(k []byte) {
	s.groups++
	if len(k) >= headerLen+8 {
		t := int64(^binary.BigEndian.Uint64(k[headerLen:]))
		s.first, s.last = min(s.first, t), max(s.last, t)
	}
}

// share is the part of the summary's groups estimated to start in
// [start, end]: the share of [first, last] it covers.
func (s *traceSummary) share(start, end int64) float64 {
	from, to := max(start, s.first), min(end, s.last)
	switch {
	case s.groups == 0 || from > to:
		return 0
	case s.first == s.last:
		return 1
	}
	return min(1, float64(to-from+1)/float64(s.last-s.first+1))
}

// countPosting counts one more group of term t, before t is added to the
// filter: a term the filter already holds is counted from its second
// group on (a false positive counts a first group as a second).
func (s *traceSummary) countPosting(t uint64) {
	if c, ok := s.counts[t]; ok {
		if c < math.MaxUint32 {
			s.counts[t] = c + 1
		}
		return
	}
	if len(s.counts) < maxCountedTerms && s.filter.MayContain(t) {
		s.counts[t] = 2
	}
}

// termGroups estimates the span groups of term t: -1 when it is common.
func (s *traceSummary) termGroups(t uint64) int64 {
	if _, c := s.common[t]; c {
		return -1
	}
	if c, ok := s.counts[t]; ok {
		return int64(c)
	}
	if s.filter.MayContain(t) {
		return 1
	}
	return 0
}

func (s *traceSummary) encode() ([]byte, error) {
	b := []byte{summaryVersion}
	b = binary.AppendUvarint(b, uint64(len(s.common)))
	for t := range s.common {
		b = binary.BigEndian.AppendUint64(b, t)
	}
	b = binary.AppendUvarint(b, s.groups)
	b = binary.BigEndian.AppendUint64(b, uint64(s.first))
	b = binary.BigEndian.AppendUint64(b, uint64(s.last))
	b = binary.AppendUvarint(b, uint64(len(s.counts)))
	for t, c := range s.counts {
		b = binary.BigEndian.AppendUint64(b, t)
		b = binary.AppendUvarint(b, uint64(c))
	}
	return s.filter.AppendBinary(b)
}

func decodeTraceSummary(v []byte) (*traceSummary, error) {
	d := decoder{b: v}
	if d.byte() != summaryVersion {
		return nil, ErrUnknownFormat
	}
	n := d.count(8)
	s := &traceSummary{filter: new(index.Bloom), common: make(map[uint64]struct{}, n)}
	for i := 0; i < n && d.err == nil; i++ {
		s.common[d.fixed64()] = struct{}{}
	}
	s.groups = d.uvarint()
	s.first, s.last = int64(d.fixed64()), int64(d.fixed64())
	n = d.count(9)
	s.counts = make(map[uint64]uint32, n)
	for i := 0; i < n && d.err == nil; i++ {
		t := d.fixed64()
		s.counts[t] = uint32(min(d.uvarint(), math.MaxUint32))
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := s.filter.UnmarshalBinary(d.b); err != nil {
		return nil, err
	}
	return s, nil
}

// Kept states of a partition's summary in Badger (traceBlooms.kept); a
// partition missing from the map may have one (keptUnknown).
const keptNone uint64 = 0 // Badger shows none

// traceBlooms is a traces shard's summaries. Safe for concurrent use.
type traceBlooms struct {
	// builds is the store's semaphore of summary reads: one at a time, so
	// that the queries that asked for them keep the other cores.
	builds chan struct{}
	// fresh is set when this process created the window: a partition
	// never forgotten has held nothing but what noteWrites saw.
	fresh bool

	mu        sync.Mutex
	gens      map[uint32]uint64 // per partition: moves with every noted write and forget
	summaries map[uint32]*traceSummary
	building  map[uint32]bool
	forgotten map[uint32]bool   // forgotten since the window opened (fresh no longer holds)
	touched   map[uint32]bool   // written since the window opened
	kept      map[uint32]uint64 // the version of the summary Badger shows, or keptNone; absent: unknown
	wrote     map[uint32]bool   // written since the last quiet check (keepQuiet)
	loads     map[uint32]bool   // partitions being loaded from a snapshot: whether still clean
	clock     uint64            // the highest version of a summary key seen or written
}

// nextVersion returns a summary key version above every one seen.
func (b *traceBlooms) nextVersion() uint64 {
	b.clock = max(b.clock+1, uint64(time.Now().UnixNano()))
	return b.clock
}

// summary returns partition p's summary, an empty one for a fresh
// partition, or nil. b.mu is held.
func (b *traceBlooms) summary(p uint32) *traceSummary {
	s := b.summaries[p]
	if s == nil && b.fresh && !b.forgotten[p] {
		s = newTraceSummary()
		b.install(p, s, keptNone)
	}
	return s
}

// install makes s partition p's summary, Badger showing the one kept at
// version (or keptNone). b.mu is held.
func (b *traceBlooms) install(p uint32, s *traceSummary, version uint64) {
	if b.summaries == nil {
		b.summaries = map[uint32]*traceSummary{}
	}
	b.summaries[p] = s
	b.setKept(p, version)
}

// setKept records the version of p's summary Badger shows. b.mu is held.
func (b *traceBlooms) setKept(p uint32, version uint64) {
	if b.kept == nil {
		b.kept = map[uint32]uint64{}
	}
	b.kept[p] = version
}

func setFlag(m *map[uint32]bool, p uint32, v bool) {
	if *m == nil {
		*m = map[uint32]bool{}
	}
	(*m)[p] = v
}

// noteWrites adds the trace IDs, posting terms and common term markers of
// kvs (sorted, one shard's) to the summaries of their partitions. The
// committer calls it before the group goes to Badger (before: it returns
// the deletions of kept summaries that must go to Badger ahead of kvs)
// and again once Badger has it.
func (b *traceBlooms) noteWrites(kvs []*bpb.KV, before bool) (deletes []*bpb.KV) {
	b.mu.Lock()
	defer b.mu.Unlock()
	last, lastSet := uint32(0), false
	var s *traceSummary
	for _, kv := range kvs {
		k := kv.Key
		if len(k) <= headerLen || kv.Meta != nil {
			continue
		}
		p, _ := keyPartition(k)
		if !lastSet || p != last {
			if b.gens == nil {
				b.gens = map[uint32]uint64{}
			}
			b.gens[p]++
			last, lastSet, s = p, true, b.summary(p)
			if before {
				setFlag(&b.touched, p, true)
				setFlag(&b.wrote, p, true)
				if _, loading := b.loads[p]; loading {
					b.loads[p] = false
				}
				if v, known := b.kept[p]; !known || v != keptNone {
					deletes = append(deletes, b.deletion(p))
				}
			}
		}
		if s == nil {
			continue
		}
		switch k[partLen] {
		case kindSpan:
			if len(k) >= headerLen+16 {
				s.filter.Add(traceItem(k[headerLen : headerLen+16]))
			}
		case kindTraceGroup:
			if before {
				s.countGroup(k)
			}
		case kindTracePosting:
			if len(k) >= headerLen+8 {
				t := binary.BigEndian.Uint64(k[headerLen:])
				if before {
					s.countPosting(t)
				}
				s.filter.Add(t)
			}
		case kindCommonTerm:
			if len(k) >= headerLen+8 {
				s.common[binary.BigEndian.Uint64(k[headerLen:])] = struct{}{}
			}
		}
	}
	return deletes
}

// deletion returns the deletion of partition p's kept summary, above every
// version of it, and notes that Badger shows none. b.mu is held.
func (b *traceBlooms) deletion(p uint32) *bpb.KV {
	b.setKept(p, keptNone)
	return &bpb.KV{Key: traceSummaryKey(nil, p), Version: b.nextVersion(), Meta: deleteMeta}
}

// deleteKept is deletion for a snapshot load, which writes keys of p
// without the committer.
func (b *traceBlooms) deleteKept(p uint32) *bpb.KV {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.deletion(p)
}

// forget drops partition p's summary.
func (b *traceBlooms) forget(p uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gens == nil {
		b.gens = map[uint32]uint64{}
	}
	b.gens[p]++
	delete(b.summaries, p)
	delete(b.kept, p) // a snapshot load may have brought one
	setFlag(&b.forgotten, p, true)
}

// ready returns partition p's summary if it is in memory; if not, it
// starts reading it (holding a reference to w meanwhile) and returns nil.
// b.mu is held.
func (b *traceBlooms) ready(w *window, p uint32) *traceSummary {
	s := b.summary(p)
	if s != nil || b.building[p] || w == nil || !w.acquire() {
		return s
	}
	setFlag(&b.building, p, true)
	go func(gen uint64) {
		defer w.release()
		if b.builds != nil {
			b.builds <- struct{}{}
			defer func() { <-b.builds }()
		}
		if w.isDropped() {
			b.mu.Lock()
			delete(b.building, p)
			b.mu.Unlock()
			return // closing or removed: not worth reading
		}
		b.build(w.db(p), p, gen)
	}(b.gens[p])
	return nil
}

// mayHold reports whether partition p of window w (whose shard holds b)
// may hold every item of items; true while its summary is not in memory
// (it starts reading it).
func (b *traceBlooms) mayHold(w *window, p uint32, items []uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.ready(w, p)
	if s == nil {
		return true
	}
	for _, it := range items {
		if !s.filter.MayContain(it) {
			return false
		}
	}
	return true
}

// splitCommon sorts terms into those with complete postings in partition
// p (rare) and those marked common, from the summary; ok is false (and
// the caller asks Badger) while the summary is not in memory.
func (b *traceBlooms) splitCommon(w *window, p uint32, terms []uint64) (rare, common []uint64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.ready(w, p)
	if s == nil {
		return nil, nil, false
	}
	for _, t := range terms {
		if _, c := s.common[t]; c {
			common = append(common, t)
		} else {
			rare = append(rare, t)
		}
	}
	return rare, common, true
}

// build reads partition p's summary from db and installs it unless a
// write or a forget came since gen.
func (b *traceBlooms) build(db *badger.DB, p uint32, gen uint64) {
	s, version, err := readTraceSummary(db, p)
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.building, p)
	if err != nil || b.gens[p] != gen {
		return // the next ask reads it again
	}
	b.install(p, s, version)
	b.clock = max(b.clock, version)
}

// readTraceSummary reads partition p's kept summary, or builds it from its
// keys; version is the kept one's, or keptNone.
func readTraceSummary(db *badger.DB, p uint32) (s *traceSummary, version uint64, err error) {
	err = db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(traceSummaryKey(nil, p))
		if err == nil {
			if err := item.Value(func(v []byte) error {
				s, err = decodeTraceSummary(v)
				return err
			}); err == nil {
				version = item.Version()
				return nil
			}
			// Unreadable (a newer format): build it from the keys.
		} else if err != badger.ErrKeyNotFound {
			return err
		}
		s, err = readTraceSummaryFromKeys(txn, p)
		return err
	})
	return s, version, err
}

// readTraceSummaryFromKeys builds partition p's summary from its span
// group keys (one per trace), its group records, its common term markers
// and its postings (keys only).
func readTraceSummaryFromKeys(txn *badger.Txn, p uint32) (*traceSummary, error) {
	s := newTraceSummary()
	spans := appendHeader(nil, p, kindSpan)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: spans})
	for it.Rewind(); it.Valid(); it.Next() {
		if k := it.Item().Key(); len(k) >= headerLen+16 {
			s.filter.Add(traceItem(k[headerLen : headerLen+16]))
		}
	}
	it.Close()
	groups := appendHeader(nil, p, kindTraceGroup)
	it = txn.NewIterator(badger.IteratorOptions{Prefix: groups})
	for it.Rewind(); it.Valid(); it.Next() {
		s.countGroup(it.Item().Key())
	}
	it.Close()
	common := appendHeader(nil, p, kindCommonTerm)
	it = txn.NewIterator(badger.IteratorOptions{Prefix: common})
	for it.Rewind(); it.Valid(); it.Next() {
		if k := it.Item().Key(); len(k) >= headerLen+8 {
			s.common[binary.BigEndian.Uint64(k[headerLen:])] = struct{}{}
		}
	}
	it.Close()
	postings := appendHeader(nil, p, kindTracePosting)
	it = txn.NewIterator(badger.IteratorOptions{Prefix: postings})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if k := it.Item().Key(); len(k) >= headerLen+8 {
			t := binary.BigEndian.Uint64(k[headerLen:])
			s.countPosting(t)
			s.filter.Add(t)
		}
	}
	return s, nil
}

// seeKept raises the summary clock above every summary key version db
// shows (called once, when a window that existed is opened).
func (b *traceBlooms) seeKept(db *badger.DB) error {
	var high uint64
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		seek := make([]byte, 0, headerLen)
		for p := 0; p <= 0xffff; {
			it.Seek(traceSummaryKey(seek[:0], uint32(p)))
			if !it.Valid() {
				break
			}
			k := it.Item().Key()
			q, ok := keyPartition(k)
			switch {
			case !ok:
				return nil // Badger's own keys, past every partition
			case int(q) > p:
				p = int(q) // partitions between hold nothing
				continue
			case len(k) == headerLen && k[partLen] == kindTraceSummary:
				high = max(high, it.Item().Version())
			}
			p++
		}
		return nil
	})
	b.mu.Lock()
	b.clock = max(b.clock, high)
	b.mu.Unlock()
	return err
}

// keep writes partition p's summary to db unless it is not in memory or
// Badger already shows it.
func (b *traceBlooms) keep(db *badger.DB, p uint32) error {
	b.mu.Lock()
	s := b.summaries[p]
	v, known := b.kept[p]
	if s == nil || !known || v != keptNone {
		b.mu.Unlock()
		return nil
	}
	val, err := s.encode()
	if err != nil {
		b.mu.Unlock()
		return err
	}
	version := b.nextVersion()
	b.kept[p] = version
	b.mu.Unlock()
	l := db.NewKVLoader(1)
	if err := l.Set(&bpb.KV{Key: traceSummaryKey(nil, p), Value: val, Version: version}); err != nil {
		return err
	}
	return l.Finish()
}

// keepAll writes every summary in memory that Badger does not show yet;
// quiet limits it to the partitions not written since the last call.
func (b *traceBlooms) keepAll(db *badger.DB, quiet bool) error {
	b.mu.Lock()
	var ps []uint32
	for p := range b.summaries {
		if !quiet || !b.wrote[p] {
			ps = append(ps, p)
		}
	}
	if quiet {
		clear(b.wrote)
	}
	b.mu.Unlock()
	slices.Sort(ps)
	for _, p := range ps {
		if err := b.keep(db, p); err != nil {
			return err
		}
	}
	return nil
}

// beginLoad notes that partition p is being loaded from a snapshot: clean
// while the window is fresh and p was never written nor forgotten in it
// (a load's own forgets do not count: the first chunk decides).
func (b *traceBlooms) beginLoad(p uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, loading := b.loads[p]; !loading {
		setFlag(&b.loads, p, b.fresh && !b.touched[p] && !b.forgotten[p])
	}
}

// loadedSummary returns the version to write a snapshot's summary of p
// at, or false when the partition is not clean (the summary would not
// cover what it holds) and the summary must be dropped.
func (b *traceBlooms) loadedSummary(p uint32) (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.loads[p] {
		return 0, false
	}
	return b.nextVersion(), true
}

// endLoad ends a snapshot load of partition p.
func (b *traceBlooms) endLoad(p uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.loads, p)
}

// keepQuietSummaries keeps the summaries of the partitions of every traces
// window but the newest that were not written since the last call (the
// retention loop calls it once per interval).
func (s *Store) keepQuietSummaries() error {
	ws := s.acquireSpace(starlingpb.Signal_SIGNAL_TRACES, spaceMain, math.MinInt64, math.MaxInt64)
	defer releaseAll(ws)
	now := s.cfg.Now().UnixNano()
	var errs []error
	for _, w := range ws {
		if (w.start*1e9 + s.cfg.Window.Nanoseconds()) > now {
			continue // the newest: written all the time
		}
		for _, sh := range w.shards {
			errs = append(errs, sh.blooms.keepAll(sh.db, true))
		}
	}
	return errors.Join(errs...)
}

// MayHoldTraces reports, for each partition of ps, whether it may hold a
// trace started in [startNano, endNano] with a span carrying every term
// q asks for (service, span name, status ok or error, attributes): false
// is exact for what this node holds. A partition whose summary of a
// window in the range is not in memory yet may hold anything. Called by
// the coordinators on this node, concurrently.
func (s *Store) MayHoldTraces(q *starlingpb.TraceSearch, ps []uint32, startNano, endNano int64) []bool {
	may := make([]bool, len(ps))
	items := traceTerms(q)
	if len(items) == 0 {
		for i := range may {
			may[i] = true
		}
		return may
	}
	ws := s.acquire(starlingpb.Signal_SIGNAL_TRACES, startNano, endNano)
	defer releaseAll(ws)
	for i, p := range ps {
		for _, w := range ws {
			if w.shardOf(p).blooms.mayHold(w, p, items) {
				may[i] = true
				break
			}
		}
	}
	return may
}
