package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"
)

func (s *Store) retentionLoop() {
	defer close(s.loopDone)
	t := time.NewTicker(s.cfg.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, _, err := s.ExpireWindows(); err != nil {
				s.log.Error("retention failed", "err", err)
			}
			s.collectRecordLogs()
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

// collectRecordLogs rewrites or deletes the value log files of the records
// space that are mostly dead (records deleted once their block is flushed):
// one Badger value log GC round per file while it finds one worth it.
func (s *Store) collectRecordLogs() {
	for _, sig := range Signals {
		for _, w := range s.acquireSpace(sig, spaceRecords, math.MinInt64, math.MaxInt64) {
			for _, sh := range w.shards {
				for i := 0; i < 16; i++ {
					if err := sh.db.RunValueLogGC(0.5); err != nil {
						break // badger.ErrNoRewrite: nothing worth it
					}
				}
			}
			w.release()
		}
	}
}
