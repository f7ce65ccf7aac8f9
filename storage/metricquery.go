package storage

import (
	"context"
	"encoding/binary"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// SearchSeries appends to out, for up to limit series of partition p that
// have the name and every label of q, the series definition followed by its
// points in [startNano, endNano], for every window holding some. A query
// must name a metric or a label.
func (s *Store) SearchSeries(ctx context.Context, p uint32, q *starlingpb.SeriesSearch, startNano, endNano int64, limit int, out *starlingpb.ResultChunk) error {
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	ws := s.acquire(starlingpb.Signal_SIGNAL_METRICS, startNano, endNano)
	defer releaseAll(ws)

	series := make(map[uint64]struct{})
	for i := len(ws) - 1; i >= 0; i-- { // oldest first: points in time order
		w := ws[i]
		err := w.db(p).View(func(txn *badger.Txn) error {
			var cs []*cursor
			defer func() {
				for _, c := range cs {
					c.close()
				}
			}()
			if q.GetName() != "" {
				prefix := appendHeader(nil, p, kindMetricName)
				prefix = append(prefix, q.GetName()...)
				cs = append(cs, newCursor(txn, append(prefix, 0)))
			}
			for _, l := range q.GetLabels() {
				prefix := appendHeader(nil, p, kindLabelPosting)
				cs = append(cs, newCursor(txn, appendFixed64(prefix, labelTerm(l.GetKey(), l.GetValue()))))
			}
			var matches []uint64
			leapfrog(cs, make([]byte, 8), func(suffix []byte) bool {
				matches = append(matches, binary.BigEndian.Uint64(suffix))
				return true
			})
			// Only a series with points in range takes a place of the limit.
			for _, h := range matches {
				if _, ok := series[h]; !ok && len(series) >= limit {
					continue
				}
				answered, err := appendSeries(txn, p, h, q, startNano, endNano, out)
				if err != nil {
					return err
				}
				if answered {
					series[h] = struct{}{}
				}
			}
			return ctx.Err()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// appendSeries appends one series definition (if its name and labels match
// q exactly) and its points in range; it reports whether it appended any.
func appendSeries(txn *badger.Txn, p uint32, h uint64, q *starlingpb.SeriesSearch, startNano, endNano int64, out *starlingpb.ResultChunk) (bool, error) {
	key := seriesKey(nil, p, h)
	item, err := txn.Get(key)
	if err == badger.ErrKeyNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return false, err
	}
	def, err := decodeSeries(v)
	if err != nil || !seriesMatches(&def, q) {
		return false, nil // a hash collision or a record of an unknown format
	}
	prefix := appendHeader(nil, p, kindPoint)
	prefix = appendFixed64(prefix, h)
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.PrefetchValues = false
	it := txn.NewIterator(opts)
	defer it.Close()
	first := true
	for it.Seek(appendFixed64(append([]byte(nil), prefix...), uint64(max(startNano, 0)))); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		if t := binary.BigEndian.Uint64(item.Key()[len(prefix):]); int64(t) > endNano {
			break
		}
		pv, err := item.ValueCopy(nil)
		if err != nil {
			return false, err
		}
		if first {
			out.Records = append(out.Records, &starlingpb.Record{Key: key, Value: v})
			first = false
		}
		out.Records = append(out.Records, &starlingpb.Record{Key: item.KeyCopy(nil), Value: pv})
	}
	return !first, nil
}

func seriesMatches(def *seriesDef, q *starlingpb.SeriesSearch) bool {
	if q.GetName() != "" && def.name != q.GetName() {
		return false
	}
	for _, want := range q.GetLabels() {
		found := false
		for _, l := range def.labels {
			if l.Key == want.GetKey() && l.Value == want.GetValue() {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
