package remotewrite

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/starling-otel/starling/storage/tsdb"
)

// Series checks and metadata shared by both versions, and the errors that
// name where decoding stopped.

// malformed is an ErrMalformed at offset at, in message msg.
func (d *Decoder) malformed(at, code int, msg string) error {
	return &Error{Kind: ErrMalformed, Offset: at, Index: d.cur, Err: fmt.Errorf("%s: %s", msg, wireText(code))}
}

// wrongType is an ErrMalformed for a known field sent with another wire
// type than its own.
func (d *Decoder) wrongType(at int, msg string, num int, field string, wt, want int) error {
	return &Error{Kind: ErrMalformed, Offset: at, Index: d.cur, Err: fmt.Errorf(
		"%s field %d (%s) has wire type %d (%s), want %d (%s)",
		msg, num, field, wt, wireTypeNames[wt], want, wireTypeNames[want])}
}

// invalid is an error about the series being decoded, whose labels are
// filled in by endSeries when they are known.
func (d *Decoder) invalid(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Offset: d.curAt, Index: d.cur, Err: fmt.Errorf(format, args...)}
}

// beginSeries starts the series whose TimeSeries tag is at offset at.
func (d *Decoder) beginSeries(at int) seriesRec {
	d.cur, d.curAt = d.next, at
	d.next++
	var r seriesRec
	r.labels[0] = len(d.labels)
	r.samples[0] = len(d.samples)
	r.hists[0] = len(d.hists)
	r.exemplars[0] = len(d.exRecs)
	return r
}

// endSeries checks the labels of the series just decoded (d.labels from
// r.labels[0]): sorted, valid, empty values dropped. It then reports
// problem, the first problem found in the series' samples (with the series
// named), or keeps the series when it has anything to write. It returns the
// metric name.
func (d *Decoder) endSeries(r *seriesRec, problem *Error, ascii bool) (string, error) {
	ls := d.labels[r.labels[0]:]
	valid, hasEmpty := false, false
	if ascii {
		valid, hasEmpty = quickValid(ls)
	}
	if !valid {
		tsdb.SortLabels(ls)
		if err := tsdb.ValidateLabels(ls); err != nil {
			e := d.invalid(ErrInvalidLabels, "%v", err)
			e.Series = seriesText(ls)
			return "", e
		}
		hasEmpty = true
	}
	if problem != nil {
		problem.Series = seriesText(ls)
		return "", problem
	}
	name := tsdb.MetricName(ls)
	if hasEmpty {
		ls = tsdb.DropEmpty(ls)
	}
	d.labels = d.labels[:r.labels[0]+len(ls)]
	r.labels[1] = len(d.labels)
	r.samples[1] = len(d.samples)
	r.hists[1] = len(d.hists)
	r.exemplars[1] = len(d.exRecs)
	if r.samples[0] == r.samples[1] && r.hists[0] == r.hists[1] && r.exemplars[0] == r.exemplars[1] {
		d.labels = d.labels[:r.labels[0]]
		d.stats.SkippedSeries++
	} else {
		d.recs = append(d.recs, *r)
	}
	d.cur, d.curAt = -1, -1
	return name, nil
}

// quickValid is the fast path of tsdb.SortLabels + tsdb.ValidateLabels for
// what senders send: labels already sorted, ASCII (the caller knows it),
// within the size limits. It reports valid only when ValidateLabels would
// accept ls unsorted (a strictly increasing name order also rules out
// duplicates; ASCII is valid UTF-8); for anything else the caller runs the
// tsdb functions, which give the answer and the error. hasEmpty reports a
// label with an empty value.
func quickValid(ls []tsdb.Label) (valid, hasEmpty bool) {
	if len(ls) > tsdb.MaxLabels {
		return false, false
	}
	named := false
	prev := ""
	for i, l := range ls {
		n, v := l.Name, l.Value
		if len(n) == 0 || len(n) > tsdb.MaxLabelNameLen || len(v) > tsdb.MaxLabelValueLen {
			return false, false
		}
		// Names in strictly increasing order; the first bytes decide most
		// comparisons without a call.
		if i > 0 && (n[0] < prev[0] || n[0] == prev[0] && n <= prev) {
			return false, false
		}
		if n == tsdb.MetricNameLabel {
			named = v != ""
		}
		hasEmpty = hasEmpty || v == ""
		prev = n
	}
	return named, hasEmpty
}

// endExemplar keeps the exemplar whose labels are d.exLabels from l0, or
// drops it when its labels are not valid (as Prometheus drops it).
func (d *Decoder) endExemplar(l0 int, v float64, t int64) {
	ls := d.exLabels[l0:]
	tsdb.SortLabels(ls)
	ls = tsdb.DropEmpty(ls)
	if tsdb.ValidateExemplarLabels(ls) != nil {
		d.exLabels = d.exLabels[:l0]
		d.stats.DroppedExemplars++
		return
	}
	d.exLabels = d.exLabels[:l0+len(ls)]
	d.exRecs = append(d.exRecs, exemplarRec{labels: [2]int{l0, len(d.exLabels)}, v: v, t: t})
}

// metricTypes maps the MetricType enums of both versions (the same numbers)
// to the names of the Prometheus metadata API.
var metricTypes = [...]tsdb.MetricType{"unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset"}

// metricType maps an enum value; one this package does not know is unknown.
func metricType(v int32) tsdb.MetricType {
	if v >= 0 && int(v) < len(metricTypes) {
		return metricTypes[v]
	}
	return "unknown"
}

// familyOf returns the metric family of a series named name with metadata of
// type t, as a 2.0 sender's per-series metadata is stored per family: the
// series' metric name, except that the classic component series of
// histograms (_bucket, _sum, _count; _gsum, _gcount for gauge histograms)
// and summaries (_sum, _count) name their family without the suffix. A
// counter's family keeps _total, as Prometheus' text format and Starling's
// OTLP translation name it.
func familyOf(name string, t tsdb.MetricType) string {
	var suffixes []string
	switch t {
	case "histogram":
		suffixes = []string{"_bucket", "_sum", "_count"}
	case "gaugehistogram":
		suffixes = []string{"_bucket", "_gsum", "_gcount", "_sum", "_count"}
	case "summary":
		suffixes = []string{"_sum", "_count"}
	}
	for _, s := range suffixes {
		if f, ok := strings.CutSuffix(name, s); ok && f != "" {
			return f
		}
	}
	return name
}

// checkMetadata returns an error when a metadata string is not valid UTF-8.
func checkMetadata(m tsdb.Metadata) error {
	switch {
	case !utf8.ValidString(m.Family):
		return fmt.Errorf("metric family name %q is not valid UTF-8", m.Family)
	case !utf8.ValidString(m.Help):
		return fmt.Errorf("help of %q is not valid UTF-8", m.Family)
	case !utf8.ValidString(m.Unit):
		return fmt.Errorf("unit of %q is not valid UTF-8", m.Family)
	}
	return nil
}
