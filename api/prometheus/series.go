package prometheus

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// /api/v1/series, /api/v1/labels and /api/v1/label/{name}/values, as
// Prometheus' series, labelNames and labelValues. They differ from each
// other in small ways (which errors are wrapped in "invalid parameter",
// which are "execution"), and those differences are kept.

// checkContextEvery is how many series /series reads between looks at
// the request's context.
const checkContextEvery = 128

var errTruncated = errors.New("results truncated due to limit")

func (a *API) series(r *http.Request) result {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return errResult(errorBadData, fmt.Errorf("error parsing form values: %w", err))
	}
	if len(r.Form["match[]"]) == 0 {
		return errResult(errorBadData, errors.New("no match[] parameter provided"))
	}
	limit, err := parseLimit(r.FormValue("limit"), a.cfg.DefaultLimit)
	if err != nil {
		return invalidParam(err, "limit")
	}
	start, err := parseTimeParam(r, "start", MinTime)
	if err != nil {
		return invalidParam(err, "start")
	}
	end, err := parseTimeParam(r, "end", MaxTime)
	if err != nil {
		return invalidParam(err, "end")
	}
	matcherSets, err := a.parseMatchers(r.Form["match[]"])
	if err != nil {
		return invalidParam(err, "match[]")
	}

	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return result{err: storageError(err)}
	}
	closer := func() { _ = q.Close() }

	hints := &storage.SelectHints{
		Start: timestamp.FromTime(start),
		End:   timestamp.FromTime(end),
		Func:  "series", // No function has this name: a lookup that needs no samples.
		Limit: hintLimit(limit),
	}
	var set storage.SeriesSet
	if len(matcherSets) > 1 {
		sets := make([]storage.SeriesSet, 0, len(matcherSets))
		for _, ms := range matcherSets {
			// Sorted, so that the merge can remove duplicates.
			sets = append(sets, q.Select(ctx, true, hints, ms...))
		}
		set = storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
	} else {
		set = q.Select(ctx, false, hints, matcherSets[0]...)
	}

	// Prometheus takes the set's warnings before reading it; a lazy set
	// (a distributed one) may only know some after, so both are kept.
	warnings := set.Warnings()
	finish := func(res result) result {
		res.warnings = warnings.Merge(set.Warnings())
		res.finalizer = closer
		return res
	}
	metrics := []labels.Labels{}
	for i := 1; set.Next(); i++ {
		if i%checkContextEvery == 0 {
			if err := ctx.Err(); err != nil {
				return finish(result{err: storageError(err)})
			}
		}
		metrics = append(metrics, set.At().Labels())
		if limit > 0 && len(metrics) > limit {
			warnings.Add(errTruncated)
			return finish(result{data: metrics[:limit]})
		}
	}
	if err := set.Err(); err != nil {
		return finish(result{err: storageError(err)})
	}
	return finish(result{data: metrics})
}

func (a *API) labelNames(r *http.Request) result {
	limit, err := parseLimit(r.FormValue("limit"), a.cfg.DefaultLimit)
	if err != nil {
		return invalidParam(err, "limit")
	}
	start, err := parseTimeParam(r, "start", MinTime)
	if err != nil {
		return invalidParam(err, "start")
	}
	end, err := parseTimeParam(r, "end", MaxTime)
	if err != nil {
		return invalidParam(err, "end")
	}
	matcherSets, err := a.parseMatchers(r.Form["match[]"])
	if err != nil {
		return errResult(errorBadData, err)
	}

	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return result{err: storageError(err)}
	}
	defer q.Close()

	hints := &storage.LabelHints{Limit: hintLimit(limit)}
	var (
		names    []string
		warnings annotations.Annotations
	)
	if len(matcherSets) > 1 {
		set := map[string]struct{}{}
		for _, ms := range matcherSets {
			vals, ws, err := q.LabelNames(r.Context(), hints, ms...)
			if err != nil {
				return result{err: storageError(err), warnings: warnings}
			}
			warnings.Merge(ws)
			for _, v := range vals {
				set[v] = struct{}{}
			}
		}
		names = make([]string, 0, len(set))
		for v := range set {
			names = append(names, v)
		}
		slices.Sort(names)
	} else {
		var ms []*labels.Matcher
		if len(matcherSets) == 1 {
			ms = matcherSets[0]
		}
		names, warnings, err = q.LabelNames(r.Context(), hints, ms...)
		if err != nil {
			return result{err: &apiError{errorExec, err}, warnings: warnings}
		}
	}
	if names == nil {
		names = []string{}
	}
	if limit > 0 && len(names) > limit {
		names = names[:limit]
		warnings = warnings.Add(errTruncated)
	}
	return result{data: names, warnings: warnings}
}

func (a *API) labelValues(r *http.Request) result {
	ctx := r.Context()
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return errResult(errorBadData, fmt.Errorf("invalid label name: %q", name))
	}
	limit, err := parseLimit(r.FormValue("limit"), a.cfg.DefaultLimit)
	if err != nil {
		return invalidParam(err, "limit")
	}
	start, err := parseTimeParam(r, "start", MinTime)
	if err != nil {
		return invalidParam(err, "start")
	}
	end, err := parseTimeParam(r, "end", MaxTime)
	if err != nil {
		return invalidParam(err, "end")
	}
	matcherSets, err := a.parseMatchers(r.Form["match[]"])
	if err != nil {
		return errResult(errorBadData, err)
	}

	q, err := a.queryable.Querier(timestamp.FromTime(start), timestamp.FromTime(end))
	if err != nil {
		return errResult(errorExec, err)
	}
	closer := func() { _ = q.Close() }

	hints := &storage.LabelHints{Limit: hintLimit(limit)}
	var (
		vals     []string
		warnings annotations.Annotations
	)
	if len(matcherSets) > 1 {
		set := map[string]struct{}{}
		for _, ms := range matcherSets {
			vs, ws, err := q.LabelValues(ctx, name, hints, ms...)
			if err != nil {
				return result{err: &apiError{errorExec, err}, warnings: warnings, finalizer: closer}
			}
			warnings.Merge(ws)
			for _, v := range vs {
				set[v] = struct{}{}
			}
		}
		vals = make([]string, 0, len(set))
		for v := range set {
			vals = append(vals, v)
		}
	} else {
		var ms []*labels.Matcher
		if len(matcherSets) == 1 {
			ms = matcherSets[0]
		}
		vals, warnings, err = q.LabelValues(ctx, name, hints, ms...)
		if err != nil {
			return result{err: &apiError{errorExec, err}, warnings: warnings, finalizer: closer}
		}
		if vals == nil {
			vals = []string{}
		}
	}
	slices.Sort(vals)
	if limit > 0 && len(vals) > limit {
		vals = vals[:limit]
		warnings = warnings.Add(errTruncated)
	}
	return result{data: vals, warnings: warnings, finalizer: closer}
}
