package tempo

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Parameter names, as pkg/api/http.go names them.
const (
	paramQuery          = "q"
	paramPromQuery      = "query" // metrics endpoints: checked before q
	paramTags           = "tags"
	paramMinDuration    = "minDuration"
	paramMaxDuration    = "maxDuration"
	paramLimit          = "limit"
	paramMaxStaleValues = "maxStaleValues"
	paramStart          = "start"
	paramEnd            = "end"
	paramSpss           = "spss"
	paramStep           = "step"
	paramSince          = "since"
	paramExemplars      = "exemplars"
	paramInstant        = "instant"
	paramScope          = "scope"
	paramMode           = "mode"
	paramBlockStart     = "blockStart"
	paramBlockEnd       = "blockEnd"

	scopeIntrinsic = "intrinsic"

	mediaProtobuf = "application/protobuf"
	mediaJSON     = "application/json"

	// defaultSince is the range of a metrics query without start and since.
	defaultSince = time.Hour
)

// param returns the first value of name and whether it is non-empty:
// Tempo's extractQueryParam treats an empty parameter as absent.
func param(vals url.Values, name string) (string, bool) {
	v := vals.Get(name)
	return v, v != ""
}

// wantsProtobuf reports whether the Accept header asks for protobuf, as
// MarshalingFormatFromAcceptHeader decides: the first Accept header
// contains "application/protobuf" (which wins over application/json in the
// same header). Anything else, including Grafana's LLM format, is JSON.
func wantsProtobuf(h http.Header) bool {
	return strings.Contains(h.Get("Accept"), mediaProtobuf)
}

// checkQuerySize rejects a q or query parameter larger than max bytes
// (pipeline.ValidateTraceQLQueryParamsSize).
func checkQuerySize(vals url.Values, max int) error {
	if max <= 0 {
		return nil
	}
	for _, name := range []string{paramQuery, paramPromQuery} {
		for _, q := range vals[name] {
			if len(q) > max {
				return fmt.Errorf("TraceQL expression exceeds the configured maximum size of %d bytes, reduce the query expression size or contact your system administrator", max)
			}
		}
	}
	return nil
}

// parseTraceID decodes a trace ID as util.HexStringToTraceID does: hex
// digits only (either case), an odd count gets a leading zero, at most 16
// bytes, left-padded with zero bytes.
func parseTraceID(s string) ([16]byte, error) {
	var id [16]byte
	for i, c := range s {
		if (c < 'a' || c > 'f') && (c < 'A' || c > 'F') && (c < '0' || c > '9') {
			return id, fmt.Errorf("trace IDs can only contain hex characters: invalid character '%c' at position %d", c, i+1)
		}
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return id, err
	}
	if len(b) > 16 {
		return id, errors.New("trace IDs can't be larger than 128 bits")
	}
	copy(id[16-len(b):], b)
	return id, nil
}

// traceIDString writes a search result's trace ID as
// util.TraceIDToHexString does (lowercase hex, leading zeros trimmed), or
// as 32 digits with Config.LeftPadTraceIDs (util.PadTraceIDString).
func traceIDString(id []byte, pad bool) string {
	s := hex.EncodeToString(id)
	if pad {
		if len(s) < 32 {
			s = strings.Repeat("0", 32-len(s)) + s
		}
		return s
	}
	return strings.TrimLeft(s, "0")
}

// spanIDString writes a span ID as util.SpanIDToHexString does: hex with
// leading zeros trimmed, then left-padded with zeros to 16 digits.
func spanIDString(id []byte) string {
	s := strings.TrimLeft(hex.EncodeToString(id), "0")
	if len(s) < 16 {
		s = strings.Repeat("0", 16-len(s)) + s
	}
	return s
}

// unixSeconds32 parses a search or tag start/end the way ParseSearchRequest
// does (strconv.ParseUint, 32 bits).
func unixSeconds32(name, s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid %s: %w", name, err)
	}
	return uint32(v), nil
}

// recentOr returns [start, end] in seconds, or the recent range ending at
// now when either is zero (Tempo then reads only its live store).
func recentOr(start, end uint32, now time.Time, recent time.Duration) (time.Time, time.Time) {
	if start == 0 || end == 0 {
		return now.Add(-recent), now
	}
	return time.Unix(int64(start), 0), time.Unix(int64(end), 0)
}

// checkRange enforces max on a search or tag range as the sharders do,
// with their uint32 arithmetic (a start without an end wraps around and is
// refused, as in Tempo).
func checkRange(start, end uint32, max time.Duration) error {
	if max != 0 && time.Duration(end-start)*time.Second > max {
		return fmt.Errorf("range specified by start and end exceeds %s. received start=%d end=%d", max, start, end)
	}
	return nil
}

// bounds returns the range of a metrics query (pkg/api determineBounds):
// end defaults to now; start defaults to min(end, now) minus since, and
// since to an hour. Timestamps are unix seconds, unix nanoseconds,
// fractional seconds or RFC 3339.
func bounds(vals url.Values, now time.Time) (time.Time, time.Time, error) {
	startS, _ := param(vals, paramStart)
	endS, _ := param(vals, paramEnd)
	sinceS, _ := param(vals, paramSince)
	since := defaultSince
	if sinceS != "" {
		d, err := model.ParseDuration(sinceS)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("could not parse 'since' parameter: %w", err)
		}
		since = time.Duration(d)
	}
	end, err := parseTimestamp(endS, now)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("could not parse 'end' parameter: %w", err)
	}
	endOrNow := end
	if end.After(now) {
		endOrNow = now
	}
	start, err := parseTimestamp(startS, endOrNow.Add(-since))
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("could not parse 'start' parameter: %w", err)
	}
	return start, end, nil
}

// parseTimestamp is pkg/api parseTimestamp: a value with a dot that parses
// as a float is fractional seconds (rounded to the millisecond); an
// integer of at most 10 digits is seconds, a longer one nanoseconds;
// otherwise RFC 3339. The error of a value that is none of these is the
// integer parse's.
func parseTimestamp(value string, def time.Time) (time.Time, error) {
	if value == "" {
		return def, nil
	}
	if strings.Contains(value, ".") {
		if t, err := strconv.ParseFloat(value, 64); err == nil && !math.IsNaN(t) && !math.IsInf(t, 0) {
			s, ns := math.Modf(t)
			ns = math.Round(ns*1000) / 1000
			return time.Unix(int64(s), int64(ns*float64(time.Second))), nil
		}
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		if ts, perr := time.Parse(time.RFC3339Nano, value); perr == nil {
			return ts, nil
		}
		return time.Time{}, err
	}
	if len(value) <= 10 {
		return time.Unix(n, 0), nil
	}
	return time.Unix(0, n), nil
}

// parseSecondsOrDuration parses a step: a float is seconds, else a Go
// duration.
func parseSecondsOrDuration(value string) (time.Duration, error) {
	if d, err := strconv.ParseFloat(value, 64); err == nil {
		ts := d * float64(time.Second)
		if math.IsNaN(ts) || ts > float64(math.MaxInt64) || ts < float64(math.MinInt64) {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", value)
		}
		return time.Duration(ts), nil
	}
	if d, err := time.ParseDuration(value); err == nil {
		return d, nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", value)
}

// defaultStep is traceql.DefaultQueryRangeStep: about 240 points, rounded
// down to 50ms below a minute's range, else to the largest of 1h, 5m, 1m,
// 15s, 5s, 1s the raw step exceeds (1s at least). start and end are unix
// nanoseconds; end < start wraps as in Tempo.
func defaultStep(start, end uint64) uint64 {
	delta := time.Duration(end - start)
	baseline := delta / 240
	if delta < time.Minute {
		g := 50 * time.Millisecond
		if baseline > g {
			return uint64(baseline / g * g)
		}
		return uint64(g)
	}
	for _, g := range []time.Duration{time.Hour, 5 * time.Minute, time.Minute, 15 * time.Second, 5 * time.Second, time.Second} {
		if baseline > g {
			return uint64(baseline / g * g)
		}
	}
	return uint64(time.Second)
}

// validUUID checks that s is a UUID in one of the forms
// github.com/google/uuid parses (36 characters with hyphens, braced,
// urn:uuid: prefixed, or 32 hex digits), with its error texts.
func validUUID(s string) error {
	switch len(s) {
	case 36:
	case 36 + 9:
		if !strings.EqualFold(s[:9], "urn:uuid:") {
			return fmt.Errorf("invalid urn prefix: %q", s[:9])
		}
		s = s[9:]
	case 36 + 2: // {...}; the library does not check the braces
		s = s[1:37]
	case 32:
		if _, err := hex.DecodeString(s); err != nil {
			return errors.New("invalid UUID format")
		}
		return nil
	default:
		return fmt.Errorf("invalid UUID length: %d", len(s))
	}
	if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return errors.New("invalid UUID format")
	}
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		if !isHex(s[i]) {
			return errors.New("invalid UUID format")
		}
	}
	return nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
