package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/raftmeta"
)

// maxRemoteMessage bounds one gRPC message of the actor remote. The remote
// packs up to remoteBatch actor messages into one; a write batch can be as
// large as an OTLP request, read chunks are at most 1 MiB.
const (
	maxRemoteMessage = 256 << 20
	remoteBatch      = 64
	// outboxQueue bounds the messages queued for one other node.
	outboxQueue = 16 << 10
)

// advertiseHost is the host other nodes reach this node at: Advertise,
// else Bind, else the first private (or any non-loopback) IPv4 address.
func (c Config) advertiseHost() (string, error) {
	switch {
	case c.Advertise != "":
		return c.Advertise, nil
	case c.Bind != "" && !net.ParseIP(c.Bind).IsUnspecified():
		return c.Bind, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("find an address to advertise: %w", err)
	}
	var fallback string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil || ipn.IP.IsLoopback() {
			continue
		}
		if ipn.IP.IsPrivate() {
			return ipn.IP.String(), nil
		}
		if fallback == "" {
			fallback = ipn.IP.String()
		}
	}
	if fallback == "" {
		return "127.0.0.1", nil
	}
	return fallback, nil
}

// startRemote makes the actor system reachable from other nodes on
// ActorPort with the settings protoactor needs here (see
// shared/notes/protoactor.md): a receive limit above the largest batch,
// small initial queues, explicit insecure credentials.
func (n *Node) startRemote(host string) (err error) {
	bind := n.cfg.Bind
	if bind == "" {
		bind = "0.0.0.0"
	}
	// Remote.Start panics when it cannot listen: find out first.
	probe, err := net.Listen("tcp", net.JoinHostPort(bind, strconv.Itoa(n.cfg.ActorPort)))
	if err != nil {
		return fmt.Errorf("listen for the actor remote: %w", err)
	}
	port := n.cfg.ActorPort
	if port == 0 {
		port = probe.Addr().(*net.TCPAddr).Port
	}
	_ = probe.Close()
	opts := []remote.ConfigOption{
		remote.WithAdvertisedHost(net.JoinHostPort(host, strconv.Itoa(port))),
		remote.WithServerOptions(grpc.MaxRecvMsgSize(maxRemoteMessage)),
		remote.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(maxRemoteMessage))),
		remote.WithEndpointWriterBatchSize(remoteBatch),
		remote.WithEndpointWriterQueueSize(4096),
		remote.WithEndpointManagerQueueSize(4096),
	}
	rcfg := remote.Configure(bind, port, opts...)
	// The remote retries a connection 5 times, 2 s apart, on the sender's
	// goroutine: once is enough, Starling retries at its own layers.
	rcfg.MaxRetryCount = 1
	n.remote = remote.NewRemote(n.system, rcfg)
	defer func() {
		if r := recover(); r != nil {
			n.remote = nil
			err = fmt.Errorf("start the actor remote on %s:%d: %v", bind, port, r)
		}
	}()
	n.remote.Start()
	return nil
}

// startCluster opens this node's Raft member, starts gossip with the
// node's addresses, and lets the Raft member follow gossip.
func (n *Node) startCluster(host string) error {
	id := n.settings.NodeID
	hostPort := func(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	bind := n.cfg.Bind
	if bind == "" {
		bind = "0.0.0.0"
	}
	rc := n.cfg.Raft
	rc.NodeID, rc.Dir = id, raftDir(n.cfg.DataDir)
	rc.Bind = net.JoinHostPort(bind, strconv.Itoa(n.cfg.RaftPort))
	if n.cfg.RaftPort != 0 { // port 0 (tests): the bound address is advertised
		rc.Advertise = hostPort(n.cfg.RaftPort)
	}
	rc.BootstrapExpect, rc.DeadNodeTimeout = n.cfg.BootstrapExpect, n.cfg.DeadNodeTimeout
	rc.MaxConcurrentMigrations = n.cfg.MaxConcurrentMigrations
	rc.RebalanceThreshold, rc.RebalanceMinBytes = n.cfg.RebalanceThreshold, uint64(n.cfg.RebalanceMinBytes)
	rf, minInSync := n.cfg.replication()
	rc.Settings = &starlingpb.ClusterSettings{
		Partitions: uint32(n.cfg.Partitions), ReplicationFactor: uint32(rf),
		MinInSync: uint32(minInSync), WindowSeconds: int64(n.cfg.Window / time.Second),
	}
	rc.LogOutput = libraryLog(n.log.With("component", "raft"))
	rc.Logger = n.log.With("component", "raft")
	var err error
	if n.group, err = raftmeta.Open(rc); err != nil {
		return err
	}

	gc := n.cfg.Gossip
	gc.Bind, gc.BindPort = bind, n.cfg.GossipPort
	gc.Advertise, gc.AdvertisePort = host, n.cfg.GossipPort
	gc.Join, gc.Key = n.cfg.Join, n.cfg.GossipKey
	gc.PeersFile = filepath.Join(n.cfg.DataDir, "peers.json")
	gc.LogOutput = libraryLog(n.log.With("component", "gossip"))
	gc.Logger = n.log.With("component", "gossip")
	meta := &starlingpb.NodeMeta{
		Id: id, Zone: n.cfg.Zone, Region: n.cfg.Region,
		ActorAddr: n.system.Address(), RaftAddr: n.group.Addr(),
		HttpAddr: hostPort(n.apiLn.Addr().(*net.TCPAddr).Port), OtlpGrpcAddr: hostPort(n.grpcLn.Addr().(*net.TCPAddr).Port),
		OtlpHttpAddr: hostPort(n.otlpLn.Addr().(*net.TCPAddr).Port), StartedUnixNano: time.Now().UnixNano(),
	}
	if n.gossip, err = cluster.StartMembership(gc, meta); err != nil {
		return err
	}
	n.group.Start(n.gossip)
	return nil
}

// awaitCluster waits until the Raft FSM holds the cluster settings, checks
// them against this node's data directory, and then starts the frontends
// and the querier: from then on the node takes writes and queries.
func (n *Node) awaitCluster() {
	fsm := n.group.FSM()
	for {
		changed := fsm.Changed()
		if st := fsm.State(); st.Initialised() {
			if err := n.startServing(st.Settings); err != nil {
				n.log.Error("cannot serve in this cluster", "err", err)
				select {
				case n.errs <- err:
				default:
				}
			}
			return
		}
		select {
		case <-changed:
		case <-n.quit:
			return
		}
	}
}

// errSettings is returned when the cluster's fixed settings differ from
// the ones this node's data directory was created with.
var errSettings = errors.New("cluster settings differ from this node's data dir")

func (n *Node) checkClusterSettings(s *starlingpb.ClusterSettings) error {
	if int(s.Partitions) != n.settings.Partitions || s.WindowSeconds != n.settings.WindowSeconds {
		return fmt.Errorf("%w: the cluster has %d partitions and %s windows, the data dir %s has %d and %s; start this node with an empty data dir and the cluster's --partitions and --window",
			errSettings, s.Partitions, time.Duration(s.WindowSeconds)*time.Second, n.cfg.DataDir,
			n.settings.Partitions, time.Duration(n.settings.WindowSeconds)*time.Second)
	}
	return nil
}

// libraryLog turns hashicorp libraries' log lines ("[WARN] raft: …",
// "2026/… [DEBUG] memberlist: …") into slog records at their level.
func libraryLog(l *slog.Logger) *lineLogger { return &lineLogger{log: l} }

// actorLogger is the slog logger of the actor system: protoactor logs every
// actor start at info, so only warnings and errors pass, and the info line
// of an actor that failed (it panicked and its supervisor restarts it),
// raised to error.
func actorLogger(l *slog.Logger) func(*actor.ActorSystem) *slog.Logger {
	al := slog.New(actorFailures{l.Handler()}).With("component", "actor")
	return func(*actor.ActorSystem) *slog.Logger { return al }
}

type actorFailures struct{ slog.Handler }

func (h actorFailures) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo && h.Handler.Enabled(ctx, slog.LevelError)
}

func (h actorFailures) Handle(ctx context.Context, r slog.Record) error {
	switch {
	case r.Level >= slog.LevelWarn:
	case strings.Contains(r.Message, "Recovering"):
		r.Level = slog.LevelError
	default:
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h actorFailures) WithAttrs(as []slog.Attr) slog.Handler {
	return actorFailures{h.Handler.WithAttrs(as)}
}

func (h actorFailures) WithGroup(name string) slog.Handler {
	return actorFailures{h.Handler.WithGroup(name)}
}
