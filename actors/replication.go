package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// In-sync replication, the primary's side. A primary writes a batch to its
// own store and forwards it to every other member of the partition's
// in-sync set; it acknowledges the sender only when all have acknowledged.
// A replica that does not answer within the replica timeout (or answers
// with an error) is removed from the in-sync set through Raft first; if
// that leaves fewer in-sync copies than min_in_sync, the write is refused
// as retryable instead.

// Proposer changes one partition row through Raft, as a compare-and-set on
// its epoch. The node implements it (forwarding to the Raft leader).
// Partition actors call it from goroutines; calls may overlap.
type Proposer interface {
	UpdatePartition(ctx context.Context, row *starlingpb.Partition, expectedEpoch uint64) error
}

// ErrBelowMinInSync is returned for writes to a partition with fewer
// in-sync copies than the cluster's min_in_sync: retryable, never accepted
// with less durability.
var ErrBelowMinInSync = errors.New("fewer in-sync copies than min_in_sync")

// ReplicationConfig is what partition actors need to replicate.
type ReplicationConfig struct {
	// Timeout is how long a primary waits for a replica's acknowledgement.
	Timeout time.Duration
	// MinInSync returns the cluster's min_in_sync (it is known once the
	// cluster is formed, before any partition actor exists).
	MinInSync func() int
	// Proposer shrinks in-sync sets; nil on a node that cannot (tests of a
	// single node): a lagging replica then fails the write.
	Proposer Proposer
	// Addresses resolves replicas' nodes.
	Addresses NodeAddresses
	// Outbox carries forwarded batches to replicas.
	Outbox *Outbox
	// Handoff streams snapshots to replicas that catch up; a zero
	// ChunkBytes turns catch-up off.
	Handoff HandoffConfig
	// Transfers records the snapshot streams (nil: not recorded).
	Transfers *Transfers
}

// replicatedWrite is a primary's write waiting for its own commit and its
// replicas' acknowledgements.
type replicatedWrite struct {
	sender    *actor.PID
	requestID uint64
	records   uint32
	local     bool            // committed locally
	waiting   map[string]bool // node ids not yet acknowledged
	failed    []string        // node ids that refused or did not answer
	timer     *time.Timer
	shrinking bool
	recheck   error  // the shrink failed: look again when the row changes
	epoch     uint64 // the primary's epoch when the write came in
	stale     bool   // a replica answered from a newer epoch: re-route
	refused   *refusal
}

// Messages a partition actor sends itself.
type (
	localCommitted struct {
		id  uint64
		err error
	}
	replicaDeadline struct{ id uint64 }
	shrinkDone      struct {
		id  uint64
		err error
	}
	recheckExpired struct{ id uint64 }
)

// replicas returns the other members of the in-sync set.
func (a *partition) replicas() []string {
	var out []string
	for _, id := range a.row.GetInSync() {
		if id != a.self {
			out = append(out, id)
		}
	}
	return out
}

// writeReplicated starts a primary's write with replicas to wait for.
func (a *partition) writeReplicated(ctx actor.Context, b *starlingpb.WriteBatch, replicas []string, refused *refusal) {
	local, err := a.localEntries(b.Entries)
	if err != nil {
		ctx.Send(ctx.Sender(), &starlingpb.WriteAck{RequestId: b.RequestId, Partition: a.ref(), Error: "records: " + err.Error()})
		return
	}
	a.nextWrite++
	id := a.nextWrite
	w := &replicatedWrite{sender: ctx.Sender(), requestID: b.RequestId, records: b.Records, waiting: map[string]bool{}, epoch: a.epoch, refused: refused}
	a.pending[id] = w
	self, system := ctx.Self(), ctx.ActorSystem()
	a.store.Apply(a.signal, local, int(b.Records), func(err error) {
		system.Root.Send(self, &localCommitted{id: id, err: err})
	})
	fwd := &starlingpb.WriteBatch{Format: b.Format, Partition: a.ref(), RequestId: id, Records: b.Records, Entries: b.Entries, Replicate: true}
	for _, node := range replicas {
		addr, ok := a.repl.Addresses.ActorAddress(node)
		if !ok {
			w.failed = append(w.failed, node)
			continue
		}
		if !a.repl.Outbox.Send(actor.NewPID(addr, PartitionName(a.signal, a.id)), fwd, self) {
			w.failed = append(w.failed, node)
			continue
		}
		w.waiting[node] = true
	}
	a.forwardToLearners(id, w, fwd, self)
	w.timer = time.AfterFunc(a.repl.Timeout, func() { system.Root.Send(self, &replicaDeadline{id: id}) })
	a.settle(ctx, id)
}

// replicaAcked records a replica's answer to a forwarded batch.
func (a *partition) replicaAcked(ctx actor.Context, ack *starlingpb.WriteAck) {
	w := a.pending[ack.RequestId]
	if w == nil || !w.waiting[ack.Node] {
		return
	}
	delete(w.waiting, ack.Node)
	switch {
	case ack.Error != "" && ack.GetPartition().GetEpoch() > w.epoch:
		// The replica's table is ahead of this primary's: it is not
		// lagging, this actor is; the frontend sends the batch again once
		// the row is newer here.
		w.stale = true
	case ack.Error != "":
		w.failed = append(w.failed, ack.Node)
	}
	a.settle(ctx, ack.RequestId)
}

// settle answers a replicated write once everything it waits for is in,
// or starts shrinking the in-sync set when replicas failed and nothing else
// is outstanding.
func (a *partition) settle(ctx actor.Context, id uint64) {
	w := a.pending[id]
	if w == nil || !w.local || w.shrinking || len(w.waiting) > 0 {
		return
	}
	if w.stale {
		w.shrinking = true // decided by recheckWrite, never by a shrink
		a.awaitNewerRow(ctx, id, w, fmt.Errorf("a replica is at a newer epoch than this primary (%d)", w.epoch))
		return
	}
	if len(w.failed) == 0 {
		a.finish(ctx, id, nil)
		return
	}
	a.shrinkOrRefuse(ctx, id)
}

// awaitNewerRow decides write id again once this actor's row is newer than
// expected (at once if it is), or fails it with err after the replica
// timeout.
func (a *partition) awaitNewerRow(ctx actor.Context, id uint64, w *replicatedWrite, err error) {
	w.recheck = err
	if a.row.GetEpoch() > w.epoch {
		a.recheckWrite(ctx, id)
		return
	}
	self, system := ctx.Self(), ctx.ActorSystem()
	time.AfterFunc(a.repl.Timeout, func() { system.Root.Send(self, &recheckExpired{id: id}) })
}

// shrinkOrRefuse handles a write some copies failed: a learner that is
// joining the in-sync set cannot be shrunk away, so its failure refuses
// the write (retryable) and restarts its catch-up; failed in-sync replicas
// are removed through Raft.
func (a *partition) shrinkOrRefuse(ctx actor.Context, id uint64) {
	w := a.pending[id]
	for _, node := range w.failed {
		if c := a.catchups[node]; c != nil && c.joining {
			c.dirty = true
			a.finish(ctx, id, fmt.Errorf("replica %s joining the in-sync set did not acknowledge", node))
			return
		}
	}
	a.shrink(ctx, id)
}

// deadline gives up on replicas that have not answered.
func (a *partition) deadline(ctx actor.Context, id uint64) {
	w := a.pending[id]
	if w == nil || w.shrinking {
		return
	}
	if !w.local {
		a.finish(ctx, id, fmt.Errorf("local commit not done within %s", a.repl.Timeout))
		return
	}
	for node := range w.waiting {
		w.failed = append(w.failed, node)
	}
	slices.Sort(w.failed)
	clear(w.waiting)
	a.shrinkOrRefuse(ctx, id)
}

// shrink removes the failed replicas from the in-sync set through Raft,
// then answers the write: acknowledged if enough in-sync copies remain.
func (a *partition) shrink(ctx actor.Context, id uint64) {
	w := a.pending[id]
	w.shrinking = true
	if a.repl.Proposer == nil {
		a.finish(ctx, id, fmt.Errorf("replicas %v did not acknowledge", w.failed))
		return
	}
	row := proto.CloneOf(a.row)
	row.InSync = slices.DeleteFunc(row.InSync, func(n string) bool { return slices.Contains(w.failed, n) })
	row.Epoch++
	row.UpdatedAtUnixNano = time.Now().UnixNano()
	expected := a.row.Epoch
	self, system, timeout := ctx.Self(), ctx.ActorSystem(), a.repl.Timeout
	a.log.Warn("removing lagging replicas from the in-sync set",
		"signal", storage.SignalName(a.signal), "partition", a.id, "replicas", w.failed, "epoch", row.Epoch)
	go func() {
		c, cancel := context.WithTimeout(context.Background(), 2*timeout)
		defer cancel()
		err := a.repl.Proposer.UpdatePartition(c, row, expected)
		system.Root.Send(self, &shrinkDone{id: id, err: err})
	}()
	a.shrinkTo[id] = shrinkTarget{left: len(row.InSync), expected: expected}
}

// shrinkTarget is what a shrink proposal changes.
type shrinkTarget struct {
	left     int    // in-sync copies once it commits
	expected uint64 // the epoch it replaces
}

// shrunk answers a write whose in-sync shrink finished.
func (a *partition) shrunk(ctx actor.Context, msg *shrinkDone) {
	target, ok := a.shrinkTo[msg.id]
	delete(a.shrinkTo, msg.id)
	w := a.pending[msg.id]
	if !ok || w == nil {
		return
	}
	switch {
	case msg.err != nil:
		// Someone else changed the row first (the rebalancer retired the
		// replica, a failover, a join), or Raft had no leader: look again
		// once the row is newer than the one the proposal replaced.
		w.epoch = target.expected
		a.awaitNewerRow(ctx, msg.id, w, fmt.Errorf("remove lagging replicas from the in-sync set: %w", msg.err))
	case target.left < a.repl.MinInSync():
		a.finish(ctx, msg.id, fmt.Errorf("%d in-sync copies left: %w", target.left, ErrBelowMinInSync))
	default:
		a.finish(ctx, msg.id, nil)
	}
}

// recheckWrite decides a write whose shrink failed against the current
// row: if this actor is no longer primary the frontend re-routes the batch
// (writes are idempotent); if the failed replicas are no longer in sync the
// write is on every in-sync copy (copies join only after acknowledging
// the writes of their catch-up); else it shrinks again from this row.
func (a *partition) recheckWrite(ctx actor.Context, id uint64) {
	w := a.pending[id]
	if w == nil || w.recheck == nil {
		return
	}
	w.recheck = nil
	if w.stale || a.role != starlingpb.Role_ROLE_PRIMARY {
		delete(a.pending, id)
		w.timer.Stop()
		defer a.writeDone(ctx, id)
		ctx.Send(w.sender, &starlingpb.NotPrimary{RequestId: w.requestID, Partition: a.ref(), Primary: a.primary})
		return
	}
	w.failed = slices.DeleteFunc(w.failed, func(n string) bool { return !slices.Contains(a.row.GetInSync(), n) })
	if len(w.failed) > 0 {
		w.shrinking = false
		a.shrinkOrRefuse(ctx, id)
		return
	}
	if left := len(a.row.GetInSync()); left < a.repl.MinInSync() {
		a.finish(ctx, id, fmt.Errorf("%d in-sync copies left: %w", left, ErrBelowMinInSync))
		return
	}
	a.finish(ctx, id, nil)
}

// recheckAll rechecks the writes waiting for a newer row.
func (a *partition) recheckAll(ctx actor.Context) {
	for id, w := range a.pending {
		if w.recheck != nil {
			a.recheckWrite(ctx, id)
		}
	}
}

// finish answers a replicated write and forgets it.
func (a *partition) finish(ctx actor.Context, id uint64, err error) {
	w := a.pending[id]
	if w == nil {
		return
	}
	delete(a.pending, id)
	w.timer.Stop()
	defer a.writeDone(ctx, id)
	ack := &starlingpb.WriteAck{RequestId: w.requestID, Partition: a.ref(), Records: w.records}
	w.refused.annotate(ack)
	if err != nil {
		ack.Error, ack.Retryable = err.Error(), !errors.Is(err, storage.ErrCorrupt)
	}
	ctx.Send(w.sender, ack)
}

// writeAsReplica applies a batch the primary forwarded.
func (a *partition) writeAsReplica(ctx actor.Context, b *starlingpb.WriteBatch) {
	sender := ctx.Sender()
	refuse := func(reason string) {
		ctx.Send(sender, &starlingpb.WriteAck{RequestId: b.RequestId, Partition: a.ref(), Error: reason, Retryable: true, Node: a.self})
	}
	switch {
	case a.role != starlingpb.Role_ROLE_REPLICA && a.role != starlingpb.Role_ROLE_LEARNER:
		refuse(fmt.Sprintf("not a replica of %s partition %d", storage.SignalName(a.signal), a.id))
		return
	case b.GetPartition().GetEpoch() < a.epoch:
		// A newer epoch than ours means our table lags the primary's: the
		// primary only forwards to its in-sync set, so take it.
		refuse(fmt.Sprintf("stale epoch %d (replica at %d)", b.GetPartition().GetEpoch(), a.epoch))
		return
	}
	system, ref, self := ctx.ActorSystem(), a.ref(), a.self
	local, err := a.localEntries(b.Entries)
	if err != nil {
		ctx.Send(sender, &starlingpb.WriteAck{RequestId: b.RequestId, Partition: ref, Error: "records: " + err.Error(), Node: self})
		return
	}
	a.store.Apply(a.signal, local, int(b.Records), func(err error) {
		ack := &starlingpb.WriteAck{RequestId: b.RequestId, Partition: ref, Records: b.Records, Node: self}
		if err != nil {
			ack.Error, ack.Retryable = err.Error(), true
		}
		system.Root.Send(sender, ack)
	})
}
