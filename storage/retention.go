package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

func (s *Store) retentionLoop() {
	defer close(s.loopDone)
	t := time.NewTicker(s.cfg.RetentionInterval)
	defer t.Stop()
	records := time.NewTicker(s.cfg.RecordsCheckInterval)
	defer records.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, _, err := s.ExpireWindows(); err != nil {
				s.log.Error("retention failed", "err", err)
			}
			if err := s.keepQuietSummaries(); err != nil {
				s.log.Error("keeping trace summaries failed", "err", err)
			}
		case <-records.C:
			s.dropEmptiedRecords()
		}
	}
}

// ExpireWindows deletes every window that ended longer than its signal's
// retention ago and returns how many it deleted and the bytes of disk they
// held. Readers and writers of a window finish before it is closed.
func (s *Store) ExpireWindows() (windows int, freed int64, err error) {
	var errs []error
	for _, sw := range s.spaces {
		sig := sw.sig
		var expired []*window
		sw.mu.Lock()
		for start, w := range sw.windows {
			if s.expired(sw, start) {
				expired = append(expired, w)
				delete(sw.windows, start)
			}
		}
		sw.mu.Unlock()
		for _, w := range expired {
			<-w.drop()
			if err := w.close(); err != nil {
				errs = append(errs, err)
			}
			size := dirSize(w.dir)
			if err := os.RemoveAll(w.dir); err != nil {
				errs = append(errs, fmt.Errorf("remove expired window %s: %w", w.dir, err))
				continue
			}
			windows++
			freed += size
			s.m.windowsDropped.WithLabelValues(sw.sp.name(sig)).Inc()
			s.m.bytesFreed.WithLabelValues(sw.sp.name(sig)).Add(float64(size))
			s.log.Info("dropped expired window", "signal", sw.sp.name(sig), "window", windowName(w.start), "bytes", size)
		}
	}
	return windows, freed, errors.Join(errs...)
}

// dirSize is the disk space (allocated blocks) used under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n += allocatedSize(info)
		}
		return nil
	})
	return n
}

// dropEmptiedRecords removes the records windows that hold no record (all
// flushed into chunks and deleted) and were opened at least a records
// check interval ago (a new window is empty until its first commit lands). A
// window found holding a record once no one uses it (a write got in
// after the first look) is opened again instead.
func (s *Store) dropEmptiedRecords() {
	sw := s.space(starlingpb.Signal_SIGNAL_METRICS, spaceRecords)
	if sw == nil {
		return
	}
	sw.mu.RLock()
	var candidates []*window
	for _, w := range sw.windows {
		if s.cfg.Now().Sub(w.opened) >= s.cfg.RecordsCheckInterval {
			candidates = append(candidates, w)
		}
	}
	sw.mu.RUnlock()
	for _, w := range candidates {
		if w.hasLiveKey() {
			continue
		}
		if err := s.removeWindow(sw, w); err != nil {
			s.log.Error("remove emptied records window", "window", windowName(w.start), "err", err)
		}
	}
}

// removeWindow takes w out of sw, waits for its users, and deletes it if
// it holds no live key, else opens it again. Until then a writer needing
// the window waits (Store.window).
func (s *Store) removeWindow(sw *signalWindows, w *window) error {
	sw.mu.Lock()
	if sw.windows[w.start] != w {
		sw.mu.Unlock()
		return nil
	}
	delete(sw.windows, w.start)
	removed := make(chan struct{})
	sw.removing[w.start] = removed
	sw.mu.Unlock()
	defer func() {
		sw.mu.Lock()
		delete(sw.removing, w.start)
		sw.mu.Unlock()
		close(removed)
	}()

	<-w.drop()
	s.changed(sw.sig)
	live := w.hasLiveKey()
	size := dirSize(w.dir)
	if err := w.close(); err != nil {
		return err
	}
	if live {
		again, err := openWindow(&s.cfg, sw.sig, sw.sp, w.start, w.dir, s.m)
		if err != nil {
			return err
		}
		sw.mu.Lock()
		sw.windows[w.start] = again
		sw.mu.Unlock()
		return nil
	}
	if err := os.RemoveAll(w.dir); err != nil {
		return fmt.Errorf("remove %s: %w", w.dir, err)
	}
	s.m.windowsDropped.WithLabelValues(sw.sp.name(sw.sig)).Inc()
	s.m.bytesFreed.WithLabelValues(sw.sp.name(sw.sig)).Add(float64(size))
	s.log.Info("removed emptied records window", "window", windowName(w.start), "bytes", size)
	return nil
}
