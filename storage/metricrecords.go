package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Write-through records, the partition copy's side. A frontend writes a
// record under a stub key ([p][kind][block] and a zero sequence and
// writer); every copy completes the key with a sequence of its own and its
// writer id before committing it, so that a flush can delete exactly the
// records its block holds (those of the block with a sequence up to the
// block's cut) without remembering them one by one. See docs/metrics.md.

// CompleteRecords returns a copy of entries with every record key
// completed with nextSeq() and writer, calling fn with each record's block,
// sequence and value (fn appends it to the head) before the next. entries
// is not modified: a frontend may send it again, and a primary forwards it
// to its replicas as it came.
func CompleteRecords(entries []byte, writer uint32, nextSeq func() uint64, fn func(block int64, seq uint64, record []byte) error) ([]byte, error) {
	out := bytes.Clone(entries)
	it := NewEntryIter(out)
	for it.Next() {
		e := it.Entry()
		if e.Key[partLen] != kindRecord {
			continue
		}
		block, _, ok := parseRecordKey(e.Key)
		if !ok || e.Delete {
			return nil, fmt.Errorf("record key %x: %w", e.Key, ErrCorrupt)
		}
		seq := nextSeq()
		if err := fn(block, seq, e.Value); err != nil {
			return nil, err
		}
		// The key aliases out: complete it there.
		binary.BigEndian.PutUint64(e.Key[headerLen+8:], seq)
		binary.BigEndian.PutUint32(e.Key[headerLen+16:], writer)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return out, nil
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
// block with a sequence up to cut: the second commit of a flush. Every
// records window is searched (a handful: records windows live a few
// hours), not only the block's: one written by a version that windowed
// records by day, or loaded from a snapshot of a node with another
// records window length, may hold the block's records.
func (s *Store) RecordDeletes(p uint32, block int64, cut uint64) ([]byte, error) {
	ws := s.acquireSpace(starlingpb.Signal_SIGNAL_METRICS, spaceRecords, math.MinInt64, math.MaxInt64)
	defer releaseAll(ws)
	var out []byte
	prefix := recordPrefix(nil, p, block)
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
