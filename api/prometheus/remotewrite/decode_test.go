package remotewrite

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/starling-otel/starling/storage/tsdb"
)

// Hand-written protobuf, for what the generated types cannot produce.
func pbTag(b []byte, num, wt int) []byte { return binary.AppendUvarint(b, uint64(num)<<3|uint64(wt)) }
func pbVarint(b []byte, num int, v uint64) []byte {
	return binary.AppendUvarint(pbTag(b, num, wtVarint), v)
}
func pbBytes(b []byte, num int, data []byte) []byte {
	return append(binary.AppendUvarint(pbTag(b, num, wtBytes), uint64(len(data))), data...)
}
func pbString(b []byte, num int, s string) []byte { return pbBytes(b, num, []byte(s)) }
func pbDouble(b []byte, num int, f float64) []byte {
	return binary.LittleEndian.AppendUint64(pbTag(b, num, wtFixed64), math.Float64bits(f))
}
func pbLabel(name, value string) []byte  { return pbString(pbString(nil, 1, name), 2, value) }
func pbSample(v float64, t int64) []byte { return pbVarint(pbDouble(nil, 1, v), 2, uint64(t)) }

// v1Series is a TimeSeries with the given labels and one sample.
func v1Series(kv ...string) []byte {
	var ts []byte
	for i := 0; i < len(kv); i += 2 {
		ts = pbBytes(ts, 1, pbLabel(kv[i], kv[i+1]))
	}
	return pbBytes(ts, 2, pbSample(1, 1000))
}

func intHist(t int64) tsdb.HistogramSample {
	return tsdb.HistogramSample{T: t, H: &histogram.Histogram{
		CounterResetHint: histogram.NotCounterReset,
		Schema:           1, ZeroThreshold: 0.001, ZeroCount: 2, Count: 14, Sum: 18.4,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 1, Length: 2}},
		PositiveBuckets: []int64{1, 1, -1, 0}, // 1 2 1 1
		NegativeSpans:   []histogram.Span{{Offset: 0, Length: 2}},
		NegativeBuckets: []int64{2, 3}, // 2 5
	}}
}

func floatCustomHist(t int64) tsdb.HistogramSample {
	return tsdb.HistogramSample{T: t, FH: &histogram.FloatHistogram{
		CounterResetHint: histogram.GaugeType,
		Schema:           histogram.CustomBucketsSchema, Count: 7.5, Sum: 31.25,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 1, Length: 1}},
		PositiveBuckets: []float64{1.5, 4, 2},
		CustomValues:    []float64{0.1, 0.5, 1, 5},
	}}
}

// richContent exercises every part of the model in both versions: unsorted
// labels, empty values, special float values, classic and native
// histograms, exemplars (one invalid), an exemplar-only and an empty series,
// and metadata whose 1.0 list equals what 2.0's per-series metadata gives.
func richContent() content {
	stale := math.Float64frombits(tsdb.StaleNaN)
	counter := &writeMeta{typ: writev2.Metadata_METRIC_TYPE_COUNTER, help: "Requests served.", unit: ""}
	hist := &writeMeta{typ: writev2.Metadata_METRIC_TYPE_HISTOGRAM, help: "Latency.", unit: "seconds"}
	return content{
		series: []cseries{
			{
				labels:  ls("job", "api", "__name__", "http_requests_total", "instance", "a:9090", "zone", ""),
				samples: []tsdb.Sample{{T: 1000, V: 1}, {T: 2000, V: math.NaN()}, {T: 3000, V: math.Inf(1)}, {T: 4000, V: math.Inf(-1)}, {T: 5000, V: stale}, {T: -5, V: -0.0}},
				exemplars: []tsdb.Exemplar{
					{Labels: ls("trace_id", "abc", "span_id", "def"), V: 1, T: 1000, HasT: true},
					{Labels: ls("trace_id", "xyz"), V: 2},                                                 // no time
					{Labels: ls("trace_id", strings.Repeat("x", 200)), V: 3, T: 2000, HasT: true},         // too long: dropped
					{Labels: ls("trace_id", "a", "trace_id", "b"), V: 4, T: 2000, HasT: true},             // duplicate: dropped
					{Labels: ls("span_id", "s", "empty", "", "trace_id", "t"), V: 5, T: 3000, HasT: true}, // unsorted, empty dropped
				},
				meta: counter,
			},
			{labels: ls("__name__", "http_requests_total", "job", "api", "instance", "b:9090"), samples: []tsdb.Sample{{T: 1000, V: 7}}, meta: counter},
			{labels: ls("__name__", "latency_seconds_bucket", "le", "0.5"), samples: []tsdb.Sample{{T: 1000, V: 3}}, meta: hist},
			{labels: ls("__name__", "latency_seconds_bucket", "le", "+Inf"), samples: []tsdb.Sample{{T: 1000, V: 4}}, meta: hist},
			{labels: ls("__name__", "latency_seconds_sum"), samples: []tsdb.Sample{{T: 1000, V: 1.5}}, meta: hist},
			{labels: ls("__name__", "latency_seconds_count"), samples: []tsdb.Sample{{T: 1000, V: 4}}, meta: hist},
			{
				labels: ls("__name__", "rpc_duration_seconds", "service", "auth"),
				hists:  []tsdb.HistogramSample{intHist(1000), intHist(2000)},
				exemplars: []tsdb.Exemplar{
					{Labels: ls("trace_id", "h1"), V: 0.3, T: 1500, HasT: true},
				},
				meta: &writeMeta{typ: writev2.Metadata_METRIC_TYPE_HISTOGRAM, help: "RPC latency."},
			},
			{labels: ls("__name__", "queue_depth", "q", "x"), hists: []tsdb.HistogramSample{floatCustomHist(1000)},
				meta: &writeMeta{typ: writev2.Metadata_METRIC_TYPE_GAUGEHISTOGRAM}},
			{labels: ls("__name__", "http_requests_total", "job", "api", "instance", "c:9090"),
				exemplars: []tsdb.Exemplar{{Labels: ls("trace_id", "only"), V: 9, T: 9000, HasT: true}}},
			{labels: ls("__name__", "idle", "job", "api")}, // nothing to write: skipped
		},
		meta: []prompb.MetricMetadata{
			{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "http_requests_total", Help: "Requests served."},
			{Type: prompb.MetricMetadata_HISTOGRAM, MetricFamilyName: "latency_seconds", Help: "Latency.", Unit: "seconds"},
			{Type: prompb.MetricMetadata_HISTOGRAM, MetricFamilyName: "rpc_duration_seconds", Help: "RPC latency."},
			{Type: prompb.MetricMetadata_GAUGEHISTOGRAM, MetricFamilyName: "queue_depth"},
		},
	}
}

func TestRoundTripBothVersions(t *testing.T) {
	c := richContent()
	v1 := c.v1()
	v2 := c.v2()

	got1, err := Decode(snappyBody(t, v1), V1, 0)
	if err != nil {
		t.Fatal(err)
	}
	got2, err := Decode(snappyBody(t, v2), V2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got1, refV1(v1)); d != "" {
		t.Errorf("1.0 against gogo: %s", d)
	}
	want2, err := refV2(v2)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(got2, want2); d != "" {
		t.Errorf("2.0 against gogo: %s", d)
	}
	if d := diff(got2, got1); d != "" {
		t.Errorf("2.0 against 1.0: %s", d)
	}

	// Explicit expectations, independent of the oracle.
	if len(got1.Series) != 9 {
		t.Fatalf("%d series, want 9 (the empty one skipped)", len(got1.Series))
	}
	s0 := got1.Series[0]
	if want := ls("__name__", "http_requests_total", "instance", "a:9090", "job", "api"); !equalLabels(s0.Labels, want) {
		t.Errorf("labels %v, want sorted without the empty one: %v", s0.Labels, want)
	}
	for k, want := range c.series[0].samples {
		if g := s0.Samples[k]; g.T != want.T || math.Float64bits(g.V) != math.Float64bits(want.V) {
			t.Errorf("sample %d = %v, want bit for bit %v", k, g, want)
		}
	}
	if !tsdb.IsStaleNaN(s0.Samples[4].V) {
		t.Error("the staleness marker lost its bits")
	}
	if len(s0.Exemplars) != 3 || s0.Exemplars[1].HasT || !equalLabels(s0.Exemplars[2].Labels, ls("span_id", "s", "trace_id", "t")) {
		t.Errorf("exemplars %+v: want 3 (two invalid dropped), the second without time, the third sorted", s0.Exemplars)
	}
	if e := got1.Series[8]; len(e.Samples)+len(e.Histograms) != 0 || len(e.Exemplars) != 1 {
		t.Errorf("exemplar-only series: %+v", e)
	}
	if h := got1.Series[6].Histograms; len(h) != 2 || h[0].H == nil || h[0].H.Count != 14 {
		t.Errorf("integer histograms: %+v", h)
	}
	if h := got1.Series[7].Histograms; len(h) != 1 || h[0].FH == nil || len(h[0].FH.CustomValues) != 4 {
		t.Errorf("float custom-bucket histogram: %+v", h)
	}
	wantMeta := []tsdb.Metadata{
		{Family: "http_requests_total", Type: "counter", Help: "Requests served."},
		{Family: "latency_seconds", Type: "histogram", Help: "Latency.", Unit: "seconds"},
		{Family: "rpc_duration_seconds", Type: "histogram", Help: "RPC latency."},
		{Family: "queue_depth", Type: "gaugehistogram"},
	}
	if d := diff(&tsdb.WriteRequest{Metadata: got2.Metadata}, &tsdb.WriteRequest{Metadata: wantMeta}); d != "" {
		t.Error(d)
	}
}

func equalLabels(a, b []tsdb.Label) bool {
	return diff(&tsdb.WriteRequest{Series: []tsdb.Series{{Labels: a}}}, &tsdb.WriteRequest{Series: []tsdb.Series{{Labels: b}}}) == ""
}

// genContent is a seeded realistic request: nSeries series of an HTTP
// histogram-and-counter workload, perSeries samples each.
func genContent(nSeries, perSeries int, seed uint64) content {
	r := rand.New(rand.NewPCG(seed, 1))
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	statuses := []string{"200", "201", "404", "500"}
	les := []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"}
	var c content
	t0 := int64(1_760_000_000_000)
	for i := 0; i < nSeries; i++ {
		name := "http_request_duration_seconds_bucket"
		kv := []string{"__name__", name, "instance", "10.0." + strconv.Itoa(i/256%256) + "." + strconv.Itoa(i%256) + ":9100",
			"job", "api-server", "le", les[i%len(les)], "method", methods[i%4], "status", statuses[i/4%4]}
		if i%5 == 4 {
			kv = append(kv[:6:6], kv[8:]...)
			kv[1] = "http_requests_total"
		}
		// Sorted, as senders sort them.
		s := cseries{labels: ls(kv...), meta: &writeMeta{typ: writev2.Metadata_METRIC_TYPE_HISTOGRAM, help: "Request latency.", unit: "seconds"}}
		v := float64(r.IntN(1000))
		for k := 0; k < perSeries; k++ {
			v += float64(r.IntN(50))
			s.samples = append(s.samples, tsdb.Sample{T: t0 + int64(k)*15000 + int64(r.IntN(20)), V: v})
		}
		c.series = append(c.series, s)
	}
	return c
}

func TestLargeRequest(t *testing.T) {
	for _, shape := range []struct{ series, per int }{{1000, 10}, {10000, 1}} {
		c := genContent(shape.series, shape.per, 1)
		v1, v2 := c.v1(), c.v2()
		d := newTestDecoder(t)
		got, err := d.Decode(snappyBody(t, v1), V1)
		if err != nil {
			t.Fatal(err)
		}
		if st := d.Stats(); st.Samples != 10000 || st.Series != shape.series {
			t.Errorf("%d×%d: stats %+v", shape.series, shape.per, st)
		}
		if df := diff(got, refV1(v1)); df != "" {
			t.Errorf("%d×%d 1.0: %s", shape.series, shape.per, df)
		}
		got, err = d.Decode(snappyBody(t, v2), V2)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := refV2(v2)
		if df := diff(got, want); df != "" {
			t.Errorf("%d×%d 2.0: %s", shape.series, shape.per, df)
		}
		if len(got.Metadata) != 2 {
			t.Errorf("metadata %v: want one per family (the histogram and the counter)", got.Metadata)
		}
	}
}

// TestDecoderReuse decodes different requests with one Decoder, checking
// that nothing of an earlier request leaks into a later one.
func TestDecoderReuse(t *testing.T) {
	d := newTestDecoder(t)
	big, small := genContent(300, 3, 2), richContent()
	for round := 0; round < 3; round++ {
		for _, c := range []content{big, small} {
			v1 := c.v1()
			got, err := d.Decode(snappyBody(t, v1), V1)
			if err != nil {
				t.Fatal(err)
			}
			if df := diff(got, refV1(v1)); df != "" {
				t.Fatalf("round %d: %s", round, df)
			}
		}
		d.Reset()
	}
	// A failed decode leaves the Decoder usable.
	if _, err := d.Decode(snappy.Encode(nil, pbBytes(nil, 1, v1Series("a", "b"))), V1); err == nil {
		t.Fatal("want an error for a series without a name")
	}
	v1 := small.v1()
	got, err := d.Decode(snappyBody(t, v1), V1)
	if err != nil {
		t.Fatal(err)
	}
	if df := diff(got, refV1(v1)); df != "" {
		t.Fatal(df)
	}
}

func TestRetainedBytes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxRetainedBytes = 64 << 10
	d, err := NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Decode(snappyBody(t, genContent(5000, 1, 3).v1()), V1); err != nil {
		t.Fatal(err)
	}
	if cap(d.buf) <= cfg.MaxRetainedBytes {
		t.Fatalf("test needs a body above the bound, got %d bytes", cap(d.buf))
	}
	d.Reset()
	if d.buf != nil || d.labels != nil {
		t.Errorf("Reset kept %d body bytes and %d labels above the bound", cap(d.buf), cap(d.labels))
	}
}

func TestUnknownFieldsAndOrder(t *testing.T) {
	// 1.0: labels after samples, unknown fields (varint, fixed32, fixed64,
	// bytes) at every level, reserved field 2 at the top.
	unknown := func(b []byte) []byte {
		b = pbVarint(b, 99, 7)
		b = binary.LittleEndian.AppendUint32(pbTag(b, 98, wtFixed32), 1)
		b = pbDouble(b, 97, 1)
		return pbString(b, 96, "x")
	}
	smp := unknown(pbSample(2.5, 42))
	ts := pbBytes(nil, 2, smp)
	ts = pbBytes(ts, 1, unknown(pbLabel("job", "j")))
	ts = unknown(ts)
	ts = pbBytes(ts, 1, pbLabel("__name__", "up"))
	body := pbString(nil, 2, "cortex source")
	body = pbBytes(body, 1, ts)
	body = unknown(body)
	got, err := newTestDecoder(t).DecodeProto(body, V1)
	if err != nil {
		t.Fatal(err)
	}
	var ref prompb.WriteRequest
	if err := ref.Unmarshal(body); err != nil {
		t.Fatal(err)
	}
	if df := diff(got, refV1(&ref)); df != "" {
		t.Fatal(df)
	}
	if s := got.Series[0]; len(s.Labels) != 2 || s.Samples[0] != (tsdb.Sample{T: 42, V: 2.5}) {
		t.Fatalf("got %+v", s)
	}

	// 2.0: timeseries before symbols, unpacked labels_refs, start
	// timestamps, metadata sent in two messages (merged).
	ts2 := pbVarint(nil, 1, 1)
	ts2 = pbVarint(ts2, 1, 2)
	ts2 = pbBytes(ts2, 2, pbVarint(pbSample(3, 100), 3, 50))
	ts2 = pbBytes(ts2, 5, pbVarint(nil, 1, 2))
	ts2 = pbBytes(ts2, 5, pbVarint(nil, 3, 3))
	body2 := pbBytes(nil, 5, ts2)
	for _, s := range []string{"", "__name__", "temp", "Temperature."} {
		body2 = pbString(body2, 4, s)
	}
	got, err = newTestDecoder(t).DecodeProto(body2, V2)
	if err != nil {
		t.Fatal(err)
	}
	var ref2 writev2.Request
	if err := ref2.Unmarshal(body2); err != nil {
		t.Fatal(err)
	}
	want, err := refV2(&ref2)
	if err != nil {
		t.Fatal(err)
	}
	if df := diff(got, want); df != "" {
		t.Fatal(df)
	}
	if m := got.Metadata; len(m) != 1 || m[0] != (tsdb.Metadata{Family: "temp", Type: "gauge", Help: "Temperature."}) {
		t.Fatalf("metadata %+v", m)
	}
}

func TestReducedSchema(t *testing.T) {
	h := &histogram.Histogram{Schema: 10, Count: 3, Sum: 1, PositiveSpans: []histogram.Span{{Offset: 0, Length: 3}}, PositiveBuckets: []int64{1, 0, 0}}
	c := content{series: []cseries{{labels: ls("__name__", "fine"), hists: []tsdb.HistogramSample{{T: 1, H: h}}}}}
	got, err := Decode(snappyBody(t, c.v1()), V1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g := got.Series[0].Histograms[0].H; g.Schema != 8 || g.Count != 3 {
		t.Fatalf("schema 10 not reduced to 8: %+v", g)
	}
	fh := &histogram.FloatHistogram{Schema: 9, Count: 3, Sum: 1, ZeroCount: 1, PositiveSpans: []histogram.Span{{Offset: 1, Length: 2}}, PositiveBuckets: []float64{1, 1}}
	c = content{series: []cseries{{labels: ls("__name__", "fine"), hists: []tsdb.HistogramSample{{T: 1, FH: fh}}}}}
	v2 := c.v2()
	got, err = Decode(snappyBody(t, v2), V2, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := refV2(v2)
	if d := diff(got, want); d != "" || got.Series[0].Histograms[0].FH.Schema != 8 {
		t.Fatalf("float schema 9: %s %+v", d, got.Series[0].Histograms[0].FH)
	}
}

func TestDecodeOneShotStaysValid(t *testing.T) {
	c := genContent(50, 2, 4)
	a, err := Decode(snappyBody(t, c.v1()), V1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(snappyBody(t, richContent().v1()), V1, 0); err != nil {
		t.Fatal(err)
	}
	if df := diff(a, refV1(c.v1())); df != "" {
		t.Fatal(df)
	}
}

func TestVersionOf(t *testing.T) {
	for in, want := range map[string]Version{"": V1, MessageV1: V1, MessageV2: V2} {
		if v, err := VersionOf(in); err != nil || v != want {
			t.Errorf("VersionOf(%q) = %v, %v", in, v, err)
		}
	}
	if _, err := VersionOf("io.prometheus.write.v3.Request"); err == nil {
		t.Error("want an error for an unknown message")
	}
	if _, err := newTestDecoder(t).DecodeProto(nil, 3); err == nil || errors.As(err, new(*Error)) {
		t.Errorf("unknown version: %v, want a plain error", err)
	}
	if err := (Config{MaxDecodedBytes: 0}).Validate(); err == nil {
		t.Error("want a Config error")
	}
}

// TestAliasing shows that strings alias the decoded buffer (no copy), and
// that Stats counts what was skipped and dropped.
func TestAliasing(t *testing.T) {
	raw := mustMarshal(t, richContent().v1())
	d := newTestDecoder(t)
	got, err := d.DecodeProto(raw, V1)
	if err != nil {
		t.Fatal(err)
	}
	name := got.Series[0].Labels[0].Value
	p := uintptr(unsafe.Pointer(unsafe.StringData(name)))
	lo := uintptr(unsafe.Pointer(&raw[0]))
	if p < lo || p >= lo+uintptr(len(raw)) {
		t.Error("label value does not alias the body")
	}
	st := d.Stats()
	if st.SkippedSeries != 1 || st.DroppedExemplars != 2 || st.Series != 9 || st.Exemplars != 5 || st.Histograms != 3 || st.Metadata != 4 || st.DecodedBytes != len(raw) {
		t.Errorf("stats %+v", st)
	}
	d.Reset()
	if d.Stats() != (Stats{}) || cap(d.labels) > 0 && d.labels[:1][0] != (tsdb.Label{}) {
		t.Error("Reset kept references into the body")
	}
}
