package raftmeta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/proto/starlingpb"
)

var (
	// ErrNotLeader is returned by Propose on a node that is not the leader.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("raft group closed")
	// ErrOldRaftLog is returned for a data dir whose Raft log an older
	// Starling wrote with raft-wal (remove its raft directory to rejoin
	// as a new node).
	ErrOldRaftLog = errors.New("raft log format no longer supported")
)

// Config configures this node's member of the Raft group.
type Config struct {
	// NodeID is the Raft server id (the node id).
	NodeID string
	// Dir holds the Raft log and stable store (raft.db) and snapshots.
	Dir string
	// Bind is host:port Raft listens on; port 0 picks a free port.
	Bind string
	// Advertise is host:port peers dial ("" uses the bound address, which
	// must then not be unspecified).
	Advertise string
	// BootstrapExpect is how many members gossip must show before the one
	// with the lowest node id bootstraps the group with them as voters.
	BootstrapExpect int
	// DeadNodeTimeout is how long a node may be dead in gossip before the
	// leader removes it from the Raft configuration (a voter is replaced by
	// a live non-voter).
	DeadNodeTimeout time.Duration
	// ReconcileInterval is how often the leader reconciles gossip with the
	// Raft configuration and the node records even without a change.
	ReconcileInterval time.Duration
	// Raft timings (see hashicorp/raft's Config).
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold and SnapshotInterval decide when the FSM is
	// snapshotted; SnapshotRetain snapshots are kept.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	SnapshotRetain    int
	// Settings are proposed when this node, as the first leader, creates
	// the cluster: partitions, replication factor, min in-sync, window.
	// ClusterId and CreatedAt are filled in then.
	Settings *starlingpb.ClusterSettings
	// Placement tunes the ring used for the first partition assignment
	// and the rebalancer.
	Placement cluster.PlaceConfig
	// MaxConcurrentMigrations bounds the partitions the rebalancer moves
	// at once (0: no rebalancing).
	MaxConcurrentMigrations int
	// RebalanceThreshold is how far the node holding the most bytes may
	// be above the mean (0.2: 20%) before the rebalancer moves copies for
	// size (sizebalance.go); 0 turns size moves off.
	RebalanceThreshold float64
	// RebalanceMinBytes is the mean bytes per node below which nothing
	// moves for size.
	RebalanceMinBytes uint64
	// LogOutput receives hashicorp/raft's log lines.
	LogOutput io.Writer
	// Logger receives the group's own log lines (nil: none).
	Logger *slog.Logger
}

// DefaultConfig is a group member with LAN timings: half of
// hashicorp/raft's defaults, so that a leader is replaced within seconds.
func DefaultConfig(nodeID, dir, bind string) Config {
	rc := raft.DefaultConfig()
	return Config{
		NodeID: nodeID, Dir: dir, Bind: bind,
		BootstrapExpect:         1,
		DeadNodeTimeout:         30 * time.Second,
		ReconcileInterval:       time.Second,
		HeartbeatTimeout:        500 * time.Millisecond,
		ElectionTimeout:         500 * time.Millisecond,
		LeaderLeaseTimeout:      250 * time.Millisecond,
		CommitTimeout:           rc.CommitTimeout,
		SnapshotThreshold:       rc.SnapshotThreshold,
		SnapshotInterval:        rc.SnapshotInterval,
		SnapshotRetain:          2,
		MaxConcurrentMigrations: 3,
		RebalanceThreshold:      0.2,
		RebalanceMinBytes:       256 << 20,
		Placement:               cluster.DefaultPlaceConfig(),
		Settings: &starlingpb.ClusterSettings{
			Partitions: 256, ReplicationFactor: 1, MinInSync: 1, WindowSeconds: 86400,
		},
	}
}

// LocalConfig is a group member with fast timings and small files, for
// tests on loopback.
func LocalConfig(nodeID, dir, bind string) Config {
	c := DefaultConfig(nodeID, dir, bind)
	c.DeadNodeTimeout = 3 * time.Second
	c.ReconcileInterval = 100 * time.Millisecond
	c.RebalanceMinBytes = 0
	c.HeartbeatTimeout, c.ElectionTimeout = 200*time.Millisecond, 200*time.Millisecond
	c.LeaderLeaseTimeout, c.CommitTimeout = 100*time.Millisecond, 5*time.Millisecond
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("raft node id: must be set")
	case c.Dir == "":
		return errors.New("raft dir: must be set")
	case c.BootstrapExpect < 1:
		return fmt.Errorf("bootstrap-expect: %d must be at least 1", c.BootstrapExpect)
	case c.DeadNodeTimeout <= 0 || c.ReconcileInterval <= 0:
		return errors.New("dead-node-timeout and reconcile interval must be positive")
	case c.Settings == nil:
		return errors.New("raft: cluster settings must be set")
	case math.IsNaN(c.RebalanceThreshold) || math.IsInf(c.RebalanceThreshold, 0) || c.RebalanceThreshold < 0:
		return fmt.Errorf("rebalance-threshold: %v, want a finite number ≥ 0 (0: no size moves)", c.RebalanceThreshold)
	}
	if _, _, err := net.SplitHostPort(c.Bind); err != nil {
		return fmt.Errorf("raft bind %q: %w", c.Bind, err)
	}
	if err := validSettings(c.Settings, true); err != nil {
		return err
	}
	return c.Placement.Validate()
}

// Gossip is the membership the group follows: who is alive, with which
// addresses. *cluster.Membership implements it. Its methods are called
// from the group's own goroutines, concurrently.
type Gossip interface {
	Members() []cluster.MemberInfo
	Changed() <-chan struct{}
	UpdateLocal(timeout time.Duration, update func(*starlingpb.NodeMeta)) error
	// Joined is closed once the configured join addresses were tried
	// successfully (at once when there are none): until then gossip may
	// not show the cluster that exists.
	Joined() <-chan struct{}
	// Join contacts nodes at gossip addresses.
	Join(addrs []string) (int, error)
}

// Group is this node's member of the Raft group that holds the cluster's
// metadata: settings, nodes and the partition table (the FSM). Reads are
// local; changes are proposed on the leader.
type Group struct {
	cfg    Config
	log    *slog.Logger
	gossip Gossip

	fsm      *FSM
	raft     *raft.Raft
	trans    *raft.NetworkTransport
	store    *LogStore
	snaps    *raft.FileSnapshotStore
	addr     string
	existing bool          // the directory held Raft state at Open
	member   chan struct{} // closed once this node is part of the group

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Open starts this node's Raft member from its directory and listens for
// Raft traffic. Start then lets it follow gossip: a directory with Raft
// state rejoins as itself; a fresh one waits for gossip to show
// BootstrapExpect members (or for the leader to add it).
func Open(cfg Config) (g *Group, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g = &Group{cfg: cfg, log: cfg.Logger, fsm: NewFSM(), member: make(chan struct{}), stop: make(chan struct{})}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			g.closeStores()
		}
	}()
	out := cfg.LogOutput
	if out == nil {
		out = io.Discard
	}
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Output: out, Level: hclog.Info})
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create raft dir: %w", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "wal")); err == nil {
		return nil, fmt.Errorf("%s holds a raft-wal log of an older Starling, which this one does not read: %w", cfg.Dir, ErrOldRaftLog)
	}
	if g.store, err = OpenLogStore(filepath.Join(cfg.Dir, "raft.db")); err != nil {
		return nil, err
	}
	if g.snaps, err = raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotRetain, hlog); err != nil {
		return nil, fmt.Errorf("open raft snapshots: %w", err)
	}
	var adv net.Addr
	if cfg.Advertise != "" {
		if adv, err = net.ResolveTCPAddr("tcp", cfg.Advertise); err != nil {
			return nil, fmt.Errorf("raft advertise %q: %w", cfg.Advertise, err)
		}
	}
	if g.trans, err = raft.NewTCPTransportWithLogger(cfg.Bind, adv, 3, 10*time.Second, hlog); err != nil {
		return nil, fmt.Errorf("listen for raft on %s: %w", cfg.Bind, err)
	}
	g.addr = string(g.trans.LocalAddr())

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.Logger = hlog
	rc.HeartbeatTimeout, rc.ElectionTimeout = cfg.HeartbeatTimeout, cfg.ElectionTimeout
	rc.LeaderLeaseTimeout, rc.CommitTimeout = cfg.LeaderLeaseTimeout, cfg.CommitTimeout
	rc.SnapshotThreshold, rc.SnapshotInterval = cfg.SnapshotThreshold, cfg.SnapshotInterval
	if g.existing, err = raft.HasExistingState(g.store, g.store, g.snaps); err != nil {
		return nil, fmt.Errorf("read raft state: %w", err)
	}
	if g.raft, err = raft.NewRaft(rc, g.fsm, g.store, g.store, g.snaps, g.trans); err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	return g, nil
}

// Start follows gossip: bootstrap or wait to be added, and do the leader's
// chores while leading. Call it once, after Open.
func (g *Group) Start(gossip Gossip) {
	g.gossip = gossip
	if g.existing {
		g.log.Info("raft state found, rejoining as this node", "dir", g.cfg.Dir)
		g.markMember()
	}
	g.wg.Add(2)
	go g.bootstrapLoop()
	go g.leaderLoop()
}

// Addr is host:port peers reach this node's Raft at.
func (g *Group) Addr() string { return g.addr }

// FSM is the node's local copy of the cluster metadata.
func (g *Group) FSM() *FSM { return g.fsm }

// Member is closed once this node is part of the Raft group (bootstrapped,
// added by the leader, or restarted with state).
func (g *Group) Member() <-chan struct{} { return g.member }

func (g *Group) markMember() {
	select {
	case <-g.member:
		return
	default:
		close(g.member)
	}
	go func() {
		if err := g.gossip.UpdateLocal(5*time.Second, func(m *starlingpb.NodeMeta) { m.RaftMember = true }); err != nil {
			g.log.Warn("gossip raft membership", "err", err)
		}
	}()
}

// Leader returns the leader's node id, or "" when there is none.
func (g *Group) Leader() string {
	_, id := g.raft.LeaderWithID()
	return string(id)
}

// IsLeader reports whether this node leads the group.
func (g *Group) IsLeader() bool { return g.raft.State() == raft.Leader }

// HandOverLeadership makes another voter the leader if this node leads
// (before a graceful leave), and waits until one does or ctx ends.
func (g *Group) HandOverLeadership(ctx context.Context) error {
	voters := 0
	for _, s := range g.servers() {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	for voters > 1 && g.IsLeader() {
		if err := g.raft.LeadershipTransfer().Error(); err != nil {
			g.log.Warn("leadership transfer failed; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hand over raft leadership: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// Propose commits cmd through Raft and applies it; only the leader may
// propose. The FSM's verdict is returned (ErrEpochConflict, …).
func (g *Group) Propose(ctx context.Context, cmd *starlingpb.RaftCommand) error {
	b, err := EncodeCommand(cmd)
	if err != nil {
		return err
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	f := g.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return fmt.Errorf("propose: %w", ErrNotLeader)
		}
		return fmt.Errorf("propose: %w", err)
	}
	if r, ok := f.Response().(*ApplyResult); ok && r.Err != nil {
		return r.Err
	}
	return nil
}

// Server is one member of the Raft configuration.
type Server struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
}

// Info describes the group as this node sees it.
type Info struct {
	NodeID     string   `json:"nodeId"`
	State      string   `json:"state"`
	Leader     string   `json:"leader"`
	LeaderAddr string   `json:"leaderAddr"`
	Voters     []Server `json:"voters"`
	NonVoters  []Server `json:"nonVoters"`
	Term       uint64   `json:"term"`
	LastIndex  uint64   `json:"lastIndex"`
	Applied    uint64   `json:"appliedIndex"`
}

// Info returns the group's leader, configuration and indexes.
func (g *Group) Info() Info {
	addr, id := g.raft.LeaderWithID()
	info := Info{NodeID: g.cfg.NodeID, State: g.raft.State().String(), Leader: string(id), LeaderAddr: string(addr),
		LastIndex: g.raft.LastIndex(), Applied: g.raft.AppliedIndex(), Voters: []Server{}, NonVoters: []Server{}}
	info.Term, _ = strconv.ParseUint(g.raft.Stats()["term"], 10, 64)
	for _, s := range g.servers() {
		sv := Server{ID: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == raft.Voter}
		if sv.Voter {
			info.Voters = append(info.Voters, sv)
		} else {
			info.NonVoters = append(info.NonVoters, sv)
		}
	}
	return info
}

// Role is this node's part in the group as the configuration says:
// "leader", "voter", "nonvoter" or "" (not a member).
func (g *Group) Role(nodeID string) string {
	if g.Leader() == nodeID && nodeID != "" {
		return "leader"
	}
	for _, s := range g.servers() {
		if string(s.ID) == nodeID {
			if s.Suffrage == raft.Voter {
				return "voter"
			}
			return "nonvoter"
		}
	}
	return ""
}

func (g *Group) servers() []raft.Server {
	f := g.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	s := slices.Clone(f.Configuration().Servers)
	slices.SortFunc(s, func(a, b raft.Server) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return s
}

// Close stops the loops and shuts Raft down. A leader does not hand over
// leadership first: the others elect a new one. Safe to call more than once.
func (g *Group) Close() error {
	var err error
	g.once.Do(func() {
		close(g.stop)
		g.wg.Wait()
		if g.raft != nil {
			err = g.raft.Shutdown().Error()
		}
		g.closeStores()
	})
	return err
}

func (g *Group) closeStores() {
	if g.trans != nil {
		_ = g.trans.Close()
	}
	if g.store != nil {
		_ = g.store.Close()
	}
}

// sleep waits d or until the group stops; false means stopped.
func (g *Group) sleep(d time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-g.stop:
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
