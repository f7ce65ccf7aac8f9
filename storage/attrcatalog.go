package storage

import (
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The attribute catalog: every attribute key seen in a window, by scope,
// and its scalar values with their types (keys.go: catalogAttrKey,
// catalogAttrValue), for tag discovery and autocomplete.
//
// Cost. The builder checks every attribute of every span, but a key or
// value already committed in its window costs one probe of the seen cache,
// keyed by a hash mixed from the attribute's index term (which the span
// attributes need anyway: it is computed once here and reused by the group
// writer) — no key is built, nothing is written. Only entries the cache
// does not know are built and written, each once per request, then added to
// the cache when their batch is committed (PartBatch.Seen), as every
// write-once key is. A value entry that is known implies that its key entry
// is committed too (both travel in the same batch: same partition, same
// window), so a known value needs no second probe for its key.

// maxCatalogValuesPerKey bounds the values a builder writes to the catalog
// per attribute key, scope and window: a high-cardinality attribute (ids,
// URLs) stops costing writes and seen-cache room once it has that many.
const maxCatalogValuesPerKey = 10000

// maxCatalogCountKeys bounds the per-key counters a builder keeps; they are
// forgotten all at once beyond it (the cap then starts over).
const maxCatalogCountKeys = 1 << 16

// attrCatalog is the attribute catalog entries of one request that the
// seen cache does not know, to be written into their partitions.
type attrCatalog struct {
	refs  []attrCatalogRef
	arena []byte              // the refs' keys
	local map[uint64]struct{} // hashes of the entries checked in this request
	// front is a direct-mapped cache of hashes the seen cache had: a
	// request repeats its few distinct attributes on every span, and the
	// seen cache's table is far bigger than the CPU's first-level cache.
	// It only holds committed entries, so it outlives requests.
	front [catalogFront]uint64
	// counts is the values written per (window, scope, key), across
	// requests.
	counts map[catalogCountKey]int32
}

type attrCatalogRef struct {
	partition uint32
	window    int64
	h         uint64 // seen-cache hash
	off, end  int    // key in arena
}

type catalogCountKey struct {
	window int64
	scope  byte
	key    string
}

func (c *attrCatalog) reset() {
	c.refs = c.refs[:0]
	c.arena = c.arena[:0]
	if len(c.local) > 0 {
		clear(c.local)
	}
}

// catalogFront is the size of attrCatalog.front (8 KiB).
const catalogFront = 1024

// known reports whether the entry of hash h is committed (seen) or already
// handled in this request, and marks it handled.
func (c *attrCatalog) known(seen *SeenCache, h uint64) bool {
	f := &c.front[h&(catalogFront-1)]
	if *f == h {
		return true
	}
	if seen.Contains(h) {
		*f = h
		return true
	}
	if _, ok := c.local[h]; ok {
		return true
	}
	if c.local == nil {
		c.local = make(map[uint64]struct{})
	}
	c.local[h] = struct{}{}
	return false
}

// room reports whether one more value of (window, scope, key) may be
// written, and counts it.
func (c *attrCatalog) room(window int64, scope byte, key string) bool {
	ck := catalogCountKey{window, scope, key}
	n := c.counts[ck]
	if n >= maxCatalogValuesPerKey {
		return false
	}
	if n == 0 {
		if c.counts == nil || len(c.counts) >= maxCatalogCountKeys {
			c.counts = make(map[catalogCountKey]int32)
		}
		ck.key = strings.Clone(key) // do not keep the request's memory
	}
	c.counts[ck] = n + 1
	return true
}

func (c *attrCatalog) add(p uint32, window int64, h uint64, off int) {
	c.refs = append(c.refs, attrCatalogRef{partition: p, window: window, h: h, off: off, end: len(c.arena)})
}

// sorted returns the refs by partition.
func (c *attrCatalog) sorted() []attrCatalogRef {
	slices.SortFunc(c.refs, func(a, b attrCatalogRef) int {
		switch {
		case a.partition < b.partition:
			return -1
		case a.partition > b.partition:
			return 1
		}
		return 0
	})
	return c.refs
}

// catalogHash is the seen-cache hash of a catalog entry: x is the hash of
// the key (key entries, typ 0) or the attribute's index term (value
// entries). fmix64 of the mix, so that entries differing only in scope,
// type or window spread.
func catalogHash(x uint64, scope, typ byte, window int64) uint64 {
	h := x ^ uint64(window)*0x9e3779b97f4a7c15 ^ (0xca7a10<<16|uint64(scope)<<8|uint64(typ))*0xc2b2ae3d27d4eb4f
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// catalogType is the catalog type of a value, 0 for none (maps, bytes,
// arrays, empty).
func catalogType(t pcommon.ValueType) byte {
	switch t {
	case pcommon.ValueTypeStr:
		return catalogTypeString
	case pcommon.ValueTypeInt:
		return catalogTypeInt
	case pcommon.ValueTypeDouble:
		return catalogTypeFloat
	case pcommon.ValueTypeBool:
		return catalogTypeBool
	}
	return 0
}

// catalogSpan notes the catalog entries of a span's attributes, events'
// and links' attributes in window, and appends the index terms of its
// attributes to b.spanTerms (what eachAttrTerm gives, in its order).
func (b *Builder) catalogSpan(s ptrace.Span, window int64) {
	for k, v := range s.Attributes().All() {
		b.catalogAttr(catalogScopeSpan, window, k, v, true)
	}
	evs := s.Events()
	for i := 0; i < evs.Len(); i++ {
		b.catalogAttrs(catalogScopeEvent, window, evs.At(i).Attributes())
	}
	ls := s.Links()
	for i := 0; i < ls.Len(); i++ {
		b.catalogAttrs(catalogScopeLink, window, ls.At(i).Attributes())
	}
}

// catalogAttrs notes the catalog entries of attributes of one scope.
func (b *Builder) catalogAttrs(scope byte, window int64, attrs pcommon.Map) {
	for k, v := range attrs.All() {
		b.catalogAttr(scope, window, k, v, false)
	}
}

// catalogAttr notes the catalog entries of attribute k=v: its value (each
// scalar element of an array) and its key; with terms, it appends the
// attribute's index terms to b.spanTerms.
func (b *Builder) catalogAttr(scope byte, window int64, k string, v pcommon.Value, terms bool) {
	named := len(k) <= maxCatalogNameLen
	valued := false // a value was checked, which covers the key
	term, ok := b.attrTerm(k, v)
	if ok && terms {
		b.spanTerms = append(b.spanTerms, term)
	}
	if typ := catalogType(v.Type()); ok && typ != 0 && named {
		b.catalogValue(scope, window, k, v, typ, term)
		valued = true
	}
	if v.Type() == pcommon.ValueTypeSlice {
		sl := v.Slice()
		for i := 0; i < sl.Len(); i++ {
			e := sl.At(i)
			typ := catalogType(e.Type())
			if typ == 0 {
				continue
			}
			term, ok := b.attrTerm(k, e)
			if !ok {
				continue
			}
			if terms {
				b.spanTerms = append(b.spanTerms, term)
			}
			if named {
				b.catalogValue(scope, window, k, e, typ, term)
				valued = true
			}
		}
	}
	if named && !valued {
		b.catalogKey(scope, window, k, xxhash.Sum64String(k))
	}
}

// catalogValue notes the value entry of k=v (term is its index term).
func (b *Builder) catalogValue(scope byte, window int64, k string, v pcommon.Value, typ byte, term uint64) {
	c := &b.acat
	h := catalogHash(term, scope, typ, window)
	if c.known(b.seen, h) {
		return
	}
	kh := xxhash.Sum64String(k)
	if !b.catalogKey(scope, window, k, kh) || !c.room(window, scope, k) {
		return
	}
	p := PartitionOf(kh, b.cfg.Partitions)
	off := len(c.arena)
	c.arena = appendHeader(c.arena, p, kindCatalog)
	c.arena = append(c.arena, catalogAttrValue, scope)
	c.arena = append(c.arena, k...)
	c.arena = append(c.arena, 0, typ)
	c.arena = appendAttrText(c.arena, v)
	c.add(p, window, h, off)
}

// catalogKey notes the key entry of k (kh is its hash) and reports whether
// the catalog keeps k at all.
func (b *Builder) catalogKey(scope byte, window int64, k string, kh uint64) bool {
	if strings.IndexByte(k, 0) >= 0 {
		return false // key 0x00 value would be ambiguous
	}
	c := &b.acat
	h := catalogHash(kh, scope, 0, window)
	if c.known(b.seen, h) {
		return true
	}
	p := PartitionOf(kh, b.cfg.Partitions)
	off := len(c.arena)
	c.arena = appendHeader(c.arena, p, kindCatalog)
	c.arena = append(c.arena, catalogAttrKey, scope)
	c.arena = append(c.arena, k...)
	c.add(p, window, h, off)
	return true
}

// catalogResource notes the catalog entries of a resource's and its
// scope's attributes in window, once per window in a row.
func (b *Builder) catalogResource(r *indexedResource, window int64, res pcommon.Resource, scope pcommon.InstrumentationScope) {
	if r.catalogued && r.catalogWindow == window {
		return
	}
	r.catalogued, r.catalogWindow = true, window
	b.catalogAttrs(catalogScopeResource, window, res.Attributes())
	b.catalogAttrs(catalogScopeInstrumentation, window, scope.Attributes())
}
