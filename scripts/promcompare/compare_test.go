package main

import (
	"math"
	"testing"

	"github.com/prometheus/common/model"
)

func TestCompareAnswers(t *testing.T) {
	m := func(v string) model.Metric { return model.Metric{"instance": model.LabelValue(v)} }
	vec := func(vals ...float64) answer {
		var v model.Vector
		for i, f := range vals {
			v = append(v, &model.Sample{Metric: m(string(rune('a' + i))), Value: model.SampleValue(f), Timestamp: 1000})
		}
		return answer{val: v}
	}
	nan := math.NaN()
	if c := compareAnswers(vec(1, nan, 3), vec(1, nan, 3)); !c.same() || c.points != 3 {
		t.Errorf("NaN is NaN: %+v", c)
	}
	c := compareAnswers(vec(1, 2, 3), vec(1, 2+1e-15, 3))
	if c.same() || !c.within() || c.beyond() != 0 || len(c.diffs) != 1 {
		t.Errorf("a last-bit difference: %+v", c)
	}
	c = compareAnswers(vec(1, 2, 3), vec(1, 2.1, 3))
	if c.within() || c.beyond() != 1 {
		t.Errorf("a real difference: %+v", c)
	}
	c = compareAnswers(vec(1, 2, 3), vec(1, 2))
	if c.same() || c.within() || len(c.diffs) != 1 || c.diffs[0].inStar {
		t.Errorf("a series missing in Starling: %+v", c)
	}
	c = compareAnswers(vec(1, nan), vec(1, 0))
	if c.within() || c.beyond() != 1 {
		t.Errorf("NaN against a number: %+v", c)
	}
}
