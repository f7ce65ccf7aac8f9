package raftmeta

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/proto/starlingpb"
)

// sizedRows builds one row per entry of owners (replicas, primary first,
// all in sync) with the given sizes.
func sizedRows(owners [][]string, sizes []uint64) []*starlingpb.Partition {
	rows := make([]*starlingpb.Partition, len(owners))
	for i, o := range owners {
		rows[i] = &starlingpb.Partition{Signal: traces, Id: uint32(i), Epoch: 1, Primary: o[0], Replicas: o, InSync: o,
			State: starlingpb.PartitionState_PARTITION_STATE_ACTIVE, SizeBytes: sizes[i]}
	}
	return rows
}

func plainMembers(ids ...string) []cluster.Member {
	out := make([]cluster.Member, len(ids))
	for i, id := range ids {
		out[i] = cluster.Member{ID: id, Zone: "z-" + id}
	}
	return out
}

// nodeLoads applies moves to rows' owners and returns each member's bytes
// and copies afterwards.
func nodeLoads(t *testing.T, rows []*starlingpb.Partition, moves []sizeMove) (map[string]uint64, map[string]int) {
	t.Helper()
	owners := make([][]string, len(rows))
	for i, p := range rows {
		owners[i] = slices.Clone(p.Replicas)
	}
	for _, m := range moves {
		o := owners[m.row]
		j := slices.Index(o, m.from)
		if j < 0 || slices.Contains(o, m.to) {
			t.Fatalf("move %+v: from not an owner or to already one (%v)", m, o)
		}
		o[j] = m.to
	}
	bytes, count := map[string]uint64{}, map[string]int{}
	for i, o := range owners {
		for _, id := range o {
			bytes[id] += rows[i].SizeBytes
			count[id]++
		}
	}
	return bytes, count
}

// squares is the sum of the squared loads: every move of d bytes from a
// node to one holding more than d fewer lowers it.
func squares(m map[string]uint64) float64 {
	var s float64
	for _, v := range m {
		s += float64(v) * float64(v)
	}
	return s
}

func TestPlanSizeMoves(t *testing.T) {
	abc := plainMembers("a", "b", "c")
	cases := []struct {
		name      string
		owners    [][]string
		sizes     []uint64
		members   []cluster.Member
		limit     int
		minMean   uint64
		moves     []sizeMove // nil: check only that none is planned
		imbalance string
	}{{
		name:   "balanced within threshold",
		owners: [][]string{{"a"}, {"b"}, {"c"}, {"a"}, {"b"}, {"c"}},
		sizes:  []uint64{100, 110, 90, 100, 100, 100}, members: abc, limit: 3,
		imbalance: "0.050",
	}, {
		name:   "single move when counts allow it",
		owners: [][]string{{"a"}, {"a"}, {"a"}, {"b"}, {"b"}, {"b"}, {"c"}, {"c"}},
		sizes:  []uint64{100, 300, 200, 100, 100, 100, 100, 100}, members: abc, limit: 1,
		// a 600, b 300, c 200: gap 400, the 200 copy halves it.
		moves: []sizeMove{{row: 2, from: "a", to: "c"}}, imbalance: "0.636",
	}, {
		name:   "swap when counts are at their floor",
		owners: [][]string{{"a"}, {"a"}, {"b"}, {"b"}, {"c"}, {"c"}},
		sizes:  []uint64{600, 400, 100, 100, 100, 50}, members: abc, limit: 3,
		// a 1000, b 200, c 150: gap 850 to c; 600 ↔ 100 and 400 ↔ 50 move
		// 500 and 350 bytes, both 75 from half the gap: the first wins.
		moves: []sizeMove{{row: 0, from: "a", to: "c"}, {row: 4, from: "c", to: "a"}}, imbalance: "1.222",
	}, {
		name:   "one copy larger than the gap stays",
		owners: [][]string{{"a"}, {"b"}, {"c"}},
		sizes:  []uint64{1000, 10, 10}, members: abc, limit: 3,
		imbalance: "1.941",
	}, {
		name: "zone spread kept",
		// rf 2, zone x only a, zone y c and d: a's big copies share
		// their partition with c, so moving one to d would put both
		// copies in zone y.
		owners:  [][]string{{"a", "c"}, {"a", "d"}, {"a", "c"}, {"a", "d"}},
		sizes:   []uint64{500, 10, 500, 10},
		members: []cluster.Member{{ID: "a", Zone: "x"}, {ID: "c", Zone: "y"}, {ID: "d", Zone: "y"}},
		limit:   3, imbalance: "0.500",
	}, {
		name:   "nodes below the minimum bytes stay",
		owners: [][]string{{"a"}, {"a"}, {"a"}, {"b"}, {"b"}, {"b"}, {"c"}, {"c"}},
		sizes:  []uint64{100, 300, 200, 100, 100, 100, 100, 100}, members: abc, limit: 3, minMean: 1000,
		imbalance: "0.636",
	}, {
		name:   "nothing to move without sizes",
		owners: [][]string{{"a"}, {"b"}, {"c"}},
		sizes:  []uint64{0, 0, 0}, members: abc, limit: 3,
		imbalance: "0.000",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows := sizedRows(c.owners, c.sizes)
			moves, imb := planSizeMoves(rows, c.members, 0.2, 1.10, c.limit, c.minMean)
			if got := fmt.Sprintf("%.3f", imb); got != c.imbalance {
				t.Errorf("imbalance %s, want %s", got, c.imbalance)
			}
			if !slices.Equal(moves, c.moves) {
				t.Fatalf("moves %+v, want %+v", moves, c.moves)
			}
		})
	}
}

// TestPlanSizeMovesProperties checks on random tables that every planned
// round evens the loads out (their sum of squares falls), keeps
// copies within the count bounds, never puts two copies on one node, and
// that repeated rounds end within the threshold or with no move left.
func TestPlanSizeMovesProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	planned, balanced := 0, 0
	for trial := range 200 {
		n := 3 + r.IntN(5)
		rf := 1 + r.IntN(3)
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("n%d", i)
		}
		members := plainMembers(ids...)
		slots := cluster.AllSlots(8+r.IntN(24), signals[:1])
		pc := cluster.DefaultPlaceConfig()
		pc.ReplicationFactor = rf
		owners := cluster.Rebalance(make([][]string, len(slots)), members, slots, pc)
		sizes := make([]uint64, len(slots))
		for i := range sizes {
			sizes[i] = uint64(r.ExpFloat64() * 1e6) // a few large partitions, many small
		}
		rows := sizedRows(owners, sizes)
		total := len(slots) * min(rf, n)
		lo, hi := cluster.LoadBounds(total, n, pc.LoadFactor)
		for round := 0; ; round++ {
			before, _ := nodeLoads(t, rows, nil)
			moves, imb := planSizeMoves(rows, members, 0.2, pc.LoadFactor, 3, 0)
			if len(moves) == 0 {
				if imb <= 0.2 {
					balanced++
				}
				break
			}
			planned += len(moves)
			if imb <= 0.2 {
				t.Fatalf("trial %d round %d: moves %+v planned at imbalance %.3f", trial, round, moves, imb)
			}
			after, count := nodeLoads(t, rows, moves)
			if squares(after) >= squares(before) {
				t.Fatalf("trial %d round %d: moves %+v did not even out %v -> %v", trial, round, moves, before, after)
			}
			for id, c := range count {
				if c < lo || c > hi {
					t.Fatalf("trial %d round %d: %s holds %d copies, bounds [%d, %d]", trial, round, id, c, lo, hi)
				}
			}
			// Apply the round, as the retire step would.
			for _, m := range moves {
				p := rows[m.row]
				o := slices.Clone(p.Replicas)
				o[slices.Index(o, m.from)] = m.to
				p.Replicas, p.InSync, p.Primary = o, o, o[0]
			}
			if round > 200 {
				t.Fatalf("trial %d: still moving after %d rounds", trial, round)
			}
		}
	}
	t.Logf("200 random tables: %d moves planned, %d ended within the threshold", planned, balanced)
	if planned == 0 {
		t.Fatal("no table needed a move: the trials test nothing")
	}
}

func TestOwnersOf(t *testing.T) {
	live := map[string]bool{"a": true, "b": true, "c": true, "d": true}
	row := func(primary string, replicas, inSync []string, leaving string) *starlingpb.Partition {
		return &starlingpb.Partition{Primary: primary, Replicas: replicas, InSync: inSync, Leaving: leaving}
	}
	cases := []struct {
		name string
		p    *starlingpb.Partition
		want []string
	}{
		{"in sync, primary first", row("b", []string{"a", "b", "c"}, []string{"a", "b", "c"}, ""), []string{"b", "a", "c"}},
		{"learners are not owners", row("a", []string{"a", "b", "d"}, []string{"a", "b"}, ""), []string{"a", "b"}},
		{"size move: learner in, leaving out", row("a", []string{"a", "b", "d"}, []string{"a", "b"}, "b"), []string{"a", "d"}},
		{"size move of the primary", row("a", []string{"a", "b", "d"}, []string{"a", "b"}, "a"), []string{"b", "d"}},
		{"size move caught up", row("a", []string{"a", "b", "d"}, []string{"a", "b", "d"}, "b"), []string{"a", "d"}},
		{"size move whose learner died", row("a", []string{"a", "b", "e"}, []string{"a", "b"}, "b"), []string{"a", "b"}},
	}
	for _, c := range cases {
		if got := ownersOf(c.p, live); !slices.Equal(got, c.want) {
			t.Errorf("%s: owners %v, want %v", c.name, got, c.want)
		}
	}
}
