package node

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/starling-otel/starling/storage"
)

// JSON shapes of the API's logs and metric series.

func formatTime(unixNano uint64) string {
	return time.Unix(0, int64(unixNano)).UTC().Format(time.RFC3339Nano)
}

// jsonFloat renders NaN and ±Inf as the strings "NaN", "+Inf", "-Inf"
// (JSON has no such numbers), like Prometheus.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// jsonValue turns an OTLP value into plain JSON: maps to objects, arrays to
// arrays, bytes to base64, doubles through jsonFloat.
func jsonValue(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return jsonFloat(v.Double())
	case pcommon.ValueTypeBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		out := make([]any, s.Len())
		for i := range out {
			out[i] = jsonValue(s.At(i))
		}
		return out
	case pcommon.ValueTypeMap:
		return jsonMap(v.Map())
	}
	return nil
}

func jsonMap(m pcommon.Map) map[string]any {
	out := make(map[string]any, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		out[k] = jsonValue(v)
		return true
	})
	return out
}

type logJSON struct {
	Time           string         `json:"time"`
	ObservedTime   string         `json:"observedTime,omitempty"`
	Severity       string         `json:"severity"`
	SeverityNumber int32          `json:"severityNumber"`
	Body           any            `json:"body"`
	Service        string         `json:"service"`
	TraceID        string         `json:"traceID"`
	SpanID         string         `json:"spanID"`
	EventName      string         `json:"eventName,omitempty"`
	Attributes     map[string]any `json:"attributes"`
	Resource       map[string]any `json:"resource"`
	Scope          string         `json:"scope,omitempty"`
}

// severityName is the OTLP short name of a severity number (INFO, WARN2…).
func severityName(n plog.SeverityNumber) string {
	if n < 1 || n > 24 {
		return ""
	}
	names := [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}
	s := names[(n-1)/4]
	if k := (n-1)%4 + 1; k > 1 {
		s += strconv.Itoa(int(k))
	}
	return s
}

func renderLog(e storage.LogEntry) logJSON {
	lr := e.Record
	out := logJSON{
		Time:           formatTime(uint64(lr.Timestamp())),
		Severity:       lr.SeverityText(),
		SeverityNumber: int32(lr.SeverityNumber()),
		Body:           jsonValue(lr.Body()),
		Service:        e.Service,
		EventName:      lr.EventName(),
		Attributes:     jsonMap(lr.Attributes()),
		Resource:       jsonMap(e.Resource.Attributes()),
		Scope:          e.Scope.Name(),
	}
	if lr.ObservedTimestamp() != 0 {
		out.ObservedTime = formatTime(uint64(lr.ObservedTimestamp()))
	}
	if out.Severity == "" {
		out.Severity = severityName(lr.SeverityNumber())
	}
	if tid := lr.TraceID(); !tid.IsEmpty() {
		out.TraceID = hex.EncodeToString(tid[:])
	}
	if sid := lr.SpanID(); !sid.IsEmpty() {
		out.SpanID = hex.EncodeToString(sid[:])
	}
	return out
}

type seriesJSON struct {
	Name        string            `json:"name"`
	Type        string            `json:"type"`
	Unit        string            `json:"unit"`
	Description string            `json:"description,omitempty"`
	Temporality string            `json:"temporality,omitempty"`
	Monotonic   *bool             `json:"monotonic,omitempty"`
	Labels      map[string]string `json:"labels"`
	Scope       string            `json:"scope,omitempty"`
	Points      []pointJSON       `json:"points"`
}

// pointJSON holds the fields of every point type; each type fills its own.
type pointJSON struct {
	Time      string `json:"time"`
	StartTime string `json:"startTime,omitempty"`
	// Gauge and sum.
	Value any `json:"value,omitempty"`
	// Histogram, exponential histogram and summary.
	Count          *uint64        `json:"count,omitempty"`
	Sum            *jsonFloat     `json:"sum,omitempty"`
	Min            *jsonFloat     `json:"min,omitempty"`
	Max            *jsonFloat     `json:"max,omitempty"`
	ExplicitBounds []jsonFloat    `json:"explicitBounds,omitempty"`
	BucketCounts   []uint64       `json:"bucketCounts,omitempty"`
	Scale          *int32         `json:"scale,omitempty"`
	ZeroCount      *uint64        `json:"zeroCount,omitempty"`
	ZeroThreshold  *jsonFloat     `json:"zeroThreshold,omitempty"`
	Positive       *bucketsJSON   `json:"positive,omitempty"`
	Negative       *bucketsJSON   `json:"negative,omitempty"`
	Quantiles      []quantileJSON `json:"quantiles,omitempty"`
	Exemplars      []exemplarJSON `json:"exemplars,omitempty"`
	Flags          uint32         `json:"flags,omitempty"`
}

type bucketsJSON struct {
	Offset       int32    `json:"offset"`
	BucketCounts []uint64 `json:"bucketCounts"`
}

type quantileJSON struct {
	Quantile jsonFloat `json:"quantile"`
	Value    jsonFloat `json:"value"`
}

type exemplarJSON struct {
	Time       string         `json:"time"`
	Value      any            `json:"value"`
	TraceID    string         `json:"traceID,omitempty"`
	SpanID     string         `json:"spanID,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

func ptrFloat(f float64) *jsonFloat { v := jsonFloat(f); return &v }

// stats fills count, sum, min and max of a (exponential) histogram point.
func (j *pointJSON) stats(p storage.HistStats) {
	count := p.Count()
	j.Count = &count
	if p.HasSum() {
		j.Sum = ptrFloat(p.Sum())
	}
	if p.HasMin() {
		j.Min = ptrFloat(p.Min())
	}
	if p.HasMax() {
		j.Max = ptrFloat(p.Max())
	}
}

func numberValue(p pmetric.NumberDataPoint) any {
	if p.ValueType() == pmetric.NumberDataPointValueTypeInt {
		return p.IntValue()
	}
	return jsonFloat(p.DoubleValue())
}

func exemplars(es pmetric.ExemplarSlice) []exemplarJSON {
	var out []exemplarJSON
	for i := 0; i < es.Len(); i++ {
		e := es.At(i)
		x := exemplarJSON{Time: formatTime(uint64(e.Timestamp()))}
		if e.ValueType() == pmetric.ExemplarValueTypeInt {
			x.Value = e.IntValue()
		} else {
			x.Value = jsonFloat(e.DoubleValue())
		}
		if tid := e.TraceID(); !tid.IsEmpty() {
			x.TraceID = hex.EncodeToString(tid[:])
		}
		if sid := e.SpanID(); !sid.IsEmpty() {
			x.SpanID = hex.EncodeToString(sid[:])
		}
		if e.FilteredAttributes().Len() > 0 {
			x.Attributes = jsonMap(e.FilteredAttributes())
		}
		out = append(out, x)
	}
	return out
}

func pointHead(ts, start pcommon.Timestamp, flags pmetric.DataPointFlags) pointJSON {
	p := pointJSON{Time: formatTime(uint64(ts)), Flags: uint32(flags)}
	if start != 0 {
		p.StartTime = formatTime(uint64(start))
	}
	return p
}

func temporalityName(t pmetric.AggregationTemporality) string {
	switch t {
	case pmetric.AggregationTemporalityCumulative:
		return "cumulative"
	case pmetric.AggregationTemporalityDelta:
		return "delta"
	}
	return ""
}

func renderSeries(s storage.Series) seriesJSON {
	m := s.Metric
	out := seriesJSON{
		Name: m.Name(), Unit: m.Unit(), Description: m.Description(),
		Labels: make(map[string]string, len(s.Labels)), Scope: s.ScopeName, Points: []pointJSON{},
	}
	for _, l := range s.Labels {
		out.Labels[l.Key] = l.Value
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSum:
		var dps pmetric.NumberDataPointSlice
		out.Type = "gauge"
		if m.Type() == pmetric.MetricTypeGauge {
			dps = m.Gauge().DataPoints()
		} else {
			dps = m.Sum().DataPoints()
			out.Type = "sum"
			out.Temporality = temporalityName(m.Sum().AggregationTemporality())
			mono := m.Sum().IsMonotonic()
			out.Monotonic = &mono
		}
		for i := 0; i < dps.Len(); i++ {
			p := dps.At(i)
			j := pointHead(p.Timestamp(), p.StartTimestamp(), p.Flags())
			j.Value = numberValue(p)
			j.Exemplars = exemplars(p.Exemplars())
			out.Points = append(out.Points, j)
		}
	case pmetric.MetricTypeHistogram:
		out.Type = "histogram"
		out.Temporality = temporalityName(m.Histogram().AggregationTemporality())
		dps := m.Histogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p := dps.At(i)
			j := pointHead(p.Timestamp(), p.StartTimestamp(), p.Flags())
			j.stats(p)
			for _, b := range p.ExplicitBounds().AsRaw() {
				j.ExplicitBounds = append(j.ExplicitBounds, jsonFloat(b))
			}
			j.BucketCounts = p.BucketCounts().AsRaw()
			j.Exemplars = exemplars(p.Exemplars())
			out.Points = append(out.Points, j)
		}
	case pmetric.MetricTypeExponentialHistogram:
		out.Type = "exponentialHistogram"
		out.Temporality = temporalityName(m.ExponentialHistogram().AggregationTemporality())
		dps := m.ExponentialHistogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p := dps.At(i)
			j := pointHead(p.Timestamp(), p.StartTimestamp(), p.Flags())
			j.stats(p)
			zero, scale := p.ZeroCount(), p.Scale()
			j.ZeroCount, j.Scale = &zero, &scale
			j.ZeroThreshold = ptrFloat(p.ZeroThreshold())
			j.Positive = &bucketsJSON{Offset: p.Positive().Offset(), BucketCounts: nonNilU64(p.Positive().BucketCounts().AsRaw())}
			j.Negative = &bucketsJSON{Offset: p.Negative().Offset(), BucketCounts: nonNilU64(p.Negative().BucketCounts().AsRaw())}
			j.Exemplars = exemplars(p.Exemplars())
			out.Points = append(out.Points, j)
		}
	case pmetric.MetricTypeSummary:
		out.Type = "summary"
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			p := dps.At(i)
			j := pointHead(p.Timestamp(), p.StartTimestamp(), p.Flags())
			count := p.Count()
			j.Count = &count
			j.Sum = ptrFloat(p.Sum())
			qs := p.QuantileValues()
			for k := 0; k < qs.Len(); k++ {
				j.Quantiles = append(j.Quantiles, quantileJSON{Quantile: jsonFloat(qs.At(k).Quantile()), Value: jsonFloat(qs.At(k).Value())})
			}
			out.Points = append(out.Points, j)
		}
	}
	return out
}

func nonNilU64(s []uint64) []uint64 {
	if s == nil {
		return []uint64{}
	}
	return s
}
