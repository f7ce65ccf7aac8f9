package storage

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// rollupSeries are three series over [base, base+n×15 s): a counter with
// resets, a gauge, and a series that goes stale now and then.
func rollupSeries(base int64, n int) []tsdb.Series {
	var counter, gauge, flaky []tsdb.Sample
	c := 0.0
	for i := range n {
		t := base + int64(i)*15000
		if i%701 == 700 {
			c = 0
		}
		c += float64(i % 7)
		counter = append(counter, tsdb.Sample{T: t, V: c})
		gauge = append(gauge, tsdb.Sample{T: t, V: math.Sin(float64(i)/50) * 100})
		v := float64(i % 13)
		if i%277 == 276 {
			v = math.Float64frombits(tsdb.StaleNaN)
		}
		flaky = append(flaky, tsdb.Sample{T: t, V: v})
	}
	return []tsdb.Series{
		promSeries("req_total", counter, "job", "a"),
		promSeries("temp", gauge, "job", "a"),
		promSeries("flaky", flaky, "job", "b"),
	}
}

// selectRolled reads every series at a rollup resolution: labels → buckets.
func (e *testEnv) selectRolled(res starlingpb.Resolution, start, end int64) map[string][]tsdb.Bucket {
	e.t.Helper()
	out := map[string][]tsdb.Bucket{}
	for p := uint32(0); p < uint32(e.parts); p++ {
		var rc starlingpb.ResultChunk
		q := &starlingpb.SeriesSelect{Matchers: []*starlingpb.LabelMatcher{{Type: starlingpb.LabelMatcher_TYPE_REGEX, Name: "__name__", Value: ".+"}},
			StartMs: start, EndMs: end, Resolution: res}
		if err := e.store.SelectSeries(context.Background(), p, q, 0, e.heads[p], &rc); err != nil {
			e.t.Fatalf("select partition %d: %v", p, err)
		}
		ss, err := DecodeSelect(rc.Records)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range ss {
			if s.Res == 0 {
				e.t.Fatalf("series %s answered raw at %v", tsdb.LabelsString(s.Labels), res)
			}
			out[tsdb.LabelsString(s.Labels)] = s.Buckets
		}
	}
	return out
}

// wantBuckets rolls up samples whole and keeps the buckets ending in the
// buckets of [start, end].
func wantBuckets(samples []tsdb.Sample, res, start, end int64) []tsdb.Bucket {
	from, to := bucketEndOf(start, res), bucketEndOf(end, res)
	var out []tsdb.Bucket
	for _, b := range tsdb.AppendRollup(nil, samples, res) {
		if b.End >= from && b.End <= to {
			out = append(out, b)
		}
	}
	return out
}

func checkBuckets(t *testing.T, what string, got, want []tsdb.Bucket) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d buckets, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		near := func(a, b float64) bool {
			return math.Float64bits(a) == math.Float64bits(b) || math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
		}
		if g.End != w.End || g.Count != w.Count || g.Stale != w.Stale || w.Count > 0 && (g.FirstT != w.FirstT || g.LastT != w.LastT ||
			!near(g.First, w.First) || !near(g.Last, w.Last) || !near(g.Min, w.Min) || !near(g.Max, w.Max) || !near(g.Sum, w.Sum) || !near(g.ResetSum, w.ResetSum)) {
			t.Fatalf("%s bucket %d:\n got %+v\nwant %+v", what, i, g, w)
		}
	}
}

// TestRollupSelect: buckets read at a rollup resolution equal the rollup
// of the raw samples, whether they come from flushed blocks' stored
// rollups (merged across block edges), from a block reopened by a late
// sample, or from the head.
func TestRollupSelect(t *testing.T) {
	// At noon: the head's hours (4 h back to 1 h back) then stay clear of
	// a day's window edge; across one, a head block gets its rollups from
	// the next pass instead of its flush (the same buckets, another count
	// below). With the wall clock between 02:00 and 07:00 UTC they crossed
	// it and the test failed.
	noon := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	e := newTestEnvAt(t, t.TempDir(), 2, newFakeClock(noon))
	block := BlockDuration(e.cfg.Window).Milliseconds()
	now := e.clock.Now().UnixMilli()
	base := now - 20*3600_000
	base -= base % block
	flushed := rollupSeries(base, 16*240) // 16 h
	e.writeProm(&tsdb.WriteRequest{Series: flushed})
	if st := e.flushMetrics(true); st.Rollups != 0 {
		t.Fatalf("a first flush wrote rollups of %d series-blocks, want none (a rollup pass writes them)", st.Rollups)
	}
	if st := e.rollupMetrics(maxTime); st.Series != 3*8 || st.Samples != 3*16*240 {
		t.Fatalf("rollup pass: %+v, want 24 series-blocks of 11,520 samples", st)
	}
	// The next hours stay in the head; one late sample reopens block 2.
	recent := rollupSeries(base+16*3600_000, 3*240)
	late := tsdb.Sample{T: base + 2*block + 7_500, V: 1e6}
	for i := range recent {
		recent[i].Samples = recent[i].Samples[:len(recent[i].Samples):len(recent[i].Samples)]
	}
	recent[1].Samples = append(recent[1].Samples, late)
	slices.SortFunc(recent[1].Samples, func(a, b tsdb.Sample) int { return cmpInt64(a.T, b.T) })
	e.writeProm(&tsdb.WriteRequest{Series: recent})
	check := func(t *testing.T) {
		for _, tier := range rollupTiers {
			res := starlingpb.Resolution_RESOLUTION_5M
			if tier.res == tsdb.Res1h {
				res = starlingpb.Resolution_RESOLUTION_1H
			}
			for _, rng := range [][2]int64{{base, base + 19*3600_000}, {base + 90*60_000 + 1, base + 17*3600_000 - 1}} {
				got := e.selectRolled(res, rng[0], rng[1])
				for i := range flushed {
					all := tsdb.MergeSamples(append([]tsdb.Sample(nil), flushed[i].Samples...), recent[i].Samples)
					name := tsdb.LabelsString(flushed[i].Labels)
					checkBuckets(t, name+" at "+res.String(), got[name], wantBuckets(all, tier.res, rng[0], rng[1]))
				}
			}
		}
	}
	t.Run("rollups, late block and head", check)
	// Every block up to the pass's bound is marked rolled up, so their
	// flushes write rollups: the late block's (merged anew) and the head's
	// two blocks of three series.
	if st := e.flushMetrics(true); st.Rollups != 7 {
		t.Fatalf("flush of the late block and the head wrote rollups of %d series, want 7", st.Rollups)
	}
	e.rollupMetrics(maxTime)
	t.Run("rollups only", check)
}

// TestRollupsOutliveRawData: once raw windows expire, the rollup tiers
// still find their series (each tier keeps its own index) and answer.
func TestRollupsOutliveRawData(t *testing.T) {
	clock := newFakeClock(time.Now())
	e := newTestEnvAt(t, t.TempDir(), 2, clock, withRetentionLoopOff(), func(c *Config, b *BuilderConfig) {
		c.RetentionMetrics = 48 * time.Hour
		b.Retention[sigMetrics] = 48 * time.Hour
	})
	block := BlockDuration(e.cfg.Window).Milliseconds()
	base := clock.Now().UnixMilli() - 30*3600_000
	base -= base % block
	series := rollupSeries(base, 8*240)
	e.writeProm(&tsdb.WriteRequest{Series: series})
	e.flushMetrics(true)
	e.rollupMetrics(maxTime)
	clock.Advance(5 * 24 * time.Hour)
	if n, _, err := e.store.ExpireWindows(); err != nil || n == 0 {
		t.Fatalf("expire: %d windows, %v", n, err)
	}
	if raw := e.allSeries(0, maxTime); len(raw) != 3 || len(raw[0].Samples) != 0 {
		t.Fatalf("raw read after expiry: %d series (want 3 from the rollup index, without samples)", len(raw))
	}
	got := e.selectRolled(starlingpb.Resolution_RESOLUTION_1H, base, base+8*3600_000)
	for _, s := range series {
		name := tsdb.LabelsString(s.Labels)
		checkBuckets(t, name, got[name], wantBuckets(s.Samples, tsdb.Res1h, base, base+8*3600_000))
	}
	var names []string
	for p := uint32(0); p < 2; p++ {
		var rc starlingpb.ResultChunk
		if err := e.store.LabelQuery(context.Background(), p, &starlingpb.LabelQuery{Name: "__name__", StartMs: base, EndMs: base + 3600_000}, &rc); err != nil {
			t.Fatal(err)
		}
		names = append(names, rc.Names...)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"flaky", "req_total", "temp"}) {
		t.Errorf("metric names from the rollup index: %v", names)
	}
	// A label matcher selects through the tier's postings.
	ms := e.selectSeries(base, base+3600_000, labels.MustNewMatcher(labels.MatchEqual, "job", "b"))
	if len(ms) != 1 || tsdb.MetricName(ms[0].Labels) != "flaky" {
		t.Errorf("job=b after expiry: %+v", ms)
	}
}
