package storage

import (
	"testing"
	"time"
)

// recordWindows returns the starts of the open records windows.
func recordWindows(s *Store) []time.Time {
	var out []time.Time
	for _, w := range s.Windows() {
		if w.Space == "metrics-records" {
			out = append(out, w.Start)
		}
	}
	return out
}

// TestMetricRecordWindows: write-through records go to the records window
// of their block, not of the raw window; once a block is flushed (its
// records deleted) its records window is removed whole, while a window
// still holding records survives removal; the data reads back throughout.
func TestMetricRecordWindows(t *testing.T) {
	e := newTestEnv(t, 4, withRetentionLoopOff())
	base := e.clock.Now().Truncate(24 * time.Hour).Add(-24 * time.Hour) // yesterday, 00:00
	var times []time.Time
	for _, h := range []time.Duration{1, 5, 9} { // three blocks, three records windows
		times = append(times, base.Add(h*time.Hour+time.Minute))
	}
	want := map[string]*readSeries{}
	for i, at := range times {
		md := genMetrics(newRand(uint64(40+i)), 2, 3, at)
		for k, s := range expectedProm(t, md) { // times ascend: samples append
			if w := want[k]; w != nil {
				w.Samples, w.Hists = append(w.Samples, s.Samples...), append(w.Hists, s.Hists...)
			} else {
				want[k] = s
			}
		}
		e.writeMetrics(md)
	}
	got := recordWindows(e.store)
	if len(got) != len(times) {
		t.Fatalf("records windows %v, want one per block of %v", got, times)
	}
	for i, w := range got {
		if want := times[i].Truncate(e.cfg.RecordsWindow); !w.Equal(want) {
			t.Errorf("records window %d starts %v, want %v (the block's)", i, w, want)
		}
	}

	// Removing a window that still holds records opens it again.
	sw := e.store.space(sigMetrics, spaceRecords)
	sw.mu.RLock()
	live := sw.windows[got[0].Unix()]
	sw.mu.RUnlock()
	if err := e.store.removeWindow(sw, live); err != nil {
		t.Fatal(err)
	}
	if n := len(recordWindows(e.store)); n != len(times) {
		t.Fatalf("%d records windows after removing one with records, want %d", n, len(times))
	}
	start, end := timeRangeOf(want)
	e.reopen() // the heads replayed from every records window
	compareRead(t, "replayed", e.allSeries(start, end), want)

	e.flushMetrics(true)
	e.clock.Advance(e.cfg.RecordsCheckInterval) // the windows are old enough to go
	e.store.dropEmptiedRecords()
	if left := recordWindows(e.store); len(left) != 0 {
		t.Errorf("records windows %v left after every block was flushed", left)
	}
	if n := countRecords(t, e); n != 0 {
		t.Errorf("%d records left", n)
	}
	compareRead(t, "flushed", e.allSeries(start, end), want)

	// A new write opens its records window again.
	md := genMetrics(newRand(50), 1, 2, times[0])
	e.writeMetrics(md)
	if n := len(recordWindows(e.store)); n != 1 {
		t.Errorf("%d records windows after a write, want 1", n)
	}
}
