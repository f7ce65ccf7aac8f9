package node

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// streamingTo waits until a snapshot stream to node target runs, as the
// migrations API of via shows, and returns its source node.
func streamingTo(t *testing.T, via *Node, target string, send func()) string {
	t.Helper()
	var source string
	eventually(t, 30*time.Second, func() string {
		send()
		var migs struct {
			Migrations []struct {
				Source, Target, Phase string
				Signal                string
				Partition             uint32
			} `json:"migrations"`
		}
		getJSON(t, via, "/api/v1/cluster/migrations", &migs)
		for _, m := range migs.Migrations {
			if m.Target == target && m.Phase == "streaming" {
				source = m.Source
				t.Logf("%s partition %d streaming from %s to %s", m.Signal, m.Partition, m.Source, m.Target)
				return ""
			}
		}
		return fmt.Sprintf("no stream to %s yet: %+v", target, migs.Migrations)
	})
	return source
}

// settled reports what keeps the table of via from the end state: every
// partition with three in-sync copies on live nodes and no learner.
func settled(via *Node, live []*Node) string {
	ids := make([]string, len(live))
	for i, n := range live {
		ids[i] = n.NodeID()
	}
	for _, p := range via.group.FSM().State().Partitions {
		if len(p.Replicas) != 3 || len(p.InSync) != 3 || !slices.Contains(p.InSync, p.Primary) {
			return fmt.Sprintf("%v partition %d: primary %s replicas %v in sync %v", p.Signal, p.Id, p.Primary, p.Replicas, p.InSync)
		}
		for _, id := range p.Replicas {
			if !slices.Contains(ids, id) {
				return fmt.Sprintf("%v partition %d: copy on %s, which is down", p.Signal, p.Id, id)
			}
		}
	}
	return ""
}

// TestMigrationSurvivesKills moves partition copies to a 4th node while
// writes go on, and kills, in the middle of snapshot streams, first the
// target (its migrations are abandoned after the dead-node timeout, the
// copies stay where they were), then, after the target came back and
// streams started again, a source (the failed-over primary resumes the
// stream; the dead source's copies are re-replicated). No step leaves a
// partition with fewer in-sync copies than min_in_sync; every write
// acknowledged at any point is readable at the end through every node.
func TestMigrationSurvivesKills(t *testing.T) {
	const parts = 8
	slow := func(_ int, c *Config) {
		c.Partitions = parts
		c.HandoffMaxRate = 32 << 10 // streams of tens of KiB last about a second
	}
	nodes := startCluster(t, 3, 55, slow)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	var rounds []string
	round := 0
	live := slices.Clone(nodes)
	send := func() {
		tag := fmt.Sprintf("mig-%d", round)
		via := live[round%len(live)]
		round++
		if status, tries := sendTracesUntilAcked(t, via, testTraces(tag, base), 20*time.Second); status != http.StatusOK {
			t.Fatalf("write %s via %s: status %d after %d tries", tag, via.NodeID(), status, tries)
		}
		rounds = append(rounds, tag)
		// No step of a migration leaves fewer in-sync copies than
		// min_in_sync (one node down at a time here).
		for _, p := range live[0].group.FSM().State().Partitions {
			if len(p.InSync) < 2 {
				t.Errorf("%v partition %d: %d in-sync copies %v after write %s", p.Signal, p.Id, len(p.InSync), p.InSync, tag)
			}
		}
	}
	for range 30 {
		send()
	}

	// 1. The target dies mid-stream.
	cfg := LocalConfig(t.TempDir())
	cfg.Bind, cfg.NodeID, cfg.Join = "127.0.0.58", "node-3", []string{nodes[0].gossip.GossipAddr()}
	slow(3, &cfg)
	cfg.Logger = nodes[0].cfg.Logger
	target := startJoiner(t, cfg)
	streamingTo(t, nodes[0], "node-3", send)
	stopNode(t, target)
	began := time.Now()
	eventually(t, 30*time.Second, func() string {
		send()
		return settled(nodes[0], nodes)
	})
	t.Logf("target killed mid-stream: its migrations abandoned, copies back on the 3 nodes %s later", time.Since(began).Round(time.Millisecond))

	// 2. It comes back; streams to it start again; a source dies mid-stream.
	cfg.Join = nil // it finds the others through the peers it remembers
	target = startJoiner(t, cfg)
	live = append(live, target)
	source := streamingTo(t, nodes[0], "node-3", send)
	si := slices.IndexFunc(live, func(n *Node) bool { return n.NodeID() == source })
	if si < 0 {
		t.Fatalf("source %q is not a live node", source)
	}
	leader, _, _ := raftView(live[0])
	t.Logf("killing source %s (the raft leader is %s)", source, leader)
	stopNode(t, live[si])
	live = slices.Delete(live, si, si+1)
	began = time.Now()
	eventually(t, 60*time.Second, func() string {
		send()
		via := live[0]
		if s := settled(via, live); s != "" {
			return s
		}
		if got := slices.ContainsFunc(via.group.FSM().State().Partitions, func(p *starlingpb.Partition) bool { return slices.Contains(p.InSync, "node-3") }); !got {
			return "node-3 holds no in-sync copy yet"
		}
		return ""
	})
	t.Logf("source %s killed mid-stream: node-3 caught up from the new primaries and the dead source's copies re-replicated %s later", source, time.Since(began).Round(time.Millisecond))

	for _, n := range live {
		for _, tag := range rounds {
			checkTraces(t, n, testTraces(tag, base))
		}
	}
	t.Logf("%d writes acknowledged across both kills, all readable through the %d live nodes", len(rounds), len(live))
}
