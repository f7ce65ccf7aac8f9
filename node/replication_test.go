package node

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// sendTracesUntilAcked posts td as OTLP/HTTP to n, retrying on 503 as an
// OTLP client does, until it is acknowledged or the deadline passes.
func sendTracesUntilAcked(t *testing.T, n *Node, td ptrace.Traces, deadline time.Duration) (status int, tries int) {
	t.Helper()
	body := must(ptraceotlp.NewExportRequestFromTraces(td).MarshalProto())
	end := time.Now().Add(deadline)
	for {
		tries++
		status, _ = postOTLP(t, n.OTLPHTTPAddr(), "/v1/traces", "application/x-protobuf", "", body)
		if status != http.StatusServiceUnavailable || time.Now().After(end) {
			return status, tries
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// localCopies counts the nodes whose own store holds trace tid.
func localCopies(t *testing.T, nodes []*Node, tid [16]byte, parts int) int {
	t.Helper()
	p := storage.PartitionOf(storage.TraceHash(tid), parts)
	copies := 0
	for _, n := range nodes {
		var out starlingpb.ResultChunk
		if err := n.store.ReadTrace(context.Background(), p, tid, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Records) > 0 {
			copies++
		}
	}
	return copies
}

func TestReplicationFailoverAndMinInSync(t *testing.T) {
	const parts = 16
	nodes := startCluster(t, 3, 31, func(_ int, c *Config) {
		c.ReplicationFactor, c.MinInSync, c.Partitions = 3, 2, parts
	})
	for _, p := range nodes[0].group.FSM().State().Partitions {
		if len(p.Replicas) != 3 || len(p.InSync) != 3 {
			t.Fatalf("row %v: want 3 replicas, all in sync", p)
		}
	}
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	var acked []ptrace.Traces
	send := func(round int, via *Node) {
		td := testTraces(fmt.Sprintf("repl-%d", round), base)
		if status, tries := sendTracesUntilAcked(t, via, td, 20*time.Second); status != http.StatusOK {
			t.Fatalf("round %d: status %d after %d tries", round, status, tries)
		}
		acked = append(acked, td)
	}
	// 1. Every acknowledged write is on all three nodes.
	for round := range 10 {
		send(round, nodes[0])
	}
	for _, td := range acked {
		for _, tid := range traceIDsOf(td) {
			if c := localCopies(t, nodes, tid, parts); c != 3 {
				t.Fatalf("trace %x is on %d nodes after its acknowledgement, want 3", tid, c)
			}
		}
	}
	// Queries read the nearest in-sync copy: every node holds one of
	// every partition, so a node answers from its own copies, primaries
	// of other nodes untouched.
	for i, n := range nodes {
		replicaReads := func() float64 {
			return counterSum(scrape(t, n), "starling_partition_reads_total", map[string]string{"role": "replica"})
		}
		before := replicaReads()
		checkTraces(t, n, acked[i])
		if got := replicaReads() - before; got < 1 {
			t.Errorf("node %d answered a trace query with %v reads of its own replica copies, want at least 1", i, got)
		}
	}

	// 2. A node dies: its partitions fail over to in-sync replicas, writes
	// to partitions it replicated shrink their in-sync sets, and every
	// write is acknowledged (after retries) with two copies left.
	dead := nodes[2]
	deadID := dead.NodeID()
	stopNode(t, dead)
	began := time.Now()
	for round := 10; round < 20; round++ {
		send(round, nodes[0])
	}
	t.Logf("10 rounds acknowledged %s after the stop", time.Since(began).Round(time.Millisecond))
	eventually(t, 20*time.Second, func() string {
		for _, p := range nodes[0].group.FSM().State().Partitions {
			if p.Primary == deadID {
				return fmt.Sprintf("%v partition %d still has the dead node as primary", p.Signal, p.Id)
			}
		}
		return ""
	})
	t.Logf("all primaries failed over %s after the stop", time.Since(began).Round(time.Millisecond))
	shrunk := 0
	for _, p := range nodes[0].group.FSM().State().Partitions {
		if !slices.Contains(p.InSync, deadID) {
			shrunk++
			if p.Epoch < 2 || !slices.Contains(p.Replicas, deadID) {
				t.Errorf("row %v: a shrink or failover raises the epoch and keeps the node as a replica", p)
			}
		}
	}
	if shrunk == 0 {
		t.Error("no in-sync set lost the dead node")
	}
	for i, td := range acked {
		t.Run(fmt.Sprintf("round %d readable", i), func(t *testing.T) { checkTraces(t, nodes[1], td) })
	}

	// 3. The dead node comes back: its primaries catch it up by snapshot
	// handoff (with the writes it missed) and it rejoins every in-sync set.
	back := startJoiner(t, dead.cfg)
	began = time.Now()
	eventually(t, 60*time.Second, func() string {
		for _, p := range nodes[0].group.FSM().State().Partitions {
			if len(p.InSync) != 3 {
				return fmt.Sprintf("%v partition %d in sync %v", p.Signal, p.Id, p.InSync)
			}
		}
		return ""
	})
	t.Logf("every partition back to 3 in-sync copies %s after the restart", time.Since(began).Round(time.Millisecond))
	live := []*Node{nodes[0], nodes[1], back}
	for _, td := range acked {
		for _, tid := range traceIDsOf(td) {
			if c := localCopies(t, live, tid, parts); c != 3 {
				t.Fatalf("trace %x is on %d nodes after the catch-up, want 3", tid, c)
			}
		}
	}

	// 4. Two nodes die: fewer in-sync copies than min_in_sync (and no Raft
	// quorum): writes are refused as retryable, never acknowledged.
	stopNode(t, nodes[1])
	stopNode(t, back)
	td := testTraces("repl-refused", base)
	status, _ := sendTracesUntilAcked(t, nodes[0], td, 3*time.Second)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("a write with one live copy answered %d, want 503", status)
	}
}

// traceIDsOf lists the distinct trace ids of td.
func traceIDsOf(td ptrace.Traces) [][16]byte {
	var out [][16]byte
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		for j := 0; j < td.ResourceSpans().At(i).ScopeSpans().Len(); j++ {
			spans := td.ResourceSpans().At(i).ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if id := [16]byte(spans.At(k).TraceID()); !slices.Contains(out, id) {
					out = append(out, id)
				}
			}
		}
	}
	return out
}
