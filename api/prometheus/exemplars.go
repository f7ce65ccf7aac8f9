package prometheus

import (
	"errors"
	"net/http"

	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql/parser"
)

// /api/v1/query_exemplars, as Prometheus' queryExemplars: the exemplars of
// the series that the selectors of a PromQL expression select.

func (a *API) queryExemplars(r *http.Request) result {
	start, err := parseTimeParam(r, "start", MinTime)
	if err != nil {
		return invalidParam(err, "start")
	}
	end, err := parseTimeParam(r, "end", MaxTime)
	if err != nil {
		return invalidParam(err, "end")
	}
	if end.Before(start) {
		return errResult(errorBadData, errors.New("end timestamp must not be before start timestamp"))
	}
	expr, err := a.parser.ParseExpr(r.FormValue("query"))
	if err != nil {
		return errResult(errorBadData, err)
	}
	selectors := parser.ExtractSelectors(expr)
	if len(selectors) < 1 {
		// No data and no error: Prometheus answers 204 No Content.
		return result{}
	}
	if a.exemplars == nil {
		return result{data: []exemplar.QueryResult{}}
	}
	eq, err := a.exemplars.ExemplarQuerier(r.Context())
	if err != nil {
		return result{err: storageError(err)}
	}
	res, err := eq.Select(timestamp.FromTime(start), timestamp.FromTime(end), selectors...)
	if err != nil {
		return result{err: storageError(err)}
	}
	return result{data: res}
}
