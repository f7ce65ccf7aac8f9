package storage

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	bpb "github.com/dgraph-io/badger/v4/pb"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// windowDirLayout names a window directory by its start, in UTC.
const windowDirLayout = "2006-01-02T15"

// window is one Badger database holding one signal's records of one time
// window, and its group committer.
//
// Readers and writers hold a reference while they use the database;
// retention marks the window dropped (no new references), waits for the
// references to go, closes and deletes it.
type window struct {
	signal starlingpb.Signal
	start  int64 // unix seconds
	dir    string
	db     *badger.DB
	log    *slog.Logger

	commits chan *commitReq
	loopEnd chan struct{}

	mu      sync.Mutex
	refs    int
	dropped bool
	idle    chan struct{} // closed when dropped and refs reaches 0
}

// commitReq is one submission to a window's group committer: the entries of
// entries that belong to the window.
type commitReq struct {
	entries []byte
	n       int // entries of this window in entries
	records int
	done    func(error)
}

func windowName(start int64) string {
	return time.Unix(start, 0).UTC().Format(windowDirLayout)
}

func parseWindowName(name string) (int64, error) {
	t, err := time.Parse(windowDirLayout, name)
	if err != nil {
		return 0, err
	}
	return t.Unix(), nil
}

func openWindow(cfg *Config, sig starlingpb.Signal, start int64, dir string, m *metrics) (*window, error) {
	log := cfg.Logger.With("signal", signalName(sig), "window", windowName(start))
	opts := badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithCompression(options.ZSTD).
		WithZSTDCompressionLevel(1).
		WithBlockSize(cfg.BlockSize).
		WithMemTableSize(cfg.MemTableSize).
		WithNumMemtables(cfg.NumMemtables).
		WithNumLevelZeroTables(8).
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
	// Managed mode: versions are ours (every entry is written at
	// entryVersion by the group committer; see commit), reads see all.
	db, err := badger.OpenManaged(opts)
	if err != nil {
		return nil, fmt.Errorf("open %s window %s: %w", signalName(sig), windowName(start), err)
	}
	w := &window{
		signal: sig, start: start, dir: dir, db: db, log: log,
		commits: make(chan *commitReq, cfg.CommitQueue),
		loopEnd: make(chan struct{}),
		idle:    make(chan struct{}),
	}
	go w.commitLoop(cfg.MaxCommitEntries, m)
	return w, nil
}

// acquire takes a reference; it fails once the window is dropped.
func (w *window) acquire() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dropped {
		return false
	}
	w.refs++
	return true
}

func (w *window) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.refs--
	if w.refs < 0 {
		panic("BUG: window reference released twice")
	}
	if w.dropped && w.refs == 0 {
		close(w.idle)
	}
}

// drop stops new references and returns a channel closed when the last one
// is released.
func (w *window) drop() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.dropped {
		w.dropped = true
		if w.refs == 0 {
			close(w.idle)
		}
	}
	return w.idle
}

// close stops the committer (callers guarantee no submission is pending or
// will come) and closes the database.
func (w *window) close() error {
	close(w.commits)
	<-w.loopEnd
	return w.db.Close()
}

// entryVersion is the Badger version of every entry. Writes are
// idempotent (keys derive from content), so a key written twice carries the
// same value and no version ordering is needed; one fixed version lets the
// committer write straight to Badger's write queue in key order.
const entryVersion = 1

// commitsInFlight is how many group commits may be in Badger's write
// pipeline at once: the next group is sorted while the last is inserted.
const commitsInFlight = 2

// commitLoop is the group committer: it takes every submission waiting in
// the queue (up to maxEntries entries), sorts their entries by key and
// hands them to Badger's write queue in that order (sorted inserts into
// the memtable's skiplist touch memory the previous insert just touched:
// about twice as fast as random order), then answers all of them once
// Badger has written them. Up to commitsInFlight groups overlap.
func (w *window) commitLoop(maxEntries int, m *metrics) {
	defer close(w.loopEnd)
	slots := make(chan struct{}, commitsInFlight)
	var inflight sync.WaitGroup
	defer inflight.Wait()
	for req := range w.commits {
		group := []*commitReq{req}
		records, queued := req.records, req.n
	drain:
		for queued < maxEntries {
			select {
			case r, ok := <-w.commits:
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
		kvs, err := w.sortedEntries(group, queued)
		var wait func() error
		if err == nil {
			wait, err = w.send(kvs)
		}
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			if err == nil {
				err = wait()
			}
			<-slots
			if err != nil {
				w.log.Error("group commit failed", "submissions", len(group), "err", err)
			}
			m.observeCommit(w.signal, len(group), len(kvs), records, time.Since(began))
			for _, r := range group {
				r.done(err)
			}
		}()
	}
}

// sortedEntries collects the group's entries of this window, sorted by key.
func (w *window) sortedEntries(group []*commitReq, n int) ([]*bpb.KV, error) {
	kvs := make([]*bpb.KV, 0, n)
	for _, r := range group {
		it := NewEntryIter(r.entries)
		for it.Next() {
			if e := it.Entry(); e.Window == w.start {
				kvs = append(kvs, &bpb.KV{Key: e.Key, Value: e.Value, Version: entryVersion})
			}
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(kvs, func(a, b *bpb.KV) int { return bytes.Compare(a.Key, b.Key) })
	return kvs, nil
}

// send queues kvs for Badger's writer (split where Badger's batch limits
// require) and returns a function waiting for them to be written.
func (w *window) send(kvs []*bpb.KV) (func() error, error) {
	l := w.db.NewKVLoader(commitsInFlight)
	for _, kv := range kvs {
		if err := l.Set(kv); err != nil {
			return nil, fmt.Errorf("write %s window %s: %w", signalName(w.signal), windowName(w.start), err)
		}
	}
	return func() error {
		if err := l.Finish(); err != nil {
			return fmt.Errorf("commit %s window %s: %w", signalName(w.signal), windowName(w.start), err)
		}
		return nil
	}, nil
}

func signalName(s starlingpb.Signal) string {
	switch s {
	case starlingpb.Signal_SIGNAL_TRACES:
		return "traces"
	case starlingpb.Signal_SIGNAL_LOGS:
		return "logs"
	case starlingpb.Signal_SIGNAL_METRICS:
		return "metrics"
	}
	return "unknown"
}

// SignalName is the lower-case name of a signal, as used in paths, metrics
// and partition names.
func SignalName(s starlingpb.Signal) string { return signalName(s) }

// badgerLogger routes Badger's logs to slog; its chatty info lines go to
// debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(fmt.Sprintf(f, a...)) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.l.Debug(fmt.Sprintf(f, a...)) }
