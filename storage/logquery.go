package storage

import (
	"context"
	"encoding/binary"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// SearchLogs appends to out up to limit log records of partition p with a
// time in [startNano, endNano] matching every condition of q, newest first
// (one Record each), and the resource records they refer to (out.Refs).
//
// Service, words, attributes and (for WARN and above) the minimum severity
// are posting lists intersected by a leapfrog join; the exact minimum
// severity is checked on the record. Without any posting condition the
// records themselves are scanned newest first.
func (s *Store) SearchLogs(ctx context.Context, p uint32, q *starlingpb.LogSearch, startNano, endNano int64, limit int, out *starlingpb.ResultChunk) error {
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	ws := s.acquire(starlingpb.Signal_SIGNAL_LOGS, startNano, endNano)
	defer releaseAll(ws)

	terms := logTerms(q)
	from := make([]byte, logSuffix)
	binary.BigEndian.PutUint64(from, tdesc(uint64(endNano)))
	found := 0
	for _, w := range ws {
		if found >= limit {
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
				prefix := appendHeader(nil, p, kindLogPosting)
				cs = append(cs, newCursor(txn, appendFixed64(prefix, t)))
			}
			scan := len(cs) == 0
			if scan {
				cs = append(cs, newCursor(txn, appendHeader(nil, p, kindLog)))
			}
			refSeen := make(map[uint64]struct{})
			var refs []uint64
			var key []byte
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
				key = appendHeader(key[:0], p, kindLog)
				key = append(key, suffix...)
				var v []byte
				if scan {
					v, ferr = cs[0].value(nil)
				} else {
					var item *badger.Item
					if item, ferr = txn.Get(key); ferr == badger.ErrKeyNotFound {
						ferr = nil
						return true
					} else if ferr == nil {
						v, ferr = item.ValueCopy(nil)
					}
				}
				if ferr != nil {
					return false
				}
				if sev, ok := logSeverity(v); !ok || sev < q.GetMinSeverity() {
					return true
				}
				if len(v) >= 9 {
					ref := binary.BigEndian.Uint64(v[1:9])
					if _, ok := refSeen[ref]; !ok {
						refSeen[ref] = struct{}{}
						refs = append(refs, ref)
					}
				}
				out.Records = append(out.Records, &starlingpb.Record{Key: append([]byte(nil), key...), Value: v})
				found++
				return found < limit
			})
			if ferr != nil {
				return ferr
			}
			return s.appendRefs(txn, p, refs, out)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func logTerms(q *starlingpb.LogSearch) []uint64 {
	var terms []uint64
	if q.GetService() != "" {
		terms = append(terms, serviceTerm(q.GetService()))
	}
	for _, w := range q.GetWords() {
		terms = append(terms, wordTerm(w))
	}
	for _, a := range q.GetAttributes() {
		terms = append(terms, attrTerm(a.GetKey(), a.GetValue()))
	}
	best := int32(0)
	for _, n := range severityShortcuts {
		if q.GetMinSeverity() >= n {
			best = n
		}
	}
	if best > 0 {
		terms = append(terms, severityTerm(best))
	}
	return terms
}
