package remotewrite

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/starling-otel/starling/storage/tsdb"
)

// content is what a test request holds, built into both versions' messages.
type content struct {
	series []cseries
	// meta is the 1.0 metadata; 2.0 carries per-series metadata (cseries.meta).
	meta []prompb.MetricMetadata
}

type cseries struct {
	labels    []tsdb.Label // in the order they are sent
	samples   []tsdb.Sample
	hists     []tsdb.HistogramSample
	exemplars []tsdb.Exemplar
	meta      *writeMeta // 2.0 only
}

type writeMeta struct {
	typ        writev2.Metadata_MetricType
	help, unit string
}

func ls(kv ...string) []tsdb.Label {
	out := make([]tsdb.Label, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, tsdb.Label{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

func (c content) v1() *prompb.WriteRequest {
	req := &prompb.WriteRequest{Metadata: c.meta}
	for _, s := range c.series {
		ts := prompb.TimeSeries{}
		for _, l := range s.labels {
			ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
		}
		for _, smp := range s.samples {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: smp.T, Value: smp.V})
		}
		for _, h := range s.hists {
			if h.FH != nil {
				ts.Histograms = append(ts.Histograms, prompb.FromFloatHistogram(h.T, h.FH))
			} else {
				ts.Histograms = append(ts.Histograms, prompb.FromIntHistogram(h.T, h.H))
			}
		}
		for _, e := range s.exemplars {
			pe := prompb.Exemplar{Value: e.V, Timestamp: e.T}
			for _, l := range e.Labels {
				pe.Labels = append(pe.Labels, prompb.Label{Name: l.Name, Value: l.Value})
			}
			ts.Exemplars = append(ts.Exemplars, pe)
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	return req
}

func (c content) v2() *writev2.Request {
	st := writev2.NewSymbolTable()
	refs := func(ls []tsdb.Label) []uint32 {
		var out []uint32
		for _, l := range ls {
			out = append(out, st.Symbolize(l.Name), st.Symbolize(l.Value))
		}
		return out
	}
	req := &writev2.Request{}
	for _, s := range c.series {
		ts := writev2.TimeSeries{LabelsRefs: refs(s.labels)}
		for _, smp := range s.samples {
			ts.Samples = append(ts.Samples, writev2.Sample{Timestamp: smp.T, Value: smp.V})
		}
		for _, h := range s.hists {
			if h.FH != nil {
				ts.Histograms = append(ts.Histograms, writev2.FromFloatHistogram(0, h.T, h.FH))
			} else {
				ts.Histograms = append(ts.Histograms, writev2.FromIntHistogram(0, h.T, h.H))
			}
		}
		for _, e := range s.exemplars {
			ts.Exemplars = append(ts.Exemplars, writev2.Exemplar{LabelsRefs: refs(e.Labels), Value: e.V, Timestamp: e.T})
		}
		if s.meta != nil {
			ts.Metadata = writev2.Metadata{Type: s.meta.typ, HelpRef: st.Symbolize(s.meta.help), UnitRef: st.Symbolize(s.meta.unit)}
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	req.Symbols = st.Symbols()
	return req
}

type marshaler interface{ Marshal() ([]byte, error) }

func mustMarshal(t testing.TB, m marshaler) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func snappyBody(t testing.TB, m marshaler) []byte {
	return snappy.Encode(nil, mustMarshal(t, m))
}

func newTestDecoder(t testing.TB) *Decoder {
	t.Helper()
	d, err := NewDecoder(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// refV1 converts what gogo decoded by the rules the Decoder follows, without
// checking validity: the oracle for decodes that succeed.
func refV1(req *prompb.WriteRequest) *tsdb.WriteRequest {
	out := &tsdb.WriteRequest{}
	for _, ts := range req.Timeseries {
		var s tsdb.Series
		for _, l := range ts.Labels {
			s.Labels = append(s.Labels, tsdb.Label{Name: l.Name, Value: l.Value})
		}
		for _, smp := range ts.Samples {
			s.Samples = append(s.Samples, tsdb.Sample{T: smp.Timestamp, V: smp.Value})
		}
		for _, h := range ts.Histograms {
			s.Histograms = append(s.Histograms, refHistogram(h.Timestamp, h))
		}
		for _, e := range ts.Exemplars {
			var els []tsdb.Label
			for _, l := range e.Labels {
				els = append(els, tsdb.Label{Name: l.Name, Value: l.Value})
			}
			s.Exemplars = appendExemplar(s.Exemplars, els, e.Value, e.Timestamp)
		}
		if s = finishSeries(s); s.Labels != nil {
			out.Series = append(out.Series, s)
		}
	}
	for _, m := range req.Metadata {
		if m.MetricFamilyName == "" {
			continue
		}
		out.Metadata = append(out.Metadata, tsdb.Metadata{
			Family: m.MetricFamilyName, Type: metricType(int32(m.Type)), Help: m.Help, Unit: m.Unit,
		})
	}
	return out
}

// refV2 is refV1 for 2.0; it fails where a reference is out of range.
func refV2(req *writev2.Request) (*tsdb.WriteRequest, error) {
	out := &tsdb.WriteRequest{}
	sym := func(refs []uint32) ([]tsdb.Label, error) {
		if len(refs)%2 != 0 {
			return nil, fmt.Errorf("odd refs")
		}
		var ls []tsdb.Label
		for i := 0; i < len(refs); i += 2 {
			if int(refs[i]) >= len(req.Symbols) || int(refs[i+1]) >= len(req.Symbols) {
				return nil, fmt.Errorf("ref out of range")
			}
			ls = append(ls, tsdb.Label{Name: req.Symbols[refs[i]], Value: req.Symbols[refs[i+1]]})
		}
		return ls, nil
	}
	seen := map[string]bool{}
	for _, ts := range req.Timeseries {
		var s tsdb.Series
		var err error
		if s.Labels, err = sym(ts.LabelsRefs); err != nil {
			return nil, err
		}
		for _, smp := range ts.Samples {
			s.Samples = append(s.Samples, tsdb.Sample{T: smp.Timestamp, V: smp.Value})
		}
		for _, h := range ts.Histograms {
			s.Histograms = append(s.Histograms, refHistogram(h.Timestamp, h))
		}
		for _, e := range ts.Exemplars {
			els, err := sym(e.LabelsRefs)
			if err != nil {
				return nil, err
			}
			s.Exemplars = appendExemplar(s.Exemplars, els, e.Value, e.Timestamp)
		}
		md, err := ts.ToMetadata(req.Symbols)
		if err != nil {
			return nil, err
		}
		tsdb.SortLabels(s.Labels)
		name := tsdb.MetricName(s.Labels)
		if s = finishSeries(s); s.Labels != nil {
			out.Series = append(out.Series, s)
		}
		if ts.Metadata.Type == 0 && md.Help == "" && md.Unit == "" {
			continue
		}
		m := tsdb.Metadata{Type: metricType(int32(ts.Metadata.Type)), Help: md.Help, Unit: md.Unit}
		m.Family = familyOf(name, m.Type)
		if !seen[m.Family] {
			seen[m.Family] = true
			out.Metadata = append(out.Metadata, m)
		}
	}
	return out, nil
}

// protoHistogram is the conversion API both generated Histogram types have.
type protoHistogram interface {
	IsFloatHistogram() bool
	ToIntHistogram() *histogram.Histogram
	ToFloatHistogram() *histogram.FloatHistogram
}

// refHistogram converts a generated histogram as Prometheus' handler does:
// gogo's conversion, then schemas 9..52 reduced to 8.
func refHistogram(t int64, h protoHistogram) tsdb.HistogramSample {
	hs := tsdb.HistogramSample{T: t}
	if h.IsFloatHistogram() {
		hs.FH = h.ToFloatHistogram()
	} else {
		hs.H = h.ToIntHistogram()
	}
	if hs.H != nil && reducible(hs.H.Schema) {
		_ = hs.H.ReduceResolution(histogram.ExponentialSchemaMax)
	}
	if hs.FH != nil && reducible(hs.FH.Schema) {
		_ = hs.FH.ReduceResolution(histogram.ExponentialSchemaMax)
	}
	return hs
}

func appendExemplar(dst []tsdb.Exemplar, els []tsdb.Label, v float64, t int64) []tsdb.Exemplar {
	tsdb.SortLabels(els)
	els = tsdb.DropEmpty(els)
	if tsdb.ValidateExemplarLabels(els) != nil {
		return dst
	}
	return append(dst, tsdb.Exemplar{Labels: els, V: v, T: t, HasT: t != 0})
}

// finishSeries sorts and drops empty labels; a series with nothing to write
// comes back with nil labels.
func finishSeries(s tsdb.Series) tsdb.Series {
	tsdb.SortLabels(s.Labels)
	s.Labels = tsdb.DropEmpty(s.Labels)
	if len(s.Samples)+len(s.Histograms)+len(s.Exemplars) == 0 {
		return tsdb.Series{}
	}
	return s
}

// diff returns "" when the requests are equal: floats bit for bit, nil and
// empty slices alike.
func diff(got, want *tsdb.WriteRequest) string {
	if len(got.Series) != len(want.Series) {
		return fmt.Sprintf("%d series, want %d", len(got.Series), len(want.Series))
	}
	for i := range got.Series {
		g, w := got.Series[i], want.Series[i]
		if !slices.Equal(g.Labels, w.Labels) {
			return fmt.Sprintf("series %d: labels %v, want %v", i, g.Labels, w.Labels)
		}
		if !slices.EqualFunc(g.Samples, w.Samples, func(a, b tsdb.Sample) bool {
			return a.T == b.T && math.Float64bits(a.V) == math.Float64bits(b.V)
		}) {
			return fmt.Sprintf("series %d: samples %v, want %v", i, g.Samples, w.Samples)
		}
		if len(g.Histograms) != len(w.Histograms) {
			return fmt.Sprintf("series %d: %d histograms, want %d", i, len(g.Histograms), len(w.Histograms))
		}
		for k := range g.Histograms {
			if d := histDiff(g.Histograms[k], w.Histograms[k]); d != "" {
				return fmt.Sprintf("series %d histogram %d: %s", i, k, d)
			}
		}
		if !slices.EqualFunc(g.Exemplars, w.Exemplars, func(a, b tsdb.Exemplar) bool {
			return slices.Equal(a.Labels, b.Labels) && math.Float64bits(a.V) == math.Float64bits(b.V) && a.T == b.T && a.HasT == b.HasT
		}) {
			return fmt.Sprintf("series %d: exemplars %v, want %v", i, g.Exemplars, w.Exemplars)
		}
	}
	if !slices.Equal(got.Metadata, want.Metadata) {
		return fmt.Sprintf("metadata %v, want %v", got.Metadata, want.Metadata)
	}
	return ""
}

func histDiff(g, w tsdb.HistogramSample) string {
	if g.T != w.T {
		return fmt.Sprintf("time %d, want %d", g.T, w.T)
	}
	bits := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
	fl := func(a, b []float64) bool { return slices.EqualFunc(a, b, bits) }
	switch {
	case g.H != nil && w.H != nil:
		a, b := g.H, w.H
		if a.CounterResetHint != b.CounterResetHint || a.Schema != b.Schema || !bits(a.ZeroThreshold, b.ZeroThreshold) ||
			a.ZeroCount != b.ZeroCount || a.Count != b.Count || !bits(a.Sum, b.Sum) ||
			!slices.Equal(a.PositiveSpans, b.PositiveSpans) || !slices.Equal(a.NegativeSpans, b.NegativeSpans) ||
			!slices.Equal(a.PositiveBuckets, b.PositiveBuckets) || !slices.Equal(a.NegativeBuckets, b.NegativeBuckets) ||
			!fl(a.CustomValues, b.CustomValues) {
			return fmt.Sprintf("%+v, want %+v", *a, *b)
		}
	case g.FH != nil && w.FH != nil:
		a, b := g.FH, w.FH
		if a.CounterResetHint != b.CounterResetHint || a.Schema != b.Schema || !bits(a.ZeroThreshold, b.ZeroThreshold) ||
			!bits(a.ZeroCount, b.ZeroCount) || !bits(a.Count, b.Count) || !bits(a.Sum, b.Sum) ||
			!slices.Equal(a.PositiveSpans, b.PositiveSpans) || !slices.Equal(a.NegativeSpans, b.NegativeSpans) ||
			!fl(a.PositiveBuckets, b.PositiveBuckets) || !fl(a.NegativeBuckets, b.NegativeBuckets) ||
			!fl(a.CustomValues, b.CustomValues) {
			return fmt.Sprintf("%+v, want %+v", *a, *b)
		}
	default:
		return fmt.Sprintf("int/float: got H=%v FH=%v, want H=%v FH=%v", g.H != nil, g.FH != nil, w.H != nil, w.FH != nil)
	}
	return ""
}
