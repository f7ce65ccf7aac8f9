package node

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
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
	// In the window before the current one: a moved copy's data is dropped
	// from windows that are over (the current one keeps it until it is).
	base := time.Now().Truncate(nodes[0].cfg.Window).Add(-time.Hour).Truncate(time.Millisecond)
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
	fourth := startJoiner(t, cfg)
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
	copies := 0
	for _, p := range fourth.group.FSM().State().Partitions {
		if slices.Contains(p.Replicas, "node-3") {
			copies++
		}
	}
	t.Logf("migrations API: %d running, %d handoffs to node-3 (%d bytes) for its %d copies", len(migs.Migrations), moved, bytes, copies)
	if len(migs.Migrations) != 0 || moved < copies || copies == 0 || bytes == 0 {
		t.Errorf("migrations API: %d still running, %d handoffs to node-3 with %d bytes; want none running and one handoff per copy (%d)", len(migs.Migrations), moved, bytes, copies)
	}
	t.Logf("balanced over 4 nodes %s after the join, with %d rounds of writes during the moves", time.Since(began).Round(time.Millisecond), round-20)
	for _, n := range all {
		for _, tag := range rounds {
			checkTraces(t, n, testTraces(tag, base))
		}
	}
	// The last step: nodes that gave a copy away drop its data (after
	// the drop delay, from windows that are over), and only they.
	eventually(t, 30*time.Second, func() string {
		st := nodes[0].group.FSM().State()
		for _, tag := range rounds {
			for _, tid := range traceIDsOf(testTraces(tag, base)) {
				p := storage.PartitionOf(storage.TraceHash(tid), parts)
				row := st.Partition(starlingpb.Signal_SIGNAL_TRACES, p)
				for _, n := range all {
					var out starlingpb.ResultChunk
					if err := n.store.ReadTrace(context.Background(), p, tid, &out); err != nil {
						t.Fatal(err)
					}
					if has, holds := len(out.Records) > 0, slices.Contains(row.Replicas, n.NodeID()); has != holds {
						return fmt.Sprintf("%s: trace %x of partition %d stored %v, copy held %v", n.NodeID(), tid, p, has, holds)
					}
				}
			}
		}
		return ""
	})
	dropped := 0.0
	for _, n := range nodes {
		dropped += counterSum(scrape(t, n), "starling_dropped_partitions_total", nil)
	}
	t.Logf("the nodes that gave copies away dropped %v partitions' data", dropped)
}
