package main

import (
	"testing"
	"time"
)

func TestPlanTimes(t *testing.T) {
	start := time.Date(2026, 1, 2, 10, 0, 3, 250e6, time.UTC)
	now := start.Add(15*time.Minute + 4*time.Second)
	p := newPlan(start, now)
	if !p.first.Equal(time.Date(2026, 1, 2, 10, 3, 7, 0, time.UTC)) {
		t.Errorf("first %s, want 10:03:07 (3 minutes in, 7 s past a multiple of 15 s)", p.first)
	}
	if !p.end.Equal(time.Date(2026, 1, 2, 10, 14, 52, 0, time.UTC)) {
		t.Errorf("end %s, want 10:14:52 (10 s before the end, aligned down)", p.end)
	}
	if !p.onMinute.Equal(time.Date(2026, 1, 2, 10, 14, 0, 0, time.UTC)) {
		t.Errorf("on the minute %s, want 10:14:00", p.onMinute)
	}
	if len(p.instants) != 5 {
		t.Errorf("instants %v, want 4 aligned and one on the minute", p.instants)
	}
	for _, ts := range p.instants {
		if ts.Before(p.first) || ts.After(p.end) || ts.Nanosecond() != 0 {
			t.Errorf("instant %s outside [%s, %s] or not a whole second", ts, p.first, p.end)
		}
		if !ts.Equal(p.onMinute) && (ts.Unix()-7)%15 != 0 {
			t.Errorf("instant %s is not 7 s past a multiple of 15 s", ts)
		}
	}
	// Every range query step from first stays off the 30 s grid.
	for _, r := range p.ranges() {
		for ts := r.Start; !ts.After(r.End); ts = ts.Add(r.Step) {
			if ts.Unix()%30 == 0 {
				t.Fatalf("range step %s: %s is on the 30 s grid", r.Step, ts)
			}
		}
	}
	short := newPlan(start, start.Add(2*time.Minute))
	if short.first.Sub(start) < 40*time.Second || short.first.After(short.end) {
		t.Errorf("2m run: first %s, end %s", short.first, short.end)
	}
}
