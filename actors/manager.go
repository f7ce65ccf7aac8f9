package actors

import (
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// ManagerConfig configures the partition manager.
type ManagerConfig struct {
	// NodeID is this node's id in the partition table.
	NodeID string
	// ReadTimeout bounds one partition read.
	ReadTimeout time.Duration
	// Replication configures primaries that have replicas.
	Replication ReplicationConfig
	// Logger receives partition actors' logs (replication, catch-up);
	// nil: none.
	Logger *slog.Logger
	// Guard holds back the actor of a partition whose old data is being
	// dropped until the drop is over (nil: nothing is dropped).
	Guard *PartitionGuard
	// Metrics configures the heads of metrics partitions.
	Metrics MetricsConfig
}

// Validate reports the first invalid field.
func (c ManagerConfig) Validate() error {
	switch {
	case c.NodeID == "":
		return fmt.Errorf("manager node id: must be set")
	case c.ReadTimeout <= 0:
		return fmt.Errorf("manager read timeout: %s must be positive", c.ReadTimeout)
	case c.Replication.Timeout <= 0 || c.Replication.MinInSync == nil || c.Replication.Addresses == nil || c.Replication.Outbox == nil:
		return fmt.Errorf("manager replication: timeout, min in-sync, addresses and outbox must be set")
	}
	return c.Metrics.Validate()
}

// Manager is the handle of the node's partition manager actor.
type Manager struct {
	system *actor.ActorSystem
	pid    *actor.PID
	// ready is the Changed channel of the table the last reconcile
	// matched in full (nil: it did not, or the manager stops); once the
	// channel is closed, the table has moved on.
	ready    atomic.Pointer[<-chan struct{}]
	dispatch *poolDispatcher // runs the partition actors
	sub      *eventstream.Subscription
}

// StartManager spawns the partition manager, which at once spawns a
// partition actor for every partition the table places on this node, and
// follows the table from then on.
func StartManager(system *actor.ActorSystem, cfg ManagerConfig, store *storage.Store, table PartitionTable, m *Metrics) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Manager{system: system, dispatch: newPoolDispatcher(0, 300)}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	props := actor.PropsFromProducer(func() actor.Actor {
		return &manager{cfg: cfg, store: store, table: table, m: m, ready: &h.ready, children: map[partKey]*child{}, retiring: map[partKey]*actor.PID{}, log: log, dispatch: h.dispatch}
	})
	pid, err := system.Root.SpawnNamed(props, managerName)
	if err != nil {
		return nil, fmt.Errorf("spawn partition manager: %w", err)
	}
	h.pid = pid
	h.sub = system.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*actor.DeadLetterEvent); ok {
			undelivered(system, e)
		}
	})
	return h, nil
}

// undelivered answers a write or read that reached no partition actor of
// this node with NotPrimary, so that its frontend or coordinator sends it
// again once the table and the actors agree: the router may name this
// node primary of a partition (a new table row) before the manager has
// spawned its actor, and without an answer the request would wait for its
// timeout. Replication writes are left to the primary's replication
// timeout.
func undelivered(system *actor.ActorSystem, e *actor.DeadLetterEvent) {
	if e.Sender == nil {
		return
	}
	switch m := e.Message.(type) {
	case *starlingpb.WriteBatch:
		if !m.Replicate {
			system.Root.Send(e.Sender, &starlingpb.NotPrimary{RequestId: m.RequestId, Partition: m.Partition})
		}
	case *starlingpb.ReadRequest:
		system.Root.Send(e.Sender, &starlingpb.NotPrimary{RequestId: m.QueryId, Partition: m.Partition})
	}
}

// Ready reports whether every partition actor the table asks for is up:
// the last reconcile spawned them all, and the table has not changed
// since (a table the manager has not caught up with yet, as while Raft
// replays its log at a restart, may place more here).
func (h *Manager) Ready() bool {
	ch := h.ready.Load()
	if ch == nil {
		return false
	}
	select {
	case <-*ch:
		return false
	default:
		return true
	}
}

// Stop stops the manager and its partition actors after the messages
// already in their mailboxes.
func (h *Manager) Stop() {
	h.ready.Store(nil)
	h.system.EventStream.Unsubscribe(h.sub)
	_ = h.system.Root.PoisonFuture(h.pid).Wait()
	h.dispatch.close()
}

type partKey struct {
	signal starlingpb.Signal
	id     uint32
}

type child struct {
	pid *actor.PID
	row *starlingpb.Partition
}

// manager spawns and stops partition actors (its children) to match the
// partition table, and tells them their epoch and role.
type manager struct {
	log      *slog.Logger
	cfg      ManagerConfig
	store    *storage.Store
	table    PartitionTable
	m        *Metrics
	ready    *atomic.Pointer[<-chan struct{}]
	children map[partKey]*child
	// retiring are children told to stop that have not terminated yet:
	// their names are taken until they do.
	retiring map[partKey]*actor.PID
	stop     chan struct{}
	stopping bool // children are being stopped: do not replace them
	dispatch *poolDispatcher
	retrying bool // a reconcileRetry is scheduled
}

func (a *manager) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.stop = make(chan struct{})
		changed := a.table.Changed()
		a.reconcile(ctx)
		self, system, stop := ctx.Self(), ctx.ActorSystem(), a.stop
		go func() {
			for {
				select {
				case <-changed:
					changed = a.table.Changed()
					system.Root.Send(self, &tableChanged{})
				case <-stop:
					return
				}
			}
		}()
	case *tableChanged:
		if !a.stopping {
			a.reconcile(ctx)
		}
	case *reconcileRetry:
		a.retrying = false
		if !a.stopping {
			a.reconcile(ctx)
		}
	case *actor.Terminated:
		if a.stopping {
			return
		}
		for k, c := range a.children {
			if c.pid.Equal(msg.Who) {
				delete(a.children, k)
			}
		}
		for k, pid := range a.retiring {
			if pid.Equal(msg.Who) {
				delete(a.retiring, k)
			}
		}
		a.reconcile(ctx)
	case *actor.Stopping:
		a.stopping = true
		a.ready.Store(nil)
		close(a.stop)
	}
}

// roleOf is the role of node in a partition row.
func roleOf(p *starlingpb.Partition, node string) starlingpb.Role {
	switch {
	case p.Primary == node:
		return starlingpb.Role_ROLE_PRIMARY
	case slices.Contains(p.InSync, node):
		return starlingpb.Role_ROLE_REPLICA
	case slices.Contains(p.Replicas, node):
		return starlingpb.Role_ROLE_LEARNER
	}
	return starlingpb.Role_ROLE_UNSPECIFIED
}

func (a *manager) reconcile(ctx actor.Context) {
	changed := a.table.Changed() // before the rows: a change after them closes it
	want := make(map[partKey]*starlingpb.Partition)
	for _, p := range a.table.Partitions() {
		if roleOf(p, a.cfg.NodeID) != starlingpb.Role_ROLE_UNSPECIFIED {
			want[partKey{p.Signal, p.Id}] = p
		}
	}
	for k, c := range a.children {
		if _, ok := want[k]; !ok {
			ctx.Stop(c.pid)
			delete(a.children, k)
			a.retiring[k] = c.pid
		}
	}
	ok := true
	for k, p := range want {
		role := roleOf(p, a.cfg.NodeID)
		if c := a.children[k]; c != nil {
			if c.row != p {
				c.row = p
				ctx.Send(c.pid, &assignment{epoch: p.Epoch, role: role, row: p})
			}
			continue
		}
		if a.retiring[k] != nil {
			// Placed here again before its last actor finished stopping
			// (it may be busy with a write): spawn once it terminated.
			ok = false
			continue
		}
		if a.cfg.Guard.Dropping(k.signal, k.id) {
			// Placed here again while its old data is dropped: spawn it
			// once the drop is over.
			ok = false
			continue
		}
		props := actor.PropsFromProducer(a.partitionProducer(k, p), actor.WithDispatcher(a.dispatch))
		pid, err := ctx.SpawnNamed(props, PartitionName(k.signal, k.id)[len(managerName)+1:])
		if err != nil {
			ctx.Logger().Error("spawn partition actor", "signal", storage.SignalName(k.signal), "partition", k.id, "err", err)
			ok = false
			continue
		}
		// No Watch: the parent gets its children's Terminated anyway, and
		// a second one, arriving after the name was spawned again (PIDs
		// are names), would drop the new actor from children.
		a.children[k] = &child{pid: pid, row: p}
	}
	counts := map[starlingpb.Signal]int{}
	for k := range a.children {
		counts[k.signal]++
	}
	for _, sig := range storage.Signals {
		a.m.partitions.WithLabelValues(storage.SignalName(sig)).Set(float64(counts[sig]))
	}
	if ok {
		a.ready.Store(&changed)
	} else {
		a.ready.Store(nil)
	}
	if !ok && !a.retrying {
		// Something is missing (an actor still stopping, a spawn that
		// failed): look again soon even if nothing else changes.
		a.retrying = true
		self, system := ctx.Self(), ctx.ActorSystem()
		time.AfterFunc(100*time.Millisecond, func() { system.Root.Send(self, &reconcileRetry{}) })
	}
}

// reconcileRetry is the manager's reminder to reconcile again.
type reconcileRetry struct{}

// partitionProducer builds a partition actor from the current table row,
// so a restarted actor starts from the table's truth, not a stale copy.
func (a *manager) partitionProducer(k partKey, initial *starlingpb.Partition) actor.Producer {
	return func() actor.Actor {
		row := initial
		for _, p := range a.table.Partitions() {
			if p.Signal == k.signal && p.Id == k.id {
				row = p
				break
			}
		}
		return &partition{
			store: a.store, signal: k.signal, id: k.id,
			epoch: row.Epoch, role: roleOf(row, a.cfg.NodeID), primary: row.Primary,
			readTTL: a.cfg.ReadTimeout, m: a.m,
			self: a.cfg.NodeID, row: row, repl: a.cfg.Replication, log: a.log,
			pending: map[uint64]*replicatedWrite{}, shrinkTo: map[uint64]shrinkTarget{}, catchups: map[string]*catchUp{},
			metricsCfg: a.cfg.Metrics,
		}
	}
}
