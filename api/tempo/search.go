package tempo

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// rootSpanNotYetReceived is what Tempo writes as the root service of a
// trace whose root span it has not seen (pkg/search).
const rootSpanNotYetReceived = "<root span not yet received>"

// search answers /api/search: a TraceQL search (q) or a legacy tag search
// (tags, minDuration, maxDuration) turned into TraceQL, in Tempo's
// SearchResponse JSON. Protobuf is not offered: Tempo answers it to
// Accept: application/protobuf, but Grafana and tempo-cli read JSON, and
// JSON is answered whatever the Accept header.
func (a *API) search(w http.ResponseWriter, r *http.Request) {
	vals := r.URL.Query()
	if err := checkQuerySize(vals, a.cfg.MaxQueryBytes); err != nil {
		badRequest(w, err)
		return
	}
	req, err := parseSearchParams(vals, a.cfg, a.now())
	if err != nil {
		badRequest(w, err)
		return
	}
	res, err := a.q.Search(r.Context(), req)
	if err != nil {
		a.querierError(w, r, "search", err)
		return
	}
	a.writeJSON(w, r, "search", a.searchResponse(res, req.Limit))
}

// reserved are the parameters that are not tags in a search without q,
// tags, start or end (Tempo still reads such tags as plain parameters for
// old Grafanas: /api/search?service.name=x).
var reserved = map[string]bool{
	paramQuery: true, paramTags: true, paramMinDuration: true, paramMaxDuration: true,
	paramLimit: true, paramSpss: true, paramStart: true, paramEnd: true,
}

// parseSearchParams turns the parameters of /api/search into a
// SearchRequest with the checks, texts and defaults of Tempo's
// ParseSearchRequest and search sharder (pkg/api/http.go,
// modules/frontend/search_sharder.go and search_handlers.go).
func parseSearchParams(vals url.Values, cfg Config, now time.Time) (SearchRequest, error) {
	var start, end uint32
	var err error
	if s, ok := param(vals, paramStart); ok {
		if start, err = unixSeconds32(paramStart, s); err != nil {
			return SearchRequest{}, err
		}
	}
	if s, ok := param(vals, paramEnd); ok {
		if end, err = unixSeconds32(paramEnd, s); err != nil {
			return SearchRequest{}, err
		}
	}
	query, hasQuery := param(vals, paramQuery)
	encodedTags, hasTags := param(vals, paramTags)
	tags := map[string]string{}
	if hasTags {
		if hasQuery {
			return SearchRequest{}, errors.New("invalid request: can't specify tags and q in the same query")
		}
		if tags, err = decodeTags(encodedTags); err != nil {
			return SearchRequest{}, err
		}
	}
	if !hasQuery && !hasTags && start == 0 && end == 0 {
		for k, v := range vals {
			if !reserved[k] && k != "" && len(v) > 0 && v[0] != "" {
				tags[k] = v[0]
			}
		}
	}
	var minMs, maxMs int64
	if s, ok := param(vals, paramMinDuration); ok {
		if minMs, err = durationMs(paramMinDuration, s); err != nil {
			return SearchRequest{}, err
		}
	}
	if s, ok := param(vals, paramMaxDuration); ok {
		if maxMs, err = durationMs(paramMaxDuration, s); err != nil {
			return SearchRequest{}, err
		}
		if minMs != 0 && minMs > maxMs {
			return SearchRequest{}, errors.New("invalid maxDuration: must be greater than minDuration")
		}
	}
	var limitN, spssN uint64
	if s, ok := param(vals, paramLimit); ok {
		if limitN, err = strconv.ParseUint(s, 10, 32); err != nil {
			return SearchRequest{}, fmt.Errorf("invalid limit: %w", err)
		}
		if limitN == 0 {
			return SearchRequest{}, errors.New("invalid limit: must be a positive number")
		}
	}
	spss := cfg.DefaultSpansPerSpanSet
	if s, ok := param(vals, paramSpss); ok {
		if spssN, err = strconv.ParseUint(s, 10, 32); err != nil {
			return SearchRequest{}, fmt.Errorf("invalid spss: %w", err)
		}
		spss = int(spssN)
	}
	if (start != 0 || end != 0) && end <= start {
		return SearchRequest{}, fmt.Errorf("http parameter start must be before end. received start=%d end=%d", start, end)
	}
	// the frontend's checks, in its order
	limit := cfg.DefaultLimit
	if limitN != 0 {
		if cfg.MaxLimit != 0 && limitN > uint64(cfg.MaxLimit) {
			return SearchRequest{}, fmt.Errorf("limit %d exceeds max limit %d", limitN, cfg.MaxLimit)
		}
		limit = int(limitN)
	}
	if err := checkRange(start, end, cfg.MaxSearchDuration); err != nil {
		return SearchRequest{}, err
	}
	if cfg.MaxSpansPerSpanSet != 0 && spss > cfg.MaxSpansPerSpanSet {
		return SearchRequest{}, fmt.Errorf("spans per span set exceeds %d. received %d", cfg.MaxSpansPerSpanSet, spss)
	}
	if spss == 0 { // the engine's default for spss=0
		spss = cfg.DefaultSpansPerSpanSet
	}
	if !hasQuery {
		query = legacyTraceQL(tags, minMs, maxMs)
	}
	from, to := recentOr(start, end, now, cfg.RecentRange)
	return SearchRequest{Query: query, Start: from, End: to, Limit: limit, SpansPerSpanSet: spss}, nil
}

// durationMs parses minDuration or maxDuration (a Go duration) into whole
// milliseconds, truncated as Tempo's MinDurationMs is. Tempo stores the
// value in a uint32, so a negative one wraps there; here it is refused.
func durationMs(name, s string) (int64, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid %s: %w", name, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid %s: must not be negative", name)
	}
	return d.Milliseconds(), nil
}

// searchResponse converts the Querier's matches as Tempo's
// asTraceSearchMetadata and search combiner do: newest start first, at
// most limit, a missing root service written as
// "<root span not yet received>", durationMs truncated, spanSet the first
// of spanSets.
func (a *API) searchResponse(res SearchResult, limit int) searchResponse {
	matches := slices.Clone(res.Traces)
	matches = slices.DeleteFunc(matches, func(m *starlingpb.TraceMatch) bool { return m == nil })
	slices.SortStableFunc(matches, func(x, y *starlingpb.TraceMatch) int {
		return cmp.Compare(y.GetStartUnixNano(), x.GetStartUnixNano())
	})
	if limit > 0 && len(matches) > limit {
		matches = matches[:limit]
	}
	out := searchResponse{
		Traces: make([]*traceSearchMetadata, 0, len(matches)),
		Metrics: searchMetrics{
			InspectedTraces: clampU32(res.InspectedTraces),
			InspectedBytes:  res.InspectedBytes,
			CompletedJobs:   clampU32(res.CompletedJobs),
			TotalJobs:       clampU32(res.TotalJobs),
		},
	}
	for _, m := range matches {
		out.Traces = append(out.Traces, a.traceMetadata(m))
	}
	return out
}

func (a *API) traceMetadata(m *starlingpb.TraceMatch) *traceSearchMetadata {
	t := &traceSearchMetadata{
		TraceID:           traceIDString(m.GetTraceId(), a.cfg.LeftPadTraceIDs),
		RootServiceName:   m.GetRootServiceName(),
		RootTraceName:     m.GetRootSpanName(),
		StartTimeUnixNano: uint64(max(m.GetStartUnixNano(), 0)),
		DurationMs:        clampU32(m.GetDurationNano() / int64(time.Millisecond)),
	}
	if t.RootServiceName == "" {
		t.RootServiceName = rootSpanNotYetReceived
	}
	for _, ss := range m.GetSpanSets() {
		if ss == nil {
			continue
		}
		set := &spanSet{Matched: ss.GetMatched(), Attributes: typedAttributes(ss.GetAttributes())}
		for _, sp := range ss.GetSpans() {
			if sp == nil {
				continue
			}
			set.Spans = append(set.Spans, searchSpan{
				SpanID:            spanIDString(sp.GetSpanId()),
				Name:              sp.GetName(),
				StartTimeUnixNano: uint64(max(sp.GetStartUnixNano(), 0)),
				DurationNanos:     uint64(max(sp.GetDurationNano(), 0)),
				Attributes:        typedAttributes(sp.GetAttributes()),
			})
		}
		t.SpanSets = append(t.SpanSets, set)
	}
	if len(t.SpanSets) > 0 {
		t.SpanSet = t.SpanSets[0]
	}
	for _, st := range m.GetServiceStats() {
		if st == nil {
			continue
		}
		if t.ServiceStats == nil {
			t.ServiceStats = map[string]serviceStats{}
		}
		// several entries of one service merge with max, as Tempo
		// combines partial results
		prev := t.ServiceStats[st.GetService()]
		t.ServiceStats[st.GetService()] = serviceStats{
			SpanCount:  max(prev.SpanCount, st.GetSpanCount()),
			ErrorCount: max(prev.ErrorCount, st.GetErrorCount()),
		}
	}
	return t
}
