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
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/raftmeta"
	"github.com/starling-otel/starling/storage"
)

// Node is one running Starling node.
type Node struct {
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	settings settings

	store     *storage.Store
	system    *actor.ActorSystem
	manager   *actors.Manager
	frontends *actors.Frontends
	querier   *actors.Querier
	metrics   *receiverMetrics

	grpcSrv  *grpc.Server
	grpcLn   net.Listener
	otlpHTTP *http.Server
	otlpLn   net.Listener
	api      *http.Server
	apiLn    net.Listener

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
	return &Node{cfg: cfg, log: cfg.Logger, errs: make(chan error, 4)}, nil
}

// localAddresses resolves the only node of a single-node table.
type localAddresses struct {
	id, addr string
}

func (l localAddresses) ActorAddress(id string) (string, bool) { return l.addr, id == l.id }

// Start opens the data directory and the store, spawns the actors, and
// starts listening. On error everything opened is closed again.
func (n *Node) Start(ctx context.Context) (err error) {
	began := time.Now()
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

	table := raftmeta.NewStaticTable(n.settings.NodeID, n.cfg.Partitions, storage.Signals[:])

	actorLog := slog.New(minLevel{n.log.Handler(), slog.LevelWarn}).With("component", "actor")
	n.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return actorLog }))
	router := actors.NewRouter(table, localAddresses{id: n.settings.NodeID, addr: n.system.Address()})
	am := actors.NewMetrics(n.reg)
	if n.manager, err = actors.StartManager(n.system, actors.ManagerConfig{NodeID: n.settings.NodeID, ReadTimeout: n.cfg.QueryTimeout}, n.store, table, am); err != nil {
		return err
	}
	if err := waitFor(ctx, n.manager.Ready); err != nil {
		return fmt.Errorf("wait for partition actors: %w", err)
	}
	fcfg := actors.FrontendConfig{
		Size: n.cfg.Frontends, Timeout: n.cfg.IngestTimeout, MaxAttempts: 3,
		Builder: storage.BuilderConfig{
			Partitions: n.cfg.Partitions, Window: n.cfg.Window, MaxFuture: n.cfg.MaxFuture,
			Retention: map[starlingpb.Signal]time.Duration{
				starlingpb.Signal_SIGNAL_TRACES:  n.cfg.RetentionTraces,
				starlingpb.Signal_SIGNAL_LOGS:    n.cfg.RetentionLogs,
				starlingpb.Signal_SIGNAL_METRICS: n.cfg.RetentionMetrics,
			},
		},
	}
	seen := storage.NewSeenCache(1 << 20)
	if n.frontends, err = actors.StartFrontends(n.system, fcfg, router, seen, am, n.cfg.Storage.Now); err != nil {
		return err
	}
	n.querier = actors.NewQuerier(n.system, router, n.cfg.QueryTimeout)
	n.metrics = newReceiverMetrics(n.reg)

	if err := n.listen(); err != nil {
		return err
	}
	n.log.Info("node started",
		"otlp_grpc", n.grpcLn.Addr().String(), "otlp_http", n.otlpLn.Addr().String(), "http", n.apiLn.Addr().String(),
		"data_dir", n.cfg.DataDir, "partitions", n.cfg.Partitions, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

func (n *Node) listen() error {
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
	n.grpcSrv = n.newGRPCServer()
	n.otlpHTTP = &http.Server{Handler: n.otlpHTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	n.api = &http.Server{Handler: n.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
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

// Ready reports whether the node serves reads and writes.
func (n *Node) Ready() bool {
	return n.manager != nil && n.manager.Ready() && n.frontends != nil
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
	if n.frontends != nil {
		n.frontends.Stop()
		phase("frontends")
	}
	if n.manager != nil {
		n.manager.Stop()
		phase("partition actors")
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

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
