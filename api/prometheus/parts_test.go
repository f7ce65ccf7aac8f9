package prometheus

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// instanceParts splits queries aggregating by instance into two parts:
// the series of instance "a", and the others. failPart (if ≥ 0) makes that
// part's selects fail.
type instanceParts struct {
	q        storage.Queryable
	failPart int
}

func (p instanceParts) Parts(expr parser.Expr, n int) []storage.Queryable {
	agg, ok := expr.(*parser.AggregateExpr)
	if !ok || agg.Without || len(agg.Grouping) != 1 || agg.Grouping[0] != "instance" || n != 2 {
		return nil
	}
	return []storage.Queryable{instancePart{p, 0}, instancePart{p, 1}}
}

type instancePart struct {
	p    instanceParts
	part int
}

func (ip instancePart) Querier(mint, maxt int64) (storage.Querier, error) {
	q, err := ip.p.q.Querier(mint, maxt)
	return instanceQuerier{Querier: q, ip: ip}, err
}

type instanceQuerier struct {
	storage.Querier
	ip instancePart
}

func (q instanceQuerier) Select(ctx context.Context, sorted bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	if q.ip.part == q.ip.p.failPart {
		return storage.ErrSeriesSet(errors.New("part " + strconv.Itoa(q.ip.part) + " failed"))
	}
	op := labels.MatchEqual
	if q.ip.part == 1 {
		op = labels.MatchNotEqual
	}
	return q.Querier.Select(ctx, sorted, hints, append(ms, labels.MustNewMatcher(op, "instance", "a"))...)
}

// TestRangeQueryInParts: a range query split into parts answers the same
// bytes as whole (series of both parts, sorted, infos merged); queries that
// do not split, and requests for statistics, run whole; a failing part
// fails the answer.
func TestRangeQueryInParts(t *testing.T) {
	whole := newFixture(t, func(c *Config, _ *Deps) { c.QueryParts = 1 })
	var splits int
	parted := newFixture(t, func(c *Config, d *Deps) {
		c.QueryParts = 2
		d.Parts = countingParts{instanceParts{q: d.Queryable, failPart: -1}, &splits}
	})
	failing := newFixture(t, func(c *Config, d *Deps) {
		c.QueryParts = 2
		d.Parts = instanceParts{q: d.Queryable, failPart: 1}
	})
	rng := func(q string) url.Values {
		return url.Values{"query": {q}, "start": {strconv.FormatInt(t0.Unix(), 10)}, "end": {strconv.FormatInt(tEnd.Unix(), 10)}, "step": {"30"}}
	}
	for _, tc := range []struct {
		query  string
		splits int
	}{
		{`sum by (instance) (rate(http_requests_total[1m]))`, 1},
		{`max by (instance) (rate(up[1m]))`, 1}, // an info: up is not a counter
		{`sum by (job) (rate(http_requests_total[1m]))`, 0},
	} {
		splits = 0
		_, want, _ := whole.call(t, http.MethodGet, "/api/v1/query_range", rng(tc.query))
		code, got, _ := parted.call(t, http.MethodGet, "/api/v1/query_range", rng(tc.query))
		if code != http.StatusOK || got != want {
			t.Errorf("%s: %d %s\nwhole: %s", tc.query, code, got, want)
		}
		if splits != tc.splits {
			t.Errorf("%s: split %d times, want %d", tc.query, splits, tc.splits)
		}
	}

	splits = 0
	params := rng(`sum by (instance) (rate(http_requests_total[1m]))`)
	params.Set("stats", "all")
	if code, _, env := parted.call(t, http.MethodGet, "/api/v1/query_range", params); code != http.StatusOK || env.Status != "success" || splits != 0 {
		t.Errorf("stats=all: %d %+v, split %d times", code, env, splits)
	}

	code, _, env := failing.call(t, http.MethodGet, "/api/v1/query_range", rng(`sum by (instance) (rate(http_requests_total[1m]))`))
	if code != http.StatusUnprocessableEntity || env.ErrorType != "execution" || env.Error != "expanding series: part 1 failed" {
		t.Errorf("failing part: %d %+v", code, env)
	}
}

type countingParts struct {
	QueryParts
	n *int
}

func (c countingParts) Parts(expr parser.Expr, n int) []storage.Queryable {
	qs := c.QueryParts.Parts(expr, n)
	if qs != nil {
		*c.n++
	}
	return qs
}
