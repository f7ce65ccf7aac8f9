package storage

import (
	"context"
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// The metrics side of the test environment: a head per partition, as the
// partition actors keep them, so that tests write, flush and read metrics
// the way a node does.

// testWriter is the writer id the environment completes records with.
const testWriter = 7

func (e *testEnv) head(p uint32) *tsdb.Head {
	if e.heads == nil {
		e.heads = map[uint32]*tsdb.Head{}
	}
	if h := e.heads[p]; h != nil {
		return h
	}
	cfg := tsdb.DefaultHeadConfig()
	cfg.BlockDuration = BlockDuration(e.cfg.Window).Milliseconds()
	cfg.Now = e.clock.Now
	cfg.Names = storeNames{e.store, p}
	h, err := tsdb.NewHead(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.heads[p] = h
	return h
}

// storeNames is the partition actors' tsdb.SeriesNames.
type storeNames struct {
	s *Store
	p uint32
}

func (n storeNames) MetricName(hash uint64) string { return n.s.SeriesName(n.p, hash) }

func (e *testEnv) writeMetrics(md pmetric.Metrics) BuildResult {
	e.t.Helper()
	r := e.builder.Metrics(md)
	if r.Rejected != 0 {
		e.t.Fatalf("metrics rejected: %d (%v): %s", r.Rejected, r.Reasons, r.Message)
	}
	e.applyMetrics(r)
	return r
}

func (e *testEnv) writeProm(req *tsdb.WriteRequest) BuildResult {
	e.t.Helper()
	r := e.builder.Prom(req, true)
	if r.Rejected != 0 {
		e.t.Fatalf("series rejected: %d (%v): %s", r.Rejected, r.Reasons, r.Message)
	}
	e.applyMetrics(r)
	return r
}

// applyMetrics commits the batches of r as their partitions' copies do:
// records completed and appended to the partition's head.
func (e *testEnv) applyMetrics(r BuildResult) {
	e.t.Helper()
	for i := range r.Batches {
		b := &r.Batches[i]
		if _, err := CheckEntries(b.Entries, b.Partition, e.store.WindowSeconds()); err != nil {
			e.t.Fatalf("batch of partition %d: %v", b.Partition, err)
		}
		h := e.head(b.Partition)
		local, err := CompleteRecords(b.Entries, testWriter, h.NextSeq, h.Append)
		if err != nil {
			e.t.Fatalf("complete records of partition %d: %v", b.Partition, err)
		}
		b.Entries = local
	}
	e.apply(sigMetrics, r)
}

// flushMetrics flushes the blocks of every head that are due (all: every
// block), as the partition actors' flush loop does.
func (e *testEnv) flushMetrics(all bool) FlushStats {
	e.t.Helper()
	var total FlushStats
	for p, h := range e.heads {
		for _, b := range h.Due(all) {
			ents, st, err := e.store.FlushEntries(context.Background(), p, b)
			if err != nil {
				e.t.Fatalf("flush partition %d: %v", p, err)
			}
			e.commit(ents)
			h.Flushed(b)
			dels, err := e.store.RecordDeletes(p, b.Start, b.Cut())
			if err != nil {
				e.t.Fatal(err)
			}
			e.commit(dels)
			total.Series += st.Series
			total.Samples += st.Samples
			total.Chunks += st.Chunks
			total.Merged += st.Merged
			total.Bytes += st.Bytes
			total.Rollups += st.Rollups
		}
	}
	return total
}

// rollupMetrics runs rollup passes of every partition up to upTo (ms)
// until they find nothing more, as the partition actors do.
func (e *testEnv) rollupMetrics(upTo int64) RollupStats {
	e.t.Helper()
	var total RollupStats
	for p := uint32(0); p < uint32(e.parts); p++ {
		for {
			if h := e.heads[p]; h != nil {
				upTo = min(upTo, h.MinBlockStart())
			}
			ents, st, err := e.store.RollupEntries(context.Background(), p, upTo)
			if err != nil {
				e.t.Fatalf("rollup partition %d: %v", p, err)
			}
			if st.Blocks == 0 {
				break
			}
			e.commit(ents)
			total.Blocks += st.Blocks
			total.Series += st.Series
			total.Samples += st.Samples
		}
	}
	return total
}

// commit applies raw entries and waits.
func (e *testEnv) commit(entries []byte) {
	e.t.Helper()
	if len(entries) == 0 {
		return
	}
	done := make(chan error, 1)
	e.store.Apply(sigMetrics, entries, 0, func(err error) { done <- err })
	if err := <-done; err != nil {
		e.t.Fatal(err)
	}
}

// replayHeads drops the heads and rebuilds them from the stored records,
// as restarted partition actors do.
func (e *testEnv) replayHeads() {
	e.t.Helper()
	e.heads = nil
	for p := uint32(0); p < uint32(e.parts); p++ {
		h := e.head(p)
		if err := e.store.EachRecord(context.Background(), p, func(block int64, seq uint64, rec []byte) error {
			return h.Append(block, seq, rec)
		}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// readSeries is one series as a select returns it, decoded.
type readSeries struct {
	Labels  []tsdb.Label
	Samples []tsdb.Sample
	Hists   []tsdb.HistogramSample
}

// selectSeries reads the series matching ms in [start, end] (ms) from
// every partition, heads included, sorted by labels.
func (e *testEnv) selectSeries(start, end int64, ms ...*labels.Matcher) []readSeries {
	e.t.Helper()
	var pm []*starlingpb.LabelMatcher
	for _, m := range ms {
		pm = append(pm, &starlingpb.LabelMatcher{Type: starlingpb.LabelMatcher_Type(m.Type), Name: m.Name, Value: m.Value})
	}
	var out []readSeries
	for p := uint32(0); p < uint32(e.parts); p++ {
		var rc starlingpb.ResultChunk
		var head *tsdb.Head
		if e.heads != nil {
			head = e.heads[p]
		}
		q := &starlingpb.SeriesSelect{Matchers: pm, StartMs: start, EndMs: end}
		if err := e.store.SelectSeries(context.Background(), p, q, 0, head, &rc); err != nil {
			e.t.Fatalf("select partition %d: %v", p, err)
		}
		ss, err := DecodeSelect(rc.Records)
		if err != nil {
			e.t.Fatalf("decode select of partition %d: %v", p, err)
		}
		for _, s := range ss {
			if got := PartitionOf(tsdb.SeriesHash(s.Labels), e.parts); got != p {
				e.t.Errorf("series %s found in partition %d, hashes to %d", tsdb.LabelsString(s.Labels), p, got)
			}
			fs, hs, err := DecodeChunks(s.Chunks)
			if err != nil {
				e.t.Fatalf("decode chunks of %s: %v", tsdb.LabelsString(s.Labels), err)
			}
			out = append(out, readSeries{Labels: s.Labels, Samples: fs, Hists: hs})
		}
	}
	sort.Slice(out, func(i, j int) bool { return tsdb.CompareLabels(out[i].Labels, out[j].Labels) < 0 })
	return out
}

// allSeries reads every series with a metric name.
func (e *testEnv) allSeries(start, end int64) []readSeries {
	return e.selectSeries(start, end, labels.MustNewMatcher(labels.MatchRegexp, tsdb.MetricNameLabel, ".+"))
}

// expectedProm is what Prometheus' OTLP translator makes of md, collected
// by labels independently of the builder: series → samples sorted by time.
func expectedProm(t testing.TB, md pmetric.Metrics) map[string]*readSeries {
	t.Helper()
	// Exemplars do not change samples (and some generated ones have no
	// value, which the translator refuses): translate a copy without them.
	c := pmetric.NewMetrics()
	md.CopyTo(c)
	stripExemplars(c)
	app := &collectingAppender{series: map[string]*readSeries{}}
	conv := prometheusremotewrite.NewPrometheusConverter(app)
	if _, err := conv.FromMetrics(context.Background(), c, otlpSettings); err != nil {
		t.Fatalf("translate: %v", err)
	}
	for _, s := range app.series {
		s.Samples = tsdb.MergeSamples(s.Samples, nil)
		s.Hists = tsdb.MergeHistograms(s.Hists, nil)
	}
	return app.series
}

type collectingAppender struct{ series map[string]*readSeries }

func (a *collectingAppender) Append(_ promstorage.SeriesRef, ls labels.Labels, _, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, _ promstorage.AppendV2Options) (promstorage.SeriesRef, error) {
	k := ls.String()
	s := a.series[k]
	if s == nil {
		s = &readSeries{}
		ls.Range(func(l labels.Label) { s.Labels = append(s.Labels, tsdb.Label{Name: l.Name, Value: l.Value}) })
		a.series[k] = s
	}
	switch {
	case h != nil:
		s.Hists = append(s.Hists, tsdb.HistogramSample{T: t, H: h.Copy()})
	case fh != nil:
		s.Hists = append(s.Hists, tsdb.HistogramSample{T: t, FH: fh.Copy()})
	default:
		s.Samples = append(s.Samples, tsdb.Sample{T: t, V: v})
	}
	return 0, nil
}

func (a *collectingAppender) Commit() error   { return nil }
func (a *collectingAppender) Rollback() error { return nil }

// compareRead checks that got holds exactly the series of want with the
// same samples (bit for bit) and histograms.
func compareRead(t *testing.T, what string, got []readSeries, want map[string]*readSeries) {
	t.Helper()
	seen := map[string]bool{}
	for _, g := range got {
		k := tsdb.LabelsString(g.Labels)
		w := findExpected(want, g.Labels)
		if w == nil {
			t.Errorf("%s: unexpected series %s", what, k)
			continue
		}
		seen[k] = true
		if d := diffSamples(g.Samples, w.Samples); d != "" {
			t.Errorf("%s: series %s: %s", what, k, d)
		}
		if len(g.Hists) != len(w.Hists) {
			t.Errorf("%s: series %s: %d histograms, want %d", what, k, len(g.Hists), len(w.Hists))
			continue
		}
		for i := range g.Hists {
			if !sameHistogram(g.Hists[i], w.Hists[i]) {
				t.Errorf("%s: series %s: histogram %d differs: %v, want %v", what, k, i, g.Hists[i], w.Hists[i])
			}
		}
	}
	for _, w := range want {
		if k := tsdb.LabelsString(w.Labels); !seen[k] {
			t.Errorf("%s: series %s missing", what, k)
		}
	}
}

func findExpected(want map[string]*readSeries, ls []tsdb.Label) *readSeries {
	for _, w := range want {
		if tsdb.CompareLabels(w.Labels, ls) == 0 {
			return w
		}
	}
	return nil
}

func diffSamples(got, want []tsdb.Sample) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].T != want[i].T || math.Float64bits(got[i].V) != math.Float64bits(want[i].V) {
			return fmt.Sprintf("sample %d: (%d, %v), want (%d, %v)", i, got[i].T, got[i].V, want[i].T, want[i].V)
		}
	}
	return ""
}

func sameHistogram(a, b tsdb.HistogramSample) bool {
	if a.T != b.T {
		return false
	}
	af, bf := a.FH, b.FH
	if a.H != nil {
		af = a.H.ToFloat(nil)
	}
	if b.H != nil {
		bf = b.H.ToFloat(nil)
	}
	// A histogram chunk stores every sample in the layout of the chunk's
	// buckets (empty ones included), as Prometheus' does: compare compacted.
	return af != nil && bf != nil && af.Copy().Compact(0).Equals(bf.Copy().Compact(0))
}

// timeRangeOf returns the first and last sample time of want.
func timeRangeOf(want map[string]*readSeries) (start, end int64) {
	start, end = math.MaxInt64, math.MinInt64
	for _, s := range want {
		for _, x := range s.Samples {
			start, end = min(start, x.T), max(end, x.T)
		}
		for _, x := range s.Hists {
			start, end = min(start, x.T), max(end, x.T)
		}
	}
	return start, end
}

// trimSamples keeps the samples in [start, end].
func trimSamples(s []tsdb.Sample, start, end int64) []tsdb.Sample {
	var out []tsdb.Sample
	for _, x := range s {
		if x.T >= start && x.T <= end {
			out = append(out, x)
		}
	}
	return out
}

// promNames lists the distinct metric names of want, sorted.
func promNames(want map[string]*readSeries) []string {
	set := map[string]bool{}
	for _, s := range want {
		set[tsdb.MetricName(s.Labels)] = true
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func stripExemplars(md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					for l := 0; l < m.Gauge().DataPoints().Len(); l++ {
						m.Gauge().DataPoints().At(l).Exemplars().RemoveIf(func(pmetric.Exemplar) bool { return true })
					}
				case pmetric.MetricTypeSum:
					for l := 0; l < m.Sum().DataPoints().Len(); l++ {
						m.Sum().DataPoints().At(l).Exemplars().RemoveIf(func(pmetric.Exemplar) bool { return true })
					}
				case pmetric.MetricTypeHistogram:
					for l := 0; l < m.Histogram().DataPoints().Len(); l++ {
						m.Histogram().DataPoints().At(l).Exemplars().RemoveIf(func(pmetric.Exemplar) bool { return true })
					}
				case pmetric.MetricTypeExponentialHistogram:
					for l := 0; l < m.ExponentialHistogram().DataPoints().Len(); l++ {
						m.ExponentialHistogram().DataPoints().At(l).Exemplars().RemoveIf(func(pmetric.Exemplar) bool { return true })
					}
				}
			}
		}
	}
}
