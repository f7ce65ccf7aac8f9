package prometheus

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

func TestSubquerySteps(t *testing.T) {
	f := newFixture(t, nil)
	for _, c := range []struct {
		q    string
		span time.Duration // 0: an instant query.
		want int64
	}{
		{`x`, time.Hour, 0},
		{`max_over_time(x[1h:1m])`, 0, 61},
		{`max_over_time(x[1h:1m])`, time.Hour, 121},
		{`max_over_time(x[1h:])`, 0, 61}, // Config.SubqueryStep.
		{`max_over_time(max_over_time(x[10m:1m])[1h:10s])`, 0, 361},
		{`max_over_time(max_over_time(x[10m:1s])[1h:10s])`, 0, 4201},
		{`max_over_time(x[1h:1m] @ 1700000000)`, 24 * time.Hour, 61},
		{`max_over_time(x[1h:1m] @ start())`, 24 * time.Hour, 61},
		{`max_over_time(x[1y:1ms])`, 0, 365*24*3600*1000 + 1},
	} {
		end := t0.Add(c.span)
		var stmt *parser.EvalStmt
		if c.span == 0 {
			qry, err := f.engine.NewInstantQuery(context.Background(), f.db, nil, c.q, t0)
			if err != nil {
				t.Fatal(err)
			}
			stmt = qry.Statement().(*parser.EvalStmt)
		} else {
			qry, err := f.engine.NewRangeQuery(context.Background(), f.db, nil, c.q, t0, end, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			stmt = qry.Statement().(*parser.EvalStmt)
		}
		if got := subquerySteps(stmt, f.api.cfg.SubqueryStep); got != c.want {
			t.Errorf("%s over %s: %d steps, want %d", c.q, c.span, got, c.want)
		}
	}
}

// A subquery whose step tracking would need more memory than MaxSamples
// samples is refused before the engine allocates it.
func TestSubqueryGuard(t *testing.T) {
	f := newFixture(t, nil)
	for _, q := range []string{`max_over_time(up[1y:1ms])`, `up[1d:1ms]`} {
		code, _, env := f.call(t, http.MethodGet, "/api/v1/query", url.Values{"query": {q}})
		if code != http.StatusUnprocessableEntity || env.ErrorType != "execution" || env.Error != "query processing would load too many samples into memory in query execution" {
			t.Errorf("%s: %d %s %q", q, code, env.ErrorType, env.Error)
		}
	}
	got, _, _, err := f.client.Query(ctxT(t), `max_over_time(rate(http_requests_total[1m])[5m:30s])`, tEnd)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.direct(t, `max_over_time(rate(http_requests_total[1m])[5m:30s])`, tEnd, tEnd, 0); sortVector(got).String() != want.String() {
		t.Errorf("got %s, want %s", got, want)
	}
}
