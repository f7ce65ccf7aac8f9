package actors

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// A handoff copies one partition from a node that has it to a node that is
// to hold it: the sender streams the partition's snapshot (every key
// version, window by window) in chunks of at most HandoffConfig.ChunkBytes,
// with at most Credit chunks unacknowledged and at most MaxRate bytes per
// second; a receiver actor on the target loads each chunk in order and
// acknowledges it. Loading is idempotent, so a handoff that fails can be
// started again from the beginning.

// HandoffActorName is the actor on every node that accepts handoffs.
const HandoffActorName = "handoff"

// HandoffConfig tunes the sender.
type HandoffConfig struct {
	// ChunkBytes bounds one chunk (under the remote's message limit).
	ChunkBytes int
	// Credit is the number of chunks in flight.
	Credit int
	// MaxRate bounds the stream in bytes per second (0: no bound).
	MaxRate int64
	// AckTimeout bounds the wait for one acknowledgement.
	AckTimeout time.Duration
}

// DefaultHandoffConfig streams 1 MiB chunks, 8 in flight, at most 64 MiB/s.
func DefaultHandoffConfig() HandoffConfig {
	return HandoffConfig{ChunkBytes: 1 << 20, Credit: 8, MaxRate: 64 << 20, AckTimeout: 30 * time.Second}
}

// Validate reports the first invalid field.
func (c HandoffConfig) Validate() error {
	switch {
	case c.ChunkBytes < 1<<10 || c.ChunkBytes > 4<<20:
		return fmt.Errorf("handoff chunk: %d bytes is outside 1 KiB..4 MiB", c.ChunkBytes)
	case c.Credit < 1:
		return fmt.Errorf("handoff credit: %d must be at least 1", c.Credit)
	case c.MaxRate < 0:
		return fmt.Errorf("handoff max rate: %d is negative", c.MaxRate)
	case c.AckTimeout <= 0:
		return fmt.Errorf("handoff ack timeout: %s must be positive", c.AckTimeout)
	}
	return nil
}

// HandoffProgress is how far a handoff got.
type HandoffProgress struct {
	MigrationID string
	Signal      starlingpb.Signal
	Partition   uint32
	Bytes       int64 // keys and values acknowledged by the target
	Keys        int
	Chunks      int
	Estimate    int64 // estimated total bytes (0: unknown)
	Elapsed     time.Duration
	Done        bool
}

// Rate is the bytes per second so far.
func (p HandoffProgress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Bytes) / p.Elapsed.Seconds()
}

// ETA estimates the time left (0 when done or unknown).
func (p HandoffProgress) ETA() time.Duration {
	r := p.Rate()
	if p.Done || r <= 0 || p.Estimate <= p.Bytes {
		return 0
	}
	return time.Duration(float64(p.Estimate-p.Bytes) / r * float64(time.Second))
}

var (
	// ErrHandoffRefused is returned when the target refuses a handoff.
	ErrHandoffRefused = errors.New("handoff refused by the target")
	// ErrHandoffTimeout is returned when the target stops acknowledging.
	ErrHandoffTimeout = errors.New("handoff target stopped acknowledging")
)

// SendPartition streams partition p of sig from store to the handoff actor
// at target (an actor address) and returns once the target loaded all of
// it. progress, if set, is called after every acknowledged chunk, from the
// calling goroutine. Cancelling ctx stops the stream.
func SendPartition(ctx context.Context, system *actor.ActorSystem, store *storage.Store, cfg HandoffConfig,
	migrationID string, sig starlingpb.Signal, p uint32, epoch uint64, target string, progress func(HandoffProgress)) (HandoffProgress, error) {
	prog := HandoffProgress{MigrationID: migrationID, Signal: sig, Partition: p, Estimate: store.PartitionSize(sig, p)}
	if err := cfg.Validate(); err != nil {
		return prog, err
	}
	// A short-lived actor receives the target's answers for this goroutine.
	inbox := make(chan any, cfg.Credit+2)
	collector := system.Root.SpawnPrefix(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *starlingpb.HandoffReady:
			inbox <- readyFrom{ready: m, receiver: c.Sender()}
		case *starlingpb.HandoffAck:
			inbox <- m
		}
	}), "handoff-send")
	defer system.Root.Stop(collector)

	began := time.Now()
	system.Root.RequestWithCustomSender(actor.NewPID(target, HandoffActorName),
		&starlingpb.HandoffOpen{Format: storage.EntryFormat, MigrationId: migrationID, Signal: sig, Partition: p, Epoch: epoch}, collector)
	var receiver *actor.PID
	select {
	case m := <-inbox:
		r, ok := m.(readyFrom)
		if !ok || r.ready.MigrationId != migrationID {
			return prog, fmt.Errorf("handoff %s: unexpected answer %T to open", migrationID, m)
		}
		if r.receiver == nil && r.ready.Error == "" {
			return prog, fmt.Errorf("handoff %s: the target answered without a receiver", migrationID)
		}
		if r.ready.Error != "" {
			return prog, fmt.Errorf("handoff %s: %s: %w", migrationID, r.ready.Error, ErrHandoffRefused)
		}
		receiver = r.receiver
	case <-time.After(cfg.AckTimeout):
		return prog, fmt.Errorf("handoff %s: no answer to open from %s: %w", migrationID, target, ErrHandoffTimeout)
	case <-ctx.Done():
		return prog, ctx.Err()
	}

	type sent struct {
		bytes int64
		keys  int
	}
	inFlight := map[uint64]sent{}
	var streamed int64
	waitAck := func() error {
		select {
		case m := <-inbox:
			ack, ok := m.(*starlingpb.HandoffAck)
			if !ok {
				return nil
			}
			if ack.Error != "" {
				return fmt.Errorf("target failed to load chunk %d: %s", ack.Seq, ack.Error)
			}
			s, ok := inFlight[ack.Seq]
			if !ok {
				return nil
			}
			delete(inFlight, ack.Seq)
			prog.Bytes += s.bytes
			prog.Keys += s.keys
			prog.Chunks++
			prog.Elapsed = time.Since(began)
			if progress != nil {
				progress(prog)
			}
			return nil
		case <-time.After(cfg.AckTimeout):
			return ErrHandoffTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	_, err := store.StreamPartition(ctx, sig, p, cfg.ChunkBytes, func(c *starlingpb.SnapshotChunk) error {
		for len(inFlight) >= cfg.Credit {
			if err := waitAck(); err != nil {
				return err
			}
		}
		var s sent
		for i, kv := range c.Kvs {
			s.bytes += int64(len(kv.Key) + len(kv.Value))
			if i == 0 || string(kv.Key) != string(c.Kvs[i-1].Key) {
				s.keys++
			}
		}
		// Rate limit: never ahead of MaxRate since the start.
		streamed += s.bytes
		if cfg.MaxRate > 0 {
			if ahead := time.Duration(float64(streamed)/float64(cfg.MaxRate)*float64(time.Second)) - time.Since(began); ahead > 0 {
				select {
				case <-time.After(ahead):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		inFlight[c.Seq] = s
		system.Root.RequestWithCustomSender(receiver, &starlingpb.HandoffChunk{MigrationId: migrationID, Chunk: c}, collector)
		return nil
	})
	for err == nil && len(inFlight) > 0 {
		err = waitAck()
	}
	prog.Elapsed = time.Since(began)
	if err != nil {
		return prog, fmt.Errorf("handoff %s of %s partition %d to %s: %w", migrationID, storage.SignalName(sig), p, target, err)
	}
	prog.Done = true
	if progress != nil {
		progress(prog)
	}
	return prog, nil
}

type readyFrom struct {
	ready    *starlingpb.HandoffReady
	receiver *actor.PID
}

// handoffActor accepts handoffs: it spawns one receiver per migration.
type handoffActor struct {
	store *storage.Store
	idle  time.Duration
	guard *PartitionGuard // nil: nothing is ever dropped
}

// StartHandoffActor spawns the node's handoff actor. A receiver that gets
// no chunk for idle gives up.
func StartHandoffActor(system *actor.ActorSystem, store *storage.Store, idle time.Duration, guard *PartitionGuard) (*actor.PID, error) {
	pid, err := system.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return &handoffActor{store: store, idle: idle, guard: guard} }), HandoffActorName)
	if err != nil {
		return nil, fmt.Errorf("spawn handoff actor: %w", err)
	}
	return pid, nil
}

func (a *handoffActor) Receive(ctx actor.Context) {
	open, ok := ctx.Message().(*starlingpb.HandoffOpen)
	if !ok || ctx.Sender() == nil {
		return
	}
	refuse := func(reason string) {
		ctx.Send(ctx.Sender(), &starlingpb.HandoffReady{MigrationId: open.MigrationId, Error: reason})
	}
	if open.Format != storage.EntryFormat {
		refuse(fmt.Sprintf("entry format %d: %v", open.Format, storage.ErrUnknownFormat))
		return
	}
	if !a.guard.BeginReceive(open.Signal, open.Partition) {
		refuse("the partition's old data is being dropped here; try again")
		return
	}
	props := actor.PropsFromProducer(func() actor.Actor {
		return &handoffReceiver{store: a.store, open: open, sender: ctx.Sender(), idle: a.idle, guard: a.guard}
	})
	if _, err := ctx.SpawnNamed(props, open.MigrationId); err != nil {
		a.guard.EndReceive(open.Signal, open.Partition)
		refuse(fmt.Sprintf("receive: %v", err))
	}
}

// handoffReceiver loads one migration's chunks in order on a worker
// goroutine (the mailbox never waits for the disk) and acknowledges each.
type handoffReceiver struct {
	store  *storage.Store
	open   *starlingpb.HandoffOpen
	sender *actor.PID
	idle   time.Duration
	work   chan *starlingpb.SnapshotChunk
	next   uint64
	guard  *PartitionGuard
}

type handoffLoaded struct{ last bool }

func (r *handoffReceiver) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.work = make(chan *starlingpb.SnapshotChunk, 64)
		self, system, sender, id := ctx.Self(), ctx.ActorSystem(), r.sender, r.open.MigrationId
		go func() {
			defer r.guard.EndReceive(r.open.Signal, r.open.Partition)
			for c := range r.work {
				ack := &starlingpb.HandoffAck{MigrationId: id, Seq: c.Seq}
				if _, err := r.store.LoadSnapshot(c); err != nil {
					ack.Error = err.Error()
				}
				system.Root.Send(sender, ack)
				if c.Last || ack.Error != "" {
					system.Root.Send(self, &handoffLoaded{last: true})
				}
			}
		}()
		ctx.SetReceiveTimeout(r.idle)
		ctx.Request(r.sender, &starlingpb.HandoffReady{MigrationId: id}) // its sender is the receiver
	case *starlingpb.HandoffChunk:
		c := m.GetChunk()
		switch {
		case m.MigrationId != r.open.MigrationId || c == nil:
			return
		case c.Signal != r.open.Signal || c.Partition != r.open.Partition || c.Seq != r.next:
			ctx.Send(r.sender, &starlingpb.HandoffAck{MigrationId: r.open.MigrationId, Seq: c.Seq,
				Error: fmt.Sprintf("chunk %d of %v partition %d, want %d of %v partition %d", c.Seq, c.Signal, c.Partition, r.next, r.open.Signal, r.open.Partition)})
			ctx.Stop(ctx.Self())
			return
		}
		r.next++
		select {
		case r.work <- c:
		default:
			ctx.Send(r.sender, &starlingpb.HandoffAck{MigrationId: r.open.MigrationId, Seq: c.Seq, Error: "receiver queue full: sender ignores its credit"})
			ctx.Stop(ctx.Self())
		}
	case *handoffLoaded:
		ctx.Stop(ctx.Self())
	case *actor.ReceiveTimeout:
		ctx.Logger().Warn("handoff receiver idle, giving up", "migration", r.open.MigrationId, "idle", r.idle)
		ctx.Stop(ctx.Self())
	case *actor.Stopping:
		close(r.work)
	}
}
