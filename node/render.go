package node

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/promql"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
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

// seriesJSON is a stored series as /api/v1/metrics/series returns it: its
// metric name, labels (Prometheus names) and samples in time order.
type seriesJSON struct {
	Name    string            `json:"name"`
	Labels  map[string]string `json:"labels"`
	Samples []sampleJSON      `json:"samples"`
	// Histograms are native histogram samples as Prometheus' API renders
	// them: [unix seconds, {count, sum, buckets}].
	Histograms []promql.HPoint `json:"histograms,omitempty"`
}

type sampleJSON struct {
	Time  string    `json:"time"`
	Value jsonFloat `json:"value"`
}

func formatMs(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }

func renderSeries(s storage.SelectedSeries) (seriesJSON, error) {
	out := seriesJSON{Labels: make(map[string]string, len(s.Labels)), Samples: []sampleJSON{}}
	for _, l := range s.Labels {
		if l.Name == tsdb.MetricNameLabel {
			out.Name = l.Value
			continue
		}
		out.Labels[l.Name] = l.Value
	}
	floats, hists, err := storage.DecodeChunks(s.Chunks)
	if err != nil {
		return out, err
	}
	for _, smp := range floats {
		out.Samples = append(out.Samples, sampleJSON{Time: formatMs(smp.T), Value: jsonFloat(smp.V)})
	}
	for _, h := range hists {
		fh := h.FH
		if h.H != nil {
			fh = h.H.ToFloat(nil)
		}
		out.Histograms = append(out.Histograms, promql.HPoint{T: h.T, H: fh})
	}
	return out, nil
}
