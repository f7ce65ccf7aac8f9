package storage

import (
	"fmt"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/starling-otel/starling/proto/starlingpb"
)

type pointRef struct {
	partition uint32
	series    uint64
	time      uint64
	metric    pmetric.Metric
	resource  pcommon.Resource
	scope     pcommon.InstrumentationScope
	attrs     pcommon.Map
	val       [2]int // value range in the scratch buffer
}

// Metrics turns a metrics request into partition batches: per data point its
// value under its series and time, and per series (once per window) its
// definition, its name key and one posting per label.
func (b *Builder) Metrics(md pmetric.Metrics) BuildResult {
	now := b.now()
	var r BuildResult
	var refs []pointRef
	var scratch []byte
	var labels []Label
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			ms := sm.Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				path := fmt.Sprintf("resourceMetrics[%d].scopeMetrics[%d].metrics[%d]", i, j, k)
				n := pointCount(m)
				if problem := checkMetricName(m.Name()); problem != "" {
					for range n {
						r.reject(ReasonInvalid, "%s.name: %s", path, problem)
					}
					continue
				}
				for l := 0; l < n; l++ {
					ts, attrs, problem := pointAt(m, l)
					reason := ReasonInvalid
					if problem == "" {
						if reason = b.timeCheck(starlingpb.Signal_SIGNAL_METRICS, uint64(ts), now); reason != "" {
							problem = "timeUnixNano: " + timeProblem(reason)
						}
					}
					if problem != "" {
						r.reject(reason, "%s.dataPoints[%d].%s", path, l, problem)
						continue
					}
					labels = seriesLabels(labels, rm.Resource().Attributes(), attrs)
					series := SeriesHash(m.Name(), labels)
					start := len(scratch)
					scratch = encodePointAt(scratch, m, l)
					refs = append(refs, pointRef{
						partition: PartitionOf(series, b.cfg.Partitions),
						series:    series, time: uint64(ts), metric: m,
						resource: rm.Resource(), scope: sm.Scope(), attrs: attrs,
						val: [2]int{start, len(scratch)},
					})
				}
			}
		}
	}
	r.Accepted = len(refs)
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].partition < refs[j].partition })

	w := b.newPartWriter(starlingpb.Signal_SIGNAL_METRICS, len(refs), len(scratch)/max(len(refs), 1)+48)
	for i := range refs {
		pr := &refs[i]
		p := pr.partition
		w.begin(p)
		w.cur.Records++
		window := windowOf(pr.time, b.windowSeconds)
		b.key = seriesKey(b.key[:0], p, pr.series)
		if h, need := w.once(b.seen, starlingpb.Signal_SIGNAL_METRICS, window, b.key); need {
			labels = seriesLabels(labels, pr.resource.Attributes(), pr.attrs)
			def := newSeriesDef(pr.metric, pr.scope, labels)
			b.val = encodeSeries(b.val[:0], &def)
			w.addOnce(h, window, b.key, b.val)
			b.key = metricNameKey(b.key[:0], p, def.name, pr.series)
			w.add(window, b.key, nil)
			for _, l := range labels {
				b.key = labelPostingKey(b.key[:0], p, labelTerm(l.Key, l.Value), pr.series)
				w.add(window, b.key, nil)
			}
		}
		b.key = pointKey(b.key[:0], p, pr.series, pr.time)
		w.add(window, b.key, scratch[pr.val[0]:pr.val[1]])
	}
	b.learnSize(starlingpb.Signal_SIGNAL_METRICS, &w, len(refs))
	w.result(&r)
	return r
}

// maxMetricNameLen bounds metric names: a name is part of its name index
// key, and Badger refuses keys over 65000 bytes.
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

func newSeriesDef(m pmetric.Metric, scope pcommon.InstrumentationScope, labels []Label) seriesDef {
	def := seriesDef{
		name: m.Name(), unit: m.Unit(), description: m.Description(), typ: m.Type(),
		labels: labels, scopeName: scope.Name(), scopeVersion: scope.Version(),
	}
	switch m.Type() {
	case pmetric.MetricTypeSum:
		def.temporality = m.Sum().AggregationTemporality()
		def.monotonic = m.Sum().IsMonotonic()
	case pmetric.MetricTypeHistogram:
		def.temporality = m.Histogram().AggregationTemporality()
	case pmetric.MetricTypeExponentialHistogram:
		def.temporality = m.ExponentialHistogram().AggregationTemporality()
	}
	return def
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

// pointAt returns the time and attributes of data point i of m, or what is
// wrong with it ("field: problem").
func pointAt(m pmetric.Metric, i int) (pcommon.Timestamp, pcommon.Map, string) {
	var ts pcommon.Timestamp
	var attrs pcommon.Map
	problem := ""
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		p := m.Gauge().DataPoints().At(i)
		ts, attrs = p.Timestamp(), p.Attributes()
	case pmetric.MetricTypeSum:
		p := m.Sum().DataPoints().At(i)
		ts, attrs = p.Timestamp(), p.Attributes()
	case pmetric.MetricTypeHistogram:
		p := m.Histogram().DataPoints().At(i)
		ts, attrs = p.Timestamp(), p.Attributes()
		if nb, nc := p.ExplicitBounds().Len(), p.BucketCounts().Len(); nc != 0 && nc != nb+1 {
			problem = fmt.Sprintf("bucketCounts: has %d entries, explicitBounds needs %d", nc, nb+1)
		}
	case pmetric.MetricTypeExponentialHistogram:
		p := m.ExponentialHistogram().DataPoints().At(i)
		ts, attrs = p.Timestamp(), p.Attributes()
	case pmetric.MetricTypeSummary:
		p := m.Summary().DataPoints().At(i)
		ts, attrs = p.Timestamp(), p.Attributes()
	}
	if problem == "" && ts == 0 {
		problem = "timeUnixNano: must be set"
	}
	return ts, attrs, problem
}

func encodePointAt(dst []byte, m pmetric.Metric, i int) []byte {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return encodeNumberPoint(dst, m.Type(), m.Gauge().DataPoints().At(i))
	case pmetric.MetricTypeSum:
		return encodeNumberPoint(dst, m.Type(), m.Sum().DataPoints().At(i))
	case pmetric.MetricTypeHistogram:
		return encodeHistogramPoint(dst, m.Histogram().DataPoints().At(i))
	case pmetric.MetricTypeExponentialHistogram:
		return encodeExpHistogramPoint(dst, m.ExponentialHistogram().DataPoints().At(i))
	case pmetric.MetricTypeSummary:
		return encodeSummaryPoint(dst, m.Summary().DataPoints().At(i))
	}
	panic("BUG: encodePointAt of a metric without points")
}
