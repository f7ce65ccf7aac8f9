// Package cache owns the results cache of the query engine: a two-level
// cache of encoded query results for time ranges that are entirely closed
// (immutable windows), so that a result, once computed, is the answer for
// its key for good and entries never need invalidating, only evicting or
// expiring.
//
// Level 1 is an in-process LRU bounded by bytes (keys plus values). Level 2
// is an optional Redis shared by the nodes, whose entries expire after a
// TTL. Get looks in L1, then L2, and puts an L2 hit into L1; Set writes both.
// Redis is best effort: an L2 error or timeout is a miss to the caller,
// logged at debug and counted, never returned.
//
// The callers (the query front doors in node/) decide what may be cached and
// build the key from the normalised plan, the range, the limits and the
// partition table epoch; this package knows nothing of plans, partitions,
// actors or HTTP, treats keys and values as opaque, and imports no other
// starling package. A nil *Cache is a valid cache that never hits, so callers
// can run without one.
package cache
