package prometheus

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/prometheus/prometheus/util/httputil"
)

// A range query that splits exactly (Deps.Parts) runs as Config.QueryParts
// queries of the engine at once, one per part, and answers their matrices
// together, sorted by labels as the engine sorts one. A request asking
// for statistics runs whole: they are the engine's figures of one query.

// rangeParts builds the parts of the request's range query, or returns
// nil when it runs whole.
func (a *API) rangeParts(ctx context.Context, r *http.Request, opts promql.QueryOpts, start, end time.Time, step time.Duration) ([]promql.Query, error) {
	if a.parts == nil || a.cfg.QueryParts < 2 || r.FormValue("stats") != "" {
		return nil, nil
	}
	q := r.FormValue("query")
	expr, err := a.parser.ParseExpr(q)
	if err != nil {
		return nil, nil // the engine reports it, as for a whole query
	}
	qa := a.parts.Parts(expr, a.cfg.QueryParts)
	if qa == nil {
		return nil, nil
	}
	qs := make([]promql.Query, 0, len(qa))
	for _, part := range qa {
		qry, err := a.engine.NewRangeQuery(ctx, part, opts, q, start, end, step)
		if err != nil {
			closeAll(qs)
			return nil, err
		}
		qs = append(qs, qry)
	}
	return qs, nil
}

func closeAll(qs []promql.Query) {
	for _, q := range qs {
		q.Close()
	}
}

// execParts runs the parts at once (the first on this goroutine) and
// answers their union. The first part to fail cancels the others; its
// error is the answer's.
func (a *API) execParts(ctx context.Context, r *http.Request, qs []promql.Query, limit int) result {
	finalizer := func() { closeAll(qs) }
	if err := a.checkSubquerySteps(qs[0]); err != nil {
		return result{err: storageError(err), finalizer: finalizer}
	}
	ctx, cancel := context.WithCancel(httputil.ContextFromRequest(ctx, r))
	defer cancel()
	res := make([]*promql.Result, len(qs))
	var wg sync.WaitGroup
	for i := 1; i < len(qs); i++ {
		wg.Go(func() {
			if res[i] = qs[i].Exec(ctx); res[i].Err != nil {
				cancel()
			}
		})
	}
	if res[0] = qs[0].Exec(ctx); res[0].Err != nil {
		cancel()
	}
	wg.Wait()
	return a.answer(r, mergeParts(res), limit, qs[0].Stats, finalizer)
}

// mergeParts joins the parts' matrices and warnings. Of their errors it
// keeps one that is not a cancellation caused by another part's.
func mergeParts(res []*promql.Result) *promql.Result {
	var (
		out promql.Result
		m   promql.Matrix
	)
	warnings := annotations.New()
	for _, p := range res {
		warnings.Merge(p.Warnings)
		if p.Err != nil && (out.Err == nil || isCancel(out.Err) && !isCancel(p.Err)) {
			out.Err = p.Err
		}
		if pm, ok := p.Value.(promql.Matrix); ok {
			m = append(m, pm...)
		}
	}
	sort.Sort(m)
	out.Value, out.Warnings = m, *warnings
	return &out
}

func isCancel(err error) bool {
	var c promql.ErrQueryCanceled
	return errors.Is(err, context.Canceled) || errors.As(err, &c)
}
