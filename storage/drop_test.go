package storage

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDropPartitionsRemovesOnlyThem drops two partitions of every signal
// from the two windows that are over (of three) while traces of the other
// partitions are written into them: the dropped partitions hold no key
// there afterwards and keep the window being written, the others keep
// every key version they had, and no concurrent write fails (the group
// committer waits out the blocked shard).
func TestDropPartitionsRemovesOnlyThem(t *testing.T) {
	const parts = 4
	clock := newFakeClock(time.Now().Add(-3 * time.Hour))
	e := newTestEnvAt(t, t.TempDir(), parts, clock)
	for i := range 3 {
		rng := newRand(uint64(70 + i))
		now := clock.Now()
		e.writeTraces(genTraces(rng, 30, 6, now))
		e.writeLogs(genLogs(rng, 120, now))
		e.writeMetrics(genMetrics(rng, 2, 4, now))
		clock.Advance(e.cfg.Window)
	}
	drop, keep := []uint32{1, 2}, []uint32{0, 3}
	before := map[uint32][]string{}
	for _, p := range keep {
		before[p] = dumpPartition(t, e.store, sigTraces, p)
	}

	// Late writes of kept trace partitions go on during the drop.
	stop := make(chan struct{})
	errs := make(chan error, 1)
	written := 0
	go func() {
		defer close(errs)
		rng := newRand(99)
		for {
			select {
			case <-stop:
				return
			default:
			}
			r := e.builder.Traces(genTraces(rng, 10, 3, clock.Now().Add(-2*e.cfg.Window))) // late records, into a window being dropped
			r.Batches = slices.DeleteFunc(r.Batches, func(b PartBatch) bool { return slices.Contains(drop, b.Partition) })
			if err := applyAllErr(e.store, nil, sigTraces, r); err != nil {
				errs <- err
				return
			}
			written++
		}
	}()
	for _, sig := range Signals {
		st, err := e.store.DropPartitions(context.Background(), sig, drop, clock.Now().Add(-e.cfg.Window).Truncate(e.cfg.Window))
		if err != nil {
			t.Fatalf("drop %v: %v", sig, err)
		}
		t.Logf("%s: dropped partitions %v: %d windows, %d DropPrefix calls, %d bytes, writes blocked %s in all",
			SignalName(sig), drop, st.Windows, st.Calls, st.Bytes, st.Took.Round(time.Millisecond))
		if st.Calls == 0 {
			t.Errorf("%v: no DropPrefix call: the partitions had no data", sig)
		}
	}
	close(stop)
	if err := <-errs; err != nil {
		t.Fatalf("a write during the drop failed: %v", err)
	}
	t.Logf("%d trace requests written during the drops, none failed", written)

	current := clock.Now().Add(-e.cfg.Window).Truncate(e.cfg.Window).Unix() // the window being written
	for _, sig := range Signals {
		for _, p := range drop {
			left := 0
			for _, kv := range dumpPartition(t, e.store, sig, p) {
				// The window being written, or a records window in it.
				start, _, _ := strings.Cut(kv, " ")
				if w, err := strconv.ParseInt(start, 10, 64); err != nil || w < current {
					t.Fatalf("%v partition %d: %s left in a window that is over", sig, p, kv)
				}
				left++
			}
			if left == 0 {
				t.Errorf("%v partition %d: nothing left in the window being written", sig, p)
			}
		}
	}
	for _, p := range keep {
		after := dumpPartition(t, e.store, sigTraces, p)
		for _, kv := range before[p] {
			if _, found := slices.BinarySearch(after, kv); !found && !slices.Contains(after, kv) {
				t.Fatalf("traces partition %d lost %s in the drop of other partitions", p, kv)
			}
		}
	}
}
