package promql

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	ppromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
	"github.com/starling-otel/starling/storage/tsdb/chunk"
)

func TestPlanShards(t *testing.T) {
	tests := []struct {
		query string
		ok    bool
	}{
		{`sum by (instance) (rate(req_total[5m]))`, true},
		{`(sum by (job, instance) (req_total))`, true},
		{`avg without (code) (rate(req_total[5m]) * 2)`, true},
		{`topk by (job) (2, lat_seconds)`, true},
		{`quantile by (job) (0.9, -lat_seconds)`, true},
		{`count by (job) (lat_seconds > bool 0.5)`, true},
		{`max by (job) (max_over_time(lat_seconds[10m:1m]))`, true},
		{`sum by (job) (clamp_max(lat_seconds, 2 * pi()))`, true},
		{`sum by (job) (hour(lat_seconds))`, true},
		{`sum(rate(req_total[5m]))`, false},                                    // one group
		{`sum by (__name__) (rate(req_total[5m]))`, false},                     // rate drops the name
		{`sum by (job) (req_total / lat_seconds)`, false},                      // vector matching
		{`sum by (job) (req_total > scalar(lat_seconds))`, false},              // a series-dependent scalar
		{`topk by (job) (scalar(lat_seconds), req_total)`, false},              // ditto as the parameter
		{`sum by (job) (label_replace(req_total, "job", "x", "", ""))`, false}, // labels change
		{`sum by (job) (histogram_quantile(0.9, lat_bucket))`, false},          // across series
		{`sum by (job) (hour())`, false},                                       // vector(time())
		{`sum by (job) (vector(1))`, false},
		{`sum by (job) (sum by (job, instance) (req_total))`, false}, // nested aggregation
		{`count_values by (job) ("v", req_total)`, false},
		{`rate(req_total[5m])`, false},
		{`sum by (job) (req_total) + 1`, false},
	}
	p := parser.NewParser(parser.Options{EnableExperimentalFunctions: true})
	for _, tc := range tests {
		expr, err := p.ParseExpr(tc.query)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if _, ok := PlanShards(expr); ok != tc.ok {
			t.Errorf("%s: splits %v, want %v", tc.query, ok, tc.ok)
		}
	}
}

// memReader answers selects from series held in memory, as encoded
// chunks, like the partitions do.
type memReader struct {
	series []storage.SelectedSeries // sorted by labels
	mu     sync.Mutex
	calls  int
}

func (m *memReader) SelectSeries(_ context.Context, sel *starlingpb.SeriesSelect, _ int) ([]storage.SelectedSeries, error) {
	m.mu.Lock()
	m.calls++
	m.mu.Unlock()
	ms, err := storage.Matchers(sel.GetMatchers())
	if err != nil {
		return nil, err
	}
	var out []storage.SelectedSeries
	for _, s := range m.series {
		ok := true
		for _, mt := range ms {
			v := ""
			for _, l := range s.Labels {
				if l.Name == mt.Name {
					v = l.Value
				}
			}
			ok = ok && mt.Matches(v)
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func (m *memReader) LabelValues(context.Context, *starlingpb.LabelQuery) ([]string, error) {
	return nil, nil
}

func (m *memReader) Exemplars(context.Context, *starlingpb.ExemplarQuery) ([]storage.SeriesExemplars, error) {
	return nil, nil
}

// shardTestData is counters (with resets) and gauges (with NaN and
// infinities) over an hour at 15 s, and a second counter name with the
// same labels as the first.
func shardTestData(start time.Time) *memReader {
	rng := rand.New(rand.NewPCG(7, 8))
	r := &memReader{}
	for _, name := range []string{"req_total", "req2_total", "lat_seconds"} {
		for i := range 40 {
			ls := []tsdb.Label{
				{Name: tsdb.MetricNameLabel, Value: name},
				{Name: "code", Value: strconv.Itoa(200 + i%3)},
				{Name: "instance", Value: "host-" + strconv.Itoa(i%9)},
				{Name: "job", Value: "job-" + strconv.Itoa(i%4)},
			}
			var ts []int64
			var vs []float64
			v := 0.0
			for j := range 240 {
				ts = append(ts, start.UnixMilli()+int64(j)*15_000)
				switch {
				case name == "lat_seconds" && j%97 == 5:
					v = math.NaN()
				case name == "lat_seconds" && j%131 == 7:
					v = math.Inf(1 - 2*(i%2))
				case name == "lat_seconds":
					v = rng.Float64() * 3
				case rng.IntN(100) == 0:
					v = 0 // a counter reset
				default:
					v += rng.Float64() * 10
				}
				vs = append(vs, v)
			}
			var chunks [][]byte
			for k := 0; k < len(ts); k += chunk.MaxSamples {
				e := min(k+chunk.MaxSamples, len(ts))
				chunks = append(chunks, chunk.AppendFloats(nil, ts[k:e], vs[k:e]))
			}
			r.series = append(r.series, storage.SelectedSeries{Hash: tsdb.SeriesHash(ls), Labels: ls, Chunks: chunks})
		}
	}
	sort.Slice(r.series, func(i, j int) bool { return tsdb.CompareLabels(r.series[i].Labels, r.series[j].Labels) < 0 })
	return r
}

// TestPartsAnswerAsWhole: a query run in parts, merged as the API merges
// them, answers exactly (bit for bit, errors included) what the engine
// answers whole, and the parts read each selector once.
func TestPartsAnswerAsWhole(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	r := shardTestData(start)
	q, err := NewQueryable(r, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	engine := ppromql.NewEngine(ppromql.EngineOpts{MaxSamples: 1e7, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, EnableAtModifier: true})
	p := parser.NewParser(parser.Options{})
	queries := []string{
		`sum by (instance) (rate(req_total[5m]))`,
		`avg without (code) (rate(req_total[5m]) * 2)`,
		`max by (job) (lat_seconds)`,
		`min by (job, code) (lat_seconds)`,
		`topk by (job) (2, lat_seconds)`,
		`bottomk by (instance) (1, increase(req_total[2m]))`,
		`quantile by (job) (0.9, lat_seconds * 2)`,
		`count by (instance) (lat_seconds > 0.5)`,
		`group by (job) (req_total)`,
		`stddev by (job) (irate(req_total[2m]))`,
		`stdvar without (instance, code) (deriv(lat_seconds[10m]))`,
		`sum by (job) (max_over_time(lat_seconds[10m:1m]))`,
		`sum by (instance) ({__name__=~"req_total|lat_seconds"})`,
		`sum by (instance) (rate({__name__=~"req_total|req2_total"}[5m]))`, // duplicate series: an error
		`sum by (job) (rate(req_total[5m] offset 10m))`,
	}
	ctx := context.Background()
	for _, qs := range queries {
		for _, step := range []time.Duration{15 * time.Second, time.Minute} {
			t.Run(fmt.Sprintf("%s step %s", qs, step), func(t *testing.T) {
				from, to := start.Add(10*time.Minute), start.Add(time.Hour)
				wq, err := engine.NewRangeQuery(ctx, q, nil, qs, from, to, step)
				if err != nil {
					t.Fatal(err)
				}
				defer wq.Close()
				whole := wq.Exec(ctx)

				expr, err := p.ParseExpr(qs)
				if err != nil {
					t.Fatal(err)
				}
				before := r.calls
				parts := q.Parts(expr, 3)
				if len(parts) != 3 {
					t.Fatalf("%d parts", len(parts))
				}
				var m ppromql.Matrix
				var partErr error
				nonEmpty := 0
				for _, part := range parts {
					pq, err := engine.NewRangeQuery(ctx, part, nil, qs, from, to, step)
					if err != nil {
						t.Fatal(err)
					}
					defer pq.Close()
					res := pq.Exec(ctx)
					if res.Err != nil {
						partErr = res.Err
						continue
					}
					pm := res.Value.(ppromql.Matrix)
					if len(pm) > 0 {
						nonEmpty++
					}
					m = append(m, pm...)
				}
				if whole.Err != nil || partErr != nil {
					if whole.Err == nil || partErr == nil || whole.Err.Error() != partErr.Error() {
						t.Fatalf("whole: %v; parts: %v", whole.Err, partErr)
					}
					return
				}
				if got := r.calls - before; got != countSelectors(expr) {
					t.Errorf("the parts read %d selects, the query has %d selectors", got, countSelectors(expr))
				}
				if nonEmpty < 2 {
					t.Errorf("only %d parts had series: the split is not tested", nonEmpty)
				}
				sort.Sort(m)
				if diff := diffMatrix(whole.Value.(ppromql.Matrix), m); diff != "" {
					t.Fatal(diff)
				}
			})
		}
	}
}

// diffMatrix describes the first difference of two matrices, bit for bit.
func diffMatrix(want, got ppromql.Matrix) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d series, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Metric.String() != g.Metric.String() {
			return fmt.Sprintf("series %d: %s, want %s", i, g.Metric, w.Metric)
		}
		if len(w.Floats) != len(g.Floats) {
			return fmt.Sprintf("%s: %d points, want %d", w.Metric, len(g.Floats), len(w.Floats))
		}
		for j := range w.Floats {
			if w.Floats[j].T != g.Floats[j].T || math.Float64bits(w.Floats[j].F) != math.Float64bits(g.Floats[j].F) {
				return fmt.Sprintf("%s point %d: %v, want %v", w.Metric, j, g.Floats[j], w.Floats[j])
			}
		}
	}
	return ""
}

var _ promstorage.Queryable = partQueryable{}

// TestAssignBalances: groups go whole to one part each, and the parts'
// loads differ by at most the largest group's weight.
func TestAssignBalances(t *testing.T) {
	r := shardTestData(time.Unix(1_700_000_000, 0))
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(`sum by (instance) (rate(req_total[5m]))`)
	if err != nil {
		t.Fatal(err)
	}
	plan, ok := PlanShards(expr)
	if !ok {
		t.Fatal("does not split")
	}
	for _, n := range []int{2, 3, 4} {
		s := &sharedSelects{plan: plan, n: n}
		parts := s.assign(r.series)
		load := make([]int, n)
		partOf := map[string]int{}
		maxGroup := map[string]int{}
		for i, f := range r.series {
			w := 1
			for _, c := range f.Chunks {
				w += len(c)
			}
			load[parts[i]] += w
			key := ""
			for _, l := range f.Labels {
				if l.Name == "instance" {
					key = l.Value
				}
			}
			maxGroup[key] += w
			if p, seen := partOf[key]; seen && p != parts[i] {
				t.Fatalf("n=%d: group %s in parts %d and %d", n, key, p, parts[i])
			}
			partOf[key] = parts[i]
		}
		biggest := 0
		for _, w := range maxGroup {
			biggest = max(biggest, w)
		}
		if slices.Max(load)-slices.Min(load) > biggest {
			t.Errorf("n=%d: loads %v, largest group %d", n, load, biggest)
		}
	}
}
