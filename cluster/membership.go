package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// ProtocolVersion is the cluster protocol this build speaks: the messages
// between nodes (actor messages, Raft commands, gossip metadata). A node
// accepts peers whose protocol lies in [MinProtocolVersion,
// ProtocolVersion] and refuses the others. Version 2 added replicated write
// batches and Raft proposals through the leader's meta actor; 3 the
// partition handoff messages.
const (
	ProtocolVersion    = 3
	MinProtocolVersion = 3
)

var (
	// ErrIncompatible is returned for a peer whose protocol version this
	// node cannot speak.
	ErrIncompatible = errors.New("incompatible cluster protocol version")
	// ErrBadMeta is returned for gossip metadata that does not decode.
	ErrBadMeta = errors.New("bad node metadata")
	// ErrNoPeers is returned when no join address answered.
	ErrNoPeers = errors.New("no peer could be joined")
)

// MembershipConfig configures gossip.
type MembershipConfig struct {
	// Bind is the address gossip listens on (TCP and UDP); BindPort 0
	// picks a free port.
	Bind     string
	BindPort int
	// Advertise is the address peers use to reach this node ("" derives
	// it from Bind).
	Advertise     string
	AdvertisePort int
	// Join lists seed peers: "host:port" (a name resolves to all its A
	// records), "dns+host:port" (A/AAAA lookup) or "dnssrv+name" (SRV
	// lookup, e.g. a Kubernetes headless service).
	Join []string
	// RetryJoinInterval is how often an unanswered join is retried, in the
	// background, until one peer answers.
	RetryJoinInterval time.Duration
	// PeersFile, when set, remembers the gossip addresses of live peers
	// across restarts: a restarted node joins them as well as Join, so a
	// seed node restarted with only itself to join finds its cluster again.
	PeersFile string
	// Key, when set, encrypts gossip (16, 24 or 32 bytes, AES).
	Key []byte
	// LAN selects memberlist's LAN timings; false selects its local
	// (loopback) timings, which detect failures faster.
	LAN bool
	// LogOutput receives memberlist's log lines ("[DEBUG] memberlist: …").
	LogOutput io.Writer
	// Logger receives Starling's own membership log lines (nil: none).
	Logger *slog.Logger
}

// DefaultMembershipConfig gossips on port 7946 of every interface.
func DefaultMembershipConfig() MembershipConfig {
	return MembershipConfig{BindPort: 7946, RetryJoinInterval: 2 * time.Second, LAN: true}
}

// LocalMembershipConfig is gossip on a free loopback port with fast
// failure detection, for tests.
func LocalMembershipConfig(bind string) MembershipConfig {
	return MembershipConfig{Bind: bind, RetryJoinInterval: 100 * time.Millisecond}
}

// Validate reports the first invalid field.
func (c MembershipConfig) Validate() error {
	switch {
	case c.BindPort < 0 || c.BindPort > 65535:
		return fmt.Errorf("gossip port: %d is not a port", c.BindPort)
	case c.AdvertisePort < 0 || c.AdvertisePort > 65535:
		return fmt.Errorf("gossip advertise port: %d is not a port", c.AdvertisePort)
	case c.RetryJoinInterval <= 0:
		return fmt.Errorf("retry join interval: %s must be positive", c.RetryJoinInterval)
	}
	switch len(c.Key) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("gossip key: %d bytes, want 16, 24 or 32", len(c.Key))
	}
	for _, j := range c.Join {
		if strings.TrimSpace(j) == "" {
			return errors.New("join: empty address")
		}
	}
	return nil
}

// MemberInfo is one node as this node sees it in gossip.
type MemberInfo struct {
	Meta *starlingpb.NodeMeta
	// GossipAddr is host:port of the node's memberlist.
	GossipAddr string
	State      starlingpb.NodeState
	// Since is when the node entered State (as seen here).
	Since time.Time
}

// Membership is this node's view of the cluster through gossip. It
// remembers nodes that died or left until Forget, so that the Raft leader
// can time out dead voters. Safe for concurrent use.
type Membership struct {
	cfg  MembershipConfig
	list *memberlist.Memberlist
	log  *slog.Logger

	mu      sync.Mutex
	meta    *starlingpb.NodeMeta // this node's, as gossiped
	members map[string]*MemberInfo
	changed chan struct{}

	stop       chan struct{}
	joinDone   chan struct{}
	saveDone   chan struct{}
	remembered []string // peers read from PeersFile at start
}

// StartMembership starts gossip with meta as this node's metadata and joins
// the configured peers in the background.
func StartMembership(cfg MembershipConfig, meta *starlingpb.NodeMeta) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if meta.GetId() == "" {
		return nil, errors.New("start membership: node id must be set")
	}
	meta = proto.CloneOf(meta)
	meta.Protocol = ProtocolVersion
	if b, err := proto.Marshal(meta); err != nil || len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("start membership: node metadata is %d bytes (max %d): %v", len(b), memberlist.MetaMaxSize, err)
	}
	m := &Membership{
		cfg: cfg, log: cfg.Logger, meta: meta,
		members: map[string]*MemberInfo{}, changed: make(chan struct{}),
		stop: make(chan struct{}), joinDone: make(chan struct{}),
		saveDone: make(chan struct{}),
	}
	if cfg.PeersFile != "" {
		var err error
		if m.remembered, err = loadPeers(cfg.PeersFile); err != nil {
			return nil, err
		}
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	mc := memberlist.DefaultLocalConfig()
	if cfg.LAN {
		mc = memberlist.DefaultLANConfig()
	} else {
		mc.ProbeInterval = 400 * time.Millisecond
		mc.ProbeTimeout = 200 * time.Millisecond
		mc.SuspicionMult = 3
		mc.GossipInterval = 50 * time.Millisecond
		mc.PushPullInterval = 5 * time.Second
	}
	// A node restarted at a new address (a pod's new IP, a free port in
	// tests) takes its name back once it has been dead this long.
	mc.DeadNodeReclaimTime = 10 * time.Second
	if !cfg.LAN {
		mc.DeadNodeReclaimTime = 500 * time.Millisecond
	}
	mc.Name = meta.Id
	mc.BindAddr, mc.BindPort = cfg.Bind, cfg.BindPort
	if mc.BindAddr == "" {
		mc.BindAddr = "0.0.0.0"
	}
	mc.AdvertiseAddr, mc.AdvertisePort = cfg.Advertise, cfg.AdvertisePort
	if mc.AdvertisePort == 0 {
		mc.AdvertisePort = cfg.BindPort
	}
	mc.SecretKey = cfg.Key
	mc.Delegate = (*delegate)(m)
	mc.Events = (*events)(m)
	mc.Alive = (*gate)(m)
	mc.Merge = (*gate)(m)
	out := cfg.LogOutput
	if out == nil {
		out = io.Discard
	}
	mc.Logger = log.New(out, "", 0)
	list, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s:%d: %w", mc.BindAddr, cfg.BindPort, err)
	}
	m.list = list
	go m.joinLoop()
	go m.savePeersLoop()
	return m, nil
}

// GossipAddr is host:port peers reach this node's gossip at.
func (m *Membership) GossipAddr() string {
	n := m.list.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Joined is closed once this node has joined at least one peer (at once
// when there is nothing to join).
func (m *Membership) Joined() <-chan struct{} { return m.joinDone }

// joinLoop joins the configured peers, retrying until one answers or the
// membership stops. Retries start at 50 ms and back off to
// RetryJoinInterval, so nodes started together find each other quickly.
func (m *Membership) joinLoop() {
	defer close(m.joinDone)
	if len(m.cfg.Join) == 0 && len(m.remembered) == 0 {
		return
	}
	wait := min(50*time.Millisecond, m.cfg.RetryJoinInterval)
	for attempt := 1; ; attempt++ {
		n, err := m.join(context.Background())
		if err == nil {
			m.log.Info("joined cluster", "contacted", n, "members", m.list.NumMembers())
			return
		}
		if attempt == 5 || attempt%30 == 0 {
			m.log.Warn("join failed, retrying", "attempt", attempt, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-m.stop:
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, m.cfg.RetryJoinInterval)
	}
}

func (m *Membership) join(ctx context.Context) (int, error) {
	addrs, err := ResolveJoin(ctx, net.DefaultResolver, append(slices.Clone(m.cfg.Join), m.remembered...))
	if len(addrs) == 0 {
		return 0, errors.Join(ErrNoPeers, err)
	}
	self := m.GossipAddr()
	addrs = slices.DeleteFunc(addrs, func(a string) bool { return a == self })
	if len(addrs) == 0 {
		return 0, nil // we are the only seed
	}
	n, jerr := m.list.Join(addrs)
	if n == 0 {
		return 0, errors.Join(ErrNoPeers, jerr, err)
	}
	return n, nil
}

// Join contacts nodes at gossip addresses (host:port) and returns how many
// answered.
func (m *Membership) Join(addrs []string) (int, error) {
	n, err := m.list.Join(addrs)
	if n == 0 {
		return 0, errors.Join(ErrNoPeers, err)
	}
	return n, nil
}

// Resolver is the part of *net.Resolver that join addresses need.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// ResolveJoin expands join addresses: "dns+host:port" into one address per
// A/AAAA record, "dnssrv+name" into one per SRV record; other addresses
// pass through (memberlist resolves their names itself). Errors of single
// lookups are returned joined, next to whatever did resolve.
func ResolveJoin(ctx context.Context, r Resolver, join []string) ([]string, error) {
	var out []string
	var errs []error
	for _, j := range join {
		switch {
		case strings.HasPrefix(j, "dns+"):
			host, port, err := net.SplitHostPort(strings.TrimPrefix(j, "dns+"))
			if err != nil {
				errs = append(errs, fmt.Errorf("join %q: %w", j, err))
				continue
			}
			ips, err := r.LookupHost(ctx, host)
			if err != nil {
				errs = append(errs, fmt.Errorf("join %q: %w", j, err))
			}
			for _, ip := range ips {
				out = append(out, net.JoinHostPort(ip, port))
			}
		case strings.HasPrefix(j, "dnssrv+"):
			_, srvs, err := r.LookupSRV(ctx, "", "", strings.TrimPrefix(j, "dnssrv+"))
			if err != nil {
				errs = append(errs, fmt.Errorf("join %q: %w", j, err))
			}
			for _, s := range srvs {
				out = append(out, net.JoinHostPort(strings.TrimSuffix(s.Target, "."), strconv.Itoa(int(s.Port))))
			}
		default:
			out = append(out, j)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), errors.Join(errs...)
}

// Local is this node's metadata as gossiped (a copy).
func (m *Membership) Local() *starlingpb.NodeMeta {
	m.mu.Lock()
	defer m.mu.Unlock()
	return proto.CloneOf(m.meta)
}

// UpdateLocal changes this node's metadata and gossips it, waiting up to
// timeout for the broadcast.
func (m *Membership) UpdateLocal(timeout time.Duration, update func(*starlingpb.NodeMeta)) error {
	m.mu.Lock()
	meta := proto.CloneOf(m.meta)
	update(meta)
	meta.Protocol, meta.Id = ProtocolVersion, m.meta.Id
	m.meta = meta
	m.mu.Unlock()
	return m.list.UpdateNode(timeout)
}

// Members returns every node seen, alive or not, sorted by id.
func (m *Membership) Members() []MemberInfo {
	// memberlist calls the event delegate (which takes m.mu) with its own
	// node lock held: never call into memberlist while holding m.mu.
	// (Suspicion is not reported: memberlist keeps it to itself.)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MemberInfo, 0, len(m.members))
	for _, mi := range m.members {
		out = append(out, *mi)
	}
	slices.SortFunc(out, func(a, b MemberInfo) int { return strings.Compare(a.Meta.Id, b.Meta.Id) })
	return out
}

// Alive returns the metadata of nodes currently alive (or suspect), this
// node included, sorted by id.
func (m *Membership) Alive() []*starlingpb.NodeMeta {
	var out []*starlingpb.NodeMeta
	for _, mi := range m.Members() {
		if mi.State == starlingpb.NodeState_NODE_STATE_ALIVE || mi.State == starlingpb.NodeState_NODE_STATE_SUSPECT {
			out = append(out, mi.Meta)
		}
	}
	return out
}

// Changed returns a channel closed at the first membership change after
// the call.
func (m *Membership) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// Forget drops a dead or departed node from the remembered members.
func (m *Membership) Forget(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mi := m.members[id]; mi != nil && mi.State != starlingpb.NodeState_NODE_STATE_ALIVE {
		delete(m.members, id)
		m.notifyLocked()
	}
}

// ActorAddress returns the actor remote address of a live node
// (actors.NodeAddresses).
func (m *Membership) ActorAddress(id string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mi := m.members[id]
	if mi == nil || mi.State != starlingpb.NodeState_NODE_STATE_ALIVE || mi.Meta.ActorAddr == "" {
		return "", false
	}
	return mi.Meta.ActorAddr, true
}

// Zone returns the zone a node gossips ("" when unknown or unset)
// (actors.NodeZones).
func (m *Membership) Zone(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mi := m.members[id]; mi != nil {
		return mi.Meta.Zone
	}
	return ""
}

// Leave announces departure and waits up to timeout for it to spread.
// Peers record the node as left, not dead: memberlist's leave event does
// not say which, so the node first gossips that it is leaving.
func (m *Membership) Leave(timeout time.Duration) error {
	if err := m.UpdateLocal(timeout, func(meta *starlingpb.NodeMeta) { meta.Leaving = true }); err != nil {
		return fmt.Errorf("announce leave: %w", err)
	}
	// Gossip may not have carried the flag to every peer yet (UDP, random
	// peers, a loaded machine): a push/pull with each over TCP does, so a
	// peer that learns of the departure from its failure detector before
	// the leave message still records the node as left.
	var peers []string
	self := m.list.LocalNode().Name
	for _, n := range m.list.Members() {
		if n.Name != self {
			peers = append(peers, n.Address())
		}
	}
	if len(peers) > 0 {
		if reached, err := m.list.Join(peers); err != nil {
			m.log.Warn("leave: push/pull with peers", "reached", reached, "of", len(peers), "err", err)
		}
	}
	return m.list.Leave(timeout)
}

// Stop stops gossip at once (peers will see this node die unless it left
// first).
func (m *Membership) Stop() error {
	select {
	case <-m.stop:
		return nil
	default:
		close(m.stop)
	}
	<-m.joinDone
	<-m.saveDone
	return m.list.Shutdown()
}

func (m *Membership) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// set records a node in state st; called from memberlist's event delegate.
func (m *Membership) set(n *memberlist.Node, st starlingpb.NodeState) {
	meta, err := DecodeMeta(n.Meta)
	if err != nil {
		m.log.Warn("ignoring node with bad metadata", "node", n.Name, "err", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	mi := m.members[n.Name]
	if mi == nil {
		mi = &MemberInfo{}
		m.members[n.Name] = mi
	}
	if mi.State != st {
		mi.Since = time.Now()
	}
	mi.Meta, mi.State = meta, st
	mi.GossipAddr = net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	m.notifyLocked()
}

// DecodeMeta decodes gossip metadata and checks its protocol version.
func DecodeMeta(b []byte) (*starlingpb.NodeMeta, error) {
	meta := &starlingpb.NodeMeta{}
	if err := proto.Unmarshal(b, meta); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMeta, err)
	}
	if meta.Id == "" {
		return nil, fmt.Errorf("%w: node id missing", ErrBadMeta)
	}
	if meta.Protocol < MinProtocolVersion || meta.Protocol > ProtocolVersion {
		return nil, fmt.Errorf("%w: node %s speaks %d, this node %d..%d", ErrIncompatible, meta.Id, meta.Protocol, MinProtocolVersion, ProtocolVersion)
	}
	return meta, nil
}

// delegate hands memberlist this node's metadata. Starling gossips no
// user messages or state of its own.
type delegate Membership

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, err := proto.Marshal(d.meta)
	if err != nil || len(b) > limit {
		panic(fmt.Sprintf("BUG: node metadata of %d bytes (limit %d): %v", len(b), limit, err))
	}
	return b
}
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

// events follows joins, leaves and metadata updates.
type events Membership

func (e *events) NotifyJoin(n *memberlist.Node) {
	(*Membership)(e).set(n, starlingpb.NodeState_NODE_STATE_ALIVE)
}
func (e *events) NotifyUpdate(n *memberlist.Node) {
	(*Membership)(e).set(n, starlingpb.NodeState_NODE_STATE_ALIVE)
}
func (e *events) NotifyLeave(n *memberlist.Node) {
	st := starlingpb.NodeState_NODE_STATE_DEAD
	// A node that drained (it gossiped that long before) or announced its
	// leave has left; the leave message can overtake the leaving flag.
	if meta, err := DecodeMeta(n.Meta); err == nil && (meta.Leaving || meta.Draining) {
		st = starlingpb.NodeState_NODE_STATE_LEFT
	}
	(*Membership)(e).set(n, st)
}

// gate refuses peers whose metadata does not decode or whose protocol is
// incompatible, both when they gossip that they are alive and when a
// join merges their member lists: such a node never becomes a member.
type gate Membership

func (g *gate) NotifyAlive(n *memberlist.Node) error { return g.check(n) }

func (g *gate) NotifyMerge(peers []*memberlist.Node) error {
	for _, n := range peers {
		if err := g.check(n); err != nil {
			return err
		}
	}
	return nil
}

func (g *gate) check(n *memberlist.Node) error {
	if _, err := DecodeMeta(n.Meta); err != nil {
		g.log.Warn("refusing node", "node", n.Name, "addr", net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))), "err", err)
		return fmt.Errorf("refuse node %s: %w", n.Name, err)
	}
	return nil
}
