package traceql

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// Metrics queries. A Metrics accumulates the partial result of a metrics
// query over the traces one node sees: per series and per step it keeps
// counts, integer and float sums, minimums, maximums and power-of-two
// histogram buckets, never finished values, so partials of different
// partitions merge exactly (Merge) and cross nodes as bytes
// (MarshalBinary). Result finishes them into series.

// maxSteps bounds the number of steps of a Metrics.
const maxSteps = 1 << 16

// Series is one time series of a metrics result.
type Series struct {
	// Labels are the by() fields, named as written (resource.service.name),
	// and for quantile_over_time the quantile p, for histogram_over_time
	// the bucket's upper bound __bucket.
	Labels  []Attr
	Samples []Sample
}

// Sample is one point of a series: the step's start in milliseconds and
// the value.
type Sample struct {
	T int64
	V float64
}

// Metrics is a partial result of a metrics query. It is not safe for
// concurrent use.
type Metrics struct {
	q                *Query
	start, end, step int64
	n                int
	durField         bool // the argument is a duration: values in ns, results in seconds
	series           map[string]*accum
	keybuf           []byte
}

// accum accumulates one series.
type accum struct {
	labels []Attr
	count  []uint64  // spans or values per step
	isum   []int64   // sum and avg: integer (and duration) values
	fsum   []float64 // sum and avg: float values, in result units
	min    []float64 // min: valid where count > 0
	max    []float64 // max: valid where count > 0
	hist   map[histKey]uint64
}

// histKey is a step and a power-of-two bucket: the bucket b holds the
// values in (2^(b-1), 2^b]; zeroBucket holds the values <= 0.
type histKey struct {
	step   int32
	bucket int16
}

const zeroBucket = math.MinInt16

// NewMetrics returns an empty partial of a metrics query over [start, end)
// in steps of step (all unix nanoseconds). The last step may reach past
// end; spans starting at or after end are not counted.
func (q *Query) NewMetrics(start, end, step int64) (*Metrics, error) {
	if q.metrics == nil {
		return nil, ErrNotMetrics
	}
	n, ok := stepCount(start, end, step)
	if !ok {
		return nil, ErrRange
	}
	return &Metrics{
		q: q, start: start, end: end, step: step, n: n,
		durField: q.metrics.field != nil && typeOf(q.metrics.field) == sDuration,
		series:   map[string]*accum{},
	}, nil
}

// stepCount returns the number of steps of a range.
func stepCount(start, end, step int64) (int, bool) {
	if step <= 0 || end <= start {
		return 0, false
	}
	span := uint64(end) - uint64(start)
	n := span / uint64(step)
	if span%uint64(step) != 0 {
		n++
	}
	if n > maxSteps {
		return 0, false
	}
	return int(n), true
}

// Observe evaluates the query's pipeline on one trace and accumulates its
// matched spans: each once, in the step of its start time.
func (m *Metrics) Observe(t *Trace) {
	if t == nil || len(t.Spans) == 0 || len(t.Spans) > math.MaxInt32 {
		return
	}
	c := newCtx(t)
	spans := c.flatten(m.q.evalSets(c))
	fn := m.q.metrics.fn
	for _, i := range spans {
		s := &t.Spans[i]
		if s.Start < m.start || s.Start >= m.end {
			continue
		}
		step := int((uint64(s.Start) - uint64(m.start)) / uint64(m.step))
		var o obs
		if fn.takesField() {
			var ok bool
			if o, ok = m.observation(m.q.metricsOf(c, i)); !ok {
				continue
			}
		}
		m.accumFor(c, i).add(fn, step, o)
	}
}

// obs is one observed value: an integer (ints, and durations of a
// duration argument, in ns) or a float in result units.
type obs struct {
	isInt bool
	i     int64
	f     float64 // the value as a float in raw units, for min, max and buckets
}

// observation converts a value; strings, bools, nil, NaN and arrays are
// not observed.
func (m *Metrics) observation(v Value) (obs, bool) {
	switch v.t {
	case TypeInt:
		return obs{isInt: true, i: int64(v.n), f: float64(int64(v.n))}, true
	case TypeDuration:
		if m.durField {
			return obs{isInt: true, i: int64(v.n), f: float64(int64(v.n))}, true
		}
		return obs{f: float64(int64(v.n)) / 1e9}, true
	case TypeFloat:
		f := v.Float()
		if math.IsNaN(f) {
			return obs{}, false
		}
		return obs{f: f}, true
	}
	return obs{}, false
}

// divisor converts raw units to result units by division (correctly
// rounded, so 1e8 ns is exactly 0.1 s).
func (m *Metrics) divisor() float64 {
	if m.durField {
		return 1e9
	}
	return 1
}

// accumFor returns the series of a span's by() values.
func (m *Metrics) accumFor(c *evalCtx, i int32) *accum {
	m.keybuf = m.keybuf[:0]
	var vals [8]Value
	vs := vals[:0]
	for _, f := range m.q.metricsBy {
		v := f(c, i)
		vs = append(vs, v)
		m.keybuf = appendValue(m.keybuf, v)
	}
	if a, ok := m.series[string(m.keybuf)]; ok {
		return a
	}
	labels := make([]Attr, len(vs))
	for j, v := range vs {
		labels[j] = Attr{Key: m.q.byNames[j], Value: cloneValue(v)}
	}
	a := m.newAccum(labels)
	m.series[string(m.keybuf)] = a
	return a
}

// newAccum allocates what the function accumulates.
func (m *Metrics) newAccum(labels []Attr) *accum {
	a := &accum{labels: labels, count: make([]uint64, m.n)}
	switch m.q.metrics.fn {
	case metricsSum, metricsAvg:
		a.isum, a.fsum = make([]int64, m.n), make([]float64, m.n)
	case metricsMin:
		a.min = make([]float64, m.n)
	case metricsMax:
		a.max = make([]float64, m.n)
	case metricsQuantile, metricsHistogram:
		a.hist = map[histKey]uint64{}
	}
	return a
}

// cloneValue copies the strings and arrays of a value, which may point
// into a trace's buffers.
func cloneValue(v Value) Value {
	switch v.t {
	case TypeString:
		return StringValue(strings.Clone(v.Str()))
	case TypeStringArray:
		a := slices.Clone(v.Strings())
		for i := range a {
			a[i] = strings.Clone(a[i])
		}
		return StringArrayValue(a)
	case TypeIntArray:
		return IntArrayValue(slices.Clone(v.Ints()))
	case TypeFloatArray:
		return FloatArrayValue(slices.Clone(v.Floats()))
	case TypeBoolArray:
		return BoolArrayValue(slices.Clone(v.Bools()))
	}
	return v
}

// add accumulates one observation at a step.
func (a *accum) add(fn metricsFunc, step int, o obs) {
	first := a.count[step] == 0
	a.count[step]++
	switch fn {
	case metricsSum, metricsAvg:
		if o.isInt {
			a.addInt(step, o.i)
		} else {
			a.fsum[step] += o.f
		}
	case metricsMin:
		if first || o.f < a.min[step] {
			a.min[step] = o.f
		}
	case metricsMax:
		if first || o.f > a.max[step] {
			a.max[step] = o.f
		}
	case metricsQuantile, metricsHistogram:
		a.hist[histKey{step: int32(step), bucket: bucketOf(o.f)}]++
	}
}

// addInt adds to an integer sum; a value that would overflow it goes to
// the float sum instead.
func (a *accum) addInt(step int, v int64) {
	s := a.isum[step] + v
	if (v > 0 && s < a.isum[step]) || (v < 0 && s > a.isum[step]) {
		a.fsum[step] += float64(v)
		return
	}
	a.isum[step] = s
}

// bucketOf returns the power-of-two bucket of a value.
func bucketOf(f float64) int16 {
	if !(f > 0) {
		return zeroBucket
	}
	if math.IsInf(f, 1) {
		return 1025
	}
	frac, exp := math.Frexp(f)
	if frac == 0.5 {
		exp--
	}
	return int16(exp)
}

// bucketUpper returns the upper bound of a bucket in raw units.
func bucketUpper(b int16) float64 {
	if b == zeroBucket {
		return 0
	}
	return math.Ldexp(1, int(b))
}

// Merge adds another partial of the same query and range into m. The
// result is the same as observing both partials' traces into one (sums of
// floats up to rounding).
func (m *Metrics) Merge(o *Metrics) error {
	if o == nil {
		return nil
	}
	if m.q == nil || o.q == nil || m.q.text != o.q.text || m.start != o.start || m.end != o.end || m.step != o.step {
		return ErrIncompatible
	}
	for key, b := range o.series {
		a, ok := m.series[key]
		if !ok {
			a = m.newAccum(b.labels)
			m.series[key] = a
		}
		a.merge(b)
	}
	return nil
}

// merge adds another accumulation of the same series.
func (a *accum) merge(b *accum) {
	for i, n := range b.count {
		if n == 0 {
			continue
		}
		if a.min != nil && (a.count[i] == 0 || b.min[i] < a.min[i]) {
			a.min[i] = b.min[i]
		}
		if a.max != nil && (a.count[i] == 0 || b.max[i] > a.max[i]) {
			a.max[i] = b.max[i]
		}
		if a.isum != nil {
			a.addInt(i, b.isum[i])
			a.fsum[i] += b.fsum[i]
		}
		a.count[i] += n
	}
	for k, n := range b.hist {
		a.hist[k] += n
	}
}

// Result finishes the partial into series, sorted by labels. rate() and
// count_over_time() give every step (zero where nothing matched),
// histogram_over_time() every step of every bucket that has values; the
// other functions give the steps that had at least one value. Durations
// are in seconds.
func (m *Metrics) Result() []Series {
	fn := m.q.metrics.fn
	div := m.divisor()
	stepSec := float64(m.step) / 1e9
	var out []Series
	keys := make([]string, 0, len(m.series))
	for k := range m.series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		a := m.series[key]
		switch fn {
		case metricsQuantile:
			for _, q := range m.q.metrics.quantiles {
				s := Series{Labels: withLabel(a.labels, "p", FloatValue(q))}
				for i, n := range a.count {
					if n > 0 {
						s.Samples = append(s.Samples, Sample{T: m.sampleTime(i), V: a.quantile(i, q) / div})
					}
				}
				out = append(out, s)
			}
			continue
		case metricsHistogram:
			var buckets []int16
			for k := range a.hist {
				if !slices.Contains(buckets, k.bucket) {
					buckets = append(buckets, k.bucket)
				}
			}
			slices.Sort(buckets)
			for _, b := range buckets {
				s := Series{Labels: withLabel(a.labels, "__bucket", FloatValue(bucketUpper(b)/div))}
				for i := range a.count {
					s.Samples = append(s.Samples, Sample{T: m.sampleTime(i), V: float64(a.hist[histKey{step: int32(i), bucket: b}])})
				}
				out = append(out, s)
			}
			continue
		}
		s := Series{Labels: a.labels}
		for i, n := range a.count {
			var v float64
			switch fn {
			case metricsRate:
				v = float64(n) / stepSec
			case metricsCount:
				v = float64(n)
			default:
				if n == 0 {
					continue
				}
				switch fn {
				case metricsSum:
					v = a.sum(i) / div
				case metricsAvg:
					v = a.sum(i) / float64(n) / div
				case metricsMin:
					v = a.min[i] / div
				case metricsMax:
					v = a.max[i] / div
				}
			}
			s.Samples = append(s.Samples, Sample{T: m.sampleTime(i), V: v})
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(x, y Series) int { return compareLabels(x.Labels, y.Labels) })
	if t := m.q.metrics.topk; t > 0 {
		out = topK(out, t, m.q.metrics.bottom)
	}
	return out
}

// sum returns the sum of a step in raw units. For a duration argument
// every value is an integer number of ns and the float sum only holds what
// overflowed the integer sum.
func (a *accum) sum(i int) float64 { return float64(a.isum[i]) + a.fsum[i] }

// quantile estimates a quantile of a step from its buckets: it finds the
// bucket holding the rank and interpolates linearly inside it, so the
// estimate lies in the power-of-two bucket of the true quantile.
func (a *accum) quantile(step int, q float64) float64 {
	type bc struct {
		b int16
		n uint64
	}
	var bs []bc
	var total uint64
	for k, n := range a.hist {
		if int(k.step) == step {
			bs = append(bs, bc{k.bucket, n})
			total += n
		}
	}
	if total == 0 {
		return math.NaN()
	}
	slices.SortFunc(bs, func(x, y bc) int { return cmp.Compare(x.b, y.b) })
	rank := q * float64(total)
	var cum float64
	for _, x := range bs {
		next := cum + float64(x.n)
		if next >= rank {
			if x.b == zeroBucket {
				return 0
			}
			hi := bucketUpper(x.b)
			lo := hi / 2
			return lo + (hi-lo)*(rank-cum)/float64(x.n)
		}
		cum = next
	}
	return bucketUpper(bs[len(bs)-1].b)
}

// sampleTime returns the time of step i in milliseconds.
func (m *Metrics) sampleTime(i int) int64 { return (m.start + int64(i)*m.step) / 1e6 }

// withLabel returns labels plus one more.
func withLabel(labels []Attr, key string, v Value) []Attr {
	out := make([]Attr, len(labels), len(labels)+1)
	copy(out, labels)
	return append(out, Attr{Key: key, Value: v})
}

// compareLabels orders label sets: by key, then by value (numbers
// numerically, other values by type and text).
func compareLabels(a, b []Attr) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := cmp.Compare(a[i].Key, b[i].Key); c != 0 {
			return c
		}
		x, y := a[i].Value, b[i].Value
		if x.isNumber() && y.isNumber() {
			if c := cmp.Compare(x.Float(), y.Float()); c != 0 {
				return c
			}
			continue
		}
		if c := cmp.Compare(x.t, y.t); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Text(), y.Text()); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// topK keeps, at every timestamp, the k largest (bottom: smallest)
// samples, as Prometheus' topk does; series left without samples go.
func topK(series []Series, k int, bottom bool) []Series {
	type ref struct {
		t    int64
		v    float64
		s, j int
	}
	var all []ref
	for s := range series {
		for j, x := range series[s].Samples {
			if !math.IsNaN(x.V) {
				all = append(all, ref{x.T, x.V, s, j})
			}
		}
	}
	slices.SortStableFunc(all, func(a, b ref) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		if bottom {
			return cmp.Compare(a.v, b.v)
		}
		return cmp.Compare(b.v, a.v)
	})
	keep := make([][]bool, len(series))
	for s := range series {
		keep[s] = make([]bool, len(series[s].Samples))
	}
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].t == all[i].t {
			if j-i < k {
				keep[all[j].s][all[j].j] = true
			}
			j++
		}
		i = j
	}
	var out []Series
	for s, ser := range series {
		var samples []Sample
		for j, x := range ser.Samples {
			if keep[s][j] {
				samples = append(samples, x)
			}
		}
		if len(samples) > 0 {
			out = append(out, Series{Labels: ser.Labels, Samples: samples})
		}
	}
	return out
}
