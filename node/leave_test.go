package node

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// TestGracefulLeaveUnderLoad makes the Raft leader of a 4-node cluster
// (replication factor 3) leave through POST /api/v1/cluster/leave while
// traces are written through the other nodes: no write is refused, every
// partition copy of the leaver moves to the others (three in sync each),
// leadership moves first, the node leaves gossip and the Raft group, and
// every trace written before and during the leave is readable.
func TestGracefulLeaveUnderLoad(t *testing.T) {
	const parts = 16
	nodes := startCluster(t, 4, 50, func(_ int, c *Config) { c.Partitions = parts })
	// Ready nodes may still be catching their copies up (a partition
	// with fewer in-sync copies than min_in_sync refuses writes, rightly):
	// the leave starts from the settled table.
	eventually(t, 30*time.Second, func() string { return settled(nodes[0], nodes) })
	leaderID, _, _ := raftView(nodes[0])
	li := slices.IndexFunc(nodes, func(n *Node) bool { return n.settings.NodeID == leaderID })
	if li < 0 {
		t.Fatalf("leader %q is none of the nodes", leaderID)
	}
	leaver := nodes[li]
	stay := slices.Delete(slices.Clone(nodes), li, li+1)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	var rounds []string
	refused := 0
	send := func(round int) {
		tag := fmt.Sprintf("leave-%d", round)
		body := must(ptraceotlp.NewExportRequestFromTraces(testTraces(tag, base)).MarshalProto())
		status, msg := postOTLP(t, stay[round%len(stay)].OTLPHTTPAddr(), "/v1/traces", "application/x-protobuf", "", body)
		if status != http.StatusOK {
			refused++
			t.Errorf("round %d: write refused during the leave: status %d: %s", round, status, msg)
			return
		}
		rounds = append(rounds, tag)
	}
	for round := range 10 {
		send(round)
	}
	held, _ := leaver.copiesHeld()

	req, err := http.NewRequest(http.MethodPost, apiURL(leaver, "/api/v1/cluster/leave"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST leave: status %d", resp.StatusCode)
	}
	began := time.Now()
	round := 10
	eventually(t, 90*time.Second, func() string {
		send(round) // writes go on during the handover
		round++
		select {
		case <-leaver.LeaveRequested():
			return ""
		default:
		}
		var st LeaveStatus
		getJSON(t, leaver, "/api/v1/cluster/leave", &st)
		return fmt.Sprintf("leave: %+v", st)
	})
	t.Logf("%s (raft leader, %d copies) drained in %s with %d rounds of writes meanwhile", leaderID, held, time.Since(began).Round(time.Millisecond), round-10)
	stopNode(t, leaver)

	eventually(t, 30*time.Second, func() string {
		send(round)
		round++
		for _, n := range stay {
			l, voters, nonVoters := raftView(n)
			if l == "" || l == leaderID || slices.Contains(voters, leaderID) || slices.Contains(nonVoters, leaderID) {
				return fmt.Sprintf("%s sees leader %q voters %v non-voters %v", n.settings.NodeID, l, voters, nonVoters)
			}
			for _, m := range n.gossip.Members() {
				if m.Meta.Id == leaderID && m.State != starlingpb.NodeState_NODE_STATE_LEFT {
					return fmt.Sprintf("%s sees %s as %s, want left", n.settings.NodeID, leaderID, m.State)
				}
			}
		}
		for _, p := range stay[0].group.FSM().State().Partitions {
			if slices.Contains(p.Replicas, leaderID) || len(p.InSync) != 3 {
				return fmt.Sprintf("%v partition %d: replicas %v in sync %v", p.Signal, p.Id, p.Replicas, p.InSync)
			}
		}
		return ""
	})
	if refused > 0 {
		t.Fatalf("%d writes refused", refused)
	}
	for _, n := range stay {
		for _, tag := range rounds {
			checkTraces(t, n, testTraces(tag, base))
		}
	}
	t.Logf("%d rounds acknowledged, 0 refused, all readable through the %d remaining nodes", len(rounds), len(stay))
}
