package actors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// FrontendConfig configures the frontend pool.
type FrontendConfig struct {
	// Size is the number of frontend actors; requests are spread over them
	// round robin. Building batches is CPU work, so about one per core.
	Size int
	// Timeout bounds one ingest request from receipt to the last
	// partition's acknowledgement; past it the client is told to retry.
	Timeout time.Duration
	// MaxAttempts bounds how often one partition batch is re-sent after a
	// NotPrimary answer.
	MaxAttempts int
	// Builder is what the frontends need of the cluster settings.
	Builder storage.BuilderConfig
	// Outbox carries batches to primaries on other nodes.
	Outbox *Outbox
	// Late hears of every acknowledged write (nil: nobody).
	Late LateWrites
}

// LateWrites hears of acknowledged writes and the time of their oldest
// record (QueryCache: a late one changes closed ranges). Called by every
// frontend after each acknowledged write; calls overlap and must not
// block.
type LateWrites interface {
	Wrote(sig starlingpb.Signal, oldestUnixNano int64)
}

// Validate reports the first invalid field.
func (c FrontendConfig) Validate() error {
	switch {
	case c.Size < 1:
		return fmt.Errorf("frontend size: %d must be at least 1", c.Size)
	case c.Timeout <= 0:
		return fmt.Errorf("frontend timeout: %s must be positive", c.Timeout)
	case c.MaxAttempts < 1:
		return fmt.Errorf("frontend max attempts: %d must be at least 1", c.MaxAttempts)
	case c.Outbox == nil:
		return errors.New("frontend outbox: must be set")
	}
	return c.Builder.Validate()
}

var (
	// ErrIngestTimeout is returned when the partitions did not all
	// acknowledge a request in time.
	ErrIngestTimeout = errors.New("ingest timed out waiting for partitions")
	// ErrShuttingDown is returned for requests a stopping node can no
	// longer take.
	ErrShuttingDown = errors.New("node is shutting down")
)

// Frontends is the node's pool of frontend actors.
type Frontends struct {
	system *actor.ActorSystem
	pids   []*actor.PID
	next   atomic.Uint64
	cfg    FrontendConfig
	sub    *eventstream.Subscription
	// dispatch runs the frontends on goroutines that keep their stacks.
	dispatch *poolDispatcher
}

// StartFrontends spawns the pool. seen is shared by the pool.
func StartFrontends(system *actor.ActorSystem, cfg FrontendConfig, router *Router, seen *storage.SeenCache, m *Metrics, now func() time.Time) (*Frontends, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Frontends{system: system, cfg: cfg, dispatch: newPoolDispatcher(cfg.Size, 300)}
	for i := 0; i < cfg.Size; i++ {
		b, err := storage.NewBuilder(cfg.Builder, seen, now)
		if err != nil {
			return nil, err
		}
		props := actor.PropsFromProducer(func() actor.Actor {
			return &frontend{builder: b, seen: seen, router: router, m: m, cfg: cfg, pending: map[uint64]*pendingIngest{}}
		}, actor.WithDispatcher(f.dispatch))
		pid, err := system.Root.SpawnNamed(props, fmt.Sprintf("frontend/%d", i))
		if err != nil {
			f.Stop()
			return nil, fmt.Errorf("spawn frontend %d: %w", i, err)
		}
		f.pids = append(f.pids, pid)
	}
	// A node that died takes the batches in flight to it along: fail them
	// at once (retryable) rather than at the request's timeout.
	f.sub = system.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*remote.EndpointTerminatedEvent); ok {
			for _, pid := range f.pids {
				system.Root.Send(pid, &endpointDown{addr: e.Address})
			}
		}
	})
	return f, nil
}

// Ingest stores one request through a frontend and waits for the answer.
// Safe for concurrent use.
func (f *Frontends) Ingest(ctx context.Context, req *IngestRequest) (*IngestResult, error) {
	pid := f.pids[f.next.Add(1)%uint64(len(f.pids))]
	timeout := f.cfg.Timeout + time.Second // the frontend answers by its own deadline first
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	res, err := f.system.Root.RequestFuture(pid, req, timeout).Result()
	switch {
	case errors.Is(err, actor.ErrDeadLetter):
		return nil, ErrShuttingDown
	case errors.Is(err, actor.ErrTimeout):
		return nil, fmt.Errorf("%w after %s", ErrIngestTimeout, timeout)
	case err != nil:
		return nil, fmt.Errorf("ingest: %w", err)
	}
	r, ok := res.(*IngestResult)
	if !ok {
		return nil, fmt.Errorf("BUG: frontend answered %T", res)
	}
	return r, nil
}

// Stop stops the pool after the requests it holds are answered or time out.
func (f *Frontends) Stop() {
	if f.sub != nil {
		f.system.EventStream.Unsubscribe(f.sub)
	}
	for _, pid := range f.pids {
		_ = f.system.Root.PoisonFuture(pid).Wait()
	}
	f.dispatch.close()
}

// frontend turns ingest requests into one WriteBatch per partition, sends
// them to the partitions' primaries, and answers once all acknowledged.
// It never waits inside Receive: acknowledgements arrive as messages.
type frontend struct {
	builder *storage.Builder
	seen    *storage.SeenCache
	router  *Router
	m       *Metrics
	cfg     FrontendConfig

	nextID  uint64
	pending map[uint64]*pendingIngest
	ticking bool // a rerouteTick is scheduled
}

type pendingIngest struct {
	reply    *actor.PID
	signal   starlingpb.Signal
	result   storage.BuildResult
	batches  map[uint32]*storage.PartBatch // not yet acknowledged
	attempts map[uint32]int
	dest     map[uint32]string // actor address each batch was sent to
	epoch    map[uint32]uint64 // epoch each batch was sent with
	began    time.Time
	timer    *time.Timer
	// Series refused by primaries' series limits, and why (the first).
	refusedSeries int
	refusedWhy    string
}

// refused moves the samples a primary's series limits refused from
// accepted to rejected.
func (p *pendingIngest) refused(ack *starlingpb.WriteAck) {
	n := int(ack.RefusedSamples)
	p.result.Accepted -= min(n, p.result.Accepted)
	p.result.Rejected += n
	if p.result.Reasons == nil {
		p.result.Reasons = map[string]int{}
	}
	p.result.Reasons[storage.ReasonSeriesLimit] += n
	p.refusedSeries += int(ack.RefusedSeries)
	if p.refusedWhy == "" {
		p.refusedWhy = ack.RefusedMessage
	}
}

// message is the request's rejection message: the build's, and the
// series limits'.
func (p *pendingIngest) message() string {
	if p.refusedSeries == 0 {
		return p.result.Message
	}
	m := fmt.Sprintf("%d new series refused: %s", p.refusedSeries, p.refusedWhy)
	if p.result.Message != "" {
		m = p.result.Message + "; " + m
	}
	return m
}

func (f *frontend) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *IngestRequest:
		f.ingest(ctx, msg)
	case *starlingpb.WriteAck:
		f.ack(ctx, msg)
	case *starlingpb.NotPrimary:
		f.notPrimary(ctx, msg)
	case *resendBatch:
		if p := f.pending[msg.request]; p != nil {
			if b := p.batches[msg.partition]; b != nil {
				if err := f.send(ctx, msg.request, p, b); err != nil {
					f.finish(ctx, msg.request, p, err, true)
				}
			}
		}
	case *requestTimeout:
		if p := f.pending[msg.id]; p != nil {
			f.finish(ctx, msg.id, p, fmt.Errorf("%w after %s", ErrIngestTimeout, f.cfg.Timeout), true)
		}
	case *endpointDown:
		f.endpointLost(ctx, msg.addr)
	case *actor.DeadLetterResponse:
		// A batch reached a partition actor that is gone (its copy moved
		// away); the answer does not say which batch, so look at them all.
		f.rerouteMoved(ctx)
	case *rerouteTick:
		f.ticking = false
		f.rerouteMoved(ctx)
		f.tickWhilePending(ctx)
	case *actor.Stopping:
		for id, p := range f.pending {
			f.finish(ctx, id, p, ErrShuttingDown, true)
		}
	}
}

func (f *frontend) ingest(ctx actor.Context, req *IngestRequest) {
	began := time.Now()
	var res storage.BuildResult
	switch req.Signal {
	case starlingpb.Signal_SIGNAL_TRACES:
		res = f.builder.Traces(req.Traces)
	case starlingpb.Signal_SIGNAL_LOGS:
		res = f.builder.Logs(req.Logs)
	case starlingpb.Signal_SIGNAL_METRICS:
		if req.Prom != nil {
			res = f.builder.Prom(req.Prom, true)
		} else {
			res = f.builder.Metrics(req.Metrics)
		}
	default:
		ctx.Respond(&IngestResult{Err: fmt.Errorf("unknown signal %v", req.Signal)})
		return
	}
	f.m.buildSeconds.WithLabelValues(storage.SignalName(req.Signal)).Observe(time.Since(began).Seconds())
	f.m.rejected(req.Signal, res.Reasons)
	p := &pendingIngest{
		reply: ctx.Sender(), signal: req.Signal, result: res, began: began,
		batches: make(map[uint32]*storage.PartBatch, len(res.Batches)), attempts: map[uint32]int{}, dest: map[uint32]string{}, epoch: map[uint32]uint64{},
	}
	f.nextID++
	id := f.nextID
	if len(res.Batches) == 0 {
		f.finish(ctx, id, p, nil, false)
		return
	}
	f.pending[id] = p
	for i := range res.Batches {
		b := &res.Batches[i]
		p.batches[b.Partition] = b
	}
	for _, b := range p.batches {
		if err := f.send(ctx, id, p, b); err != nil {
			f.finish(ctx, id, p, err, true)
			return
		}
	}
	self, system := ctx.Self(), ctx.ActorSystem()
	p.timer = time.AfterFunc(f.cfg.Timeout, func() { system.Root.Send(self, &requestTimeout{id: id}) })
}

func (f *frontend) send(ctx actor.Context, id uint64, p *pendingIngest, b *storage.PartBatch) error {
	pid, epoch, err := f.router.Primary(p.signal, b.Partition)
	if errors.Is(err, ErrNoRoute) && p.attempts[b.Partition] < f.cfg.MaxAttempts {
		// No reachable primary in this node's table for a moment (a
		// move or a failover being committed, or gossip has not told of
		// the primary's address yet): ask again a little later each time
		// (the request's timeout bounds all) instead of refusing.
		p.attempts[b.Partition]++
		delay := min(resendBase<<p.attempts[b.Partition], resendMax)
		self, system, part := ctx.Self(), ctx.ActorSystem(), b.Partition
		time.AfterFunc(delay, func() { system.Root.Send(self, &resendBatch{request: id, partition: part}) })
		return nil
	}
	if err != nil {
		return err
	}
	p.attempts[b.Partition]++
	p.dest[b.Partition], p.epoch[b.Partition] = pid.Address, epoch
	f.tickWhilePending(ctx)
	wb := &starlingpb.WriteBatch{
		Format:    storage.EntryFormat,
		Partition: &starlingpb.PartitionRef{Signal: p.signal, Id: b.Partition, Epoch: epoch},
		RequestId: id,
		Records:   uint32(b.Records),
		Entries:   b.Entries,
	}
	if !f.cfg.Outbox.Send(pid, wb, ctx.Self()) {
		return fmt.Errorf("%s partition %d: queue to %s full: %w", storage.SignalName(p.signal), b.Partition, pid.Address, ErrNoRoute)
	}
	return nil
}

func (f *frontend) ack(ctx actor.Context, ack *starlingpb.WriteAck) {
	p := f.pending[ack.RequestId]
	if p == nil {
		return // answered already (timeout or another partition's error)
	}
	id := ack.GetPartition().GetId()
	b := p.batches[id]
	if b == nil {
		return
	}
	if ack.Error != "" {
		f.finish(ctx, ack.RequestId, p, fmt.Errorf("%s partition %d: %s", storage.SignalName(p.signal), id, ack.Error), ack.Retryable)
		return
	}
	if ack.RefusedSamples > 0 {
		p.refused(ack)
		b.Seen = slices.DeleteFunc(b.Seen, func(k uint64) bool { return slices.Contains(ack.Unseen, k) })
	}
	f.seen.Add(b.Seen)
	delete(p.batches, id)
	if len(p.batches) == 0 {
		f.finish(ctx, ack.RequestId, p, nil, false)
	}
}

func (f *frontend) notPrimary(ctx actor.Context, np *starlingpb.NotPrimary) {
	p := f.pending[np.RequestId]
	if p == nil {
		return
	}
	id := np.GetPartition().GetId()
	b := p.batches[id]
	if b == nil {
		return
	}
	if p.attempts[id] >= f.cfg.MaxAttempts {
		f.finish(ctx, np.RequestId, p, fmt.Errorf("%s partition %d: primary moved %d times: %w",
			storage.SignalName(p.signal), id, p.attempts[id], ErrNoRoute), true)
		return
	}
	// While this node's table has not caught up with the change that
	// moved the primary, sending again would meet the same answer: wait
	// for it a little longer each time (the request's timeout bounds all).
	if _, epoch, err := f.router.Primary(p.signal, id); err == nil && epoch <= p.epoch[id] {
		delay := min(resendBase<<p.attempts[id], resendMax)
		self, system, req := ctx.Self(), ctx.ActorSystem(), np.RequestId
		time.AfterFunc(delay, func() { system.Root.Send(self, &resendBatch{request: req, partition: id}) })
		return
	}
	if err := f.send(ctx, np.RequestId, p, b); err != nil {
		f.finish(ctx, np.RequestId, p, err, true)
	}
}

// rerouteMoved sends again every batch whose partition got a newer epoch
// in the table since it was sent: its answer may never come (the actor it
// went to stopped, or had no copy any more); a late answer of the first
// send is ignored or, for an ack, counts as well (writes are idempotent).
func (f *frontend) rerouteMoved(ctx actor.Context) {
	for id, p := range f.pending {
		for part, b := range p.batches {
			if _, epoch, err := f.router.Primary(p.signal, part); err != nil || epoch <= p.epoch[part] {
				continue
			}
			if p.attempts[part] >= f.cfg.MaxAttempts {
				f.finish(ctx, id, p, fmt.Errorf("%s partition %d: primary moved %d times: %w",
					storage.SignalName(p.signal), part, p.attempts[part], ErrNoRoute), true)
				break
			}
			if err := f.send(ctx, id, p, b); err != nil {
				f.finish(ctx, id, p, err, true)
				break
			}
		}
	}
}

// tickWhilePending schedules a rerouteTick while requests are pending.
func (f *frontend) tickWhilePending(ctx actor.Context) {
	if f.ticking || len(f.pending) == 0 {
		return
	}
	f.ticking = true
	self, system := ctx.Self(), ctx.ActorSystem()
	time.AfterFunc(rerouteEvery, func() { system.Root.Send(self, &rerouteTick{}) })
}

type rerouteTick struct{}

// rerouteEvery is how often a frontend looks for batches sent to a
// primary that has since moved.
const rerouteEvery = 250 * time.Millisecond

// resendBatch is a frontend's reminder to send a batch again.
type resendBatch struct {
	request   uint64
	partition uint32
}

// Waits before re-sending a batch whose primary moved but this node's
// table does not show where yet.
const (
	resendBase = 5 * time.Millisecond
	resendMax  = 250 * time.Millisecond
)

// endpointLost fails every request with a batch in flight to addr.
func (f *frontend) endpointLost(ctx actor.Context, addr string) {
	for id, p := range f.pending {
		for part := range p.batches {
			if p.dest[part] == addr {
				f.finish(ctx, id, p, fmt.Errorf("%s partition %d: node at %s unreachable: %w", storage.SignalName(p.signal), part, addr, ErrNoRoute), true)
				break
			}
		}
	}
}

// finish answers a request and forgets it.
func (f *frontend) finish(ctx actor.Context, id uint64, p *pendingIngest, err error, retryable bool) {
	delete(f.pending, id)
	if p.timer != nil {
		p.timer.Stop()
	}
	r := &IngestResult{
		Accepted: p.result.Accepted, Rejected: p.result.Rejected,
		Reasons: p.result.Reasons, Message: p.message(),
		Err: err, Retryable: retryable,
	}
	if f.cfg.Late != nil {
		// A failed request may have been written in part.
		f.cfg.Late.Wrote(p.signal, p.result.Oldest)
	}
	if err == nil {
		f.m.ingested(p.signal, p.result.Accepted, time.Since(p.began))
	} else {
		f.m.refused(p.signal, p.result.Accepted)
	}
	if p.reply != nil {
		ctx.Send(p.reply, r)
	}
}
