package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startClusterProc starts the binary as node id on host with the default
// ports (every node has its own loopback address) and the flags given; it
// does not wait for readiness.
func startClusterProc(t *testing.T, bin, host, id string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"--data-dir", t.TempDir(), "--bind", host, "--node-id", id, "--partitions", "16", "--log-level", "info"}, extra...)
	return spawn(t, bin, args, net.JoinHostPort(host, "3300"), net.JoinHostPort(host, "4318"), id)
}

// TestLeaveAndDrainUnderLoad runs a 4-node cluster of processes
// (127.0.0.44–47, replication factor 3) under OTLP/HTTP writes through
// nodes 0 and 1, makes node-3 leave with `starling leave --addr`, then
// stops node-2 with SIGTERM and --drain: both hand everything over, leave
// gossip as left and exit 0; no write is refused, and every acknowledged
// trace is read back.
func TestLeaveAndDrainUnderLoad(t *testing.T) {
	bin := starlingBinary(t)
	hosts := []string{"127.0.0.44", "127.0.0.45", "127.0.0.46", "127.0.0.47"}
	nodes := make([]*proc, len(hosts))
	for i, h := range hosts {
		nodes[i] = startClusterProc(t, bin, h, fmt.Sprintf("node-%d", i),
			"--bootstrap-expect", "4", "--join", hosts[0]+":7946", "--drain", "--dead-node-timeout", "3s")
	}
	for i, p := range nodes {
		waitReady(t, p, fmt.Sprintf("node-%d", i))
	}

	w := workload{run: fmt.Sprintf("leave-%d", time.Now().UnixNano()), base: time.Now().Add(-time.Minute)}
	a := newAcked()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			a.send(ctx, nodes[i%2].otlpHTTP, "traces", i, w.traces(i))
		}
	})
	time.Sleep(500 * time.Millisecond) // some writes before

	out, err := exec.Command(bin, "leave", "--addr", nodes[3].api, "--progress-every", "500ms").CombinedOutput()
	t.Logf("starling leave --addr %s:\n%s", nodes[3].api, out)
	if err != nil || !strings.Contains(string(out), "left the cluster") {
		t.Fatalf("starling leave: %v", err)
	}
	waitExit(t, nodes[3], "node-3")

	if err := nodes[2].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitExit(t, nodes[2], "node-2")
	if !strings.Contains(nodes[2].logs.String(), "drained: no partition copy left here") {
		t.Errorf("node-2 exited without draining:\n%s", nodes[2].logs.String())
	}
	time.Sleep(500 * time.Millisecond) // some writes after
	cancel()
	wg.Wait()

	status, body := nodes[0].get(t, "/api/v1/cluster/members")
	for _, id := range []string{"node-2", "node-3"} {
		if status != 200 || !strings.Contains(string(body), `"id":"`+id+`"`) || !strings.Contains(memberJSON(string(body), id), `"state":"left"`) {
			t.Errorf("%s is not recorded as left: %s", id, body)
		}
	}
	if len(a.failures) > 0 {
		t.Fatalf("%d writes refused during the leaves, e.g. %s", len(a.failures), a.failures[0])
	}
	t.Logf("%d trace requests acknowledged through the two leaves, none refused", len(a.traces))
	a.verify(t, nodes[0], w)
}

// waitReady waits until p answers /readyz with 200.
func waitReady(t *testing.T, p *proc, id string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready: %v\n%s", id, p.waitErr, p.logs.String())
		default:
		}
		if resp, err := client.Get("http://" + p.api + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 60 s\n%s", id, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits for p to exit and fails unless it exited 0.
func waitExit(t *testing.T, p *proc, id string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s still running 2 minutes after it was told to leave", id)
	}
	if p.waitErr != nil {
		t.Errorf("%s exited with %v, want 0", id, p.waitErr)
	}
}

// memberJSON cuts the object of member id out of a members answer.
func memberJSON(body, id string) string {
	i := strings.Index(body, `"id":"`+id+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "}")
	if j < 0 {
		return body[i:]
	}
	return body[i : i+j]
}
