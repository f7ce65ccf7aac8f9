package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// maxTermGroups bounds the postings a selectivity count reads per term,
// window and partition: past it a term is as good as common for a plan.
const maxTermGroups = 10000

// TermGroups measures the selectivity of q's terms (traceTerms order:
// service, name, status, attributes) in partition p over [startNano,
// endNano]: per term, the span groups carrying it, from its postings (a
// key-only range scan, at most maxTermGroups per window), or -1 where the
// term is common in a window (no complete postings: a quarter of the
// groups or more). A plan's estimate (explain) adds them over the
// partitions.
func (s *Store) TermGroups(ctx context.Context, p uint32, q *starlingpb.TraceSearch, startNano, endNano int64) ([]int64, error) {
	release, err := s.readSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	terms := traceTerms(q)
	counts := make([]int64, len(terms))
	ws := s.acquire(starlingpb.Signal_SIGNAL_TRACES, startNano, endNano)
	defer releaseAll(ws)
	from := make([]byte, 8)
	binary.BigEndian.PutUint64(from, tdesc(uint64(endNano)))
	for _, w := range ws {
		err := w.db(p).View(func(txn *badger.Txn) error {
			_, common, err := splitCommon(txn, p, terms)
			if err != nil {
				return err
			}
			for i, t := range terms {
				if counts[i] < 0 {
					continue
				}
				if containsTerm(common, t) {
					counts[i] = -1
					continue
				}
				prefix := appendFixed64(appendHeader(nil, p, kindTracePosting), t)
				it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
				n := int64(0)
				for it.Seek(append(prefix, from...)); it.Valid() && n < maxTermGroups; it.Next() {
					k := it.Item().Key()
					if len(k) < len(prefix)+8 || int64(^binary.BigEndian.Uint64(k[len(prefix):])) < startNano {
						break
					}
					n++
				}
				it.Close()
				counts[i] += n
			}
			return ctx.Err()
		})
		if err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// KeptTermGroups estimates TermGroups summed over partitions ps from the
// term counts their trace summaries keep (tracesummary.go), without reading
// Badger: per window, a term's groups in the partition scaled by the share
// of the window's span group start times [startNano, endNano] covers (-1:
// common in a window);
// groups is the span groups so estimated. ok is false when a summary of a
// window in the range is not in memory (it starts reading it; the caller
// measures instead). Called by the queriers on this node, concurrently.
func (s *Store) KeptTermGroups(q *starlingpb.TraceSearch, ps []uint32, startNano, endNano int64) (counts []int64, groups int64, ok bool) {
	terms := traceTerms(q)
	counts = make([]int64, len(terms))
	ws := s.acquire(starlingpb.Signal_SIGNAL_TRACES, startNano, endNano)
	defer releaseAll(ws)
	for _, w := range ws {
		for _, p := range ps {
			b := &w.shardOf(p).blooms
			b.mu.Lock()
			sum := b.ready(w, p)
			if sum == nil {
				b.mu.Unlock()
				return nil, 0, false
			}
			share := sum.share(startNano, endNano)
			groups += int64(math.Ceil(float64(sum.groups) * share))
			for i, t := range terms {
				switch g := sum.termGroups(t); {
				case counts[i] < 0:
				case g < 0:
					counts[i] = -1
				default:
					counts[i] += int64(math.Ceil(float64(g) * share))
				}
			}
			b.mu.Unlock()
		}
	}
	return counts, groups, true
}

func containsTerm(ts []uint64, t uint64) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// TraceTermNames names the terms of q in the order TermGroups counts
// them, as TraceQL conditions.
func TraceTermNames(q *starlingpb.TraceSearch) []string {
	var names []string
	if q.GetService() != "" {
		names = append(names, fmt.Sprintf("resource.service.name = %q", q.GetService()))
	}
	if q.GetName() != "" {
		names = append(names, fmt.Sprintf("name = %q", q.GetName()))
	}
	switch q.GetStatus() {
	case statusOK:
		names = append(names, "status = ok")
	case statusError:
		names = append(names, "status = error")
	}
	for _, a := range q.GetAttributes() {
		names = append(names, fmt.Sprintf(".%s = %q", a.GetKey(), a.GetValue()))
	}
	return names
}
