package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/starling-otel/starling/scripts/internal/chaoskit"
)

// TestChaosShort is the short chaos run: 5 nodes (127.0.0.80…84, replication
// factor 3, min in sync 2) under about a minute of load, a node killed
// every 8-12 s for 4 s (the 2nd one for 14 s: past the failover and the
// dead-node timeout, so its partitions get re-replicated), then every
// acknowledged record is read back and must be there exactly once, and the
// cluster must settle.
func TestChaosShort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := chaoskit.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := chaoskit.DefaultConfig()
	cfg.Binary = bin
	// The data dirs and logs stay when the test fails.
	cfg.WorkDir, err = os.MkdirTemp("", "starling-chaos-test-")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Keep = true
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("data dirs and node logs kept in %s", cfg.WorkDir)
			return
		}
		os.RemoveAll(cfg.WorkDir)
	})
	cfg.HostBase = "127.0.0.80"
	cfg.Duration = 60 * time.Second
	cfg.KillMin, cfg.KillMax = 8*time.Second, 12*time.Second
	cfg.Down = 4 * time.Second
	cfg.LongDown = 14 * time.Second
	cfg.DeadNodeTimeout = 8 * time.Second
	cfg.Rate = 40
	// Fewer partitions than starling's 256 per signal: the rebalancer
	// (3 moves at a time) settles the cluster within the test's time.
	cfg.Partitions = 32
	cfg.SettleTimeout = 90 * time.Second
	cfg.Progress = 10 * time.Second
	rep, err := chaoskit.Run(ctx, cfg, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	if n := rep.Lost.Total(); n > 0 {
		t.Errorf("%d acknowledged records lost", n)
	}
	if n := rep.Duplicated.Total(); n > 0 {
		t.Errorf("%d acknowledged records duplicated", n)
	}
	if n := rep.Unverified.Total(); n > 0 {
		t.Errorf("%d acknowledged records could not be checked", n)
	}
	if len(rep.Kills) < 3 {
		t.Errorf("%d kills, want at least 3", len(rep.Kills))
	}
	for s, name := range []string{"traces", "logs", "metrics"} {
		if rep.AckedRecords[s] == 0 {
			t.Errorf("no %s acknowledged", name)
		}
	}
	if rep.Failed() {
		t.Errorf("the run failed: see the report (settled %v, findings %q)", rep.Settled, rep.Findings)
	}
}
