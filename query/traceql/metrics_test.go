package traceql

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// The metrics window over the data set: four steps of 30s, traces 1-3 in
// the first, 4-6 in the second, 7-9 in the third, 10-12 in the last.
var (
	mStart = conformanceT0
	mEnd   = conformanceT0 + int64(120*time.Second)
	mStep  = int64(30 * time.Second)
)

// stepMs is the sample time of step i.
func stepMs(i int) int64 { return (mStart + int64(i)*mStep) / 1e6 }

// seriesString writes series as "labels: t=v ..." with t the step number.
func seriesString(ss []Series) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString("{" + attrsString(s.Labels) + "}:")
		for _, x := range s.Samples {
			fmt.Fprintf(&b, " %d=%s", (x.T-stepMs(0))/30000, fmtV(x.V))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// fmtV writes a float with 12 significant digits, so that expectations
// read as decimals.
func fmtV(v float64) string { return fmt.Sprintf("%.12g", v) }

func observeAll(t *testing.T, query string, traces []Trace, pick func(int) bool) *Metrics {
	t.Helper()
	q, err := Parse(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	m, err := q.NewMetrics(mStart, mEnd, mStep)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	for i := range traces {
		if pick == nil || pick(i) {
			m.Observe(&traces[i])
		}
	}
	return m
}

var metricsCases = []struct{ query, want string }{
	{`{ } | count_over_time()`, "{}: 0=8 1=8 2=9 3=8\n"},
	{`{ } | rate()`, "{}: 0=0.266666666667 1=0.266666666667 2=0.3 3=0.266666666667\n"},
	{`{ status = error } | count_over_time() by (resource.service.name)`,
		`{resource.service.name="api"}: 0=2 1=0 2=0 3=0` + "\n" +
			`{resource.service.name="chain"}: 0=0 1=0 2=0 3=1` + "\n" +
			`{resource.service.name="db"}: 0=1 1=0 2=0 3=0` + "\n" +
			`{resource.service.name="frontend"}: 0=1 1=0 2=0 3=0` + "\n"},
	{`{ resource.service.name = "frontend" } | quantile_over_time(duration, 0.5, 1, 0)`,
		"{p=0.0}: 0=0.033554432 3=0.002097152\n{p=0.5}: 0=0.100663296 3=0.003145728\n{p=1.0}: 0=0.268435456 3=0.004194304\n"},
	{`{ name = "GET /checkout" } | histogram_over_time(duration)`,
		"{__bucket=0.134217728}: 0=1 1=0 2=0 3=0\n{__bucket=0.268435456}: 0=1 1=0 2=0 3=0\n"},
	{`{ resource.service.name = "api" } | avg_over_time(duration)`, "{}: 0=0.1\n"},
	{`{ } | sum_over_time(span.task.index)`, "{}: 1=3\n"},
	{`{ } | min_over_time(span.http.status_code) by (resource.service.name)`,
		`{resource.service.name="api"}: 0=201` + "\n" + `{resource.service.name="chain"}: 3=404` + "\n" +
			`{resource.service.name="frontend"}: 0=200 3=200` + "\n"},
	{`{ kind = server } | max_over_time(duration)`, "{}: 0=0.2 1=0.04 2=2 3=0.1\n"},
	{`{ } | count_over_time() by (resource.service.name) | topk(1)`,
		`{resource.service.name="api"}: 0=3` + "\n" + `{resource.service.name="chain"}: 3=4` + "\n" +
			`{resource.service.name="reports"}: 2=3` + "\n" + `{resource.service.name="worker"}: 1=5` + "\n"},
	{`{ status = error } | count_over_time() by (resource.service.name) | bottomk(1)`,
		`{resource.service.name="api"}: 1=0 2=0 3=0` + "\n" + `{resource.service.name="chain"}: 0=0` + "\n"},
	{`{ } | avg_over_time(span.ratios)`, ""},
	{`{ resource.service.name = "worker" } | count_over_time() by (name, span.task.index)`,
		`{name="batch" span.task.index=nil}: 0=0 1=1 2=0 3=0` + "\n" +
			`{name="orphan child" span.task.index=nil}: 0=0 1=0 2=1 3=0` + "\n" +
			`{name="orphan work" span.task.index=nil}: 0=0 1=0 2=1 3=0` + "\n" +
			`{name="subtask" span.task.index=nil}: 0=0 1=1 2=0 3=0` + "\n" +
			`{name="task A" span.task.index=0}: 0=0 1=1 2=0 3=0` + "\n" +
			`{name="task B" span.task.index=1}: 0=0 1=1 2=0 3=0` + "\n" +
			`{name="task C" span.task.index=2}: 0=0 1=1 2=0 3=0` + "\n"},
	{`{ resource.service.name = "frontend" } >> { } | sum_over_time(duration) by (resource.service.name)`,
		`{resource.service.name="api"}: 0=0.3` + "\n" + `{resource.service.name="db"}: 0=0.18 3=0.002` + "\n"},
}

func TestMetrics(t *testing.T) {
	traces := conformanceTraces()
	for _, c := range metricsCases {
		m := observeAll(t, c.query, traces, nil)
		if got := seriesString(m.Result()); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.query, got, c.want)
		}
	}
}

// seriesEqual compares results exactly (label values with Equal, sample
// values bit for bit).
func seriesEqual(a, b []Series) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i].Labels) != len(b[i].Labels) || len(a[i].Samples) != len(b[i].Samples) {
			return false
		}
		for j := range a[i].Labels {
			if a[i].Labels[j].Key != b[i].Labels[j].Key || !a[i].Labels[j].Value.Equal(b[i].Labels[j].Value) {
				return false
			}
		}
		for j := range a[i].Samples {
			x, y := a[i].Samples[j], b[i].Samples[j]
			if x.T != y.T || math.Float64bits(x.V) != math.Float64bits(y.V) {
				return false
			}
		}
	}
	return true
}

func TestMetricsMergeAndMarshal(t *testing.T) {
	traces := conformanceTraces()
	for _, c := range metricsCases {
		whole := observeAll(t, c.query, traces, nil)
		want := whole.Result()
		for _, split := range []func(int) bool{
			func(i int) bool { return i%2 == 0 },
			func(i int) bool { return i < 4 },
			func(int) bool { return false },
		} {
			a := observeAll(t, c.query, traces, split)
			b := observeAll(t, c.query, traces, func(i int) bool { return !split(i) })
			if err := a.Merge(b); err != nil {
				t.Fatalf("%s: Merge: %v", c.query, err)
			}
			if got := a.Result(); !seriesEqual(got, want) {
				t.Errorf("%s: merged partials\n got %s\nwant %s", c.query, seriesString(got), seriesString(want))
			}
		}
		data, err := whole.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var decoded Metrics
		if err := decoded.UnmarshalBinary(data); err != nil {
			t.Fatalf("%s: UnmarshalBinary: %v", c.query, err)
		}
		if got := decoded.Result(); !seriesEqual(got, want) {
			t.Errorf("%s: decoded\n got %s\nwant %s", c.query, seriesString(got), seriesString(want))
		}
		again, _ := decoded.MarshalBinary()
		if string(again) != string(data) {
			t.Errorf("%s: re-encoding differs", c.query)
		}
		// Decoding into a Metrics of the same query and range, then merging
		// the decoded halves, gives the whole.
		q, _ := Parse(c.query)
		target, _ := q.NewMetrics(mStart, mEnd, mStep)
		if err := target.UnmarshalBinary(data); err != nil {
			t.Fatalf("%s: UnmarshalBinary into NewMetrics: %v", c.query, err)
		}
		half := observeAll(t, c.query, traces, func(i int) bool { return i < 6 })
		rest := observeAll(t, c.query, traces, func(i int) bool { return i >= 6 })
		hb, _ := half.MarshalBinary()
		rb, _ := rest.MarshalBinary()
		var h, r Metrics
		if h.UnmarshalBinary(hb) != nil || r.UnmarshalBinary(rb) != nil || h.Merge(&r) != nil {
			t.Fatalf("%s: decoding halves failed", c.query)
		}
		if got := h.Result(); !seriesEqual(got, want) {
			t.Errorf("%s: merged decoded halves\n got %s\nwant %s", c.query, seriesString(got), seriesString(want))
		}
	}
}

func TestMetricsErrors(t *testing.T) {
	q, _ := Parse(`{ } | rate()`)
	other, _ := Parse(`{ } | count_over_time()`)
	plain, _ := Parse(`{ }`)
	if _, err := plain.NewMetrics(0, 10, 1); !errors.Is(err, ErrNotMetrics) {
		t.Errorf("NewMetrics of a search query: %v", err)
	}
	for _, r := range [][3]int64{{0, 10, 0}, {10, 10, 1}, {10, 0, 1}, {0, 1 << 40, 1}, {math.MinInt64, math.MaxInt64, 1}} {
		if _, err := q.NewMetrics(r[0], r[1], r[2]); !errors.Is(err, ErrRange) {
			t.Errorf("NewMetrics%v: %v", r, err)
		}
	}
	a, _ := q.NewMetrics(0, 100, 10)
	b, _ := q.NewMetrics(0, 100, 20)
	c, _ := other.NewMetrics(0, 100, 10)
	if a.Merge(b) != ErrIncompatible || a.Merge(c) != ErrIncompatible || a.Merge(nil) != nil {
		t.Error("Merge of incompatible partials")
	}
	data, _ := a.MarshalBinary()
	if err := b.UnmarshalBinary(data); !errors.Is(err, ErrIncompatible) {
		t.Errorf("UnmarshalBinary into another range: %v", err)
	}
	bad := append([]byte(nil), data...)
	bad[4] = 9
	var z Metrics
	if err := z.UnmarshalBinary(bad); !errors.Is(err, ErrVersion) {
		t.Errorf("unknown version: %v", err)
	}
	for _, d := range [][]byte{nil, []byte("TQLM"), data[:len(data)-1], append(append([]byte(nil), data...), 0)} {
		if err := z.UnmarshalBinary(d); !errors.Is(err, ErrCorrupt) {
			t.Errorf("UnmarshalBinary(%q) = %v", d, err)
		}
	}
	if _, err := z.MarshalBinary(); !errors.Is(err, ErrNotMetrics) {
		t.Errorf("MarshalBinary of a zero Metrics: %v", err)
	}
}

// TestMetricsWindow checks the edges of the range: a span at start counts,
// one at end does not, and the last step may be shorter.
func TestMetricsWindow(t *testing.T) {
	q, _ := Parse(`{ } | count_over_time()`)
	m, _ := q.NewMetrics(1000, 2500, 1000)
	m.Observe(&Trace{Spans: []Span{{ID: spanID(1, 1), Start: 999}, {ID: spanID(1, 2), Start: 1000}, {ID: spanID(1, 3), Start: 2499}, {ID: spanID(1, 4), Start: 2500}}})
	m.Observe(nil)
	got := m.Result()
	if len(got) != 1 || len(got[0].Samples) != 2 || got[0].Samples[0] != (Sample{T: 0, V: 1}) || got[0].Samples[1] != (Sample{T: 0, V: 1}) {
		t.Errorf("window edges: %+v", got)
	}
}
