package storage

import (
	"context"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// maxCatalogNames bounds the names one catalog read returns per partition.
const maxCatalogNames = 10000

// ReadCatalog appends to out.Names the distinct names of partition p that q
// asks for: trace services, the span names of a service, or metric names
// starting with a prefix. Windows overlapping [startNano, endNano] are read.
func (s *Store) ReadCatalog(ctx context.Context, p uint32, q *starlingpb.Catalog, startNano, endNano int64, out *starlingpb.ResultChunk) error {
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()

	var sig starlingpb.Signal
	var prefix []byte
	switch q.GetKind() {
	case starlingpb.Catalog_KIND_SERVICES:
		sig = starlingpb.Signal_SIGNAL_TRACES
		prefix = append(appendHeader(nil, p, kindCatalog), catalogService)
	case starlingpb.Catalog_KIND_OPERATIONS:
		sig = starlingpb.Signal_SIGNAL_TRACES
		prefix = append(appendHeader(nil, p, kindCatalog), catalogOperation)
		prefix = append(append(prefix, q.GetService()...), 0)
	case starlingpb.Catalog_KIND_METRIC_NAMES:
		sig = starlingpb.Signal_SIGNAL_METRICS
		prefix = append(mainIndex.postingPrefix(nil, p, tsdb.MetricNameLabel), q.GetPrefix()...)
	default:
		return ErrCorrupt
	}
	metricNames := q.GetKind() == starlingpb.Catalog_KIND_METRIC_NAMES

	ws := s.acquire(sig, startNano, endNano)
	defer releaseAll(ws)
	seen := make(map[string]struct{})
	for _, w := range ws {
		err := w.db(p).View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.Prefix = prefix
			opts.PrefetchValues = false
			it := txn.NewIterator(opts)
			defer it.Close()
			for it.Rewind(); it.ValidForPrefix(prefix) && len(seen) < maxCatalogNames; {
				k := it.Item().Key()
				var name []byte
				if metricNames {
					// A posting of __name__=name: skip the rest of this name's series.
					_, value, _, ok := parsePosting(k)
					if !ok {
						it.Next()
						continue
					}
					name = value
				} else {
					name = k[len(prefix):]
				}
				if _, ok := seen[string(name)]; !ok {
					seen[string(name)] = struct{}{}
					out.Names = append(out.Names, string(name))
				}
				if metricNames {
					it.Seek(prefixEnd(mainIndex.postingValuePrefix(nil, p, tsdb.MetricNameLabel, string(name))))
				} else {
					it.Next()
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
