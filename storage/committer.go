package storage

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	bpb "github.com/dgraph-io/badger/v4/pb"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// entryVersion is the Badger version of every entry but span groups (see
// groupVersion). Writes are idempotent (keys derive from content), so a key
// written twice carries the same value and no version ordering is needed;
// fixed versions let the committer write straight to Badger's write queue
// in key order.
const entryVersion = 1

// commitsInFlight is how many group commits of a shard may be in Badger's
// write pipeline at once: the next group is sorted while the last is
// inserted.
const commitsInFlight = 1

// shard is one Badger database of a window and its group committer.
type shard struct {
	index   int
	w       *window
	db      *badger.DB
	commits chan *commitReq
	loopEnd chan struct{}
	markers nameMarkers // the metric names its partitions hold, as far as asked
	cache   readCache   // select answers and chunk lists of its partitions
	blooms  traceBlooms // trace IDs and terms of its partitions (traces), as far as asked

	// clock is set for databases whose versions are a clock (metrics, see
	// versionClock): version is the last one handed out.
	clock   bool
	version atomic.Uint64
}

// Metrics databases use Badger versions as a clock: every submission to a
// shard's committer (and every loaded snapshot chunk) is written at a
// version above all before it, and the discard timestamp follows, so a
// rewritten chunk or a deleted write-through record shadows what it
// replaces and compaction reclaims the old version. Trace and log
// databases keep fixed versions (span groups are versions of one key).
func versionClock(sig starlingpb.Signal) bool { return sig == starlingpb.Signal_SIGNAL_METRICS }

// nextVersion returns a version above every version written before.
func (sh *shard) nextVersion() uint64 { return sh.version.Add(1) }

func openShard(cfg *Config, w *window, index int, fresh bool, m *metrics) (*shard, error) {
	opts := badger.DefaultOptions(filepath.Join(w.dir, strconv.Itoa(index))).
		WithLogger(badgerLogger{w.log}).
		WithCompression(options.ZSTD).
		WithZSTDCompressionLevel(1).
		WithBlockSize(cfg.BlockSize).
		WithMemTableSize(cfg.MemTableSize).
		WithNumMemtables(cfg.NumMemtables).
		WithNumLevelZeroTables(cfg.LevelZeroTables).
		WithNumLevelZeroTablesStall(32).
		WithBaseTableSize(8 << 20).
		WithBaseLevelSize(64 << 20).
		WithBlockCacheSize(cfg.BlockCacheSize).
		WithIndexCacheSize(0).
		WithNumCompactors(cfg.NumCompactors).
		WithDetectConflicts(false).
		WithSyncWrites(cfg.SyncWrites).
		WithMetricsEnabled(false).
		WithNumVersionsToKeep(1).
		// Badger refuses a value threshold above its batch size (15% of
		// the memtable); small memtables need a smaller threshold.
		WithValueThreshold(min(1<<20, cfg.MemTableSize*15/100))
	if w.space == spaceRecords {
		// Records live a few hours and are deleted once flushed into
		// chunks: their values go to the value log, written once, and the
		// tables (compacted over and over) hold only keys and pointers;
		// compressing them costs more than the disk it saves. The value
		// log is never garbage collected: a records window whose records
		// are all deleted is removed whole (dropEmptiedRecords). Badger's
		// value log GC could bring a deleted record back: its rewrite
		// looks a value up at the value's own version, below the
		// deletion, and writes it back while a compaction may purge the
		// deletion marker.
		opts = opts.WithCompression(options.None).
			WithValueThreshold(recordValueThreshold).
			WithValueLogFileSize(recordValueLogFileSize).
			WithMemTableSize(min(cfg.MemTableSize, recordMemTableSize))
	}
	// Managed mode: versions are ours (every entry is written at
	// entryVersion by the group committer), reads see all.
	db, err := badger.OpenManaged(opts)
	if err != nil {
		return nil, fmt.Errorf("shard %d: %w", index, err)
	}
	sh := &shard{
		index: index, w: w, db: db,
		commits: make(chan *commitReq, cfg.CommitQueue),
		loopEnd: make(chan struct{}),
		clock:   versionClock(w.signal),
	}
	sh.blooms.builds, sh.blooms.fresh = cfg.bloomBuilds, fresh
	if sh.summarized() && !fresh {
		if err := sh.blooms.seeKept(db); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("shard %d: trace summaries: %w", index, err)
		}
	}
	if sh.clock {
		sh.version.Store(max(db.MaxVersion(), entryVersion))
		db.SetDiscardTs(sh.version.Load())
	}
	go sh.commitLoop(cfg.MaxCommitEntries, m)
	return sh, nil
}

// owns reports whether an entry belongs to this shard.
func (sh *shard) owns(e Entry) bool {
	p, _ := keyPartition(e.Key)
	return entryWindow(e, sh.w.recordsWindow) == sh.w.start && int(p)%len(sh.w.shards) == sh.index && spaceOfKind(e.Key[partLen]) == sh.w.space
}

// close stops the committer (callers guarantee no submission is pending or
// will come) and closes the database.
func (sh *shard) close() error {
	if sh.commits != nil {
		close(sh.commits)
		<-sh.loopEnd
	}
	var err error
	if sh.summarized() {
		// Kept for the next start, which then reads instead of building.
		if err = sh.blooms.keepAll(sh.db, false); err != nil {
			err = fmt.Errorf("shard %d: keep trace summaries: %w", sh.index, err)
		}
	}
	return errors.Join(err, sh.db.Close())
}

// commitLoop is the group committer: it takes every submission waiting in
// the queue (up to maxEntries entries), sorts their entries by key and
// hands them to Badger's write queue in that order (sorted inserts into
// the memtable's skiplist touch memory the previous insert just touched:
// about twice as fast as random order), then answers all of them once
// Badger has written them. Up to commitsInFlight groups overlap.
func (sh *shard) commitLoop(maxEntries int, m *metrics) {
	defer close(sh.loopEnd)
	slots := make(chan struct{}, commitsInFlight)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for req := range sh.commits {
		group := []*commitReq{req}
		records, queued := req.records, req.n
	drain:
		for queued < maxEntries {
			select {
			case r, ok := <-sh.commits:
				if !ok {
					break drain
				}
				group = append(group, r)
				records += r.records
				queued += r.n
			default:
				break drain
			}
		}
		slots <- struct{}{}
		began := time.Now()
		for _, r := range group {
			m.commitWait.WithLabelValues(signalName(sh.w.signal)).Observe(began.Sub(r.queued).Seconds())
		}
		kvs, err := sh.sortedEntries(group, queued)
		marks, indexed := sh.cachedWrites(kvs)
		sh.markers.noteWrites(marks)
		sh.cache.noteWrites(indexed)
		kvs = append(sh.noteTraceWrites(kvs, true), kvs...)
		var wait func() error
		if err == nil {
			wait, err = sh.send(kvs)
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			if err == nil {
				err = wait()
			}
			// A partition drop (DropPrefix) blocks the shard's writes for
			// a moment: write the group again once it is over (writes are
			// idempotent).
			for retry := 0; errors.Is(err, badger.ErrBlockedWrites) && retry < blockedRetries; retry++ {
				time.Sleep(blockedWait)
				if wait, err = sh.send(kvs); err == nil {
					err = wait()
				}
			}
			// Once more, now that Badger has them, and before any writer
			// hears so (see markers.go, readcache.go): a reader told of the
			// write must not be answered from memory read before it landed.
			sh.markers.noteWrites(marks)
			sh.cache.noteWrites(indexed)
			sh.noteTraceWrites(kvs, false)
			<-slots
			if err != nil {
				sh.w.log.Error("group commit failed", "shard", sh.index, "submissions", len(group), "err", err)
			}
			if err == nil && sh.clock {
				sh.db.SetDiscardTs(sh.version.Load())
			}
			m.observeCommit(sh.w.signal, len(group), len(kvs), records, time.Since(began))
			for _, r := range group {
				r.done(err)
			}
		}()
	}
}

// The records space's value log: values from this size on go to it (a
// record is a few hundred bytes to a few KiB), in files of this size.
const (
	recordValueThreshold   = 64
	recordValueLogFileSize = 64 << 20
	// Its memtables hold keys and value pointers only.
	recordMemTableSize = 8 << 20
)

// How long a group commit waits out a shard whose writes are blocked.
const (
	blockedWait    = 10 * time.Millisecond
	blockedRetries = 3000 // 30 s
)

// deleteMeta is Badger's meta byte of a deletion marker (bitDelete).
var deleteMeta = []byte{1}

// sortedEntries collects the group's entries of this shard, sorted by key
// (a key in two submissions: the later one's last, at a higher version
// where versions are a clock).
func (sh *shard) sortedEntries(group []*commitReq, n int) ([]*bpb.KV, error) {
	kvs := make([]*bpb.KV, 0, n)
	for _, r := range group {
		var clockVersion uint64
		if sh.clock {
			clockVersion = sh.nextVersion()
		}
		it := NewEntryIter(r.entries)
		for it.Next() {
			if e := it.Entry(); sh.owns(e) {
				v := uint64(entryVersion)
				switch {
				case sh.clock:
					v = clockVersion
				case e.Key[partLen] == kindSpan:
					v = groupVersion(e.Value)
				}
				kv := &bpb.KV{Key: e.Key, Value: e.Value, Version: v}
				if e.Delete {
					kv.Meta = deleteMeta
				}
				kvs = append(kvs, kv)
			}
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(kvs, func(a, b *bpb.KV) int { return bytes.Compare(a.Key, b.Key) })
	return kvs, nil
}

// cachedWrites returns the keys of the name markers kvs write and the
// partitions whose keys of kinds the read cache holds (series index keys
// of any space, chunks) kvs write or delete; none outside metrics.
func (sh *shard) cachedWrites(kvs []*bpb.KV) (marks [][]byte, indexed []uint32) {
	if sh.w.signal != starlingpb.Signal_SIGNAL_METRICS {
		return nil, nil
	}
	for _, kv := range kvs {
		if len(kv.Key) <= headerLen || !isCachedKind(kv.Key[partLen]) {
			continue
		}
		if isMarkerKind(kv.Key[partLen]) && kv.Meta == nil {
			marks = append(marks, kv.Key)
		}
		if p, _ := keyPartition(kv.Key); len(indexed) == 0 || indexed[len(indexed)-1] != p {
			indexed = append(indexed, p) // kvs are sorted: a partition's keys are together
		}
	}
	return marks, indexed
}

// noteTraceWrites tells a traces shard's summaries of kvs; before the
// group goes to Badger it returns the deletions of kept summaries to send
// ahead of kvs (tracesummary.go).
func (sh *shard) noteTraceWrites(kvs []*bpb.KV, before bool) []*bpb.KV {
	if sh.summarized() {
		return sh.blooms.noteWrites(kvs, before)
	}
	return nil
}

// summarized reports whether the shard keeps trace summaries.
func (sh *shard) summarized() bool {
	return sh.w.signal == starlingpb.Signal_SIGNAL_TRACES && sh.w.space == spaceMain
}

// send queues kvs for Badger's writer (split where Badger's batch limits
// require) and returns a function waiting for them to be written.
func (sh *shard) send(kvs []*bpb.KV) (func() error, error) {
	l := sh.db.NewKVLoader(commitsInFlight)
	for _, kv := range kvs {
		if err := l.Set(kv); err != nil {
			return nil, sh.errorf("write", err)
		}
	}
	return func() error {
		if err := l.Finish(); err != nil {
			return sh.errorf("commit", err)
		}
		return nil
	}, nil
}

func (sh *shard) errorf(what string, err error) error {
	return fmt.Errorf("%s %s window %s shard %d: %w", what, signalName(sh.w.signal), windowName(sh.w.start), sh.index, err)
}
