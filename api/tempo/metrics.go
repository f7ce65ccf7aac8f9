package tempo

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// The errors of metrics requests, worded as Tempo's frontend words them.
var (
	errEndBeforeStart     = errors.New("end must be greater than start")
	errWindowWithinCutoff = errors.New("query window falls entirely within query_end_cutoff")
)

// metricsQueryText returns the query of a metrics request: query (the
// Prometheus-compatible name Grafana sends), overridden by q.
func metricsQueryText(vals url.Values) string {
	q, _ := param(vals, paramPromQuery)
	if s, ok := param(vals, paramQuery); ok {
		q = s
	}
	return q
}

// parseMetricsRangeParams turns the parameters of /api/metrics/query_range
// into a MetricsRequest as Tempo's ParseQueryRangeRequest and
// newMetricsQueryRangeHTTPHandler do: bounds (start, end, since), step (a
// duration or seconds, else chosen from the range), exemplars (ignored
// when unparsable, 0 meaning the maximum), instant; then the end cutoff,
// the duration and interval bounds, and the grid alignment
// (traceql.AlignRequest: start down to a step, end up to one, one more
// step before the start; then an end past the cutoff pulled back and down
// to a step).
func parseMetricsRangeParams(vals url.Values, cfg Config, now time.Time) (MetricsRequest, error) {
	query := metricsQueryText(vals)
	startT, endT, err := bounds(vals, now)
	if err != nil {
		return MetricsRequest{}, err
	}
	start, end := uint64(startT.UnixNano()), uint64(endT.UnixNano())
	var step uint64
	if s, ok := param(vals, paramStep); ok {
		d, err := parseSecondsOrDuration(s)
		if err != nil {
			return MetricsRequest{}, err
		}
		if d < 0 {
			return MetricsRequest{}, fmt.Errorf("cannot parse %q: step must be positive", s)
		}
		step = uint64(d)
	} else {
		step = defaultStep(start, end)
	}
	exemplars, _ := strconv.ParseUint(vals.Get(paramExemplars), 10, 32)
	instant := false
	if s, ok := param(vals, paramInstant); ok {
		instant, _ = strconv.ParseBool(s)
	}
	// clampQueryEndForValidation
	if start >= end {
		return MetricsRequest{}, errEndBeforeStart
	}
	cutoff := uint64(now.Add(-cfg.QueryEndCutoff).UnixNano())
	if end > cutoff {
		end = cutoff
		if start >= end {
			return MetricsRequest{}, errWindowWithinCutoff
		}
	}
	if err := checkMetricsRange(cfg, start, end, step); err != nil {
		return MetricsRequest{}, err
	}
	// normalizeRequestExemplars (the query's own exemplars hint is the
	// evaluator's to apply)
	maxExemplars := uint64(cfg.MetricsMaxExemplars)
	if exemplars == 0 || exemplars > maxExemplars {
		exemplars = maxExemplars
	}
	if !instant {
		start -= start % step
		if m := end % step; m != 0 {
			end += step - m
		}
		if start > step {
			start -= step
		}
		if end > cutoff {
			end = cutoff - cutoff%step
		}
	}
	return MetricsRequest{
		Query:     query,
		Start:     time.Unix(0, int64(start)),
		End:       time.Unix(0, int64(end)),
		Step:      time.Duration(step),
		Exemplars: int(exemplars),
		Instant:   instant,
	}, nil
}

// checkMetricsRange is validateQueryRangeReq: start before end, the range
// within MetricsMaxDuration, at most MetricsMaxIntervals steps (a zero step
// is always too small).
func checkMetricsRange(cfg Config, start, end, step uint64) error {
	if start >= end {
		return errEndBeforeStart
	}
	if d := cfg.MetricsMaxDuration; d != 0 && end-start > uint64(d) {
		return fmt.Errorf("metrics query time range exceeds the maximum allowed duration of %s", d)
	}
	intervals := uint64(cfg.MetricsMaxIntervals)
	if step == 0 || (intervals != 0 && (end-start)/step > intervals) {
		minimum := time.Duration(1)
		if intervals != 0 {
			minimum = time.Duration((end - start) / intervals)
		}
		return fmt.Errorf("step of %s is too small, minimum step for given range is %s", time.Duration(step), minimum)
	}
	return nil
}

// parseMetricsInstantParams is ParseQueryInstantRequest followed by the
// instant handler's rewrite: one step over [start, end), the end pulled
// back before the cutoff by whole seconds (clampInstantQueryEnd), no
// alignment and no exemplars.
func parseMetricsInstantParams(vals url.Values, cfg Config, now time.Time) (MetricsRequest, error) {
	query := metricsQueryText(vals)
	startT, endT, err := bounds(vals, now)
	if err != nil {
		return MetricsRequest{}, err
	}
	start, end := uint64(startT.UnixNano()), uint64(endT.UnixNano())
	st, en := time.Unix(0, int64(start)), time.Unix(0, int64(end))
	if !en.After(st) {
		return MetricsRequest{}, errEndBeforeStart
	}
	if cutoff := now.Add(-cfg.QueryEndCutoff); !en.Before(cutoff) {
		reduce := time.Duration(math.Ceil(en.Sub(cutoff).Seconds())) * time.Second
		en = en.Add(-reduce)
		if !en.After(st) {
			return MetricsRequest{}, errWindowWithinCutoff
		}
		end = uint64(en.UnixNano())
	}
	if err := checkMetricsRange(cfg, start, end, end-start); err != nil {
		return MetricsRequest{}, err
	}
	return MetricsRequest{
		Query:   query,
		Start:   time.Unix(0, int64(start)),
		End:     time.Unix(0, int64(end)),
		Step:    time.Duration(end - start),
		Instant: true,
	}, nil
}

// metricsQueryRange answers /api/metrics/query_range with a
// QueryRangeResponse (always JSON, as Tempo's query range combiner).
func (a *API) metricsQueryRange(w http.ResponseWriter, r *http.Request) {
	res, ok := a.metrics(w, r, "metrics_query_range", parseMetricsRangeParams)
	if !ok {
		return
	}
	out := queryRangeResponse{Series: make([]timeSeries, 0, len(res.Series)), Metrics: metricsOf(res)}
	for _, s := range res.Series {
		out.Series = append(out.Series, timeSeries{
			Labels:    labels(s.Labels),
			Samples:   samplesOf(s.Samples),
			Exemplars: exemplarsOf(s.Exemplars),
		})
	}
	a.writeJSON(w, r, "metrics_query_range", out)
}

// metricsQueryInstant answers /api/metrics/query with a
// QueryInstantResponse: each series' first sample (translateQueryRangeToInstant).
func (a *API) metricsQueryInstant(w http.ResponseWriter, r *http.Request) {
	res, ok := a.metrics(w, r, "metrics_query", parseMetricsInstantParams)
	if !ok {
		return
	}
	out := queryInstantResponse{Metrics: metricsOf(res)}
	for _, s := range res.Series {
		out.Series = append(out.Series, instantSeries{Labels: labels(s.Labels), Value: jsonFloat(s.Samples[0].Value)})
	}
	a.writeJSON(w, r, "metrics_query", out)
}

// metrics parses a metrics request, runs it and returns the result with
// Tempo's clean-up: NaN samples dropped, series without samples dropped,
// samples and exemplars sorted by time, series sorted by their labels
// (sortResponse: fewer labels first, then key by key, then by value).
func (a *API) metrics(w http.ResponseWriter, r *http.Request, op string,
	parse func(url.Values, Config, time.Time) (MetricsRequest, error),
) (MetricsResult, bool) {
	vals := r.URL.Query()
	if err := checkQuerySize(vals, a.cfg.MaxQueryBytes); err != nil {
		badRequest(w, err)
		return MetricsResult{}, false
	}
	req, err := parse(vals, a.cfg, a.now())
	if err != nil {
		badRequest(w, err)
		return MetricsResult{}, false
	}
	res, err := a.q.MetricsQueryRange(r.Context(), req)
	if err != nil {
		a.querierError(w, r, op, err)
		return MetricsResult{}, false
	}
	series := make([]Series, 0, len(res.Series))
	for _, s := range res.Series {
		samples := slices.DeleteFunc(slices.Clone(s.Samples), func(p Sample) bool { return math.IsNaN(p.Value) })
		if len(samples) == 0 {
			continue
		}
		slices.SortStableFunc(samples, func(x, y Sample) int { return cmp.Compare(x.TimestampMs, y.TimestampMs) })
		ex := slices.Clone(s.Exemplars)
		slices.SortStableFunc(ex, func(x, y Exemplar) int { return cmp.Compare(x.TimestampMs, y.TimestampMs) })
		series = append(series, Series{Labels: s.Labels, Samples: samples, Exemplars: ex})
	}
	slices.SortStableFunc(series, compareSeries)
	res.Series = series
	return res, true
}

func compareSeries(x, y Series) int {
	if c := cmp.Compare(len(x.Labels), len(y.Labels)); c != 0 {
		return c
	}
	for i := range x.Labels {
		if c := cmp.Compare(x.Labels[i].Key, y.Labels[i].Key); c != 0 {
			return c
		}
		if c := cmp.Compare(labelValue(x.Labels[i].Value).sortKey(), labelValue(y.Labels[i].Value).sortKey()); c != 0 {
			return c
		}
	}
	return 0
}

func metricsOf(res MetricsResult) searchMetrics {
	return searchMetrics{InspectedTraces: clampU32(res.InspectedTraces), InspectedBytes: res.InspectedBytes}
}

func samplesOf(ss []Sample) []sampleJSON {
	out := make([]sampleJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, sampleJSON{TimestampMs: s.TimestampMs, Value: jsonFloat(s.Value)})
	}
	return out
}

func exemplarsOf(es []Exemplar) []exemplarJSON {
	if len(es) == 0 {
		return nil
	}
	out := make([]exemplarJSON, 0, len(es))
	for _, e := range es {
		out = append(out, exemplarJSON{Labels: labels(e.Labels), Value: jsonFloat(e.Value), TimestampMs: e.TimestampMs})
	}
	return out
}
