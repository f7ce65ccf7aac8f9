package main

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

func TestEdges(t *testing.T) {
	x := &explainer{interval: 5 * time.Second, lookback: 5 * time.Minute}
	p := parser.NewParser(parser.Options{})
	edgesOf := func(q string, at int64) edges {
		t.Helper()
		e, err := p.ParseExpr(q)
		if err != nil {
			t.Fatal(err)
		}
		var ed edges
		x.edges(e, at, &ed)
		return ed
	}
	const at = 1_800_000_067_000 // 7 s past a whole minute
	if ed := edgesOf(`rate(x[1m] offset 2m)`, at); len(ed.samples) != 1 || ed.samples[0] != at-180_000 || ed.subqueryStep {
		t.Errorf("rate offset: %+v", ed)
	}
	if ed := edgesOf(`max_over_time(rate(x[1m])[5m:30s])`, at); ed.subqueryStep || len(ed.samples) != 10 {
		t.Errorf("subquery off the grid: %+v (want 10 inner windows, no edge on a step)", ed)
	}
	if ed := edgesOf(`max_over_time(rate(x[1m])[5m:30s])`, at-7000); !ed.subqueryStep || len(ed.samples) != 11 {
		t.Errorf("subquery on the minute: %+v (want 11 inner windows as 2.x evaluates them, the edge on a step)", ed)
	}
}

func TestExtrapolation(t *testing.T) {
	// A counter scraped every 5 s from the start of a 1m window: both
	// releases agree.
	var full []model.SamplePair
	for i := range 12 {
		full = append(full, model.SamplePair{Timestamp: model.Time(1000 + i*5000), Value: model.SampleValue(1000 + 10*i)})
	}
	v2 := extrapolated2(full, 0, 60_000, time.Minute, true)
	v3 := extrapolated3(full, 0, 60_000, time.Minute, true)
	if !nearlyEqual(v2, v3) {
		t.Errorf("a full window: 2.42 %v, 3.x %v", v2, v3)
	}
	// A counter that starts 40 s into the window, its zero point 3 s
	// before its first sample: 2.42 extrapolates the 3 s (within 1.1
	// intervals), 3.x half an interval, 2.5 s.
	start := []model.SamplePair{{Timestamp: 40_000, Value: 6}, {Timestamp: 45_000, Value: 16}, {Timestamp: 50_000, Value: 26}, {Timestamp: 55_000, Value: 36}}
	v2 = extrapolated2(start, 0, 60_000, time.Minute, false)
	v3 = extrapolated3(start, 0, 60_000, time.Minute, false)
	if want2, want3 := 30*(15+3+5)/15.0, 30*(15+2.5+5)/15.0; !nearlyEqual(v2, want2) || !nearlyEqual(v3, want3) {
		t.Errorf("a counter starting in the window: 2.42 %v (want %v), 3.x %v (want %v)", v2, want2, v3, want3)
	}
}

func TestTiedAt(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	vec := func(vals map[string]float64) model.Vector {
		var out model.Vector
		for cpu, v := range vals {
			out = append(out, &model.Sample{Metric: model.Metric{"cpu": model.LabelValue(cpu), "job": "node"}, Value: model.SampleValue(v)})
		}
		return out
	}
	in := vec(map[string]float64{"0": 5, "1": 3, "2": 3, "3": 1})
	for _, c := range []struct {
		q    string
		cpu  string
		v    float64
		want bool
	}{
		{`topk(2, x)`, "1", 3, true},     // 5, then one of the two 3s
		{`topk(2, x)`, "0", 5, false},    // the top one is no tie
		{`topk(3, x)`, "2", 3, false},    // both 3s fit
		{`bottomk(1, x)`, "3", 1, false}, // alone at the bottom
		{`bottomk(2, x)`, "2", 3, true},
		{`topk(2, x)`, "1", 4, false}, // not the input's value
	} {
		e, err := p.ParseExpr(c.q)
		if err != nil {
			t.Fatal(err)
		}
		agg := e.(*parser.AggregateExpr)
		d := pointDiff{metric: model.Metric{"cpu": model.LabelValue(c.cpu), "job": "node"}, starling: c.v, inStar: true}
		if got, why := tiedAt(agg, int(agg.Param.(*parser.NumberLiteral).Val), in, d, c.v); got != c.want {
			t.Errorf("%s, cpu %s = %v: tied %v (%s), want %v", c.q, c.cpu, c.v, got, why, c.want)
		}
	}
}
