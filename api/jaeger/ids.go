package jaeger

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Trace and span IDs as Jaeger reads and writes them: jaeger-idl's
// model/v1/ids.go (TraceID.String, TraceIDFromString, TraceIDFromBytes,
// SpanID.String) and the base64 fallback of TraceIDFromString in
// cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/http_gateway.go.

// traceIDString is Jaeger's TraceID.String: lower-case hex of the high and
// low 64 bits, 32 characters, except that a trace ID whose high half is
// zero (a 64-bit ID) is written as its 16 low characters only.
func traceIDString(id pcommon.TraceID) string {
	hi := binary.BigEndian.Uint64(id[:8])
	lo := binary.BigEndian.Uint64(id[8:])
	if hi == 0 {
		return fmt.Sprintf("%016x", lo)
	}
	return fmt.Sprintf("%016x%016x", hi, lo)
}

// spanIDString is Jaeger's SpanID.String: 16 lower-case hex characters.
func spanIDString(id pcommon.SpanID) string {
	return fmt.Sprintf("%016x", binary.BigEndian.Uint64(id[:]))
}

// parseTraceIDHex is Jaeger's TraceIDFromString: up to 32 hex digits of
// either case, a shorter string being the low end of the ID (so "1" is
// 00000000000000000000000000000001). Its errors are Jaeger's: the
// strconv.ParseUint error of the bad half, or "TraceID cannot be longer
// than 32 hex characters".
func parseTraceIDHex(s string) (pcommon.TraceID, error) {
	var hi, lo uint64
	var err error
	switch {
	case len(s) > 32:
		return pcommon.TraceID{}, fmt.Errorf("TraceID cannot be longer than 32 hex characters: %s", s)
	case len(s) > 16:
		hiLen := len(s) - 16
		if hi, err = strconv.ParseUint(s[:hiLen], 16, 64); err != nil {
			return pcommon.TraceID{}, err
		}
		if lo, err = strconv.ParseUint(s[hiLen:], 16, 64); err != nil {
			return pcommon.TraceID{}, err
		}
	default:
		if lo, err = strconv.ParseUint(s, 16, 64); err != nil {
			return pcommon.TraceID{}, err
		}
	}
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id, nil
}

// parseTraceIDPath is how Jaeger reads the {traceID} of
// /api/traces/{traceID} (apiv3.TraceIDFromString): hex first; failing
// that, a string of at most 24 characters is tried as standard, URL-safe,
// then unpadded standard and unpadded URL-safe base64 of 16 or 8 bytes. The
// error is the hex parser's unless a base64 decoding succeeded with the
// wrong length.
func parseTraceIDPath(s string) (pcommon.TraceID, error) {
	id, err := parseTraceIDHex(s)
	if err == nil {
		return id, nil
	}
	// 128-bit trace ID = 24 base64 characters with padding, 22 without.
	if len(s) > 24 {
		return pcommon.TraceID{}, err
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding,
	} {
		if b, b64Err := enc.DecodeString(s); b64Err == nil {
			return traceIDFromBytes(b)
		}
	}
	return pcommon.TraceID{}, err
}

// traceIDFromBytes is Jaeger's TraceIDFromBytes: 16 bytes, or 8 for the low
// half.
func traceIDFromBytes(b []byte) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	switch len(b) {
	case 16:
		copy(id[:], b)
	case 8:
		copy(id[8:], b)
	default:
		return pcommon.TraceID{}, errors.New("invalid length for TraceID")
	}
	return id, nil
}
