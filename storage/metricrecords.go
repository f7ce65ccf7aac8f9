package storage

import (
	"context"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Write-through records, the partition copy's side. A frontend writes a
// record under a stub key ([p][kind][block]); every copy completes the key
// with a sequence of its own and its writer id before committing it, so
// that a flush can delete exactly the records its block holds (those of the
// block with a sequence up to the block's cut) without remembering them
// one by one. See docs/metrics.md.

// CompleteRecords returns entries with every record stub completed with
// nextSeq() and writer, calling fn with each record's block, sequence and
// value (fn appends it to the head) before the next. Other entries are
// copied as they are. entries is not modified.
func CompleteRecords(entries []byte, writer uint32, nextSeq func() uint64, fn func(block int64, seq uint64, record []byte) error) ([]byte, error) {
	out := make([]byte, 0, len(entries)+len(entries)/32+16)
	var key []byte
	it := NewEntryIter(entries)
	for it.Next() {
		e := it.Entry()
		if e.Key[partLen] != kindRecord {
			out = appendOp(out, entryOp(e), e.Window, e.Key, e.Value)
			continue
		}
		if len(e.Key) != recordStubLen || e.Delete {
			return nil, fmt.Errorf("record key of %d bytes: %w", len(e.Key), ErrCorrupt)
		}
		block := timeOfSortable(keySeries(e.Key))
		seq := nextSeq()
		p, _ := keyPartition(e.Key)
		key = recordKey(key[:0], p, block, seq, writer)
		if err := fn(block, seq, e.Value); err != nil {
			return nil, err
		}
		out = appendEntry(out, e.Window, key, e.Value)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func entryOp(e Entry) byte {
	if e.Delete {
		return opDelete
	}
	return opPut
}

// HasRecords reports whether entries hold a record stub: a metrics batch
// with samples.
func HasRecords(entries []byte) bool {
	it := NewEntryIter(entries)
	for it.Next() {
		if it.Entry().Key[partLen] == kindRecord {
			return true
		}
	}
	return false
}

// EachRecord calls fn with every stored record of partition p (every
// window of the records space): what a restarted partition copy, or one
// that just got a snapshot, replays into its head. fn must not keep the
// value.
func (s *Store) EachRecord(ctx context.Context, p uint32, fn func(block int64, seq uint64, record []byte) error) error {
	ws := s.acquireSpace(starlingpb.Signal_SIGNAL_METRICS, spaceRecords, math.MinInt64, math.MaxInt64)
	defer releaseAll(ws)
	prefix := appendHeader(nil, p, kindRecord)
	for i := len(ws) - 1; i >= 0; i-- {
		err := ws[i].db(p).View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				block, seq, ok := parseRecordKey(it.Item().Key())
				if !ok {
					continue // a key of another layout: not ours to replay
				}
				if err := it.Item().Value(func(v []byte) error { return fn(block, seq, v) }); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("replay metrics records of partition %d: %w", p, err)
		}
	}
	return nil
}

// RecordDeletes returns entries deleting every record of partition p and
// block with a sequence up to cut: the second commit of a flush.
func (s *Store) RecordDeletes(p uint32, block int64, cut uint64) ([]byte, error) {
	ws := s.acquireSpace(starlingpb.Signal_SIGNAL_METRICS, spaceRecords, block*1e6, block*1e6)
	defer releaseAll(ws)
	var out []byte
	prefix := recordStub(nil, p, block)
	for _, w := range ws {
		err := w.db(p).View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				k := it.Item().Key()
				if _, seq, ok := parseRecordKey(k); ok && seq <= cut {
					out = appendDelete(out, w.start, k)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list metrics records of partition %d: %w", p, err)
		}
	}
	return out, nil
}
