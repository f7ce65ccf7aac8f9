package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Signals lists the signals a store keeps, in a fixed order.
var Signals = [...]starlingpb.Signal{
	starlingpb.Signal_SIGNAL_TRACES,
	starlingpb.Signal_SIGNAL_LOGS,
	starlingpb.Signal_SIGNAL_METRICS,
}

// Store is the data of one node: per signal, a set of time windows.
//
// Apply may be called from many goroutines at once; so may every read. Close
// must be called once, after the last Apply has been answered.
type Store struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	readSem chan struct{}
	spaces  map[spaceKey]*signalWindows
	gens    generations
	// resources keeps resource records read (resourcecache.go).
	resources resourceCache

	closed   atomic.Bool
	stop     chan struct{}
	loopDone chan struct{}
}

// signalWindows is the open windows of one space of a signal.
type signalWindows struct {
	sig     starlingpb.Signal
	sp      space
	dir     string
	length  time.Duration // of a window
	mu      sync.RWMutex
	windows map[int64]*window
	// removing holds, per window being removed (removeWindow), a channel
	// closed once it is gone or open again.
	removing map[int64]chan struct{}
}

// Open opens (or creates) the store under cfg.Dir, opening every window
// found there, and starts retention. reg may be nil.
func Open(cfg Config, reg prometheus.Registerer) (s *Store, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("storage config: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.bloomBuilds = make(chan struct{}, 1)
	s = &Store{
		cfg:       cfg,
		log:       cfg.Logger,
		readSem:   make(chan struct{}, cfg.ReadConcurrency),
		spaces:    make(map[spaceKey]*signalWindows),
		stop:      make(chan struct{}),
		loopDone:  make(chan struct{}),
		resources: newResourceCache(),
	}
	s.m = newMetrics(reg, s)
	defer func() {
		if err != nil {
			s.closeWindows()
		}
	}()
	for _, sig := range Signals {
		for _, sp := range spacesOf(sig) {
			if err := s.openSpace(sig, sp); err != nil {
				return nil, err
			}
		}
	}
	go s.retentionLoop()
	return s, nil
}

// openSpace opens every window found in a space's directory.
func (s *Store) openSpace(sig starlingpb.Signal, sp space) error {
	sw := &signalWindows{sig: sig, sp: sp, dir: filepath.Join(s.cfg.Dir, sp.dirName(sig)), length: s.cfg.windowLength(sp), windows: make(map[int64]*window), removing: make(map[int64]chan struct{})}
	s.spaces[spaceKey{sig, sp}] = sw
	if err := os.MkdirAll(sw.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", sw.dir, err)
	}
	ents, err := os.ReadDir(sw.dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", sw.dir, err)
	}
	for _, e := range ents {
		start, perr := parseWindowName(e.Name())
		if !e.IsDir() || perr != nil {
			s.log.Warn("ignoring unexpected entry in data directory", "path", filepath.Join(sw.dir, e.Name()))
			continue
		}
		w, err := openWindow(&s.cfg, sig, sp, start, filepath.Join(sw.dir, e.Name()), s.m)
		if err != nil {
			return err
		}
		sw.windows[start] = w
	}
	return nil
}

// space returns the windows of one space of sig, or nil.
func (s *Store) space(sig starlingpb.Signal, sp space) *signalWindows {
	return s.spaces[spaceKey{sig, sp}]
}

// recordsWindow is the records windows' length in seconds.
func (s *Store) recordsWindow() int64 { return int64(s.cfg.RecordsWindow / time.Second) }

// WindowSeconds is the window length in seconds.
func (s *Store) WindowSeconds() int64 { return int64(s.cfg.Window / time.Second) }

// Config returns the store's configuration.
func (s *Store) Config() Config { return s.cfg }

// Apply commits framed entries of one signal (already checked by
// CheckEntries) and calls done once every entry is committed, or with the
// first error. done is called from another goroutine and must not block.
// Apply blocks only while a window's commit queue is full.
func (s *Store) Apply(sig starlingpb.Signal, entries []byte, records int, done func(error)) {
	if s.closed.Load() {
		done(ErrClosed)
		return
	}
	if s.space(sig, spaceMain) == nil {
		done(fmt.Errorf("apply: unknown signal %v", sig))
		return
	}
	// Count the entries of each space and window (usually one or two).
	type part struct {
		sp    space
		start int64
		n     int
	}
	var buf [4]part
	parts := buf[:0]
	it := NewEntryIter(entries)
	for it.Next() {
		e := it.Entry()
		w, sp := entryWindow(e, s.recordsWindow()), spaceOfKind(e.Key[partLen])
		i := 0
		for i < len(parts) && (parts[i].start != w || parts[i].sp != sp) {
			i++
		}
		if i == len(parts) {
			parts = append(parts, part{sp: sp, start: w})
		}
		parts[i].n++
	}
	if err := it.Err(); err != nil {
		done(err)
		return
	}
	// One submission per shard with entries; done once all are answered.
	type sub struct {
		sh *shard
		n  int
	}
	var subs []sub
	var firstErr error
	var held []*window
	for _, pt := range parts {
		sw := s.space(sig, pt.sp)
		if sw == nil {
			firstErr = fmt.Errorf("apply: %s has no %s keys: %w", signalName(sig), pt.sp.name(sig), ErrCorrupt)
			break
		}
		w, err := s.window(sw, pt.start)
		if err != nil {
			firstErr = err
			break
		}
		held = append(held, w)
		counts := make([]int, len(w.shards))
		it := NewEntryIter(entries)
		for it.Next() {
			if e := it.Entry(); entryWindow(e, s.recordsWindow()) == pt.start && spaceOfKind(e.Key[partLen]) == pt.sp {
				p, _ := keyPartition(e.Key)
				counts[int(p)%len(counts)]++
			}
		}
		for i, n := range counts {
			if n > 0 {
				subs = append(subs, sub{sh: w.shards[i], n: n})
			}
		}
	}
	if firstErr != nil || len(subs) == 0 {
		releaseAll(held)
		done(firstErr)
		return
	}
	var remaining atomic.Int32
	remaining.Store(int32(len(subs)))
	var errOnce sync.Once
	finish := func(err error) {
		if err != nil {
			errOnce.Do(func() { firstErr = err })
		}
		if remaining.Add(-1) == 0 {
			releaseAll(held)
			done(firstErr)
		}
	}
	now := time.Now()
	for i, sb := range subs {
		recs := 0
		if i == 0 {
			recs = records
		}
		sb.sh.commits <- &commitReq{entries: entries, n: sb.n, records: recs, queued: now, done: finish}
	}
}

// window returns the referenced window starting at start, opening or
// creating it; the caller releases it.
func (s *Store) window(sw *signalWindows, start int64) (*window, error) {
	if start%int64(sw.length/time.Second) != 0 {
		return nil, ErrMisalignedWindow
	}
	if s.expired(sw, start) {
		return nil, ErrWindowExpired
	}
	sw.mu.RLock()
	w := sw.windows[start]
	sw.mu.RUnlock()
	if w != nil && w.acquire() {
		return w, nil
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	for sw.removing[start] != nil {
		removed := sw.removing[start]
		sw.mu.Unlock()
		<-removed
		sw.mu.Lock()
	}
	if w = sw.windows[start]; w == nil {
		var err error
		dir := filepath.Join(sw.dir, windowName(start))
		if w, err = openWindow(&s.cfg, sw.sig, sw.sp, start, dir, s.m); err != nil {
			return nil, err
		}
		sw.windows[start] = w
		s.log.Info("opened window", "signal", sw.sp.name(sw.sig), "window", windowName(start))
	}
	if !w.acquire() {
		return nil, ErrWindowExpired
	}
	return w, nil
}

// expired reports whether the window of sw starting at start has ended
// longer than its space's retention ago.
func (s *Store) expired(sw *signalWindows, start int64) bool {
	r := s.cfg.retention(sw.sig, sw.sp)
	if r <= 0 {
		return false
	}
	length := sw.length
	if sw.sp == spaceRecords {
		// A records window expires with the raw window it is part of, as
		// the records did when they shared the raw window.
		length = s.cfg.Window
	}
	end := time.Unix(start, 0).Add(length)
	return !end.After(s.cfg.Now().Add(-r))
}

// acquire returns the referenced windows of sig's main space overlapping
// [startNano, endNano], newest first; release them with releaseAll.
func (s *Store) acquire(sig starlingpb.Signal, startNano, endNano int64) []*window {
	return s.acquireSpace(sig, spaceMain, startNano, endNano)
}

// acquireSpace is acquire for any space.
func (s *Store) acquireSpace(sig starlingpb.Signal, sp space, startNano, endNano int64) []*window {
	sw := s.space(sig, sp)
	if sw == nil {
		return nil
	}
	ws := sw.length.Nanoseconds()
	sw.mu.RLock()
	out := make([]*window, 0, len(sw.windows))
	for start, w := range sw.windows {
		ns := start * 1e9
		if ns+ws > startNano && ns <= endNano && w.acquire() {
			out = append(out, w)
		}
	}
	sw.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].start > out[j].start })
	return out
}

func releaseAll(ws []*window) {
	for _, w := range ws {
		w.release()
	}
}

// readSlot waits for a read slot; the caller calls the returned release.
func (s *Store) readSlot(ctx context.Context) (func(), error) {
	select {
	case s.readSem <- struct{}{}:
		return func() { <-s.readSem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WindowInfo describes one open window.
type WindowInfo struct {
	Signal   starlingpb.Signal
	Space    string // the signal's name, or for metrics' other spaces metrics-records, metrics-5m, metrics-1h
	Start    time.Time
	Dir      string
	LSMBytes int64
	LogBytes int64
}

// Windows lists the open windows of every signal, oldest first.
func (s *Store) Windows() []WindowInfo {
	var out []WindowInfo
	for _, sig := range Signals {
		for _, sp := range spacesOf(sig) {
			sw := s.space(sig, sp)
			sw.mu.RLock()
			for start, w := range sw.windows {
				lsm, vlog := w.size()
				out = append(out, WindowInfo{Signal: sig, Space: sp.name(sig), Start: time.Unix(start, 0).UTC(), Dir: w.dir, LSMBytes: lsm, LogBytes: vlog})
			}
			sw.mu.RUnlock()
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Signal != out[j].Signal {
			return out[i].Signal < out[j].Signal
		}
		if out[i].Space != out[j].Space {
			return out[i].Space < out[j].Space
		}
		return out[i].Start.Before(out[j].Start)
	})
	return out
}

// Close stops retention, waits for pending commits and closes every window.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	<-s.loopDone
	return s.closeWindows()
}

func (s *Store) closeWindows() error {
	var errs []error
	for _, sw := range s.spaces {
		sw.mu.Lock()
		for start, w := range sw.windows {
			<-w.drop()
			empty := sw.sp == spaceRecords && !w.hasLiveKey()
			if err := w.close(); err != nil {
				errs = append(errs, err)
			} else if empty {
				// Every record flushed and deleted (a clean stop flushes
				// every head): what is left is deletion markers.
				if err := os.RemoveAll(w.dir); err != nil {
					errs = append(errs, fmt.Errorf("remove emptied window %s: %w", w.dir, err))
				}
			}
			delete(sw.windows, start)
		}
		sw.mu.Unlock()
	}
	return errors.Join(errs...)
}
