package query

import (
	"encoding/hex"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// ParamError is a bad API parameter: which one and why.
type ParamError struct {
	Param  string
	Reason string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Reason }

func paramErr(param, format string, args ...any) *ParamError {
	return &ParamError{Param: param, Reason: fmt.Sprintf(format, args...)}
}

// Limits of the `limit` parameter.
const (
	DefaultLimit = 20
	MaxLimit     = 1000
)

// DefaultRange is the time range of a query without `start`.
const DefaultRange = time.Hour

// Range is a closed time range in unix nanoseconds.
type Range struct {
	Start, End int64
}

// ParseTraceID parses a trace id of 32 hex digits (any case).
func ParseTraceID(s string) ([16]byte, error) {
	var id [16]byte
	if len(s) != 32 {
		return id, paramErr("traceID", "must be 32 hex digits, got %d characters", len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, paramErr("traceID", "must be 32 hex digits: %v", err)
	}
	if id == ([16]byte{}) {
		return id, paramErr("traceID", "must not be all zeros")
	}
	return id, nil
}

// ParseTime parses a time as RFC 3339 or as integer unix nanoseconds.
func ParseTime(param, s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, paramErr(param, "must not be negative")
		}
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, paramErr(param, "must be RFC 3339 (2006-01-02T15:04:05Z) or unix nanoseconds, got %q", s)
	}
	if t.Before(time.Unix(0, 0)) || t.After(time.Unix(0, math.MaxInt64)) {
		return 0, paramErr(param, "%q is outside the representable range (1970-2262)", s)
	}
	return t.UnixNano(), nil
}

// params reads query parameters, recording which were used so unknown ones
// can be refused.
type params struct {
	v    url.Values
	used map[string]bool
}

func newParams(v url.Values) *params { return &params{v: v, used: map[string]bool{}} }

// get returns a single-valued parameter.
func (p *params) get(name string) (string, bool, error) {
	p.used[name] = true
	vs, ok := p.v[name]
	if !ok {
		return "", false, nil
	}
	if len(vs) != 1 {
		return "", false, paramErr(name, "given %d times, expected once", len(vs))
	}
	return vs[0], true, nil
}

// prefixed returns the sorted key=value pairs of parameters name.KEY.
func (p *params) prefixed(prefix string) ([]*starlingpb.Attribute, error) {
	var out []*starlingpb.Attribute
	for k, vs := range p.v {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		p.used[k] = true
		key := k[len(prefix):]
		if key == "" {
			return nil, paramErr(k, "needs a key after %q", prefix)
		}
		if len(vs) != 1 {
			return nil, paramErr(k, "given %d times, expected once", len(vs))
		}
		out = append(out, &starlingpb.Attribute{Key: key, Value: vs[0]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// finish refuses parameters nobody asked for (except cache busters
// starting with "_").
func (p *params) finish() error {
	var unknown []string
	for k := range p.v {
		if !p.used[k] && !strings.HasPrefix(k, "_") {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		if unknown[0] == "" {
			return paramErr(`""`, "a parameter needs a name")
		}
		return paramErr(unknown[0], "unknown parameter")
	}
	return nil
}

func (p *params) timeRange(now time.Time) (Range, error) {
	r := Range{End: now.UnixNano()}
	if s, ok, err := p.get("end"); err != nil {
		return r, err
	} else if ok {
		if r.End, err = ParseTime("end", s); err != nil {
			return r, err
		}
	}
	r.Start = r.End - DefaultRange.Nanoseconds()
	if s, ok, err := p.get("start"); err != nil {
		return r, err
	} else if ok {
		if r.Start, err = ParseTime("start", s); err != nil {
			return r, err
		}
	}
	if r.Start > r.End {
		return r, paramErr("start", "must not be after end")
	}
	return r, nil
}

func (p *params) limit() (int, error) {
	s, ok, err := p.get("limit")
	if err != nil || !ok {
		return DefaultLimit, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, paramErr("limit", "must be an integer from 1 to %d, got %q", MaxLimit, s)
	}
	return n, nil
}

func (p *params) duration(name string) (int64, error) {
	s, ok, err := p.get(name)
	if err != nil || !ok {
		return 0, err
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, paramErr(name, "must be a non-negative duration such as 250ms or 1.5s, got %q", s)
	}
	return d.Nanoseconds(), nil
}

// TraceSearch is a parsed trace search.
type TraceSearch struct {
	// Search is the search the legacy parameters ask for (empty with q).
	Search *starlingpb.TraceSearch
	// Query is the TraceQL the search runs: q, or the legacy parameters
	// as one filter (LegacyTraceQL).
	Query string
	Range Range
	Limit int
	// SpansPerSpanset is spss: the matched spans returned per trace.
	SpansPerSpanset int
	// Explain asks for the plan and its stages with the answer.
	Explain bool
	// NoPushdown (pushdown=false) ships every trace of the range to the
	// coordinator, which evaluates them: to measure what pushdown saves.
	NoPushdown bool
}

// ParseTraceSearch parses service, name, status, minDuration, maxDuration,
// attr.KEY, start, end and limit.
func ParseTraceSearch(v url.Values, now time.Time) (TraceSearch, error) {
	p := newParams(v)
	var q TraceSearch
	q.Search = &starlingpb.TraceSearch{}
	var err error
	if q.Search.Service, _, err = p.get("service"); err != nil {
		return q, err
	}
	if q.Search.Name, _, err = p.get("name"); err != nil {
		return q, err
	}
	if s, ok, err := p.get("status"); err != nil {
		return q, err
	} else if ok {
		switch strings.ToLower(s) {
		case "unset":
			q.Search.Status = 1
		case "ok":
			q.Search.Status = 2
		case "error":
			q.Search.Status = 3
		default:
			return q, paramErr("status", "must be unset, ok or error, got %q", s)
		}
	}
	if q.Search.MinDurationNano, err = p.duration("minDuration"); err != nil {
		return q, err
	}
	if q.Search.MaxDurationNano, err = p.duration("maxDuration"); err != nil {
		return q, err
	}
	if max := q.Search.MaxDurationNano; max > 0 && max < q.Search.MinDurationNano {
		return q, paramErr("maxDuration", "must not be below minDuration")
	}
	if q.Search.Attributes, err = p.prefixed("attr."); err != nil {
		return q, err
	}
	tql, ok, err := p.get("q")
	switch {
	case err != nil:
		return q, err
	case ok && !EmptyTraceSearch(q.Search):
		return q, paramErr("q", "cannot be combined with service, name, status, minDuration, maxDuration or attr.KEY (write them in the TraceQL)")
	case ok && strings.TrimSpace(tql) == "":
		return q, paramErr("q", "must not be empty")
	case ok:
		q.Query = tql
	default:
		q.Query = LegacyTraceQL(q.Search)
	}
	if q.SpansPerSpanset, err = p.intIn("spss", DefaultSpansPerSpanset, 1, MaxSpansPerSpanset); err != nil {
		return q, err
	}
	if q.Explain, err = p.boolean("explain"); err != nil {
		return q, err
	}
	if _, given, _ := p.get("pushdown"); given {
		pushdown, err := p.boolean("pushdown")
		if err != nil {
			return q, err
		}
		q.NoPushdown = !pushdown
	}
	if q.Range, err = p.timeRange(now); err != nil {
		return q, err
	}
	if q.Limit, err = p.limit(); err != nil {
		return q, err
	}
	return q, p.finish()
}

// Spans per spanset of a trace search: the default and the most.
const (
	DefaultSpansPerSpanset = 3
	MaxSpansPerSpanset     = 1000
)

// EmptyTraceSearch reports whether s has no condition: every trace
// matches it.
func EmptyTraceSearch(s *starlingpb.TraceSearch) bool {
	return s.Service == "" && s.Name == "" && s.Status == 0 && s.MinDurationNano == 0 && s.MaxDurationNano == 0 && len(s.Attributes) == 0
}

// intIn returns an integer parameter in [lo, hi], def when absent.
func (p *params) intIn(name string, def, lo, hi int) (int, error) {
	s, ok, err := p.get(name)
	if err != nil || !ok {
		return def, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, paramErr(name, "must be an integer from %d to %d, got %q", lo, hi, s)
	}
	return n, nil
}

// boolean returns a true/false parameter, false when absent.
func (p *params) boolean(name string) (bool, error) {
	s, ok, err := p.get(name)
	if err != nil || !ok {
		return false, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, paramErr(name, "must be true or false, got %q", s)
	}
	return b, nil
}

// LogSearch is a parsed log search.
type LogSearch struct {
	Search *starlingpb.LogSearch
	Range  Range
	Limit  int
}

// severityNames maps severity names to the lowest OTLP severity number of
// their range.
var severityNames = map[string]int32{
	"trace": 1, "debug": 5, "info": 9, "warn": 13, "warning": 13, "error": 17, "fatal": 21,
}

// ParseLogSearch parses service, minSeverity (1..24 or a name such as warn),
// q (words, split by words), attr.KEY, start, end and limit.
func ParseLogSearch(v url.Values, now time.Time, words func(string) []string) (LogSearch, error) {
	p := newParams(v)
	var q LogSearch
	q.Search = &starlingpb.LogSearch{}
	var err error
	if q.Search.Service, _, err = p.get("service"); err != nil {
		return q, err
	}
	if s, ok, err := p.get("minSeverity"); err != nil {
		return q, err
	} else if ok {
		if n, ok := severityNames[strings.ToLower(s)]; ok {
			q.Search.MinSeverity = n
		} else if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 24 {
			q.Search.MinSeverity = int32(n)
		} else {
			return q, paramErr("minSeverity", "must be 1..24 or one of trace, debug, info, warn, error, fatal, got %q", s)
		}
	}
	if s, ok, err := p.get("q"); err != nil {
		return q, err
	} else if ok {
		q.Search.Words = words(s)
		if len(q.Search.Words) == 0 && strings.TrimSpace(s) != "" {
			return q, paramErr("q", "has no words (letters, digits or _) to search for")
		}
	}
	if q.Search.Attributes, err = p.prefixed("attr."); err != nil {
		return q, err
	}
	if q.Range, err = p.timeRange(now); err != nil {
		return q, err
	}
	if q.Limit, err = p.limit(); err != nil {
		return q, err
	}
	return q, p.finish()
}

// SeriesSearch is a parsed metric series search: equality matchers on the
// metric name and on labels (Prometheus label names, as stored).
type SeriesSearch struct {
	Matchers []*starlingpb.LabelMatcher
	Range    Range
	Limit    int
}

// ParseSeriesSearch parses name, label.KEY, start, end and limit; a name or
// at least one label is required.
func ParseSeriesSearch(v url.Values, now time.Time) (SeriesSearch, error) {
	p := newParams(v)
	var q SeriesSearch
	name, _, err := p.get("name")
	if err != nil {
		return q, err
	}
	labels, err := p.prefixed("label.")
	if err != nil {
		return q, err
	}
	if name == "" && len(labels) == 0 {
		return q, paramErr("name", "required unless a label.KEY is given")
	}
	if name != "" {
		q.Matchers = append(q.Matchers, &starlingpb.LabelMatcher{Name: "__name__", Value: name})
	}
	for _, l := range labels {
		q.Matchers = append(q.Matchers, &starlingpb.LabelMatcher{Name: l.GetKey(), Value: l.GetValue()})
	}
	if q.Range, err = p.timeRange(now); err != nil {
		return q, err
	}
	if q.Limit, err = p.limit(); err != nil {
		return q, err
	}
	return q, p.finish()
}

// ParsePrefix parses the optional `prefix` of a name listing.
func ParsePrefix(v url.Values) (string, error) {
	p := newParams(v)
	s, _, err := p.get("prefix")
	if err != nil {
		return "", err
	}
	return s, p.finish()
}

// ParseNone refuses any parameter (for endpoints that take none).
func ParseNone(v url.Values) error { return newParams(v).finish() }

// Autocomplete kinds: what an autocomplete request may ask for.
const (
	AutocompleteServices   = "services"
	AutocompleteOperations = "operations"
	AutocompleteAttributes = "attributes"
	AutocompleteValues     = "values"
)

// MaxAutocompletePrefix is the longest prefix an autocomplete request may
// give (the tries keep no longer names).
const MaxAutocompletePrefix = 1024

// MaxFuzzy is the largest edit distance of an autocomplete request.
const MaxFuzzy = 2

// Autocomplete is a parsed autocomplete request.
type Autocomplete struct {
	// Prefix is what the user typed (may be empty: the most frequent
	// names).
	Prefix string
	// Fuzzy is the edit distance within which a name also matches
	// (0: prefix only).
	Fuzzy int
	// Kind is one of the Autocomplete* kinds, "" for every kind.
	Kind string
	// Key is the attribute whose values are completed: span.KEY,
	// resource.KEY (or another scope), or KEY / .KEY for span and
	// resource. Values are completed only when a key is given.
	Key string
	// Limit is the most names answered per kind.
	Limit int
}

// ParseAutocomplete parses prefix (required, may be empty), fuzzy (0..2,
// default 0), kind (services, operations, attributes or values; default
// every kind), key (required with kind=values) and limit.
func ParseAutocomplete(v url.Values) (Autocomplete, error) {
	p := newParams(v)
	var q Autocomplete
	prefix, ok, err := p.get("prefix")
	if err != nil {
		return q, err
	}
	if !ok {
		return q, paramErr("prefix", "required (it may be empty)")
	}
	if len(prefix) > MaxAutocompletePrefix {
		return q, paramErr("prefix", "must be at most %d bytes, got %d", MaxAutocompletePrefix, len(prefix))
	}
	q.Prefix = prefix
	if q.Fuzzy, err = p.intIn("fuzzy", 0, 0, MaxFuzzy); err != nil {
		return q, err
	}
	if q.Kind, _, err = p.get("kind"); err != nil {
		return q, err
	}
	switch q.Kind {
	case "", AutocompleteServices, AutocompleteOperations, AutocompleteAttributes, AutocompleteValues:
	default:
		return q, paramErr("kind", "must be one of services, operations, attributes, values, got %q", q.Kind)
	}
	if q.Key, _, err = p.get("key"); err != nil {
		return q, err
	}
	if q.Kind == AutocompleteValues && q.Key == "" {
		return q, paramErr("key", "required with kind=values")
	}
	if len(q.Key) > MaxAutocompletePrefix {
		return q, paramErr("key", "must be at most %d bytes, got %d", MaxAutocompletePrefix, len(q.Key))
	}
	if q.Limit, err = p.limit(); err != nil {
		return q, err
	}
	return q, p.finish()
}
