package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Dropping a partition copy: when a node no longer holds a partition (its
// copy moved to another node), its keys are deleted from the windows that
// are over (no longer written but for late records) with Badger's
// DropPrefix, all the dropped partitions of a shard in one call. DropPrefix
// blocks the shard's writes while it flushes and compacts the prefixes
// away, seconds under load: never done to the window being written, whose
// old copies go when it is over. The group committer retries writes it
// refused meanwhile, so a late write waits instead of failing. The caller
// makes sure nothing writes into a partition while it is dropped (the node
// holds no copy of it).

// DropStats is what a drop covered.
type DropStats struct {
	Windows int           // windows visited
	Calls   int           // DropPrefix calls (one per shard with data)
	Bytes   int64         // estimated bytes of the partitions before the drop
	Took    time.Duration // time writes to the shards were blocked, summed
}

// DropPartitions deletes every key of partitions ps of sig in every open
// window that ended at or before endedBy. Partitions without data cost
// nothing.
func (s *Store) DropPartitions(ctx context.Context, sig starlingpb.Signal, ps []uint32, endedBy time.Time) (DropStats, error) {
	var st DropStats
	ws := s.acquireAll(sig)
	defer releaseAll(ws)
	for _, w := range ws {
		if w.start+int64(s.cfg.windowLength(w.space)/time.Second) > endedBy.Unix() {
			continue // still written
		}
		st.Windows++
		byShard := map[int][][]byte{}
		for _, p := range ps {
			_, size := w.db(p).EstimateSize(partitionPrefix(p))
			if size == 0 && !w.hasPrefix(p) {
				continue
			}
			st.Bytes += int64(size)
			i := int(p) % len(w.shards)
			byShard[i] = append(byShard[i], partitionPrefix(p))
		}
		for i, prefixes := range byShard {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			began := time.Now()
			sh := w.shards[i]
			forgetDropped(sh, ps) // before and after: see readcache.go
			err := sh.db.DropPrefix(prefixes...)
			forgetDropped(sh, ps)
			s.changed(sig)
			if err != nil {
				return st, fmt.Errorf("drop %d partitions of %s window %s shard %d: %w", len(prefixes), signalName(sig), windowName(w.start), i, err)
			}
			st.Calls++
			st.Took += time.Since(began)
		}
	}
	return st, nil
}

// forgetDropped forgets what sh's memory holds of those of ps that live
// in it (see shard.forgetReads).
func forgetDropped(sh *shard, ps []uint32) {
	for _, p := range ps {
		if int(p)%len(sh.w.shards) == sh.index {
			sh.forgetReads(p)
		}
	}
}

// hasPrefix reports whether partition p has a key in w (EstimateSize
// misses keys still in the memtable).
func (w *window) hasPrefix(p uint32) bool {
	found := false
	_ = w.db(p).View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: partitionPrefix(p)})
		defer it.Close()
		it.Rewind()
		found = it.Valid()
		return nil
	})
	return found
}
