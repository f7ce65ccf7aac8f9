package tsdb

import (
	"github.com/prometheus/prometheus/model/histogram"
)

// Label is one label of a series. The metric name is the label
// MetricNameLabel ("__name__").
type Label struct {
	Name, Value string
}

// MetricNameLabel is the label holding a series' metric name.
const MetricNameLabel = "__name__"

// Sample is one float sample: a time in milliseconds since the epoch and a
// value. Any float64 is a value, NaN and ±Inf included; StaleNaN (see
// IsStaleNaN) marks the end of a series as Prometheus writes it.
type Sample struct {
	T int64
	V float64
}

// HistogramSample is one native histogram sample: exactly one of H (integer
// counts) and FH (float counts) is set.
type HistogramSample struct {
	T  int64
	H  *histogram.Histogram
	FH *histogram.FloatHistogram
}

// Exemplar is one exemplar of a series: its own labels (trace_id, span_id,
// …), a value and, when HasT, a time in milliseconds.
type Exemplar struct {
	Labels []Label
	V      float64
	T      int64
	HasT   bool
}

// Series is one series of a write: its labels, sorted by name with no name
// twice and __name__ among them, and its samples in the order they came.
// Strings may alias the decoded request's buffer: a writer copies what it
// keeps.
type Series struct {
	Labels     []Label
	Samples    []Sample
	Histograms []HistogramSample
	Exemplars  []Exemplar
}

// MetricType is a metric family's type as the Prometheus metadata API names
// it: counter, gauge, histogram, gaugehistogram, summary, info, stateset,
// unknown.
type MetricType string

// Metadata describes one metric family (a metric name without the _bucket,
// _sum, _count, _total suffixes where they apply): its type, help and unit.
type Metadata struct {
	Family string
	Type   MetricType
	Help   string
	Unit   string
}

// WriteRequest is one write of series and metric metadata, as decoded from
// a remote write body or translated from an OTLP request.
type WriteRequest struct {
	Series   []Series
	Metadata []Metadata
	// Checked says every series' labels are sorted, without empty values
	// and valid (ValidateLabels): a decoder that checked them while
	// decoding spares the writer doing it again.
	Checked bool
}

// MetricName returns the value of __name__ in sorted labels, or "".
func MetricName(ls []Label) string {
	for _, l := range ls {
		if l.Name == MetricNameLabel {
			return l.Value
		}
		if l.Name > MetricNameLabel {
			break
		}
	}
	return ""
}
