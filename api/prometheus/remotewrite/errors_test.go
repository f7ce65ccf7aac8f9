package remotewrite

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/starling-otel/starling/storage/tsdb"
)

// withHist is a 1.0 request of one series carrying h.
func withHist(t testing.TB, h prompb.Histogram) []byte {
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:     []prompb.Label{{Name: "__name__", Value: "h"}, {Name: "job", Value: "j"}},
		Histograms: []prompb.Histogram{h},
	}}}
	return mustMarshal(t, req)
}

func goodIntHist() prompb.Histogram { return prompb.FromIntHistogram(1000, intHist(0).H) }

func TestBadInput(t *testing.T) {
	good := mustMarshal(t, richContent().v1())
	goodV2 := mustMarshal(t, richContent().v2())
	series := func(ts ...[]byte) []byte {
		var b []byte
		for _, s := range ts {
			b = pbBytes(b, 1, s)
		}
		return b
	}
	hist := func(f func(h *prompb.Histogram)) []byte {
		h := goodIntHist()
		f(&h)
		return withHist(t, h)
	}
	v2req := func(symbols []string, ts ...writev2.TimeSeries) []byte {
		return mustMarshal(t, &writev2.Request{Symbols: symbols, Timeseries: ts})
	}
	v2sym := []string{"", "__name__", "up", "job", "j"}
	okRefs := []uint32{1, 2, 3, 4}
	okSample := []writev2.Sample{{Value: 1, Timestamp: 1}}

	for _, tc := range []struct {
		name   string
		v      Version
		body   []byte // protobuf, snappy-encoded by the test unless raw
		raw    bool   // body is sent as is (snappy layer tests)
		max    int
		kind   error
		substr string
	}{
		// Snappy and size.
		{name: "not snappy", body: []byte("\xff\xff\xff\xff\xff\xff not snappy"), raw: true, kind: ErrSnappy},
		{name: "empty body", body: nil, raw: true, kind: ErrSnappy},
		{name: "corrupt snappy", body: snappy.Encode(nil, good)[:40], raw: true, kind: ErrSnappy},
		{name: "over the limit", body: good, max: 100, kind: ErrTooLarge, substr: "more than the limit of 100"},

		// Protobuf.
		{name: "truncated", body: good[:len(good)-3], kind: ErrMalformed, substr: "runs past the end"},
		{name: "truncated tag", body: []byte{0x80}, kind: ErrMalformed, substr: "at byte 0"},
		{name: "wrong wire type top", body: pbVarint(nil, 1, 5), kind: ErrMalformed, substr: "prometheus.WriteRequest field 1 (timeseries) has wire type 0 (varint), want 2"},
		{name: "wrong wire type label", body: series(pbVarint(nil, 1, 1)), kind: ErrMalformed, substr: "field 1 (labels) has wire type 0"},
		{name: "wrong wire type sample value", body: series(pbBytes(pbBytes(nil, 1, pbLabel("__name__", "up")), 2, pbVarint(nil, 1, 3))), kind: ErrMalformed, substr: "prometheus.Sample field 1 (value) has wire type 0 (varint), want 1 (fixed64)"},
		{name: "field zero", body: []byte{0x00, 0x01}, kind: ErrMalformed, substr: "field number 0"},
		{name: "overlong varint", body: append(pbTag(nil, 9, wtVarint), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), kind: ErrMalformed, substr: "longer than 10 bytes"},
		{name: "group in unknown field", body: append(pbTag(nil, 9, 3), pbTag(nil, 9, 4)...), kind: ErrMalformed, substr: "group wire types"},
		{name: "length past end", body: []byte{0x0a, 0x05, 0x01}, kind: ErrMalformed, substr: "at byte 1: prometheus.WriteRequest: length prefix runs past"},
		{name: "nested length past end", body: series([]byte{0x0a, 0x09, 0x0a, 0x01}), kind: ErrMalformed, substr: "at byte 3"},
		{name: "packed doubles", body: series(pbBytes(pbBytes(nil, 1, pbLabel("__name__", "h")), 4, pbBytes(nil, 16, []byte{1, 2, 3, 4, 5}))), kind: ErrMalformed, substr: "Histogram.custom_values: packed fixed-size values"},
		{name: "packed varint past its field", body: series(pbBytes(pbBytes(nil, 1, pbLabel("__name__", "h")), 4, append(pbBytes(nil, 12, []byte{2, 0x80}), 0x01))), kind: ErrMalformed, substr: "Histogram.positive_deltas: truncated"},
		{name: "wrong wire type exemplar value", body: series(pbBytes(pbBytes(nil, 1, pbLabel("__name__", "up")), 3, pbVarint(nil, 2, 1))), kind: ErrMalformed, substr: "prometheus.Exemplar field 2 (value) has wire type 0"},
		{name: "wrong wire type span", body: series(pbBytes(pbBytes(nil, 1, pbLabel("__name__", "up")), 4, pbBytes(nil, 11, pbDouble(nil, 1, 1)))), kind: ErrMalformed, substr: "BucketSpan field 1 (offset) has wire type 1"},
		{name: "wrong wire type histogram sum", body: series(pbBytes(pbBytes(nil, 1, pbLabel("__name__", "up")), 4, pbVarint(nil, 3, 1))), kind: ErrMalformed, substr: "Histogram field 3 (sum) has wire type 0 (varint), want 1"},
		{name: "v2 wrong wire type start_timestamp", v: V2, body: pbBytes(nil, 5, pbBytes(nil, 2, pbDouble(pbSample(1, 1), 3, 1))), kind: ErrMalformed, substr: "io.prometheus.write.v2.Sample field 3 (start_timestamp) has wire type 1"},
		{name: "v2 wrong wire type metadata", v: V2, body: pbBytes(nil, 5, pbBytes(nil, 5, pbString(nil, 3, "x"))), kind: ErrMalformed, substr: "io.prometheus.write.v2.Metadata field 3 (help_ref) has wire type 2"},
		{name: "v2 wrong wire type exemplar refs", v: V2, body: pbBytes(nil, 5, pbBytes(nil, 4, pbDouble(nil, 1, 1))), kind: ErrMalformed, substr: "io.prometheus.write.v2.Exemplar field 1 (labels_refs) has wire type 1"},
		{name: "v2 truncated labels_refs", v: V2, body: pbBytes(nil, 5, pbBytes(nil, 1, []byte{0x81})), kind: ErrMalformed, substr: "labels_refs: truncated"},
		{name: "2.0 body as 1.0", body: goodV2, kind: ErrWrongVersion, substr: "was a 2.0 body sent as 1.0"},
		{name: "1.0 body as 2.0", v: V2, body: good, kind: ErrWrongVersion, substr: "was a 1.0 body sent as 2.0"},

		// Labels.
		{name: "no name", body: series(v1Series("job", "j")), kind: ErrInvalidLabels, substr: `series 0 {job="j"} at byte 0: the metric name (__name__) is missing or empty`},
		{name: "empty name", body: series(v1Series("__name__", "", "job", "j")), kind: ErrInvalidLabels, substr: "missing or empty"},
		{name: "duplicate", body: series(v1Series("__name__", "up"), v1Series("__name__", "up", "job", "a", "job", "b")), kind: ErrInvalidLabels, substr: `series 1 up{job="a", job="b"}`},
		{name: "duplicate with an empty value", body: series(v1Series("__name__", "up", "job", "", "job", "b")), kind: ErrInvalidLabels, substr: `label "job" appears twice`},
		{name: "duplicate name", body: series(v1Series("__name__", "up", "__name__", "down")), kind: ErrInvalidLabels, substr: "appears twice"},
		{name: "empty label name", body: series(v1Series("__name__", "up", "", "v")), kind: ErrInvalidLabels, substr: "a label name is empty"},
		{name: "empty label name and value", body: series(v1Series("__name__", "up", "", "")), kind: ErrInvalidLabels, substr: "a label name is empty"},
		{name: "invalid UTF-8 value", body: series(v1Series("__name__", "up", "job", "a\xffb")), kind: ErrInvalidLabels, substr: "not valid UTF-8"},
		{name: "invalid UTF-8 name", body: series(v1Series("__name__", "up", "j\xc0b", "a")), kind: ErrInvalidLabels, substr: "up{j\ufffdb=\"a\"}"},
		{name: "invalid UTF-8 metric name", body: series(v1Series("__name__", "u\xffp")), kind: ErrInvalidLabels, substr: "not valid UTF-8"},
		{name: "value too long", body: series(v1Series("__name__", "up", "job", strings.Repeat("v", 5000))), kind: ErrInvalidLabels, substr: "longer than 4096 bytes"},
		{name: "long series cut in message", body: series(v1Series("__name__", "up", "a", strings.Repeat("v", 300), "", "x")), kind: ErrInvalidLabels, substr: "vvv…"},

		// Native histograms.
		{name: "spans not matching deltas", body: hist(func(h *prompb.Histogram) { h.PositiveDeltas = h.PositiveDeltas[:3] }), kind: ErrInvalidHistogram, substr: "spans need 4 buckets, have 3 buckets"},
		{name: "negative bucket", body: hist(func(h *prompb.Histogram) { h.PositiveDeltas = []int64{1, -2, 1, 0} }), kind: ErrInvalidHistogram, substr: "observation count of -1"},
		{name: "count mismatch", body: hist(func(h *prompb.Histogram) { h.Count = &prompb.Histogram_CountInt{CountInt: 3} }), kind: ErrInvalidHistogram, substr: `h{job="j"}`},
		{name: "invalid schema", body: hist(func(h *prompb.Histogram) { h.Schema = 60 }), kind: ErrInvalidHistogram, substr: "invalid schema"},
		{name: "reserved schema spans mismatch", body: hist(func(h *prompb.Histogram) { h.Schema = 12; h.PositiveDeltas = append(h.PositiveDeltas, 1) }), kind: ErrInvalidHistogram, substr: "spans need 4 buckets, have 5"},
		{name: "reset hint", body: hist(func(h *prompb.Histogram) { h.ResetHint = 7 }), kind: ErrInvalidHistogram, substr: "reset hint 7"},
		{name: "int with float zero count", body: hist(func(h *prompb.Histogram) { h.ZeroCount = &prompb.Histogram_ZeroCountFloat{ZeroCountFloat: 2} }), kind: ErrInvalidHistogram, substr: "zero_count_float in an integer histogram"},
		{name: "int with float counts", body: hist(func(h *prompb.Histogram) { h.PositiveCounts = []float64{1} }), kind: ErrInvalidHistogram, substr: "float bucket counts in an integer histogram"},
		{name: "float with deltas", body: withHist(t, func() prompb.Histogram {
			h := prompb.FromFloatHistogram(1, floatCustomHist(0).FH)
			h.PositiveDeltas = []int64{1}
			return h
		}()), kind: ErrInvalidHistogram, substr: "integer bucket deltas in a float histogram"},
		{name: "NaN float count", body: withHist(t, func() prompb.Histogram {
			fh := floatCustomHist(0).FH.Copy()
			fh.Count = math.NaN()
			return prompb.FromFloatHistogram(1, fh)
		}()), kind: ErrInvalidHistogram, substr: "count NaN is not a finite number"},
		{name: "NaN bucket count", body: withHist(t, func() prompb.Histogram {
			fh := floatCustomHist(0).FH.Copy()
			fh.PositiveBuckets[1] = math.NaN()
			return prompb.FromFloatHistogram(1, fh)
		}()), kind: ErrInvalidHistogram, substr: "bucket count 2 is NaN"},
		{name: "negative float count", body: withHist(t, func() prompb.Histogram {
			fh := floatCustomHist(0).FH.Copy()
			fh.PositiveBuckets[0] = -1
			return prompb.FromFloatHistogram(1, fh)
		}()), kind: ErrInvalidHistogram, substr: "negative"},
		{name: "custom bounds not increasing", body: withHist(t, func() prompb.Histogram {
			fh := floatCustomHist(0).FH.Copy()
			fh.CustomValues = []float64{0.5, 0.1, 1, 5}
			return prompb.FromFloatHistogram(1, fh)
		}()), kind: ErrInvalidHistogram, substr: "strictly increasing"},
		{name: "custom bounds too few", body: withHist(t, func() prompb.Histogram {
			fh := floatCustomHist(0).FH.Copy()
			fh.CustomValues = []float64{0.1}
			return prompb.FromFloatHistogram(1, fh)
		}()), kind: ErrInvalidHistogram, substr: "custom"},
		{name: "negative zero threshold", body: hist(func(h *prompb.Histogram) { h.ZeroThreshold = -1 }), kind: ErrInvalidHistogram, substr: "zero threshold -1"},

		// Metadata.
		{name: "metadata help not UTF-8", body: mustMarshal(t, &prompb.WriteRequest{Metadata: []prompb.MetricMetadata{{MetricFamilyName: "up", Help: "a\xff"}}}), kind: ErrInvalidMetadata, substr: `help of "up"`},
		{name: "metadata wrong wire type", body: pbBytes(nil, 3, pbString(nil, 1, "counter")), kind: ErrMalformed, substr: "field 1 (type) has wire type 2"},

		// 2.0 references.
		{name: "v2 odd labels_refs", v: V2, body: v2req(v2sym, writev2.TimeSeries{LabelsRefs: []uint32{1, 2, 3}, Samples: okSample}), kind: ErrInvalidReference, substr: "labels_refs has an odd length 3"},
		{name: "v2 ref out of range", v: V2, body: v2req(v2sym, writev2.TimeSeries{LabelsRefs: []uint32{1, 2, 3, 9}, Samples: okSample}), kind: ErrInvalidReference, substr: "labels_refs 3 (name) = 9 (value) outside of the symbols table (size 5)"},
		{name: "v2 no symbols", v: V2, body: v2req(nil, writev2.TimeSeries{LabelsRefs: okRefs, Samples: okSample}), kind: ErrInvalidReference},
		{name: "v2 help_ref out of range", v: V2, body: v2req(v2sym, writev2.TimeSeries{LabelsRefs: okRefs, Samples: okSample, Metadata: writev2.Metadata{HelpRef: 5}}), kind: ErrInvalidReference, substr: `series 0 up{job="j"} at byte 24: metadata help_ref 5`},
		{name: "v2 unit_ref out of range", v: V2, body: v2req(v2sym, writev2.TimeSeries{LabelsRefs: okRefs, Samples: okSample, Metadata: writev2.Metadata{UnitRef: 50}}), kind: ErrInvalidReference, substr: "unit_ref 50"},
		{name: "v2 exemplar ref out of range", v: V2, body: v2req(v2sym, writev2.TimeSeries{LabelsRefs: okRefs, Samples: okSample, Exemplars: []writev2.Exemplar{{LabelsRefs: []uint32{3, 7}}}}), kind: ErrInvalidReference, substr: `up{job="j"}`},
		{name: "v2 invalid label", v: V2, body: v2req([]string{"", "__name__", "up", "job", "\xff"}, writev2.TimeSeries{LabelsRefs: okRefs, Samples: okSample}), kind: ErrInvalidLabels, substr: "not valid UTF-8"},
		{name: "v2 histogram", v: V2, body: v2req(v2sym, writev2.TimeSeries{LabelsRefs: okRefs, Histograms: []writev2.Histogram{{Count: &writev2.Histogram_CountInt{CountInt: 1}}}}), kind: ErrInvalidHistogram, substr: "observation count"},
		{name: "v2 wrong wire type", v: V2, body: pbVarint(nil, 5, 1), kind: ErrMalformed, substr: "io.prometheus.write.v2.Request field 5 (timeseries) has wire type 0"},
		{name: "v2 metadata not UTF-8", v: V2, body: v2req([]string{"", "__name__", "up", "\xff"}, writev2.TimeSeries{LabelsRefs: []uint32{1, 2}, Samples: okSample, Metadata: writev2.Metadata{Type: 2, HelpRef: 3}}), kind: ErrInvalidMetadata, substr: `series 0 at byte 19: help of "up" is not valid UTF-8`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v
			if v == 0 {
				v = V1
			}
			body := tc.body
			if !tc.raw {
				body = snappy.Encode(nil, body)
			}
			req, err := Decode(body, v, tc.max)
			if err == nil {
				t.Fatalf("decoded %d series, want an error", len(req.Series))
			}
			var e *Error
			if !errors.As(err, &e) || !e.ClientFault() || e.StatusCode() != 400 {
				t.Fatalf("%v: not a client *Error", err)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("%v: want kind %v", err, tc.kind)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("%v\nwant it to contain %q", err, tc.substr)
			}
			if tc.kind == ErrInvalidLabels && e.Index < 0 {
				t.Errorf("%v: does not name the series", err)
			}
			if tc.kind == ErrMalformed && e.Offset < 0 {
				t.Errorf("%v: no offset", err)
			}
		})
	}
}

func TestHistogramErrorUnwraps(t *testing.T) {
	h := goodIntHist()
	h.Count = &prompb.Histogram_CountInt{CountInt: 3}
	_, err := Decode(snappy.Encode(nil, withHist(t, h)), V1, 0)
	var he histogram.Error
	if !errors.As(err, &he) || !errors.Is(err, histogram.ErrHistogramCountMismatch) {
		t.Fatalf("%v: want it to wrap the histogram.Error", err)
	}
}

func TestTooManyLabels(t *testing.T) {
	kv := []string{"__name__", "wide"}
	for i := 0; i < tsdb.MaxLabels; i++ {
		kv = append(kv, "l"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), "v")
	}
	_, err := Decode(snappy.Encode(nil, pbBytes(nil, 1, v1Series(kv...))), V1, 0)
	if !errors.Is(err, ErrInvalidLabels) || !strings.Contains(err.Error(), "more than 256") {
		t.Fatalf("%v: want too many labels", err)
	}
}
