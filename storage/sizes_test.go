package storage

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// TestPartitionSizes writes skewed trace data (partition 3 gets five
// times the others' share) into a store of two shards, flushes it, and
// compares PartitionSizes with the bytes a snapshot of each partition
// carries: within 30% for every partition (these small ones are counted
// key by key), where Badger's EstimateSize (whole tables only) misses most
// of the data.
func TestPartitionSizes(t *testing.T) {
	const parts = 8
	e := newTestEnv(t, parts, withMemTable(1<<20), func(c *Config, _ *BuilderConfig) { c.Shards = 2 })
	rng := newRand(5)
	for round := range 40 {
		traces := 100
		if round%2 == 1 {
			traces = 500 // every other request: partition 3 only
		}
		td := genTelemetrygen(rng, traces, 10, e.clock.Now())
		if round%2 == 1 {
			td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().RemoveIf(func(s ptrace.Span) bool {
				return PartitionOf(TraceHash(s.TraceID()), parts) != 3
			})
		}
		e.writeTraces(td)
	}
	e.reopen() // flush the memtables: sizes count tables only
	all := []uint32{0, 1, 2, 3, 4, 5, 6, 7}
	sizes, err := e.store.PartitionSizes(sigTraces, parts, all)
	if err != nil {
		t.Fatal(err)
	}
	var whole, truth int64
	for p := range uint32(parts) {
		sent, err := e.store.StreamPartition(context.Background(), sigTraces, p, 1<<20, func(*starlingpb.SnapshotChunk) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		whole += e.store.PartitionSize(sigTraces, p)
		truth += sent.Bytes
		t.Logf("partition %d: estimated %d bytes, snapshot %d bytes", p, sizes[p], sent.Bytes)
		if lo, hi := sent.Bytes*7/10, sent.Bytes*13/10; sizes[p] < lo || sizes[p] > hi {
			t.Errorf("partition %d: estimated %d bytes, snapshot carries %d", p, sizes[p], sent.Bytes)
		}
	}
	t.Logf("whole tables only (EstimateSize): %d of %d bytes", whole, truth)
	// The table-index pass alone (what large partitions get) accounts
	// for all the data, if not for which partition holds it.
	est, err := e.store.partitionSizes(sigTraces, parts, all, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, n := range est {
		sum += n
	}
	t.Logf("table index only: %d of %d bytes", sum, truth)
	if sum < truth*8/10 || sum > truth*14/10 {
		t.Errorf("table index only: %d bytes in all, snapshots carry %d", sum, truth)
	}
	if sizes[3] < 3*sizes[2] {
		t.Errorf("partition 3 (%d bytes) should hold several times partition 2's (%d)", sizes[3], sizes[2])
	}
}

// BenchmarkPartitionSizes measures one size report's work for 16
// partitions holding about 64 MiB of telemetrygen-like traces in all:
// each is below 32 MiB, so each is counted key by key.
func BenchmarkPartitionSizes(b *testing.B) {
	const parts = 16
	e := newTestEnv(b, parts, withMemTable(8<<20))
	rng := newRand(9)
	all := make([]uint32, parts)
	for p := range all {
		all[p] = uint32(p)
	}
	total := func() int64 {
		sizes, err := e.store.PartitionSizes(sigTraces, parts, all)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for _, s := range sizes {
			n += s
		}
		return n
	}
	for total() < 64<<20 {
		for range 20 {
			e.writeTraces(genTelemetrygen(rng, 100, 10, e.clock.Now()))
		}
	}
	var bytes int64
	for b.Loop() {
		bytes += total()
	}
	b.ReportMetric(float64(bytes)/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
}
