package storage

import (
	"strings"
	"sync"

	"github.com/prometheus/prometheus/model/labels"
)

// A metrics select of a partition's window finds its series in Badger:
// the postings of each matcher, then each candidate's definition. The
// same dashboard asks the same selectors again every few seconds, and a
// window's index changes only when a series first appears in it, so those
// seeks (half of a select's time) repeat work whose answer has not moved.
// selections keeps, per shard, the series a selector matched in a
// partition (as Prometheus keeps its head's postings in memory and
// VictoriaMetrics caches tag filters' series), stamped with the
// partition's index generation.
//
// The cache stays exact by the same rules as the marker sets (markers.go):
//   - the group committer notes every partition whose index keys (series
//     definitions, markers, postings; written or deleted) a group holds,
//     before the group goes to Badger and again once it has (noteWrites):
//     each note moves the partition's generation, so an answer read from
//     Badger before the second note is stamped with an older one;
//   - a snapshot load or a drop of a partition moves its generation too
//     (forget), before and after;
//   - an answer is kept only if the generation did not move while it was
//     read, and used only while the generation is the one it was read at.

// selectionKey names one cached answer: a partition, an index (its series
// kind) and the select's matchers.
type selectionKey struct {
	p        uint32
	kind     byte
	matchers string
}

type selection struct {
	gen   uint64
	found []matched // shared by the readers: never modified
}

// Bounds of a shard's cache: answers kept, and series of one answer (a
// larger one is read from Badger each time).
const (
	maxSelections       = 1024
	maxSelectionMatches = 4096
)

// selections is a shard's cache of select answers. Safe for concurrent
// use.
type selections struct {
	mu      sync.Mutex
	gens    map[uint32]uint64 // partition → index generation (absent: 0)
	answers map[selectionKey]selection
}

// noteWrites records that index keys of partitions ps are being or have
// been written.
func (s *selections) noteWrites(ps []uint32) {
	if len(ps) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gens == nil {
		s.gens = map[uint32]uint64{}
	}
	for _, p := range ps {
		s.gens[p]++
	}
}

// forget invalidates partition p's answers.
func (s *selections) forget(p uint32) { s.noteWrites([]uint32{p}) }

// get returns the cached answer of k, or ok false with the generation
// that a fresh read of k must be stored with.
func (s *selections) get(k selectionKey) (found []matched, gen uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen = s.gens[k.p]
	if a, hit := s.answers[k]; hit && a.gen == gen {
		return a.found, gen, true
	}
	return nil, gen, false
}

// put keeps found as k's answer, read at generation gen, unless the
// partition's index moved since.
func (s *selections) put(k selectionKey, gen uint64, found []matched) {
	if len(found) > maxSelectionMatches {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gens[k.p] != gen {
		return
	}
	if s.answers == nil {
		s.answers = map[selectionKey]selection{}
	}
	if _, ok := s.answers[k]; !ok && len(s.answers) >= maxSelections {
		for old := range s.answers { // an arbitrary one: maps iterate in random order
			delete(s.answers, old)
			break
		}
	}
	s.answers[k] = selection{gen: gen, found: found}
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
