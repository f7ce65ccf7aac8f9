package storage

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

// SeenCache remembers which write-once records (resource records, catalog
// entries, series definitions and their index keys) are already committed in
// a window, so a builder can leave them out of later batches. It is only an
// optimisation: a record it forgets is written again, which is harmless since
// writes are idempotent. Callers add a key only after the batch carrying it
// was acknowledged. Safe for concurrent use.
type SeenCache struct {
	shards [64]seenShard
	max    int // per shard
}

type seenShard struct {
	mu sync.Mutex
	m  map[uint64]struct{}
}

// NewSeenCache returns a cache holding about maxEntries keys; when a shard
// fills up it is cleared.
func NewSeenCache(maxEntries int) *SeenCache {
	c := &SeenCache{max: max(maxEntries/64, 16)}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]struct{})
	}
	return c
}

// Contains reports whether h was added and not since forgotten.
func (c *SeenCache) Contains(h uint64) bool {
	if c == nil {
		return false
	}
	s := &c.shards[h%64]
	s.mu.Lock()
	_, ok := s.m[h]
	s.mu.Unlock()
	return ok
}

// Add remembers hs.
func (c *SeenCache) Add(hs []uint64) {
	if c == nil {
		return
	}
	for _, h := range hs {
		s := &c.shards[h%64]
		s.mu.Lock()
		if len(s.m) >= c.max {
			clear(s.m)
		}
		s.m[h] = struct{}{}
		s.mu.Unlock()
	}
}

// seenKey identifies a write-once key of one signal's window.
func seenKey(signal byte, window int64, key []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	var b [9]byte
	b[0] = signal
	for i := 0; i < 8; i++ {
		b[1+i] = byte(uint64(window) >> (56 - 8*i))
	}
	_, _ = d.Write(b[:])
	_, _ = d.Write(key)
	return d.Sum64()
}
