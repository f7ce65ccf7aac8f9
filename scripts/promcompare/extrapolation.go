package main

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// rate() and increase() extrapolate the increase they see to the edges
// of the window. For a counter that starts inside the window (its first
// sample further from the window's start than 1.1 sample intervals),
// 2.42 extrapolates back to the counter's zero point whenever that lies
// within 1.1 intervals of the first sample; since 2.50 (#13725) the
// extrapolation is never longer than half an interval, nor past the
// zero point. extrapolationOnly recomputes both from the raw samples of
// the window.

// extrapolationOnly tells whether d, a point of rate or increase culprit
// n, is 2.42's extrapolation (Prometheus) and 3.x's (Starling) of the
// same samples; when not, why.
func (x *explainer) extrapolationOnly(n *parser.Call, d pointDiff) (bool, string) {
	ms, ok := n.Args[0].(*parser.MatrixSelector)
	if !ok || !d.inProm || !d.inStar {
		return false, d.String()
	}
	a := evaluation{instant: true, at: d.t.Time()}.run(x.c.prom, ms.String())
	if a.err != nil {
		return false, "samples of " + ms.String() + ": " + a.err.Error()
	}
	m, ok := a.val.(model.Matrix)
	if !ok {
		return false, "samples of " + ms.String() + ": " + a.val.Type().String()
	}
	var pts []model.SamplePair
	for _, s := range m {
		if withoutName(s.Metric).Equal(d.metric) {
			pts = s.Values
		}
	}
	vs := ms.VectorSelector.(*parser.VectorSelector)
	end := int64(d.t) - vs.OriginalOffset.Milliseconds() // the offset as written
	start := end - ms.Range.Milliseconds()
	isRate := n.Func.Name == "rate"
	if len(pts) < 2 {
		return false, fmt.Sprintf("%s: %d samples in the window", d.metric, len(pts))
	}
	v2 := extrapolated2(pts, start, end, ms.Range, isRate)
	v3 := extrapolated3(pts, start, end, ms.Range, isRate)
	if !nearlyEqual(d.prom, v2) || !nearlyEqual(d.starling, v3) {
		return false, fmt.Sprintf("%s: Prometheus %v, Starling %v; recomputed from the %d samples: 2.42 %v, 3.x %v",
			d, d.prom, d.starling, len(pts), v2, v3)
	}
	return true, ""
}

// nearlyEqual: equal up to a few units in the last place (the order of the
// final multiplications differs between releases).
func nearlyEqual(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 8*unitRoundoff*math.Max(math.Abs(a), math.Abs(b))
}

// increase is the counter increase over pts, counter resets included.
func increase(pts []model.SamplePair) float64 {
	r := float64(pts[len(pts)-1].Value - pts[0].Value)
	for i := 1; i < len(pts); i++ {
		if pts[i].Value < pts[i-1].Value {
			r += float64(pts[i-1].Value)
		}
	}
	return r
}

// rateWindow is what both releases' extrapolatedRate start from: the
// window's first sample, the counter's increase over the samples, the
// gaps from the window's start and to its end to the first and last
// sample, the time the samples span and their mean interval (seconds).
func rateWindow(pts []model.SamplePair, start, end int64) (first model.SamplePair, result, toStart, toEnd, sampled, avg float64) {
	first, last := pts[0], pts[len(pts)-1]
	result = increase(pts)
	toStart = float64(int64(first.Timestamp)-start) / 1000
	toEnd = float64(end-int64(last.Timestamp)) / 1000
	sampled = float64(last.Timestamp-first.Timestamp) / 1000
	avg = sampled / float64(len(pts)-1)
	return first, result, toStart, toEnd, sampled, avg
}

// extrapolated2 is Prometheus 2.42's extrapolatedRate for a counter.
func extrapolated2(pts []model.SamplePair, start, end int64, rng time.Duration, isRate bool) float64 {
	first, result, toStart, toEnd, sampled, avg := rateWindow(pts, start, end)
	if result > 0 && first.Value >= 0 {
		if toZero := sampled * (float64(first.Value) / result); toZero < toStart {
			toStart = toZero
		}
	}
	threshold := avg * 1.1
	interval := sampled
	if toStart < threshold {
		interval += toStart
	} else {
		interval += avg / 2
	}
	if toEnd < threshold {
		interval += toEnd
	} else {
		interval += avg / 2
	}
	factor := interval / sampled
	if isRate {
		factor /= rng.Seconds()
	}
	return result * factor
}

// extrapolated3 is the 3.x engine's extrapolatedRate for a counter
// without start timestamps.
func extrapolated3(pts []model.SamplePair, start, end int64, rng time.Duration, isRate bool) float64 {
	first, result, toStart, toEnd, sampled, avg := rateWindow(pts, start, end)
	threshold := avg * 1.1
	if toStart >= threshold {
		toStart = avg / 2
	}
	toZero := toStart
	if result > 0 && first.Value >= 0 {
		toZero = sampled * (float64(first.Value) / result)
	}
	if toZero < toStart {
		toStart = toZero
	}
	if toEnd >= threshold {
		toEnd = avg / 2
	}
	factor := (sampled + toStart + toEnd) / sampled
	if isRate {
		factor /= rng.Seconds()
	}
	return result * factor
}
