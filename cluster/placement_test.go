package cluster

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/starling-otel/starling/proto/starlingpb"
)

var testSignals = []starlingpb.Signal{
	starlingpb.Signal_SIGNAL_TRACES,
	starlingpb.Signal_SIGNAL_LOGS,
	starlingpb.Signal_SIGNAL_METRICS,
}

// place is Place that also returns the placer, for its counters.
func place(members []Member, slots []Slot, cfg PlaceConfig) ([][]string, *placer) {
	p := newPlacer(NewRing(members, cfg.Tokens), slots, cfg)
	p.run()
	return Place(members, slots, cfg), p
}

func TestAllSlots(t *testing.T) {
	got := AllSlots(2, testSignals)
	want := []Slot{{1, 0}, {2, 0}, {3, 0}, {1, 1}, {2, 1}, {3, 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("AllSlots(2, …) = %v, want %v", got, want)
	}
	if got := AllSlots(0, testSignals); len(got) != 0 {
		t.Fatalf("AllSlots(0, …) = %v, want none", got)
	}
}

func TestPlaceConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*PlaceConfig)
		wantErr string
	}{
		{"default", func(*PlaceConfig) {}, ""},
		{"load factor 1", func(c *PlaceConfig) { c.LoadFactor = 1 }, ""},
		{"no tokens", func(c *PlaceConfig) { c.Tokens = 0 }, "tokens"},
		{"load factor below 1", func(c *PlaceConfig) { c.LoadFactor = 0.9 }, "load factor"},
		{"load factor NaN", func(c *PlaceConfig) { c.LoadFactor = nan() }, "load factor"},
		{"rf 0", func(c *PlaceConfig) { c.ReplicationFactor = 0 }, "replication factor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultPlaceConfig()
			tt.mod(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error about %s", err, tt.wantErr)
			}
		})
	}
}

func nan() float64 { z := 0.0; return z / z }

func TestPlaceEdges(t *testing.T) {
	slots := AllSlots(4, testSignals)
	cfg := DefaultPlaceConfig()
	cfg.ReplicationFactor = 3
	if got := Place(nil, slots, cfg); len(got) != len(slots) || len(got[0]) != 0 {
		t.Fatalf("Place(no members) = %v, want %d empty owner lists", got, len(slots))
	}
	if got := Place([]Member{{ID: "a"}}, nil, cfg); len(got) != 0 {
		t.Fatalf("Place(no slots) = %v, want none", got)
	}
	got := Place([]Member{{ID: "a"}, {ID: "b"}}, slots, cfg)
	for s, o := range got {
		if len(o) != 2 || o[0] == o[1] {
			t.Fatalf("slot %v: owners %v, want both members once (rf capped at N)", slots[s], o)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Place with an invalid config did not panic")
		}
	}()
	Place([]Member{{ID: "a"}}, slots, PlaceConfig{})
}

func TestPlaceDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	slots := AllSlots(64, testSignals)
	for trial := range 40 {
		n := 1 + rng.IntN(20)
		zones := rng.IntN(5)
		ms := randMembers(rng, n, zones)
		z := zoneOf(ms)
		cfg := DefaultPlaceConfig()
		cfg.ReplicationFactor = 1 + rng.IntN(4)
		want := Place(ms, slots, cfg)
		for range 3 {
			if got := Place(shuffled(rng, ms), slots, cfg); !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("trial %d: Place depends on member order", trial)
			}
		}
		rf := min(cfg.ReplicationFactor, n)
		for s, owners := range want {
			if len(owners) != rf {
				t.Fatalf("trial %d: slot %v: owners %v, want %d", trial, slots[s], owners, rf)
			}
			if c := slices.Compact(slices.Sorted(slices.Values(owners))); len(c) != rf {
				t.Fatalf("trial %d: slot %v: owners %v not distinct", trial, slots[s], owners)
			}
		}
		// Zone first: with zones of equal size, nothing stops every slot
		// from spreading over min(rf, zones) zones.
		if zones > 0 && n%zones == 0 {
			if bad := zoneMisses(want, z, min(rf, zones)); bad > 0 {
				t.Fatalf("trial %d (N %d, %d equal zones, rf %d): %d slots not spread over %d zones",
					trial, n, zones, rf, bad, min(rf, zones))
			}
		}
	}
}

// zoneMisses counts the slots whose owners span fewer than want zones.
func zoneMisses(pl [][]string, zoneOf map[string]string, want int) int {
	bad := 0
	for _, owners := range pl {
		zs := map[string]bool{}
		for _, id := range owners {
			zs[zoneOf[id]] = true
		}
		if len(zs) < want {
			bad++
		}
	}
	return bad
}

// TestPlaceZonesVersusBalance: with zones of unequal size and rf = zones,
// a small zone cannot hold a copy of every slot within the load bound, so
// some slots must do without it. Place should miss the spread for about
// as many slots as that forces, and no more.
func TestPlaceZonesVersusBalance(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	slots := AllSlots(256, testSignals)
	const zones = 3
	cfg := DefaultPlaceConfig()
	cfg.ReplicationFactor = zones
	worst := 0
	for n := zones; n <= 30; n++ {
		ms := randMembers(rng, n, zones)
		pl := Place(ms, slots, cfg)
		c := capacity(zones*len(slots), n, cfg.LoadFactor)
		forced := 0 // slots some zone cannot take
		for zi := range zones {
			size := n / zones
			if zi < n%zones {
				size++
			}
			forced += max(0, len(slots)-size*c)
		}
		bad := zoneMisses(pl, zoneOf(ms), zones)
		if bad > forced+len(slots)/10 {
			t.Errorf("N %d: %d slots not spread over %d zones, %d forced by the load bound", n, bad, zones, forced)
		}
		worst = max(worst, bad-forced)
	}
	t.Logf("worst excess over the forced misses: %d of %d slots", worst, len(slots))
}

// TestPlaceUnbounded: without load pressure, Place is the ring.
func TestPlaceUnbounded(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	slots := AllSlots(32, testSignals)
	for range 10 {
		ms := randMembers(rng, 1+rng.IntN(12), rng.IntN(4))
		cfg := PlaceConfig{Tokens: 32, LoadFactor: 1e6, ReplicationFactor: 1 + rng.IntN(4)}
		r := NewRing(ms, cfg.Tokens)
		for s, owners := range Place(ms, slots, cfg) {
			want := r.Owners(PartitionKey(slots[s].Signal, slots[s].ID), cfg.ReplicationFactor)
			if !slices.Equal(owners, want) {
				t.Fatalf("slot %v: Place %v, Ring.Owners %v", slots[s], owners, want)
			}
		}
	}
}

// TestPlaceSlotOrder: deferred acceptance does not depend on the order of
// proposals, so shuffling the slots only shuffles the result. (With rf > 1
// the primaries often need augment, whose chains depend on slot order.)
func TestPlaceSlotOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	slots := AllSlots(256, testSignals)
	for range 10 {
		ms := randMembers(rng, 3+rng.IntN(30), rng.IntN(4))
		cfg := DefaultPlaceConfig()
		want := Place(ms, slots, cfg)
		perm := rng.Perm(len(slots))
		shuf := make([]Slot, len(slots))
		for i, j := range perm {
			shuf[i] = slots[j]
		}
		got := Place(ms, shuf, cfg)
		for i, j := range perm {
			if !slices.Equal(got[i], want[j]) {
				t.Fatalf("N %d rf %d: slot %v: %v in shuffled order, %v in order", len(ms), cfg.ReplicationFactor, slots[j], got[i], want[j])
			}
		}
	}
}

// TestPlaceBalance checks the balance target: for 3…50 members and 768
// slots, no member owns more than 110% of the mean, counting all owners or
// primaries only, and no slot is placed above its bound.
func TestPlaceBalance(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	slots := AllSlots(256, testSignals)
	for _, rf := range []int{1, 3} {
		worst, worstPrimary, worstSignal := 0.0, 0.0, 0.0
		augmented := 0
		for n := 3; n <= 50; n++ {
			ms := randMembers(rng, n, 3)
			cfg := DefaultPlaceConfig()
			cfg.ReplicationFactor = rf
			pl, p := place(ms, slots, cfg)
			if p.overflows > 0 {
				t.Errorf("rf %d, N %d: %d slots placed above their bound", rf, n, p.overflows)
			}
			augmented += p.augmented
			s, ps := Skew(pl, ms), PrimarySkew(pl, ms)
			if s > cfg.LoadFactor || ps > cfg.LoadFactor {
				t.Errorf("rf %d, N %d: skew %.3f, primary skew %.3f, want ≤ %.2f", rf, n, s, ps, cfg.LoadFactor)
			}
			worst, worstPrimary = max(worst, s), max(worstPrimary, ps)
			// Per signal the bound is rounded up for some members: at
			// most one slot above LoadFactor·K_sig/N.
			for _, sig := range testSignals {
				var sub [][]string
				for i, sl := range slots {
					if sl.Signal == sig {
						sub = append(sub, pl[i])
					}
				}
				ss := max(Skew(sub, ms), PrimarySkew(sub, ms))
				if limit := cfg.LoadFactor + float64(n)/float64(len(sub)); ss > limit {
					t.Errorf("rf %d, N %d, %v: skew %.3f, want ≤ %.3f", rf, n, sig, ss, limit)
				}
				worstSignal = max(worstSignal, ss)
			}
		}
		t.Logf("rf %d, N 3…50: worst skew %.3f, primaries %.3f, per signal %.3f; %d slots completed by augment",
			rf, worst, worstPrimary, worstSignal, augmented)
	}
}

// movement compares the placements before and after a join or a leave.
// Fractions are of all slots.
type movement struct {
	primary float64 // slots whose primary changed
	// primaryOld: slots whose primary changed from one old member to
	// another (join: not to the newcomer; leave: not from the leaver).
	primaryOld float64
	gained     float64 // owners gained (data copied), per slot
	// needless: slots that an old member gained without need: after a
	// join, any gain but the newcomer's; after a leave, any gain where
	// the leaver was not an owner, or a second gain where it was.
	needless float64
}

func measureMove(before, after [][]string, changed string, join bool) movement {
	var mv movement
	for s := range before {
		b, a := before[s], after[s]
		if b[0] != a[0] {
			mv.primary++
			if join && a[0] != changed || !join && b[0] != changed {
				mv.primaryOld++
			}
		}
		gained, needless := 0, 0
		for _, id := range a {
			if !slices.Contains(b, id) {
				gained++
				if join && id != changed {
					needless++
				}
			}
		}
		if !join {
			needless = gained
			if slices.Contains(b, changed) {
				needless--
			}
		}
		mv.gained += float64(gained)
		if needless > 0 {
			mv.needless++
		}
	}
	k := float64(len(before))
	return movement{mv.primary / k, mv.primaryOld / k, mv.gained / k, mv.needless / k}
}

// TestPlaceMovement joins one member to, and removes one from, clusters
// of 3…50 members and measures what moves, as multiples of the ideal
// 1/N' (N' the member count after a join, before a leave): ideally the
// primaries of 1/N' of the slots move (×N' = 1), rf/N' owners are gained
// per slot (×N' = rf) and no old member gains anything.
func TestPlaceMovement(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	slots := AllSlots(256, testSignals)
	// Bounds, ×N', on the worst case and on the mean over N = 3…50, about
	// 1.2–1.5 times what was measured (see the log; the seeds are fixed).
	type bound struct{ primary, primaryOld, gained, needless float64 }
	worstBound := map[int]bound{
		1: {4, 3, 4, 3},
		3: {6.5, 5.5, 8, 4.5},
	}
	meanBound := map[int]bound{
		1: {2.5, 1.25, 2.5, 1.25},
		3: {3, 2, 5.5, 2.25},
	}
	for _, rf := range []int{1, 3} {
		cfg := DefaultPlaceConfig()
		cfg.ReplicationFactor = rf
		var worst, sum [2]movement // join, leave; ×N'
		runs := 0
		for n := 3; n <= 50; n++ {
			ms := randMembers(rng, n+1, 3)
			base, newcomer := ms[:n], ms[n]
			leaver := base[rng.IntN(n)]
			rest := slices.DeleteFunc(slices.Clone(base), func(m Member) bool { return m.ID == leaver.ID })
			before := Place(base, slots, cfg)
			mvs := [2]movement{
				measureMove(before, Place(ms, slots, cfg), newcomer.ID, true),
				measureMove(before, Place(rest, slots, cfg), leaver.ID, false),
			}
			runs++
			for i, mv := range mvs {
				f := float64(n + 1 - i) // N'
				x := movement{mv.primary * f, mv.primaryOld * f, mv.gained * f, mv.needless * f}
				w, s := &worst[i], &sum[i]
				w.primary, s.primary = max(w.primary, x.primary), s.primary+x.primary
				w.primaryOld, s.primaryOld = max(w.primaryOld, x.primaryOld), s.primaryOld+x.primaryOld
				w.gained, s.gained = max(w.gained, x.gained), s.gained+x.gained
				w.needless, s.needless = max(w.needless, x.needless), s.needless+x.needless
				b := worstBound[rf]
				if x.primary > b.primary || x.primaryOld > b.primaryOld || x.gained > b.gained || x.needless > b.needless {
					t.Errorf("rf %d, N %d, %s: moved ×N' %+v, bounds %+v", rf, n, []string{"join", "leave"}[i], x, b)
				}
			}
		}
		for i, w := range worst {
			r := float64(runs)
			m := movement{sum[i].primary / r, sum[i].primaryOld / r, sum[i].gained / r, sum[i].needless / r}
			if b := meanBound[rf]; m.primary > b.primary || m.primaryOld > b.primaryOld || m.gained > b.gained || m.needless > b.needless {
				t.Errorf("rf %d, %s: mean moved ×N' %+v, bounds %+v", rf, []string{"join", "leave"}[i], m, b)
			}
			t.Logf("rf %d %-5s ×N' mean/worst: primary moved %.2f/%.2f, between old members %.2f/%.2f, owners gained %.2f/%.2f (ideal %d), slots with needless moves %.2f/%.2f",
				rf, []string{"join", "leave"}[i], m.primary, w.primary, m.primaryOld, w.primaryOld,
				m.gained, w.gained, rf, m.needless, w.needless)
		}
	}
}

func BenchmarkPlace(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 18))
	ms := randMembers(rng, 50, 3)
	slots := AllSlots(256, testSignals)
	cfg := DefaultPlaceConfig()
	cfg.ReplicationFactor = 3
	b.ReportAllocs()
	for b.Loop() {
		Place(ms, slots, cfg)
	}
}
