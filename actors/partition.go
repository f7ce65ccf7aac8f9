package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/traceexec"
	"github.com/starling-otel/starling/storage"
)

// maxChunkBytes bounds one ResultChunk, under the remote's message limit.
const maxChunkBytes = 1 << 20

// partition owns one partition's key range on this node: it checks every
// write against its role and epoch, hands it to the store's group committer
// and acknowledges once it is committed; it runs reads on goroutines that
// answer the requester directly. It never waits for the disk inside
// Receive, except while the store's commit queue is full (backpressure).
//
// The store's group committer already drains every partition's pending
// batches into one Badger commit, so a partition submits each batch at once
// instead of buffering its own.
type partition struct {
	store   *storage.Store
	signal  starlingpb.Signal
	id      uint32
	epoch   uint64
	role    starlingpb.Role
	primary string // node id of the primary, for NotPrimary answers
	readTTL time.Duration
	m       *Metrics // nil in tests that do not count

	// reads are the reads in progress, cancelled by a CancelRead or
	// when the actor stops.
	reads map[readKey]context.CancelFunc

	// Replication (replication.go).
	log       *slog.Logger
	self      string                // this node's id
	row       *starlingpb.Partition // the table's row, as last assigned
	repl      ReplicationConfig
	pending   map[uint64]*replicatedWrite
	shrinkTo  map[uint64]shrinkTarget // write → its shrink proposal
	nextWrite uint64
	catchups  map[string]*catchUp // learner node → its catch-up (catchup.go)
	direct    atomic.Int64        // writes on the direct path not yet committed
	ticking   bool                // a catchUpTick is scheduled

	// Metrics partitions (metricshead.go).
	metricsCfg MetricsConfig
	mh         *metricsHead // nil for other signals
}

func (a *partition) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *starlingpb.WriteBatch:
		a.write(ctx, msg)
	case *starlingpb.ReadRequest:
		a.read(ctx, msg)
	case *starlingpb.CancelRead:
		a.cancelRead(ctx, msg)
	case *readOver:
		delete(a.reads, msg.key)
	case *starlingpb.WriteAck:
		if !a.learnerAcked(ctx, msg) {
			a.replicaAcked(ctx, msg)
		}
	case *catchUpStreamed:
		a.streamed(ctx, msg)
	case *catchUpJoined:
		a.joined(ctx, msg)
	case *catchUpTick:
		a.ticking = false
		a.reviewCatchUps(ctx)
	case *actor.Started:
		if a.signal == starlingpb.Signal_SIGNAL_METRICS {
			a.startHead(ctx)
		}
		a.reviewCatchUps(ctx)
	case *metricsTick:
		a.flushTick(ctx)
	case *flushOver:
		a.mh.flushing = false
	case *actor.Stopping:
		for key, cancel := range a.reads {
			cancel()
			delete(a.reads, key)
		}
		a.flushOnStop()
		a.stopCatchUps()
		// The copy moved away: the frontends send these writes again to
		// the partition's new primary (writes are idempotent).
		for id, w := range a.pending {
			w.timer.Stop()
			ctx.Send(w.sender, &starlingpb.NotPrimary{RequestId: w.requestID, Partition: a.ref(), Primary: a.primary})
			delete(a.pending, id)
		}
	case *localCommitted:
		if w := a.pending[msg.id]; w != nil {
			if msg.err != nil {
				a.finish(ctx, msg.id, msg.err)
				return
			}
			w.local = true
			a.settle(ctx, msg.id)
		}
	case *replicaDeadline:
		a.deadline(ctx, msg.id)
	case *shrinkDone:
		a.shrunk(ctx, msg)
	case *recheckExpired:
		if w := a.pending[msg.id]; w != nil && w.recheck != nil {
			a.finish(ctx, msg.id, w.recheck)
		}
	case *assignment:
		a.epoch, a.role, a.row = msg.epoch, msg.role, msg.row
		a.primary = msg.row.GetPrimary()
		a.headAssigned()
		a.reviewCatchUps(ctx)
		a.recheckAll(ctx)
	}
}

func (a *partition) ref() *starlingpb.PartitionRef {
	return &starlingpb.PartitionRef{Signal: a.signal, Id: a.id, Epoch: a.epoch}
}

func (a *partition) write(ctx actor.Context, b *starlingpb.WriteBatch) {
	sender := ctx.Sender()
	reply := func(err error, retryable bool) {
		ctx.Send(sender, &starlingpb.WriteAck{RequestId: b.RequestId, Partition: a.ref(), Error: err.Error(), Retryable: retryable})
	}
	switch {
	case b.GetPartition().GetSignal() != a.signal || b.GetPartition().GetId() != a.id:
		reply(fmt.Errorf("batch for %v/%d sent to %v/%d", b.GetPartition().GetSignal(), b.GetPartition().GetId(), a.signal, a.id), false)
		return
	case b.Format != storage.EntryFormat:
		reply(fmt.Errorf("entry format %d: %w", b.Format, storage.ErrUnknownFormat), false)
		return
	case b.Replicate:
		if _, err := storage.CheckEntries(b.Entries, a.id, a.store.WindowSeconds()); err != nil {
			reply(fmt.Errorf("check entries: %w", err), false)
			return
		}
		a.writeAsReplica(ctx, b)
		return
	case a.role != starlingpb.Role_ROLE_PRIMARY || b.GetPartition().GetEpoch() != a.epoch:
		ctx.Send(sender, &starlingpb.NotPrimary{RequestId: b.RequestId, Partition: a.ref(), Primary: a.primary})
		return
	}
	if _, err := storage.CheckEntries(b.Entries, a.id, a.store.WindowSeconds()); err != nil {
		reply(fmt.Errorf("check entries: %w", err), false)
		return
	}
	if n := len(a.row.GetInSync()); a.repl.MinInSync != nil && n < a.repl.MinInSync() {
		reply(fmt.Errorf("%s partition %d has %d in-sync copies: %w", storage.SignalName(a.signal), a.id, n, ErrBelowMinInSync), true)
		return
	}
	b, refused, err := a.limitSeries(b)
	if err != nil {
		reply(fmt.Errorf("series limits: %w", err), false)
		return
	}
	if replicas := a.replicas(); len(replicas) > 0 || len(a.catchups) > 0 {
		a.writeReplicated(ctx, b, replicas, refused)
		return
	}
	// With no replica to wait for, the commit is the acknowledgement: the
	// committer's callback answers the sender directly, sparing a hop
	// through this mailbox per batch.
	local, err := a.localEntries(b.Entries)
	if err != nil {
		reply(fmt.Errorf("records: %w", err), false)
		return
	}
	system, ref := ctx.ActorSystem(), a.ref()
	a.direct.Add(1)
	a.store.Apply(a.signal, local, int(b.Records), func(err error) {
		a.direct.Add(-1)
		ack := &starlingpb.WriteAck{RequestId: b.RequestId, Partition: ref, Records: b.Records}
		refused.annotate(ack)
		if err != nil {
			ack.Error = err.Error()
			ack.Retryable = !errors.Is(err, storage.ErrCorrupt) && !errors.Is(err, storage.ErrWrongPartition)
		}
		system.Root.Send(sender, ack)
	})
}

func (a *partition) read(ctx actor.Context, r *starlingpb.ReadRequest) {
	sender := ctx.Sender()
	system := ctx.ActorSystem()
	head := &starlingpb.ResultChunk{Format: storage.EntryFormat, QueryId: r.QueryId, Partition: a.ref()}
	if r.GetPartition().GetSignal() != a.signal || r.GetPartition().GetId() != a.id {
		head.Last, head.Error = true, "read sent to the wrong partition"
		ctx.Send(sender, head)
		return
	}
	if r.Format != storage.EntryFormat {
		head.Last, head.Error = true, fmt.Sprintf("entry format %d: %v", r.Format, storage.ErrUnknownFormat)
		ctx.Send(sender, head)
		return
	}
	if a.role != starlingpb.Role_ROLE_PRIMARY && a.row != nil && !slices.Contains(a.row.GetInSync(), a.self) {
		// Not an in-sync copy (a learner, or one shrunk away): it may miss
		// acknowledged writes; the coordinator asks the primary.
		ctx.Send(sender, &starlingpb.NotPrimary{RequestId: r.QueryId, Partition: a.ref(), Primary: a.primary})
		return
	}
	if a.m != nil {
		role := "replica"
		if a.role == starlingpb.Role_ROLE_PRIMARY {
			role = "primary"
		}
		a.m.reads.WithLabelValues(storage.SignalName(a.signal), role).Inc()
	}
	c, cancel := context.WithTimeout(context.Background(), a.readTTL)
	key := readKey{sender: sender.String(), query: r.QueryId}
	if a.reads == nil {
		a.reads = make(map[readKey]context.CancelFunc)
	}
	a.reads[key] = cancel
	self := ctx.Self()
	go func() {
		defer func() { system.Root.Send(self, &readOver{key: key}) }()
		defer cancel()
		out := &starlingpb.ResultChunk{Format: head.Format, QueryId: head.QueryId, Partition: head.Partition}
		if err := a.runRead(c, r, out); err != nil {
			if c.Err() != nil && errors.Is(err, context.Canceled) {
				return // the query went away: nobody reads an answer
			}
			out = head
			out.Error = err.Error()
		}
		sendChunks(out, func(c *starlingpb.ResultChunk) { system.Root.Send(sender, c) })
	}()
}

// readKey names a read in progress: its query's id and coordinator.
type readKey struct {
	sender string
	query  uint64
}

// readOver is a read goroutine's note that it is done.
type readOver struct{ key readKey }

// cancelRead cancels the read a CancelRead names, if it still runs.
func (a *partition) cancelRead(ctx actor.Context, msg *starlingpb.CancelRead) {
	if ctx.Sender() == nil {
		return
	}
	key := readKey{sender: ctx.Sender().String(), query: msg.QueryId}
	if cancel, ok := a.reads[key]; ok {
		cancel()
		delete(a.reads, key)
	}
}

func (a *partition) runRead(ctx context.Context, r *starlingpb.ReadRequest, out *starlingpb.ResultChunk) error {
	limit := int(r.Limit)
	switch q := r.Query.(type) {
	case *starlingpb.ReadRequest_TraceById:
		var id [16]byte
		if len(q.TraceById.TraceId) != len(id) {
			return errors.New("trace id must be 16 bytes")
		}
		copy(id[:], q.TraceById.TraceId)
		return a.store.ReadTrace(ctx, a.id, id, out)
	case *starlingpb.ReadRequest_TraceSearch:
		return a.store.SearchTraces(ctx, a.id, q.TraceSearch, r.StartUnixNano, r.EndUnixNano, limit, out)
	case *starlingpb.ReadRequest_LogSearch:
		return a.store.SearchLogs(ctx, a.id, q.LogSearch, r.StartUnixNano, r.EndUnixNano, limit, out)
	case *starlingpb.ReadRequest_SeriesSelect:
		return a.store.SelectSeries(ctx, a.id, q.SeriesSelect, limit, a.headForRead(), out)
	case *starlingpb.ReadRequest_LabelQuery:
		return a.store.LabelQuery(ctx, a.id, q.LabelQuery, out)
	case *starlingpb.ReadRequest_MetadataQuery:
		return a.store.ReadMetadata(ctx, a.id, q.MetadataQuery, out)
	case *starlingpb.ReadRequest_ExemplarQuery:
		return a.store.ReadExemplars(ctx, a.id, q.ExemplarQuery, out)
	case *starlingpb.ReadRequest_CardinalityQuery:
		return a.store.ReadCardinality(ctx, a.id, q.CardinalityQuery, a.headForRead(), out)
	case *starlingpb.ReadRequest_TraceqlSearch:
		return traceexec.Run(ctx, partitionTraces{store: a.store, p: a.id}, q.TraceqlSearch, r.StartUnixNano, r.EndUnixNano, limit, out)
	case *starlingpb.ReadRequest_Catalog:
		return a.store.ReadCatalog(ctx, a.id, q.Catalog, r.StartUnixNano, r.EndUnixNano, out)
	}
	return fmt.Errorf("unknown query %T", r.Query)
}

// sendChunks splits a result into chunks of at most maxChunkBytes of
// records, the last one flagged, and sends them in order.
func sendChunks(c *starlingpb.ResultChunk, send func(*starlingpb.ResultChunk)) {
	size := 0
	for _, r := range c.Records {
		size += len(r.Key) + len(r.Value)
	}
	for _, r := range c.Refs {
		size += len(r.Key) + len(r.Value)
	}
	if size <= maxChunkBytes {
		c.Last = true
		send(c)
		return
	}
	next := func() *starlingpb.ResultChunk {
		return &starlingpb.ResultChunk{Format: c.Format, QueryId: c.QueryId, Partition: c.Partition}
	}
	cur, n := next(), 0
	flush := func() {
		send(cur)
		cur, n = next(), 0
	}
	// Refs first, so a receiver can decode records as they come.
	for _, r := range c.Refs {
		if n > 0 && n+len(r.Key)+len(r.Value) > maxChunkBytes {
			flush()
		}
		cur.Refs = append(cur.Refs, r)
		n += len(r.Key) + len(r.Value)
	}
	for _, r := range c.Records {
		if n > 0 && n+len(r.Key)+len(r.Value) > maxChunkBytes {
			flush()
		}
		cur.Records = append(cur.Records, r)
		n += len(r.Key) + len(r.Value)
	}
	cur.TraceHits, cur.Names, cur.Last = c.TraceHits, c.Names, true
	cur.CatalogNames, cur.Truncated = c.CatalogNames, c.Truncated
	cur.TraceMatches, cur.TraceqlMetrics = c.TraceMatches, c.TraceqlMetrics
	cur.InspectedTraces, cur.InspectedBytes = c.InspectedTraces, c.InspectedBytes
	cur.More, cur.ResumeUnixNano = c.More, c.ResumeUnixNano
	send(cur)
}
