package tsdb

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
)

// Limits on what one series may carry. Badger refuses keys over 65000
// bytes and label pairs become index keys, so a label is bounded well below.
const (
	MaxLabelNameLen  = 1024
	MaxLabelValueLen = 4096
	MaxLabels        = 256
)

// labelSep separates names and values in a series hash and in index keys;
// 0xff never occurs in valid UTF-8.
const labelSep = 0xff

// SeriesHash is the identity and partition hash of a series with sorted
// labels: xxhash64 over name 0xff value 0xff for every label. Stable across
// processes and versions.
func SeriesHash(ls []Label) uint64 {
	var buf [512]byte
	h, _ := SeriesHashBuf(ls, buf[:0])
	return h
}

// SeriesHashBuf is SeriesHash with a scratch buffer the caller keeps (the
// labels are laid out in it and hashed in one call); it returns the buffer
// for reuse.
func SeriesHashBuf(ls []Label, buf []byte) (uint64, []byte) {
	buf = buf[:0]
	for _, l := range ls {
		buf = append(buf, l.Name...)
		buf = append(buf, labelSep)
		buf = append(buf, l.Value...)
		buf = append(buf, labelSep)
	}
	return xxhash.Sum64(buf), buf
}

// SortLabels sorts labels by name in place (a writer may send them in any
// order); ValidateLabels then finds duplicates.
func SortLabels(ls []Label) {
	if !slices.IsSortedFunc(ls, compareLabels) {
		slices.SortStableFunc(ls, compareLabels)
	}
}

func compareLabels(a, b Label) int { return strings.Compare(a.Name, b.Name) }

// ValidateLabels checks sorted labels: a non-empty metric name, names and
// values valid UTF-8, names non-empty, no name twice, bounded sizes. An
// empty value is allowed here (it means "no such label" in PromQL; writers
// drop such labels before hashing, see DropEmpty).
func ValidateLabels(ls []Label) error {
	if len(ls) > MaxLabels {
		return fmt.Errorf("%d labels, more than %d", len(ls), MaxLabels)
	}
	name := ""
	for i, l := range ls {
		switch {
		case l.Name == "":
			return errors.New("a label name is empty")
		case len(l.Name) > MaxLabelNameLen:
			return fmt.Errorf("label name %.40q… is longer than %d bytes", l.Name, MaxLabelNameLen)
		case len(l.Value) > MaxLabelValueLen:
			return fmt.Errorf("label %q: value is longer than %d bytes", l.Name, MaxLabelValueLen)
		case !utf8.ValidString(l.Name):
			return fmt.Errorf("label name %q is not valid UTF-8", l.Name)
		case !utf8.ValidString(l.Value):
			return fmt.Errorf("label %q: value %q is not valid UTF-8", l.Name, l.Value)
		case i > 0 && ls[i-1].Name == l.Name:
			return fmt.Errorf("label %q appears twice", l.Name)
		case i > 0 && ls[i-1].Name > l.Name:
			return fmt.Errorf("labels are not sorted (%q after %q)", l.Name, ls[i-1].Name)
		}
		if l.Name == MetricNameLabel {
			name = l.Value
		}
	}
	if name == "" {
		return errors.New("the metric name (__name__) is missing or empty")
	}
	return nil
}

// DropEmpty removes labels with an empty value in place: Prometheus treats
// them as absent, so {a=""} and {} are one series.
func DropEmpty(ls []Label) []Label {
	return slices.DeleteFunc(ls, func(l Label) bool { return l.Value == "" })
}

// LabelsString renders labels as PromQL does: name{a="b", …}.
func LabelsString(ls []Label) string {
	var b strings.Builder
	b.WriteString(MetricName(ls))
	b.WriteByte('{')
	first := true
	for _, l := range ls {
		if l.Name == MetricNameLabel {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(l.Name)
		b.WriteString("=")
		b.WriteString(fmt.Sprintf("%q", l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// StaleNaN is the bit pattern Prometheus writes as a staleness marker.
const StaleNaN uint64 = 0x7ff0000000000002

// IsStaleNaN reports whether v is a staleness marker.
func IsStaleNaN(v float64) bool { return math.Float64bits(v) == StaleNaN }

// MaxExemplarLabelsLen bounds the runes of an exemplar's label names and
// values together, as Prometheus and OpenMetrics do.
const MaxExemplarLabelsLen = 128

// ValidateExemplarLabels checks an exemplar's sorted labels: names non-empty
// and valid UTF-8, values valid UTF-8, no name twice, at most
// MaxExemplarLabelsLen runes in all.
func ValidateExemplarLabels(ls []Label) error {
	n := 0
	for i, l := range ls {
		switch {
		case l.Name == "" || !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value):
			return fmt.Errorf("exemplar label %q is not a valid label", l.Name)
		case i > 0 && ls[i-1].Name == l.Name:
			return fmt.Errorf("exemplar label %q appears twice", l.Name)
		}
		n += utf8.RuneCountInString(l.Name) + utf8.RuneCountInString(l.Value)
	}
	if n > MaxExemplarLabelsLen {
		return fmt.Errorf("exemplar labels have %d runes, more than %d", n, MaxExemplarLabelsLen)
	}
	return nil
}

// CompareLabels orders sorted label sets as Prometheus does: label by
// label, name then value; a prefix first.
func CompareLabels(a, b []Label) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i].Name, b[i].Name); c != 0 {
			return c
		}
		if c := strings.Compare(a[i].Value, b[i].Value); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}
