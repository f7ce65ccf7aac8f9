package jaeger

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Request parameters, parsed as Jaeger's cmd/query/app/query_parser.go
// parses them (parseTraceQueryParams, parseDependenciesQueryParams,
// parseTime, parseDuration, parseBool, parseTags, validateQuery), with the
// same error texts. Like Jaeger, a parameter given twice is read from its
// first value, except tag, tags and traceID, which repeat. Where this file
// differs from Jaeger it says so.

// Parameter names (query_parser.go and http_handler.go).
const (
	paramService     = "service"
	paramOperation   = "operation"
	paramSpanKind    = "spanKind"
	paramTag         = "tag"
	paramTags        = "tags"
	paramStart       = "start"
	paramEnd         = "end"
	paramLimit       = "limit"
	paramLookback    = "lookback"
	paramMinDuration = "minDuration"
	paramMaxDuration = "maxDuration"
	paramTraceID     = "traceID"
	paramRaw         = "raw"
	paramEndTs       = "endTs"
)

// lookbackCustom is the Jaeger UI's lookback for a custom time range, sent
// with explicit start and end.
const lookbackCustom = "custom"

var (
	// errServiceParameterRequired is Jaeger's error for a search without a
	// service and without trace IDs, and for /api/operations without one.
	errServiceParameterRequired = fmt.Errorf("parameter '%s' is required", paramService)
	// errMaxDurationGreaterThanMin is Jaeger's error for maxDuration <
	// minDuration.
	errMaxDurationGreaterThanMin = fmt.Errorf("'%s' should be greater than '%s'", paramMaxDuration, paramMinDuration)
	errNegative                  = errors.New("must not be negative")
)

// newParseError is Jaeger's wording of a parameter that does not parse.
func newParseError(err error, param string) error {
	return fmt.Errorf("unable to parse param '%s': %w", param, err)
}

// searchParams is a parsed GET /api/traces.
type searchParams struct {
	// query is the search. When traceIDs is set, the search is by ID and
	// query is parsed (and validated) but not run, as in Jaeger.
	query TraceQuery
	// traceIDs are the traceID parameters, deduplicated, in request order.
	traceIDs []pcommon.TraceID
	// idStart and idEnd are the start and end parameters as given (zero
	// when absent): the time hint of a lookup by ID.
	idStart, idEnd time.Time
	// raw is the raw parameter: no adjustment of the traces (convert.go).
	raw bool
}

// parseSearch parses the parameters of GET /api/traces at time now.
//
// Differences from Jaeger: start, when absent, is end minus the lookback
// (Jaeger takes now minus its default lookback, whatever end is, and
// ignores the lookback parameter); the lookback parameter (the Jaeger UI's
// 5m…24h, 2d…7d, 2w…4w, or any Go duration) only counts when start is
// absent, "custom" meaning the default; limit=0 means the default limit, a
// limit above MaxLimit is cut to it and a negative limit or duration is a
// 400; a limit that does not parse names the parameter (Jaeger answers the
// bare strconv error); a lookup by ID passes start and end only when given
// (Jaeger passes the defaulted range).
func (c Config) parseSearch(v url.Values, now time.Time) (searchParams, error) {
	var p searchParams
	q := &p.query
	q.Service = v.Get(paramService)
	q.Operation = v.Get(paramOperation)

	start, hasStart, err := parseEpoch(v, paramStart, time.Microsecond)
	if err != nil {
		return p, err
	}
	end, hasEnd, err := parseEpoch(v, paramEnd, time.Microsecond)
	if err != nil {
		return p, err
	}
	if hasStart {
		p.idStart = start
	}
	if hasEnd {
		p.idEnd = end
	} else {
		end = now
	}
	if !hasStart {
		lookback := c.DefaultLookback
		if s := v.Get(paramLookback); s != "" && s != lookbackCustom {
			if lookback, err = parseLookback(s); err != nil {
				return p, newParseError(err, paramLookback)
			}
		}
		start = end.Add(-lookback)
	}
	q.Start, q.End = start, end

	if q.Tags, err = parseTags(v[paramTag], v[paramTags]); err != nil {
		return p, err
	}

	q.Limit = c.DefaultLimit
	if s := v.Get(paramLimit); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		switch {
		case err != nil:
			return p, newParseError(err, paramLimit)
		case n < 0:
			return p, newParseError(fmt.Errorf("%w: %d", errNegative, n), paramLimit)
		case n > int64(c.MaxLimit):
			q.Limit = c.MaxLimit
		case n > 0:
			q.Limit = int(n)
		}
	}

	if q.MinDuration, err = parseGoDuration(v, paramMinDuration); err != nil {
		return p, err
	}
	if q.MaxDuration, err = parseGoDuration(v, paramMaxDuration); err != nil {
		return p, err
	}

	if p.traceIDs, err = c.parseTraceIDs(v[paramTraceID]); err != nil {
		return p, err
	}
	if p.raw, err = parseBool(v, paramRaw); err != nil {
		return p, err
	}

	// validateQuery of query_parser.go.
	if len(p.traceIDs) == 0 && q.Service == "" {
		return p, errServiceParameterRequired
	}
	if q.MinDuration != 0 && q.MaxDuration != 0 && q.MaxDuration < q.MinDuration {
		return p, errMaxDurationGreaterThanMin
	}
	return p, nil
}

// parseTraceIDs parses the traceID parameters of a search as Jaeger does
// (hex only, "cannot parse traceID param: …"), dropping repeats. More than
// MaxLimit of them is a 400 (Jaeger has no bound).
func (c Config) parseTraceIDs(values []string) ([]pcommon.TraceID, error) {
	if len(values) > c.MaxLimit {
		return nil, newParseError(fmt.Errorf("%d trace IDs, more than the %d allowed", len(values), c.MaxLimit), paramTraceID)
	}
	var ids []pcommon.TraceID
	seen := make(map[pcommon.TraceID]bool, len(values))
	for _, s := range values {
		id, err := parseTraceIDHex(s)
		if err != nil {
			return nil, fmt.Errorf("cannot parse traceID param: %w", err)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// traceParams is a parsed GET /api/traces/{traceID}.
type traceParams struct {
	id         pcommon.TraceID
	start, end time.Time // zero when absent
	raw        bool
}

// parseTrace parses GET /api/traces/{traceID} as Jaeger's
// parseGetTraceParameters does: the ID in hex or base64, optional start and
// end in microseconds, raw. A bad ID names the parameter (Jaeger answers
// the bare parser error).
func parseTrace(pathID string, v url.Values) (traceParams, error) {
	var p traceParams
	var err error
	if p.id, err = parseTraceIDPath(pathID); err != nil {
		return p, fmt.Errorf("cannot parse traceID param: %w", err)
	}
	if p.start, _, err = parseEpoch(v, paramStart, time.Microsecond); err != nil {
		return p, err
	}
	if p.end, _, err = parseEpoch(v, paramEnd, time.Microsecond); err != nil {
		return p, err
	}
	if p.raw, err = parseBool(v, paramRaw); err != nil {
		return p, err
	}
	return p, nil
}

// parseDependencies parses GET /api/dependencies as Jaeger's
// parseDependenciesQueryParams does: endTs in unix milliseconds (default
// now) and lookback in milliseconds (default DefaultDependenciesLookback),
// returning the range [endTs-lookback, endTs]. A negative lookback, or one
// too large for a time.Duration, is a 400 (Jaeger computes with it).
func (c Config) parseDependencies(v url.Values, now time.Time) (start, end time.Time, err error) {
	end, hasEnd, err := parseEpoch(v, paramEndTs, time.Millisecond)
	if err != nil {
		return start, end, err
	}
	if !hasEnd {
		end = now
	}
	lookback := c.DefaultDependenciesLookback
	if s := v.Get(paramLookback); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			return start, end, newParseError(err, paramLookback)
		case ms < 0:
			return start, end, newParseError(fmt.Errorf("%w: %d", errNegative, ms), paramLookback)
		case ms > math.MaxInt64/int64(time.Millisecond):
			return start, end, newParseError(fmt.Errorf("%d ms is too long", ms), paramLookback)
		}
		lookback = time.Duration(ms) * time.Millisecond
	}
	return end.Add(-lookback), end, nil
}

// validSpanKinds are the span kinds of /api/operations' spanKind, as the
// Jaeger model spells them ("" is every kind).
var validSpanKinds = map[string]bool{
	"": true, "server": true, "client": true, "producer": true, "consumer": true, "internal": true,
}

// parseOperations parses GET /api/operations: service is required, as in
// Jaeger's getOperations; spanKind must be a span kind or absent (Jaeger
// passes any string to the storage, which then finds nothing), with the
// wording of query_parser.go's mapSpanKindsToOpenTelemetry.
func parseOperations(v url.Values) (service, kind string, err error) {
	service = v.Get(paramService)
	if service == "" {
		return "", "", errServiceParameterRequired
	}
	kind = v.Get(paramSpanKind)
	if !validSpanKinds[kind] {
		return "", "", newParseError(fmt.Errorf("unsupported span kind: '%s'", kind), paramSpanKind)
	}
	return service, kind, nil
}

// parseEpoch is Jaeger's parseTime: an integer count of unit since the
// Unix epoch; has is false when the parameter is absent or empty. Unlike
// Jaeger's time.Unix(0, 0).Add(t*unit), it does not overflow for large t.
func parseEpoch(v url.Values, param string, unit time.Duration) (t time.Time, has bool, err error) {
	s := v.Get(param)
	if s == "" {
		return time.Time{}, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false, newParseError(err, param)
	}
	if unit == time.Millisecond {
		return time.UnixMilli(n), true, nil
	}
	return time.UnixMicro(n), true, nil
}

// parseGoDuration is Jaeger's parseDuration with time.ParseDuration
// (minDuration, maxDuration: "1.2s", "100ms", "500us"); absent is 0. A
// negative duration is a 400 (Jaeger passes it on).
func parseGoDuration(v url.Values, param string) (time.Duration, error) {
	s := v.Get(param)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, newParseError(err, param)
	}
	if d < 0 {
		return 0, newParseError(fmt.Errorf("%w: %s", errNegative, s), param)
	}
	return d, nil
}

// parseLookback reads the Jaeger UI's lookback values (a whole number of
// days "2d" or weeks "2w", the units of its lookbackToTimestamp) and any
// Go duration ("5m", "1h", "1h30m"). It must be positive.
func parseLookback(s string) (time.Duration, error) {
	if n := len(s); n > 1 && (s[n-1] == 'd' || s[n-1] == 'w') {
		if k, err := strconv.ParseInt(s[:n-1], 10, 64); err == nil {
			unit := 24 * time.Hour
			if s[n-1] == 'w' {
				unit *= 7
			}
			if k <= 0 || k > math.MaxInt64/int64(unit) {
				return 0, fmt.Errorf("lookback %q out of range", s)
			}
			return time.Duration(k) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("lookback %q must be positive", s)
	}
	return d, nil
}

// parseBool is Jaeger's parseBool: strconv.ParseBool, absent is false.
func parseBool(v url.Values, param string) (bool, error) {
	s := v.Get(param)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, newParseError(err, param)
	}
	return b, nil
}

// parseTags is Jaeger's parseTags: every tag=key:value (split at the first
// colon; a value may hold more), then every tags={JSON object of strings},
// later keys winning. Nil when there is none.
func parseTags(simpleTags, jsonTags []string) (map[string]string, error) {
	var tags map[string]string
	for _, tag := range simpleTags {
		key, value, ok := strings.Cut(tag, ":")
		if !ok {
			return nil, fmt.Errorf("malformed 'tag' parameter, expecting key:value, received: %s", tag)
		}
		if tags == nil {
			tags = make(map[string]string)
		}
		tags[key] = value
	}
	for _, s := range jsonTags {
		var fromJSON map[string]string
		if err := json.Unmarshal([]byte(s), &fromJSON); err != nil {
			return nil, fmt.Errorf("malformed 'tags' parameter, cannot unmarshal JSON: %w", err)
		}
		if len(fromJSON) == 0 {
			continue
		}
		if tags == nil {
			tags = make(map[string]string, len(fromJSON))
		}
		maps.Copy(tags, fromJSON)
	}
	return tags, nil
}
