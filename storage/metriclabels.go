package storage

import (
	"bytes"
	"context"
	"math"
	"sort"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// maxLabelNames bounds the names one label query returns per partition.
const maxLabelNames = 1 << 20

// LabelQuery appends to out.Names the distinct label names (q.Name empty)
// or values of label q.Name of partition p's series matching q's matchers
// (none: every series) in windows overlapping [q.StartMs, q.EndMs].
func (s *Store) LabelQuery(ctx context.Context, p uint32, q *starlingpb.LabelQuery, out *starlingpb.ResultChunk) error {
	ms, err := Matchers(q.GetMatchers())
	if err != nil {
		return err
	}
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	ws := s.indexWindows(startNs(q.GetStartMs()), endNs(q.GetEndMs()), spaceRollup1h)
	defer releaseAll(ws)
	names := map[string]struct{}{}
	add := func(n string) {
		if len(names) < maxLabelNames {
			names[n] = struct{}{}
		}
	}
	if len(ms) > 0 {
		found, err := s.selectMatched(ctx, ws, p, ms, 0)
		if err != nil {
			return err
		}
		for _, m := range found {
			for _, l := range m.labels {
				switch q.GetName() {
				case "":
					add(l.Name)
				case l.Name:
					add(l.Value)
				}
			}
		}
	} else {
		for _, w := range ws {
			ix := indexOf(w.space)
			err := w.db(p).View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: appendHeader(nil, p, ix.posting)})
				defer it.Close()
				if q.GetName() == "" {
					eachName(it, ix, p, add)
				} else {
					eachValue(it, ix, p, q.GetName(), func(v string, _ []byte) { add(v) })
				}
				return ctx.Err()
			})
			if err != nil {
				return err
			}
		}
	}
	for n := range names {
		out.Names = append(out.Names, n)
	}
	sort.Strings(out.Names)
	return nil
}

// ReadMetadata appends the metadata records of partition p (of one family,
// or all with q.Metric empty) to out: the newest window's for a family.
func (s *Store) ReadMetadata(ctx context.Context, p uint32, q *starlingpb.MetadataQuery, out *starlingpb.ResultChunk) error {
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	ws := s.acquire(starlingpb.Signal_SIGNAL_METRICS, math.MinInt64, math.MaxInt64)
	defer releaseAll(ws)
	seen := map[string]bool{}
	prefix := appendHeader(nil, p, kindMetadata)
	for _, w := range ws { // newest first
		err := w.db(p).View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			start := prefix
			if q.GetMetric() != "" {
				start = metadataKey(nil, p, q.GetMetric())
			}
			for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
				k := it.Item().Key()
				fam := string(k[headerLen:])
				if q.GetMetric() != "" && fam != q.GetMetric() {
					break
				}
				if seen[fam] {
					continue
				}
				seen[fam] = true
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				out.Records = append(out.Records, &starlingpb.Record{Key: it.Item().KeyCopy(nil), Value: v})
			}
			return ctx.Err()
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// DecodeMetadata decodes metadata records as ReadMetadata returns them.
func DecodeMetadata(recs []*starlingpb.Record) ([]tsdb.Metadata, error) {
	out := make([]tsdb.Metadata, 0, len(recs))
	for _, r := range recs {
		if len(r.Key) <= headerLen || r.Key[partLen] != kindMetadata {
			return nil, ErrCorrupt
		}
		m, err := decodeMetadata(string(r.Key[headerLen:]), r.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// ReadExemplars appends, per series of partition p matching q, its
// definition record followed by its exemplar records in [q.StartMs, q.EndMs].
func (s *Store) ReadExemplars(ctx context.Context, p uint32, q *starlingpb.ExemplarQuery, out *starlingpb.ResultChunk) error {
	ms, err := Matchers(q.GetMatchers())
	if err != nil {
		return err
	}
	release, err := s.readSlot(ctx)
	if err != nil {
		return err
	}
	defer release()
	ws := s.acquire(starlingpb.Signal_SIGNAL_METRICS, startNs(q.GetStartMs()), endNs(q.GetEndMs()))
	defer releaseAll(ws)
	found, err := s.selectMatched(ctx, ws, p, ms, 0)
	if err != nil {
		return err
	}
	for _, m := range found {
		var recs []*starlingpb.Record
		for i := len(ws) - 1; i >= 0; i-- {
			err := ws[i].db(p).View(func(txn *badger.Txn) error {
				prefix := appendFixed64(appendHeader(nil, p, kindExemplar), m.hash)
				it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
				defer it.Close()
				for it.Seek(appendFixed64(bytes.Clone(prefix), sortableTime(q.GetStartMs()))); it.ValidForPrefix(prefix); it.Next() {
					k := it.Item().Key()
					if len(k) != exemplarKeyLen {
						continue
					}
					if timeOfSortable(keySeriesAt(k, headerLen+8)) > q.GetEndMs() {
						break
					}
					v, err := it.Item().ValueCopy(nil)
					if err != nil {
						return err
					}
					recs = append(recs, &starlingpb.Record{Key: it.Item().KeyCopy(nil), Value: v})
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if len(recs) > 0 {
			out.Records = append(out.Records, &starlingpb.Record{Key: seriesKey(nil, p, m.hash), Value: m.def})
			out.Records = append(out.Records, recs...)
		}
	}
	return ctx.Err()
}

// SeriesExemplars is the exemplars of one series.
type SeriesExemplars struct {
	Labels    []tsdb.Label
	Exemplars []tsdb.Exemplar
}

// DecodeExemplars decodes records as ReadExemplars returns them.
func DecodeExemplars(recs []*starlingpb.Record) ([]SeriesExemplars, error) {
	var out []SeriesExemplars
	for _, r := range recs {
		switch {
		case len(r.Key) == seriesKeyLen && r.Key[partLen] == kindSeries:
			ls, err := decodeSeriesDef(r.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, SeriesExemplars{Labels: ls})
		case len(r.Key) == exemplarKeyLen && r.Key[partLen] == kindExemplar && len(out) > 0:
			e, err := decodeExemplar(r.Value)
			if err != nil {
				return nil, err
			}
			e.T = timeOfSortable(keySeriesAt(r.Key, headerLen+8))
			out[len(out)-1].Exemplars = append(out[len(out)-1].Exemplars, e)
		default:
			return nil, ErrCorrupt
		}
	}
	return out, nil
}
