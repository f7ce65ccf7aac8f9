package actors

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// Design.
//
// A query's answer may be cached when its range is closed: it ends at
// least Freshness before now, so that the writes still arriving (spans
// are written when they end, seconds after they start; batches wait in
// SDKs and collectors) fall after it. What can still change a closed
// range is named in the entry's key, so that a change makes every entry
// it may affect unreachable (they age out of the LRU, or out of Redis by
// their TTL):
//   - the partition table's version of the signal (Router.TableVersion):
//     a move, a failover, an epoch change;
//   - this node's store generation (storage.Store.DataGeneration): a
//     window removed by retention, partitions dropped, a snapshot loaded;
//   - the late writes of the signal: a frontend that acknowledged a write
//     holding a record older than the horizon counts it here and tells
//     every other node's QueryCache (LateData), at most once per
//     lateEvery per signal with a trailing send, so none is lost to the
//     coalescing. A LateData lost on the way costs at most the TTL of the
//     entries of the node that missed it (the L1 holds entries for at
//     most Freshness + TTL).

// ResultCache keeps encoded answers by key (query/cache.Cache). The
// Querier calls it from every cached query; calls overlap.
type ResultCache interface {
	// Get returns the value stored under key; it must not be modified.
	Get(ctx context.Context, key string) ([]byte, bool)
	// Set stores a copy of val under key.
	Set(ctx context.Context, key string, val []byte)
}

// DataGenerations is this node's store as the query cache sees it
// (storage.Store.DataGeneration). Called by every cached query; calls
// overlap.
type DataGenerations interface {
	DataGeneration(sig starlingpb.Signal) uint64
}

// QueryCacheConfig configures a QueryCache.
type QueryCacheConfig struct {
	// Freshness is how long before now a range must end to be cached.
	Freshness time.Duration
	// TTL bounds the age of an entry in the L1 (Redis has its own).
	TTL time.Duration
	// Self is this node's id (LateData goes to every other node).
	Self string
}

// DefaultQueryCacheConfig caches ranges ending 10 minutes ago or earlier.
func DefaultQueryCacheConfig() QueryCacheConfig {
	return QueryCacheConfig{Freshness: 10 * time.Minute, TTL: time.Hour}
}

// Validate checks the durations.
func (c QueryCacheConfig) Validate() error {
	if c.Freshness <= 0 || c.TTL <= 0 {
		return fmt.Errorf("query cache: freshness %s and ttl %s must be positive", c.Freshness, c.TTL)
	}
	return nil
}

// QueryCacheName is the name of every node's query cache actor, to which
// the other nodes send LateData.
const QueryCacheName = "query-cache"

// lateEvery spaces the LateData broadcasts of one signal.
const lateEvery = 100 * time.Millisecond

// QueryCache decides which answers a Querier may cache and under which
// key, and hears of late writes (it is the frontends' LateWrites). Safe
// for concurrent use.
type QueryCache struct {
	cfg    QueryCacheConfig
	cache  ResultCache
	store  DataGenerations
	router *Router
	addrs  NodeAddresses
	system *actor.ActorSystem
	pid    *actor.PID
	now    func() time.Time
	late   [len(storage.Signals)]atomic.Uint64
}

// StartQueryCache spawns the node's query cache actor over cache.
func StartQueryCache(system *actor.ActorSystem, cfg QueryCacheConfig, cache ResultCache, store DataGenerations, router *Router, addrs NodeAddresses) (*QueryCache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &QueryCache{cfg: cfg, cache: cache, store: store, router: router, addrs: addrs, system: system, now: time.Now}
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &lateActor{c: c, last: map[starlingpb.Signal]time.Time{}, pending: map[starlingpb.Signal]int64{}}
	}), QueryCacheName)
	if err != nil {
		return nil, fmt.Errorf("spawn query cache: %w", err)
	}
	c.pid = pid
	return c, nil
}

// Stop stops the actor; the cache answers misses from then on.
func (c *QueryCache) Stop() {
	if c != nil && c.pid != nil {
		_ = c.system.Root.StopFuture(c.pid).Wait()
	}
}

// Wrote is told of every acknowledged write by the frontends (LateWrites):
// one holding a record older than the horizon makes the cached answers of
// its signal unreachable, here at once and on the other nodes soon.
func (c *QueryCache) Wrote(sig starlingpb.Signal, oldestUnixNano int64) {
	if c == nil || oldestUnixNano == 0 || oldestUnixNano >= c.horizon() {
		return
	}
	if c.bump(sig) {
		c.system.Root.Send(c.pid, &lateWrite{signal: sig, oldest: oldestUnixNano})
	}
}

// horizon is the newest end of a closed range, in unix nanoseconds.
func (c *QueryCache) horizon() int64 {
	return c.now().Add(-c.cfg.Freshness).UnixNano()
}

// lateOf is the late-write count of sig (nil: not a stored signal).
func (c *QueryCache) lateOf(sig starlingpb.Signal) *atomic.Uint64 {
	for i, s := range storage.Signals {
		if s == sig {
			return &c.late[i]
		}
	}
	return nil
}

// bump counts a late write of sig; false when sig is not stored.
func (c *QueryCache) bump(sig starlingpb.Signal) bool {
	n := c.lateOf(sig)
	if n != nil {
		n.Add(1)
	}
	return n != nil
}

// key returns the cache key of a query of sig over [start, end] whose
// other inputs are parts, or false when the range is not closed (or there
// is no cache).
func (c *QueryCache) key(sig starlingpb.Signal, end int64, parts ...any) (string, bool) {
	if c == nil || c.cache == nil || end > c.horizon() {
		return "", false
	}
	var late uint64
	if n := c.lateOf(sig); n != nil {
		late = n.Load()
	}
	// The age bucket bounds an entry's life in the L1 to about the TTL.
	bucket := c.now().UnixNano() / int64(c.cfg.TTL)
	k := fmt.Sprintf("v1|%s|table %x|store %d|late %d|age %d", storage.SignalName(sig), c.router.TableVersion(sig), c.store.DataGeneration(sig), late, bucket)
	for _, p := range parts {
		k += fmt.Sprintf("|%v", p)
	}
	return k, true
}

// withoutCache is the context key of WithoutCache.
type withoutCache struct{}

// WithoutCache returns a context whose queries do not take the cache's
// answers (they are computed and kept again): a client's Cache-Control:
// no-cache.
func WithoutCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, withoutCache{}, true)
}

func cacheRefused(ctx context.Context) bool {
	v, _ := ctx.Value(withoutCache{}).(bool)
	return v
}

// lateWrite is a frontend's note to the cache actor: tell the others.
type lateWrite struct {
	signal starlingpb.Signal
	oldest int64 // unix nanoseconds
}

// lateFlush is the actor's reminder to send a coalesced LateData.
type lateFlush struct{ signal starlingpb.Signal }

// lateActor receives LateData from the other nodes and sends this node's.
type lateActor struct {
	c       *QueryCache
	last    map[starlingpb.Signal]time.Time // of the last broadcast
	pending map[starlingpb.Signal]int64     // oldest record of the writes a scheduled lateFlush sends
}

func (a *lateActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *starlingpb.LateData:
		a.c.bump(m.GetSignal())
	case *lateWrite:
		if oldest, ok := a.pending[m.signal]; ok {
			a.pending[m.signal] = min(oldest, m.oldest) // the scheduled send covers it
			return
		}
		if wait := lateEvery - time.Since(a.last[m.signal]); wait > 0 {
			a.pending[m.signal] = m.oldest
			self, system := ctx.Self(), ctx.ActorSystem()
			time.AfterFunc(wait, func() { system.Root.Send(self, &lateFlush{signal: m.signal}) })
			return
		}
		a.broadcast(ctx, m.signal, m.oldest)
	case *lateFlush:
		oldest := a.pending[m.signal]
		delete(a.pending, m.signal)
		a.broadcast(ctx, m.signal, oldest)
	}
}

// broadcast sends LateData of sig to every other node's cache actor.
func (a *lateActor) broadcast(ctx actor.Context, sig starlingpb.Signal, oldest int64) {
	a.last[sig] = time.Now()
	msg := &starlingpb.LateData{Signal: sig, OldestUnixNano: oldest}
	for _, node := range a.c.router.Nodes() {
		if node == a.c.cfg.Self {
			continue
		}
		if addr, ok := a.c.addrs.ActorAddress(node); ok {
			ctx.Send(actor.NewPID(addr, QueryCacheName), msg)
		}
	}
}
