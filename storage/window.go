package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// windowDirLayout names a window directory by its start, in UTC.
const windowDirLayout = "2006-01-02T15"

// window holds one signal's records of one time window: a few Badger
// databases (shards), each with its own group committer. Partition p lives
// in shard p % len(shards), so a partition is still one key range of one
// database, while the shards' writers run in parallel (Badger inserts into
// its memtable on a single goroutine per database).
//
// Readers and writers hold a reference while they use the window;
// retention marks the window dropped (no new references), waits for the
// references to go, closes and deletes it.
type window struct {
	signal starlingpb.Signal
	space  space
	start  int64 // unix seconds
	dir    string
	log    *slog.Logger
	shards []*shard
	// recordsWindow is the records windows' length in seconds (see
	// entryWindow).
	recordsWindow int64
	opened        time.Time
	// format is the window's index layout (windowformat.go); formatMu
	// orders its changes.
	format   atomic.Int32
	formatMu sync.Mutex

	mu      sync.Mutex
	refs    int
	dropped bool
	idle    chan struct{} // closed when dropped and refs reaches 0
}

// commitReq is one submission to a shard's group committer: the entries of
// entries that belong to the shard's window and partitions.
type commitReq struct {
	entries []byte
	n       int // entries for this shard in entries
	records int
	queued  time.Time
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

// openWindow opens (or creates) a window directory. An existing window
// keeps the number of shards it was created with; a new one gets
// cfg.Shards.
func openWindow(cfg *Config, sig starlingpb.Signal, sp space, start int64, dir string, m *metrics) (w *window, err error) {
	n, err := shardCount(dir)
	if err != nil {
		return nil, fmt.Errorf("open %s window %s: %w", sp.name(sig), windowName(start), err)
	}
	format := int32(windowFormat)
	fresh := n == 0 // created now: no shard holds anything yet
	if n == 0 {
		n = cfg.Shards
	} else if format, err = readWindowFormat(dir); err != nil {
		return nil, fmt.Errorf("open %s window %s: %w", sp.name(sig), windowName(start), err)
	}
	w = &window{
		signal: sig, space: sp, start: start, dir: dir, idle: make(chan struct{}),
		recordsWindow: int64(cfg.RecordsWindow / time.Second), opened: cfg.Now(),
		log: cfg.Logger.With("signal", sp.name(sig), "window", windowName(start)),
	}
	defer func() {
		if err != nil {
			for _, sh := range w.shards {
				_ = sh.close()
			}
		}
	}()
	for i := 0; i < n; i++ {
		sh, err := openShard(cfg, w, i, fresh, m)
		if err != nil {
			return nil, fmt.Errorf("open %s window %s: %w", sp.name(sig), windowName(start), err)
		}
		w.shards = append(w.shards, sh)
	}
	if format == windowFormat {
		// New (or already of this format): record it, shards now exist.
		if err := writeWindowFormat(dir, format); err != nil {
			return nil, fmt.Errorf("open %s window %s: %w", sp.name(sig), windowName(start), err)
		}
	}
	w.format.Store(format)
	return w, nil
}

// shardCount counts the shard directories (0, 1, …) of a window directory.
func shardCount(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if i, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() && i >= 0 {
			n = max(n, i+1)
		}
	}
	return n, nil
}

// shardOf returns the shard holding partition p.
func (w *window) shardOf(p uint32) *shard { return w.shards[int(p)%len(w.shards)] }

// db returns the database holding partition p.
func (w *window) db(p uint32) *badger.DB { return w.shardOf(p).db }

// size sums Badger's last measured sizes of the shards.
func (w *window) size() (lsm, vlog int64) {
	for _, sh := range w.shards {
		l, v := sh.db.Size()
		lsm, vlog = lsm+l, vlog+v
	}
	return lsm, vlog
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

// isDropped reports whether drop was called (the window is going away).
func (w *window) isDropped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
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

// close stops the committers (callers guarantee no submission is pending
// or will come) and closes the databases.
func (w *window) close() error {
	var errs []error
	for _, sh := range w.shards {
		errs = append(errs, sh.close())
	}
	return errors.Join(errs...)
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

// hasLiveKey reports whether any shard of w holds a key that is not
// deleted (an error counts as yes: keep the data).
func (w *window) hasLiveKey() bool {
	for _, sh := range w.shards {
		found := true
		_ = sh.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{})
			defer it.Close()
			it.Rewind()
			found = it.Valid()
			return nil
		})
		if found {
			return true
		}
	}
	return false
}
