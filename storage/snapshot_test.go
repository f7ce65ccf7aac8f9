package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// dumpPartition lists every stored version of every key of partition p of
// sig, window by window: "window key@version=value" lines.
func dumpPartition(t testing.TB, s *Store, sig starlingpb.Signal, p uint32) []string {
	t.Helper()
	ws := s.acquireAll(sig)
	defer releaseAll(ws)
	var out []string
	// Where versions are a clock (metrics), each store has its own: only
	// the newest version of a key is data, compared without its version.
	// Trace summaries are not data (each store has its own versions of
	// them): keptSummaries checks them.
	clock := versionClock(sig)
	for _, w := range ws {
		err := w.db(p).View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{AllVersions: !clock, Prefix: partitionPrefix(p)})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if k := it.Item().Key(); len(k) == headerLen && k[partLen] == kindTraceSummary {
					continue
				}
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				version := it.Item().Version()
				if clock {
					version = 0
				}
				out = append(out, fmt.Sprintf("%d %x@%d=%x", w.start, it.Item().Key(), version, v))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// copyPartition streams partition p of sig from src and loads it into dst.
func copyPartition(t testing.TB, src, dst *Store, sig starlingpb.Signal, p uint32, maxChunk int) (sent, loaded SnapshotStats) {
	t.Helper()
	var next uint64
	sent, err := src.StreamPartition(context.Background(), sig, p, maxChunk, func(c *starlingpb.SnapshotChunk) error {
		if c.Seq != next {
			return fmt.Errorf("chunk seq %d, want %d", c.Seq, next)
		}
		next++
		size := 0
		for _, kv := range c.Kvs {
			size += len(kv.Key) + len(kv.Value) + snapshotKVOverhead
		}
		if last := c.Kvs; len(last) > 0 && size-len(last[len(last)-1].Key)-len(last[len(last)-1].Value)-snapshotKVOverhead >= maxChunk {
			return fmt.Errorf("chunk of %d bytes with limit %d", size, maxChunk)
		}
		st, err := dst.LoadSnapshot(c)
		loaded.Keys += st.Keys
		loaded.Versions += st.Versions
		loaded.Bytes += st.Bytes
		return err
	})
	if err != nil {
		t.Fatalf("stream %v partition %d: %v", sig, p, err)
	}
	return sent, loaded
}

func TestSnapshotCopiesAPartitionExactly(t *testing.T) {
	const parts = 4
	// At noon: each set's spans (up to 51 minutes old) stay in the day
	// of their window (from now-3h they crossed midnight between 00:00
	// and 03:51 UTC, and the trace windows were four).
	clock := newFakeClock(time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour))
	src := newTestEnvAt(t, t.TempDir(), parts, clock)
	dst := newTestEnvAt(t, t.TempDir(), parts, clock)
	// Three windows, and traces whose spans arrive in two batches (two
	// versions of the trace's key).
	var sets []*dataset
	for i := range 3 {
		rng := newRand(uint64(40 + i))
		now := clock.Now()
		d := &dataset{td: genTraces(rng, 30, 6, now), ld: genLogs(rng, 120, now), md: genMetrics(rng, 2, 4, now)}
		for _, half := range splitTraces(d.td, 2, func(i int) int { return i % 2 }) {
			src.writeTraces(half)
		}
		src.writeLogs(d.ld)
		d.want = expectedProm(t, d.md)
		src.writeMetrics(d.md)
		d.mStart, d.mEnd = timeRangeOf(d.want)
		sets = append(sets, d)
		clock.Advance(src.cfg.Window)
	}
	multiVersion := false
	for _, sig := range Signals {
		for p := range uint32(parts) {
			want := dumpPartition(t, src.store, sig, p)
			sent, loaded := copyPartition(t, src.store, dst.store, sig, p, 4<<10)
			got := dumpPartition(t, dst.store, sig, p)
			if len(got) != len(want) {
				t.Fatalf("%v partition %d: %d key versions after the copy, want %d", sig, p, len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%v partition %d: version %d is %s, want %s", sig, p, i, got[i], want[i])
				}
			}
			// (A key whose versions span two chunks counts once per chunk
			// when loaded.)
			kept := 0
			if sig == sigTraces {
				// The source kept its summaries to send them; the copy
				// keeps them (its windows held nothing of p).
				kept = keptSummaries(t, src.store, p)
				if n := keptSummaries(t, dst.store, p); n != kept || n != 3 {
					t.Errorf("%v partition %d: %d summaries kept by the source, %d by the copy, want 3", sig, p, kept, n)
				}
			}
			if sent.Versions != len(want)+kept || loaded.Versions != len(want)+kept || loaded.Keys < sent.Keys || sent.Bytes != loaded.Bytes {
				t.Errorf("%v partition %d: sent %+v, loaded %+v, stored %d versions", sig, p, sent, loaded, len(want))
			}
			if sent.Versions > sent.Keys {
				multiVersion = true
			}
			if sig == sigTraces && sent.Windows != 3 {
				t.Errorf("%v partition %d: %d windows, want 3", sig, p, sent.Windows)
			}
			// Idempotent: loading again changes nothing.
			copyPartition(t, src.store, dst.store, sig, p, 1<<20)
			if again := dumpPartition(t, dst.store, sig, p); len(again) != len(want) {
				t.Errorf("%v partition %d: %d versions after a second load, want %d", sig, p, len(again), len(want))
			}
		}
	}
	if !multiVersion {
		t.Error("no key with several versions: the test data does not exercise span groups")
	}
	// What a user reads from the copy is what was written.
	for _, d := range sets {
		spans, logs, series := dst.readable(t, d)
		if wantSpans := d.td.SpanCount(); spans != wantSpans {
			t.Errorf("copy returns %d spans, want %d", spans, wantSpans)
		}
		if logs != d.ld.LogRecordCount() || series == 0 {
			t.Errorf("copy returns %d logs (want %d) and %d series", logs, d.ld.LogRecordCount(), series)
		}
	}
}

func TestLoadSnapshotRefusesBadChunks(t *testing.T) {
	e := newTestEnv(t, 4)
	start := e.clock.Now().Unix() / e.store.WindowSeconds() * e.store.WindowSeconds()
	key := append(partitionPrefix(2), kindSpan, 1, 2, 3)
	for _, c := range []struct {
		name  string
		chunk *starlingpb.SnapshotChunk
		want  error
	}{
		{"unknown format", &starlingpb.SnapshotChunk{Format: 99, Signal: sigTraces, Partition: 2, Window: start,
			Kvs: []*starlingpb.SnapshotKV{{Key: key, Version: 1}}}, ErrUnknownFormat},
		{"key of another partition", &starlingpb.SnapshotChunk{Format: EntryFormat, Signal: sigTraces, Partition: 3, Window: start,
			Kvs: []*starlingpb.SnapshotKV{{Key: key, Version: 1}}}, ErrWrongPartition},
		{"key too short", &starlingpb.SnapshotChunk{Format: EntryFormat, Signal: sigTraces, Partition: 0, Window: start,
			Kvs: []*starlingpb.SnapshotKV{{Key: []byte{0}, Version: 1}}}, ErrWrongPartition},
		{"user meta too large", &starlingpb.SnapshotChunk{Format: EntryFormat, Signal: sigTraces, Partition: 2, Window: start,
			Kvs: []*starlingpb.SnapshotKV{{Key: key, Version: 1, UserMeta: 256}}}, ErrCorrupt},
		{"misaligned window", &starlingpb.SnapshotChunk{Format: EntryFormat, Signal: sigTraces, Partition: 2, Window: start + 1,
			Kvs: []*starlingpb.SnapshotKV{{Key: key, Version: 1}}}, ErrMisalignedWindow},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.store.LoadSnapshot(c.chunk); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			for p := range uint32(4) {
				if got := dumpPartition(t, e.store, sigTraces, p); len(got) != 0 {
					t.Fatalf("partition %d holds %v after a refused chunk", p, got)
				}
			}
		})
	}
}

// FuzzLoadSnapshot: snapshot chunks come from another node. Whatever
// decodes, LoadSnapshot either refuses it or stores only keys of the
// chunk's partition, and never panics.
func FuzzLoadSnapshot(f *testing.F) {
	key := append(partitionPrefix(1), kindSpan, 9, 9)
	seed, _ := proto.Marshal(&starlingpb.SnapshotChunk{Format: EntryFormat, Signal: sigTraces, Partition: 1,
		Kvs: []*starlingpb.SnapshotKV{{Key: key, Value: []byte("v"), Version: 7}}})
	f.Add(seed)
	e := newTestEnv(f, 4)
	start := e.clock.Now().Unix() / e.store.WindowSeconds() * e.store.WindowSeconds()
	f.Fuzz(func(t *testing.T, b []byte) {
		var c starlingpb.SnapshotChunk
		if proto.Unmarshal(b, &c) != nil {
			return
		}
		c.Window = start // keep the fuzzer from opening thousands of windows
		if _, err := e.store.LoadSnapshot(&c); err != nil {
			return
		}
		for p := range uint32(4) {
			for _, line := range dumpPartition(t, e.store, c.Signal, p) {
				if !bytes.HasPrefix([]byte(line), []byte(fmt.Sprintf("%d %04x", start, p))) {
					t.Fatalf("partition %d holds %s", p, line)
				}
			}
		}
	})
}

// BenchmarkSnapshotPartition streams one partition holding
// STARLING_BENCH_PARTITION_MIB MiB of telemetrygen-like traces (default
// 64; `task bench-handoff` uses 1024) into a fresh store through
// StreamPartition and LoadSnapshot in 1 MiB chunks: the storage side of a
// handoff, without the network. Reports MiB/s of keys and values.
func BenchmarkSnapshotPartition(b *testing.B) {
	mib := 64
	if v := os.Getenv("STARLING_BENCH_PARTITION_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("STARLING_BENCH_PARTITION_MIB=%q", v)
		}
		mib = n
	}
	src := newTestEnv(b, 1, withMemTable(64<<20))
	rng := newRand(77)
	size := func() int64 {
		sent, err := src.store.StreamPartition(context.Background(), sigTraces, 0, 1<<30, func(*starlingpb.SnapshotChunk) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		return sent.Bytes
	}
	for size() < int64(mib)<<20 {
		for range 100 { // 100 requests of 1000 spans between measurements
			src.writeTraces(genTelemetrygen(rng, 100, 10, src.clock.Now()))
		}
	}
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		b.StopTimer()
		dst := newTestEnv(b, 1, withMemTable(64<<20))
		b.StartTimer()
		// The receiver loads while the sender reads, with 4 chunks in
		// flight, as a handoff's credit window lets it.
		chunks := make(chan *starlingpb.SnapshotChunk, 4)
		loadErr := make(chan error, 1)
		go func() {
			var err error
			for c := range chunks {
				if err == nil {
					_, err = dst.store.LoadSnapshot(c)
				}
			}
			loadErr <- err
		}()
		sent, err := src.store.StreamPartition(context.Background(), sigTraces, 0, 1<<20, func(c *starlingpb.SnapshotChunk) error {
			chunks <- c
			return nil
		})
		close(chunks)
		if err == nil {
			err = <-loadErr
		}
		if err != nil {
			b.Fatal(err)
		}
		bytes += sent.Bytes
	}
	b.ReportMetric(float64(bytes)/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
}

// keptSummaries counts the windows of s whose trace summary of partition
// p is kept in Badger, and checks that each holds every trace ID and
// common term of its window.
func keptSummaries(t testing.TB, s *Store, p uint32) int {
	t.Helper()
	ws := s.acquireAll(sigTraces)
	defer releaseAll(ws)
	n := 0
	for _, w := range ws {
		err := w.db(p).View(func(txn *badger.Txn) error {
			item, err := txn.Get(traceSummaryKey(nil, p))
			if err == badger.ErrKeyNotFound {
				return nil
			}
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			sum, err := decodeTraceSummary(v)
			if err != nil {
				return err
			}
			n++
			built, err := readTraceSummaryFromKeys(txn, p)
			if err != nil {
				return err
			}
			for c := range built.common {
				if _, ok := sum.common[c]; !ok {
					t.Errorf("window %s partition %d: common term %x not in the kept summary", windowName(w.start), p, c)
				}
			}
			it := txn.NewIterator(badger.IteratorOptions{Prefix: appendHeader(nil, p, kindSpan)})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if !sum.filter.MayContain(traceItem(it.Item().Key()[headerLen : headerLen+16])) {
					t.Errorf("window %s partition %d: a trace ID is not in the kept summary", windowName(w.start), p)
					return nil
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}
