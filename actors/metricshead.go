package actors

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
)

// A metrics partition copy keeps a head: the samples of its open blocks,
// appended from every write's records before the write is committed. A
// flush loop turns blocks that are over into chunks (first commit) and then
// deletes their records (second commit), one flush at a time. Only a copy
// that serves reads (the primary, an in-sync replica) flushes: a learner
// being caught up keeps its records, since a snapshot may still bring
// records it has not seen; once in sync it replays every stored record
// into its head. See docs/metrics.md.

// MetricsConfig configures the heads of metrics partition copies.
type MetricsConfig struct {
	// Head configures each copy's head (block length, out-of-order window).
	Head tsdb.HeadConfig
	// FlushInterval is how often a copy looks for blocks to flush.
	FlushInterval time.Duration
	// RollupAfter is how old (by the clock) a flushed block's end must be
	// before a rollup pass writes its 5 m and 1 h rollups.
	RollupAfter time.Duration
	// RollupInterval is how often a copy runs a rollup pass.
	RollupInterval time.Duration
	// Limits admits the new series a primary writes (nil: no limit).
	Limits SeriesAdmitter
	// Heads gets the heads of the partitions this node is primary of
	// (nil: not kept).
	Heads *HeadSet
	// Flushes bounds the flushes running at once on the node, shared by
	// its partitions (nil: no bound).
	Flushes *FlushGate
}

// DefaultMetricsConfig is 2 h blocks (for a window they divide), a 10 min
// out-of-order window, a flush check every 10 s, and rollups of blocks
// older than 40 h (as Thanos' first downsampling) looked for every minute.
func DefaultMetricsConfig() MetricsConfig {
	return MetricsConfig{Head: tsdb.DefaultHeadConfig(), FlushInterval: 10 * time.Second, RollupAfter: 40 * time.Hour, RollupInterval: time.Minute}
}

// Validate reports the first invalid field.
func (c MetricsConfig) Validate() error {
	if c.FlushInterval <= 0 {
		return fmt.Errorf("metrics flush interval: %s must be positive", c.FlushInterval)
	}
	if c.RollupAfter < 0 || c.RollupInterval <= 0 {
		return fmt.Errorf("metrics rollups: after %s must not be negative, interval %s must be positive", c.RollupAfter, c.RollupInterval)
	}
	return c.Head.Validate()
}

// metricsHead is a metrics partition actor's head and flush state.
type metricsHead struct {
	head     *tsdb.Head
	writer   uint32 // this node's writer id in record keys
	readable bool   // serving reads (primary or in sync) when last assigned
	flushing bool
	rollupAt time.Time      // the next rollup pass is due
	flushes  sync.WaitGroup // the running flush goroutine
}

// Messages a metrics partition actor sends itself.
type (
	metricsTick struct{}
	flushOver   struct{}
)

// writerID is the 4-byte id a node writes into its record keys.
func writerID(node string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(node))
	return h.Sum32()
}

// startHead creates the head of a metrics partition copy and replays the
// stored records into it (a restart, or data that came by handoff).
func (a *partition) startHead(ctx actor.Context) {
	cfg := a.metricsCfg.Head
	cfg.Names = seriesNames{a.store, a.id}
	head, err := tsdb.NewHead(cfg)
	if err != nil {
		a.log.Error("metrics head", "partition", a.id, "err", err)
		return
	}
	a.mh = &metricsHead{head: head, writer: writerID(a.self), readable: a.readable()}
	a.replay()
	a.trackHead()
	a.scheduleTick(ctx)
}

// seriesNames finds the names records leave out in the partition's
// series definitions.
type seriesNames struct {
	store *storage.Store
	p     uint32
}

func (n seriesNames) MetricName(hash uint64) string { return n.store.SeriesName(n.p, hash) }

// readable reports whether this copy serves reads.
func (a *partition) readable() bool {
	return a.role == starlingpb.Role_ROLE_PRIMARY || slices.Contains(a.row.GetInSync(), a.self)
}

// replay appends every stored record of the partition to the head
// (appending a sample twice keeps one).
func (a *partition) replay() {
	began := time.Now()
	n, bad := 0, 0
	err := a.store.EachRecord(context.Background(), a.id, func(block int64, seq uint64, rec []byte) error {
		if err := a.mh.head.Append(block, seq, rec); err != nil {
			bad++
			return nil
		}
		n++
		return nil
	})
	if err != nil {
		a.log.Error("replay metrics records", "partition", a.id, "err", err)
	}
	if n > 0 || bad > 0 {
		st := a.mh.head.Stats()
		a.log.Info("replayed metrics records", "partition", a.id, "records", n, "corrupt", bad,
			"series", st.Series, "samples", st.Samples, "took", time.Since(began).Round(time.Millisecond))
	}
}

// headAssigned follows a new role: a copy that starts serving reads
// replays the records a snapshot brought.
func (a *partition) headAssigned() {
	if a.mh == nil {
		return
	}
	readable := a.readable()
	if readable && !a.mh.readable {
		a.replay()
	}
	a.mh.readable = readable
	a.trackHead()
}

// trackHead keeps the node's head set to the partitions it is primary of.
func (a *partition) trackHead() {
	if a.role == starlingpb.Role_ROLE_PRIMARY {
		a.metricsCfg.Heads.set(a.id, a.mh.head)
	} else {
		a.metricsCfg.Heads.set(a.id, nil)
	}
}

// localEntries returns the entries a metrics copy commits for a batch:
// its records completed with this copy's sequence and writer, their
// samples appended to the head. Other signals commit entries as they are.
func (a *partition) localEntries(entries []byte) ([]byte, error) {
	if a.mh == nil {
		return entries, nil
	}
	head := a.mh.head
	return storage.CompleteRecords(entries, a.mh.writer, head.NextSeq, head.Append)
}

func (a *partition) scheduleTick(ctx actor.Context) {
	self, system := ctx.Self(), ctx.ActorSystem()
	time.AfterFunc(a.metricsCfg.FlushInterval, func() { system.Root.Send(self, &metricsTick{}) })
}

// flushTick starts a flush of the blocks that are due, if none runs.
func (a *partition) flushTick(ctx actor.Context) {
	defer a.scheduleTick(ctx)
	if a.mh == nil || a.mh.flushing || !a.mh.readable {
		return
	}
	blocks := a.mh.head.Due(false)
	now := time.Now()
	rollup := !now.Before(a.mh.rollupAt)
	if len(blocks) == 0 && !rollup {
		return
	}
	if rollup {
		a.mh.rollupAt = now.Add(a.metricsCfg.RollupInterval)
	}
	a.mh.flushing = true
	a.mh.flushes.Add(1)
	self, system := ctx.Self(), ctx.ActorSystem()
	go func() {
		defer a.mh.flushes.Done()
		a.metricsCfg.Flushes.enter()
		defer a.metricsCfg.Flushes.leave()
		a.flushBlocks(context.Background(), blocks)
		if rollup {
			a.rollupPass(context.Background())
		}
		system.Root.Send(self, &flushOver{})
	}()
}

// rollupPass writes the rollups of the flushed blocks older than
// RollupAfter that have none. Runs on the flush goroutine.
func (a *partition) rollupPass(ctx context.Context) {
	upTo := min(a.metricsCfg.Head.Now().Add(-a.metricsCfg.RollupAfter).UnixMilli(), a.mh.head.MinBlockStart())
	for {
		began := time.Now()
		entries, st, err := a.store.RollupEntries(ctx, a.id, upTo)
		if err == nil && len(entries) > 0 {
			err = a.applyWait(ctx, entries)
		}
		if err != nil {
			a.log.Error("metrics rollups", "partition", a.id, "err", err)
			return
		}
		if st.Blocks == 0 {
			return
		}
		if a.m != nil {
			a.m.observeRollup(st, time.Since(began))
		}
	}
}

// flushBlocks flushes blocks in order: chunks first, the block out of the
// head, then its records deleted. A block whose chunks fail to commit goes
// back to the head and is due again at the next tick. Runs on a goroutine
// of its own (or in Stopping); only reads the actor's immutable fields.
func (a *partition) flushBlocks(ctx context.Context, blocks []*tsdb.Block) {
	head := a.mh.head
	for _, b := range blocks {
		began := time.Now()
		entries, st, err := a.store.FlushEntries(ctx, a.id, b)
		if err == nil && len(entries) > 0 {
			err = a.applyWait(ctx, entries)
		}
		if err != nil {
			head.Unflushed(b)
			a.log.Error("flush metrics block", "partition", a.id, "block", time.UnixMilli(b.Start).UTC(), "err", err)
			continue
		}
		head.Flushed(b)
		if a.m != nil {
			a.m.observeFlush(st, time.Since(began))
		}
		dels, err := a.store.RecordDeletes(a.id, b.Start, b.Cut())
		if err == nil && len(dels) > 0 {
			err = a.applyWait(ctx, dels)
		}
		if err != nil {
			// The records stay: replayed at the next start, they merge
			// into the chunks again.
			a.log.Warn("delete flushed metrics records", "partition", a.id, "block", time.UnixMilli(b.Start).UTC(), "err", err)
		}
	}
}

// applyWait commits entries and waits for the commit, or for ctx: a
// commit given up on may still land (flushes are idempotent).
func (a *partition) applyWait(ctx context.Context, entries []byte) error {
	done := make(chan error, 1)
	a.store.Apply(a.signal, entries, 0, func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopFlushTimeout bounds the flush of a stopping copy: what it does not
// flush in time stays in records, replayed at the next start.
const stopFlushTimeout = 10 * time.Second

// flushOnStop flushes every block of the head before the actor stops, so
// a clean stop leaves chunks and no records behind.
func (a *partition) flushOnStop() {
	if a.mh == nil {
		return
	}
	a.metricsCfg.Heads.set(a.id, nil)
	ctx, cancel := context.WithTimeout(context.Background(), stopFlushTimeout)
	defer cancel()
	running := make(chan struct{})
	go func() { a.mh.flushes.Wait(); close(running) }()
	select {
	case <-running:
	case <-ctx.Done():
		a.log.Warn("metrics flush still running at stop; its blocks stay in records", "partition", a.id)
		return
	}
	if blocks := a.mh.head.Due(true); len(blocks) > 0 {
		a.flushBlocks(ctx, blocks)
	}
}

// Head returns the head for reads (nil for other signals).
func (a *partition) headForRead() *tsdb.Head {
	if a.mh == nil {
		return nil
	}
	return a.mh.head
}
