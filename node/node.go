// Package node assembles one Starling node: its settings and data
// directory, the store, the partition table, the actor system with its
// partition manager, frontends and querier, the OTLP receivers (gRPC and
// HTTP) and the HTTP API. It owns start and stop order: storage → table →
// actors → receivers and API on start, the reverse on stop, closing what was
// opened when a start fails.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/cache"
	"github.com/starling-otel/starling/raftmeta"
	"github.com/starling-otel/starling/storage"
)

// Node is one running Starling node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	settings settings

	store        *storage.Store
	group        *raftmeta.Group
	gossip       *cluster.Membership
	system       *actor.ActorSystem
	remote       *remote.Remote
	outbox       *actors.Outbox
	transfers    *actors.Transfers
	proposer     *proposer
	guard        *actors.PartitionGuard
	droppedCount prometheus.Counter
	limiter      *actors.SeriesLimiter // nil: no series limits
	results      *cache.Cache          // the query results cache's levels
	queryCache   *actors.QueryCache
	router       *actors.Router
	actorMetrics *actors.Metrics
	manager      *actors.Manager
	metrics      *receiverMetrics

	servingMu sync.Mutex // orders startServing against shutdown
	serving   atomic.Pointer[serving]
	quit      chan struct{}

	leave          leaveState
	leaveOnce      sync.Once
	leaveRequested chan struct{}
	drained        atomic.Bool // Stop leaves gossip instead of dying

	grpcSrv  *grpc.Server
	grpcLn   net.Listener
	otlpHTTP *http.Server
	otlpLn   net.Listener
	api      *http.Server
	apiLn    net.Listener

	started  time.Time
	errs     chan error
	stopOnce sync.Once
	stopErr  error
}

// New checks cfg and returns a node ready to Start.
func New(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Node{cfg: cfg, log: cfg.Logger, errs: make(chan error, 4), quit: make(chan struct{}), leaveRequested: make(chan struct{})}, nil
}

// serving is what a node needs to take writes and queries once the cluster
// settings are known.
type serving struct {
	frontends *actors.Frontends
	querier   *actors.Querier
}

// Start opens the data directory and the store, joins (or forms) the
// cluster, spawns the actors and starts listening, in that order. On error
// everything opened is closed again. Writes and queries are answered once
// the cluster settings are known (Ready); a node that needs no peer
// (bootstrap-expect 1, nothing to join) waits for that before returning.
func (n *Node) Start(ctx context.Context) (err error) {
	began := time.Now()
	n.started = began
	defer func() {
		if err != nil {
			n.shutdown(context.Background())
		}
	}()
	if n.settings, err = loadSettings(n.cfg); err != nil {
		return err
	}
	n.log = n.log.With("node", n.settings.NodeID)
	n.reg = prometheus.NewRegistry()
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	scfg := n.cfg.storageConfig()
	scfg.Logger = n.log.With("component", "storage")
	if n.store, err = storage.Open(scfg, n.reg); err != nil {
		return fmt.Errorf("open storage: %w", err)
	}
	host, err := n.cfg.advertiseHost()
	if err != nil {
		return err
	}
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(actorLogger(n.log)))
	if err := n.startRemote(host); err != nil {
		return err
	}
	// Bind the listeners now so that gossip can advertise their ports; they
	// serve once the actors are up.
	if err := n.bind(); err != nil {
		return err
	}
	if err := n.startCluster(host); err != nil {
		return err
	}
	table := n.group.FSM()
	if _, err := n.system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &metaActor{group: n.group} }), metaActorName); err != nil {
		return fmt.Errorf("spawn meta actor: %w", err)
	}
	n.router = actors.NewRouter(table, n.gossip)
	n.router.ReadLocal(n.settings.NodeID)
	n.actorMetrics = actors.NewMetrics(n.reg)
	n.outbox = actors.NewOutbox(n.system, outboxQueue)
	n.transfers = actors.NewTransfers(n.log.With("component", "handoff"), n.reg, 5*time.Second)
	n.proposer = &proposer{system: n.system, group: n.group, gossip: n.gossip, self: n.settings.NodeID}
	mcfg := actors.ManagerConfig{
		NodeID: n.settings.NodeID, ReadTimeout: n.cfg.QueryTimeout, Logger: n.log.With("component", "partition"),
		Replication: actors.ReplicationConfig{
			Timeout:   n.cfg.ReplicaTimeout,
			MinInSync: func() int { return max(1, int(table.State().Settings.GetMinInSync())) },
			Proposer:  n.proposer,
			Addresses: n.gossip,
			Outbox:    n.outbox,
			Handoff:   n.cfg.handoffConfig(),
			Transfers: n.transfers,
		},
	}
	mcfg.Metrics = n.cfg.metricsConfig(n.store.Config().Window, n.cfg.Storage.Now)
	mcfg.Metrics.Heads = actors.NewHeadSet()
	// Flushes take at most half the cores (one of two): queries keep the rest.
	mcfg.Metrics.Flushes = actors.NewFlushGate(runtime.GOMAXPROCS(0) / 2)
	n.reg.MustRegister(mcfg.Metrics.Heads)
	if n.cfg.SeriesLimits.Enabled() {
		if n.limiter, err = actors.NewSeriesLimiter(n.cfg.SeriesLimits, n.reg); err != nil {
			return err
		}
		mcfg.Metrics.Limits = n.limiter
	}
	n.guard = actors.NewPartitionGuard()
	n.droppedCount = newDroppedCounter(n.reg)
	mcfg.Guard = n.guard
	if _, err := actors.StartHandoffActor(n.system, n.store, time.Minute, n.guard); err != nil {
		return err
	}
	if n.manager, err = actors.StartManager(n.system, mcfg, n.store, table, n.actorMetrics); err != nil {
		return err
	}
	if n.results, err = cache.New(n.cfg.Cache, n.reg, n.log.With("component", "query-cache")); err != nil {
		return err
	}
	qcfg := actors.DefaultQueryCacheConfig()
	qcfg.Freshness, qcfg.Self = n.cfg.CacheFreshness, n.settings.NodeID
	if n.queryCache, err = actors.StartQueryCache(n.system, qcfg, n.results, n.store, n.router, n.gossip); err != nil {
		return err
	}
	n.metrics = newReceiverMetrics(n.reg)
	if err := n.serve(); err != nil {
		return err
	}
	go n.awaitCluster()
	n.log.Info("node started",
		"otlp_grpc", n.grpcLn.Addr().String(), "otlp_http", n.otlpLn.Addr().String(), "http", n.apiLn.Addr().String(),
		"gossip", n.gossip.GossipAddr(), "raft", n.group.Addr(), "actors", n.system.Address(),
		"data_dir", n.cfg.DataDir, "took", time.Since(began).Round(time.Millisecond))
	if n.cfg.BootstrapExpect <= 1 && len(n.cfg.Join) == 0 {
		if err := n.WaitReady(ctx); err != nil {
			return fmt.Errorf("wait until ready: %w", err)
		}
	}
	return nil
}

// WaitReady waits until the node is Ready, or ctx ends, or the node fails.
func (n *Node) WaitReady(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !n.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%s)", ctx.Err(), n.notReadyReason())
		case <-n.quit:
			return ErrStopped
		case <-t.C:
		}
	}
	return nil
}

// startServing starts the frontends and the querier for the cluster's
// settings.
func (n *Node) startServing(cs *starlingpb.ClusterSettings) error {
	if err := n.checkClusterSettings(cs); err != nil {
		return err
	}
	fcfg := actors.FrontendConfig{
		Size: n.cfg.Frontends, Timeout: n.cfg.IngestTimeout, MaxAttempts: 10, Outbox: n.outbox, Late: n.queryCache,
		Builder: storage.BuilderConfig{
			Partitions: int(cs.Partitions), Window: time.Duration(cs.WindowSeconds) * time.Second, MaxFuture: n.cfg.MaxFuture,
			Retention: map[starlingpb.Signal]time.Duration{
				starlingpb.Signal_SIGNAL_TRACES:  n.cfg.RetentionTraces,
				starlingpb.Signal_SIGNAL_LOGS:    n.cfg.RetentionLogs,
				starlingpb.Signal_SIGNAL_METRICS: n.cfg.RetentionMetrics,
			},
		},
	}
	n.servingMu.Lock()
	defer n.servingMu.Unlock()
	select {
	case <-n.quit:
		return nil
	default:
	}
	f, err := actors.StartFrontends(n.system, fcfg, n.router, storage.NewSeenCache(1<<20), n.actorMetrics, n.cfg.Storage.Now)
	if err != nil {
		return err
	}
	n.serving.Store(&serving{frontends: f, querier: actors.NewQuerier(n.system, n.router, actors.QuerierConfig{Timeout: n.cfg.QueryTimeout, MaxBytes: n.cfg.QueryMaxBytes, Cache: n.queryCache}, n.store)})
	n.log.Info("serving", "cluster_id", cs.ClusterId, "partitions", cs.Partitions, "replication_factor", cs.ReplicationFactor)
	if n.cfg.DropDelay > 0 {
		go n.runDropper(int(cs.Partitions))
	}
	go n.runSizeReporter(n.proposer)
	if n.limiter != nil {
		go n.runSeriesCounts()
	}
	return nil
}

// bind opens the OTLP and API listeners.
func (n *Node) bind() error {
	addr := func(port int) string { return net.JoinHostPort(n.cfg.Bind, strconv.Itoa(port)) }
	var err error
	if n.grpcLn, err = net.Listen("tcp", addr(n.cfg.OTLPGRPCPort)); err != nil {
		return fmt.Errorf("listen for OTLP/gRPC: %w", err)
	}
	if n.otlpLn, err = net.Listen("tcp", addr(n.cfg.OTLPHTTPPort)); err != nil {
		return fmt.Errorf("listen for OTLP/HTTP: %w", err)
	}
	if n.apiLn, err = net.Listen("tcp", addr(n.cfg.HTTPPort)); err != nil {
		return fmt.Errorf("listen for HTTP API: %w", err)
	}
	return nil
}

// serve serves the bound listeners.
func (n *Node) serve() error {
	n.grpcSrv = n.newGRPCServer()
	n.otlpHTTP = &http.Server{Handler: n.otlpHTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	api, err := n.apiHandler()
	if err != nil {
		return err
	}
	n.api = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}
	serve := func(name string, f func() error) {
		go func() {
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				n.errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	serve("OTLP/gRPC", func() error { return n.grpcSrv.Serve(n.grpcLn) })
	serve("OTLP/HTTP", func() error { return n.otlpHTTP.Serve(n.otlpLn) })
	serve("HTTP API", func() error { return n.api.Serve(n.apiLn) })
	return nil
}

// Err delivers errors that stop a listener; the caller should Stop the
// node.
func (n *Node) Err() <-chan error { return n.errs }

// NodeID is the node's id.
func (n *Node) NodeID() string { return n.settings.NodeID }

// OTLPGRPCAddr, OTLPHTTPAddr and HTTPAddr are the listening addresses.
func (n *Node) OTLPGRPCAddr() string { return n.grpcLn.Addr().String() }

// OTLPHTTPAddr is the OTLP/HTTP listening address.
func (n *Node) OTLPHTTPAddr() string { return n.otlpLn.Addr().String() }

// HTTPAddr is the API listening address.
func (n *Node) HTTPAddr() string { return n.apiLn.Addr().String() }

// Ready reports whether the node serves reads and writes: the Raft group
// has a leader, the cluster settings are known and every partition actor
// the table places here is up.
func (n *Node) Ready() bool { return n.notReadyReason() == "" }

// notReadyReason says why the node is not ready, or "" when it is.
func (n *Node) notReadyReason() string {
	switch {
	case n.group == nil || n.manager == nil:
		return "starting"
	case n.group.Leader() == "":
		return "no raft leader"
	case n.serving.Load() == nil:
		return "cluster not formed yet"
	case !n.manager.Ready():
		return "partition actors are not all up"
	}
	return ""
}

// Stop stops accepting requests, waits (up to the shutdown timeout or ctx)
// for those in flight to be answered, then stops the actors and closes the
// store. Safe to call more than once.
func (n *Node) Stop(ctx context.Context) error {
	n.stopOnce.Do(func() {
		began := time.Now()
		n.stopErr = n.shutdown(ctx)
		n.log.Info("node stopped", "took", time.Since(began).Round(time.Millisecond), "err", n.stopErr)
	})
	return n.stopErr
}

// shutdown stops whatever is running, in reverse start order.
func (n *Node) shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if n.grpcSrv != nil {
		done := make(chan struct{})
		go func() { n.grpcSrv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			n.grpcSrv.Stop()
		}
	}
	for _, s := range []*http.Server{n.otlpHTTP, n.api} {
		if s != nil {
			if err := s.Shutdown(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, ln := range []net.Listener{n.grpcLn, n.otlpLn, n.apiLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	step := time.Now()
	phase := func(name string) {
		n.log.Debug("stopped "+name, "took", time.Since(step).Round(time.Millisecond))
		step = time.Now()
	}
	phase("listeners")
	n.servingMu.Lock()
	select {
	case <-n.quit:
	default:
		close(n.quit)
	}
	n.servingMu.Unlock()
	if s := n.serving.Load(); s != nil {
		s.frontends.Stop()
		phase("frontends")
	}
	if n.manager != nil {
		n.manager.Stop()
		phase("partition actors")
	}
	n.queryCache.Stop()
	if n.results != nil {
		_ = n.results.Close()
	}
	if n.outbox != nil {
		n.outbox.Close()
	}
	if n.gossip != nil {
		if n.drained.Load() {
			if err := n.gossip.Leave(5 * time.Second); err != nil {
				errs = append(errs, fmt.Errorf("leave gossip: %w", err))
			}
			phase("leave gossip")
		}
		if err := n.gossip.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop gossip: %w", err))
		}
		phase("gossip")
	}
	if n.group != nil {
		if err := n.group.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop raft: %w", err))
		}
		phase("raft")
	}
	if n.remote != nil {
		n.remote.Shutdown(false)
	}
	if n.system != nil {
		n.system.Shutdown()
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close storage: %w", err))
		}
		phase("storage")
	}
	return errors.Join(errs...)
}

// ErrStopped is returned by WaitReady when the node stops first.
var ErrStopped = errors.New("node stopped")
