package cache

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Cache is the two-level results cache. Its methods are safe for concurrent
// use, and on a nil *Cache: Get misses, Set and Close do nothing.
type Cache struct {
	maxEntryBytes int64
	log           *slog.Logger
	l1            *lru // nil: L1 disabled
	l2            *l2  // nil: L2 disabled
	closed        atomic.Bool

	l1Hits, l1Misses                       atomic.Uint64
	l2Hits, l2Misses, l2GetErrs, l2SetErrs atomic.Uint64
}

// Stats are the counters of a Cache since New.
type Stats struct {
	L1Hits, L1Misses uint64 // L1 lookups (none counted when L1 is disabled)
	// L2 lookups, made on an L1 miss (none counted when L2 is disabled):
	// L2Errors counts the lookups and the writes that failed or timed out;
	// a failed lookup is not counted in L2Misses.
	L2Hits, L2Misses, L2Errors uint64
	Entries                    uint64 // in L1
	Bytes                      int64  // of the keys and values in L1
	Evictions                  uint64 // from L1, to stay within MaxBytes
}

// New returns a cache of cfg, its metrics registered on reg (nil: not
// registered) and logging to log (nil: discarded). It dials nothing except
// when cfg.RedisURL is set: then it creates the client and pings once, a
// failure being only logged.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("query cache config: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{maxEntryBytes: cfg.MaxEntryBytes, log: log}
	if cfg.MaxBytes > 0 {
		c.l1 = newLRU(cfg.MaxBytes)
	}
	if cfg.RedisURL != "" {
		r, err := newL2(cfg, log)
		if err != nil {
			return nil, fmt.Errorf("query cache: %w", err)
		}
		c.l2 = r
	}
	if reg != nil {
		if err := reg.Register(newCollector(c)); err != nil {
			if c.l2 != nil {
				_ = c.l2.close()
			}
			return nil, fmt.Errorf("query cache: register metrics: %w", err)
		}
	}
	return c, nil
}

// Get returns the value of key from L1, else from L2 (putting it into L1).
// The value is shared: the caller must not modify it. An L2 failure is a
// miss, counted and logged at debug.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	if c.l1 != nil {
		if v, ok := c.l1.get(key); ok {
			c.l1Hits.Add(1)
			return v, true
		}
		c.l1Misses.Add(1)
	}
	if c.l2 == nil || c.closed.Load() {
		return nil, false
	}
	v, ok, err := c.l2.get(ctx, key)
	switch {
	case err != nil:
		c.l2GetErrs.Add(1)
		c.log.Debug("query cache: L2 lookup failed, a miss", slog.Any("err", err))
		return nil, false
	case !ok:
		c.l2Misses.Add(1)
		return nil, false
	}
	c.l2Hits.Add(1)
	if c.l1 != nil && int64(len(v)) <= c.maxEntryBytes {
		c.l1.add(key, v) // v is ours: fresh from Redis
	}
	return v, true
}

// Set stores a copy of val under key in L1 and, if configured, in L2 (bounded
// by RedisTimeout; a failure is counted and logged at debug). Values larger
// than MaxEntryBytes are not cached.
func (c *Cache) Set(ctx context.Context, key string, val []byte) {
	if c == nil || int64(len(val)) > c.maxEntryBytes || (c.l1 == nil && c.l2 == nil) {
		return
	}
	cp := bytes.Clone(val)
	if cp == nil {
		cp = []byte{}
	}
	if c.l1 != nil {
		c.l1.add(key, cp)
	}
	if c.l2 == nil || c.closed.Load() {
		return
	}
	if err := c.l2.set(ctx, key, cp); err != nil {
		c.l2SetErrs.Add(1)
		c.log.Debug("query cache: L2 write failed", slog.Any("err", err))
	}
}

// Stats returns the counters since New (zero for a nil cache).
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	s := Stats{
		L1Hits:   c.l1Hits.Load(),
		L1Misses: c.l1Misses.Load(),
		L2Hits:   c.l2Hits.Load(),
		L2Misses: c.l2Misses.Load(),
		L2Errors: c.l2GetErrs.Load() + c.l2SetErrs.Load(),
	}
	if c.l1 != nil {
		s.Entries, s.Bytes, s.Evictions = c.l1.stats()
	}
	return s
}

// Close releases the Redis client; L1 keeps answering. Closing twice, or a
// nil cache, is a no-op.
func (c *Cache) Close() error {
	if c == nil || c.closed.Swap(true) || c.l2 == nil {
		return nil
	}
	if err := c.l2.close(); err != nil {
		return fmt.Errorf("query cache: %w", err)
	}
	return nil
}
