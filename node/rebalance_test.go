package node

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestJoinRebalancesBySnapshotHandoff writes data into a 3-node cluster
// (replication factor 3, the default), joins a 4th node, and waits for the
// rebalancer: partition copies move to the new node by snapshot handoff
// until the copies per node are balanced (max/mean ≤ 1.10), the
// migrations API shows the handoffs, and every trace written before and
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
			if len(p.Replicas) != 3 || len(p.InSync) != 3 {
				return fmt.Sprintf("%v partition %d still moving: replicas %v in sync %v", p.Signal, p.Id, p.Replicas, p.InSync)
			}
			for _, id := range p.Replicas {
				per[id]++
			}
		}
		most := 0
		for _, n := range per {
			most = max(most, n)
		}
		if len(per) != 4 || float64(most)/(3*3*parts/4.0) > 1.10 {
			return fmt.Sprintf("copies per node %v", per)
		}
		return ""
	})
	// The moves were snapshot handoffs to node-3, as the API shows.
	var migs struct {
		Migrations []any `json:"migrations"`
		Recent     []struct {
			Target string `json:"target"`
			Bytes  int64  `json:"bytes"`
			Error  string `json:"error"`
		} `json:"recent"`
	}
	getJSON(t, fourth, "/api/v1/cluster/migrations", &migs)
	moved, bytes := 0, int64(0)
	for _, r := range migs.Recent {
		if r.Target == "node-3" && r.Error == "" {
			moved++
			bytes += r.Bytes
		}
	}
	t.Logf("migrations API: %d running, %d handoffs to node-3 (%d bytes)", len(migs.Migrations), moved, bytes)
	if len(migs.Migrations) != 0 || moved < 3*3*parts/4*9/10 || bytes == 0 {
		t.Errorf("migrations API: %d still running, %d handoffs to node-3 with %d bytes; want none running and about %d handoffs", len(migs.Migrations), moved, bytes, 3*3*parts/4)
	}
	t.Logf("balanced over 4 nodes %s after the join, with %d rounds of writes during the moves", time.Since(began).Round(time.Millisecond), round-20)
	for _, n := range all {
		for _, tag := range rounds {
			checkTraces(t, n, testTraces(tag, base))
		}
	}
}
