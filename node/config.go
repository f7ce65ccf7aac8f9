package node

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"time"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/query/cache"
	"github.com/starling-otel/starling/raftmeta"
	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
)

// Config of one node. The flags of `starling` map onto it one to one.
type Config struct {
	// NodeID names the node in the partition table; empty means the id
	// stored in the data directory (made up on first start).
	NodeID string
	// DataDir holds the node's settings, id and storage.
	DataDir string

	// Bind is the host every listener binds to; empty is all interfaces.
	Bind string
	// Advertise is the host other nodes reach this node at; empty is Bind,
	// or a private IP of this machine when Bind is all interfaces.
	Advertise string
	// OTLPGRPCPort, OTLPHTTPPort and HTTPPort are the listening ports; 0
	// picks a free port (tests).
	OTLPGRPCPort int
	OTLPHTTPPort int
	HTTPPort     int
	// GossipPort (memberlist, TCP and UDP), RaftPort and ActorPort (actor
	// remote, gRPC) are the cluster ports; 0 picks a free port (tests).
	GossipPort int
	RaftPort   int
	ActorPort  int

	// Join lists seed peers' gossip addresses: host:port, dns+host:port
	// (A records) or dnssrv+name (SRV records).
	Join []string
	// BootstrapExpect is how many nodes form the cluster: once gossip shows
	// that many, the one with the lowest node id bootstraps the Raft group.
	BootstrapExpect int
	// ReplicationFactor and MinInSync are fixed when the cluster is
	// created; 0 takes the default (see replication).
	ReplicationFactor int
	MinInSync         int
	// Zone and Region place the node; replicas spread over zones first.
	Zone   string
	Region string
	// GossipKey encrypts gossip (16, 24 or 32 bytes; empty: plain).
	GossipKey []byte
	// DeadNodeTimeout is how long a node may be dead in gossip before the
	// Raft leader removes it from the Raft group (and replaces a voter).
	DeadNodeTimeout time.Duration
	// ReplicaTimeout is how long a primary waits for a replica's
	// acknowledgement before removing it from the in-sync set.
	ReplicaTimeout time.Duration
	// HandoffMaxRate bounds one partition handoff, in bytes per second.
	HandoffMaxRate int64
	// DropDelay is how long after a partition copy left this node its
	// data is deleted (0: never).
	DropDelay time.Duration
	// MaxConcurrentMigrations bounds the partitions the rebalancer moves
	// at once (0: the rebalancer is off).
	MaxConcurrentMigrations int
	// RebalanceThreshold is how far above the mean the bytes of the
	// fullest node may grow before the rebalancer moves copies for size
	// (0.2: 20%; 0: never for size).
	RebalanceThreshold float64
	// RebalanceMinBytes is the mean bytes per node below which nothing
	// moves for size (memtables, which sizes leave out, weigh too much).
	RebalanceMinBytes int64
	// SizeReportInterval is how often a node measures the partitions it
	// leads and reports their sizes to the table.
	SizeReportInterval time.Duration

	// Partitions per signal (P). Fixed when the data directory is created.
	Partitions int
	// Window is the length of a storage window. Fixed when the data
	// directory is created.
	Window time.Duration
	// Retention per signal.
	RetentionTraces  time.Duration
	RetentionLogs    time.Duration
	RetentionMetrics time.Duration
	// RetentionMetrics5m and RetentionMetrics1h keep the 5 m and 1 h
	// rollups of metrics.
	RetentionMetrics5m time.Duration
	RetentionMetrics1h time.Duration
	// MetricsOutOfOrder is how long after a 2 h block ended (in sample
	// time) it still takes samples in memory before it is flushed into
	// chunks; later samples are merged into the stored chunks.
	MetricsOutOfOrder time.Duration
	// MetricsFlushInterval is how often metrics partitions look for
	// blocks to flush.
	MetricsFlushInterval time.Duration
	// MetricsLateFlush is the longest samples for a block already flushed
	// are gathered before they are merged into its stored chunks (sooner
	// once none came for tsdb.HeadConfig.LateFlushIdle, or this if less).
	MetricsLateFlush time.Duration
	// MetricsRollupAfter is how old a flushed block must be before its 5 m
	// and 1 h rollups are written (queries roll younger data up on the
	// fly).
	MetricsRollupAfter time.Duration
	// SeriesLimits bound the cluster's active metric series, in total and
	// per metric name (--max-series, --max-series-per-metric).
	SeriesLimits actors.SeriesLimits
	// MaxFuture is how far ahead of the node's clock a record may be.
	MaxFuture time.Duration
	// SyncWrites fsyncs each group commit (power-loss safety on one node).
	SyncWrites bool

	// MaxRequestBytes bounds an OTLP request body (after decompression).
	MaxRequestBytes int64
	// IngestTimeout bounds one OTLP request from receipt to commit.
	IngestTimeout time.Duration
	// QueryTimeout bounds one API query.
	QueryTimeout time.Duration
	// QueryMaxBytes caps the partitions' answers one step of a query
	// holds on its coordinating node (0: no cap); past it the query fails
	// with a clear error (400) and the node stays healthy.
	QueryMaxBytes int64
	// Cache is the results cache of queries over closed ranges: its L1
	// size (--cache-max-bytes, 0: none) and Redis L2 (--cache-redis-url).
	Cache cache.Config
	// CacheFreshness is how long before now a query's range must end for
	// its answer to be cached (--cache-freshness).
	CacheFreshness time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests on Stop.
	ShutdownTimeout time.Duration
	// Frontends is the size of the ingest frontend pool.
	Frontends int

	// Storage tunes the store; Dir, Window and retention are set from the
	// fields above.
	Storage storage.Config
	// Gossip and Raft tune the cluster (timings, file sizes); addresses,
	// ids, join list and key are set from the fields above.
	Gossip cluster.MembershipConfig
	Raft   raftmeta.Config

	// Logger receives the node's logs (nil: discarded).
	Logger *slog.Logger
}

// DefaultConfig is a node on the default ports with data in ./data.
func DefaultConfig() Config {
	return Config{
		DataDir:                 "./data",
		OTLPGRPCPort:            4317,
		OTLPHTTPPort:            4318,
		HTTPPort:                3300,
		GossipPort:              7946,
		RaftPort:                7947,
		ActorPort:               7948,
		BootstrapExpect:         1,
		DeadNodeTimeout:         30 * time.Second,
		ReplicaTimeout:          5 * time.Second,
		HandoffMaxRate:          64 << 20,
		DropDelay:               time.Minute,
		MaxConcurrentMigrations: 3,
		RebalanceThreshold:      0.2,
		RebalanceMinBytes:       256 << 20,
		SizeReportInterval:      30 * time.Second,
		Partitions:              256,
		Window:                  24 * time.Hour,
		RetentionTraces:         7 * 24 * time.Hour,
		RetentionLogs:           7 * 24 * time.Hour,
		RetentionMetrics:        7 * 24 * time.Hour,
		RetentionMetrics5m:      90 * 24 * time.Hour,
		RetentionMetrics1h:      365 * 24 * time.Hour,
		MetricsOutOfOrder:       10 * time.Minute,
		MetricsFlushInterval:    10 * time.Second,
		MetricsLateFlush:        30 * time.Second,
		MetricsRollupAfter:      40 * time.Hour,
		SeriesLimits:            actors.DefaultSeriesLimits(),
		MaxFuture:               time.Hour,
		MaxRequestBytes:         16 << 20,
		IngestTimeout:           15 * time.Second,
		QueryTimeout:            30 * time.Second,
		QueryMaxBytes:           actors.DefaultQuerierConfig().MaxBytes,
		Cache:                   cache.DefaultConfig(),
		CacheFreshness:          actors.DefaultQueryCacheConfig().Freshness,
		ShutdownTimeout:         30 * time.Second,
		Frontends:               runtime.GOMAXPROCS(0),
		Storage:                 storage.DefaultConfig(""),
		Gossip:                  cluster.DefaultMembershipConfig(),
		Raft:                    raftmeta.DefaultConfig("", "", ""),
	}
}

// LocalConfig is a small node for tests: loopback, free ports, 16
// partitions, small Badger tables.
func LocalConfig(dataDir string) Config {
	c := DefaultConfig()
	c.DataDir = dataDir
	c.Bind = "127.0.0.1"
	c.OTLPGRPCPort, c.OTLPHTTPPort, c.HTTPPort = 0, 0, 0
	c.GossipPort, c.RaftPort, c.ActorPort = 0, 0, 0
	c.DeadNodeTimeout = 3 * time.Second
	c.ReplicaTimeout = time.Second
	c.DropDelay = time.Second
	c.SizeReportInterval = 500 * time.Millisecond
	c.RebalanceMinBytes = 0
	c.Gossip = cluster.LocalMembershipConfig("")
	c.Raft = raftmeta.LocalConfig("", "", "")
	c.Partitions = 16
	c.Frontends = 2
	c.Storage = storage.LocalConfig("")
	c.MetricsFlushInterval = 500 * time.Millisecond
	c.MetricsLateFlush = 200 * time.Millisecond
	c.SeriesLimits.RefreshInterval = 200 * time.Millisecond
	return c
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir: must be set"))
	}
	for _, p := range []struct {
		name string
		port int
	}{{"otlp-grpc-port", c.OTLPGRPCPort}, {"otlp-http-port", c.OTLPHTTPPort}, {"http-port", c.HTTPPort},
		{"gossip-port", c.GossipPort}, {"raft-port", c.RaftPort}, {"actor-port", c.ActorPort}} {
		if p.port < 0 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%s: %d is not a port", p.name, p.port))
		}
	}
	if c.Partitions < 1 || c.Partitions > 4096 {
		errs = append(errs, fmt.Errorf("partitions: %d is outside 1..4096", c.Partitions))
	}
	if err := c.SeriesLimits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.MetricsRollupAfter < 0 {
		errs = append(errs, fmt.Errorf("metrics-rollup-after: %s is negative", c.MetricsRollupAfter))
	}
	if c.MetricsOutOfOrder < 0 {
		errs = append(errs, fmt.Errorf("metrics-out-of-order: %s is negative", c.MetricsOutOfOrder))
	}
	if c.MetricsLateFlush < 0 {
		errs = append(errs, fmt.Errorf("metrics late flush: %s is negative", c.MetricsLateFlush))
	}
	if c.MetricsFlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("metrics-flush-interval: %s must be positive", c.MetricsFlushInterval))
	}
	if c.MaxFuture < 0 {
		errs = append(errs, fmt.Errorf("max-future: %s is negative", c.MaxFuture))
	}
	if c.MaxRequestBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("max-request-bytes: %d is below 1 KiB", c.MaxRequestBytes))
	}
	if c.IngestTimeout <= 0 || c.QueryTimeout <= 0 || c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("ingest, query and shutdown timeouts must be positive"))
	}
	if err := c.Cache.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("cache: %w", err))
	}
	if c.CacheFreshness <= 0 {
		errs = append(errs, fmt.Errorf("cache-freshness: %s must be positive", c.CacheFreshness))
	}
	if c.QueryMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("query-max-bytes: %d must not be negative", c.QueryMaxBytes))
	}
	if c.BootstrapExpect < 1 {
		errs = append(errs, fmt.Errorf("bootstrap-expect: %d must be at least 1", c.BootstrapExpect))
	}
	rf, minInSync := c.replication()
	if rf < 1 || rf > 7 {
		errs = append(errs, fmt.Errorf("replication-factor: %d is outside 1..7", rf))
	}
	if math.IsNaN(c.RebalanceThreshold) || math.IsInf(c.RebalanceThreshold, 0) || c.RebalanceThreshold < 0 {
		errs = append(errs, fmt.Errorf("rebalance-threshold: %v, want a number ≥ 0 (0: no moves for size)", c.RebalanceThreshold))
	}
	if c.RebalanceMinBytes < 0 {
		errs = append(errs, fmt.Errorf("rebalance-min-bytes: %d is negative", c.RebalanceMinBytes))
	}
	if c.MaxConcurrentMigrations < 0 {
		errs = append(errs, fmt.Errorf("max-concurrent-migrations: %d is negative", c.MaxConcurrentMigrations))
	}
	if c.SizeReportInterval <= 0 {
		errs = append(errs, fmt.Errorf("size-report-interval: %s must be positive", c.SizeReportInterval))
	}
	if c.DropDelay < 0 {
		errs = append(errs, fmt.Errorf("drop-delay: %s is negative", c.DropDelay))
	}
	if c.HandoffMaxRate < 0 {
		errs = append(errs, fmt.Errorf("handoff-max-rate: %d is negative", c.HandoffMaxRate))
	}
	if c.ReplicaTimeout <= 0 {
		errs = append(errs, fmt.Errorf("replica-timeout: %s must be positive", c.ReplicaTimeout))
	}
	if minInSync < 1 || minInSync > rf {
		errs = append(errs, fmt.Errorf("min-in-sync: %d is outside 1..replication-factor (%d)", minInSync, rf))
	}
	if c.DeadNodeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dead-node-timeout: %s must be positive", c.DeadNodeTimeout))
	}
	switch len(c.GossipKey) {
	case 0, 16, 24, 32:
	default:
		errs = append(errs, fmt.Errorf("gossip-key: %d bytes, want 16, 24 or 32", len(c.GossipKey)))
	}
	if c.Frontends < 1 {
		errs = append(errs, fmt.Errorf("frontends: %d must be at least 1", c.Frontends))
	}
	if err := c.storageConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// replication is the replication factor and min_in_sync a new cluster
// gets: the fields when set, else 3 copies when bootstrap-expect is 3 or
// more (1 below, where there are not three nodes to hold them), and
// min_in_sync 2 when there are 3 copies or more (else 1).
func (c Config) replication() (rf, minInSync int) {
	rf, minInSync = c.ReplicationFactor, c.MinInSync
	if rf == 0 {
		rf = 1
		if c.BootstrapExpect >= 3 {
			rf = 3
		}
	}
	if minInSync == 0 {
		minInSync = 1
		if rf >= 3 {
			minInSync = 2
		}
	}
	return rf, minInSync
}

// storageConfig is Storage with the node-level fields filled in.
func (c Config) storageConfig() storage.Config {
	s := c.Storage
	s.Dir = storageDir(c.DataDir)
	s.Window = c.Window
	s.RetentionTraces, s.RetentionLogs, s.RetentionMetrics = c.RetentionTraces, c.RetentionLogs, c.RetentionMetrics
	s.RetentionMetrics5m, s.RetentionMetrics1h = c.RetentionMetrics5m, c.RetentionMetrics1h
	s.SyncWrites = c.SyncWrites
	s.Logger = c.Logger
	return s
}

// metricsConfig is the configuration of metrics partitions' heads for a
// store window.
func (c Config) metricsConfig(window time.Duration, now func() time.Time) actors.MetricsConfig {
	h := tsdb.DefaultHeadConfig()
	h.BlockDuration = storage.BlockDuration(window).Milliseconds()
	h.OutOfOrder = c.MetricsOutOfOrder.Milliseconds()
	h.LateFlushDelay = c.MetricsLateFlush
	h.LateFlushIdle = min(h.LateFlushIdle, c.MetricsLateFlush)
	if now != nil {
		h.Now = now
	}
	m := actors.DefaultMetricsConfig()
	m.Head, m.FlushInterval, m.RollupAfter = h, c.MetricsFlushInterval, c.MetricsRollupAfter
	if c.MetricsFlushInterval < time.Second {
		m.RollupInterval = c.MetricsFlushInterval // a fast preset: rollups as often as flushes
	}
	return m
}

// handoffConfig is the handoff sender's configuration.
func (c Config) handoffConfig() actors.HandoffConfig {
	h := actors.DefaultHandoffConfig()
	h.MaxRate = c.HandoffMaxRate
	return h
}
