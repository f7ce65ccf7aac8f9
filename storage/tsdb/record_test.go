package tsdb

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
)

func TestRecordRoundTrip(t *testing.T) {
	h := &histogram.Histogram{Count: 5, Sum: 1.5, Schema: 3, ZeroThreshold: 1e-9, ZeroCount: 1, CounterResetHint: histogram.GaugeType,
		PositiveSpans: []histogram.Span{{Offset: -2, Length: 2}, {Offset: 3, Length: 1}}, PositiveBuckets: []int64{1, 1, 0},
		NegativeSpans: []histogram.Span{{Offset: 0, Length: 1}}, NegativeBuckets: []int64{1}}
	nhcb := &histogram.FloatHistogram{Count: 4, Sum: 10, Schema: -53, PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}},
		PositiveBuckets: []float64{1, 3}, CustomValues: []float64{0.5, 1}}
	in := []RecordSeries{
		{Hash: 1, NameBytes: []byte("a"), Samples: []Sample{{T: 1000, V: 1}, {T: 2000, V: math.Float64frombits(StaleNaN)}, {T: 1500, V: math.Inf(-1)}}},
		{Hash: math.MaxUint64, NameBytes: []byte("ü"), Histograms: []HistogramSample{{T: 7, H: h}, {T: 9, FH: nhcb}}},
		{Hash: 3, NameBytes: nil},
	}
	var b RecordBuilder
	for _, s := range in {
		b.Add(s.Hash, string(s.NameBytes), s.Samples, s.Histograms)
	}
	enc := b.Append(nil)
	var out []RecordSeries
	if err := DecodeRecord(enc, func(rs *RecordSeries) error {
		c := RecordSeries{Hash: rs.Hash, NameBytes: append([]byte(nil), rs.NameBytes...)}
		c.Samples = append(c.Samples, rs.Samples...)
		c.Histograms = append(c.Histograms, rs.Histograms...)
		out = append(out, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d series", len(out))
	}
	for i := range in {
		if in[i].Hash != out[i].Hash || string(in[i].NameBytes) != string(out[i].NameBytes) || len(in[i].Samples) != len(out[i].Samples) {
			t.Errorf("series %d: %+v", i, out[i])
		}
		for j := range in[i].Samples {
			if math.Float64bits(in[i].Samples[j].V) != math.Float64bits(out[i].Samples[j].V) || in[i].Samples[j].T != out[i].Samples[j].T {
				t.Errorf("series %d sample %d: %+v", i, j, out[i].Samples[j])
			}
		}
	}
	if !reflect.DeepEqual(out[1].Histograms[0].H, h) || !reflect.DeepEqual(out[1].Histograms[1].FH, nhcb) {
		t.Errorf("histograms: %+v %+v", out[1].Histograms[0].H, out[1].Histograms[1].FH)
	}
	for cut := range len(enc) {
		if err := DecodeRecord(enc[:cut], func(*RecordSeries) error { return nil }); !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("truncated at %d: %v", cut, err)
		}
	}
}

// FuzzDecodeRecord: records come from other nodes' frontends and from
// disk; no input may panic, and what decodes re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	var b RecordBuilder
	b.Add(1, "m", []Sample{{T: 1, V: 2}, {T: 3, V: math.NaN()}}, nil)
	b.Add(2, "h", nil, []HistogramSample{{T: 5, H: &histogram.Histogram{Count: 1, Schema: 0, PositiveSpans: []histogram.Span{{Length: 1}}, PositiveBuckets: []int64{1}}}})
	f.Add(b.Append(nil))
	f.Add([]byte{recordVersion, 0})
	f.Add([]byte{recordVersion, 200, 1, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		var re RecordBuilder
		var keep [][]Sample
		err := DecodeRecord(in, func(rs *RecordSeries) error {
			s := append([]Sample(nil), rs.Samples...)
			keep = append(keep, s)
			re.Add(rs.Hash, string(rs.NameBytes), s, append([]HistogramSample(nil), rs.Histograms...))
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error %v is not ErrCorruptRecord", err)
			}
			return
		}
		if out := re.Append(nil); string(out) != string(in) {
			// Varints have one canonical form when written; accept only
			// inputs that are canonical already.
			var again RecordBuilder
			if err := DecodeRecord(out, func(rs *RecordSeries) error {
				again.Add(rs.Hash, string(rs.NameBytes), append([]Sample(nil), rs.Samples...), append([]HistogramSample(nil), rs.Histograms...))
				return nil
			}); err != nil || string(again.Append(nil)) != string(out) {
				t.Fatalf("re-encoding is not a fixed point: %v", err)
			}
		}
	})
}
