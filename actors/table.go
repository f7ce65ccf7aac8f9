package actors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// PartitionTable is the placement the node acts on: which node is primary
// and replica of every partition, at which epoch. The Raft FSM
// (raftmeta.FSM) implements it; tests use a table they can change.
type PartitionTable interface {
	// Partitions returns every row of every signal. The rows are shared:
	// callers must not modify them. Safe to call from any goroutine.
	Partitions() []*starlingpb.Partition
	// Changed returns a channel that is closed at the first change after
	// the call. Safe to call from any goroutine.
	Changed() <-chan struct{}
}

// NodeAddresses resolves a node id to the address of its actor system.
type NodeAddresses interface {
	// ActorAddress returns host:port of the node's actor remote, or false
	// when the node is unknown. Safe to call from any goroutine.
	ActorAddress(nodeID string) (string, bool)
}

// ErrNoRoute is returned when a partition has no primary that can be
// reached.
var ErrNoRoute = errors.New("no primary for partition")

// PartitionName is the name of a partition actor: its PID id is
// "partition/<signal>/<id>".
func PartitionName(sig starlingpb.Signal, id uint32) string {
	return fmt.Sprintf("%s/%s/%04d", managerName, storage.SignalName(sig), id)
}

// managerName is the name of the partition manager; partition actors are
// its children.
const managerName = "partition"

type route struct {
	pid   *actor.PID
	epoch uint64
	read  *actor.PID // the nearest in-sync copy: this node's, one in its zone, or the primary
}

// NodeZones is implemented by NodeAddresses that know nodes' zones; the
// router then reads from an in-sync copy in the local zone before one
// elsewhere. Safe to call from any goroutine.
type NodeZones interface {
	Zone(nodeID string) string
}

// Router maps partitions to their primaries' PIDs from the partition table,
// rebuilding its index when the table changes. Safe for concurrent use.
type Router struct {
	table PartitionTable
	addrs NodeAddresses

	local string // this node's id ("": reads go to primaries)

	mu       sync.Mutex
	changed  <-chan struct{}
	routes   map[starlingpb.Signal][]route
	versions map[starlingpb.Signal]uint64 // TableVersion
	nodes    []string                     // every node the table names, sorted
	// unresolved is set when a primary of the table had no address yet
	// (gossip had not told of it, or it is gone): the routes are built
	// again, at most every unresolvedRetry, until every primary resolves,
	// not only when the table changes.
	unresolved bool
	built      time.Time
}

// unresolvedRetry spaces the rebuilds of a router whose table names a
// primary without an address.
const unresolvedRetry = 50 * time.Millisecond

// ReadLocal makes reads go to the nearest in-sync copy as seen from node
// local: its own, else one in its zone, else the primary. Call before use.
func (r *Router) ReadLocal(local string) { r.local = local }

// Reader returns the PID of the copy of partition id of sig that queries
// should read: the nearest in-sync copy (every in-sync copy holds every
// acknowledged write), the primary when there is none nearer.
func (r *Router) Reader(sig starlingpb.Signal, id uint32) (*actor.PID, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshLocked()
	rs := r.routes[sig]
	switch {
	case int(id) >= len(rs):
	case rs[id].read != nil:
		return rs[id].read, rs[id].epoch, nil
	case rs[id].pid != nil:
		return rs[id].pid, rs[id].epoch, nil
	}
	return nil, 0, fmt.Errorf("%s partition %d: %w", storage.SignalName(sig), id, ErrNoRoute)
}

// nearest picks the in-sync copy of p to read: this node's, else the
// first in this node's zone; "" for the primary.
func (r *Router) nearest(p *starlingpb.Partition) string {
	if r.local == "" {
		return ""
	}
	if slices.Contains(p.InSync, r.local) {
		return r.local
	}
	zones, ok := r.addrs.(NodeZones)
	if !ok {
		return ""
	}
	zone := zones.Zone(r.local)
	if zone == "" || zones.Zone(p.Primary) == zone {
		return ""
	}
	for _, id := range p.InSync {
		if zones.Zone(id) == zone {
			return id
		}
	}
	return ""
}

// NewRouter returns a router over table.
func NewRouter(table PartitionTable, addrs NodeAddresses) *Router {
	return &Router{table: table, addrs: addrs}
}

// Primary returns the PID of the primary of partition id of sig and the
// epoch the table knows.
func (r *Router) Primary(sig starlingpb.Signal, id uint32) (*actor.PID, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshLocked()
	rs := r.routes[sig]
	if int(id) >= len(rs) || rs[id].pid == nil {
		return nil, 0, fmt.Errorf("%s partition %d: %w", storage.SignalName(sig), id, ErrNoRoute)
	}
	return rs[id].pid, rs[id].epoch, nil
}

// Partitions returns the number of partitions of sig in the table.
func (r *Router) Partitions(sig starlingpb.Signal) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshLocked()
	return len(r.routes[sig])
}

func (r *Router) refreshLocked() {
	if r.changed != nil {
		select {
		case <-r.changed:
		default:
			if !r.unresolved || time.Since(r.built) < unresolvedRetry {
				return
			}
		}
	}
	r.changed, r.built = r.table.Changed(), time.Now()
	routes := make(map[starlingpb.Signal][]route)
	versions := make(map[starlingpb.Signal]uint64)
	var nodes []string
	unresolved := false
	for _, p := range r.table.Partitions() {
		h := fnv.New64a()
		_ = binary.Write(h, binary.LittleEndian, [3]uint64{versions[p.Signal], uint64(p.Id), p.Epoch})
		h.Write([]byte(p.Primary))
		versions[p.Signal] = h.Sum64()
		nodes = append(append(nodes, p.Primary), p.Replicas...)
		rs := routes[p.Signal]
		for int(p.Id) >= len(rs) {
			rs = append(rs, route{})
		}
		if addr, ok := r.addrs.ActorAddress(p.Primary); ok {
			rs[p.Id] = route{pid: actor.NewPID(addr, PartitionName(p.Signal, p.Id)), epoch: p.Epoch}
		} else if p.Primary != "" {
			unresolved = true
		}
		if near := r.nearest(p); near != "" && near != p.Primary {
			if addr, ok := r.addrs.ActorAddress(near); ok {
				rs[p.Id].read, rs[p.Id].epoch = actor.NewPID(addr, PartitionName(p.Signal, p.Id)), p.Epoch
			}
		}
		routes[p.Signal] = rs
	}
	slices.Sort(nodes)
	r.routes, r.versions, r.nodes, r.unresolved = routes, versions, slices.Compact(nodes), unresolved
}

// TableVersion returns a fingerprint of sig's rows (partition, epoch,
// primary): it changes with every move, failover and epoch change, so a
// cache of query answers can key its entries by it.
func (r *Router) TableVersion(sig starlingpb.Signal) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshLocked()
	return r.versions[sig]
}

// Nodes returns the ids of every node the table names, sorted. The slice
// is shared: callers must not modify it.
func (r *Router) Nodes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshLocked()
	return r.nodes
}
