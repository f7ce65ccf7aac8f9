package storage

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// Resource records are content-addressed: a resource record's key is
// [p][kindResource][ref] with ref the xxhash of its value (resource.go),
// so the value under a key never changes, in any window. Every trace or
// log read appends the resource records its spans or records refer to,
// and a search that evaluates a thousand traces asks Badger for the same
// few hundred resources a thousand times, each a lookup through every
// level of the LSM (a fifth of an aggregate query's CPU, measured). The
// store keeps the resource records it read in an LRU of
// resourceCacheEntries, shared by every window and signal; it needs no
// invalidation (a dropped partition's spans are gone with it, so nothing
// asks for its refs, and a record written again has the same value).

// resourceCacheEntries bounds the resource records kept (a record is a
// few hundred bytes: about 4 MiB).
const resourceCacheEntries = 16384

type resourceCacheKey struct {
	p   uint32
	ref uint64
}

// resourceCache maps a partition's resource ref to its record value (never
// modified: readers copy it). Safe for concurrent use.
type resourceCache struct {
	lru *lru.Cache[resourceCacheKey, []byte]
}

func newResourceCache() resourceCache {
	c, err := lru.New[resourceCacheKey, []byte](resourceCacheEntries)
	if err != nil {
		panic("BUG: resource cache size: " + err.Error())
	}
	return resourceCache{lru: c}
}

func (c resourceCache) get(p uint32, ref uint64) ([]byte, bool) {
	return c.lru.Get(resourceCacheKey{p, ref})
}

func (c resourceCache) add(p uint32, ref uint64, v []byte) {
	c.lru.Add(resourceCacheKey{p, ref}, v)
}
