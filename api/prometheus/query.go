package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/httputil"
	"github.com/prometheus/prometheus/util/stats"

	spromql "github.com/starling-otel/starling/query/promql"
)

// /api/v1/query and /api/v1/query_range, as Prometheus' query and
// queryRange without the experimental query-cost feature (whose
// parameters are ignored, as in a Prometheus without the feature flag).

// queryData is the data of a query answer.
type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     parser.Value     `json:"result"`
	Stats      stats.QueryStats `json:"stats,omitempty"`
}

// The values of the stats parameter Prometheus documents: "true" adds the
// basic statistics, "all" the per-step ones too. Other non-empty values
// act like "true" with a deprecation warning.
const (
	statsTrue = "true"
	statsAll  = "all"
)

func (a *API) query(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"), 0)
	if err != nil {
		return invalidParam(err, "limit")
	}
	ts, err := parseTimeParam(r, "time", a.now())
	if err != nil {
		return invalidParam(err, "time")
	}
	ctx, cancel, apiErr := a.queryContext(r)
	if apiErr != nil {
		return result{err: apiErr}
	}
	defer cancel()
	opts, err := extractQueryOpts(r)
	if err != nil {
		return errResult(errorBadData, err)
	}
	qry, err := a.engine.NewInstantQuery(ctx, a.queryable, opts, r.FormValue("query"), ts)
	if err != nil {
		return result{err: queryConstructionError(err)}
	}
	return a.exec(ctx, r, qry, limit)
}

func (a *API) queryRange(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"), 0)
	if err != nil {
		return invalidParam(err, "limit")
	}
	start, err := parseTime(r.FormValue("start"))
	if err != nil {
		return invalidParam(err, "start")
	}
	end, err := parseTime(r.FormValue("end"))
	if err != nil {
		return invalidParam(err, "end")
	}
	if end.Before(start) {
		return invalidParam(errors.New("end timestamp must not be before start time"), "end")
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return invalidParam(err, "step")
	}
	if step <= 0 {
		return invalidParam(errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"), "step")
	}
	// For safety, limit the number of returned points per series.
	if maxPoints := a.cfg.MaxPointsPerSeries; end.Sub(start)/step > time.Duration(maxPoints) {
		return errResult(errorBadData, fmt.Errorf("exceeded maximum resolution of %s points per timeseries. Try decreasing the query resolution (?step=XX)", humanize.Comma(int64(maxPoints))))
	}
	ctx, cancel, apiErr := a.queryContext(r)
	if apiErr != nil {
		return result{err: apiErr}
	}
	defer cancel()
	opts, err := extractQueryOpts(r)
	if err != nil {
		return errResult(errorBadData, err)
	}
	if qs, err := a.rangeParts(ctx, r, opts, start, end, step); err != nil {
		return result{err: queryConstructionError(err)}
	} else if qs != nil {
		return a.execParts(ctx, r, qs, limit)
	}
	qry, err := a.engine.NewRangeQuery(ctx, a.queryable, opts, r.FormValue("query"), start, end, step)
	if err != nil {
		return result{err: queryConstructionError(err)}
	}
	return a.exec(ctx, r, qry, limit)
}

// exec runs a built query, unless its subqueries are too big to run (see
// guard.go). The query is closed by the finalizer once the response is
// written, the engine's memory being still in the result.
func (a *API) exec(ctx context.Context, r *http.Request, qry promql.Query, limit int) result {
	if err := a.checkSubquerySteps(qry); err != nil {
		return result{err: storageError(err), finalizer: qry.Close}
	}
	return a.answer(r, qry.Exec(httputil.ContextFromRequest(ctx, r)), limit, qry.Stats, qry.Close)
}

// answer is the response of an executed query: its value cut to limit
// series, with its warnings and the statistics the stats parameter asks
// for; finalizer runs once the response is written.
func (a *API) answer(r *http.Request, res *promql.Result, limit int, st func() *stats.Statistics, finalizer func()) result {
	if res.Err != nil {
		return result{err: storageError(res.Err), warnings: res.Warnings, finalizer: finalizer}
	}
	warnings := res.Warnings
	if limit > 0 && truncate(res, limit) {
		warnings = warnings.Add(errTruncated)
	}
	param := r.FormValue("stats")
	if warn := statsParamWarning(param); warn != nil {
		warnings = warnings.Add(warn)
	}
	var qs stats.QueryStats
	if param != "" {
		qs = stats.NewQueryStats(st())
	}
	return result{
		data:      &queryData{ResultType: res.Value.Type(), Result: res.Value, Stats: qs},
		warnings:  warnings,
		finalizer: finalizer,
	}
}

// queryContext applies the timeout parameter and Config.QueryTimeout,
// whichever is shorter (Prometheus rejects a timeout that is not
// positive), and hands the storage the query's lookback delta and its
// max_source_resolution (Thanos' parameter: auto, 0s for raw samples,
// 5m, 1h).
func (a *API) queryContext(r *http.Request) (context.Context, context.CancelFunc, *apiError) {
	timeout := a.cfg.QueryTimeout
	if v := r.FormValue("timeout"); v != "" {
		t, err := parseDuration(v)
		if err != nil {
			return nil, nil, &apiError{errorBadData, fmt.Errorf("invalid parameter %q: %w", "timeout", err)}
		}
		if t <= 0 {
			return nil, nil, &apiError{errorBadData, fmt.Errorf("invalid parameter %q: timeout must be positive, got %s", "timeout", t)}
		}
		timeout = min(timeout, t)
	}
	maxRes, err := spromql.ParseMaxResolution(r.FormValue("max_source_resolution"))
	if err != nil {
		return nil, nil, &apiError{errorBadData, fmt.Errorf("invalid parameter %q: %w", "max_source_resolution", err)}
	}
	ctx := spromql.WithMaxResolution(r.Context(), maxRes)
	if s := r.FormValue("lookback_delta"); s != "" {
		if d, err := parseDuration(s); err == nil {
			ctx = spromql.WithLookback(ctx, d)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, cancel, nil
}

// extractQueryOpts reads lookback_delta, stats=all and the
// X-Prometheus-Use-Start-Timestamps header.
func extractQueryOpts(r *http.Request) (promql.QueryOpts, error) {
	var lookback time.Duration
	if s := r.FormValue("lookback_delta"); s != "" {
		d, err := parseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("error parsing lookback delta duration: %w", err)
		}
		lookback = d
	}
	var useStartTimestamps *bool
	if v := r.Header.Get("X-Prometheus-Use-Start-Timestamps"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("error parsing X-Prometheus-Use-Start-Timestamps header: %w", err)
		}
		useStartTimestamps = &b
	}
	return promql.NewPrometheusQueryOpts(r.FormValue("stats") == statsAll, lookback, useStartTimestamps), nil
}

// queryConstructionError maps an error of NewInstantQuery or NewRangeQuery:
// running out of time or being cancelled (waiting for a query slot) keeps
// its type, anything else (a parse error) is a bad query parameter.
func queryConstructionError(err error) *apiError {
	var (
		ceiling promql.ErrLimitAboveCeiling
		timeout promql.ErrQueryTimeout
		cancel  promql.ErrQueryCanceled
	)
	switch {
	case errors.As(err, &ceiling):
		return &apiError{errorBadData, err}
	case errors.As(err, &timeout), errors.As(err, &cancel):
		return storageError(err)
	}
	return &apiError{errorBadData, fmt.Errorf("invalid parameter %q: %w", "query", err)}
}

// statsParamWarning is the deprecation warning of an unknown stats value.
func statsParamWarning(s string) error {
	switch s {
	case "", statsTrue, statsAll:
		return nil
	}
	return fmt.Errorf("value %q for parameter \"stats\" is deprecated and will be rejected in the next major release, use %q or %q", s, statsTrue, statsAll)
}

// truncate cuts a vector or matrix to limit series and reports whether it
// did; scalars and strings are left alone.
func truncate(res *promql.Result, limit int) bool {
	switch v := res.Value.(type) {
	case promql.Matrix:
		if len(v) > limit {
			res.Value = v[:limit]
			return true
		}
	case promql.Vector:
		if len(v) > limit {
			res.Value = v[:limit]
			return true
		}
	}
	return false
}
