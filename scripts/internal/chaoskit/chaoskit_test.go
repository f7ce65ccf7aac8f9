package chaoskit

import (
	"testing"
	"time"

	"github.com/starling-otel/starling/storage"
)

func TestPartitionsIn(t *testing.T) {
	got := partitionsIn("metrics partition 9: metrics partition 9 has 1 in-sync copies; logs partition 12: node at x unreachable")
	want := []partKey{{sigMetrics, 9}, {sigMetrics, 9}, {sigLogs, 12}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got := partitionsIn("node not ready: no leader"); len(got) != 0 {
		t.Fatalf("a message naming no partition gave %v", got)
	}
}

func TestWorstMergesOverlappingSpans(t *testing.T) {
	a := newAvailability()
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	k := partKey{sigTraces, 3}
	// Two requests refused by traces/3 overlap (0-4 s and 3-7 s): one
	// 7 s outage; a later one (10-11 s) is separate.
	for _, s := range [][2]float64{{0, 4}, {3, 7}, {10, 11}} {
		ro := requestOutages{k: at(s[0])}
		a.done(ro, at(s[1]), false)
	}
	a.done(requestOutages{{sigLogs, 1}: at(0)}, at(2), true)
	out, n := a.worst(5)
	if n != 2 || len(out) != 2 {
		t.Fatalf("got %d partitions %v, want 2", n, out)
	}
	if out[0].Partition != "traces/3" || out[0].Duration != 7*time.Second || out[0].GaveUp {
		t.Errorf("longest: %+v, want traces/3 for 7s", out[0])
	}
	if out[1].Partition != "logs/1" || !out[1].GaveUp {
		t.Errorf("second: %+v, want logs/1 given up", out[1])
	}
}

func TestRefusedBlamesTimedOutRequestsWhole(t *testing.T) {
	a := newAvailability()
	ro := requestOutages{}
	now := time.Now()
	a.refused(ro, sigLogs, []uint32{4, 5}, "ingest timed out waiting for partitions", true, now)
	if len(ro) != 2 {
		t.Fatalf("a timeout blames %v, want both partitions", ro)
	}
	ro = requestOutages{}
	a.refused(ro, sigLogs, []uint32{4, 5}, "node not ready", false, now)
	if len(ro) != 0 || a.nodeLevel != 1 {
		t.Fatalf("a node-level refusal blames %v (node level %d)", ro, a.nodeLevel)
	}
}

func TestPayloadPartitionsAndIdentities(t *testing.T) {
	b := newBuilder(2, 20, 256, 1)
	now := time.Now()
	tr, lg, mt := b.next(now), b.next(now), b.next(now)
	if tr.signal != sigTraces || tr.traces.SpanCount() != 20 || len(tr.traceRecs) != tracesPerRequest {
		t.Fatalf("traces payload: %d spans in %d traces", tr.traces.SpanCount(), len(tr.traceRecs))
	}
	for _, r := range tr.traceRecs {
		if r.part != storage.PartitionOf(storage.TraceHash(r.id), 256) {
			t.Errorf("trace %x: partition %d", r.id, r.part)
		}
	}
	if lg.signal != sigLogs || lg.logs.LogRecordCount() != 20 || len(lg.logRecs) != 20 {
		t.Fatalf("logs payload: %d records", lg.logs.LogRecordCount())
	}
	body := lg.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str()
	if words := storage.Words(body); len(words) < 2 || words[1] != logGroupWord(2, 0) {
		t.Errorf("log body %q does not carry its group word %s", body, logGroupWord(2, 0))
	}
	if mt.signal != sigMetrics || mt.metrics.DataPointCount() != 20 {
		t.Fatalf("metrics payload: %d points", mt.metrics.DataPointCount())
	}
	seen := map[int16]bool{}
	for _, p := range mt.pointRecs {
		if seen[p.series] {
			t.Errorf("series %d twice in one request", p.series)
		}
		seen[p.series] = true
	}
	if next := b.next(now.Add(-time.Second)); next.signal != sigTraces {
		t.Fatalf("signals do not rotate")
	}
	if mt2 := b.next(now); mt2.signal == sigMetrics {
		t.Fatalf("signals do not rotate")
	}
}

func TestDownFor(t *testing.T) {
	c := DefaultConfig()
	var long []int
	for k := range 10 {
		if c.downFor(k) == c.LongDown {
			long = append(long, k)
		}
	}
	if len(long) != 3 || long[0] != 1 || long[1] != 5 || long[2] != 9 {
		t.Errorf("long downs at kills %v, want 1, 5, 9 (from 0)", long)
	}
	c.LongDownEvery = 0
	if c.downFor(1) != c.Down {
		t.Error("LongDownEvery 0 still keeps a node down long")
	}
}

func TestDefaultConfigValid(t *testing.T) {
	c := DefaultConfig()
	c.Binary = "starling"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.HostBase = "10.0.0.1"
	if err := c.Validate(); err == nil {
		t.Fatal("a non-loopback host base is accepted")
	}
}
