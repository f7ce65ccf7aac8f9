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
		if got := len(e.store.signals[sigTraces].windows); got != 1 {
			t.Fatalf("%d trace windows, want 1", got)
		}
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}

		e2 := newTestEnvAt(t, dir, 16, clock, func(c *Config, _ *BuilderConfig) { c.Shards = tc.after })
		for _, w := range e2.store.signals[sigTraces].windows {
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
