package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// Benchmarks of the metrics paths: building remote write and OTLP requests
// into partition batches, flushing head blocks into chunks, and the
// storage side of a PromQL select. Each checks its result before it starts
// timing. Run with e.g.
//
//	go test ./storage -run '^$' -bench 'Metrics|Prom' -benchtime 3x

// nodeGen generates node-exporter-like series: names × instances × cpus
// series labelled __name__, cluster, cpu, env, instance and job. Even
// names are counters (_total, growing by hundredths, as CPU seconds do),
// odd ones noisy gauges.
type nodeGen struct {
	rng     *rand.Rand
	labels  [][]tsdb.Label
	counter []bool
	vals    []float64
}

func newNodeGen(seed uint64, cluster string, names, instances, cpus int) *nodeGen {
	g := &nodeGen{rng: newRand(seed)}
	for n := range names {
		name := fmt.Sprintf("node_gauge_%d", n)
		if n%2 == 0 {
			name = fmt.Sprintf("node_counter_%d_total", n)
		}
		for i := range instances {
			for c := range cpus {
				g.labels = append(g.labels, []tsdb.Label{ // sorted by name
					{Name: tsdb.MetricNameLabel, Value: name},
					{Name: "cluster", Value: cluster},
					{Name: "cpu", Value: fmt.Sprint(c)},
					{Name: "env", Value: "prod"},
					{Name: "instance", Value: fmt.Sprintf("10.1.%d.%d:9100", i/200, i%200+10)},
					{Name: "job", Value: "node"},
				})
				g.counter = append(g.counter, n%2 == 0)
				g.vals = append(g.vals, float64(g.rng.IntN(1_000_000))/100)
			}
		}
	}
	return g
}

func (g *nodeGen) series() int { return len(g.labels) }

// request returns a write of every series with n samples each, step ms
// apart from t0 (ms).
func (g *nodeGen) request(t0, step int64, n int) *tsdb.WriteRequest {
	req := &tsdb.WriteRequest{Series: make([]tsdb.Series, len(g.labels))}
	for i, ls := range g.labels {
		s := &req.Series[i]
		s.Labels = append([]tsdb.Label(nil), ls...)
		s.Samples = make([]tsdb.Sample, n)
		for k := range n {
			if g.counter[i] {
				g.vals[i] += float64(g.rng.IntN(1500)) / 100
			} else {
				g.vals[i] = 50 + 20*g.rng.NormFloat64()
			}
			s.Samples[k] = tsdb.Sample{T: t0 + int64(k)*step, V: g.vals[i]}
		}
	}
	return req
}

// writeNodeGen writes total samples per series from t0 on, step ms
// apart, in requests of perReq samples of every series, as remote write
// sends them.
func writeNodeGen(e *testEnv, g *nodeGen, t0, step int64, total, perReq int) {
	e.t.Helper()
	for done := 0; done < total; done += perReq {
		e.writeProm(g.request(t0+int64(done)*step, step, min(perReq, total-done)))
	}
}

// previousBlock is the start (ms) of the block before the one holding
// now: a block wholly in the past, within retention.
func previousBlock(now time.Time, window time.Duration) int64 {
	bd := BlockDuration(window).Milliseconds()
	t := now.UnixMilli()
	return t - t%bd - bd
}

// buildStats counts what the batches of r carry: series definitions and
// the samples of their records.
func buildStats(b *testing.B, r BuildResult) (defs, samples int) {
	b.Helper()
	for _, pb := range r.Batches {
		it := NewEntryIter(pb.Entries)
		for it.Next() {
			switch e := it.Entry(); e.Key[partLen] {
			case kindSeries:
				defs++
			case kindRecord:
				if err := tsdb.DecodeRecord(e.Value, func(rs *tsdb.RecordSeries) error {
					samples += len(rs.Samples) + len(rs.Histograms)
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := it.Err(); err != nil {
			b.Fatal(err)
		}
	}
	return defs, samples
}

func BenchmarkBuildProm(b *testing.B) {
	const parts = 256
	clock := newFakeClock(time.Now())
	t0 := previousBlock(clock.Now(), testBuilderConfig(parts).Window) + 30*60_000
	// 1,000 series (10 names × 10 instances × 10 cpus) × 10 samples at 15 s.
	req := newNodeGen(1, "eu-1", 10, 10, 10).request(t0, 15_000, 10)
	series, samples := len(req.Series), 10*len(req.Series)
	run := func(b *testing.B, steady bool) {
		seen := NewSeenCache(1 << 16)
		bld, err := NewBuilder(testBuilderConfig(parts), seen, clock.Now)
		if err != nil {
			b.Fatal(err)
		}
		// The first request writes every definition.
		r := bld.Prom(req, true)
		if r.Accepted != samples || r.Rejected != 0 {
			b.Fatalf("accepted %d of %d samples, rejected %d: %s", r.Accepted, samples, r.Rejected, r.Message)
		}
		if defs, n := buildStats(b, r); defs != series || n != samples {
			b.Fatalf("first request: %d definitions and %d samples in the batches, want %d and %d", defs, n, series, samples)
		}
		wantDefs := series
		if steady {
			// Committed: the series are known from now on, as every
			// request after a sender's first finds them.
			for _, pb := range r.Batches {
				seen.Add(pb.Seen)
			}
			wantDefs = 0
		}
		r = bld.Prom(req, true)
		if defs, n := buildStats(b, r); defs != wantDefs || n != samples {
			b.Fatalf("second request: %d definitions and %d samples in the batches, want %d and %d", defs, n, wantDefs, samples)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			r := bld.Prom(req, true)
			if r.Accepted != samples || len(r.Batches) == 0 {
				b.Fatalf("accepted %d of %d samples in %d batches: %s", r.Accepted, samples, len(r.Batches), r.Message)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*samples), "ns/sample")
	}
	b.Run("steady", func(b *testing.B) { run(b, true) })
	// Series never committed (the seen cache never gets them): every
	// request writes each one's definition, postings and name marker.
	b.Run("first-seen", func(b *testing.B) { run(b, false) })
}

// genOTLPNode returns OTLP metrics of resources instances of one service
// (service.name, service.instance.id), each with five gauges and five
// cumulative sums of seriesPerMetric attribute sets of points points 15 s
// apart ending at end.
func genOTLPNode(rng *rand.Rand, instances, seriesPerMetric, points int, end time.Time) pmetric.Metrics {
	gauges := []struct{ name, unit string }{
		{"system.cpu.utilization", "1"}, {"process.memory.usage", "By"}, {"http.server.active_requests", "{request}"},
		{"jvm.thread.count", "{thread}"}, {"queue.depth", "{message}"},
	}
	sums := []struct{ name, unit string }{
		{"http.server.requests", "{request}"}, {"rpc.server.calls", "{call}"}, {"system.network.io", "By"},
		{"db.client.operations", "{operation}"}, {"messaging.client.consumed.messages", "{message}"},
	}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH"}
	start := pcommon.NewTimestampFromTime(end.Add(-24 * time.Hour))
	tsAt := func(i int) pcommon.Timestamp {
		return pcommon.NewTimestampFromTime(end.Add(-time.Duration(points-1-i) * 15 * time.Second))
	}
	attrs := func(m pcommon.Map, s int) {
		m.PutStr("http.request.method", methods[s%len(methods)])
		m.PutInt("http.response.status_code", int64(200+100*(s/len(methods)%4)))
		m.PutStr("server.address", fmt.Sprint("backend-", s/(4*len(methods))))
	}
	md := pmetric.NewMetrics()
	for inst := range instances {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "checkout")
		rm.Resource().Attributes().PutStr("service.instance.id", fmt.Sprintf("checkout-7d9f8c-%05d", inst))
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("go.opentelemetry.io/otel/sdk/metric")
		for _, g := range gauges {
			m := sm.Metrics().AppendEmpty()
			m.SetName(g.name)
			m.SetUnit(g.unit)
			dps := m.SetEmptyGauge().DataPoints()
			for s := range seriesPerMetric {
				for i := range points {
					p := dps.AppendEmpty()
					attrs(p.Attributes(), s)
					p.SetTimestamp(tsAt(i))
					p.SetDoubleValue(50 + 20*rng.NormFloat64())
				}
			}
		}
		for _, sd := range sums {
			m := sm.Metrics().AppendEmpty()
			m.SetName(sd.name)
			m.SetUnit(sd.unit)
			sum := m.SetEmptySum()
			sum.SetIsMonotonic(true)
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for s := range seriesPerMetric {
				v := rng.Int64N(1_000_000)
				for i := range points {
					p := sum.DataPoints().AppendEmpty()
					attrs(p.Attributes(), s)
					p.SetStartTimestamp(start)
					p.SetTimestamp(tsAt(i))
					v += rng.Int64N(100)
					p.SetIntValue(v)
				}
			}
		}
	}
	return md
}

func BenchmarkBuildOTLPMetrics(b *testing.B) {
	const parts = 256
	clock := newFakeClock(time.Now())
	end := time.UnixMilli(previousBlock(clock.Now(), testBuilderConfig(parts).Window) + 30*60_000)
	// 10 instances × 10 metrics × 10 attribute sets: 1,000 series × 10 points.
	md := genOTLPNode(newRand(2), 10, 10, 10, end)
	points := md.DataPointCount()
	want, err := TranslateOTLP(md)
	if err != nil {
		b.Fatal(err)
	}
	wantSamples := 0
	for _, s := range want.Series {
		wantSamples += len(s.Samples)
	}
	if len(want.Series) != 1000 || wantSamples != points {
		b.Fatalf("the translator makes %d series of %d samples of %d points; fix the generator", len(want.Series), wantSamples, points)
	}
	seen := NewSeenCache(1 << 16)
	bld, err := NewBuilder(testBuilderConfig(parts), seen, clock.Now)
	if err != nil {
		b.Fatal(err)
	}
	r := bld.Metrics(md)
	if r.Accepted != points || r.Rejected != 0 {
		b.Fatalf("accepted %d of %d points, rejected %d: %s", r.Accepted, points, r.Rejected, r.Message)
	}
	if defs, n := buildStats(b, r); defs != len(want.Series) || n != points {
		b.Fatalf("first request: %d definitions and %d samples in the batches, want %d and %d", defs, n, len(want.Series), points)
	}
	for _, pb := range r.Batches {
		seen.Add(pb.Seen)
	}
	// Steady state: the series are known; md is left as it came (every
	// point valid), so each round builds the same request.
	r = bld.Metrics(md)
	if defs, n := buildStats(b, r); defs != 0 || n != points || md.DataPointCount() != points {
		b.Fatalf("second request: %d definitions and %d samples in the batches (%d points left), want 0 and %d", defs, n, md.DataPointCount(), points)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := bld.Metrics(md)
		if r.Accepted != points || len(r.Batches) == 0 {
			b.Fatalf("accepted %d of %d points in %d batches: %s", r.Accepted, points, len(r.Batches), r.Message)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
}

// chunkSamples counts the samples of the chunk entries of a flush.
func chunkSamples(b *testing.B, entries []byte) (chunks, samples int) {
	b.Helper()
	it := NewEntryIter(entries)
	for it.Next() {
		e := it.Entry()
		if e.Key[partLen] != kindChunk || e.Delete {
			continue
		}
		fs, hs, err := DecodeChunks([][]byte{e.Value})
		if err != nil {
			b.Fatal(err)
		}
		chunks++
		samples += len(fs) + len(hs)
	}
	if err := it.Err(); err != nil {
		b.Fatal(err)
	}
	return chunks, samples
}

func BenchmarkFlushMetrics(b *testing.B) {
	// 2,000 series (10 names × 20 instances × 10 cpus) × a full 2 h block
	// at 15 s: one chunk per series, as a flush cuts them in production.
	const parts, perSeries, step = 16, 480, 15_000
	setup := func(b *testing.B, e *testEnv, g *nodeGen, t0 int64) int {
		began := time.Now()
		writeNodeGen(e, g, t0, step, perSeries, 10)
		b.Logf("setup: %d samples in %s", g.series()*perSeries, time.Since(began).Round(time.Millisecond))
		return g.series() * perSeries
	}

	// The first commit of a flush: every series' samples of the block read
	// out of the head, checked against the chunks stored for the block and
	// encoded into chunk entries. The blocks stay flushing and nothing is
	// committed, so every round flushes the same blocks, none merged.
	b.Run("entries", func(b *testing.B) {
		e := newTestEnv(b, parts, withMemTable(16<<20))
		g := newNodeGen(3, "eu-1", 10, 20, 10)
		total := setup(b, e, g, previousBlock(e.clock.Now(), e.cfg.Window))
		type due struct {
			p uint32
			b *tsdb.Block
		}
		var blocks []due
		for p, h := range e.heads {
			for _, blk := range h.Due(true) {
				blocks = append(blocks, due{p, blk})
			}
		}
		flush := func(keep bool) (FlushStats, []byte) {
			var total FlushStats
			var all []byte
			for _, d := range blocks {
				ents, st, err := e.store.FlushEntries(context.Background(), d.p, d.b)
				if err != nil {
					b.Fatal(err)
				}
				if len(ents) == 0 {
					b.Fatalf("partition %d: no entries for a block of %d samples", d.p, d.b.Samples())
				}
				if keep {
					all = append(all, ents...)
				}
				total.Series += st.Series
				total.Samples += st.Samples
				total.Chunks += st.Chunks
				total.Merged += st.Merged
				total.Bytes += st.Bytes
			}
			return total, all
		}
		st, ents := flush(true)
		if st.Series != g.series() || st.Samples != total || st.Chunks != g.series() || st.Merged != 0 {
			b.Fatalf("flush: %+v, want %d series of %d samples in %d chunks, none merged", st, g.series(), total, g.series())
		}
		if chunks, n := chunkSamples(b, ents); chunks != g.series() || n != total {
			b.Fatalf("%d chunks of %d samples decoded, want %d of %d", chunks, n, g.series(), total)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if st, _ := flush(false); st.Samples != total {
				b.Fatalf("flushed %d samples, want %d", st.Samples, total)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/sample")
		b.ReportMetric(float64(st.Bytes)/float64(total), "chunk-B/sample")
	})

	// The partition actor's whole flush (flushBlocks): chunks committed,
	// the blocks out of the heads, the blocks' records deleted and that
	// committed. Each round writes a new cluster's series first (not
	// timed), so that no flush merges with the chunks of the one before.
	b.Run("commit", func(b *testing.B) {
		e := newTestEnv(b, parts, withMemTable(16<<20))
		t0 := previousBlock(e.clock.Now(), e.cfg.Window)
		g := newNodeGen(4, "eu-0", 10, 20, 10)
		total := setup(b, e, g, t0)
		st := e.flushMetrics(true)
		if st.Series != g.series() || st.Samples != total || st.Chunks != g.series() || st.Merged != 0 {
			b.Fatalf("flush: %+v, want %d series of %d samples in %d chunks, none merged", st, g.series(), total, g.series())
		}
		if n := countRecords(b, e); n != 0 {
			b.Fatalf("%d records left after the flush", n)
		}
		got := e.selectSeries(t0, t0+perSeries*step, labels.MustNewMatcher(labels.MatchEqual, "cluster", "eu-0"))
		n := 0
		for _, s := range got {
			n += len(s.Samples)
		}
		if len(got) != g.series() || n != total {
			b.Fatalf("read back %d series of %d samples, want %d of %d", len(got), n, g.series(), total)
		}
		round := 0
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			b.StopTimer()
			round++
			writeNodeGen(e, newNodeGen(uint64(4+round), fmt.Sprint("eu-", round), 10, 20, 10), t0, step, perSeries, 10)
			b.StartTimer()
			if st := e.flushMetrics(true); st.Samples != total || st.Merged != 0 {
				b.Fatalf("round %d: flush %+v, want %d samples, none merged", round, st, total)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/sample")
	})
}

func BenchmarkSelectMetrics(b *testing.B) {
	// 10,000 series (10 names × 100 instances × 10 cpus) with 1 h of 15 s
	// samples, flushed into chunks or still in the heads; the selector
	// matches one name and one cpu: 100 series, one per instance.
	for _, flushed := range []bool{true, false} {
		name := "from=chunks"
		if !flushed {
			name = "from=head"
		}
		b.Run(name, func(b *testing.B) { benchmarkSelectMetrics(b, flushed) })
	}
}

func benchmarkSelectMetrics(b *testing.B, flushed bool) {
	const parts, perSeries, step = 16, 240, 15_000
	e := newTestEnv(b, parts, withMemTable(16<<20))
	g := newNodeGen(5, "eu-1", 10, 100, 10)
	t0 := previousBlock(e.clock.Now(), e.cfg.Window)
	began := time.Now()
	writeNodeGen(e, g, t0, step, perSeries, 10)
	if flushed {
		if st := e.flushMetrics(true); st.Series != g.series() || st.Samples != g.series()*perSeries {
			b.Fatalf("flush: %+v", st)
		}
	}
	b.Logf("setup: %d samples in %s", g.series()*perSeries, time.Since(began).Round(time.Millisecond))
	start, end := t0, t0+perSeries*step-1
	ms := []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, tsdb.MetricNameLabel, "node_counter_4_total"),
		labels.MustNewMatcher(labels.MatchEqual, "cpu", "7"),
	}
	const wantSeries = 100
	got := e.selectSeries(start, end, ms...)
	samples := 0
	for _, s := range got {
		if len(s.Samples) != perSeries || !matchesAll(s.Labels, ms) {
			b.Fatalf("series %s: %d samples, want %d", tsdb.LabelsString(s.Labels), len(s.Samples), perSeries)
		}
		samples += len(s.Samples)
	}
	if len(got) != wantSeries {
		b.Fatalf("%d series selected, want %d", len(got), wantSeries)
	}
	q := &starlingpb.SeriesSelect{StartMs: start, EndMs: end, Matchers: []*starlingpb.LabelMatcher{
		{Type: starlingpb.LabelMatcher_TYPE_EQUAL, Name: ms[0].Name, Value: ms[0].Value},
		{Type: starlingpb.LabelMatcher_TYPE_EQUAL, Name: ms[1].Name, Value: ms[1].Value},
	}}
	ctx := context.Background()
	var out starlingpb.ResultChunk
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		// One select reads every partition (one after the other here; the
		// query fans out to them in parallel), each with its head, as the
		// partition actors answer it.
		series, chunks := 0, 0
		for p := uint32(0); p < parts; p++ {
			out.Reset()
			if err := e.store.SelectSeries(ctx, p, q, 0, e.head(p), &out); err != nil {
				b.Fatal(err)
			}
			for _, r := range out.Records {
				switch r.Key[partLen] {
				case kindSeries:
					series++
				case kindChunk:
					chunks++
				}
			}
		}
		if series != wantSeries || chunks < wantSeries {
			b.Fatalf("%d series with %d chunks selected, want %d", series, chunks, wantSeries)
		}
	}
	b.ReportMetric(float64(samples), "samples/op")
	b.ReportMetric(float64(wantSeries), "series/op")
}
