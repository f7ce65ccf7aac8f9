package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// TestPromQLClusterAgrees: on a 3-node cluster with rf 3, the same
// queries give Prometheus' answers through every node, while a node is
// killed (an answer is complete or an error, never partial) and after its
// partitions failed over.
func TestPromQLClusterAgrees(t *testing.T) {
	nodes := startCluster(t, 3, 41, func(_ int, c *Config) {
		c.ReplicationFactor, c.MinInSync, c.Partitions = 3, 2, 16
	})
	end := time.Now().Add(-time.Minute).Truncate(15 * time.Second)
	series := genCompareData(end)
	remoteWrite(t, "http://"+nodes[0].HTTPAddr()+"/api/v1/write", series)
	ref := prometheusReference(t, series)
	queries := compareQueries[:12]
	check := func(t *testing.T, n *Node) {
		api := promAPI(t, n)
		for _, q := range queries {
			want, _, _, err1 := ref.Query(context.Background(), q, end)
			have, _, _, err2 := api.Query(context.Background(), q, end)
			checkSame(t, q, fmt.Sprintf("%s via %s", q, n.NodeID()), want, have, err1, err2)
			r := promv1.Range{Start: end.Add(-4 * time.Hour), End: end, Step: time.Minute}
			want, _, _, err1 = ref.QueryRange(context.Background(), q, r)
			have, _, _, err2 = api.QueryRange(context.Background(), q, r)
			checkSame(t, q, fmt.Sprintf("%s range via %s", q, n.NodeID()), want, have, err1, err2)
		}
	}
	for _, n := range nodes {
		t.Run("before "+n.NodeID(), func(t *testing.T) { check(t, n) })
	}

	// Kill a node while queries run through another: every answer is
	// Prometheus' or an error.
	const q = `sum by (instance) (rate(http_requests_total[5m]))`
	r := promv1.Range{Start: end.Add(-4 * time.Hour), End: end, Step: time.Minute}
	want, _, _, err := ref.QueryRange(context.Background(), q, r)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var answered, failed atomic.Int64
	var wg sync.WaitGroup
	api := promAPI(t, nodes[0])
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			have, _, _, err := api.QueryRange(context.Background(), q, r)
			if err != nil {
				failed.Add(1)
				continue
			}
			answered.Add(1)
			if w, h := canonical(want, false), canonical(have, false); w != h {
				t.Errorf("an answer during the kill differs from Prometheus':\n%s\n%s", clip(w), clip(h))
			}
		}
	})
	time.Sleep(200 * time.Millisecond)
	deadID := nodes[2].NodeID()
	stopNode(t, nodes[2])
	eventually(t, 30*time.Second, func() string {
		for _, p := range nodes[0].group.FSM().State().Partitions {
			if p.Primary == deadID {
				return fmt.Sprintf("%v partition %d still has the dead node as primary", p.Signal, p.Id)
			}
		}
		return ""
	})
	close(stop)
	wg.Wait()
	t.Logf("during the kill: %d complete answers, %d errors", answered.Load(), failed.Load())
	if answered.Load() == 0 {
		t.Error("no query answered during the kill")
	}
	for _, n := range nodes[:2] {
		t.Run("after "+n.NodeID(), func(t *testing.T) { check(t, n) })
	}
}

// TestPromQLNeverPartial: with rf 1 a dead node's partitions have no other
// copy; a query through a live node fails (503) instead of answering
// without them.
func TestPromQLNeverPartial(t *testing.T) {
	nodes := startCluster(t, 3, 45, func(_ int, c *Config) { c.ReplicationFactor, c.Partitions, c.QueryTimeout = 1, 16, 3*time.Second })
	end := time.Now().Add(-time.Minute).Truncate(15 * time.Second)
	remoteWrite(t, "http://"+nodes[0].HTTPAddr()+"/api/v1/write", genCompareData(end))
	api := promAPI(t, nodes[0])
	const q = `count(http_requests_total)`
	v, _, _, err := api.Query(context.Background(), q, end)
	if err != nil || v.String() == "" {
		t.Fatalf("before the kill: %v %v", v, err)
	}
	stopNode(t, nodes[2])
	v2, _, _, err := api.Query(context.Background(), q, end)
	if err == nil {
		t.Logf("answered %v (before the kill: %v)", v2, v)
	}
	var apiErr *promv1.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("a query missing a dead node's partitions answered (%v), want an error", err)
	}
	t.Logf("answer without the dead node's partitions: %v", apiErr)
}
