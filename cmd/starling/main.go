// Command starling runs a Starling node: an OTLP store for traces, logs and
// metrics with embedded storage.
//
//	go run ./cmd/starling            # one node, data in ./data, default ports
//	starling --help                  # every flag
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/starling-otel/starling/node"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "starling:", err)
		os.Exit(1)
	}
}

// options are the flags of the root command.
type options struct {
	cfg          node.Config
	memoryLimit  int64
	configPath   string
	logLevel     string
	logFormat    string
	drain        bool
	drainTimeout time.Duration
}

func newRootCommand() *cobra.Command {
	o := &options{cfg: node.DefaultConfig(), memoryLimit: defaultMemoryLimit}
	cmd := &cobra.Command{
		Use:   "starling",
		Short: "Starling: a self-forming OpenTelemetry store for traces, logs and metrics",
		Long: `Starling stores OpenTelemetry traces, logs and metrics received over OTLP
(gRPC on 4317, HTTP on 4318) and answers queries on its HTTP API (3300).

Every flag can also be set as the environment variable STARLING_<FLAG>
(upper case, '-' as '_', e.g. STARLING_DATA_DIR) or as a key of the YAML
file given by --config (e.g. "data-dir: /var/lib/starling"). A flag beats
the environment, which beats the file.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return applySources(cmd.Flags(), o.configPath, os.LookupEnv)
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context()) },
	}
	o.addFlags(cmd.Flags())
	cmd.AddCommand(newStatusCommand(), newLeaveCommand())
	return cmd
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	c := &o.cfg
	fs.StringVar(&o.configPath, "config", "", "YAML file of flag values (keys are flag names)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the node's data (created if missing)")
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "node id (default: the id stored in the data dir, made up on first start)")
	fs.StringVar(&c.Bind, "bind", c.Bind, "host or IP every listener binds to (default: all interfaces)")
	fs.StringVar(&c.Advertise, "advertise", c.Advertise, "host or IP other nodes reach this node at (default: --bind, or a private IP of this machine)")
	fs.IntVar(&c.OTLPGRPCPort, "otlp-grpc-port", c.OTLPGRPCPort, "OTLP/gRPC port")
	fs.IntVar(&c.OTLPHTTPPort, "otlp-http-port", c.OTLPHTTPPort, "OTLP/HTTP port")
	fs.IntVar(&c.HTTPPort, "http-port", c.HTTPPort, "HTTP API, /metrics, /healthz and /readyz port")
	fs.IntVar(&c.GossipPort, "gossip-port", c.GossipPort, "gossip (memberlist) port, TCP and UDP")
	fs.IntVar(&c.RaftPort, "raft-port", c.RaftPort, "Raft port")
	fs.IntVar(&c.ActorPort, "actor-port", c.ActorPort, "actor remote (gRPC) port")
	fs.StringSliceVar(&c.Join, "join", c.Join, "gossip address of a peer to join, repeatable: host:port, dns+host:port (every A record) or dnssrv+name (SRV records, e.g. a Kubernetes headless service)")
	fs.IntVar(&c.BootstrapExpect, "bootstrap-expect", c.BootstrapExpect, "number of nodes that form the cluster: once gossip shows that many, the one with the lowest node id bootstraps the Raft group")
	fs.StringVar(&c.Zone, "zone", c.Zone, "zone of this node; replicas spread over zones first")
	fs.StringVar(&c.Region, "region", c.Region, "region of this node")
	fs.Var(keyValue{&c.GossipKey}, "gossip-key", "base64 key (16, 24 or 32 bytes) encrypting gossip; the same on every node")
	fs.Var(durationValue{&c.DeadNodeTimeout}, "dead-node-timeout", "how long a node may be dead in gossip before it leaves the Raft group (a voter is replaced by a live node)")
	fs.IntVar(&c.ReplicationFactor, "replication-factor", c.ReplicationFactor, "copies of every partition; fixed when the cluster is created (default: 3 when --bootstrap-expect is 3 or more, else 1)")
	fs.Var(durationValue{&c.ReplicaTimeout}, "replica-timeout", "how long a primary waits for a replica's acknowledgement before removing it from the in-sync set")
	fs.Var(bytesValue{&c.HandoffMaxRate}, "handoff-max-rate", "bytes per second one partition handoff may stream (e.g. 64MiB; 0: no limit)")
	fs.Var(durationValue{&c.DropDelay}, "drop-delay", "how long after a partition copy moved away from this node its data is deleted (0: never)")
	fs.IntVar(&c.MaxConcurrentMigrations, "max-concurrent-migrations", c.MaxConcurrentMigrations, "partitions the rebalancer moves at once (0: no rebalancing)")
	fs.Float64Var(&c.RebalanceThreshold, "rebalance-threshold", c.RebalanceThreshold, "how far above the mean the bytes of the fullest node may grow before partition copies move for size (0.2: 20%; 0: never for size)")
	fs.Var(bytesValue{&c.RebalanceMinBytes}, "rebalance-min-bytes", "mean bytes per node below which nothing moves for size (e.g. 256MiB)")
	fs.Var(durationValue{&c.SizeReportInterval}, "size-report-interval", "how often a node measures the partitions it leads and reports their sizes")
	fs.IntVar(&c.MinInSync, "min-in-sync", c.MinInSync, "in-sync copies a write needs; fixed when the cluster is created (default: 2 when the replication factor is 3 or more, else 1)")
	fs.IntVar(&c.Partitions, "partitions", c.Partitions, "partitions per signal; fixed when the data dir is created")
	fs.Var(durationValue{&c.Window}, "window", "length of a storage window (whole hours); fixed when the data dir is created")
	fs.Var(durationValue{&c.RetentionTraces}, "retention-traces", "how long traces are kept (e.g. 72h, 7d); whole windows are deleted")
	fs.Var(durationValue{&c.RetentionLogs}, "retention-logs", "how long logs are kept")
	fs.Var(durationValue{&c.RetentionMetrics}, "retention-metrics", "how long raw metric samples are kept")
	fs.Var(durationValue{&c.RetentionMetrics5m}, "retention-metrics-5m", "how long the 5 m rollups of metrics are kept")
	fs.Var(durationValue{&c.RetentionMetrics1h}, "retention-metrics-1h", "how long the 1 h rollups of metrics are kept")
	fs.Var(durationValue{&c.MetricsRollupAfter}, "metrics-rollup-after", "how old a flushed 2 h block of metrics must be before its 5 m and 1 h rollups are written (younger data is rolled up at query time)")
	fs.Var(durationValue{&c.MetricsOutOfOrder}, "metrics-out-of-order", "how long after a 2 h block ended (in sample time) it takes samples in memory before it is flushed into chunks")
	fs.IntVar(&c.SeriesLimits.MaxSeries, "max-series", c.SeriesLimits.MaxSeries, "most active metric series in the cluster; samples of a new series beyond it are refused (remote write 400, OTLP partial success); 0: no limit")
	fs.IntVar(&c.SeriesLimits.MaxSeriesPerMetric, "max-series-per-metric", c.SeriesLimits.MaxSeriesPerMetric, "most active series of one metric name; 0: no limit")
	fs.Var(durationValue{&c.MaxFuture}, "max-future", "how far ahead of this node's clock a record's time may be")
	fs.BoolVar(&c.SyncWrites, "sync-writes", c.SyncWrites, "fsync every group commit (survives power loss on a single node; slower)")
	fs.Var(bytesValue{&c.MaxRequestBytes}, "max-request-bytes", "largest OTLP request accepted, after decompression (e.g. 16MiB)")
	fs.Var(durationValue{&c.IngestTimeout}, "ingest-timeout", "time limit of one OTLP request")
	fs.Var(durationValue{&c.QueryTimeout}, "query-timeout", "time limit of one API query")
	fs.Var(bytesValue{&c.Cache.MaxBytes}, "cache-max-bytes", "size of the in-memory (L1) cache of query answers over closed ranges (0: none)")
	fs.StringVar(&c.Cache.RedisURL, "cache-redis-url", c.Cache.RedisURL, "Redis as the second-level cache of query answers, e.g. redis://127.0.0.1:6379/0 (empty: none)")
	fs.Var(durationValue{&c.Cache.RedisTTL}, "cache-redis-ttl", "expiry of the answers kept in Redis")
	fs.Var(durationValue{&c.CacheFreshness}, "cache-freshness", "a query's answer is cached only when its range ends at least this long ago (writes still arrive for later times)")
	fs.Var(bytesValue{&c.QueryMaxBytes}, "query-max-bytes", "memory cap of one query: the partitions' answers one step of it may hold on the node that runs it (0: none); a query past it fails with 400 and the node stays healthy")
	fs.Var(durationValue{&c.ShutdownTimeout}, "shutdown-timeout", "time given to in-flight requests on SIGTERM")
	fs.Var(bytesValue{&o.memoryLimit}, "memory-limit", "soft limit of the process's memory (Go GC target; 0: none). Above it the GC works harder and returns memory sooner; it never refuses work. GOMEMLIMIT overrides the default")
	fs.BoolVar(&o.drain, "drain", false, "on SIGTERM or SIGINT, hand every partition copy to the other nodes and leave the cluster before exiting (a second signal stops at once)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 30*time.Minute, "longest --drain waits for the handover before stopping anyway")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
}

func (o *options) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("log-level: %q is not debug, info, warn or error", o.logLevel)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(o.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, hopts)), nil
	}
	return nil, fmt.Errorf("log-format: %q is not text or json", o.logFormat)
}

func (o *options) run(ctx context.Context) error {
	log, err := o.logger()
	if err != nil {
		return err
	}
	o.cfg.Logger = log
	o.applyMemoryLimit(log)
	n, err := node.New(o.cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := n.Start(ctx); err != nil {
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
		stop() // a second signal kills the process at once
		if o.drain {
			log.Info("signal received: handing every partition over before leaving the cluster (--drain)")
			dctx, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
			if err := n.Drain(dctx); err != nil {
				log.Error("drain failed: stopping without leaving the cluster", "err", err)
			}
			cancel()
		}
		log.Info("stopping: draining in-flight requests")
	case <-n.LeaveRequested():
		log.Info("drained on request: leaving the cluster and stopping")
	case serveErr = <-n.Err():
		log.Error("listener failed: stopping", "err", serveErr)
	}
	stop()
	return errors.Join(serveErr, n.Stop(context.Background()))
}

// defaultMemoryLimit keeps a default node, at full single-node ingest, under
// about 1.2 GiB of RSS: Badger's compactions free large buffers that the Go
// runtime would otherwise hand back to the OS only slowly.
const defaultMemoryLimit = 1 << 30

// applyMemoryLimit sets the Go runtime's soft memory limit, unless
// GOMEMLIMIT is set and --memory-limit was left at its default.
func (o *options) applyMemoryLimit(log *slog.Logger) {
	if _, env := os.LookupEnv("GOMEMLIMIT"); env && o.memoryLimit == defaultMemoryLimit {
		log.Info("memory limit from GOMEMLIMIT", "bytes", debug.SetMemoryLimit(-1))
		return
	}
	limit := o.memoryLimit
	if limit <= 0 {
		limit = math.MaxInt64
	}
	debug.SetMemoryLimit(limit)
}
