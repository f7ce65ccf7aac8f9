package node

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// startCluster starts n in-process nodes on distinct loopback addresses
// (127.0.0.<first+i>, free ports) that form one cluster with
// bootstrap-expect n: node 0 starts alone, the others join it. It waits
// until every node is ready.
func startCluster(t *testing.T, count, first int, mutate func(i int, c *Config)) []*Node {
	t.Helper()
	nodes := make([]*Node, count)
	start := func(i int, join []string) {
		cfg := LocalConfig(t.TempDir())
		cfg.Bind = fmt.Sprintf("127.0.0.%d", first+i)
		cfg.NodeID = fmt.Sprintf("node-%d", i)
		cfg.BootstrapExpect = count
		cfg.Join = join
		if os.Getenv("STARLING_TEST_LOG") != "" {
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		if mutate != nil {
			mutate(i, &cfg)
		}
		n, err := New(cfg)
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.Start(ctx); err != nil {
			t.Fatalf("start node %d: %v", i, err)
		}
		nodes[i] = n
		t.Cleanup(func() { stopNode(t, n) })
	}
	start(0, nil)
	seed := []string{nodes[0].gossip.GossipAddr()}
	var wg sync.WaitGroup
	for i := 1; i < count; i++ {
		wg.Go(func() { start(i, seed) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, n := range nodes {
		if err := n.WaitReady(ctx); err != nil {
			t.Fatalf("node %d not ready: %v", i, err)
		}
	}
	return nodes
}

// startJoiner starts cfg as a node (one joining a running cluster, or one
// restarted) and waits until it is ready.
func startJoiner(t *testing.T, cfg Config) *Node {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopNode(t, n) })
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually polls cond until it returns "" or the deadline passes, then
// fails with the last reason.
func eventually(t *testing.T, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterFormsAndAgrees(t *testing.T) {
	nodes := startCluster(t, 3, 21, func(_ int, c *Config) { c.Partitions = 256 })

	// One leader, known to all.
	eventually(t, 10*time.Second, func() string {
		leader := nodes[0].group.Leader()
		for i, n := range nodes {
			if l := n.group.Leader(); l == "" || l != leader {
				return fmt.Sprintf("node %d sees leader %q, node 0 %q", i, l, leader)
			}
		}
		return ""
	})
	info := nodes[0].group.Info()
	if len(info.Voters) != 3 || len(info.NonVoters) != 0 {
		t.Errorf("raft configuration: %d voters %d non-voters, want 3 and 0: %+v", len(info.Voters), len(info.NonVoters), info)
	}

	// Every node's local table: all 3×256 partitions, identical everywhere.
	eventually(t, 10*time.Second, func() string {
		ref := nodes[0].group.FSM().State()
		for i, n := range nodes {
			st := n.group.FSM().State()
			if !st.Initialised() {
				return fmt.Sprintf("node %d: not initialised", i)
			}
			if len(st.Partitions) != 3*256 {
				return fmt.Sprintf("node %d: %d partitions", i, len(st.Partitions))
			}
			if !proto.Equal(st.Settings, ref.Settings) {
				return fmt.Sprintf("node %d: settings %v, node 0 %v", i, st.Settings, ref.Settings)
			}
			for j, p := range st.Partitions {
				if !proto.Equal(p, ref.Partitions[j]) {
					return fmt.Sprintf("node %d: row %d %v, node 0 %v", i, j, p, ref.Partitions[j])
				}
			}
		}
		return ""
	})
	st := nodes[0].group.FSM().State()
	perNode := map[string]int{}
	// bootstrap-expect 3: three copies by default, two needed in sync.
	if s := st.Settings; s.ReplicationFactor != 3 || s.MinInSync != 2 {
		t.Fatalf("settings %v: want replication factor 3, min in sync 2 (the defaults for bootstrap-expect 3)", s)
	}
	for _, p := range st.Partitions {
		distinct := len(p.Replicas) == 3 && p.Replicas[0] != p.Replicas[1] && p.Replicas[1] != p.Replicas[2] && p.Replicas[0] != p.Replicas[2]
		if p.Epoch != 1 || !distinct || p.Replicas[0] != p.Primary || !slices.Equal(p.InSync, p.Replicas) ||
			p.State != starlingpb.PartitionState_PARTITION_STATE_ACTIVE {
			t.Fatalf("row %v: want epoch 1, three distinct replicas led by the primary, all in sync, active", p)
		}
		perNode[p.Primary]++
	}
	if len(perNode) != 3 {
		t.Fatalf("partitions on %d nodes, want 3: %v", len(perNode), perNode)
	}
	most := 0
	for _, c := range perNode {
		most = max(most, c)
	}
	skew := float64(most) / (3 * 256 / 3.0)
	t.Logf("partitions per node %v, skew %.3f", perNode, skew)
	if skew > 1.10 {
		t.Errorf("skew %.3f > 1.10", skew)
	}

	// Every node records every node as alive.
	eventually(t, 10*time.Second, func() string {
		for i, n := range nodes {
			st := n.group.FSM().State()
			if len(st.Nodes) != 3 {
				return fmt.Sprintf("node %d records %d nodes", i, len(st.Nodes))
			}
			for _, r := range st.Nodes {
				if r.State != starlingpb.NodeState_NODE_STATE_ALIVE {
					return fmt.Sprintf("node %d records %s as %s", i, r.Meta.Id, r.State)
				}
			}
		}
		return ""
	})

	// Writes through one node are read through the others.
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	sendAll(t, nodes[0], "cluster", base)
	for i, n := range nodes {
		t.Run(fmt.Sprintf("read via node %d", i), func(t *testing.T) {
			checkTraces(t, n, testTraces("cluster", base))
			checkLogs(t, n, testLogs("cluster", base), "json-cluster")
			checkMetrics(t, n, testMetrics("cluster", base))
		})
	}
}

// raftView is one node's view of the Raft configuration, for messages.
func raftView(n *Node) (leader string, voters, nonVoters []string) {
	info := n.group.Info()
	for _, s := range info.Voters {
		voters = append(voters, s.ID)
	}
	for _, s := range info.NonVoters {
		nonVoters = append(nonVoters, s.ID)
	}
	return info.Leader, voters, nonVoters
}

func TestClusterReplacesDeadVoterAndRejoins(t *testing.T) {
	nodes := startCluster(t, 3, 25, nil)
	// A fourth node joins the running cluster by --join only.
	cfg := LocalConfig(t.TempDir())
	cfg.Bind, cfg.NodeID, cfg.Join = "127.0.0.28", "node-3", []string{nodes[0].gossip.GossipAddr()}
	fourth := startJoiner(t, cfg)
	eventually(t, 10*time.Second, func() string {
		if _, v, nv := raftView(nodes[0]); len(v) != 3 || !slices.Equal(nv, []string{"node-3"}) {
			return fmt.Sprintf("voters %v non-voters %v, want 3 and [node-3]", v, nv)
		}
		return ""
	})
	if n := len(fourth.group.FSM().State().Partitions); n != 3*16 {
		t.Errorf("the joined node's table has %d rows", n)
	}

	// Stop the leader without leaving: to the others it died.
	leader, _, _ := raftView(nodes[0])
	var dead int
	for i, n := range nodes {
		if n.NodeID() == leader {
			dead = i
		}
	}
	deadCfg := nodes[dead].cfg
	stopNode(t, nodes[dead])
	survivors := append(slices.Clone(nodes[:dead]), nodes[dead+1:]...)
	survivors = append(survivors, fourth)
	began := time.Now()
	eventually(t, 5*time.Second, func() string {
		l, _, _ := raftView(survivors[0])
		if l == "" || l == leader {
			return fmt.Sprintf("leader still %q", l)
		}
		return ""
	})
	t.Logf("new leader after %s", time.Since(began).Round(time.Millisecond))

	// After the dead-node timeout the dead voter is removed and node-3 is
	// promoted, with nothing typed.
	eventually(t, deadCfg.DeadNodeTimeout+10*time.Second, func() string {
		_, v, nv := raftView(survivors[0])
		if len(v) != 3 || slices.Contains(v, leader) || !slices.Contains(v, "node-3") || len(nv) != 0 {
			return fmt.Sprintf("voters %v non-voters %v: want node-3 promoted and %s removed", v, nv, leader)
		}
		return ""
	})
	t.Logf("dead voter replaced %s after the kill", time.Since(began).Round(time.Millisecond))

	// Restarted with its data dir, the node comes back as itself.
	deadCfg.Join = nil // it finds the others through the peers it remembers
	back := startJoiner(t, deadCfg)
	if back.NodeID() != leader {
		t.Errorf("restarted node is %s, want %s", back.NodeID(), leader)
	}
	eventually(t, 10*time.Second, func() string {
		_, v, nv := raftView(survivors[0])
		if !slices.Contains(nv, leader) || len(v) != 3 {
			return fmt.Sprintf("voters %v non-voters %v: want %s back as non-voter", v, nv, leader)
		}
		for _, r := range survivors[0].group.FSM().State().Nodes {
			if r.Meta.Id == leader && r.State != starlingpb.NodeState_NODE_STATE_ALIVE {
				return fmt.Sprintf("%s recorded as %s", leader, r.State)
			}
		}
		return ""
	})
}
