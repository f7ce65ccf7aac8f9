package tempo

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

func TestParseSearchParams(t *testing.T) {
	recent := SearchRequest{Start: testNow.Add(-20 * time.Minute), End: testNow, Limit: 20, SpansPerSpanSet: 3}
	with := func(f func(*SearchRequest)) SearchRequest {
		r := recent
		f(&r)
		return r
	}
	ranged := func(q string, start, end int64) SearchRequest {
		return SearchRequest{Query: q, Start: time.Unix(start, 0), End: time.Unix(end, 0), Limit: 20, SpansPerSpanSet: 3}
	}
	tests := []struct {
		query   string
		want    SearchRequest
		wantErr string
	}{
		{"", with(func(r *SearchRequest) { r.Query = "{}" }), ""},
		{"q=%7B+status%3Derror+%7D", with(func(r *SearchRequest) { r.Query = "{ status=error }" }), ""},
		{"q={}&start=1700000000&end=1700003600", ranged("{}", 1700000000, 1700003600), ""},
		{"q={}&limit=5&spss=10", with(func(r *SearchRequest) { r.Query, r.Limit, r.SpansPerSpanSet = "{}", 5, 10 }), ""},
		{"q={}&spss=0", with(func(r *SearchRequest) { r.Query = "{}" }), ""},
		{"q={}&limit=262144&spss=100", with(func(r *SearchRequest) { r.Query, r.Limit, r.SpansPerSpanSet = "{}", 262144, 100 }), ""},
		// empty parameters are absent
		{"q=&tags=&limit=&start=&end=", with(func(r *SearchRequest) { r.Query = "{}" }), ""},
		// q ignores durations (Tempo parses and checks them, then runs the TraceQL)
		{"q={}&minDuration=1s", with(func(r *SearchRequest) { r.Query = "{}" }), ""},
		// legacy tags
		{"tags=service.name%3Dcart", with(func(r *SearchRequest) { r.Query = `{ resource.service.name =~ ".*cart.*" }` }), ""},
		{"tags=service.name%3Dcart&minDuration=600ms&start=1700000000&end=1700003600",
			ranged(`{ resource.service.name =~ ".*cart.*" } && { traceDuration >= 600ms }`, 1700000000, 1700003600), ""},
		{"minDuration=1.5s&maxDuration=2s", with(func(r *SearchRequest) {
			r.Query = "{ traceDuration >= 1500ms && traceDuration <= 2000ms }"
		}), ""},
		{"minDuration=500us", with(func(r *SearchRequest) { r.Query = "{}" }), ""}, // truncated to 0ms: no bound
		{"maxDuration=1s&minDuration=1s", with(func(r *SearchRequest) {
			r.Query = "{ traceDuration >= 1000ms && traceDuration <= 1000ms }"
		}), ""},
		// old style: plain parameters are tags when there is no q, tags, start or end
		{"service.name=cart&limit=3&foo=", with(func(r *SearchRequest) {
			r.Query, r.Limit = `{ resource.service.name =~ ".*cart.*" }`, 3
		}), ""},
		{"service.name=cart&start=1700000000&end=1700003600", ranged("{}", 1700000000, 1700003600), ""},
		// errors, in Tempo's words
		{"start=abc", SearchRequest{}, `invalid start: strconv.ParseUint: parsing "abc": invalid syntax`},
		{"start=-1", SearchRequest{}, `invalid start: strconv.ParseUint: parsing "-1": invalid syntax`},
		{"start=1700000000000", SearchRequest{}, `invalid start: strconv.ParseUint: parsing "1700000000000": value out of range`},
		{"end=x", SearchRequest{}, `invalid end: strconv.ParseUint: parsing "x": invalid syntax`},
		{"q={}&tags=a%3Db", SearchRequest{}, "invalid request: can't specify tags and q in the same query"},
		{"tags=a%3Db+a%3Dc", SearchRequest{}, "invalid tags: tag a has been set twice"},
		{"tags=%3Db", SearchRequest{}, "invalid tags: unexpected '=' at pos 1"},
		{"tags=a%3D%22b", SearchRequest{}, "invalid tags: unterminated quoted value at pos 5"},
		{"minDuration=abc", SearchRequest{}, `invalid minDuration: time: invalid duration "abc"`},
		{"maxDuration=10", SearchRequest{}, `invalid maxDuration: time: missing unit in duration "10"`},
		{"minDuration=-1s", SearchRequest{}, "invalid minDuration: must not be negative"},
		{"minDuration=2s&maxDuration=1s", SearchRequest{}, "invalid maxDuration: must be greater than minDuration"},
		{"limit=abc", SearchRequest{}, `invalid limit: strconv.ParseUint: parsing "abc": invalid syntax`},
		{"limit=0", SearchRequest{}, "invalid limit: must be a positive number"},
		{"limit=262145", SearchRequest{}, "limit 262145 exceeds max limit 262144"},
		{"spss=-3", SearchRequest{}, `invalid spss: strconv.ParseUint: parsing "-3": invalid syntax`},
		{"spss=101", SearchRequest{}, "spans per span set exceeds 100. received 101"},
		{"start=10&end=10", SearchRequest{}, "http parameter start must be before end. received start=10 end=10"},
		{"start=10", SearchRequest{}, "http parameter start must be before end. received start=10 end=0"},
		{"start=1&end=604802", SearchRequest{}, "range specified by start and end exceeds 168h0m0s. received start=1 end=604802"},
		{"end=1700000000", SearchRequest{}, "range specified by start and end exceeds 168h0m0s. received start=0 end=1700000000"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			vals, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseSearchParams(vals, DefaultConfig(), testNow)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, got, tt.want)
		})
	}
}

func TestParseSearchParamsConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DefaultLimit, cfg.MaxLimit = 7, 0
	cfg.DefaultSpansPerSpanSet, cfg.MaxSpansPerSpanSet = 5, 0
	cfg.MaxSearchDuration = 0
	vals := url.Values{"q": {"{}"}, "limit": {"1000000"}, "spss": {"1000"}, "start": {"1"}, "end": {"1700000000"}}
	got, err := parseSearchParams(vals, cfg, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.Limit != 1000000 || got.SpansPerSpanSet != 1000 {
		t.Fatalf("got %+v", got)
	}
	got, err = parseSearchParams(url.Values{"spss": {"0"}}, cfg, testNow)
	if err != nil || got.Limit != 7 || got.SpansPerSpanSet != 5 {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestSearchHandler(t *testing.T) {
	q := &fakeQuerier{searchRes: SearchResult{
		Traces: []*starlingpb.TraceMatch{
			{
				TraceId:         []byte{0, 0, 0, 0, 0, 0, 0, 0, 0x2f, 0x3e, 0x0c, 0xee, 0x77, 0xae, 0x5d, 0xc9},
				RootServiceName: "shop-backend",
				RootSpanName:    "update-billing",
				StartUnixNano:   1684778327699392724,
				DurationNano:    557_999_999,
				SpanSets: []*starlingpb.SpanSetMatch{{
					Matched: 1,
					Spans: []*starlingpb.SpanMatch{{
						SpanId:        []byte{0, 0x3d, 0x62, 0x3c, 0x76, 0x51, 0x4f, 0x8e},
						Name:          "update",
						StartUnixNano: 1684778327735077898,
						DurationNano:  446979497,
						Attributes: []*starlingpb.TypedAttribute{
							{Key: "status", Value: &starlingpb.TypedAttribute_StringValue{StringValue: "error"}},
							{Key: "http.status_code", Value: &starlingpb.TypedAttribute_IntValue{IntValue: 500}},
						},
					}},
				}, {
					Matched:    3,
					Attributes: []*starlingpb.TypedAttribute{{Key: "count", Value: &starlingpb.TypedAttribute_DoubleValue{DoubleValue: 1.5}}},
				}},
				ServiceStats: []*starlingpb.ServiceSpanStats{
					{Service: "shop-backend", SpanCount: 4, ErrorCount: 1},
					{Service: "postgres", SpanCount: 2},
				},
			},
			{ // older; no root span yet, no spansets
				TraceId:       []byte{0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
				StartUnixNano: 1684778300000000000,
				DurationNano:  999_999,
			},
			{ // the newest: answered first; with limit=2 the oldest is dropped
				TraceId:       []byte{1},
				StartUnixNano: 1684778400000000000,
				RootSpanName:  "GET /",
			},
		},
		InspectedTraces: 3100, InspectedBytes: 3811736, TotalJobs: 3, CompletedJobs: 3,
	}}
	mux := newTestMux(t, DefaultConfig(), q)
	rec := get(t, mux, "/tempo/api/search?q=%7B%7D&limit=2&start=1684778000&end=1684779000")
	wantJSON(t, rec, `{"traces":[`+
		`{"traceID":"1","rootServiceName":"\u003croot span not yet received\u003e","rootTraceName":"GET /","startTimeUnixNano":"1684778400000000000"},`+
		`{"traceID":"2f3e0cee77ae5dc9","rootServiceName":"shop-backend","rootTraceName":"update-billing","startTimeUnixNano":"1684778327699392724","durationMs":557,`+
		`"spanSet":{"spans":[{"spanID":"003d623c76514f8e","name":"update","startTimeUnixNano":"1684778327735077898","durationNanos":"446979497",`+
		`"attributes":[{"key":"status","value":{"stringValue":"error"}},{"key":"http.status_code","value":{"intValue":"500"}}]}],"matched":1},`+
		`"spanSets":[{"spans":[{"spanID":"003d623c76514f8e","name":"update","startTimeUnixNano":"1684778327735077898","durationNanos":"446979497",`+
		`"attributes":[{"key":"status","value":{"stringValue":"error"}},{"key":"http.status_code","value":{"intValue":"500"}}]}],"matched":1},`+
		`{"matched":3,"attributes":[{"key":"count","value":{"doubleValue":1.5}}]}],`+
		`"serviceStats":{"postgres":{"spanCount":2},"shop-backend":{"spanCount":4,"errorCount":1}}}],`+
		`"metrics":{"inspectedTraces":3100,"inspectedBytes":"3811736","completedJobs":3,"totalJobs":3}}`)

	var got jSearchResponse
	decodeStrict(t, rec.Body.Bytes(), &got)
	if len(got.Traces) != 2 || got.Traces[1].SpanSet == nil || len(got.Traces[1].SpanSets) != 2 ||
		*got.Traces[1].SpanSets[1].Matched != 3 || *got.Traces[1].DurationMs != 557 ||
		*got.Traces[1].SpanSet.Spans[0].Attributes[1].Value.IntValue != "500" ||
		*got.Traces[1].ServiceStats["shop-backend"].ErrorCount != 1 || got.Metrics.InspectedBytes != "3811736" {
		t.Fatalf("decoded %+v", got)
	}
	wantEqual(t, q.searchReqs, []SearchRequest{{
		Query: "{}", Start: time.Unix(1684778000, 0), End: time.Unix(1684779000, 0), Limit: 2, SpansPerSpanSet: 3,
	}})
}

func TestSearchEmptyAndPadded(t *testing.T) {
	q := &fakeQuerier{}
	mux := newTestMux(t, DefaultConfig(), q)
	wantJSON(t, get(t, mux, "/tempo/api/search?tags=name%3Dfoo"), `{"traces":[],"metrics":{}}`)
	wantEqual(t, q.searchReqs[0].Query, `{ name =~ ".*foo.*" }`)

	cfg := DefaultConfig()
	cfg.LeftPadTraceIDs = true
	q = &fakeQuerier{searchRes: SearchResult{Traces: []*starlingpb.TraceMatch{{TraceId: []byte{0, 0, 0xab}, RootServiceName: "a"}}}}
	mux = newTestMux(t, cfg, q)
	wantJSON(t, get(t, mux, "/tempo/api/search"),
		`{"traces":[{"traceID":"000000000000000000000000000000ab","rootServiceName":"a"}],"metrics":{}}`)
}

func TestSearchParamErrorsAnswer400(t *testing.T) {
	mux := newTestMux(t, DefaultConfig(), &fakeQuerier{})
	wantStatus(t, get(t, mux, "/tempo/api/search?limit=0"), http.StatusBadRequest, "invalid limit: must be a positive number")
	wantStatus(t, get(t, mux, "/tempo/api/search?tags=a%3D%22x%5Cq%22"), http.StatusBadRequest, "invalid tags: invalid quoted value at pos 8")
}

func TestSearchIDs(t *testing.T) {
	tests := []struct {
		id         []byte
		trace, pad string
	}{
		{[]byte{0x00, 0x01}, "1", "00000000000000000000000000000001"},
		{[]byte{}, "", "00000000000000000000000000000000"},
		{[]byte{0xab, 0xcd}, "abcd", "0000000000000000000000000000abcd"},
	}
	for _, tt := range tests {
		if got := traceIDString(tt.id, false); got != tt.trace {
			t.Errorf("traceIDString(%x) = %q, want %q", tt.id, got, tt.trace)
		}
		if got := traceIDString(tt.id, true); got != tt.pad {
			t.Errorf("padded traceIDString(%x) = %q, want %q", tt.id, got, tt.pad)
		}
	}
	for id, want := range map[string]string{
		"\x00\x00\x00\x00\x00\x00\x00\x01": "0000000000000001",
		"\x12\x34\x56\x78\x9a\xbc\xde\xf0": "123456789abcdef0",
		"\x01":                             "0000000000000001",
		"":                                 "0000000000000000",
	} {
		if got := spanIDString([]byte(id)); got != want {
			t.Errorf("spanIDString(%x) = %q, want %q", id, got, want)
		}
	}
}
