// Command chaos is Starling's chaos test: it starts a local cluster (5
// nodes on 127.0.0.90…94 by default, replication factor 3, min in sync
// 2), sends OTLP traces, logs and metrics while it SIGKILLs a node every
// 10-20 s (now and then the Raft leader or a node moving a partition) and
// restarts it 5 s later, then waits for the cluster to settle and checks
// that every acknowledged span, log record and metric point is stored
// exactly once. It prints a report; the exit code is 1 when a record is
// lost or duplicated (or the cluster did not settle, a node crashed), 2
// when the run could not be carried out.
//
//	go run ./scripts/chaos -duration 2m
//	task chaos -- -duration 2m -keep
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
	"github.com/starling-otel/starling/scripts/internal/chaoskit"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg := chaoskit.DefaultConfig()
	var binary, nodeFlags string
	flag.StringVar(&binary, "starling", "", "starling binary to run (default: build ./cmd/starling into a temp dir)")
	flag.StringVar(&cfg.WorkDir, "dir", "", "directory for the nodes' data dirs and logs (default: a temp dir)")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep the data dirs and logs")
	flag.IntVar(&cfg.Nodes, "nodes", cfg.Nodes, "nodes in the cluster (the first three bootstrap it)")
	flag.IntVar(&cfg.ReplicationFactor, "rf", cfg.ReplicationFactor, "replication factor")
	flag.IntVar(&cfg.MinInSync, "min-in-sync", cfg.MinInSync, "in-sync copies a write needs")
	flag.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions per signal (0: starling's default)")
	flag.DurationVar(&cfg.DeadNodeTimeout, "dead-node-timeout", cfg.DeadNodeTimeout, "--dead-node-timeout of the nodes (a node dead longer has its partitions re-replicated)")
	flag.StringVar(&cfg.HostBase, "host-base", cfg.HostBase, "node i binds this address + i, with the default ports")
	flag.StringVar(&nodeFlags, "node-flags", "", "more starling flags for every node, space-separated")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "time under load and kills")
	flag.DurationVar(&cfg.KillMin, "kill-min", cfg.KillMin, "shortest time between two kills")
	flag.DurationVar(&cfg.KillMax, "kill-max", cfg.KillMax, "longest time between two kills")
	flag.DurationVar(&cfg.Down, "down", cfg.Down, "time a killed node stays down")
	flag.DurationVar(&cfg.LongDown, "long-down", cfg.LongDown, "time a node stays down on every -long-down-every-th kill (past -dead-node-timeout: re-replication)")
	flag.IntVar(&cfg.LongDownEvery, "long-down-every", cfg.LongDownEvery, "every how many kills one is long (0: never)")
	flag.IntVar(&cfg.Workers, "workers", cfg.Workers, "generator goroutines")
	flag.Float64Var(&cfg.Rate, "rate", cfg.Rate, "OTLP requests per second, all workers together")
	flag.IntVar(&cfg.RecordsPerRequest, "records", cfg.RecordsPerRequest, "spans, log records or metric points per request")
	flag.IntVar(&cfg.MaxAttempts, "attempts", cfg.MaxAttempts, "attempts of a request refused as retryable before it is given up")
	flag.DurationVar(&cfg.SettleTimeout, "settle-timeout", cfg.SettleTimeout, "time the cluster has to settle after the load")
	flag.Uint64Var(&cfg.Seed, "seed", 0, "random seed (0: from the clock; the report prints it)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "chaos: unexpected arguments %q\n", flag.Args())
		return 2
	}
	cfg.NodeFlags = strings.Fields(nodeFlags)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	defer benchkit.Cleanup()
	if binary == "" {
		dir, err := benchkit.TempDir("starling-chaos-bin-", false)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
		benchkit.Logf("building ./cmd/starling")
		if binary, err = chaoskit.Build(ctx, dir); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
	}
	cfg.Binary = binary
	rep, err := chaoskit.Run(ctx, cfg, benchkit.Logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	fmt.Print(rep)
	if rep.Failed() {
		return 1
	}
	return 0
}
