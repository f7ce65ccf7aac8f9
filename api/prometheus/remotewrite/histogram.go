package remotewrite

import (
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/prometheus/model/histogram"

	"github.com/starling-otel/starling/storage/tsdb"
)

// Native histograms: prometheus.Histogram and io.prometheus.write.v2.Histogram
// share their wire layout (2.0 adds start_timestamp = 17), so one hand
// decoder serves both; histograms are rare next to float samples, and the
// decoder allocates each one (and its slices) on its own.
//
//	oneof count      { uint64 count_int = 1; double count_float = 2; }
//	double sum = 3; sint32 schema = 4; double zero_threshold = 5;
//	oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
//	repeated BucketSpan negative_spans = 8; repeated sint64 negative_deltas = 9; repeated double negative_counts = 10;
//	repeated BucketSpan positive_spans = 11; repeated sint64 positive_deltas = 12; repeated double positive_counts = 13;
//	ResetHint reset_hint = 14; int64 timestamp = 15; repeated double custom_values = 16;
//	BucketSpan { sint32 offset = 1; uint32 length = 2; }

const (
	msgHistogram  = "Histogram"
	msgBucketSpan = "BucketSpan"
	kindAbsent    = 0
	kindInt       = 1
	kindFloat     = 2
	maxResetHint  = int32(histogram.GaugeType)
	reducedSchema = histogram.ExponentialSchemaMax
)

var histogramFields = [...]string{"", "count_int", "count_float", "sum", "schema", "zero_threshold",
	"zero_count_int", "zero_count_float", "negative_spans", "negative_deltas", "negative_counts",
	"positive_spans", "positive_deltas", "positive_counts", "reset_hint", "timestamp", "custom_values", "start_timestamp"}

// histWire is a Histogram message as sent, before it is checked.
type histWire struct {
	countKind, zeroKind  int
	countInt, zeroInt    uint64
	countF, zeroF        float64
	sum, zeroThreshold   float64
	schema, resetHint    int32
	t                    int64
	negSpans, posSpans   []histogram.Span
	negDeltas, posDeltas []int64
	negCounts, posCounts []float64
	custom               []float64
}

// addHistogram decodes the Histogram in b[s:e], whose tag is at offset p,
// into the arena; an invalid one becomes the series' first problem (h0 is
// where the series' histograms start in the arena).
func (d *Decoder) addHistogram(b []byte, p, s, e int, v2 bool, h0 int, problem **Error) error {
	hs, bad, err := d.histogram(b, s, e, v2)
	switch {
	case err != nil:
		return err
	case bad == nil:
		d.hists = append(d.hists, hs)
	case *problem == nil:
		*problem = d.invalid(ErrInvalidHistogram, "native histogram %d (time %d): %w", len(d.hists)-h0, hs.T, bad)
		(*problem).Offset = p
	}
	return nil
}

// histogram decodes a Histogram in b[i:end]. err is a wire error (the body
// is refused at once); bad is why the histogram is not valid, which the
// caller reports once it knows the series' labels.
func (d *Decoder) histogram(b []byte, i, end int, v2 bool) (hs tsdb.HistogramSample, bad, err error) {
	var w histWire
	lastField := 16
	if v2 {
		lastField = 17
	}
	for i < end {
		p := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return hs, nil, d.malformed(p, j, msgHistogram)
		}
		if num > lastField {
			if i = skip(b, j, end, wt); i < 0 {
				return hs, nil, d.malformed(j, i, msgHistogram)
			}
			continue
		}
		want := wtVarint
		switch num {
		case 2, 3, 5, 7:
			want = wtFixed64
		case 8, 11:
			want = wtBytes
		case 9, 12:
			if wt == wtBytes { // packed
				want = wtBytes
			}
		case 10, 13, 16:
			want = wtFixed64
			if wt == wtBytes { // packed
				want = wtBytes
			}
		}
		if wt != want {
			return hs, nil, d.wrongType(p, msgHistogram, num, histogramFields[num], wt, want)
		}
		var u uint64
		var f float64
		var s, e int
		switch want {
		case wtVarint:
			u, i = uvarint(b, j, end)
		case wtFixed64:
			f, i = double(b, j, end)
		default:
			if s, e = span(b, j, end); s < 0 {
				return hs, nil, d.malformed(j, s, msgHistogram)
			}
			i = e
		}
		if i < 0 {
			return hs, nil, d.malformed(j, i, msgHistogram)
		}
		code, at := 0, 0
		switch num {
		case 1:
			w.countKind, w.countInt = kindInt, u
		case 2:
			w.countKind, w.countF = kindFloat, f
		case 3:
			w.sum = f
		case 4:
			w.schema = zigzag32(u)
		case 5:
			w.zeroThreshold = f
		case 6:
			w.zeroKind, w.zeroInt = kindInt, u
		case 7:
			w.zeroKind, w.zeroF = kindFloat, f
		case 8, 11:
			sp, err := d.bucketSpan(b, s, e)
			if err != nil {
				return hs, nil, err
			}
			if num == 8 {
				w.negSpans = append(w.negSpans, sp)
			} else {
				w.posSpans = append(w.posSpans, sp)
			}
		case 9, 12:
			dst := &w.negDeltas
			if num == 12 {
				dst = &w.posDeltas
			}
			if want == wtVarint {
				*dst = append(*dst, zigzag64(u))
			} else {
				*dst, code, at = appendPackedSint64(*dst, b, s, e)
			}
		case 10, 13, 16:
			dst := &w.negCounts
			switch num {
			case 13:
				dst = &w.posCounts
			case 16:
				dst = &w.custom
			}
			if want == wtFixed64 {
				*dst = append(*dst, f)
			} else {
				*dst, code, at = appendPackedDoubles(*dst, b, s, e)
			}
		case 14:
			w.resetHint = int32(u)
		case 15:
			w.t = int64(u)
		}
		if code < 0 {
			return hs, nil, d.malformed(at, code, msgHistogram+"."+histogramFields[num])
		}
	}
	hs.T = w.t
	hs.H, hs.FH, bad = w.build()
	return hs, bad, nil
}

// bucketSpan decodes a BucketSpan in b[i:end].
func (d *Decoder) bucketSpan(b []byte, i, end int) (histogram.Span, error) {
	var sp histogram.Span
	for i < end {
		p := i
		num, wt, j := tag(b, i, end)
		if j < 0 {
			return sp, d.malformed(p, j, msgBucketSpan)
		}
		if num == 1 || num == 2 {
			if wt != wtVarint {
				return sp, d.wrongType(p, msgBucketSpan, num, [...]string{"", "offset", "length"}[num], wt, wtVarint)
			}
			var u uint64
			if u, i = uvarint(b, j, end); num == 1 {
				sp.Offset = zigzag32(u)
			} else {
				sp.Length = uint32(u)
			}
		} else {
			i = skip(b, j, end, wt)
		}
		if i < 0 {
			return sp, d.malformed(j, i, msgBucketSpan)
		}
	}
	return sp, nil
}

// build checks the histogram and returns it with integer or float counts.
// Float when count_float was sent, integer otherwise (as gogo's
// IsFloatHistogram decides); fields of the other kind are refused.
func (w *histWire) build() (*histogram.Histogram, *histogram.FloatHistogram, error) {
	if w.resetHint < 0 || w.resetHint > maxResetHint {
		return nil, nil, fmt.Errorf("reset hint %d is not one of 0 (unknown), 1 (yes), 2 (no), 3 (gauge)", w.resetHint)
	}
	if math.IsNaN(w.zeroThreshold) || w.zeroThreshold < 0 {
		return nil, nil, fmt.Errorf("zero threshold %v is not a non-negative number", w.zeroThreshold)
	}
	if w.countKind == kindFloat {
		return w.buildFloat()
	}
	switch {
	case w.zeroKind == kindFloat:
		return nil, nil, errors.New("zero_count_float in an integer histogram (count_int)")
	case len(w.negCounts)+len(w.posCounts) > 0:
		return nil, nil, errors.New("float bucket counts in an integer histogram (count_int)")
	}
	h := &histogram.Histogram{
		CounterResetHint: histogram.CounterResetHint(w.resetHint),
		Schema:           w.schema,
		ZeroThreshold:    w.zeroThreshold,
		ZeroCount:        w.zeroInt,
		Count:            w.countInt,
		Sum:              w.sum,
		PositiveSpans:    w.posSpans,
		PositiveBuckets:  w.posDeltas,
		NegativeSpans:    w.negSpans,
		NegativeBuckets:  w.negDeltas,
		CustomValues:     w.custom,
	}
	if reducible(h.Schema) {
		if err := w.checkSpans(len(h.PositiveBuckets), len(h.NegativeBuckets)); err != nil {
			return nil, nil, err
		}
		if err := h.ReduceResolution(reducedSchema); err != nil {
			return nil, nil, err
		}
	}
	if err := h.Validate(); err != nil {
		return nil, nil, err
	}
	return h, nil, nil
}

func (w *histWire) buildFloat() (*histogram.Histogram, *histogram.FloatHistogram, error) {
	switch {
	case w.zeroKind == kindInt:
		return nil, nil, errors.New("zero_count_int in a float histogram (count_float)")
	case len(w.negDeltas)+len(w.posDeltas) > 0:
		return nil, nil, errors.New("integer bucket deltas in a float histogram (count_float)")
	case !finite(w.countF):
		return nil, nil, fmt.Errorf("count %v is not a finite number", w.countF)
	case !finite(w.zeroF):
		return nil, nil, fmt.Errorf("zero count %v is not a finite number", w.zeroF)
	}
	for _, side := range [...][]float64{w.negCounts, w.posCounts} {
		for k, c := range side {
			if !finite(c) {
				return nil, nil, fmt.Errorf("bucket count %d is %v, not a finite number", k+1, c)
			}
		}
	}
	fh := &histogram.FloatHistogram{
		CounterResetHint: histogram.CounterResetHint(w.resetHint),
		Schema:           w.schema,
		ZeroThreshold:    w.zeroThreshold,
		ZeroCount:        w.zeroF,
		Count:            w.countF,
		Sum:              w.sum,
		PositiveSpans:    w.posSpans,
		PositiveBuckets:  w.posCounts,
		NegativeSpans:    w.negSpans,
		NegativeBuckets:  w.negCounts,
		CustomValues:     w.custom,
	}
	if reducible(fh.Schema) {
		if err := w.checkSpans(len(fh.PositiveBuckets), len(fh.NegativeBuckets)); err != nil {
			return nil, nil, err
		}
		if err := fh.ReduceResolution(reducedSchema); err != nil {
			return nil, nil, err
		}
	}
	if err := fh.Validate(); err != nil {
		return nil, nil, err
	}
	return nil, fh, nil
}

// reducible reports whether schema is one Prometheus' handler reduces to 8
// before appending (9..52, reserved for finer exponential schemas).
func reducible(schema int32) bool {
	return histogram.IsExponentialSchemaReserved(schema) && schema > histogram.ExponentialSchemaMax
}

// checkSpans checks, before ReduceResolution, that the spans need as many
// buckets as were sent (ReduceResolution silently drops extra buckets).
func (w *histWire) checkSpans(pos, neg int) error {
	for _, side := range [...]struct {
		name    string
		spans   []histogram.Span
		buckets int
	}{{"positive", w.posSpans, pos}, {"negative", w.negSpans, neg}} {
		var n uint64
		for _, sp := range side.spans {
			n += uint64(sp.Length)
		}
		if n != uint64(side.buckets) {
			return fmt.Errorf("%s side: spans need %d buckets, have %d buckets: %w", side.name, n, side.buckets, histogram.ErrHistogramSpansBucketsMismatch)
		}
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
