package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Partition sizes feed the rebalancer's size balancer: they need to be
// right about large partitions and cheap, not exact to the byte.
const (
	// exactBelow is the estimated size under which a partition is measured
	// exactly, by iterating its keys (without reading values from the
	// value log): a small partition's data sits mostly in tables shared
	// with other partitions, and in memtables, where the table index
	// cannot tell partitions apart.
	exactBelow = 32 << 20
	// exactBudget bounds the bytes one PartitionSizes call iterates.
	exactBudget = 256 << 20
)

// PartitionSizes measures the bytes of keys and values (every version)
// that partitions ps of sig hold in every open window; partitions is the
// partition count P. The result holds one size per entry of ps.
//
// The first pass reads Badger's table index alone: a table whose keys all
// belong to one partition counts for it whole, a table spanning several
// partitions of its shard (a flushed memtable, a compaction output at a
// boundary) is split evenly among them. That is close for a large
// partition, whose data is mostly in tables of its own, and wrong for a
// small one (Badger's EstimateSize, which counts whole tables only, misses
// it altogether). So partitions estimated below 32 MiB are then measured
// exactly, memtables included, by iterating their keys, up to 256 MiB of
// iteration per call; the others keep the estimate.
func (s *Store) PartitionSizes(sig starlingpb.Signal, partitions int, ps []uint32) ([]int64, error) {
	return s.partitionSizes(sig, partitions, ps, exactBelow, exactBudget)
}

func (s *Store) partitionSizes(sig starlingpb.Signal, partitions int, ps []uint32, exactBelow, budget int64) ([]int64, error) {
	ws := s.acquireAll(sig)
	defer releaseAll(ws)
	est := make([]int64, partitions)
	for _, w := range ws {
		n := len(w.shards)
		for si, sh := range w.shards {
			for _, t := range sh.db.Tables() {
				if len(t.Left) < 2 || len(t.Right) < 2 {
					continue
				}
				lo := int(binary.BigEndian.Uint16(t.Left))
				hi := min(int(binary.BigEndian.Uint16(t.Right)), partitions-1)
				// The shard's partitions in lo..hi: si, si+n, … (keys past
				// the last partition are Badger's own, "!badger!…").
				first := lo + ((si-lo)%n+n)%n
				if first > hi {
					continue
				}
				share := int64(t.UncompressedSize) / int64((hi-first)/n+1)
				for p := first; p <= hi; p += n {
					est[p] += share
				}
			}
		}
	}
	out := make([]int64, len(ps))
	for i, p := range ps {
		if int(p) >= partitions {
			return nil, fmt.Errorf("partition sizes: partition %d is outside 0..%d", p, partitions-1)
		}
		out[i] = est[p]
		if est[p] >= exactBelow || budget <= 0 {
			continue
		}
		var exact int64
		for _, w := range ws {
			n, err := keyBytes(w.db(p), partitionPrefix(p))
			if err != nil {
				return nil, fmt.Errorf("partition sizes: %s partition %d: %w", SignalName(sig), p, err)
			}
			exact += n
		}
		out[i] = exact
		budget -= exact
	}
	return out, nil
}

// keyBytes sums the sizes of every version of every key under prefix,
// without reading values kept in the value log.
func keyBytes(db *badger.DB, prefix []byte) (int64, error) {
	var n int64
	err := db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n += it.Item().EstimatedSize()
		}
		return nil
	})
	return n, err
}
