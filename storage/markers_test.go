package storage

import (
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// TestNameMarkersRules: a set is read from Badger once, then answered
// from memory; a noted write adds its name to an installed set and moves
// the generation (which keeps a set loaded meanwhile from being
// installed), creating no set; forget drops a partition's sets.
func TestNameMarkersRules(t *testing.T) {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(p uint32, name string) []byte {
		t.Helper()
		k := mainIndex.markerKey(nil, p, name)
		if err := db.Update(func(txn *badger.Txn) error { return txn.Set(k, nil) }); err != nil {
			t.Fatal(err)
		}
		return k
	}
	var m nameMarkers
	kind := mainIndex.marker
	put(1, "a")
	if !m.has(db, 1, kind, "a") || m.has(db, 1, kind, "b") {
		t.Fatal("first answers wrong")
	}
	// Installed: a key Badger has but nobody noted is not seen…
	put(1, "hidden")
	if m.has(db, 1, kind, "hidden") {
		t.Fatal("the set was read again")
	}
	// …while a noted write is.
	m.noteWrites([][]byte{put(1, "b")})
	if !m.has(db, 1, kind, "b") {
		t.Fatal("a noted write is missing from the set")
	}
	// Forgotten: read again from Badger.
	m.forget(1)
	if !m.has(db, 1, kind, "hidden") {
		t.Fatal("forget kept the set")
	}
	m.mu.Lock()
	gen := m.gen
	m.mu.Unlock()
	m.noteWrites([][]byte{mainIndex.markerKey(nil, 2, "x")})
	if m.gen == gen {
		t.Fatal("a noted write did not move the generation")
	}
	if _, ok := m.sets[markerSet{2, kind}]; ok {
		t.Fatal("a write noted a set nobody loaded")
	}
}

// TestMayHoldSeries: a select naming its metric may skip exactly the
// partitions without a series of that name; any other select asks all.
func TestMayHoldSeries(t *testing.T) {
	e := newTestEnv(t, 2)
	at := e.clock.Now().UnixMilli()
	var s tsdb.Series
	for i := 0; ; i++ { // a series of partition 0
		s = promSeries("held", []tsdb.Sample{{T: at, V: 1}}, "i", string(rune('a'+i)))
		if PartitionOf(tsdb.SeriesHash(s.Labels), 2) == 0 {
			break
		}
	}
	e.writeProm(&tsdb.WriteRequest{Series: []tsdb.Series{s}})
	sel := func(t starlingpb.LabelMatcher_Type, name string) *starlingpb.SeriesSelect {
		return &starlingpb.SeriesSelect{StartMs: 0, EndMs: maxTime, Matchers: []*starlingpb.LabelMatcher{{Type: t, Name: tsdb.MetricNameLabel, Value: name}}}
	}
	for _, tc := range []struct {
		sel  *starlingpb.SeriesSelect
		want [2]bool
	}{
		{sel(starlingpb.LabelMatcher_TYPE_EQUAL, "held"), [2]bool{true, false}},
		{sel(starlingpb.LabelMatcher_TYPE_EQUAL, "nowhere"), [2]bool{false, false}},
		{sel(starlingpb.LabelMatcher_TYPE_REGEX, "held|nowhere"), [2]bool{true, true}},
	} {
		got := e.store.MayHoldSeries(tc.sel, []uint32{0, 1})
		if len(got) != 2 || got[0] != tc.want[0] || got[1] != tc.want[1] {
			t.Errorf("%v: %v, want %v", tc.sel.Matchers[0], got, tc.want)
		}
	}
}
