package storage

import (
	"fmt"

	"github.com/starling-otel/starling/storage/tsdb"
)

// Series limits are enforced where a partition's active series are known:
// its primary copy, before a batch is replicated. The primary asks, for
// each series of a batch's records, whether it may be written (a series
// already active always may); FilterSeries takes the refused ones out of
// the batch — their samples from the records, their definitions, postings
// and exemplars — so that the rest is written as if they had not been
// sent.

// ReasonSeriesLimit is the rejection reason of samples of a new series
// refused by --max-series or --max-series-per-metric.
const ReasonSeriesLimit = "series_limit"

// RefusedSeries is one series FilterSeries took out of a batch.
type RefusedSeries struct {
	Hash    uint64
	Name    string // metric name
	Samples int    // samples (floats and histograms) taken out
	Reason  string // why admit refused it
	// Seen are the seen-cache keys of the definitions taken out: the
	// frontend must forget them, so that the series' next write carries
	// its definition again.
	Seen []uint64
}

// FilterSeries returns entries without the series admit refuses. admit is
// called once per series of the records (with its hash and metric name,
// the name aliasing entries) and returns "" to keep it or why not. With
// nothing refused, entries is returned as is.
func FilterSeries(entries []byte, admit func(hash uint64, name []byte) string) ([]byte, []RefusedSeries, error) {
	decided := map[uint64]int{} // series → index in refused, or -1 kept
	var refused []RefusedSeries
	it := NewEntryIter(entries)
	for it.Next() {
		e := it.Entry()
		if e.Key[partLen] != kindRecord || e.Delete {
			continue
		}
		err := tsdb.DecodeRecord(e.Value, func(rs *tsdb.RecordSeries) error {
			i, ok := decided[rs.Hash]
			if !ok {
				i = -1
				if why := admit(rs.Hash, rs.NameBytes); why != "" {
					i = len(refused)
					refused = append(refused, RefusedSeries{Hash: rs.Hash, Name: rs.Name(), Reason: why})
				}
				decided[rs.Hash] = i
			}
			if i >= 0 {
				refused[i].Samples += len(rs.Samples) + len(rs.Histograms)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("record %x: %w", e.Key, err)
		}
	}
	if err := it.Err(); err != nil {
		return nil, nil, err
	}
	if len(refused) == 0 {
		return entries, nil, nil
	}
	isRefused := func(h uint64) int {
		if i, ok := decided[h]; ok {
			return i
		}
		return -1
	}
	out := make([]byte, 0, len(entries))
	var rb tsdb.RecordBuilder
	it = NewEntryIter(entries)
	for it.Next() {
		e := it.Entry()
		k := e.Key
		switch {
		case k[partLen] == kindRecord && !e.Delete:
			rb.Reset()
			err := tsdb.DecodeRecord(e.Value, func(rs *tsdb.RecordSeries) error {
				if isRefused(rs.Hash) >= 0 {
					return nil
				}
				ss := append([]tsdb.Sample(nil), rs.Samples...)
				rb.Add(rs.Hash, rs.Name(), ss, append([]tsdb.HistogramSample(nil), rs.Histograms...))
				return nil
			})
			if err != nil {
				return nil, nil, err
			}
			if rb.Len() == 0 {
				continue
			}
			out = appendEntry(out, e.Window, k, rb.Append(nil))
		case len(k) == seriesKeyLen && k[partLen] == kindSeries && isRefused(keySeries(k)) >= 0:
			i := isRefused(keySeries(k))
			refused[i].Seen = append(refused[i].Seen, seriesSeenKey(keySeries(k), e.Window))
		case k[partLen] == kindPosting && len(k) >= headerLen+10 && isRefused(keySeriesAt(k, len(k)-8)) >= 0:
		case len(k) == exemplarKeyLen && k[partLen] == kindExemplar && isRefused(keySeries(k)) >= 0:
		default:
			out = appendOp(out, opOf(e), e.Window, k, e.Value)
		}
	}
	return out, refused, it.Err()
}

func opOf(e Entry) byte {
	if e.Delete {
		return opDelete
	}
	return opPut
}
