package query

import (
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/starling-otel/starling/query/traceql"
)

// checkParamErr fails unless err is nil or a *ParamError (not wrapped:
// the API maps exactly this type to 400) that reads "<param>: <reason>".
func checkParamErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	pe, ok := err.(*ParamError)
	if !ok {
		t.Fatalf("%s: error %v is a %T, not a *ParamError", what, err, err)
	}
	if pe.Param == "" || pe.Reason == "" || err.Error() != pe.Param+": "+pe.Reason {
		t.Fatalf("%s: malformed error %q (%+v)", what, err, pe)
	}
}

func checkRange(t *testing.T, what string, r Range, limit int) {
	t.Helper()
	if r.Start > r.End || r.Start < -DefaultRange.Nanoseconds() {
		t.Fatalf("%s: range %+v", what, r)
	}
	if limit < 1 || limit > MaxLimit {
		t.Fatalf("%s: limit %d", what, limit)
	}
}

// FuzzAPIParams feeds arbitrary query strings to every parameter parser of
// the API: no panic, only *ParamError errors, and sane results.
func FuzzAPIParams(f *testing.F) {
	for _, s := range []string{
		"",
		"service=api&name=GET+%2F&status=error&minDuration=1.5s&maxDuration=2s&attr.http.method=GET&start=100&end=200&limit=1000",
		"minSeverity=warn&q=payment+failed&attr.user=alice&start=2026-11-22T12:00:00Z&end=2026-11-22T13:00:00.5%2B01:00",
		"name=http.requests&label.service.name=api&label.=x&limit=0",
		"prefix=http.&_=1",
		"prefix=chekout&fuzzy=1&kind=services&limit=5",
		"prefix=G&kind=values&key=span.http.method&fuzzy=2&limit=1000",
		"prefix=&fuzzy=3&kind=values",
		"start=-1&end=9223372036854775807",
		"attr.a=1&attr.a=2&%zz",
		"attr.http.status_code=500&attr.a%20b=1.5&attr.x.=true&attr.%22q=-7",
		"q=%7B+status+%3D+error+%7D&spss=5&explain=true",
		"4bf92f3577b34da6a3ce929d0e0e4736",
		"00000000000000000000000000000000",
		"2262-04-11T23:47:16.854775807Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// ParseQuery returns what it could parse along with an error; the
		// server (net/http) does the same.
		v, _ := url.ParseQuery(raw)

		ts, err := ParseTraceSearch(v, testNow)
		checkParamErr(t, "ParseTraceSearch", err)
		if err == nil {
			checkRange(t, "ParseTraceSearch", ts.Range, ts.Limit)
			if s := ts.Search; s.MinDurationNano < 0 || s.MaxDurationNano < 0 || s.Status > 3 ||
				(s.MaxDurationNano > 0 && s.MaxDurationNano < s.MinDurationNano) {
				t.Fatalf("ParseTraceSearch: %+v", s)
			}
			for i := 1; i < len(ts.Search.Attributes); i++ {
				if ts.Search.Attributes[i-1].Key >= ts.Search.Attributes[i].Key {
					t.Fatalf("attributes not sorted and unique: %v", ts.Search.Attributes)
				}
			}
			// The condition parameters always make valid TraceQL.
			if _, given := v["q"]; !given {
				if _, err := traceql.Parse(ts.Query); err != nil {
					t.Fatalf("LegacyTraceQL(%v) = %q: %v", ts.Search, ts.Query, err)
				}
			}
		}

		ls, err := ParseLogSearch(v, testNow, words)
		checkParamErr(t, "ParseLogSearch", err)
		if err == nil {
			checkRange(t, "ParseLogSearch", ls.Range, ls.Limit)
			if sev := ls.Search.MinSeverity; sev < 0 || sev > 24 {
				t.Fatalf("ParseLogSearch: minSeverity %d", sev)
			}
		}

		ss, err := ParseSeriesSearch(v, testNow)
		checkParamErr(t, "ParseSeriesSearch", err)
		if err == nil {
			checkRange(t, "ParseSeriesSearch", ss.Range, ss.Limit)
			if len(ss.Matchers) == 0 {
				t.Fatalf("ParseSeriesSearch: neither name nor labels")
			}
		}

		_, err = ParsePrefix(v)
		checkParamErr(t, "ParsePrefix", err)

		ac, err := ParseAutocomplete(v)
		checkParamErr(t, "ParseAutocomplete", err)
		if err == nil {
			if ac.Fuzzy < 0 || ac.Fuzzy > MaxFuzzy || ac.Limit < 1 || ac.Limit > MaxLimit ||
				len(ac.Prefix) > MaxAutocompletePrefix || (ac.Kind == AutocompleteValues && ac.Key == "") {
				t.Fatalf("ParseAutocomplete: %+v", ac)
			}
			if _, ok := v["prefix"]; !ok {
				t.Fatalf("ParseAutocomplete: no prefix given, no error")
			}
		}
		checkParamErr(t, "ParseNone", ParseNone(v))

		id, err := ParseTraceID(raw)
		checkParamErr(t, "ParseTraceID", err)
		if err == nil && hex.EncodeToString(id[:]) != strings.ToLower(raw) {
			t.Fatalf("ParseTraceID(%q) = %x", raw, id)
		}

		n, err := ParseTime("start", raw)
		checkParamErr(t, "ParseTime", err)
		if err == nil && n < 0 {
			t.Fatalf("ParseTime(%q) = %d", raw, n)
		}
	})
}
