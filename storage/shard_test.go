package storage

import (
	"testing"
	"time"
)

// TestShardCountIsPerWindow checks that a window keeps the number of shards
// it was created with when the configured count changes, so every record
// stays readable, and that new windows use the new count.
func TestShardCountIsPerWindow(t *testing.T) {
	for _, tc := range []struct{ before, after int }{{2, 3}, {3, 1}, {1, 2}} {
		dir := t.TempDir()
		clock := newFakeClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
		e := newTestEnvAt(t, dir, 16, clock, func(c *Config, _ *BuilderConfig) { c.Shards = tc.before })
		td := genTraces(newRand(5), 50, 5, clock.Now())
		e.writeTraces(td)
		if got := len(e.store.space(sigTraces, spaceMain).windows); got != 1 {
			t.Fatalf("%d trace windows, want 1", got)
		}
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}

		e2 := newTestEnvAt(t, dir, 16, clock, func(c *Config, _ *BuilderConfig) { c.Shards = tc.after })
		for _, w := range e2.store.space(sigTraces, spaceMain).windows {
			if len(w.shards) != tc.before {
				t.Errorf("%d→%d: reopened window has %d shards, want %d", tc.before, tc.after, len(w.shards), tc.before)
			}
		}
		for _, tid := range traceIDsOf(td) {
			if n := spansIn(t, e2.readTrace(tid)); n != 5 {
				t.Fatalf("%d→%d: trace %s has %d spans after reopening, want 5", tc.before, tc.after, tid, n)
			}
		}
		// A window created now gets the new count.
		clock.Advance(2 * e2.cfg.Window)
		e2.writeTraces(genTraces(newRand(6), 5, 2, clock.Now()))
		newest := e2.store.acquire(sigTraces, clock.Now().UnixNano(), clock.Now().UnixNano())
		if len(newest) != 1 || len(newest[0].shards) != tc.after {
			t.Errorf("%d→%d: new window has %d shards, want %d", tc.before, tc.after, len(newest[0].shards), tc.after)
		}
		releaseAll(newest)
	}
}

// TestSpanGroupsSurviveCompaction checks that the several span groups of a
// trace (versions of one key) are all kept when Badger compacts: managed
// mode keeps every version above the discard timestamp, which Starling
// never sets.
func TestSpanGroupsSurviveCompaction(t *testing.T) {
	e := newTestEnv(t, 4, func(c *Config, _ *BuilderConfig) { c.LevelZeroTables = 1 })
	td := genTraces(newRand(9), 40, 9, e.clock.Now())
	// Three requests, each with a third of every trace's spans, each
	// flushed into its own table, so compaction merges the versions.
	for _, part := range splitTraces(td, 3, func(i int) int { return i % 3 }) {
		e.writeTraces(part)
		e.reopen()
	}
	ws := e.store.acquire(sigTraces, 0, maxTime)
	waitFor(t, 20*time.Second, "level-0 tables to be compacted", func() bool {
		for _, sh := range shardsOf(ws) {
			for _, ti := range sh.db.Tables() {
				if ti.Level == 0 {
					return false
				}
			}
		}
		return true
	})
	releaseAll(ws)
	for _, tid := range traceIDsOf(td) {
		if n := spansIn(t, e.readTrace(tid)); n != 9 {
			t.Fatalf("trace %s: %d spans after compaction, want 9", tid, n)
		}
	}
}
