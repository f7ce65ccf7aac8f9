package storage

import (
	"encoding/binary"
	"sort"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// A series is a metric name and its sorted label set: the resource attributes
// and the data point attributes (a point attribute wins over a resource
// attribute of the same key), all rendered as strings. One series lives in
// one partition; its hash is its partition hash.
//
// Series value, version 1: version, type, name, unit, description,
// temporality, monotonic, labels (key, value)..., scope name, scope version.
//
// Point value, version 1 (series and time are in the key): version, type,
// start time, flags, type-specific fields, exemplars.
const (
	seriesVersion byte = 1
	pointVersion  byte = 1
)

// Label is one label of a series.
type Label struct {
	Key, Value string
}

type seriesDef struct {
	name, unit, description string
	typ                     pmetric.MetricType
	temporality             pmetric.AggregationTemporality
	monotonic               bool
	labels                  []Label
	scopeName, scopeVersion string
}

// seriesLabels merges resource and point attributes into sorted labels,
// reusing dst.
func seriesLabels(dst []Label, res, point pcommon.Map) []Label {
	dst = dst[:0]
	res.Range(func(k string, v pcommon.Value) bool {
		if _, ok := point.Get(k); !ok {
			dst = append(dst, Label{k, valueString(v)})
		}
		return true
	})
	point.Range(func(k string, v pcommon.Value) bool {
		dst = append(dst, Label{k, valueString(v)})
		return true
	})
	sort.Slice(dst, func(i, j int) bool { return dst[i].Key < dst[j].Key })
	return dst
}

// SeriesHash is the identity and partition hash of a series.
func SeriesHash(name string, labels []Label) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(name)
	for _, l := range labels {
		_, _ = d.Write([]byte{0})
		_, _ = d.WriteString(l.Key)
		_, _ = d.Write([]byte{0})
		_, _ = d.WriteString(l.Value)
	}
	return d.Sum64()
}

func seriesKey(dst []byte, p uint32, series uint64) []byte {
	dst = appendHeader(dst, p, kindSeries)
	return appendFixed64(dst, series)
}

func pointKey(dst []byte, p uint32, series uint64, unixNano uint64) []byte {
	dst = appendHeader(dst, p, kindPoint)
	dst = appendFixed64(dst, series)
	return appendFixed64(dst, unixNano)
}

func metricNameKey(dst []byte, p uint32, name string, series uint64) []byte {
	dst = appendHeader(dst, p, kindMetricName)
	dst = append(dst, name...)
	dst = append(dst, 0)
	return appendFixed64(dst, series)
}

func labelPostingKey(dst []byte, p uint32, label uint64, series uint64) []byte {
	dst = appendHeader(dst, p, kindLabelPosting)
	dst = appendFixed64(dst, label)
	return appendFixed64(dst, series)
}

func labelTerm(k, v string) uint64 { return attrTerm(k, v) }

func encodeSeries(dst []byte, s *seriesDef) []byte {
	dst = append(dst, seriesVersion, byte(s.typ))
	dst = appendString(dst, s.name)
	dst = appendString(dst, s.unit)
	dst = appendString(dst, s.description)
	dst = append(dst, byte(s.temporality))
	dst = appendBool(dst, s.monotonic)
	dst = appendUvarint(dst, uint64(len(s.labels)))
	for _, l := range s.labels {
		dst = appendString(dst, l.Key)
		dst = appendString(dst, l.Value)
	}
	dst = appendString(dst, s.scopeName)
	return appendString(dst, s.scopeVersion)
}

func decodeSeries(v []byte) (seriesDef, error) {
	d := decoder{b: v}
	if d.byte() != seriesVersion {
		return seriesDef{}, ErrUnknownFormat
	}
	var s seriesDef
	s.typ = pmetric.MetricType(d.byte())
	s.name = d.string()
	s.unit = d.string()
	s.description = d.string()
	s.temporality = pmetric.AggregationTemporality(d.byte())
	s.monotonic = d.bool()
	n := d.count(2)
	s.labels = make([]Label, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		s.labels = append(s.labels, Label{d.string(), d.string()})
	}
	s.scopeName = d.string()
	s.scopeVersion = d.string()
	return s, d.done()
}

// Number value kinds inside a point or exemplar.
const (
	numNone   byte = 0
	numDouble byte = 1
	numInt    byte = 2
)

func appendNumber(dst []byte, t pmetric.NumberDataPointValueType, d float64, i int64) []byte {
	switch t {
	case pmetric.NumberDataPointValueTypeDouble:
		return appendFloat64(append(dst, numDouble), d)
	case pmetric.NumberDataPointValueTypeInt:
		return appendVarint(append(dst, numInt), i)
	default:
		return append(dst, numNone)
	}
}

func (d *decoder) number() (kind byte, f float64, i int64) {
	switch kind = d.byte(); kind {
	case numNone:
	case numDouble:
		f = d.float64()
	case numInt:
		i = d.varint()
	default:
		d.fail()
	}
	return kind, f, i
}

func appendOptFloat(dst []byte, has bool, f float64) []byte {
	if !has {
		return append(dst, 0)
	}
	return appendFloat64(append(dst, 1), f)
}

func (d *decoder) optFloat() (float64, bool) {
	if !d.bool() {
		return 0, false
	}
	return d.float64(), true
}

func appendUint64s(dst []byte, s pcommon.UInt64Slice) []byte {
	dst = appendUvarint(dst, uint64(s.Len()))
	for i := 0; i < s.Len(); i++ {
		dst = appendUvarint(dst, s.At(i))
	}
	return dst
}

func (d *decoder) uint64s(into pcommon.UInt64Slice) {
	n := d.count(1)
	into.EnsureCapacity(n)
	for i := 0; i < n && d.err == nil; i++ {
		into.Append(d.uvarint())
	}
}

func appendExemplars(dst []byte, es pmetric.ExemplarSlice) []byte {
	dst = appendUvarint(dst, uint64(es.Len()))
	for i := 0; i < es.Len(); i++ {
		e := es.At(i)
		dst = appendFixed64(dst, uint64(e.Timestamp()))
		dst = appendNumber(dst, pmetric.NumberDataPointValueType(e.ValueType()), e.DoubleValue(), e.IntValue())
		dst = appendMap(dst, e.FilteredAttributes())
		tid, sid := e.TraceID(), e.SpanID()
		if tid.IsEmpty() {
			dst = append(dst, 0)
		} else {
			dst = append(append(dst, traceIDLen), tid[:]...)
		}
		if sid.IsEmpty() {
			dst = append(dst, 0)
		} else {
			dst = append(append(dst, spanIDLen), sid[:]...)
		}
	}
	return dst
}

func (d *decoder) exemplars(into pmetric.ExemplarSlice) {
	n := d.count(12)
	into.EnsureCapacity(n)
	for i := 0; i < n && d.err == nil; i++ {
		e := into.AppendEmpty()
		e.SetTimestamp(pcommon.Timestamp(d.fixed64()))
		switch kind, f, iv := d.number(); kind {
		case numDouble:
			e.SetDoubleValue(f)
		case numInt:
			e.SetIntValue(iv)
		}
		d.mapInto(e.FilteredAttributes(), 0)
		switch d.byte() {
		case 0:
		case traceIDLen:
			e.SetTraceID(d.traceID())
		default:
			d.fail()
		}
		switch d.byte() {
		case 0:
		case spanIDLen:
			e.SetSpanID(d.spanID())
		default:
			d.fail()
		}
	}
}

func appendPointHead(dst []byte, typ pmetric.MetricType, start pcommon.Timestamp, flags pmetric.DataPointFlags) []byte {
	dst = append(dst, pointVersion, byte(typ))
	dst = appendUvarint(dst, uint64(start))
	return appendUvarint(dst, uint64(flags))
}

func encodeNumberPoint(dst []byte, typ pmetric.MetricType, p pmetric.NumberDataPoint) []byte {
	dst = appendPointHead(dst, typ, p.StartTimestamp(), p.Flags())
	dst = appendNumber(dst, p.ValueType(), p.DoubleValue(), p.IntValue())
	return appendExemplars(dst, p.Exemplars())
}

func encodeHistogramPoint(dst []byte, p pmetric.HistogramDataPoint) []byte {
	dst = appendPointHead(dst, pmetric.MetricTypeHistogram, p.StartTimestamp(), p.Flags())
	dst = appendHistStats(dst, p)
	b := p.ExplicitBounds()
	dst = appendUvarint(dst, uint64(b.Len()))
	for i := 0; i < b.Len(); i++ {
		dst = appendFloat64(dst, b.At(i))
	}
	dst = appendUint64s(dst, p.BucketCounts())
	return appendExemplars(dst, p.Exemplars())
}

func encodeExpHistogramPoint(dst []byte, p pmetric.ExponentialHistogramDataPoint) []byte {
	dst = appendPointHead(dst, pmetric.MetricTypeExponentialHistogram, p.StartTimestamp(), p.Flags())
	dst = appendHistStats(dst, p)
	dst = appendVarint(dst, int64(p.Scale()))
	dst = appendUvarint(dst, p.ZeroCount())
	dst = appendFloat64(dst, p.ZeroThreshold())
	dst = appendVarint(dst, int64(p.Positive().Offset()))
	dst = appendUint64s(dst, p.Positive().BucketCounts())
	dst = appendVarint(dst, int64(p.Negative().Offset()))
	dst = appendUint64s(dst, p.Negative().BucketCounts())
	return appendExemplars(dst, p.Exemplars())
}

func encodeSummaryPoint(dst []byte, p pmetric.SummaryDataPoint) []byte {
	dst = appendPointHead(dst, pmetric.MetricTypeSummary, p.StartTimestamp(), p.Flags())
	dst = appendUvarint(dst, p.Count())
	dst = appendFloat64(dst, p.Sum())
	q := p.QuantileValues()
	dst = appendUvarint(dst, uint64(q.Len()))
	for i := 0; i < q.Len(); i++ {
		dst = appendFloat64(dst, q.At(i).Quantile())
		dst = appendFloat64(dst, q.At(i).Value())
	}
	return dst
}

// decodePoint appends the stored point (time from its key) to m, whose type
// must be the point's type. It returns false, nil for a point of another type.
func decodePoint(key, v []byte, m pmetric.Metric) (bool, error) {
	if len(key) != headerLen+16 {
		return false, ErrCorrupt
	}
	ts := pcommon.Timestamp(binary.BigEndian.Uint64(key[headerLen+8:]))
	if len(v) < 2 || v[0] != pointVersion {
		return false, ErrUnknownFormat
	}
	typ := pmetric.MetricType(v[1])
	if typ != m.Type() {
		return false, nil
	}
	d := decoder{b: v[2:]}
	start := pcommon.Timestamp(d.uvarint())
	flags := pmetric.DataPointFlags(d.uvarint())
	switch typ {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSum:
		var dps pmetric.NumberDataPointSlice
		if typ == pmetric.MetricTypeGauge {
			dps = m.Gauge().DataPoints()
		} else {
			dps = m.Sum().DataPoints()
		}
		p := dps.AppendEmpty()
		p.SetTimestamp(ts)
		p.SetStartTimestamp(start)
		p.SetFlags(flags)
		switch kind, f, i := d.number(); kind {
		case numDouble:
			p.SetDoubleValue(f)
		case numInt:
			p.SetIntValue(i)
		}
		d.exemplars(p.Exemplars())
	case pmetric.MetricTypeHistogram:
		p := m.Histogram().DataPoints().AppendEmpty()
		p.SetTimestamp(ts)
		p.SetStartTimestamp(start)
		p.SetFlags(flags)
		d.histStats(p)
		n := d.count(8)
		p.ExplicitBounds().EnsureCapacity(n)
		for i := 0; i < n && d.err == nil; i++ {
			p.ExplicitBounds().Append(d.float64())
		}
		d.uint64s(p.BucketCounts())
		d.exemplars(p.Exemplars())
	case pmetric.MetricTypeExponentialHistogram:
		p := m.ExponentialHistogram().DataPoints().AppendEmpty()
		p.SetTimestamp(ts)
		p.SetStartTimestamp(start)
		p.SetFlags(flags)
		d.histStats(p)
		p.SetScale(int32(d.varint()))
		p.SetZeroCount(d.uvarint())
		p.SetZeroThreshold(d.float64())
		p.Positive().SetOffset(int32(d.varint()))
		d.uint64s(p.Positive().BucketCounts())
		p.Negative().SetOffset(int32(d.varint()))
		d.uint64s(p.Negative().BucketCounts())
		d.exemplars(p.Exemplars())
	case pmetric.MetricTypeSummary:
		p := m.Summary().DataPoints().AppendEmpty()
		p.SetTimestamp(ts)
		p.SetStartTimestamp(start)
		p.SetFlags(flags)
		p.SetCount(d.uvarint())
		p.SetSum(d.float64())
		n := d.count(16)
		q := p.QuantileValues()
		q.EnsureCapacity(n)
		for i := 0; i < n && d.err == nil; i++ {
			qv := q.AppendEmpty()
			qv.SetQuantile(d.float64())
			qv.SetValue(d.float64())
		}
	default:
		return false, ErrCorrupt
	}
	return true, d.done()
}

// sortPoints orders m's data points by time and keeps one per timestamp.
func sortPoints(m pmetric.Metric) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		sortDedup(m.Gauge().DataPoints())
	case pmetric.MetricTypeSum:
		sortDedup(m.Sum().DataPoints())
	case pmetric.MetricTypeHistogram:
		sortDedup(m.Histogram().DataPoints())
	case pmetric.MetricTypeExponentialHistogram:
		sortDedup(m.ExponentialHistogram().DataPoints())
	case pmetric.MetricTypeSummary:
		sortDedup(m.Summary().DataPoints())
	}
}

type timedPoint interface{ Timestamp() pcommon.Timestamp }

type pointSlice[P timedPoint] interface {
	Sort(less func(a, b P) bool)
	RemoveIf(f func(P) bool)
}

func sortDedup[P timedPoint, S pointSlice[P]](s S) {
	s.Sort(func(a, b P) bool { return a.Timestamp() < b.Timestamp() })
	first, last := true, pcommon.Timestamp(0)
	s.RemoveIf(func(p P) bool {
		dup := !first && p.Timestamp() == last
		first, last = false, p.Timestamp()
		return dup
	})
}

// HistStats is what histogram and exponential histogram points share: a
// count and optional sum, min and max.
type HistStats interface {
	Count() uint64
	HasSum() bool
	Sum() float64
	HasMin() bool
	Min() float64
	HasMax() bool
	Max() float64
}

type histStatsSetter interface {
	SetCount(uint64)
	SetSum(float64)
	SetMin(float64)
	SetMax(float64)
}

func appendHistStats(dst []byte, p HistStats) []byte {
	dst = appendUvarint(dst, p.Count())
	dst = appendOptFloat(dst, p.HasSum(), p.Sum())
	dst = appendOptFloat(dst, p.HasMin(), p.Min())
	return appendOptFloat(dst, p.HasMax(), p.Max())
}

func (d *decoder) histStats(p histStatsSetter) {
	p.SetCount(d.uvarint())
	if f, ok := d.optFloat(); ok {
		p.SetSum(f)
	}
	if f, ok := d.optFloat(); ok {
		p.SetMin(f)
	}
	if f, ok := d.optFloat(); ok {
		p.SetMax(f)
	}
}
