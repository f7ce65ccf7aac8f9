package jaeger

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBadParameters checks every parameter error: a 400 with Jaeger's
// envelope and wording, before the Querier is called.
func TestBadParameters(t *testing.T) {
	long := strings.Repeat("a", 33)
	many := "/jaeger/api/traces?" + strings.Repeat("traceID=1&", 1501)
	for _, c := range []struct {
		target, msg string
	}{
		// GET /api/traces (query_parser.go's parseTraceQueryParams)
		{"/jaeger/api/traces", "parameter 'service' is required"},
		{"/jaeger/api/traces?service=", "parameter 'service' is required"},
		{"/jaeger/api/traces?service=s&start=x", `unable to parse param 'start': strconv.ParseInt: parsing "x": invalid syntax`},
		{"/jaeger/api/traces?service=s&start=1.5", `unable to parse param 'start': strconv.ParseInt: parsing "1.5": invalid syntax`},
		{"/jaeger/api/traces?service=s&end=99999999999999999999", `unable to parse param 'end': strconv.ParseInt: parsing "99999999999999999999": value out of range`},
		{"/jaeger/api/traces?service=s&lookback=1x", `unable to parse param 'lookback': time: unknown unit "x" in duration "1x"`},
		{"/jaeger/api/traces?service=s&lookback=-1h", `unable to parse param 'lookback': lookback "-1h" must be positive`},
		{"/jaeger/api/traces?service=s&lookback=0d", `unable to parse param 'lookback': lookback "0d" out of range`},
		{"/jaeger/api/traces?service=s&lookback=99999999w", `unable to parse param 'lookback': lookback "99999999w" out of range`},
		{"/jaeger/api/traces?service=s&tag=novalue", "malformed 'tag' parameter, expecting key:value, received: novalue"},
		{"/jaeger/api/traces?service=s&tags={bad", "malformed 'tags' parameter, cannot unmarshal JSON: invalid character 'b' looking for beginning of object key string"},
		{"/jaeger/api/traces?service=s&tags={\"error\":true}", "malformed 'tags' parameter, cannot unmarshal JSON: json: cannot unmarshal bool into Go value of type string"},
		{"/jaeger/api/traces?service=s&limit=x", `unable to parse param 'limit': strconv.ParseInt: parsing "x": invalid syntax`},
		{"/jaeger/api/traces?service=s&limit=3000000000", `unable to parse param 'limit': strconv.ParseInt: parsing "3000000000": value out of range`},
		{"/jaeger/api/traces?service=s&limit=-1", "unable to parse param 'limit': must not be negative: -1"},
		{"/jaeger/api/traces?service=s&minDuration=1x", `unable to parse param 'minDuration': time: unknown unit "x" in duration "1x"`},
		{"/jaeger/api/traces?service=s&minDuration=x", `unable to parse param 'minDuration': time: invalid duration "x"`},
		{"/jaeger/api/traces?service=s&maxDuration=-1s", "unable to parse param 'maxDuration': must not be negative: -1s"},
		{"/jaeger/api/traces?service=s&minDuration=2s&maxDuration=1s", "'maxDuration' should be greater than 'minDuration'"},
		{"/jaeger/api/traces?traceID=zz", `cannot parse traceID param: strconv.ParseUint: parsing "zz": invalid syntax`},
		{"/jaeger/api/traces?traceID=", `cannot parse traceID param: strconv.ParseUint: parsing "": invalid syntax`},
		{"/jaeger/api/traces?traceID=" + long, "cannot parse traceID param: TraceID cannot be longer than 32 hex characters: " + long},
		{"/jaeger/api/traces?traceID=x0000000000000000", `cannot parse traceID param: strconv.ParseUint: parsing "x": invalid syntax`},
		{many, "unable to parse param 'traceID': 1501 trace IDs, more than the 1500 allowed"},
		{"/jaeger/api/traces?service=s&raw=maybe", `unable to parse param 'raw': strconv.ParseBool: parsing "maybe": invalid syntax`},
		// GET /api/traces/{traceID}
		{"/jaeger/api/traces/zz!", `cannot parse traceID param: strconv.ParseUint: parsing "zz!": invalid syntax`},
		// "zz" is not hex but is unpadded base64 of one byte, as in Jaeger.
		{"/jaeger/api/traces/zz", "cannot parse traceID param: invalid length for TraceID"},
		{"/jaeger/api/traces/AAAAAA==", "cannot parse traceID param: invalid length for TraceID"},
		{"/jaeger/api/traces/" + long, "cannot parse traceID param: TraceID cannot be longer than 32 hex characters: " + long},
		{"/jaeger/api/traces/1?start=x", `unable to parse param 'start': strconv.ParseInt: parsing "x": invalid syntax`},
		{"/jaeger/api/traces/1?end=x", `unable to parse param 'end': strconv.ParseInt: parsing "x": invalid syntax`},
		{"/jaeger/api/traces/1?raw=2", `unable to parse param 'raw': strconv.ParseBool: parsing "2": invalid syntax`},
		// GET /api/operations
		{"/jaeger/api/operations", "parameter 'service' is required"},
		{"/jaeger/api/operations?service=s&spanKind=all", "unable to parse param 'spanKind': unsupported span kind: 'all'"},
		// GET /api/dependencies (parseDependenciesQueryParams)
		{"/jaeger/api/dependencies?endTs=x", `unable to parse param 'endTs': strconv.ParseInt: parsing "x": invalid syntax`},
		{"/jaeger/api/dependencies?lookback=1h", `unable to parse param 'lookback': strconv.ParseInt: parsing "1h": invalid syntax`},
		{"/jaeger/api/dependencies?lookback=-5", "unable to parse param 'lookback': must not be negative: -5"},
		{"/jaeger/api/dependencies?lookback=9223372036855", "unable to parse param 'lookback': 9223372036855 ms is too long"},
	} {
		f := newFake()
		rec := get(newTestAPI(t, f), c.target)
		if len(c.target) > 120 {
			c.target = c.target[:120] + "…"
		}
		t.Run(c.target, func(t *testing.T) {
			wantError(t, rec, http.StatusBadRequest, c.msg)
			if len(f.queries)+len(f.traceCalls)+len(f.opCalls)+len(f.depCalls) != 0 {
				t.Errorf("the Querier was called")
			}
		})
	}
}

func TestParseLookback(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"5m", 5 * time.Minute}, {"15m", 15 * time.Minute}, {"1h", time.Hour}, {"24h", 24 * time.Hour},
		{"2d", 48 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"2w", 14 * 24 * time.Hour}, {"4w", 28 * 24 * time.Hour},
		{"90s", 90 * time.Second}, {"1.5h", 90 * time.Minute},
	} {
		if got, err := parseLookback(c.in); err != nil || got != c.want {
			t.Errorf("parseLookback(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "d", "w", "1.5d", "-2d", "0", "0s", "1y", "custom"} {
		if got, err := parseLookback(in); err == nil {
			t.Errorf("parseLookback(%q) = %v, want an error", in, got)
		}
	}
}

func TestParseTags(t *testing.T) {
	got, err := parseTags([]string{"a:1", "url:http://h:80/p", "empty:"}, []string{`{"a":"2","b":"3"}`, `{}`, `null`})
	want := map[string]string{"a": "2", "url": "http://h:80/p", "empty": "", "b": "3"}
	if err != nil || len(got) != len(want) {
		t.Fatalf("parseTags = %v, %v", got, err)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("tag %q = %q, want %q", k, got[k], v)
		}
	}
	if got, err := parseTags(nil, []string{"{}", "null"}); got != nil || err != nil {
		t.Errorf("no tags: %v, %v", got, err)
	}
}

func TestParseTraceIDs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // traceIDString, "" for an error
		path bool   // also accepted in the path only (base64)
	}{
		{"1", "0000000000000001", false},
		{"0", "0000000000000000", false},
		{"ABCdef", "0000000000abcdef", false},
		{traceAHex, traceAHex, false},
		{"10000000000000000", "00000000000000010000000000000000", false},
		{"+1", "", false},
		{"0x1", "", false},
		{"1_0", "", false},
		{"AQIDBAUGBwgJCgsMDQ4PEA==", traceAHex, true},
		{"AQIDBAUGBwgJCgsMDQ4PEA", traceAHex, true},
		{"_-8AAAAAAAAAAAAAAAAAAA", "ffef0000000000000000000000000000", true},
		{"CwsLCwsLCws=", traceBHex, true},
	} {
		id, err := parseTraceIDHex(c.in)
		switch {
		case c.path && err == nil:
			t.Errorf("hex %q: accepted as %s", c.in, traceIDString(id))
		case !c.path && c.want == "" && err == nil:
			t.Errorf("hex %q: accepted as %s", c.in, traceIDString(id))
		case !c.path && c.want != "" && (err != nil || traceIDString(id) != c.want):
			t.Errorf("hex %q: %s, %v; want %s", c.in, traceIDString(id), err, c.want)
		}
		id, err = parseTraceIDPath(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("path %q: accepted as %s", c.in, traceIDString(id))
			}
		} else if err != nil || traceIDString(id) != c.want {
			t.Errorf("path %q: %s, %v; want %s", c.in, traceIDString(id), err, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.DefaultLimit = 0 }, "default limit 0 must be at least 1"},
		{func(c *Config) { c.MaxLimit = -1 }, "max limit -1 must be at least 1"},
		{func(c *Config) { c.DefaultLimit = 2000 }, "default limit 2000 must not exceed max limit 1500"},
		{func(c *Config) { c.DefaultLookback = 0 }, "default lookback 0s must be positive"},
		{func(c *Config) { c.DefaultDependenciesLookback = -time.Hour }, "default dependencies lookback -1h0m0s must be positive"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate() = %v, want %q", err, c.want)
		}
		if _, err := New(cfg, newFake(), nil); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New with a bad config: %v", err)
		}
	}
	cfg := DefaultConfig()
	cfg.DefaultLookback, cfg.MaxLimit = 0, 0
	if err := cfg.Validate(); strings.Count(err.Error(), ErrInvalidConfig.Error()) != 2 {
		t.Errorf("two bad fields: %v", err)
	}
	if _, err := New(DefaultConfig(), nil, nil); !errors.Is(err, ErrMissingQuerier) {
		t.Errorf("New without a Querier: %v", err)
	}
}
