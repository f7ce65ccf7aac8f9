package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// relTolerance is the relative difference below which two values count
// as "within 1e-9" (still reported, not identical).
const relTolerance = 1e-9

// queryTimeout bounds one query.
const queryTimeout = 2 * time.Minute

// clients are the Prometheus API clients of both servers.
type clients struct {
	prom, starling promv1.API
}

func newClients(st *stack) (*clients, error) {
	p, err := promapi.NewClient(promapi.Config{Address: st.promURL()})
	if err != nil {
		return nil, err
	}
	s, err := promapi.NewClient(promapi.Config{Address: st.starlingURL() + "/prometheus"})
	if err != nil {
		return nil, err
	}
	return &clients{prom: promv1.NewAPI(p), starling: promv1.NewAPI(s)}, nil
}

// evaluation is one way to evaluate a query: instant at a time, or over
// a range at a step.
type evaluation struct {
	instant bool
	at      time.Time
	rng     promv1.Range
}

func (e evaluation) String() string {
	if e.instant {
		return "instant @" + e.at.Format(time.TimeOnly)
	}
	return fmt.Sprintf("range %s–%s step %s", e.rng.Start.Format(time.TimeOnly), e.rng.End.Format(time.TimeOnly), e.rng.Step)
}

// answer is one server's answer to a query.
type answer struct {
	val model.Value
	err error
}

func (e evaluation) run(api promv1.API, q string) answer {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	var a answer
	if e.instant {
		a.val, _, _, a.err = api.Query(ctx, q, e.at)
	} else {
		a.val, _, _, a.err = api.QueryRange(ctx, q, e.rng)
	}
	return a
}

// both evaluates q on Prometheus and on Starling at once.
func (c *clients) both(e evaluation, q string) (prom, starling answer) {
	done := make(chan struct{})
	go func() {
		prom = e.run(c.prom, q)
		close(done)
	}()
	starling = e.run(c.starling, q)
	<-done
	return prom, starling
}

// pointDiff is a point of one series where the answers differ: a value
// in both that is not the same, or a value in one only.
type pointDiff struct {
	metric         model.Metric
	t              model.Time
	prom, starling float64
	inProm, inStar bool
}

// within tells whether both have the point and its values are within
// relTolerance of each other.
func (d pointDiff) within() bool {
	if !d.inProm || !d.inStar {
		return false
	}
	a, b := d.prom, d.starling
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	return math.Abs(a-b) <= relTolerance*math.Max(math.Abs(a), math.Abs(b))
}

func (d pointDiff) String() string {
	v := func(ok bool, f float64) string {
		if !ok {
			return "no sample"
		}
		return model.SampleValue(f).String()
	}
	return fmt.Sprintf("%s @%s: Prometheus %s, Starling %s", d.metric, d.t.Time().Format("15:04:05.000"),
		v(d.inProm, d.prom), v(d.inStar, d.starling))
}

// comparison is how two answers to one evaluation compare.
type comparison struct {
	series, points int         // in the union of both answers
	diffs          []pointDiff // sorted by time, then series
	errs           string      // one or both failed: what they said ("" if neither)
	errsAlike      bool        // both failed
}

// same: both answered, with the same series and bit for bit the same
// values (NaN equal to NaN), or both failed.
func (c comparison) same() bool { return len(c.diffs) == 0 && (c.errs == "" || c.errsAlike) }

// within: not the same, but the same series, and every value within
// relTolerance.
func (c comparison) within() bool {
	if c.same() || c.errs != "" {
		return false
	}
	for _, d := range c.diffs {
		if !d.within() {
			return false
		}
	}
	return true
}

// beyond counts the differing points that are not within relTolerance.
func (c comparison) beyond() int {
	n := 0
	for _, d := range c.diffs {
		if !d.within() {
			n++
		}
	}
	return n
}

// first describes the first difference.
func (c comparison) first() string {
	switch {
	case c.errs != "":
		return c.errs
	case len(c.diffs) > 0:
		return c.diffs[0].String()
	}
	return "same"
}

type series struct {
	metric model.Metric
	points map[model.Time]float64
}

// flatten turns an answer into its series by labels (a scalar is one
// series without labels).
func flatten(v model.Value) (map[string]*series, error) {
	out := map[string]*series{}
	add := func(m model.Metric, t model.Time, f float64) error {
		k := m.String()
		s := out[k]
		if s == nil {
			s = &series{metric: m, points: map[model.Time]float64{}}
			out[k] = s
		}
		if _, dup := s.points[t]; dup {
			return fmt.Errorf("series %s twice at %s", k, t)
		}
		s.points[t] = f
		return nil
	}
	switch v := v.(type) {
	case model.Vector:
		for _, smp := range v {
			if smp.Histogram != nil {
				return nil, fmt.Errorf("native histogram in %s", smp.Metric)
			}
			if err := add(smp.Metric, smp.Timestamp, float64(smp.Value)); err != nil {
				return nil, err
			}
		}
	case model.Matrix:
		for _, ss := range v {
			if len(ss.Histograms) > 0 {
				return nil, fmt.Errorf("native histograms in %s", ss.Metric)
			}
			for _, p := range ss.Values {
				if err := add(ss.Metric, p.Timestamp, float64(p.Value)); err != nil {
					return nil, err
				}
			}
			if len(ss.Values) == 0 { // a series without points still counts
				out[ss.Metric.String()] = &series{metric: ss.Metric, points: map[model.Time]float64{}}
			}
		}
	case *model.Scalar:
		if err := add(model.Metric{}, v.Timestamp, float64(v.Value)); err != nil {
			return nil, err
		}
	case nil:
	default:
		return nil, fmt.Errorf("%s result", v.Type())
	}
	return out, nil
}

// compareAnswers compares two answers point by point: the same series
// (by labels), the same timestamps, the same values bit for bit, NaN
// equal to NaN.
func compareAnswers(prom, star answer) comparison {
	var c comparison
	if prom.err != nil || star.err != nil {
		c.errsAlike = prom.err != nil && star.err != nil
		c.errs = fmt.Sprintf("Prometheus: %v; Starling: %v", errText(prom.err), errText(star.err))
		return c
	}
	if prom.val.Type() != star.val.Type() {
		c.errs = fmt.Sprintf("Prometheus answers a %s, Starling a %s", prom.val.Type(), star.val.Type())
		return c
	}
	ps, err1 := flatten(prom.val)
	ss, err2 := flatten(star.val)
	if err1 != nil || err2 != nil {
		c.errs = fmt.Sprintf("cannot compare: Prometheus %v, Starling %v", errText(err1), errText(err2))
		return c
	}
	keys := map[string]bool{}
	for k := range ps {
		keys[k] = true
	}
	for k := range ss {
		keys[k] = true
	}
	c.series = len(keys)
	for k := range keys {
		p, s := ps[k], ss[k]
		metric := model.Metric{}
		var pp, sp map[model.Time]float64
		if p != nil {
			metric, pp = p.metric, p.points
		}
		if s != nil {
			metric, sp = s.metric, s.points
		}
		if p == nil || s == nil {
			if len(pp)+len(sp) == 0 { // an empty series in one answer only
				c.diffs = append(c.diffs, pointDiff{metric: metric, inProm: p != nil, inStar: s != nil})
			}
		}
		ts := map[model.Time]bool{}
		for t := range pp {
			ts[t] = true
		}
		for t := range sp {
			ts[t] = true
		}
		c.points += len(ts)
		for t := range ts {
			a, inP := pp[t]
			b, inS := sp[t]
			if inP && inS && (a == b || math.IsNaN(a) && math.IsNaN(b)) {
				continue
			}
			c.diffs = append(c.diffs, pointDiff{metric: metric, t: t, prom: a, starling: b, inProm: inP, inStar: inS})
		}
	}
	slices.SortFunc(c.diffs, func(a, b pointDiff) int {
		return cmp.Or(cmp.Compare(a.t, b.t), strings.Compare(a.metric.String(), b.metric.String()))
	})
	return c
}

func errText(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// queryResult is the outcome of one query: each evaluation compared and,
// when they differ, explained.
type queryResult struct {
	query string
	evals []evalResult
}

type evalResult struct {
	eval    evaluation
	cmp     comparison
	explain explanation // for those not the same
}

// evaluations are every evaluation of the plan.
func (p plan) evaluations() []evaluation {
	var es []evaluation
	for _, t := range p.instants {
		es = append(es, evaluation{instant: true, at: t})
	}
	for _, r := range p.ranges() {
		es = append(es, evaluation{rng: r})
	}
	return es
}

// compareAll runs every query of every kind on both servers.
func compareAll(c *clients, x *explainer, p plan) []queryResult {
	var out []queryResult
	for i, q := range queries {
		r := queryResult{query: q}
		for _, e := range p.evaluations() {
			prom, star := c.both(e, q)
			er := evalResult{eval: e, cmp: compareAnswers(prom, star)}
			if !er.cmp.same() {
				er.explain = x.explain(q, e, er.cmp)
			}
			r.evals = append(r.evals, er)
		}
		printQuery(i, r)
		out = append(out, r)
	}
	return out
}
