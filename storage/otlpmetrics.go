package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// OTLP metrics are stored as Prometheus stores them: Prometheus' own OTLP
// translator (the code behind Prometheus' /api/v1/otlp/v1/metrics) turns a
// request into series and samples, so names and labels match a Prometheus
// fed the same data. The settings are Prometheus 3's defaults
// (UnderscoreEscapingWithSuffixes, no promoted resource attributes,
// target_info), with delta temporality kept as it came (Prometheus' native
// delta ingestion) instead of refused. See docs/metrics.md, "OTLP names".
var otlpSettings = prometheusremotewrite.Settings{
	AddMetricSuffixes:                    true,
	AllowUTF8:                            false,
	AllowDeltaTemporality:                true,
	LookbackDelta:                        5 * time.Minute,
	LabelNameUnderscoreSanitization:      true,
	LabelNamePreserveMultipleUnderscores: true,
}

// Metrics turns an OTLP metrics request into partition batches. Points
// that cannot be stored (no metric name, a time out of bounds, histogram
// buckets that do not match their bounds) are rejected one by one, as
// OTLP's partial success reports them; the rest is translated and built
// by Prom. Accepted and Rejected count data points.
func (b *Builder) Metrics(md pmetric.Metrics) BuildResult {
	var r BuildResult
	b.filterPoints(md, &r)
	points := md.DataPointCount()
	if points == 0 {
		return r
	}
	if b.conv == nil {
		b.conv = prometheusremotewrite.NewPrometheusConverter(nil)
	}
	req, err := translate(b.conv, md)
	if err != nil {
		// filterPoints took out what the translator refuses; whatever it
		// still refuses fails the request rather than being dropped
		// silently.
		r.rejectN(points, ReasonInvalid, "metrics: %v", err)
		return r
	}
	built := b.Prom(req, false)
	built.Accepted = points
	if built.Rejected > 0 {
		built.Accepted = max(0, points-built.Rejected)
	}
	built.Rejected += r.Rejected
	for k, v := range r.Reasons {
		if built.Reasons == nil {
			built.Reasons = map[string]int{}
		}
		built.Reasons[k] += v
	}
	if r.Message != "" {
		built.Message = strings.TrimPrefix(r.Message+"; "+built.Message, "; ")
		built.Message = strings.TrimSuffix(built.Message, "; ")
	}
	return built
}

// TranslateOTLP turns OTLP metrics into series and samples as Builder
// does before building (Prometheus' translator, Prometheus 3's default
// settings): what Starling stores for md, for tests and tools that need to
// know it. md must hold only valid points (see Builder.Metrics).
func TranslateOTLP(md pmetric.Metrics) (*tsdb.WriteRequest, error) {
	return translate(prometheusremotewrite.NewPrometheusConverter(nil), md)
}

func translate(conv *prometheusremotewrite.PrometheusConverter, md pmetric.Metrics) (*tsdb.WriteRequest, error) {
	app := &promAppender{index: map[uint64][]int{}, families: map[string]bool{}}
	conv.Reset(app)
	defer conv.Reset(nil)
	if _, err := conv.FromMetrics(context.Background(), md, otlpSettings); err != nil {
		return nil, err
	}
	return &app.req, nil
}

// filterPoints removes the points of md that cannot be stored, recording
// why in r, and the exemplars without a value (the translator would drop
// their whole metric).
func (b *Builder) filterPoints(md pmetric.Metrics, r *BuildResult) {
	now := b.now()
	rms := md.ResourceMetrics()
	i := -1
	rms.RemoveIf(func(rm pmetric.ResourceMetrics) bool {
		i++
		if emptyKey(rm.Resource().Attributes()) {
			if n := resourcePoints(rm); n > 0 {
				r.rejectN(n, ReasonInvalid, "resourceMetrics[%d].resource.attributes: a key is empty", i)
			}
			return true
		}
		return false
	})
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			k := -1
			ms.RemoveIf(func(m pmetric.Metric) bool {
				k++
				path := fmt.Sprintf("resourceMetrics[%d].scopeMetrics[%d].metrics[%d]", i, j, k)
				if problem := checkMetricName(m.Name()); problem != "" {
					if n := pointCount(m); n > 0 {
						r.rejectN(n, ReasonInvalid, "%s.name: %s", path, problem)
					}
					return true
				}
				l := -1
				removePoints(m, func(ts pcommon.Timestamp, problem string) bool {
					l++
					reason := ReasonInvalid
					if problem == "" {
						if reason = b.timeCheck(starlingpb.Signal_SIGNAL_METRICS, uint64(ts), now); reason != "" {
							problem = "timeUnixNano: " + timeProblem(reason)
						}
					}
					if problem == "" {
						return false
					}
					r.reject(reason, "%s.dataPoints[%d].%s", path, l, problem)
					return true
				})
				if problem := checkTemporality(m); problem != "" {
					if n := pointCount(m); n > 0 {
						r.rejectN(n, ReasonInvalid, "%s.aggregationTemporality: %s", path, problem)
					}
					return true
				}
				return pointCount(m) == 0
			})
		}
	}
}

func emptyKey(m pcommon.Map) bool {
	empty := false
	m.Range(func(k string, _ pcommon.Value) bool {
		empty = k == ""
		return !empty
	})
	return empty
}

func resourcePoints(rm pmetric.ResourceMetrics) int {
	n := 0
	sms := rm.ScopeMetrics()
	for j := 0; j < sms.Len(); j++ {
		ms := sms.At(j).Metrics()
		for k := 0; k < ms.Len(); k++ {
			n += pointCount(ms.At(k))
		}
	}
	return n
}

// checkTemporality refuses sums and histograms without a temporality.
func checkTemporality(m pmetric.Metric) string {
	t := pmetric.AggregationTemporalityCumulative
	switch m.Type() {
	case pmetric.MetricTypeSum:
		t = m.Sum().AggregationTemporality()
	case pmetric.MetricTypeHistogram:
		t = m.Histogram().AggregationTemporality()
	case pmetric.MetricTypeExponentialHistogram:
		t = m.ExponentialHistogram().AggregationTemporality()
	}
	if t == pmetric.AggregationTemporalityUnspecified {
		return "must be cumulative or delta"
	}
	return ""
}

// dropEmptyExemplars removes exemplars that carry no value.
func dropEmptyExemplars(es pmetric.ExemplarSlice) {
	es.RemoveIf(func(e pmetric.Exemplar) bool { return e.ValueType() == pmetric.ExemplarValueTypeEmpty })
}

// pointProblem is what is wrong with a point's attributes, or "".
func pointProblem(ts pcommon.Timestamp, attrs pcommon.Map) string {
	if ts == 0 {
		return "timeUnixNano: must be set"
	}
	if emptyKey(attrs) {
		return "attributes: a key is empty"
	}
	return ""
}

// maxMetricNameLen bounds OTLP metric names (a name becomes a label value).
const maxMetricNameLen = 1024

func checkMetricName(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > maxMetricNameLen:
		return fmt.Sprintf("is longer than %d bytes", maxMetricNameLen)
	case strings.IndexByte(name, 0) >= 0:
		return "must not contain a NUL byte"
	}
	return ""
}

func pointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

// removePoints removes the data points of m for which drop, given the
// point's time and what is wrong with it (or ""), returns true.
func removePoints(m pmetric.Metric, drop func(ts pcommon.Timestamp, problem string) bool) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		m.Gauge().DataPoints().RemoveIf(func(p pmetric.NumberDataPoint) bool {
			dropEmptyExemplars(p.Exemplars())
			return drop(p.Timestamp(), pointProblem(p.Timestamp(), p.Attributes()))
		})
	case pmetric.MetricTypeSum:
		m.Sum().DataPoints().RemoveIf(func(p pmetric.NumberDataPoint) bool {
			dropEmptyExemplars(p.Exemplars())
			return drop(p.Timestamp(), pointProblem(p.Timestamp(), p.Attributes()))
		})
	case pmetric.MetricTypeHistogram:
		m.Histogram().DataPoints().RemoveIf(func(p pmetric.HistogramDataPoint) bool {
			dropEmptyExemplars(p.Exemplars())
			problem := pointProblem(p.Timestamp(), p.Attributes())
			if nb, nc := p.ExplicitBounds().Len(), p.BucketCounts().Len(); problem == "" && nc != 0 && nc != nb+1 {
				problem = fmt.Sprintf("bucketCounts: has %d entries, explicitBounds needs %d", nc, nb+1)
			}
			return drop(p.Timestamp(), problem)
		})
	case pmetric.MetricTypeExponentialHistogram:
		m.ExponentialHistogram().DataPoints().RemoveIf(func(p pmetric.ExponentialHistogramDataPoint) bool {
			dropEmptyExemplars(p.Exemplars())
			problem := pointProblem(p.Timestamp(), p.Attributes())
			if problem == "" && p.Scale() < -4 {
				problem = fmt.Sprintf("scale: %d is below -4, the coarsest native histogram schema", p.Scale())
			}
			return drop(p.Timestamp(), problem)
		})
	case pmetric.MetricTypeSummary:
		m.Summary().DataPoints().RemoveIf(func(p pmetric.SummaryDataPoint) bool {
			return drop(p.Timestamp(), pointProblem(p.Timestamp(), p.Attributes()))
		})
	}
}

// promAppender collects what Prometheus' OTLP translator appends into a
// tsdb.WriteRequest: one series per label set, metadata once per family.
type promAppender struct {
	req      tsdb.WriteRequest
	index    map[uint64][]int // labels hash → series indexes
	families map[string]bool
}

var _ promstorage.AppenderV2 = (*promAppender)(nil)

func (a *promAppender) Append(_ promstorage.SeriesRef, ls labels.Labels, _, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts promstorage.AppendV2Options) (promstorage.SeriesRef, error) {
	hash := ls.Hash()
	i := -1
	for _, j := range a.index[hash] {
		if labelsEqual(a.req.Series[j].Labels, ls) {
			i = j
			break
		}
	}
	if i < 0 {
		i = len(a.req.Series)
		a.index[hash] = append(a.index[hash], i)
		a.req.Series = append(a.req.Series, tsdb.Series{Labels: toLabels(ls)})
	}
	s := &a.req.Series[i]
	switch {
	case fh != nil:
		s.Histograms = append(s.Histograms, tsdb.HistogramSample{T: t, FH: fh.Copy()})
	case h != nil:
		s.Histograms = append(s.Histograms, tsdb.HistogramSample{T: t, H: h.Copy()})
	default:
		s.Samples = append(s.Samples, tsdb.Sample{T: t, V: v})
	}
	for _, e := range opts.Exemplars {
		s.Exemplars = append(s.Exemplars, fromExemplar(e))
	}
	if fam := opts.MetricFamilyName; fam != "" && !a.families[fam] {
		a.families[fam] = true
		a.req.Metadata = append(a.req.Metadata, tsdb.Metadata{
			Family: fam, Type: tsdb.MetricType(opts.Metadata.Type), Help: opts.Metadata.Help, Unit: opts.Metadata.Unit,
		})
	}
	return promstorage.SeriesRef(hash), nil
}

func (a *promAppender) Commit() error   { return nil }
func (a *promAppender) Rollback() error { return nil }

func toLabels(ls labels.Labels) []tsdb.Label {
	out := make([]tsdb.Label, 0, ls.Len())
	ls.Range(func(l labels.Label) { out = append(out, tsdb.Label{Name: l.Name, Value: l.Value}) })
	return out
}

func labelsEqual(a []tsdb.Label, b labels.Labels) bool {
	if len(a) != b.Len() {
		return false
	}
	i, eq := 0, true
	b.Range(func(l labels.Label) {
		if eq && (a[i].Name != l.Name || a[i].Value != l.Value) {
			eq = false
		}
		i++
	})
	return eq
}

func fromExemplar(e exemplar.Exemplar) tsdb.Exemplar {
	return tsdb.Exemplar{Labels: toLabels(e.Labels), V: e.Value, T: e.Ts, HasT: e.HasTs}
}
