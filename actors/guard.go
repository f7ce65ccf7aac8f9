package actors

import (
	"sync"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// PartitionGuard keeps a node from dropping a partition's data while a
// snapshot of it is being received (the node may be a learner its table
// does not show yet), and from receiving it or running its actor while it
// is being dropped. The dropper, the handoff actor and the partition
// manager share one; calls may overlap.
type PartitionGuard struct {
	mu        sync.Mutex
	dropping  map[partKey]bool
	receiving map[partKey]int
}

// NewPartitionGuard returns a guard with nothing dropped or received.
func NewPartitionGuard() *PartitionGuard {
	return &PartitionGuard{dropping: map[partKey]bool{}, receiving: map[partKey]int{}}
}

// BeginReceive registers a snapshot of partition p being received; false
// when p is being dropped (the sender tries again later). A nil guard
// always agrees.
func (g *PartitionGuard) BeginReceive(sig starlingpb.Signal, p uint32) bool {
	if g == nil {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	k := partKey{sig, p}
	if g.dropping[k] {
		return false
	}
	g.receiving[k]++
	return true
}

// EndReceive ends what BeginReceive began.
func (g *PartitionGuard) EndReceive(sig starlingpb.Signal, p uint32) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	k := partKey{sig, p}
	if g.receiving[k]--; g.receiving[k] <= 0 {
		delete(g.receiving, k)
	}
}

// BeginDrop marks the partitions of ps that are not being received as
// being dropped and returns them.
func (g *PartitionGuard) BeginDrop(sig starlingpb.Signal, ps []uint32) []uint32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []uint32
	for _, p := range ps {
		k := partKey{sig, p}
		if g.receiving[k] == 0 && !g.dropping[k] {
			g.dropping[k] = true
			out = append(out, p)
		}
	}
	return out
}

// EndDrop ends what BeginDrop began.
func (g *PartitionGuard) EndDrop(sig starlingpb.Signal, ps []uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range ps {
		delete(g.dropping, partKey{sig, p})
	}
}

// Dropping reports whether partition p is being dropped; false for a nil
// guard.
func (g *PartitionGuard) Dropping(sig starlingpb.Signal, p uint32) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.dropping[partKey{sig, p}]
}
