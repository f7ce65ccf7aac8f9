package actors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// Catch-up, the primary's side: a replica that is not in sync (a node back
// from the dead, or a new replica) gets the partition by snapshot handoff
// and then joins the in-sync set.
//
//  1. From the moment a catch-up starts, every write is also forwarded to
//     the learner (its acknowledgement is not needed for the write).
//  2. Once the writes that were already under way have committed, the
//     partition's snapshot is streamed to the learner: every write is now
//     in the snapshot, in a forward, or both (loading is idempotent).
//  3. When the stream is loaded and every forward was acknowledged, the
//     primary proposes the learner into the in-sync set (epoch + 1). A
//     failed forward or stream starts over later.

// catchUp is one learner's catch-up.
type catchUp struct {
	node        string
	addr        string          // the learner's actor address when the stream started
	before      map[uint64]bool // writes under way when it started
	streaming   bool
	streamed    bool
	outstanding map[uint64]time.Time // forwarded writes not yet acknowledged, and when they were sent
	dirty       bool                 // a forward failed: start over
	joining     bool                 // proposed into the in-sync set: its acks are required
	cancel      context.CancelFunc
	began       time.Time
}

// Messages a partition actor sends itself about catch-ups.
type (
	catchUpStreamed struct {
		node string
		prog HandoffProgress
		err  error
	}
	catchUpJoined struct {
		node string
		err  error
	}
	catchUpTick struct{}
)

// learners are the replicas of the row that are not in sync.
func (a *partition) learners() []string {
	var out []string
	for _, id := range a.row.GetReplicas() {
		if id != a.self && !slices.Contains(a.row.GetInSync(), id) {
			out = append(out, id)
		}
	}
	return out
}

// reviewCatchUps starts a catch-up for every live learner of a primary and
// drops those of nodes that are no longer learners.
func (a *partition) reviewCatchUps(ctx actor.Context) {
	if a.role != starlingpb.Role_ROLE_PRIMARY || a.repl.Proposer == nil || a.repl.Handoff.ChunkBytes == 0 {
		a.stopCatchUps()
		return
	}
	learners := a.learners()
	for node, c := range a.catchups {
		if !slices.Contains(learners, node) {
			c.stop()
			delete(a.catchups, node)
		}
	}
	for _, node := range learners {
		addr, ok := a.repl.Addresses.ActorAddress(node)
		if c := a.catchups[node]; c != nil {
			if c.addr == "" || c.addr == addr {
				a.maybeStream(ctx, c)
				a.maybeJoin(ctx, c)
				continue
			}
			// The learner restarted (a new address, or gone): what was
			// sent to it before may be lost; start over.
			a.log.Info("learner restarted; catch-up starts over", "signal", storage.SignalName(a.signal), "partition", a.id, "replica", node)
			c.stop()
			delete(a.catchups, node)
		}
		if !ok {
			a.tickLater(ctx) // look again when it may be back
			continue
		}
		c := &catchUp{node: node, before: map[uint64]bool{}, outstanding: map[uint64]time.Time{}, began: time.Now()}
		for id := range a.pending {
			c.before[id] = true
		}
		a.catchups[node] = c
		a.log.Info("catching up an out-of-sync replica", "signal", storage.SignalName(a.signal), "partition", a.id, "replica", node, "epoch", a.epoch)
		a.maybeStream(ctx, c)
	}
	if len(a.catchups) > 0 {
		a.tickLater(ctx) // notice a learner that restarts or dies meanwhile
	}
}

// tickLater schedules one review in a second.
func (a *partition) tickLater(ctx actor.Context) {
	if a.ticking {
		return
	}
	a.ticking = true
	self, system := ctx.Self(), ctx.ActorSystem()
	time.AfterFunc(time.Second, func() { system.Root.Send(self, &catchUpTick{}) })
}

// outstandingOf reports whether forward id awaits the learner's answer;
// c may be nil.
func (c *catchUp) outstandingOf(id uint64) (time.Time, bool) {
	if c == nil {
		return time.Time{}, false
	}
	t, ok := c.outstanding[id]
	return t, ok
}

func (c *catchUp) stop() {
	if c.cancel != nil {
		c.cancel()
	}
}

func (a *partition) stopCatchUps() {
	for node, c := range a.catchups {
		c.stop()
		delete(a.catchups, node)
	}
}

// writeDone tells the catch-ups that write id finished.
func (a *partition) writeDone(ctx actor.Context, id uint64) {
	for _, c := range a.catchups {
		if c.before[id] {
			delete(c.before, id)
			a.maybeStream(ctx, c)
		}
	}
}

// maybeStream starts the snapshot once the writes under way at the start
// have committed (those on the direct path included: they are only
// counted).
func (a *partition) maybeStream(ctx actor.Context, c *catchUp) {
	if c.streaming || c.streamed || c.joining || len(c.before) > 0 {
		return
	}
	if a.direct.Load() > 0 {
		self, system := ctx.Self(), ctx.ActorSystem()
		time.AfterFunc(5*time.Millisecond, func() { system.Root.Send(self, &catchUpTick{}) })
		return
	}
	addr, ok := a.repl.Addresses.ActorAddress(c.node)
	if !ok {
		return
	}
	c.streaming, c.addr = true, addr
	cctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	self, system, store, cfg := ctx.Self(), ctx.ActorSystem(), a.store, a.repl.Handoff
	sig, p, epoch, node := a.signal, a.id, a.epoch, c.node
	mig := fmt.Sprintf("catchup-%s-%d-%d-%s-%d", storage.SignalName(sig), p, epoch, strings.ReplaceAll(node, "/", "_"), time.Now().UnixNano())
	transfers := a.repl.Transfers
	var progress func(HandoffProgress)
	if transfers != nil {
		transfers.Begin(mig, sig, p, epoch, node)
		progress = transfers.Update
	}
	go func() {
		prog, err := SendPartition(cctx, system, store, cfg, mig, sig, p, epoch, addr, progress)
		if transfers != nil {
			transfers.End(prog, err)
		}
		system.Root.Send(self, &catchUpStreamed{node: node, prog: prog, err: err})
	}()
}

// forwardToLearners sends a write to every learner being caught up. A
// learner whose join is proposed must acknowledge like an in-sync replica
// (w.waiting): the write is not acknowledged without it.
func (a *partition) forwardToLearners(id uint64, w *replicatedWrite, fwd *starlingpb.WriteBatch, self *actor.PID) {
	for _, c := range a.catchups {
		addr, ok := a.repl.Addresses.ActorAddress(c.node)
		sent := ok && a.repl.Outbox.Send(actor.NewPID(addr, PartitionName(a.signal, a.id)), fwd, self)
		switch {
		case c.joining && sent:
			w.waiting[c.node] = true
		case c.joining:
			w.failed = append(w.failed, c.node)
		case sent:
			c.outstanding[id] = time.Now()
		default:
			c.dirty = true
		}
	}
}

// learnerAcked records a learner's answer to a forward; false when ack is
// not a learner's.
func (a *partition) learnerAcked(ctx actor.Context, ack *starlingpb.WriteAck) bool {
	c := a.catchups[ack.Node]
	if _, ok := c.outstandingOf(ack.RequestId); !ok {
		return false
	}
	delete(c.outstanding, ack.RequestId)
	if ack.Error != "" {
		c.dirty = true
	}
	a.maybeJoin(ctx, c)
	return true
}

// streamed handles the end of a catch-up's snapshot stream.
func (a *partition) streamed(ctx actor.Context, m *catchUpStreamed) {
	c := a.catchups[m.node]
	if c == nil {
		return
	}
	c.streaming = false
	if m.err != nil {
		a.log.Warn("catch-up stream failed; starting over", "signal", storage.SignalName(a.signal), "partition", a.id, "replica", m.node, "err", m.err)
		delete(a.catchups, m.node)
		a.tickLater(ctx) // start over in a second
		return
	}
	c.streamed = true
	a.log.Info("catch-up snapshot loaded", "signal", storage.SignalName(a.signal), "partition", a.id, "replica", m.node,
		"bytes", m.prog.Bytes, "keys", m.prog.Keys, "MiB/s", fmt.Sprintf("%.1f", m.prog.Rate()/(1<<20)))
	a.maybeJoin(ctx, c)
}

// maybeJoin proposes the learner into the in-sync set once its snapshot is
// loaded and every forward acknowledged.
func (a *partition) maybeJoin(ctx actor.Context, c *catchUp) {
	switch {
	case c.dirty:
		c.stop()
		delete(a.catchups, c.node)
		a.tickLater(ctx)
		return
	case !c.streamed:
		return
	case len(c.outstanding) > 0:
		// A forward whose answer is lost (the learner's actor was not up
		// yet) would hold the join for ever: past the replica timeout the
		// catch-up starts over.
		for _, sent := range c.outstanding {
			if time.Since(sent) > a.repl.Timeout {
				c.dirty = true
				a.maybeJoin(ctx, c)
				return
			}
		}
		a.tickLater(ctx)
		return
	}
	row := proto.CloneOf(a.row)
	row.InSync = append(row.InSync, c.node)
	if len(row.InSync) >= len(row.Replicas) {
		row.State = starlingpb.PartitionState_PARTITION_STATE_ACTIVE // the last copy being built
	}
	row.Epoch++
	row.UpdatedAtUnixNano = time.Now().UnixNano()
	expected, self, system, node, timeout := a.row.Epoch, ctx.Self(), ctx.ActorSystem(), c.node, a.repl.Timeout
	c.streamed, c.joining = false, true // one proposal per catch-up
	go func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*timeout)
		defer cancel()
		err := a.repl.Proposer.UpdatePartition(cctx, row, expected)
		system.Root.Send(self, &catchUpJoined{node: node, err: err})
	}()
}

// joined handles the verdict on a learner's join. A joined learner keeps
// its catch-up (and every write keeps waiting for it) until this actor's
// row lists it in sync: until then the write path knows it only from here.
func (a *partition) joined(ctx actor.Context, m *catchUpJoined) {
	c := a.catchups[m.node]
	if m.err != nil {
		delete(a.catchups, m.node)
		a.log.Warn("catch-up join refused; starting over", "signal", storage.SignalName(a.signal), "partition", a.id, "replica", m.node, "err", m.err)
		a.tickLater(ctx)
		return
	}
	took := time.Duration(0)
	if c != nil {
		took = time.Since(c.began)
	}
	a.log.Info("replica back in sync", "signal", storage.SignalName(a.signal), "partition", a.id, "replica", m.node, "took", took.Round(time.Millisecond))
}
