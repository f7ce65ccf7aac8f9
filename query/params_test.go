package query

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// words is a stand-in for storage.Words: lower-cased runs of letters,
// digits and _.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
}

// wantParamErr checks that err is a *ParamError naming param.
func wantParamErr(t *testing.T, err error, param string) {
	t.Helper()
	var pe *ParamError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ParamError", err, err)
	}
	if pe.Param != param {
		t.Errorf("error %q names %q, want %q", err, pe.Param, param)
	}
	if !strings.HasPrefix(err.Error(), param+": ") || pe.Reason == "" {
		t.Errorf("error %q does not read %q", err, param+": <reason>")
	}
}

func TestParseTraceID(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // hex of the id, or "" for an error
	}{
		{"4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"00000000000000000000000000000001", "00000000000000000000000000000001"},
		{"", ""},
		{"4bf92f3577b34da6a3ce929d0e0e473", ""},   // 31
		{"4bf92f3577b34da6a3ce929d0e0e47366", ""}, // 33
		{"4bf92f3577b34da6", ""},                  // a span id
		{"4bf92f3577b34da6a3ce929d0e0e473g", ""},
		{"00000000000000000000000000000000", ""},
		{"0x4bf92f3577b34da6a3ce929d0e0e47", ""},
		{" 4bf92f3577b34da6a3ce929d0e0e473", ""},
		{"4bf92f3577b34da6a3ce929d0e0e47é", ""},
	} {
		id, err := ParseTraceID(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseTraceID(%q) = %x, want an error", c.in, id)
				continue
			}
			wantParamErr(t, err, "traceID")
			continue
		}
		if err != nil || fmt.Sprintf("%x", id) != c.want {
			t.Errorf("ParseTraceID(%q) = %x, %v; want %s", c.in, id, err, c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1795320000000000000", 1795320000000000000, true},
		{"9223372036854775807", 1<<63 - 1, true},
		{"2026-11-22T12:00:00Z", testNow.UnixNano(), true},
		{"2026-11-22T13:00:00+01:00", testNow.UnixNano(), true},
		{"2026-11-22T12:00:00.000000001Z", testNow.UnixNano() + 1, true},
		{"1970-01-01T00:00:00Z", 0, true},
		{"-1", 0, false},
		{"9223372036854775808", 0, false}, // overflows int64, not RFC 3339
		{"1969-12-31T23:59:59Z", 0, false},
		{"2262-04-12T00:00:00Z", 0, false},
		{"2026-11-22", 0, false},
		{"2026-11-22 12:00:00", 0, false},
		{"yesterday", 0, false},
		{"", 0, false},
		{"1.5", 0, false},
	} {
		got, err := ParseTime("start", c.in)
		if !c.ok {
			if err == nil {
				t.Errorf("ParseTime(%q) = %d, want an error", c.in, got)
				continue
			}
			wantParamErr(t, err, "start")
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseTime(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}

func TestParseTraceSearch(t *testing.T) {
	hour := time.Hour.Nanoseconds()
	nowN := testNow.UnixNano()
	for _, c := range []struct {
		name  string
		query string
		check func(t *testing.T, q TraceSearch)
		param string // expected error's parameter
	}{
		{"defaults", "", func(t *testing.T, q TraceSearch) {
			if q.Limit != DefaultLimit || q.Range != (Range{nowN - hour, nowN}) {
				t.Errorf("got limit %d range %+v", q.Limit, q.Range)
			}
		}, ""},
		{"everything", "service=api&name=GET+%2F&status=ERROR&minDuration=1.5s&maxDuration=2s&attr.http.method=GET&attr.a=&start=100&end=200&limit=1000", func(t *testing.T, q TraceSearch) {
			s := q.Search
			if s.Service != "api" || s.Name != "GET /" || s.Status != 3 || s.MinDurationNano != 1.5e9 || s.MaxDurationNano != 2e9 {
				t.Errorf("search %+v", s)
			}
			if fmt.Sprint(attrs(s.Attributes)) != "[a= http.method=GET]" {
				t.Errorf("attributes %v, want sorted a= and http.method=GET", attrs(s.Attributes))
			}
			if q.Range != (Range{100, 200}) || q.Limit != 1000 {
				t.Errorf("range %+v limit %d", q.Range, q.Limit)
			}
		}, ""},
		{"status unset", "status=unset", func(t *testing.T, q TraceSearch) {
			if q.Search.Status != 1 {
				t.Errorf("status %d", q.Search.Status)
			}
		}, ""},
		{"status ok", "status=Ok", func(t *testing.T, q TraceSearch) {
			if q.Search.Status != 2 {
				t.Errorf("status %d", q.Search.Status)
			}
		}, ""},
		{"only end", "end=2026-11-22T11:00:00Z", func(t *testing.T, q TraceSearch) {
			if q.Range != (Range{nowN - 2*hour, nowN - hour}) {
				t.Errorf("range %+v: want the hour before end", q.Range)
			}
		}, ""},
		{"start equals end", "start=5&end=5", func(t *testing.T, q TraceSearch) {
			if q.Range != (Range{5, 5}) {
				t.Errorf("range %+v", q.Range)
			}
		}, ""},
		{"cache buster", "_=123", nil, ""},
		{"zero max duration means none", "minDuration=1s&maxDuration=0s", nil, ""},
		{"bad status", "status=failed", nil, "status"},
		{"bad minDuration", "minDuration=soon", nil, "minDuration"},
		{"negative minDuration", "minDuration=-1ms", nil, "minDuration"},
		{"bad maxDuration", "maxDuration=1", nil, "maxDuration"},
		{"max below min", "minDuration=2s&maxDuration=1s", nil, "maxDuration"},
		{"empty attr key", "attr.=x", nil, "attr."},
		{"attr twice", "attr.a=1&attr.a=2", nil, "attr.a"},
		{"service twice", "service=a&service=b", nil, "service"},
		{"bad start", "start=noon", nil, "start"},
		{"bad end", "end=noon", nil, "end"},
		{"start after end", "start=2&end=1", nil, "start"},
		{"start after default end", "start=2099-01-01T00:00:00Z", nil, "start"},
		{"limit 0", "limit=0", nil, "limit"},
		{"limit 1001", "limit=1001", nil, "limit"},
		{"limit float", "limit=1.5", nil, "limit"},
		{"unknown", "service=a&zzz=1&aaa=2", nil, "aaa"}, // the first unknown in order
		{"unknown label prefix", "label.a=b", nil, "label.a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseTraceSearch(v, testNow)
			if c.param != "" {
				if err == nil {
					t.Fatalf("no error, want one naming %s", c.param)
				}
				wantParamErr(t, err, c.param)
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if c.check != nil {
				c.check(t, q)
			}
		})
	}
}

func attrs(as []*starlingpb.Attribute) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Key+"="+a.Value)
	}
	return out
}

func TestParseLogSearch(t *testing.T) {
	for _, c := range []struct {
		name  string
		query string
		check func(t *testing.T, q LogSearch)
		param string
	}{
		{"defaults", "", func(t *testing.T, q LogSearch) {
			if q.Limit != DefaultLimit || q.Search.MinSeverity != 0 || len(q.Search.Words) != 0 {
				t.Errorf("got %+v", q)
			}
		}, ""},
		{"severity names", "minSeverity=WARNING", func(t *testing.T, q LogSearch) {
			if q.Search.MinSeverity != 13 {
				t.Errorf("minSeverity %d, want 13", q.Search.MinSeverity)
			}
		}, ""},
		{"severity number", "minSeverity=24", func(t *testing.T, q LogSearch) {
			if q.Search.MinSeverity != 24 {
				t.Errorf("minSeverity %d", q.Search.MinSeverity)
			}
		}, ""},
		{"words", "q=Payment+FAILED,+order-42&service=billing&attr.user=alice", func(t *testing.T, q LogSearch) {
			if fmt.Sprint(q.Search.Words) != "[payment failed order 42]" || q.Search.Service != "billing" || fmt.Sprint(attrs(q.Search.Attributes)) != "[user=alice]" {
				t.Errorf("got %+v", q.Search)
			}
		}, ""},
		{"empty q", "q=", func(t *testing.T, q LogSearch) {
			if len(q.Search.Words) != 0 {
				t.Errorf("words %q", q.Search.Words)
			}
		}, ""},
		{"q of punctuation", "q=%21%3F", nil, "q"},
		{"severity 0", "minSeverity=0", nil, "minSeverity"},
		{"severity 25", "minSeverity=25", nil, "minSeverity"},
		{"severity name", "minSeverity=critical", nil, "minSeverity"},
		{"limit", "limit=x", nil, "limit"},
		{"end", "end=x", nil, "end"},
		{"unknown", "severity=1", nil, "severity"},
		{"name is for traces", "name=x", nil, "name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseLogSearch(v, testNow, words)
			if c.param != "" {
				if err == nil {
					t.Fatalf("no error, want one naming %s", c.param)
				}
				wantParamErr(t, err, c.param)
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if c.check != nil {
				c.check(t, q)
			}
		})
	}
}

func TestParseSeriesSearch(t *testing.T) {
	for _, c := range []struct {
		name  string
		query string
		check func(t *testing.T, q SeriesSearch)
		param string
	}{
		{"name", "name=http_requests_total", func(t *testing.T, q SeriesSearch) {
			if len(q.Matchers) != 1 || q.Matchers[0].GetName() != "__name__" || q.Matchers[0].GetValue() != "http_requests_total" || q.Limit != DefaultLimit {
				t.Errorf("got %+v", q)
			}
		}, ""},
		{"labels only", "label.job=api&label.code=200", func(t *testing.T, q SeriesSearch) {
			var got []string
			for _, m := range q.Matchers {
				got = append(got, m.GetName()+"="+m.GetValue())
			}
			if fmt.Sprint(got) != "[code=200 job=api]" {
				t.Errorf("got %+v", got)
			}
		}, ""},
		{"neither", "", nil, "name"},
		{"empty name", "name=", nil, "name"},
		{"empty label key", "label.=x", nil, "label."},
		{"attr is for traces", "name=x&attr.a=b", nil, "attr.a"},
		{"start after end", "name=x&start=10&end=9", nil, "start"},
		{"limit", "name=x&limit=-3", nil, "limit"},
		{"name twice", "name=a&name=b", nil, "name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseSeriesSearch(v, testNow)
			if c.param != "" {
				if err == nil {
					t.Fatalf("no error, want one naming %s", c.param)
				}
				wantParamErr(t, err, c.param)
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if c.check != nil {
				c.check(t, q)
			}
		})
	}
}

func TestParsePrefixAndNone(t *testing.T) {
	if p, err := ParsePrefix(url.Values{"prefix": {"http."}}); err != nil || p != "http." {
		t.Errorf("ParsePrefix = %q, %v", p, err)
	}
	if p, err := ParsePrefix(url.Values{}); err != nil || p != "" {
		t.Errorf("ParsePrefix() = %q, %v", p, err)
	}
	_, err := ParsePrefix(url.Values{"prefix": {"a", "b"}})
	wantParamErr(t, err, "prefix")
	_, err = ParsePrefix(url.Values{"name": {"a"}})
	wantParamErr(t, err, "name")
	if err := ParseNone(url.Values{"_": {"1"}}); err != nil {
		t.Errorf("ParseNone(_=1) = %v, want nil (cache buster)", err)
	}
	wantParamErr(t, ParseNone(url.Values{"limit": {"1"}}), "limit")
}

func TestParseAutocomplete(t *testing.T) {
	ok := []struct {
		raw  string
		want Autocomplete
	}{
		{"prefix=", Autocomplete{Limit: DefaultLimit}},
		{"prefix=chec&fuzzy=0", Autocomplete{Prefix: "chec", Limit: DefaultLimit}},
		{"prefix=chekout&fuzzy=1&kind=services&limit=5", Autocomplete{Prefix: "chekout", Fuzzy: 1, Kind: "services", Limit: 5}},
		{"prefix=G&kind=values&key=span.http.method&fuzzy=2&limit=1000&_=1", Autocomplete{Prefix: "G", Fuzzy: 2, Kind: "values", Key: "span.http.method", Limit: 1000}},
		{"prefix=x&key=http.method", Autocomplete{Prefix: "x", Key: "http.method", Limit: DefaultLimit}},
	}
	for _, c := range ok {
		v, _ := url.ParseQuery(c.raw)
		got, err := ParseAutocomplete(v)
		if err != nil || got != c.want {
			t.Errorf("ParseAutocomplete(%s) = %+v, %v; want %+v", c.raw, got, err, c.want)
		}
	}
	bad := []struct{ raw, param string }{
		{"", "prefix"},
		{"fuzzy=1", "prefix"},
		{"prefix=a&prefix=b", "prefix"},
		{"prefix=" + strings.Repeat("a", MaxAutocompletePrefix+1), "prefix"},
		{"prefix=a&fuzzy=3", "fuzzy"},
		{"prefix=a&fuzzy=-1", "fuzzy"},
		{"prefix=a&fuzzy=one", "fuzzy"},
		{"prefix=a&kind=tags", "kind"},
		{"prefix=a&kind=values", "key"},
		{"prefix=a&limit=0", "limit"},
		{"prefix=a&limit=1001", "limit"},
		{"prefix=a&scope=span", "scope"},
	}
	for _, c := range bad {
		v, _ := url.ParseQuery(c.raw)
		_, err := ParseAutocomplete(v)
		wantParamErr(t, err, c.param)
	}
}
