package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// plan is when the queries are evaluated: instant queries at a few times
// and range queries over the run at a few steps, all at whole seconds
// and all in the part of the run where both hold the data.
type plan struct {
	start      time.Time // the first scrapes
	first, end time.Time // earliest and latest evaluation time
	instants   []time.Time
	onMinute   time.Time // the instant on a whole minute (zero if none fits)
	steps      []time.Duration
}

// rangeSteps are the steps of the range queries.
var rangeSteps = []time.Duration{15 * time.Second, time.Minute, 5 * time.Minute}

// newPlan chooses the evaluation times of a run whose scrapes began at
// start and that ends now. It leaves out the first minutes (up to 3, a
// third of a short run: series still starting, windows reaching before
// the first scrape) and the last 10 s (scrapes whose samples may still be
// in flight); the end is the last whole second before that.
//
// Times are whole seconds 7 s past a multiple of 15 s (…:07, :22, :37,
// :52), so that no window edge (t - 1m, t - 2m, t - 5m …) falls on the
// 30 s grid of a subquery, nor on a whole minute. One more instant is
// on a whole minute on purpose: there the lower edge of a [5m:30s]
// subquery is a grid point, which Prometheus 2.x includes and 3.x, whose
// ranges are left-open, does not; a difference it causes shows up
// classified, not hidden.
func newPlan(start, now time.Time) plan {
	settle := min(3*time.Minute, now.Sub(start)/3)
	end := alignDown(now.Add(-10 * time.Second).Truncate(time.Second))
	first := alignUp(start.Add(settle))
	if first.After(end) {
		first = end
	}
	p := plan{start: start, first: first, end: end, steps: rangeSteps}
	const n = 4
	for i := range n {
		t := alignDown(first.Add(end.Sub(first) * time.Duration(i) / (n - 1)))
		if t.Before(first) {
			t = first
		}
		if !slices.ContainsFunc(p.instants, t.Equal) {
			p.instants = append(p.instants, t)
		}
	}
	if m := end.Truncate(time.Minute); !m.Before(first) {
		p.onMinute = m
		p.instants = append(p.instants, m)
		slices.SortFunc(p.instants, time.Time.Compare)
	}
	return p
}

// alignDown is the latest time ≤ t that is 7 s past a multiple of 15 s.
func alignDown(t time.Time) time.Time {
	t = t.Truncate(time.Second)
	off := time.Duration((t.Unix()-7)%15+15) % 15 * time.Second
	return t.Add(-off)
}

// alignUp is the earliest time ≥ t that is 7 s past a multiple of 15 s.
func alignUp(t time.Time) time.Time {
	d := alignDown(t)
	if d.Before(t) {
		d = d.Add(15 * time.Second)
	}
	return d
}

// ranges are the range query windows: first to end at each step.
func (p plan) ranges() []promv1.Range {
	var rs []promv1.Range
	for _, s := range p.steps {
		rs = append(rs, promv1.Range{Start: p.first, End: p.end, Step: s})
	}
	return rs
}

func (p plan) describe() string {
	var ts []string
	for _, t := range p.instants {
		s := t.Format(time.TimeOnly)
		if t.Equal(p.onMinute) {
			s += " (on the minute)"
		}
		ts = append(ts, s)
	}
	var steps []string
	for _, s := range p.steps {
		steps = append(steps, s.String())
	}
	return fmt.Sprintf("instant queries at %s; range queries %s–%s at steps %s",
		strings.Join(ts, ", "), p.first.Format(time.TimeOnly), p.end.Format(time.TimeOnly), strings.Join(steps, ", "))
}
