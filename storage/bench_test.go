package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Benchmarks of the trace write and read paths. Each checks a round trip
// before it starts timing. Run with e.g.
//
//	go test ./storage -run xxx -bench . -benchtime 2x

// genTelemetrygen returns traces shaped like those of the collector's
// telemetrygen tool: one service, a server root span and client children
// with a handful of attributes, 10 spans per trace by default.
func genTelemetrygen(rng *rand.Rand, traces, spansPerTrace int, now time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "telemetrygen")
	rs.SetSchemaUrl(genResourceSchema)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("telemetrygen")
	spans := ss.Spans()
	spans.EnsureCapacity(traces * spansPerTrace)
	for range traces {
		tid := randTraceID(rng)
		start := now.Add(-time.Duration(rng.Int64N(int64(time.Minute))))
		var root pcommon.SpanID
		for i := range spansPerTrace {
			s := spans.AppendEmpty()
			s.SetTraceID(tid)
			id := randSpanID(rng)
			s.SetSpanID(id)
			st := start.Add(time.Duration(i) * 100 * time.Microsecond)
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(time.Duration(1+rng.IntN(1000)) * time.Microsecond)))
			a := s.Attributes()
			a.PutStr("net.peer.ip", "1.2.3.4")
			a.PutStr("peer.service", "telemetrygen-client")
			if i == 0 {
				root = id
				s.SetName("lets-go")
				s.SetKind(ptrace.SpanKindServer)
			} else {
				s.SetParentSpanID(root)
				s.SetName("okey-dokey-" + fmt.Sprint(i%4))
				s.SetKind(ptrace.SpanKindClient)
				a.PutStr("http.method", "GET")
				a.PutInt("http.status_code", 200)
			}
			s.Status().SetCode(ptrace.StatusCodeUnset)
		}
	}
	return td
}

// rekey gives every span of td a new trace id derived from its old one and
// round, so that repeated writes of one request are new data.
func rekey(td ptrace.Traces, round uint64) {
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < spans.Len(); i++ {
		s := spans.At(i)
		tid := s.TraceID()
		binary.BigEndian.PutUint64(tid[8:], binary.BigEndian.Uint64(tid[8:])^(round*0x9e3779b97f4a7c15))
		s.SetTraceID(tid)
	}
}

func withMemTable(size int64) envOption {
	return func(c *Config, _ *BuilderConfig) {
		c.MemTableSize = size
		c.BlockCacheSize = 64 << 20
	}
}

// fillTraces writes traces telemetrygen-like traces of spansPerTrace spans in
// requests of 1000 spans and returns their ids.
func fillTraces(b *testing.B, e *testEnv, traces, spansPerTrace int) []pcommon.TraceID {
	b.Helper()
	rng := newRand(1000)
	var ids []pcommon.TraceID
	perReq := max(1000/spansPerTrace, 1)
	for done := 0; done < traces; done += perReq {
		td := genTelemetrygen(rng, min(perReq, traces-done), spansPerTrace, e.clock.Now())
		e.writeTraces(td)
		ids = append(ids, traceIDsOf(td)...)
	}
	return ids
}

func BenchmarkBuildTraces(b *testing.B) {
	const traces, per = 100, 10
	td := genTraces(newRand(1), traces, per, time.Now())
	spans := spanCount(td)
	seen := NewSeenCache(1 << 16)
	bld, err := NewBuilder(testBuilderConfig(256), seen, nil)
	if err != nil {
		b.Fatal(err)
	}
	// Round trip: the built batches decode back to the request's spans.
	r := bld.Traces(td)
	if r.Accepted != spans || r.Rejected != 0 {
		b.Fatalf("accepted %d of %d", r.Accepted, spans)
	}
	decoded := 0
	for _, pb := range r.Batches {
		seen.Add(pb.Seen)
		it := NewEntryIter(pb.Entries)
		for it.Next() {
			e := it.Entry()
			if e.Key[partLen] == kindSpan {
				td, err := DecodeTrace([]*starlingpb.Record{{Key: e.Key, Value: e.Value}}, nil)
				if err != nil {
					b.Fatal(err)
				}
				decoded += td.SpanCount()
			}
		}
	}
	if decoded != spans {
		b.Fatalf("%d spans in the batches, want %d", decoded, spans)
	}

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := bld.Traces(td)
		if r.Accepted != spans {
			b.Fatal("rejected spans")
		}
	}
	b.ReportMetric(float64(spans*b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(spans), "spans/op")
}

func BenchmarkApplyTraces(b *testing.B) {
	const traces, per = 205, 10 // about 2048 spans, like telemetrygen --batch-size 2048
	e := newTestEnv(b, 256, withMemTable(64<<20))
	td := genTelemetrygen(newRand(2), traces, per, e.clock.Now())
	spans := spanCount(td)
	// Round trip before timing.
	e.writeTraces(td)
	for _, tid := range traceIDsOf(td)[:5] {
		out := e.readTrace(tid)
		dt, err := DecodeTrace(out.Records, out.Refs)
		if err != nil || dt.SpanCount() != per {
			b.Fatalf("trace %s: %d spans, %v", tid, dt.SpanCount(), err)
		}
	}

	round := uint64(0)
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for b.Loop() {
		round++
		rekey(td, round)
		r := e.builder.Traces(td)
		if err := applyAllErr(e.store, e.seen, sigTraces, r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(spans*b.N)/b.Elapsed().Seconds(), "spans/s")
	// CPU of the whole process (Badger's flushes and compactions included)
	// per span: the figure that decides how much ingest two cores carry.
	cpuPerSpan := float64((processCPU() - cpu0).Microseconds()) / float64(spans*b.N)
	b.ReportMetric(cpuPerSpan, "cpu-µs/span")
	b.ReportMetric(1e6/cpuPerSpan, "spans/s/core")
}

// processCPU is the user+system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkReadTrace(b *testing.B) {
	const traces, per = 20000, 10 // 200k spans
	e := newTestEnv(b, 256, withMemTable(64<<20))
	setup := time.Now()
	ids := fillTraces(b, e, traces, per)
	b.Logf("setup: %d spans in %s", traces*per, time.Since(setup).Round(time.Millisecond))
	for _, tid := range ids[:10] {
		out := e.readTrace(tid)
		dt, err := DecodeTrace(out.Records, out.Refs)
		if err != nil || dt.SpanCount() != per {
			b.Fatalf("trace %s: %d spans, %v", tid, dt.SpanCount(), err)
		}
	}
	rng := newRand(3)
	ctx := context.Background()
	var out starlingpb.ResultChunk
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tid := ids[rng.IntN(len(ids))]
		out.Reset()
		if err := e.store.ReadTrace(ctx, PartitionOf(TraceHash(tid), e.parts), tid, &out); err != nil {
			b.Fatal(err)
		}
		if n := spansIn(b, &out); n != per {
			b.Fatalf("%d spans", n)
		}
	}
}

func BenchmarkSearchTracesByService(b *testing.B) {
	const traces, per = 5000, 10
	e := newTestEnv(b, 256, withMemTable(64<<20))
	rng := newRand(4)
	now := e.clock.Now()
	// Several services, so that the searched one is a fraction of the data.
	for i := range traces / 100 {
		td := genTelemetrygen(rng, 100, per, now)
		td.ResourceSpans().At(0).Resource().Attributes().PutStr("service.name", fmt.Sprint("svc-", i%5))
		e.writeTraces(td)
	}
	q := &starlingpb.TraceSearch{Service: "svc-3"}
	const limit = 20
	search := func() int {
		n := 0
		var out starlingpb.ResultChunk
		for p := range e.parts {
			out.Reset()
			if err := e.store.SearchTraces(context.Background(), uint32(p), q, 0, maxTime, limit, &out); err != nil {
				b.Fatal(err)
			}
			n += len(out.TraceHits)
		}
		return n
	}
	// Round trip: every hit is a trace of the service.
	var out starlingpb.ResultChunk
	if err := e.store.SearchTraces(context.Background(), 0, q, 0, maxTime, limit, &out); err != nil {
		b.Fatal(err)
	}
	for _, h := range out.TraceHits {
		tr := e.readTrace(pcommon.TraceID(h.TraceId))
		sum, err := SummarizeTrace(tr.Records, tr.Refs)
		if err != nil || sum.RootService != "svc-3" {
			b.Fatalf("hit %x: service %q, %v", h.TraceId, sum.RootService, err)
		}
	}
	if n := search(); n != traces/5 {
		b.Fatalf("%d hits over all partitions, want %d", n, traces/5)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		search()
	}
	b.ReportMetric(float64(e.parts), "partitions/op")
}
