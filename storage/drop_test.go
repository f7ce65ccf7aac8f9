package storage

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestDropPartitionsRemovesOnlyThem drops two partitions of every signal
// from a store with three windows while traces of the other partitions are
// written: the dropped partitions hold no key afterwards, the others keep
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

	// Writes of kept trace partitions go on during the drop.
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
			r := e.builder.Traces(genTraces(rng, 10, 3, clock.Now().Add(-e.cfg.Window)))
			r.Batches = slices.DeleteFunc(r.Batches, func(b PartBatch) bool { return slices.Contains(drop, b.Partition) })
			if err := applyAllErr(e.store, nil, sigTraces, r); err != nil {
				errs <- err
				return
			}
			written++
		}
	}()
	for _, sig := range Signals {
		st, err := e.store.DropPartitions(context.Background(), sig, drop)
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

	for _, sig := range Signals {
		for _, p := range drop {
			if got := dumpPartition(t, e.store, sig, p); len(got) != 0 {
				t.Errorf("%v partition %d: %d key versions left after the drop, first %s", sig, p, len(got), got[0])
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
