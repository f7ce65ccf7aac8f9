package storage

import (
	"context"
	"math"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// ReadCardinality answers a partition's share of the cardinality API: its
// active series (those in the head's open blocks) per metric name, and the
// q.Top label pairs with the most active series (counted from the postings
// of the newest window).
func (s *Store) ReadCardinality(ctx context.Context, p uint32, q *starlingpb.CardinalityQuery, head *tsdb.Head, out *starlingpb.ResultChunk) error {
	c := &starlingpb.Cardinality{}
	out.Cardinality = c
	if head == nil {
		return nil
	}
	head.ActiveByName(func(name string, n int) {
		c.Metrics = append(c.Metrics, &starlingpb.NameCount{Name: name, Series: uint64(n)})
		c.ActiveSeries += uint64(n)
	})
	sort.Slice(c.Metrics, func(i, j int) bool { return c.Metrics[i].Name < c.Metrics[j].Name })
	if q.GetTop() == 0 {
		return nil
	}
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	ws := s.acquire(starlingpb.Signal_SIGNAL_METRICS, math.MinInt64, math.MaxInt64)
	defer releaseAll(ws)
	if len(ws) == 0 {
		return nil
	}
	pairs := map[string]uint64{}
	err = ws[0].db(p).View(func(txn *badger.Txn) error {
		prefix := appendHeader(nil, p, kindPosting)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			name, value, series, ok := parsePosting(it.Item().Key())
			if ok && head.IsActive(series) {
				pairs[string(name)+"="+string(value)]++
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	for k, n := range pairs {
		c.LabelPairs = append(c.LabelPairs, &starlingpb.NameCount{Name: k, Series: n})
	}
	sort.Slice(c.LabelPairs, func(i, j int) bool {
		if c.LabelPairs[i].Series != c.LabelPairs[j].Series {
			return c.LabelPairs[i].Series > c.LabelPairs[j].Series
		}
		return c.LabelPairs[i].Name < c.LabelPairs[j].Name
	})
	if len(c.LabelPairs) > int(q.GetTop()) {
		c.LabelPairs = c.LabelPairs[:q.GetTop()]
	}
	return nil
}
