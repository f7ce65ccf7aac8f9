package storage

import (
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// A metrics select first asks whether the window holds any series of the
// selector's metric name: its name marker key ([p][marker kind][name]).
// Most partitions of a window do not hold a given name (a name's series
// spread over some of them), and Badger answers a missing key by walking
// every memtable's skiplist and every level: a third of a select's time
// went to those misses. nameMarkers keeps, per shard, the marker names of
// each partition and index that a select has asked about, read once from
// Badger, so that the answer is a map lookup.
//
// The sets stay exact supersets of what Badger holds by these rules:
//   - the group committer notes every marker it writes before the write
//     goes to Badger and again once it has, before the writers are
//     acknowledged (noteWrites): a loaded set gets
//     the name, and a set being loaded is not installed (gen moved);
//   - a snapshot load or a drop of a partition forgets its sets (forget),
//     before and after: they are read again on the next select;
//   - deletions are never noted: a name left in a set costs a Badger
//     lookup, never a missed series.
//
// So a select sees every marker written before it began, as a Badger read
// would.

// markerSet names one set: a partition and an index's marker kind.
type markerSet struct {
	p    uint32
	kind byte
}

// nameMarkers is a shard's marker sets. Safe for concurrent use.
type nameMarkers struct {
	mu   sync.Mutex
	gen  uint64 // moves with every noted write and forget
	sets map[markerSet]map[string]struct{}
}

// isMarkerKind reports whether kind is a name marker's.
func isMarkerKind(kind byte) bool {
	return kind == mainIndex.marker || kind == rollup5mIndex.marker || kind == rollup1hIndex.marker
}

// noteWrites records that marker keys (of marker kinds) are being or
// have been written.
func (m *nameMarkers) noteWrites(keys [][]byte) {
	if len(keys) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	for _, key := range keys {
		p, _ := keyPartition(key)
		if set, ok := m.sets[markerSet{p, key[partLen]}]; ok {
			set[string(key[headerLen:])] = struct{}{}
		}
	}
}

// forget drops partition p's sets.
func (m *nameMarkers) forget(p uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	for k := range m.sets {
		if k.p == p {
			delete(m.sets, k)
		}
	}
}

// has reports whether partition p holds a marker of kind for name,
// reading the partition's markers of that kind from db the first time.
func (m *nameMarkers) has(db *badger.DB, p uint32, kind byte, name string) bool {
	k := markerSet{p, kind}
	m.mu.Lock()
	set, ok := m.sets[k]
	gen := m.gen
	m.mu.Unlock()
	if ok {
		_, found := set[name]
		return found
	}
	if err := db.View(func(txn *badger.Txn) error {
		set = readMarkers(txn, p, kind)
		return nil
	}); err != nil {
		return true // unknown: let the select read Badger
	}
	m.mu.Lock()
	if m.gen == gen { // no marker written meanwhile that the read may miss
		if m.sets == nil {
			m.sets = map[markerSet]map[string]struct{}{}
		}
		m.sets[k] = set
	}
	m.mu.Unlock()
	_, found := set[name]
	return found
}

// readMarkers returns the names of partition p's markers of kind.
func readMarkers(txn *badger.Txn, p uint32, kind byte) map[string]struct{} {
	prefix := appendHeader(nil, p, kind)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	set := map[string]struct{}{}
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		if !it.Item().IsDeletedOrExpired() {
			set[string(it.Item().Key()[headerLen:])] = struct{}{}
		}
	}
	return set
}
