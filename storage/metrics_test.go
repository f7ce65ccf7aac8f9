package storage

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// TestMetricRoundTrip writes OTLP metrics of every type and reads them
// back as Prometheus' translator makes them: from the heads, after the
// blocks are flushed into chunks, and after a restart.
func TestMetricRoundTrip(t *testing.T) {
	e := newTestEnv(t, 16)
	md := genMetrics(newRand(21), 3, 8, e.clock.Now())
	want := expectedProm(t, md)
	e.writeMetrics(md)
	start, end := timeRangeOf(want)
	compareRead(t, "from the heads", e.allSeries(start, end), want)

	st := e.flushMetrics(true)
	if st.Series == 0 || st.Chunks == 0 || st.Merged != 0 {
		t.Errorf("flush: %+v", st)
	}
	for p, h := range e.heads {
		if s := h.Stats(); s.Blocks != 0 {
			t.Errorf("partition %d: %d blocks left in the head after flushing all", p, s.Blocks)
		}
	}
	if n := countRecords(t, e); n != 0 {
		t.Errorf("%d records left after the flush", n)
	}
	compareRead(t, "from chunks", e.allSeries(start, end), want)
	e.reopen()
	compareRead(t, "after a restart", e.allSeries(start, end), want)
}

// countRecords counts the write-through records stored.
func countRecords(t testing.TB, e *testEnv) int {
	t.Helper()
	n := 0
	for p := uint32(0); p < uint32(e.parts); p++ {
		if err := e.store.EachRecord(context.Background(), p, func(int64, uint64, []byte) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestMetricRecordsSurviveRestart: samples not yet flushed are in records;
// a restarted copy replays them into its head, and its flush then deletes
// them.
func TestMetricRecordsSurviveRestart(t *testing.T) {
	e := newTestEnv(t, 4)
	md := genMetrics(newRand(22), 2, 5, e.clock.Now())
	want := expectedProm(t, md)
	e.writeMetrics(md)
	if countRecords(t, e) == 0 {
		t.Fatal("no records written")
	}
	e.reopen() // heads replayed from the records
	start, end := timeRangeOf(want)
	compareRead(t, "replayed", e.allSeries(start, end), want)
	e.flushMetrics(true)
	if n := countRecords(t, e); n != 0 {
		t.Errorf("%d records left after the flush", n)
	}
	compareRead(t, "flushed after replay", e.allSeries(start, end), want)
}

func promSeries(name string, samples []tsdb.Sample, ls ...string) tsdb.Series {
	s := tsdb.Series{Labels: []tsdb.Label{{Name: tsdb.MetricNameLabel, Value: name}}, Samples: samples}
	for i := 0; i+1 < len(ls); i += 2 {
		s.Labels = append(s.Labels, tsdb.Label{Name: ls[i], Value: ls[i+1]})
	}
	return s
}

// TestMetricSpecialValues: NaN payloads (the staleness marker), ±Inf, -0,
// huge and tiny values survive bit for bit, in the head and in chunks.
func TestMetricSpecialValues(t *testing.T) {
	e := newTestEnv(t, 2)
	now := e.clock.Now().UnixMilli()
	vals := []float64{
		math.Float64frombits(tsdb.StaleNaN), math.NaN(), math.Float64frombits(0x7ff8000000000bad),
		math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 0, math.MaxFloat64, math.SmallestNonzeroFloat64,
		1e300, -1e-300, 0.1, 9007199254740993, 12.5,
	}
	var samples []tsdb.Sample
	for i, v := range vals {
		samples = append(samples, tsdb.Sample{T: now - int64(len(vals)-i)*1000, V: v})
	}
	req := &tsdb.WriteRequest{Series: []tsdb.Series{promSeries("special", samples, "k", "v")}}
	e.writeProm(req)
	want := map[string]*readSeries{"s": {Labels: req.Series[0].Labels, Samples: samples}}
	compareRead(t, "head", e.allSeries(0, maxTime), want)
	e.flushMetrics(true)
	compareRead(t, "chunks", e.allSeries(0, maxTime), want)
}

// TestLateSamplesMergeIntoChunks: samples for a block already flushed
// reopen it; the next flush merges them with the stored chunks into one
// set (a duplicate time keeps the later write).
func TestLateSamplesMergeIntoChunks(t *testing.T) {
	e := newTestEnv(t, 1)
	block := BlockDuration(e.cfg.Window).Milliseconds()
	base := e.clock.Now().UnixMilli() - 3*block
	base -= base % block
	var first, late []tsdb.Sample
	for i := range 100 {
		first = append(first, tsdb.Sample{T: base + int64(i)*15000, V: float64(i)})
	}
	for i := range 20 {
		late = append(late, tsdb.Sample{T: base + int64(i)*15000 + 7500, V: -float64(i)})
	}
	late = append(late, tsdb.Sample{T: base + 15000, V: 1000}) // overwrites sample 1
	e.writeProm(&tsdb.WriteRequest{Series: []tsdb.Series{promSeries("late", first)}})
	// Written after the block's end: due once the late delay passed.
	e.clock.Advance(time.Minute)
	if st := e.flushMetrics(false); st.Series != 1 || st.Merged != 0 {
		t.Fatalf("first flush: %+v", st)
	}
	e.writeProm(&tsdb.WriteRequest{Series: []tsdb.Series{promSeries("late", late)}})
	if st := e.flushMetrics(false); st.Series != 0 {
		t.Fatalf("a reopened block was flushed before its delay: %+v", st)
	}
	e.clock.Advance(time.Minute)
	st := e.flushMetrics(false)
	if st.Merged != 1 || st.Samples != 120 || st.Chunks != 1 {
		t.Errorf("merging flush: %+v, want 1 series merged into 1 chunk of 120 samples", st)
	}
	want := tsdb.MergeSamples(append([]tsdb.Sample(nil), first...), late)
	got := e.allSeries(0, maxTime)
	if len(got) != 1 {
		t.Fatalf("%d series", len(got))
	}
	if d := diffSamples(got[0].Samples, want); d != "" {
		t.Error(d)
	}
	for _, smp := range got[0].Samples {
		if smp.T == base+15000 && smp.V != 1000 {
			t.Errorf("duplicate time: value %v, want the later write 1000", smp.V)
		}
	}
	if n := countChunks(t, e, 0); n != 1 {
		t.Errorf("%d chunk keys after the merge, want 1", n)
	}
}

func countChunks(t *testing.T, e *testEnv, p uint32) int {
	t.Helper()
	var rc starlingpb.ResultChunk
	q := &starlingpb.SeriesSelect{Matchers: []*starlingpb.LabelMatcher{{Type: starlingpb.LabelMatcher_TYPE_REGEX, Name: "__name__", Value: ".+"}}, EndMs: math.MaxInt64}
	if err := e.store.SelectSeries(context.Background(), p, q, 0, nil, &rc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rc.Records {
		if r.Key[partLen] == kindChunk {
			n++
		}
	}
	return n
}

// TestSeriesAcrossWindows: one series with samples on either side of a
// window boundary is one series with every sample, and the time range
// bounds what is read.
func TestSeriesAcrossWindows(t *testing.T) {
	e := newTestEnv(t, 2)
	boundary := e.clock.Now().Truncate(e.cfg.Window).Add(-e.cfg.Window).UnixMilli()
	var samples []tsdb.Sample
	for i := -5; i < 5; i++ {
		samples = append(samples, tsdb.Sample{T: boundary + int64(i)*60000, V: float64(i)})
	}
	e.writeProm(&tsdb.WriteRequest{Series: []tsdb.Series{promSeries("across", samples, "a", "b")}})
	e.flushMetrics(true)
	got := e.allSeries(0, maxTime)
	if len(got) != 1 || diffSamples(got[0].Samples, samples) != "" {
		t.Fatalf("got %d series: %+v", len(got), got)
	}
	got = e.allSeries(boundary, boundary+2*60000)
	if len(got) != 1 || len(trimSamples(got[0].Samples, boundary, boundary+2*60000)) != 3 {
		t.Errorf("range after the boundary: %+v", got)
	}
}

// TestSelectMatchers checks every kind of matcher against the same
// matchers applied to what was written.
func TestSelectMatchers(t *testing.T) {
	e := newTestEnv(t, 16)
	md := genMetrics(newRand(41), 4, 6, e.clock.Now())
	want := expectedProm(t, md)
	e.writeMetrics(md)
	e.flushMetrics(true)
	m := func(t labels.MatchType, n, v string) *labels.Matcher { return labels.MustNewMatcher(t, n, v) }
	cases := []struct {
		name  string
		ms    []*labels.Matcher
		empty bool
	}{
		{"name", []*labels.Matcher{m(labels.MatchEqual, "__name__", "app_orders_count_total")}, false},
		{"name regex", []*labels.Matcher{m(labels.MatchRegexp, "__name__", "http_server_request_duration_seconds_(sum|count)")}, false},
		{"job", []*labels.Matcher{m(labels.MatchEqual, "job", "shop/cart")}, false},
		{"name and not equal", []*labels.Matcher{m(labels.MatchEqual, "__name__", "app_orders_count_total"), m(labels.MatchNotEqual, "payment_method", "card")}, false},
		{"name and not regex", []*labels.Matcher{m(labels.MatchRegexp, "__name__", "app_.*"), m(labels.MatchNotRegexp, "job", "shop/(cart|checkout)")}, false},
		{"bucket le", []*labels.Matcher{m(labels.MatchEqual, "__name__", "http_server_request_duration_seconds_bucket"), m(labels.MatchEqual, "le", "+Inf")}, false},
		{"absent label", []*labels.Matcher{m(labels.MatchRegexp, "__name__", ".+"), m(labels.MatchEqual, "series", "")}, false},
		{"present label", []*labels.Matcher{m(labels.MatchNotEqual, "payment_method", "")}, false},
		{"unknown name", []*labels.Matcher{m(labels.MatchEqual, "__name__", "nope")}, true},
		{"name prefix is not a name", []*labels.Matcher{m(labels.MatchEqual, "__name__", "app_orders")}, true},
		{"contradiction", []*labels.Matcher{m(labels.MatchEqual, "job", "shop/cart"), m(labels.MatchEqual, "job", "shop/checkout")}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			exp := map[string]*readSeries{}
			for k, s := range want {
				if matchesAll(s.Labels, tc.ms) {
					exp[k] = s
				}
			}
			if (len(exp) == 0) != tc.empty {
				t.Fatalf("%d series expected; fix the case", len(exp))
			}
			compareRead(t, tc.name, e.selectSeries(0, maxTime, tc.ms...), exp)
		})
	}
}

// TestSelectLimitAndLabelsOnly: a limit bounds the series of a partition's
// answer; labels-only answers carry no chunk.
func TestSelectLimitAndLabelsOnly(t *testing.T) {
	e := newTestEnv(t, 1)
	var req tsdb.WriteRequest
	now := e.clock.Now().UnixMilli()
	for i := range 20 {
		req.Series = append(req.Series, promSeries("m", []tsdb.Sample{{T: now, V: 1}}, "i", strings.Repeat("x", i+1)))
	}
	e.writeProm(&req)
	q := &starlingpb.SeriesSelect{Matchers: []*starlingpb.LabelMatcher{{Name: "__name__", Value: "m"}}, EndMs: maxTime}
	for _, limit := range []int{1, 5, 20, 0} {
		var rc starlingpb.ResultChunk
		if err := e.store.SelectSeries(context.Background(), 0, q, limit, e.head(0), &rc); err != nil {
			t.Fatal(err)
		}
		ss, _ := DecodeSelect(rc.Records)
		if want := cmp.Or(limit, 20); len(ss) != want {
			t.Errorf("limit %d: %d series", limit, len(ss))
		}
	}
	q.LabelsOnly = true
	var rc starlingpb.ResultChunk
	if err := e.store.SelectSeries(context.Background(), 0, q, 0, e.head(0), &rc); err != nil {
		t.Fatal(err)
	}
	for _, r := range rc.Records {
		if r.Key[partLen] != kindSeries {
			t.Fatalf("labels-only answer has a record of kind %#x", r.Key[partLen])
		}
	}
}

// TestLabelQueries lists label names and values, with and without matchers.
func TestLabelQueries(t *testing.T) {
	e := newTestEnv(t, 8)
	now := e.clock.Now().UnixMilli()
	req := &tsdb.WriteRequest{Series: []tsdb.Series{
		promSeries("a", []tsdb.Sample{{T: now, V: 1}}, "job", "x", "zone", "1"),
		promSeries("a", []tsdb.Sample{{T: now, V: 1}}, "job", "y"),
		promSeries("b", []tsdb.Sample{{T: now, V: 1}}, "job", "y", "pod", "p"),
	}}
	e.writeProm(req)
	query := func(name string, ms ...*starlingpb.LabelMatcher) []string {
		var all []string
		for p := uint32(0); p < uint32(e.parts); p++ {
			var rc starlingpb.ResultChunk
			if err := e.store.LabelQuery(context.Background(), p, &starlingpb.LabelQuery{Name: name, Matchers: ms, EndMs: maxTime}, &rc); err != nil {
				t.Fatal(err)
			}
			all = append(all, rc.Names...)
		}
		slices.Sort(all)
		return slices.Compact(all)
	}
	isA := &starlingpb.LabelMatcher{Name: "__name__", Value: "a"}
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"names", query(""), []string{"__name__", "job", "pod", "zone"}},
		{"names of a", query("", isA), []string{"__name__", "job", "zone"}},
		{"jobs", query("job"), []string{"x", "y"}},
		{"jobs of b", query("job", &starlingpb.LabelMatcher{Name: "__name__", Value: "b"}), []string{"y"}},
		{"metric names", query("__name__"), []string{"a", "b"}},
		{"unknown label", query("nope"), nil},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// TestMetadataAndExemplars: metric family metadata is kept in the family's
// partition, newest first; exemplars come back with their series.
func TestMetadataAndExemplars(t *testing.T) {
	e := newTestEnv(t, 8)
	now := e.clock.Now().UnixMilli()
	s := promSeries("http_requests_total", []tsdb.Sample{{T: now, V: 3}}, "job", "api")
	s.Exemplars = []tsdb.Exemplar{{Labels: []tsdb.Label{{Name: "trace_id", Value: "abc"}}, V: 1, T: now - 10, HasT: true}}
	e.writeProm(&tsdb.WriteRequest{
		Series:   []tsdb.Series{s},
		Metadata: []tsdb.Metadata{{Family: "http_requests", Type: "counter", Help: "Requests.", Unit: ""}},
	})
	p := PartitionOf(FamilyHash("http_requests"), e.parts)
	var rc starlingpb.ResultChunk
	if err := e.store.ReadMetadata(context.Background(), p, &starlingpb.MetadataQuery{Metric: "http_requests"}, &rc); err != nil {
		t.Fatal(err)
	}
	ms, err := DecodeMetadata(rc.Records)
	if err != nil || len(ms) != 1 || ms[0].Type != "counter" || ms[0].Help != "Requests." {
		t.Fatalf("metadata: %+v, %v", ms, err)
	}
	sp := PartitionOf(tsdb.SeriesHash(s.Labels), e.parts)
	rc = starlingpb.ResultChunk{}
	q := &starlingpb.ExemplarQuery{Matchers: []*starlingpb.LabelMatcher{{Name: "job", Value: "api"}}, StartMs: now - 1000, EndMs: now}
	if err := e.store.ReadExemplars(context.Background(), sp, q, &rc); err != nil {
		t.Fatal(err)
	}
	es, err := DecodeExemplars(rc.Records)
	if err != nil || len(es) != 1 || len(es[0].Exemplars) != 1 || es[0].Exemplars[0].T != now-10 || es[0].Exemplars[0].Labels[0].Value != "abc" {
		t.Fatalf("exemplars: %+v, %v", es, err)
	}
}

// TestPromRejects: with strict, one bad series rejects the request and
// nothing is built; the message names the series and the reason.
func TestPromRejects(t *testing.T) {
	e := newTestEnv(t, 4)
	now := e.clock.Now().UnixMilli()
	good := promSeries("ok", []tsdb.Sample{{T: now, V: 1}}, "a", "b")
	badHist := &histogram.Histogram{Count: 1, Sum: 1, Schema: 0, PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1}}
	cases := []struct {
		name   string
		series tsdb.Series
		want   string
	}{
		{"empty name", promSeries("", []tsdb.Sample{{T: now, V: 1}}), "metric name"},
		{"no name", tsdb.Series{Labels: []tsdb.Label{{Name: "a", Value: "b"}}, Samples: []tsdb.Sample{{T: now, V: 1}}}, "metric name"},
		{"duplicate label", promSeries("m", []tsdb.Sample{{T: now, V: 1}}, "a", "1", "a", "2"), `"a" appears twice`},
		{"label name not UTF-8", promSeries("m", []tsdb.Sample{{T: now, V: 1}}, "a\xff", "1"), "not valid UTF-8"},
		{"label value not UTF-8", promSeries("m", []tsdb.Sample{{T: now, V: 1}}, "a", "\xc3"), "not valid UTF-8"},
		{"far future", promSeries("m", []tsdb.Sample{{T: now + int64(2*time.Hour/time.Millisecond), V: 1}}), "too far in the future"},
		{"too old", promSeries("m", []tsdb.Sample{{T: now - int64(30*24*time.Hour/time.Millisecond), V: 1}}), "older than the retention"},
		{"before 1970", promSeries("m", []tsdb.Sample{{T: -1, V: 1}}), "before 1970"},
		{"bad histogram", tsdb.Series{Labels: promSeries("h", nil).Labels, Histograms: []tsdb.HistogramSample{{T: now, H: badHist}}}, "native histogram"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.builder.Prom(&tsdb.WriteRequest{Series: []tsdb.Series{good, tc.series}}, true)
			if r.Rejected == 0 || len(r.Batches) != 0 || r.Accepted != 0 {
				t.Fatalf("accepted %d, rejected %d, %d batches", r.Accepted, r.Rejected, len(r.Batches))
			}
			if !strings.Contains(r.Message, tc.want) || !strings.Contains(r.Message, "series ") {
				t.Errorf("message %q does not name the series and %q", r.Message, tc.want)
			}
		})
	}
	// Not strict: the good series is built alone.
	r := e.builder.Prom(&tsdb.WriteRequest{Series: []tsdb.Series{good, cases[0].series}}, false)
	if r.Accepted != 1 || r.Rejected != 1 || len(r.Batches) != 1 {
		t.Errorf("lenient: accepted %d rejected %d batches %d", r.Accepted, r.Rejected, len(r.Batches))
	}
}

// TestIdempotentMetrics: writing a request twice (a retry) stores each
// sample once.
func TestIdempotentMetrics(t *testing.T) {
	e := newTestEnv(t, 8)
	md := genMetrics(newRand(13), 3, 8, e.clock.Now())
	want := expectedProm(t, md)
	c := md
	e.writeMetrics(c)
	md2 := genMetrics(newRand(13), 3, 8, e.clock.Now())
	e.writeMetrics(md2)
	start, end := timeRangeOf(want)
	compareRead(t, "twice, in the heads", e.allSeries(start, end), want)
	e.flushMetrics(true)
	e.writeMetrics(genMetrics(newRand(13), 3, 8, e.clock.Now()))
	e.clock.Advance(time.Minute)
	e.flushMetrics(true)
	compareRead(t, "three times, flushed twice", e.allSeries(start, end), want)
}

// TestRecordNames: a record names a series only in the batch writing its
// definition; a head meeting the series without a name (back after its
// block was flushed, or replayed) finds it in the definition.
func TestRecordNames(t *testing.T) {
	e := newTestEnv(t, 1)
	block := BlockDuration(e.cfg.Window).Milliseconds()
	base := e.clock.Now().UnixMilli() - 3*block
	base -= base % block
	write := func(t0 int64) BuildResult {
		return e.writeProm(&tsdb.WriteRequest{Series: []tsdb.Series{promSeries("named", []tsdb.Sample{{T: t0, V: 1}}, "k", "v")}})
	}
	recordNames := func(r BuildResult) []string {
		var names []string
		it := NewEntryIter(r.Batches[0].Entries)
		for it.Next() {
			if e := it.Entry(); e.Key[partLen] == kindRecord {
				if err := tsdb.DecodeRecord(e.Value, func(rs *tsdb.RecordSeries) error {
					names = append(names, rs.Name())
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		return names
	}
	if got := recordNames(write(base)); len(got) != 1 || got[0] != "named" {
		t.Fatalf("first record names %q, want the name with the definition", got)
	}
	if got := recordNames(write(base + 1000)); len(got) != 1 || got[0] != "" {
		t.Fatalf("second record names %q, want none", got)
	}
	active := func() map[string]int {
		m := map[string]int{}
		e.head(0).ActiveByName(func(n string, c int) { m[n] = c })
		return m
	}
	e.flushMetrics(true)
	write(base + block) // the next block: the series is back in the head unnamed
	if got := active(); got["named"] != 1 || len(got) != 1 {
		t.Errorf("active after the series came back: %v", got)
	}
	e.replayHeads()
	if got := active(); got["named"] != 1 || len(got) != 1 {
		t.Errorf("active after a replay: %v", got)
	}
}
