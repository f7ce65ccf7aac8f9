package storage

import (
	"strings"
	"sync"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// A metrics select of a partition's window finds its series in Badger
// (the postings of each matcher, then each candidate's definition), then
// seeks each series' chunks. The same dashboard asks the same selectors
// again every few seconds, and a window's index changes only when a
// series first appears in it, its chunks only when a block is flushed:
// those seeks repeat work whose answer has not moved. readCache keeps,
// per shard, the series a selector matched in a partition (as Prometheus
// keeps its head's postings in memory and VictoriaMetrics caches tag
// filters' series) and the chunks a series has in a range of blocks,
// stamped with the partition's generation.
//
// The cache stays exact by the same rules as the marker sets (markers.go):
//   - the group committer notes every partition whose series index keys
//     (definitions, markers, postings) or chunk keys a group writes or
//     deletes, before the group goes to Badger and again once it has,
//     before the writers are acknowledged (noteWrites): each note moves
//     the partition's generation, so an answer read from Badger before
//     the second note is stamped with an older one;
//   - a snapshot load or a drop of a partition moves its generation too
//     (forget), before and after;
//   - an answer is kept only if the generation did not move while it was
//     read, and used only while the generation is the one it was read at.
//
// Ingest between flushes writes neither kind (its records and the head
// are elsewhere), so the generations move with new series and flushes.

// selectionKey names one cached select answer: a partition, an index (its
// series kind) and the select's matchers.
type selectionKey struct {
	p        uint32
	kind     byte
	matchers string
}

type selection struct {
	gen   uint64
	found []matched // shared by the readers: never modified
}

// chunksKey names the chunks of one series whose first sample is in the
// blocks [from, to] (block starts, ms).
type chunksKey struct {
	p        uint32
	series   uint64
	from, to int64
}

type chunkList struct {
	gen   uint64
	recs  []*starlingpb.Record // sorted by key; shared by the readers: never modified
	bytes int
}

// Bounds of a shard's cache: select answers kept, series of one answer (a
// larger one is read from Badger each time), and bytes of chunk lists.
const (
	maxSelections       = 1024
	maxSelectionMatches = 4096
	maxCachedChunkBytes = 16 << 20
)

// readCache is a shard's cache of select answers and chunk lists. Safe
// for concurrent use.
type readCache struct {
	mu         sync.Mutex
	gens       map[uint32]uint64 // partition → generation (absent: 0)
	answers    map[selectionKey]selection
	chunks     map[chunksKey]chunkList
	chunkBytes int
}

// isCachedKind reports whether writes of key kind k move a partition's
// generation: the series index kinds of every space, and chunks.
func isCachedKind(k byte) bool { return isIndexKind(k) || k == kindChunk }

// noteWrites records that keys of cached kinds of partitions ps are
// being or have been written.
func (c *readCache) noteWrites(ps []uint32) {
	if len(ps) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens == nil {
		c.gens = map[uint32]uint64{}
	}
	for _, p := range ps {
		c.gens[p]++
	}
}

// forget invalidates partition p's answers.
func (c *readCache) forget(p uint32) { c.noteWrites([]uint32{p}) }

// forgetReads drops what the shard's memory holds of partition p's keys
// (its marker sets and cached answers): a snapshot load or a drop is
// about to change them, or has. Called before and after.
func (sh *shard) forgetReads(p uint32) {
	sh.markers.forget(p)
	sh.cache.forget(p)
	sh.blooms.forget(p)
}

// gen is partition p's generation: what a fresh read must be stored with.
func (c *readCache) gen(p uint32) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gens[p]
}

// selection returns the cached answer of k, or ok false with the
// generation that a fresh read of k must be stored with.
func (c *readCache) selection(k selectionKey) (found []matched, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gen = c.gens[k.p]
	if a, hit := c.answers[k]; hit && a.gen == gen {
		return a.found, gen, true
	}
	return nil, gen, false
}

// putSelection keeps found as k's answer, read at generation gen, unless
// the partition moved since.
func (c *readCache) putSelection(k selectionKey, gen uint64, found []matched) {
	if len(found) > maxSelectionMatches {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[k.p] != gen {
		return
	}
	if c.answers == nil {
		c.answers = map[selectionKey]selection{}
	}
	if _, ok := c.answers[k]; !ok && len(c.answers) >= maxSelections {
		for old := range c.answers { // an arbitrary one: maps iterate in random order
			delete(c.answers, old)
			break
		}
	}
	c.answers[k] = selection{gen: gen, found: found}
}

// chunkList returns the cached chunks of k, if current.
func (c *readCache) chunkList(k chunksKey) ([]*starlingpb.Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.chunks[k]; ok && l.gen == c.gens[k.p] {
		return l.recs, true
	}
	return nil, false
}

// putChunkList keeps recs as k's chunks, read at generation gen, unless
// the partition moved since; arbitrary lists make room.
func (c *readCache) putChunkList(k chunksKey, gen uint64, recs []*starlingpb.Record) {
	n := 0
	for _, r := range recs {
		n += len(r.Key) + len(r.Value)
	}
	if n > maxCachedChunkBytes/16 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[k.p] != gen {
		return
	}
	if c.chunks == nil {
		c.chunks = map[chunksKey]chunkList{}
	}
	if old, ok := c.chunks[k]; ok {
		c.chunkBytes -= old.bytes
		delete(c.chunks, k)
	}
	for old, l := range c.chunks {
		if c.chunkBytes+n <= maxCachedChunkBytes {
			break
		}
		c.chunkBytes -= l.bytes
		delete(c.chunks, old)
	}
	c.chunks[k] = chunkList{gen: gen, recs: recs, bytes: n}
	c.chunkBytes += n
}

// matchersKey is the cache key of a select's matchers.
func matchersKey(ms []*labels.Matcher) string {
	var b strings.Builder
	for _, m := range ms {
		b.WriteString(m.String())
		b.WriteByte(0)
	}
	return b.String()
}
