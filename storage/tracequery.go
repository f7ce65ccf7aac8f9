package storage

import (
	"context"
	"encoding/binary"

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
	ws := s.acquire(starlingpb.Signal_SIGNAL_TRACES, 0, 1<<63-1)
	defer releaseAll(ws)

	prefix := appendHeader(nil, p, kindSpan)
	prefix = append(prefix, traceID[:]...)
	seenGroup := make(map[string]struct{})
	seenRef := make(map[uint64]struct{})
	for _, w := range ws {
		err := w.db(p).View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = prefix
			opts.PrefetchValues = false
			it := txn.NewIterator(opts)
			defer it.Close()
			var refs []uint64
			for it.Rewind(); it.ValidForPrefix(prefix); it.Next() {
				item := it.Item()
				if _, dup := seenGroup[string(item.Key())]; dup {
					continue
				}
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				k := item.KeyCopy(nil)
				seenGroup[string(k)] = struct{}{}
				out.Records = append(out.Records, &starlingpb.Record{Key: k, Value: v})
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
			return appendRefs(txn, p, refs, out)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// appendRefs appends the resource records refs of partition p found in txn.
func appendRefs(txn *badger.Txn, p uint32, refs []uint64, out *starlingpb.ResultChunk) error {
	var key []byte
	for _, ref := range refs {
		key = resourceKey(key[:0], p, ref)
		item, err := txn.Get(key)
		if err == badger.ErrKeyNotFound {
			continue
		}
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		out.Refs = append(out.Refs, &starlingpb.Record{Key: append([]byte(nil), key...), Value: v})
	}
	return nil
}

// SearchTraces appends to out.TraceHits up to limit traces of partition p
// whose span groups started in [startNano, endNano] and hold one span
// matching every condition of q, newest first.
//
// Each condition but duration and status "unset" is a posting list; the
// lists are intersected on (time, trace, group) by a leapfrog join, and
// the bitmaps of the postings, ANDed, say whether one span carries all
// terms. Duration and "unset" are checked on the group record.
func (s *Store) SearchTraces(ctx context.Context, p uint32, q *starlingpb.TraceSearch, startNano, endNano int64, limit int, out *starlingpb.ResultChunk) error {
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	ws := s.acquire(starlingpb.Signal_SIGNAL_TRACES, startNano, endNano)
	defer releaseAll(ws)

	terms := traceTerms(q)
	needGroup := len(terms) == 0 || q.GetMinDurationNano() > 0 || q.GetMaxDurationNano() > 0 || q.GetStatus() == statusUnset
	from := make([]byte, traceSuffix)
	binary.BigEndian.PutUint64(from, tdesc(uint64(endNano)))
	seen := make(map[[16]byte]struct{})

	for _, w := range ws {
		if len(seen) >= limit {
			break
		}
		err := w.db(p).View(func(txn *badger.Txn) error {
			var cs []*cursor
			defer func() {
				for _, c := range cs {
					c.close()
				}
			}()
			for _, t := range terms {
				prefix := appendHeader(nil, p, kindTracePosting)
				cs = append(cs, newCursor(txn, appendFixed64(prefix, t)))
			}
			var group *cursor
			if needGroup {
				group = newCursor(txn, appendHeader(nil, p, kindTraceGroup))
				cs = append(cs, group)
			}
			var acc, val []byte
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
				all := true
				for _, c := range cs {
					if c == group {
						continue
					}
					if val, ferr = c.value(val); ferr != nil {
						return false
					}
					if len(val) == 0 {
						continue
					}
					if all {
						acc = append(acc[:0], val...)
						all = false
					} else {
						acc = andBitmap(acc, val)
					}
				}
				if !all && bitmapEmpty(acc) {
					return true
				}
				if group != nil {
					if val, ferr = group.value(val); ferr != nil {
						return false
					}
					if !groupMatches(val, q, acc, all) {
						return true
					}
				}
				seen[tid] = struct{}{}
				out.TraceHits = append(out.TraceHits, &starlingpb.TraceHit{
					TraceId: tid[:], TimeUnixNano: int64(^binary.BigEndian.Uint64(suffix)),
				})
				return len(seen) < limit
			})
			return ferr
		})
		if err != nil {
			return err
		}
	}
	return nil
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

// groupMatches reports whether a span of the group record v that is set in
// bitmap bm (all: every span) meets q's duration and status conditions.
func groupMatches(v []byte, q *starlingpb.TraceSearch, bm []byte, all bool) bool {
	d := decoder{b: v}
	n := d.count(2)
	minD, maxD := uint64(q.GetMinDurationNano()), uint64(q.GetMaxDurationNano())
	for i := 0; i < n && d.err == nil; i++ {
		dur := d.uvarint()
		status := uint32(d.byte())
		if !all && (i/8 >= len(bm) || bm[i/8]&(1<<(i%8)) == 0) {
			continue
		}
		if dur < minD || (maxD > 0 && dur > maxD) {
			continue
		}
		if st := q.GetStatus(); st != statusAny && st != status {
			continue
		}
		return d.err == nil
	}
	return false
}
