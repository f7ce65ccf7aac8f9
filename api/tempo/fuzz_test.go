package tempo

import (
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSearchParams checks that any query string parses without panicking
// into a request within the configured bounds, or into an error.
func FuzzSearchParams(f *testing.F) {
	for _, s := range []string{
		"", "q={}", "tags=service.name%3Dcart&minDuration=1s&maxDuration=2s",
		"start=1700000000&end=1700003600&limit=5&spss=0", "service.name=x&limit=1",
		"tags=a%3D%22b%5Cu00e9%22", "minDuration=-1s", "limit=99999999999", "start=4294967295&end=1",
	} {
		f.Add(s)
	}
	cfg := DefaultConfig()
	f.Fuzz(func(t *testing.T, raw string) {
		vals, _ := url.ParseQuery(raw)
		got, err := parseSearchParams(vals, cfg, testNow)
		again, err2 := parseSearchParams(vals, cfg, testNow)
		if !reflect.DeepEqual(got, again) || (err == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %+v %v / %+v %v", got, err, again, err2)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if got.Query == "" {
			t.Fatal("empty query")
		}
		if q, ok := param(vals, paramQuery); ok && got.Query != q {
			t.Fatalf("query %q, want q %q", got.Query, q)
		}
		if got.Limit < 1 || got.Limit > cfg.MaxLimit {
			t.Fatalf("limit %d", got.Limit)
		}
		if got.SpansPerSpanSet < 1 || got.SpansPerSpanSet > cfg.MaxSpansPerSpanSet {
			t.Fatalf("spss %d", got.SpansPerSpanSet)
		}
		if !got.Start.Before(got.End) || got.End.Sub(got.Start) > cfg.MaxSearchDuration {
			t.Fatalf("range %v .. %v", got.Start, got.End)
		}
	})
}

// FuzzTagsToTraceQL decodes a tags parameter, turns it into TraceQL and
// parses the TraceQL back, which must give the same tags and durations.
func FuzzTagsToTraceQL(f *testing.F) {
	for _, s := range []string{
		"service.name=cart", `name="a b" root.name=x root.service.name=y`, "status.code=error status=x",
		`k="line\nbreak" "x"=1`, `a="\u00e9.*" ".dot"=1 a.=2`, "my-key/x=1 k=", `x="&& { } ="`,
	} {
		f.Add(s, int64(0), int64(0))
		f.Add(s, int64(100), int64(2000))
	}
	f.Fuzz(func(t *testing.T, raw string, minMs, maxMs int64) {
		tags, err := decodeTags(raw)
		if err != nil {
			return
		}
		minMs, maxMs = max(minMs, 0), max(maxMs, 0)
		q := legacyTraceQL(tags, minMs, maxMs)
		gotTags, gotMin, gotMax := parseLegacyTraceQL(t, q)
		if len(tags) == 0 {
			tags = map[string]string{}
		}
		if v, ok := tags["status.code"]; ok && legacyStatusCodes[v] == "" {
			tags["status.code"] = "unset" // what Tempo maps an unknown status to
		}
		if !reflect.DeepEqual(gotTags, tags) || gotMin != minMs || gotMax != maxMs {
			t.Fatalf("%q -> %s -> %q %d %d, want %q %d %d", raw, q, gotTags, gotMin, gotMax, tags, minMs, maxMs)
		}
		if q2 := legacyTraceQL(tags, minMs, maxMs); q2 != q {
			t.Fatalf("not deterministic: %s / %s", q, q2)
		}
	})
}

// parseLegacyTraceQL is a parser of exactly what legacyTraceQL writes.
func parseLegacyTraceQL(t *testing.T, q string) (map[string]string, int64, int64) {
	t.Helper()
	tags := map[string]string{}
	var minMs, maxMs int64
	if q == "{}" {
		return tags, 0, 0
	}
	columns := map[string]string{}
	for k, v := range legacyColumns {
		columns[v] = k
	}
	rest := q
	for first := true; ; first = false {
		if !first {
			var ok bool
			if rest, ok = strings.CutPrefix(rest, " && "); !ok {
				if rest == "" {
					return tags, minMs, maxMs
				}
				t.Fatalf("%s: want && at %q", q, rest)
			}
		}
		rest = mustCut(t, q, rest, "{ ")
		switch {
		case strings.HasPrefix(rest, "traceDuration "):
			for {
				rest = mustCut(t, q, rest, "traceDuration ")
				op := rest[:2]
				rest = rest[3:]
				i := strings.Index(rest, "ms")
				n, err := strconv.ParseInt(rest[:i], 10, 64)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if op == ">=" {
					minMs = n
				} else {
					maxMs = n
				}
				rest = rest[i+2:]
				if r, ok := strings.CutPrefix(rest, " && "); ok {
					rest = r
					continue
				}
				break
			}
		case strings.HasPrefix(rest, "status = "):
			rest = rest[len("status = "):]
			i := strings.IndexByte(rest, ' ')
			tags["status.code"] = rest[:i]
			rest = rest[i:]
		case strings.HasPrefix(rest, "."):
			rest = rest[1:]
			var key string
			if strings.HasPrefix(rest, `"`) {
				lit, err := strconv.QuotedPrefix(rest)
				if err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				key, _ = strconv.Unquote(lit)
				rest = rest[len(lit):]
			} else {
				i := strings.IndexByte(rest, ' ')
				key, rest = rest[:i], rest[i:]
				if !simpleAttributeName(key) {
					t.Fatalf("%s: unquoted key %q", q, key)
				}
			}
			rest = mustCut(t, q, rest, " = ")
			lit, err := strconv.QuotedPrefix(rest)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			v, _ := strconv.Unquote(lit)
			tags[key] = v
			rest = rest[len(lit):]
		default:
			i := strings.IndexByte(rest, ' ')
			key := columns[rest[:i]]
			if key == "" {
				t.Fatalf("%s: unknown column at %q", q, rest)
			}
			rest = mustCut(t, q, rest[i:], " =~ ")
			lit, err := strconv.QuotedPrefix(rest)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			re, _ := strconv.Unquote(lit)
			inner, ok := strings.CutPrefix(re, ".*")
			inner, ok2 := strings.CutSuffix(inner, ".*")
			if !ok || !ok2 {
				t.Fatalf("%s: regexp %q", q, re)
			}
			if utf8.ValidString(re) {
				rx := regexp.MustCompile("^(?:" + re + ")$")
				if v := unquoteMeta(inner); !strings.Contains(v, "\n") && !rx.MatchString("x"+v+"y") {
					t.Fatalf("%s: %q does not match its value", q, re)
				}
			}
			tags[key] = unquoteMeta(inner)
			rest = rest[len(lit):]
		}
		rest = mustCut(t, q, rest, " }")
	}
}

func mustCut(t *testing.T, q, s, prefix string) string {
	t.Helper()
	r, ok := strings.CutPrefix(s, prefix)
	if !ok {
		t.Fatalf("%s: want %q at %q", q, prefix, s)
	}
	return r
}

// unquoteMeta undoes regexp.QuoteMeta.
func unquoteMeta(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// FuzzMetricsParams checks that any query string gives a range request on
// a grid of its step that ends before the cutoff, an instant request of one
// step, or errors, without panicking.
func FuzzMetricsParams(f *testing.F) {
	for _, s := range []string{
		"q=x", "q=x&start=1699996400&end=1699999970&step=60", "since=15m&step=1.5", "start=2023-11-14T21:13:20Z&end=1699999900000000000",
		"start=1699996400.5&end=1699999000&exemplars=7&instant=true", "step=0", "start=-5&end=5", "step=NaN", "start=1e400.",
	} {
		f.Add(s)
	}
	cfg := DefaultConfig()
	cutoff := testNow.Add(-cfg.QueryEndCutoff)
	f.Fuzz(func(t *testing.T, raw string) {
		vals, _ := url.ParseQuery(raw)
		r, err := parseMetricsRangeParams(vals, cfg, testNow)
		if err == nil {
			if r.Step <= 0 || r.End.Before(r.Start) || r.End.After(cutoff) {
				t.Fatalf("range %+v", r)
			}
			if !r.Instant && (r.Start.UnixNano()%int64(r.Step) != 0 || r.End.UnixNano()%int64(r.Step) != 0) {
				t.Fatalf("range off the grid: %+v", r)
			}
			if r.Exemplars < 1 || r.Exemplars > cfg.MetricsMaxExemplars {
				t.Fatalf("exemplars %d", r.Exemplars)
			}
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
		i, err := parseMetricsInstantParams(vals, cfg, testNow)
		if err == nil {
			if !i.Instant || i.Step != i.End.Sub(i.Start) || i.Step <= 0 || i.End.After(cutoff) || i.Exemplars != 0 {
				t.Fatalf("instant %+v", i)
			}
			if max := cfg.MetricsMaxDuration; i.Step > max {
				t.Fatalf("instant longer than %s: %+v", max, i)
			}
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}
