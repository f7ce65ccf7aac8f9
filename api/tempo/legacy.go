package tempo

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Legacy search tags with a column of their own in Tempo's parquet blocks
// (tempodb/encoding/vparquet5 labelMappings), matched as substrings.
var legacyColumns = map[string]string{
	"root.name":         "rootName",
	"root.service.name": "rootServiceName",
	"service.name":      "resource.service.name",
	"name":              "name",
}

// legacyStatusCodes is vparquet5's StatusCodeMapping: the status.code tag
// compares the span status with one of these; an unknown value maps to 0,
// unset.
var legacyStatusCodes = map[string]string{"unset": "unset", "ok": "ok", "error": "error"}

// legacyTraceQL turns a tag-based search into the TraceQL query that
// selects the same traces. Tempo no longer converts these searches: its
// blocks answer them directly (vparquet5 makePipelineWithRowGroups), and
// the conversion reproduces those semantics:
//
//   - root.name, root.service.name, service.name and name are
//     case-sensitive substring matches on the trace's root span name, its
//     root service, a resource's service.name and a span's name:
//     `{ rootName =~ ".*v.*" }` and so on, the value regexp-quoted;
//   - status.code=v compares the span status: `{ status = error }`
//     (ok, error, unset; anything else is unset, as Tempo maps it);
//   - any other key is an exact match on a string attribute of a resource
//     or a span: `{ .key = "v" }`;
//   - minDuration and maxDuration (whole milliseconds, 0 for none) bound
//     the trace's duration, both ends inclusive:
//     `{ traceDuration >= 100ms && traceDuration <= 2000ms }`.
//
// Every condition is its own spanset and the spansets are joined with &&:
// Tempo joins its conditions at the trace level, so different spans may
// satisfy them. (Tempo requires the generic attribute conditions to hold
// in one batch of spans of one resource; && of spansets is looser there.)
// Keys are taken in sorted order so that the query is deterministic. No
// condition at all gives `{}`, every trace.
func legacyTraceQL(tags map[string]string, minMs, maxMs int64) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sets []string
	for _, k := range keys {
		v := tags[k]
		switch {
		case legacyColumns[k] != "":
			sets = append(sets, "{ "+legacyColumns[k]+" =~ "+strconv.Quote(".*"+regexp.QuoteMeta(v)+".*")+" }")
		case k == "status.code":
			code := legacyStatusCodes[v]
			if code == "" {
				code = "unset"
			}
			sets = append(sets, "{ status = "+code+" }")
		default:
			sets = append(sets, "{ "+attributeRef(k)+" = "+strconv.Quote(v)+" }")
		}
	}
	var dur []string
	if minMs > 0 {
		dur = append(dur, "traceDuration >= "+strconv.FormatInt(minMs, 10)+"ms")
	}
	if maxMs > 0 {
		dur = append(dur, "traceDuration <= "+strconv.FormatInt(maxMs, 10)+"ms")
	}
	if len(dur) > 0 {
		sets = append(sets, "{ "+strings.Join(dur, " && ")+" }")
	}
	if len(sets) == 0 {
		return "{}"
	}
	return strings.Join(sets, " && ")
}

// attributeRef writes an unscoped attribute reference: .key when the key
// is made of letters, digits and _ . - / only (and neither starts nor ends
// with a dot), else ."key" with Go escapes, TraceQL's quoted form.
func attributeRef(key string) string {
	if simpleAttributeName(key) {
		return "." + key
	}
	return "." + strconv.Quote(key)
}

func simpleAttributeName(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '.', c == '-', c == '/':
		default:
			return false
		}
	}
	return true
}
