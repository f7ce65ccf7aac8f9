package main

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
)

// rawJobs are the scrape jobs whose raw samples are compared.
var rawJobs = []string{"node", "prometheus", "starling"}

// rawResult is the comparison of the raw samples both servers hold, and
// every target's scrape timestamps (the times of all its samples).
type rawResult struct {
	span    time.Duration
	jobs    []rawJob
	scrapes scrapeTimes
}

type rawJob struct {
	job string
	cmp comparison
}

// scrapeTimes are the sample timestamps (ms) of each target, as
// Prometheus holds them.
type scrapeTimes []target

type target struct {
	job, instance model.LabelValue
	times         map[int64]bool
}

// ok: every job's raw samples are the same in both.
func (r rawResult) ok() bool {
	for _, j := range r.jobs {
		if !j.cmp.same() || j.cmp.errs != "" {
			return false
		}
	}
	return true
}

// compareRaw compares every raw sample each job has in both servers, as
// an instant query of a range selector over the whole run at its end
// (the window reaching a minute before the first scrape, so that
// whether its lower edge is open does not matter), and reads the scrape
// timestamps of every target from Prometheus' up series.
func compareRaw(c *clients, p plan) (rawResult, error) {
	r := rawResult{span: p.end.Sub(p.start).Truncate(time.Second) + time.Minute}
	at := evaluation{instant: true, at: p.end}
	for _, job := range rawJobs {
		q := fmt.Sprintf(`{job=%q}[%ds]`, job, int(r.span.Seconds()))
		prom, star := c.both(at, q)
		r.jobs = append(r.jobs, rawJob{job: job, cmp: compareAnswers(prom, star)})
	}
	up := at.run(c.prom, fmt.Sprintf(`up[%ds]`, int(r.span.Seconds())))
	if up.err != nil {
		return r, fmt.Errorf("scrape timestamps: %w", up.err)
	}
	m, ok := up.val.(model.Matrix)
	if !ok {
		return r, fmt.Errorf("scrape timestamps: up[…] answered a %s", up.val.Type())
	}
	for _, ss := range m {
		t := target{job: ss.Metric["job"], instance: ss.Metric["instance"], times: map[int64]bool{}}
		for _, p := range ss.Values {
			t.times[int64(p.Timestamp)] = true
		}
		r.scrapes = append(r.scrapes, t)
	}
	if len(r.scrapes) == 0 {
		return r, fmt.Errorf("scrape timestamps: Prometheus has no up series")
	}
	return r, nil
}

// of returns the timestamps of the targets series m may come from: those
// whose job and instance it has, or does not have (an aggregation keeps
// only some labels, or none).
func (s scrapeTimes) of(m model.Metric) []map[int64]bool {
	var out []map[int64]bool
	for _, t := range s {
		if job, ok := m["job"]; ok && job != t.job {
			continue
		}
		if inst, ok := m["instance"]; ok && inst != t.instance {
			continue
		}
		out = append(out, t.times)
	}
	return out
}
