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
// resourceCacheEntries by ref, shared by every partition, window and
// signal (one resource is in many partitions, with the same value); it
// needs no invalidation (refs are asked for by the spans and log records
// that hold them, so a dropped partition's are not asked for, and a record
// written again has the same value).

// resourceCacheEntries bounds the resource records kept (a record is a
// few hundred bytes: about 4 MiB).
const resourceCacheEntries = 16384

// resourceCache maps a resource ref to its record value (never
// modified: readers copy it). Safe for concurrent use.
type resourceCache struct {
	lru *lru.Cache[uint64, []byte]
}

func newResourceCache() resourceCache {
	c, err := lru.New[uint64, []byte](resourceCacheEntries)
	if err != nil {
		panic("BUG: resource cache size: " + err.Error())
	}
	return resourceCache{lru: c}
}

func (c resourceCache) get(ref uint64) ([]byte, bool) { return c.lru.Get(ref) }

func (c resourceCache) add(ref uint64, v []byte) { c.lru.Add(ref, v) }
