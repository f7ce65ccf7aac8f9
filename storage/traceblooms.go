package storage

import (
	"encoding/binary"
	"sync"

	"github.com/dgraph-io/badger/v4"
	bpb "github.com/dgraph-io/badger/v4/pb"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/index"
)

// Trace blooms. Every traces shard keeps, per partition of its window, a
// bloom filter (storage/index, 1% false positives) over the partition's
// trace IDs and the terms of its trace postings, so that a search asks
// Badger only in the windows whose filter may hold every term it needs,
// and a coordinator on this node skips the partitions that cannot answer
// without sending them a read (MayHoldTraces). A common term keeps the
// postings written before it became common (at least commonMinGroups of
// them), so it is in the filter too.
//
// A filter is built from the partition's keys (one key per trace, and one
// seek per distinct term) the first time it is asked for, on its own
// goroutine, one build at a time per store: no query waits for one, and
// until it is ready the partition counts as holding everything. It stays an exact superset of what Badger
// holds by the rules of the metric name markers (markers.go):
//   - the group committer adds the trace IDs and terms of every write
//     before it goes to Badger and again once it has, before the writers
//     are acknowledged (noteWrites);
//   - a snapshot load or a partition drop forgets the partition's filter
//     (forgetReads, before and after), to be built again when asked for;
//   - a filter being built is installed only if no write or forget of its
//     partition came meanwhile (gen); else the next ask builds it again.
//
// The filters are not (yet) kept in the partition's key range: after a
// restart or a handoff they are built again from the postings.

// bloomFalsePositives is the rate the trace blooms are sized for.
const bloomFalsePositives = 0.01

// bloomExpected is the items a filter is first sized for; it grows in
// stages beyond (index.Bloom keeps its rate).
const bloomExpected = 4096

// traceIDSalt keeps trace ID hashes apart from term hashes in a filter.
const traceIDSalt = 0x9e3779b97f4a7c15

func traceItem(id []byte) uint64 { return TraceHash([16]byte(id)) ^ traceIDSalt }

// traceBlooms is a traces shard's filters. Safe for concurrent use.
type traceBlooms struct {
	// builds is the store's semaphore of filter builds: one at a time, so
	// that the queries that asked for them keep the other cores.
	builds   chan struct{}
	mu       sync.Mutex
	gens     map[uint32]uint64 // per partition: moves with every noted write and forget
	filters  map[uint32]*index.Bloom
	building map[uint32]bool
}

// noteWrites adds the trace IDs and posting terms of kvs (sorted, one
// shard's) to the filters of their partitions.
func (b *traceBlooms) noteWrites(kvs []*bpb.KV) {
	b.mu.Lock()
	defer b.mu.Unlock()
	last, lastSet := uint32(0), false
	var f *index.Bloom
	for _, kv := range kvs {
		k := kv.Key
		if len(k) <= headerLen || kv.Meta != nil {
			continue
		}
		var item uint64
		switch k[partLen] {
		case kindSpan:
			if len(k) < headerLen+16 {
				continue
			}
			item = traceItem(k[headerLen : headerLen+16])
		case kindTracePosting:
			if len(k) < headerLen+8 {
				continue
			}
			item = binary.BigEndian.Uint64(k[headerLen:])
		default:
			continue
		}
		p, _ := keyPartition(k)
		if !lastSet || p != last {
			if b.gens == nil {
				b.gens = map[uint32]uint64{}
			}
			b.gens[p]++
			last, lastSet, f = p, true, b.filters[p]
		}
		if f != nil {
			f.Add(item)
		}
	}
}

// forget drops partition p's filter.
func (b *traceBlooms) forget(p uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gens == nil {
		b.gens = map[uint32]uint64{}
	}
	b.gens[p]++
	delete(b.filters, p)
}

// mayHold reports whether partition p of window w (whose shard holds b)
// may hold every item of items; true while its filter is not built (it
// starts building it, holding a reference to w meanwhile).
func (b *traceBlooms) mayHold(w *window, p uint32, items []uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.filters[p]
	if f == nil {
		if !b.building[p] && w.acquire() {
			if b.building == nil {
				b.building = map[uint32]bool{}
			}
			b.building[p] = true
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
					return // closing or removed: not worth building
				}
				b.build(w.db(p), p, gen)
			}(b.gens[p])
		}
		return true
	}
	for _, it := range items {
		if !f.MayContain(it) {
			return false
		}
	}
	return true
}

// build reads partition p's filter from db and installs it unless a write
// or a forget came since gen.
func (b *traceBlooms) build(db *badger.DB, p uint32, gen uint64) {
	f, err := readTraceBloom(db, p)
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.building, p)
	if err != nil || b.gens[p] != gen {
		return // the next ask builds it again
	}
	if b.filters == nil {
		b.filters = map[uint32]*index.Bloom{}
	}
	b.filters[p] = f
}

// readTraceBloom builds the filter of partition p from its span group
// keys (one per trace) and its distinct posting terms.
func readTraceBloom(db *badger.DB, p uint32) (*index.Bloom, error) {
	f := index.NewBloom(bloomExpected, bloomFalsePositives)
	err := db.View(func(txn *badger.Txn) error {
		spans := appendHeader(nil, p, kindSpan)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: spans})
		for it.Rewind(); it.Valid(); it.Next() {
			if k := it.Item().Key(); len(k) >= headerLen+16 {
				f.Add(traceItem(k[headerLen : headerLen+16]))
			}
		}
		it.Close()
		postings := appendHeader(nil, p, kindTracePosting)
		it = txn.NewIterator(badger.IteratorOptions{Prefix: postings})
		defer it.Close()
		next := make([]byte, 0, headerLen+8)
		for it.Rewind(); it.Valid(); {
			k := it.Item().Key()
			if len(k) < headerLen+8 {
				it.Next()
				continue
			}
			term := binary.BigEndian.Uint64(k[headerLen:])
			f.Add(term)
			if term == ^uint64(0) {
				break
			}
			it.Seek(appendFixed64(append(next[:0], postings...), term+1))
		}
		return nil
	})
	return f, err
}

// MayHoldTraces reports, for each partition of ps, whether it may hold a
// trace started in [startNano, endNano] with a span carrying every term
// q asks for (service, span name, status ok or error, attributes): false
// is exact for what this node holds. A partition whose filter of a window
// in the range is not built yet may hold anything. Called by the
// coordinators on this node, concurrently.
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
