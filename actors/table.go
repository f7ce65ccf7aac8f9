package actors

import (
	"errors"
	"fmt"
	"sync"

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
}

// Router maps partitions to their primaries' PIDs from the partition table,
// rebuilding its index when the table changes. Safe for concurrent use.
type Router struct {
	table PartitionTable
	addrs NodeAddresses

	mu      sync.Mutex
	changed <-chan struct{}
	routes  map[starlingpb.Signal][]route
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
			return
		}
	}
	r.changed = r.table.Changed()
	routes := make(map[starlingpb.Signal][]route)
	for _, p := range r.table.Partitions() {
		rs := routes[p.Signal]
		for int(p.Id) >= len(rs) {
			rs = append(rs, route{})
		}
		if addr, ok := r.addrs.ActorAddress(p.Primary); ok {
			rs[p.Id] = route{pid: actor.NewPID(addr, PartitionName(p.Signal, p.Id)), epoch: p.Epoch}
		}
		routes[p.Signal] = rs
	}
	r.routes = routes
}
