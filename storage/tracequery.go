package storage

import (
	"context"
	"encoding/binary"
	"slices"

	"github.com/dgraph-io/badger/v4"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// ReadTrace appends to out every span group of traceID held by partition p
// (one Record each) and the resource records they refer to (out.Refs).
func (s *Store) ReadTrace(ctx context.Context, p uint32, traceID [16]byte, out *starlingpb.ResultChunk) error {
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	return s.readTrace(p, traceID, out)
}

// readTrace is ReadTrace within a read slot the caller holds.
func (s *Store) readTrace(p uint32, traceID [16]byte, out *starlingpb.ResultChunk) error {
	ws := s.acquire(starlingpb.Signal_SIGNAL_TRACES, 0, 1<<63-1)
	defer releaseAll(ws)

	key := spanGroupKey(nil, p, traceID)
	seenGroup := make(map[uint64]struct{})
	seenRef := make(map[uint64]struct{})
	item := []uint64{traceItem(traceID[:])}
	for _, w := range ws {
		if !w.shardOf(p).blooms.mayHold(w, p, item) {
			continue // not in this window (tracesummary.go)
		}
		err := w.db(p).View(func(txn *badger.Txn) error {
			// Every version of the trace's key is a span group; the key
			// iterator consults table bloom filters before reading them.
			it := txn.NewKeyIterator(key, badger.IteratorOptions{AllVersions: true})
			defer it.Close()
			var refs []uint64
			for it.Rewind(); it.Valid(); it.Next() {
				item := it.Item()
				if _, dup := seenGroup[item.Version()]; dup {
					continue
				}
				seenGroup[item.Version()] = struct{}{}
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				out.Records = append(out.Records, &starlingpb.Record{Key: key, Value: v})
				_ = forEachGroupSpan(v, func(_ pcommon.SpanID, span []byte) error {
					if h, err := decodeSpanHead(span); err == nil {
						if _, ok := seenRef[h.ref]; !ok {
							seenRef[h.ref] = struct{}{}
							refs = append(refs, h.ref)
						}
					}
					return nil
				})
			}
			return s.appendRefs(txn, p, refs, out)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// appendRefs appends the resource records refs of partition p found in txn
// (or kept in the store's resource cache, resourcecache.go).
func (s *Store) appendRefs(txn *badger.Txn, p uint32, refs []uint64, out *starlingpb.ResultChunk) error {
	var key []byte
	for _, ref := range refs {
		key = resourceKey(key[:0], p, ref)
		v, ok := s.resources.get(ref)
		if !ok {
			item, err := txn.Get(key)
			if err == badger.ErrKeyNotFound {
				continue
			}
			if err != nil {
				return err
			}
			if v, err = item.ValueCopy(nil); err != nil {
				return err
			}
			s.resources.add(ref, v)
		}
		out.Refs = append(out.Refs, &starlingpb.Record{Key: append([]byte(nil), key...), Value: slices.Clone(v)})
	}
	return nil
}

// SearchTraces appends to out.TraceHits up to limit traces of partition p
// whose span groups started in [startNano, endNano] and hold one span
// matching every condition of q, newest first.
//
// Conditions are terms (service, name, status ok/error, attributes) plus
// duration and status "unset". A term that is rare in the window has a
// complete posting list; the lists are intersected on (time, trace, group)
// by a leapfrog join and their bitmaps ANDed. A common term (see
// commonterms.go), duration and "unset" are checked on the group record,
// which is also the driver when no rare term is asked for: group records
// are scanned newest first.
func (s *Store) SearchTraces(ctx context.Context, p uint32, q *starlingpb.TraceSearch, startNano, endNano int64, limit int, out *starlingpb.ResultChunk) error {
	if limit <= 0 {
		return nil
	}
	return s.EachTrace(ctx, p, q, startNano, endNano, func(hit TraceHit, _ TraceReader) (bool, error) {
		out.TraceHits = append(out.TraceHits, &starlingpb.TraceHit{TraceId: hit.TraceID[:], TimeUnixNano: hit.Time})
		return len(out.TraceHits) < limit, nil
	})
}

// TraceHit is one trace a search found in a partition, with the time the
// partition sorts it by: the start of its newest span group that matched.
type TraceHit struct {
	TraceID [16]byte
	Time    int64
}

// TraceReader appends every span group and resource record of one trace
// of the partition being searched to out, as ReadTrace does. It is valid
// only during the EachTrace callback it is given to.
type TraceReader func(traceID [16]byte, out *starlingpb.ResultChunk) error

// EachTrace calls fn with each trace of partition p that has a span group
// started in [startNano, endNano] holding one span that matches every
// condition of q (nil or empty: every trace), newest first, each trace
// once, until fn returns false or an error. fn may read whole traces with
// the TraceReader it gets, within this call's read slot. How conditions
// are matched: see SearchTraces.
func (s *Store) EachTrace(ctx context.Context, p uint32, q *starlingpb.TraceSearch, startNano, endNano int64, fn func(TraceHit, TraceReader) (bool, error)) error {
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	if q == nil {
		q = &starlingpb.TraceSearch{}
	}
	ws := s.acquire(starlingpb.Signal_SIGNAL_TRACES, startNano, endNano)
	defer releaseAll(ws)
	read := func(id [16]byte, out *starlingpb.ResultChunk) error { return s.readTrace(p, id, out) }

	terms := traceTerms(q)
	from := make([]byte, traceSuffix)
	binary.BigEndian.PutUint64(from, tdesc(uint64(endNano)))
	seen := make(map[[16]byte]struct{})
	var m groupMatcher
	m.q = q

	more := true
	for _, w := range ws {
		if !more {
			break
		}
		if len(terms) > 0 && !w.shardOf(p).blooms.mayHold(w, p, terms) {
			continue // a term is not in this window (tracesummary.go)
		}
		wterms := terms
		if d, ok := durationShortcut(q.GetService(), q.GetMinDurationNano()); ok && hasDurationTerms(w.format.Load()) {
			wterms = append(slices.Clip(terms), d)
		}
		err := w.db(p).View(func(txn *badger.Txn) error {
			rare, common, known := w.shardOf(p).blooms.splitCommon(w, p, wterms)
			if !known {
				var err error
				if rare, common, err = splitCommon(txn, p, wterms); err != nil {
					return err
				}
			}
			m.common = common
			var cs []*cursor
			defer func() {
				for _, c := range cs {
					c.close()
				}
			}()
			for _, t := range rare {
				prefix := appendHeader(nil, p, kindTracePosting)
				cs = append(cs, newCursor(txn, appendFixed64(prefix, t)))
			}
			var group *cursor
			if len(rare) == 0 || len(common) > 0 || q.GetMinDurationNano() > 0 || q.GetMaxDurationNano() > 0 || q.GetStatus() == statusUnset {
				group = newCursor(txn, appendHeader(nil, p, kindTraceGroup))
				cs = append(cs, group)
			}
			var val []byte
			var ferr error
			n := 0
			leapfrog(cs, from, func(suffix []byte) bool {
				if n++; n%1024 == 0 && ctx.Err() != nil {
					ferr = ctx.Err()
					return false
				}
				if t := ^binary.BigEndian.Uint64(suffix); int64(t) < startNano {
					return false
				}
				var tid [16]byte
				copy(tid[:], suffix[8:24])
				if _, dup := seen[tid]; dup {
					return true
				}
				m.reset()
				for _, c := range cs {
					if c == group {
						continue
					}
					if val, ferr = c.value(val); ferr != nil {
						return false
					}
					m.and(val)
				}
				if m.none() {
					return true
				}
				if group != nil {
					if val, ferr = group.value(val); ferr != nil {
						return false
					}
					if !m.group(val) {
						return true
					}
				}
				seen[tid] = struct{}{}
				more, ferr = fn(TraceHit{TraceID: tid, Time: int64(^binary.BigEndian.Uint64(suffix))}, read)
				return more && ferr == nil
			})
			return ferr
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// splitCommon sorts terms into those with complete postings in this window
// (rare) and those marked common.
func splitCommon(txn *badger.Txn, p uint32, terms []uint64) (rare, common []uint64, err error) {
	var key []byte
	for _, t := range terms {
		key = commonTermKey(key[:0], p, t)
		_, err := txn.Get(key)
		switch {
		case err == badger.ErrKeyNotFound:
			rare = append(rare, t)
		case err != nil:
			return nil, nil, err
		default:
			common = append(common, t)
		}
	}
	return rare, common, nil
}

func traceTerms(q *starlingpb.TraceSearch) []uint64 {
	var terms []uint64
	if q.GetService() != "" {
		terms = append(terms, serviceTerm(q.GetService()))
	}
	if q.GetName() != "" {
		terms = append(terms, nameTerm(q.GetName()))
	}
	if st := q.GetStatus(); st == statusOK || st == statusError {
		terms = append(terms, statusTerm(st))
	}
	for _, a := range q.GetAttributes() {
		terms = append(terms, attrTerm(a.GetKey(), a.GetValue()))
	}
	return terms
}

// groupMatcher decides whether one span of a span group matches a search:
// it ANDs the bitmaps of the group's postings, then, on the group record,
// the bitmaps of the common terms and each span's duration and status.
// Bitmaps are nil when every span is set.
type groupMatcher struct {
	q      *starlingpb.TraceSearch
	common []uint64
	acc    []byte
	all    bool // acc is "every span"
}

func (m *groupMatcher) reset() { m.acc, m.all = m.acc[:0], true }

// and intersects a bitmap (empty: all spans) into the match set.
func (m *groupMatcher) and(bm []byte) {
	if len(bm) == 0 {
		return
	}
	if m.all {
		m.acc, m.all = append(m.acc[:0], bm...), false
		return
	}
	m.acc = andBitmap(m.acc, bm)
}

func (m *groupMatcher) none() bool { return !m.all && bitmapEmpty(m.acc) }

// group finishes the match on a group record.
func (m *groupMatcher) group(v []byte) bool {
	d := decoder{b: v}
	if d.byte() != groupRecordVersion {
		return false
	}
	n := d.count(2)
	spans := d.b // n × (duration uvarint, status byte), read again below
	for i := 0; i < n && d.err == nil; i++ {
		d.uvarint()
		d.byte()
	}
	found := 0
	for i, nt := 0, d.count(9); i < nt && d.err == nil; i++ {
		t := d.fixed64()
		bm := d.bytes()
		for _, c := range m.common {
			if c == t {
				m.and(bm)
				found++
			}
		}
	}
	if d.err != nil || found < len(m.common) || m.none() {
		return false
	}
	sd := decoder{b: spans}
	minD, maxD := uint64(m.q.GetMinDurationNano()), uint64(m.q.GetMaxDurationNano())
	for i := 0; i < n && sd.err == nil; i++ {
		dur := sd.uvarint()
		status := uint32(sd.byte())
		if !m.all && (i/8 >= len(m.acc) || m.acc[i/8]&(1<<(i%8)) == 0) {
			continue
		}
		if dur < minD || (maxD > 0 && dur > maxD) {
			continue
		}
		if st := m.q.GetStatus(); st != statusAny && st != status {
			continue
		}
		return sd.err == nil
	}
	return false
}
