package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/prometheus/prometheus/prompb"
)

// instances is the number of instances (scrape targets); every metric name
// has at most this many series, and the query metric exactly this many.
const instances = 100

// queryMetric is the counter with one series per instance that the query
// figure sums: sum by (instance)(rate(queryMetric[5m])).
const queryMetric = "bench_requests_total"

// Kind is how a series' values evolve.
type Kind uint8

const (
	CounterInt     Kind = iota // integer increments, occasional resets
	CounterSeconds             // float seconds (a duration sum), full precision
	GaugeWalk                  // random walk with 2 decimals
	GaugeBytes                 // integer bytes, walking in pages
	GaugeNoisy                 // noisy floats around a mean, full precision
	Constant                   // one value for ever (info metrics, limits)
)

func (k Kind) String() string {
	return [...]string{"counter", "counter (float seconds)", "gauge (random walk, 2 decimals)", "gauge (integer bytes)", "gauge (noisy float)", "constant"}[k]
}

// Counter tells whether the kind is a monotonic counter.
func (k Kind) Counter() bool { return k == CounterInt || k == CounterSeconds }

// Integer tells whether every value of the kind is an integer.
func (k Kind) Integer() bool { return k == CounterInt || k == GaugeBytes || k == Constant }

// kindPattern assigns kinds to metric names, metric j getting
// kindPattern[j%20]: 12 counters (9 integer, 3 float seconds), 6 gauges (3
// walks, 2 bytes, 1 noisy) and 2 constants in every 20 names, interleaved so
// that a small data set has every kind too.
var kindPattern = [20]Kind{
	CounterInt, GaugeWalk, CounterSeconds, CounterInt, GaugeBytes,
	Constant, CounterInt, CounterSeconds, GaugeWalk, CounterInt,
	GaugeNoisy, CounterInt, CounterSeconds, GaugeBytes, CounterInt,
	GaugeWalk, CounterInt, Constant, CounterInt, CounterInt,
}

var (
	jobs     = [...]string{"api", "checkout", "postgres", "redis", "worker"}
	methods  = [...]string{"GET", "POST"}
	statuses = [...]string{"200", "500"}
	modes    = [...]string{"user", "system"}
	families = [...]string{"http", "rpc", "db", "cache", "queue", "disk", "net", "gc", "process", "pool"}
)

// Config is the data set's shape; the same Config always gives the same
// samples.
type Config struct {
	Series   int
	Duration time.Duration
	Interval time.Duration
	Jitter   time.Duration // each timestamp moves by up to ± this (0: exact spacing)
	Seed     uint64
	End      time.Time // the last sample's time
}

// Series is one time series of the data set.
type Series struct {
	Labels   []prompb.Label // sorted by name; __name__ first
	Name     string
	Metric   int // metric name index
	Kind     Kind
	Job      string
	Instance string
	Attrs    []prompb.Label // the labels other than __name__, job and instance
}

// Dataset is the series of a Config and their timestamps.
type Dataset struct {
	Config
	Series  []Series
	Steps   int   // samples per series
	StartMs int64 // the first step's time, in ms
	Metrics int   // metric names
	kinds   [6]int
}

// NewDataset lays out the series of c: metric names of 100 series each
// (the last one may have fewer), metric 0 being queryMetric with one series
// per instance.
func NewDataset(c Config) (*Dataset, error) {
	if c.Series < instances {
		return nil, fmt.Errorf("-series %d: at least %d (the query metric has one series per instance)", c.Series, instances)
	}
	if c.Interval <= 0 || c.Duration < c.Interval {
		return nil, fmt.Errorf("-interval %s, -duration %s: need 0 < interval <= duration", c.Interval, c.Duration)
	}
	if 2*c.Jitter >= c.Interval {
		return nil, fmt.Errorf("-jitter %s: must be below half the interval", c.Jitter)
	}
	d := &Dataset{Config: c, Steps: int(c.Duration / c.Interval)}
	d.StartMs = c.End.UnixMilli() - int64(d.Steps-1)*c.Interval.Milliseconds()
	d.Metrics = (c.Series + instances - 1) / instances
	for m := 0; m < d.Metrics; m++ {
		kind := kindPattern[m%len(kindPattern)]
		n := min(instances, c.Series-m*instances)
		// fan: series per instance. Metric 0 has one per instance; some
		// others split an instance's series by method and status (4) or
		// by mode (2), over fewer instances (one job's, say).
		fan := 1
		if m > 0 {
			switch m % 5 {
			case 1:
				fan = 4
			case 3:
				fan = 2
			}
		}
		name := metricName(m, kind)
		first := (m * 25) % instances // where this metric's instances begin
		for k := 0; k < n; k++ {
			inst := (first + k/fan) % instances
			s := Series{Name: name, Metric: m, Kind: kind, Job: jobs[inst*len(jobs)/instances], Instance: instanceName(inst)}
			switch fan {
			case 4:
				s.Attrs = []prompb.Label{{Name: "method", Value: methods[k%4/2]}, {Name: "status", Value: statuses[k%2]}}
			case 2:
				s.Attrs = []prompb.Label{{Name: "mode", Value: modes[k%2]}}
			}
			s.Labels = append([]prompb.Label{{Name: "__name__", Value: name}, {Name: "instance", Value: s.Instance}, {Name: "job", Value: s.Job}}, s.Attrs...)
			sort.Slice(s.Labels, func(i, j int) bool { return s.Labels[i].Name < s.Labels[j].Name })
			d.Series = append(d.Series, s)
			d.kinds[kind]++
		}
	}
	return d, nil
}

func metricName(m int, k Kind) string {
	if m == 0 {
		return queryMetric
	}
	f := families[m%len(families)]
	switch k {
	case CounterInt:
		return fmt.Sprintf("bench_%s_%03d_total", f, m)
	case CounterSeconds:
		return fmt.Sprintf("bench_%s_%03d_seconds_total", f, m)
	case GaugeWalk:
		return fmt.Sprintf("bench_%s_%03d_ratio", f, m)
	case GaugeBytes:
		return fmt.Sprintf("bench_%s_%03d_bytes", f, m)
	case GaugeNoisy:
		return fmt.Sprintf("bench_%s_%03d_load", f, m)
	default:
		return fmt.Sprintf("bench_%s_%03d_info", f, m)
	}
}

func instanceName(i int) string { return fmt.Sprintf("10.0.%d.%d:9100", i/20, 10+i%20) }

// Samples is the number of samples of the data set.
func (d *Dataset) Samples() int { return len(d.Series) * d.Steps }

// Describe is a one-line description of the data set.
func (d *Dataset) Describe() string {
	jit := ""
	if d.Jitter > 0 {
		jit = fmt.Sprintf(" ± %s jitter", d.Jitter)
	}
	return fmt.Sprintf("%d series (%d metric names × ≤ %d) × %s at %s%s = %d samples/series, %.1fM samples; seed %d",
		len(d.Series), d.Metrics, instances, d.Duration, d.Interval, jit, d.Steps, float64(d.Samples())/1e6, d.Seed)
}

// Mix says how many series of each kind there are.
func (d *Dataset) Mix() string {
	n := float64(len(d.Series))
	var c, g float64
	for k, v := range d.kinds {
		if Kind(k).Counter() {
			c += float64(v)
		} else if Kind(k) != Constant {
			g += float64(v)
		}
	}
	return fmt.Sprintf("%.0f%% counters (%.0f%% float seconds), %.0f%% gauges, %.0f%% constants",
		100*c/n, 100*float64(d.kinds[CounterSeconds])/n, 100*g/n, 100*float64(d.kinds[Constant])/n)
}

// seriesState is where a series' value stands.
type seriesState struct {
	v       float64
	rate    float64 // counters: mean increment per step; gauges: step size
	lo, hi  float64 // walk bounds; noisy: mean (lo) and sd (hi)
	startMs int64   // counters: the time of the last reset (OTLP start time)
}

// Gen produces the data set's samples step by step, every series at one
// step before the next step: time-major, the order remote write sends.
// Two Gens of the same Dataset produce the same samples.
type Gen struct {
	d     *Dataset
	rng   *rand.Rand
	state []seriesState
	step  int
}

// resetChance is a counter's chance per step of restarting from 0.
const resetChance = 1.0 / 4000

// NewGen starts the samples at the first step.
func (d *Dataset) NewGen() *Gen {
	g := &Gen{d: d, rng: rand.New(rand.NewPCG(d.Seed, 0x5eed)), state: make([]seriesState, len(d.Series))}
	pr := rand.New(rand.NewPCG(d.Seed, 0xa11ce)) // parameters
	step := d.Interval.Seconds()
	for i, s := range d.Series {
		st := &g.state[i]
		switch s.Kind {
		case CounterInt, CounterSeconds:
			perSec := math.Exp(math.Log(0.01) + pr.Float64()*(math.Log(500)-math.Log(0.01))) // 0.01 … 500 per second
			if s.Kind == CounterSeconds {
				perSec /= 20 // seconds spent per second, summed over requests
			}
			st.rate = perSec * step
			uptime := pr.Float64() * 30 * 86400 // up to 30 days since the last restart
			st.v = perSec * uptime
			if s.Kind == CounterInt {
				st.v = math.Round(st.v)
			}
			st.startMs = d.StartMs - int64(uptime*1000)
		case GaugeWalk:
			st.lo, st.hi = 0, 100
			st.v = math.Round(pr.Float64()*10000) / 100
			st.rate = 0.05 + pr.Float64()*2
		case GaugeBytes:
			st.v = float64(int64(1+pr.Float64()*8191) << 20) // 1 MiB … 8 GiB
			st.rate = math.Max(1, st.v/4096/500)             // pages per step
		case GaugeNoisy:
			st.lo = pr.Float64() * 10
			st.hi = 0.05 + pr.Float64()*st.lo/4
			st.v = st.lo
		case Constant:
			st.v = [...]float64{1, 1, 1048576, 8, 0, 65536, 3600, 1}[pr.IntN(8)]
		}
	}
	return g
}

// Step is the index of the next step Next fills.
func (g *Gen) Step() int { return g.step }

// Next fills ts and vs (one entry per series) with the samples of the next
// step. It returns false after the last step.
func (g *Gen) Next(ts []int64, vs []float64) bool {
	if g.step >= g.d.Steps {
		return false
	}
	base := g.d.StartMs + int64(g.step)*g.d.Interval.Milliseconds()
	jit := g.d.Jitter.Milliseconds()
	r := g.rng
	for i := range g.d.Series {
		st := &g.state[i]
		t := base
		if jit > 0 {
			t += r.Int64N(2*jit+1) - jit
		}
		switch g.d.Series[i].Kind {
		case CounterInt:
			if r.Float64() < resetChance {
				st.v, st.startMs = 0, t-1
			}
			st.v += poisson(r, st.rate*(0.6+0.8*r.Float64()))
		case CounterSeconds:
			if r.Float64() < resetChance {
				st.v, st.startMs = 0, t-1
			}
			st.v += st.rate * (0.2 + 1.6*r.Float64())
		case GaugeWalk:
			v := st.v + r.NormFloat64()*st.rate
			if v < st.lo || v > st.hi {
				v = st.v - (v - st.v) // reflect at the bounds
			}
			st.v = math.Round(v*100) / 100
		case GaugeBytes:
			pages := math.Round(r.NormFloat64() * st.rate)
			if r.Float64() < 0.01 {
				pages = -math.Round(st.v / 4096 * 0.2 * r.Float64()) // a GC or a cache drop
			}
			st.v = math.Max(4096, st.v+pages*4096)
		case GaugeNoisy:
			st.v = math.Abs(st.lo + r.NormFloat64()*st.hi)
		}
		ts[i], vs[i] = t, st.v
	}
	g.step++
	return true
}

// StartMs is a counter's start time (its last reset), for OTLP; 0 for
// other kinds.
func (g *Gen) StartMs(series int) int64 { return g.state[series].startMs }

// poisson draws a Poisson count of the given mean (a normal approximation
// above 30).
func poisson(r *rand.Rand, mean float64) float64 {
	if mean > 30 {
		return math.Max(0, math.Round(mean+r.NormFloat64()*math.Sqrt(mean)))
	}
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
