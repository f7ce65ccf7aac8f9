package storage

import (
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// SeenCache remembers which write-once records (resource records, catalog
// entries, series definitions and their index keys) are already committed in
// a window, so a builder can leave them out of later batches. It is only an
// optimisation: a record it forgets is written again, which is harmless since
// writes are idempotent. Callers add a key only after the batch carrying it
// was acknowledged. Safe for concurrent use.
type SeenCache struct {
	// slots is a 2-way set-associative table of keys (0: empty): a key
	// lives in one of the two slots of its set, the newer first. A lookup
	// is one cache line and no lock; racing writers may lose a key, which
	// costs a rewrite.
	slots []atomic.Uint64
	mask  uint64 // sets - 1
}

// NewSeenCache returns a cache of about maxEntries keys; a key may be
// forgotten before then when its set is full.
func NewSeenCache(maxEntries int) *SeenCache {
	sets := uint64(16)
	for sets < uint64(maxEntries) {
		sets <<= 1
	}
	return &SeenCache{slots: make([]atomic.Uint64, 2*sets), mask: sets - 1}
}

// slot returns the first slot of h's set and h as stored (never 0).
func (c *SeenCache) slot(h uint64) (int, uint64) {
	if h == 0 {
		h = 1
	}
	// Keys are hashes already; mix anyway so that low bits that vary
	// little (a window mixed into a series hash) spread.
	return int((h*0x9e3779b97f4a7c15)>>32&c.mask) * 2, h
}

// Contains reports whether h was added and not since forgotten.
func (c *SeenCache) Contains(h uint64) bool {
	if c == nil {
		return false
	}
	i, v := c.slot(h)
	return c.slots[i].Load() == v || c.slots[i+1].Load() == v
}

// Add remembers hs.
func (c *SeenCache) Add(hs []uint64) {
	if c == nil {
		return
	}
	for _, h := range hs {
		i, v := c.slot(h)
		first := c.slots[i].Load()
		if first == v || c.slots[i+1].Load() == v {
			continue
		}
		c.slots[i+1].Store(first) // the older key moves over; the oldest goes
		c.slots[i].Store(v)
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
