package node

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestJoinRebalancesBySnapshotHandoff writes data into a 3-node cluster
// (replication factor 1), joins a 4th node, and waits for the rebalancer:
// partitions move to the new node by snapshot handoff until the primaries
// are balanced (max/mean ≤ 1.10), and every trace written before and
// during the moves stays readable, through every node.
func TestJoinRebalancesBySnapshotHandoff(t *testing.T) {
	const parts = 16
	nodes := startCluster(t, 3, 35, func(_ int, c *Config) { c.Partitions = parts })
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	var rounds []string
	send := func(round int) {
		tag := fmt.Sprintf("move-%d", round)
		if status, tries := sendTracesUntilAcked(t, nodes[round%3], testTraces(tag, base), 20*time.Second); status != http.StatusOK {
			t.Fatalf("round %d: status %d after %d tries", round, status, tries)
		}
		rounds = append(rounds, tag)
	}
	for round := range 20 {
		send(round)
	}

	cfg := LocalConfig(t.TempDir())
	cfg.Bind, cfg.NodeID, cfg.Partitions, cfg.Join = "127.0.0.39", "node-3", parts, []string{nodes[0].gossip.GossipAddr()}
	fourth, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := fourth.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopNode(t, fourth) })
	if err := fourth.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	all := append(nodes, fourth)
	began := time.Now()
	round := 20
	eventually(t, 60*time.Second, func() string {
		send(round) // writes go on during the moves
		round++
		st := nodes[0].group.FSM().State()
		per := map[string]int{}
		for _, p := range st.Partitions {
			if len(p.Replicas) != 1 || len(p.InSync) != 1 {
				return fmt.Sprintf("%v partition %d still moving: replicas %v in sync %v", p.Signal, p.Id, p.Replicas, p.InSync)
			}
			per[p.Primary]++
		}
		most := 0
		for _, n := range per {
			most = max(most, n)
		}
		if len(per) != 4 || float64(most)/(3*parts/4.0) > 1.10 {
			return fmt.Sprintf("primaries per node %v", per)
		}
		return ""
	})
	t.Logf("balanced over 4 nodes %s after the join, with %d rounds of writes during the moves", time.Since(began).Round(time.Millisecond), round-20)
	for _, n := range all {
		for _, tag := range rounds {
			checkTraces(t, n, testTraces(tag, base))
		}
	}
}
