package jaeger

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseTraceQuery feeds any query string to the search parser
// (url.Values → TraceQuery) and to GET /api/traces: never a panic, only
// 200 or 400, and every query that passes is one a Querier can run.
func FuzzParseTraceQuery(f *testing.F) {
	for _, seed := range []string{
		"",
		"service=frontend",
		"service=frontend&operation=GET+%2F&limit=20&lookback=1h&start=1704164645123456&end=1704168245123456&minDuration=1.2s&maxDuration=100ms",
		"service=a&tags=%7B%22error%22%3A%22true%22%2C%22http.status_code%22%3A%22500%22%7D",
		"service=a&tag=http.status_code:200&tag=http.url:http://h:80/p&tag=novalue",
		"traceID=0102030405060708090a0b0c0d0e0f10&traceID=1&traceID=1",
		"traceID=zz&service=a",
		"service=a&lookback=2d",
		"service=a&lookback=4w&end=-9223372036854775808",
		"service=a&lookback=custom&start=0&end=1",
		"service=a&limit=-1",
		"service=a&limit=0",
		"service=a&limit=99999999999",
		"service=a&minDuration=2s&maxDuration=1s",
		"service=a&minDuration=-1ns",
		"service=a&raw=true&prettyPrint=true",
		"service=%zz&start=9223372036854775807",
		"tags=null&service=x",
		"tags=%7B%7D&tag=%3A",
		"service=a;b&start=1&start=x",
	} {
		f.Add(seed)
	}
	cfg := DefaultConfig()
	h := newTestAPI(f, &fakeQuerier{traces: fixtures()})
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw) // a bad pair is dropped, as net/http's Query does
		p, err := cfg.parseSearch(v, testNow)

		req := httptest.NewRequest(http.MethodGet, "/jaeger/api/traces", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if want := map[bool]int{true: http.StatusBadRequest, false: http.StatusOK}[err != nil]; rec.Code != want {
			t.Fatalf("%q: status %d, want %d (parse error %v): %s", raw, rec.Code, want, err, rec.Body)
		}
		if err != nil {
			if err.Error() == "" || !strings.Contains(rec.Body.String(), `"code":400`) {
				t.Fatalf("%q: error %q, body %s", raw, err, rec.Body)
			}
			return
		}

		again, err2 := cfg.parseSearch(v, testNow)
		if err2 != nil || !reflect.DeepEqual(p, again) {
			t.Fatalf("%q: parsing twice differs", raw)
		}
		q := p.query
		if q.Limit < 1 || q.Limit > cfg.MaxLimit {
			t.Fatalf("%q: limit %d", raw, q.Limit)
		}
		if q.MinDuration < 0 || q.MaxDuration < 0 || (q.MinDuration > 0 && q.MaxDuration > 0 && q.MinDuration > q.MaxDuration) {
			t.Fatalf("%q: durations %v %v", raw, q.MinDuration, q.MaxDuration)
		}
		if q.Service != v.Get("service") || q.Operation != v.Get("operation") {
			t.Fatalf("%q: service %q operation %q", raw, q.Service, q.Operation)
		}
		if q.Service == "" && len(p.traceIDs) == 0 {
			t.Fatalf("%q: neither service nor trace IDs", raw)
		}
		if q.Tags != nil && len(q.Tags) == 0 {
			t.Fatalf("%q: empty non-nil tags", raw)
		}
		if v.Get("end") == "" && !q.End.Equal(testNow) {
			t.Fatalf("%q: end %v without an end parameter", raw, q.End)
		}
		if v.Get("start") == "" && q.Start.After(q.End) {
			t.Fatalf("%q: defaulted start %v after end %v", raw, q.Start, q.End)
		}
		if len(p.traceIDs) > cfg.MaxLimit {
			t.Fatalf("%q: %d trace IDs", raw, len(p.traceIDs))
		}
		seen := map[string]bool{}
		for _, id := range p.traceIDs {
			if s := traceIDString(id); seen[s] {
				t.Fatalf("%q: trace ID %s twice", raw, s)
			} else {
				seen[s] = true
			}
		}
		if v.Get("start") == "" && !p.idStart.IsZero() {
			t.Fatalf("%q: idStart %v", raw, p.idStart)
		}
	})
}

// FuzzParseTraceID feeds any string to the trace ID parsers: never a
// panic; a hex ID prints back (as Jaeger prints it) to itself and is read
// the same in the path; a base64 path ID is at most 24 characters.
func FuzzParseTraceID(f *testing.F) {
	for _, seed := range []string{
		"", "0", "1", traceAHex, strings.ToUpper(traceAHex), traceBHex, "0000000000000000" + traceBHex,
		strings.Repeat("f", 32), strings.Repeat("f", 33), "x0000000000000000", "+1", "0x1", "1_0",
		"AQIDBAUGBwgJCgsMDQ4PEA==", "AQIDBAUGBwgJCgsMDQ4PEA", "_-8AAAAAAAAAAAAAAAAAAA", "CwsLCwsLCws=", "zz", "AAAAAA==",
		"é", "\x00",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseTraceIDHex(s)
		pathID, pathErr := parseTraceIDPath(s)
		if err == nil {
			if s == "" || len(s) > 32 {
				t.Fatalf("%q accepted as hex", s)
			}
			printed := traceIDString(id)
			if len(printed) != 16 && len(printed) != 32 || printed != strings.ToLower(printed) {
				t.Fatalf("%q printed as %q", s, printed)
			}
			if back, err := parseTraceIDHex(printed); err != nil || back != id {
				t.Fatalf("%q: %q reads back as %x, %v", s, printed, back[:], err)
			}
			if pathErr != nil || pathID != id {
				t.Fatalf("%q: path reads %x, %v; hex %x", s, pathID[:], pathErr, id[:])
			}
			return
		}
		if pathErr == nil && len(s) > 24 {
			t.Fatalf("%q (%d characters) accepted as base64", s, len(s))
		}
		if pathErr != nil && pathErr.Error() == "" {
			t.Fatalf("%q: empty error", s)
		}
		if _, err := parseTrace(s, url.Values{}); (err == nil) != (pathErr == nil) {
			t.Fatalf("%q: parseTrace %v, path parser %v", s, err, pathErr)
		}
	})
}
