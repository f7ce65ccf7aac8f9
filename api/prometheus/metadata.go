package prometheus

import (
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/prometheus/prometheus/model/metadata"
)

// /api/v1/metadata, as Prometheus' metricMetadata, with the targets'
// metadata replaced by Deps.Metadata.

func (a *API) metricMetadata(r *http.Request) result {
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil {
			return errResult(errorBadData, errors.New("limit must be a number"))
		}
	}
	limitPerMetric := -1
	if s := r.FormValue("limit_per_metric"); s != "" {
		var err error
		if limitPerMetric, err = strconv.Atoi(s); err != nil {
			return errResult(errorBadData, errors.New("limit_per_metric must be a number"))
		}
	}
	metric := r.FormValue("metric")

	res := map[string][]metadata.Metadata{}
	if a.metadata == nil {
		return result{data: res}
	}
	src, err := a.metadata.MetricMetadata(r.Context(), MetadataQuery{Metric: metric, Limit: limit, LimitPerMetric: limitPerMetric})
	if err != nil {
		return result{err: storageError(err)}
	}
	res = limitMetadata(src, metric, limit, limitPerMetric)
	return result{data: res}
}

// limitMetadata keeps the families named metric (all when empty), each
// with its distinct entries in source order, at most limitPerMetric of them
// when that is positive, and at most limit families when that is not
// negative. Prometheus keeps an arbitrary subset of families (map order);
// here it is the first ones by name, so that answers are repeatable.
func limitMetadata(src map[string][]metadata.Metadata, metric string, limit, limitPerMetric int) map[string][]metadata.Metadata {
	names := make([]string, 0, len(src))
	for name, ms := range src {
		if len(ms) > 0 && (metric == "" || name == metric) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	res := make(map[string][]metadata.Metadata, len(names))
	for _, name := range names {
		if limit >= 0 && len(res) >= limit {
			break
		}
		var kept []metadata.Metadata
		for _, m := range src[name] {
			if limitPerMetric > 0 && len(kept) >= limitPerMetric {
				break
			}
			if !slices.Contains(kept, m) {
				kept = append(kept, m)
			}
		}
		res[name] = kept
	}
	return res
}
