package raftmeta

import (
	"slices"
	"testing"

	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/proto/starlingpb"
)

func TestAssign(t *testing.T) {
	for _, c := range []struct {
		name       string
		members    int
		rf         uint32
		wantCopies int
	}{
		{"one node", 1, 1, 1},
		{"three nodes rf 1", 3, 1, 1},
		{"three nodes rf 3", 3, 3, 3},
		{"rf above the nodes present: under-replicated", 2, 3, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var members []cluster.Member
			for i := range c.members {
				members = append(members, cluster.Member{ID: string(rune('a' + i)), Zone: string(rune('x' + i%2))})
			}
			settings := &starlingpb.ClusterSettings{ClusterId: "c", Partitions: 32, ReplicationFactor: c.rf, MinInSync: 1, WindowSeconds: 3600}
			rows := Assign(members, settings, cluster.DefaultPlaceConfig())
			// The FSM accepts the assignment as a cluster's first table.
			f := NewFSM()
			st, err := applyInit(f.State(), &starlingpb.InitCluster{Settings: settings, Partitions: rows})
			if err != nil {
				t.Fatalf("FSM refuses the assignment: %v", err)
			}
			if len(st.Partitions) != 3*32 {
				t.Fatalf("%d rows", len(st.Partitions))
			}
			for _, p := range rows {
				if len(p.Replicas) != c.wantCopies || p.Replicas[0] != p.Primary || !slices.Equal(p.InSync, p.Replicas) || p.Epoch != 1 {
					t.Fatalf("row %v: want %d copies, primary first, all in sync, epoch 1", p, c.wantCopies)
				}
			}
		})
	}
}

func TestVoterTarget(t *testing.T) {
	for alive, want := range map[int]int{1: 3, 3: 3, 6: 3, 7: 5, 50: 5} {
		if got := voterTarget(alive); got != want {
			t.Errorf("voterTarget(%d) = %d, want %d", alive, got, want)
		}
	}
}
