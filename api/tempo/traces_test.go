package tempo

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// testTrace is one resource with a server span and its child.
func testTrace() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "my.service")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("my.library")
	ss.Scope().SetVersion("1.0.0")
	tid := pcommon.TraceID{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	root := ss.Spans().AppendEmpty()
	root.SetTraceID(tid)
	root.SetSpanID(pcommon.SpanID{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73})
	root.SetName("I'm a server span")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(1544712660000000000)
	root.SetEndTimestamp(1544712661000000000)
	root.Attributes().PutStr("my.span.attr", "some value")
	root.Attributes().PutInt("http.status_code", 500)
	root.Status().SetCode(ptrace.StatusCodeError)
	child := ss.Spans().AppendEmpty()
	child.SetTraceID(tid)
	child.SetSpanID(pcommon.SpanID{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74})
	child.SetParentSpanID(root.SpanID())
	child.SetName("child")
	child.SetStartTimestamp(1544712660100000000)
	child.SetEndTimestamp(1544712660200000000)
	ev := child.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(1544712660150000000)
	ev.Attributes().PutDouble("ratio", 0.25)
	return td
}

// testTraceJSON is testTrace as Tempo writes it, with its list named name.
func testTraceJSON(name string) string {
	return `{"` + name + `":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},` +
		`"scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0"},"spans":[` +
		`{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXM=","name":"I'm a server span","kind":"SPAN_KIND_SERVER",` +
		`"startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",` +
		`"attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}},{"key":"http.status_code","value":{"intValue":"500"}}],` +
		`"status":{"code":"STATUS_CODE_ERROR"}},` +
		`{"traceId":"W47/95gDgQPSabYzgT/GDA==","spanId":"7uGbfsPBsXQ=","parentSpanId":"7uGbfsPBsXM=","name":"child",` +
		`"startTimeUnixNano":"1544712660100000000","endTimeUnixNano":"1544712660200000000",` +
		`"events":[{"timeUnixNano":"1544712660150000000","name":"exception","attributes":[{"key":"ratio","value":{"doubleValue":0.25}}]}],` +
		`"status":{}}]}]}]}`
}

func TestTraceV1JSON(t *testing.T) {
	q := &fakeQuerier{trace: testTrace(), found: true}
	mux := newTestMux(t, DefaultConfig(), q)
	wantJSON(t, get(t, mux, "/tempo/api/traces/5B8EFFF798038103D269B633813FC60C"), testTraceJSON("batches"))
	wantEqual(t, q.traceCalls, []traceCall{{id: [16]byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}}})
}

func TestTraceV2JSON(t *testing.T) {
	q := &fakeQuerier{trace: testTrace(), found: true}
	mux := newTestMux(t, DefaultConfig(), q)
	wantJSON(t, get(t, mux, "/tempo/api/v2/traces/5b8efff798038103d269b633813fc60c?start=1544712600&end=1544712700"),
		`{"trace":`+testTraceJSON("resourceSpans")+`,"metrics":{}}`)
	wantEqual(t, q.traceCalls[0].start, time.Unix(1544712600, 0))
	wantEqual(t, q.traceCalls[0].end, time.Unix(1544712700, 0))
}

func TestTraceProtobuf(t *testing.T) {
	q := &fakeQuerier{trace: testTrace(), found: true}
	mux := newTestMux(t, DefaultConfig(), q)

	rec := get(t, mux, "/tempo/api/traces/1", "Accept", "application/protobuf")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/protobuf" {
		t.Fatalf("v1: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantSameTrace(t, td, testTrace())

	rec = get(t, mux, "/tempo/api/v2/traces/1", "Accept", "application/json, application/protobuf")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/protobuf" {
		t.Fatalf("v2: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	fields := protoFields(t, rec.Body.Bytes())
	if len(fields) != 2 || fields[0].num != 1 || fields[1].num != 2 || len(fields[1].val) != 0 {
		t.Fatalf("v2 fields %+v", fields)
	}
	td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(fields[0].val)
	if err != nil {
		t.Fatal(err)
	}
	wantSameTrace(t, td, testTrace())
}

func wantSameTrace(t *testing.T, got, want ptrace.Traces) {
	t.Helper()
	g, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(got)
	w, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(want)
	if string(g) != string(w) {
		t.Fatalf("trace\n got %s\nwant %s", g, w)
	}
}

type protoField struct {
	num protowire.Number
	val []byte
}

// protoFields splits a message of length-delimited fields.
func protoFields(t *testing.T, b []byte) []protoField {
	t.Helper()
	var out []protoField
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			t.Fatalf("bad tag at %x", b)
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			t.Fatalf("bad bytes at %x", b)
		}
		out = append(out, protoField{num, v})
		b = b[n:]
	}
	return out
}

func TestTraceNotFound(t *testing.T) {
	for _, tt := range []struct {
		name string
		q    *fakeQuerier
	}{
		{"not found", &fakeQuerier{found: false}},
		{"ErrNotFound", &fakeQuerier{found: true, trace: testTrace(), traceErr: NotFound(errors.New("gone"))}},
		{"found but empty", &fakeQuerier{found: true, trace: ptrace.NewTraces()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mux := newTestMux(t, DefaultConfig(), tt.q)
			rec := get(t, mux, "/tempo/api/traces/abc")
			wantStatus(t, rec, http.StatusNotFound, "")
			if ct := rec.Header().Get("Content-Type"); ct != "" {
				t.Fatalf("Content-Type %q", ct)
			}
			wantStatus(t, get(t, mux, "/tempo/api/traces/abc", "Accept", "application/protobuf"), http.StatusNotFound, "")
			// v2 answers an empty trace, as Tempo's v2 combiner does
			wantJSON(t, get(t, mux, "/tempo/api/v2/traces/abc"), `{"trace":{},"metrics":{}}`)
			rec = get(t, mux, "/tempo/api/v2/traces/abc", "Accept", "application/protobuf")
			if rec.Code != 200 || string(rec.Body.Bytes()) != "\x0a\x00\x12\x00" {
				t.Fatalf("v2 protobuf: %d %x", rec.Code, rec.Body.Bytes())
			}
		})
	}
}

func TestTraceParamErrors(t *testing.T) {
	tests := []struct {
		target string
		body   string
	}{
		{"/tempo/api/traces/xyz", "trace IDs can only contain hex characters: invalid character 'x' at position 1"},
		{"/tempo/api/traces/12g4", "trace IDs can only contain hex characters: invalid character 'g' at position 3"},
		{"/tempo/api/traces/%C3%A9", "trace IDs can only contain hex characters: invalid character 'é' at position 1"},
		{"/tempo/api/traces/" + "1234567890abcdef1234567890abcdef0", "trace IDs can't be larger than 128 bits"},
		{"/tempo/api/traces/1?start=x", `invalid start: strconv.ParseInt: parsing "x": invalid syntax`},
		{"/tempo/api/traces/1?end=1.5", `invalid end: strconv.ParseInt: parsing "1.5": invalid syntax`},
		{"/tempo/api/traces/1?start=20&end=10", "http parameter start must be before end. received start=20 end=10"},
		{"/tempo/api/traces/1?start=10&end=10", "http parameter start must be before end. received start=10 end=10"},
		{"/tempo/api/traces/1?mode=foo", "invalid value for mode foo"},
		{"/tempo/api/traces/1?blockStart=abc", "invalid value for blockstart: invalid UUID length: 3"},
		{"/tempo/api/traces/1?blockEnd=zzzzzzzz-0000-0000-0000-000000000000", "invalid value for blockEnd: invalid UUID format"},
		{"/tempo/api/traces/1?blockEnd=urn:uuix:00000000-0000-0000-0000-000000000000", `invalid value for blockEnd: invalid urn prefix: "urn:uuix:"`},
		{"/tempo/api/v2/traces/1?start=10&end=5", "http parameter start must be before end. received start=10 end=5"},
		{"/tempo/api/v2/traces/1?q=%7B+span.a+%3D+1+%7D", "invalid value for q: filtering a trace by TraceQL is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			q := &fakeQuerier{found: true, trace: testTrace()}
			mux := newTestMux(t, DefaultConfig(), q)
			wantStatus(t, get(t, mux, tt.target), http.StatusBadRequest, tt.body)
			if len(q.traceCalls) != 0 {
				t.Fatal("the querier was called")
			}
		})
	}
}

func TestTraceParamsAccepted(t *testing.T) {
	tests := []struct {
		target     string
		id         [16]byte
		start, end time.Time
	}{
		{"/tempo/api/traces/1?start=100", [16]byte{15: 1}, time.Unix(100, 0), time.Time{}},
		{"/tempo/api/traces/abc?end=100", [16]byte{14: 0x0a, 15: 0xbc}, time.Time{}, time.Unix(100, 0)},
		// mode=ingesters skips the other parameters, as in Tempo
		{"/tempo/api/traces/1?mode=ingesters&start=x&blockStart=y", [16]byte{15: 1}, time.Time{}, time.Time{}},
		{"/tempo/api/traces/1?mode=blocks&blockStart=12345678-0000-0000-1235-000001240000&blockEnd=FFFFFFFF-FFFF-FFFF-FFFF-456787652341", [16]byte{15: 1}, time.Time{}, time.Time{}},
		{"/tempo/api/traces/1?blockStart=%7B12345678-0000-0000-1235-000001240000%7D&blockEnd=ffffffffffffffffffffffffffffffff", [16]byte{15: 1}, time.Time{}, time.Time{}},
		{"/tempo/api/v2/traces/1?q=+&span_pruning=x", [16]byte{15: 1}, time.Time{}, time.Time{}}, // blank q: the whole trace
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			q := &fakeQuerier{found: true, trace: testTrace()}
			mux := newTestMux(t, DefaultConfig(), q)
			if rec := get(t, mux, tt.target); rec.Code != 200 {
				t.Fatalf("%d %q", rec.Code, rec.Body.String())
			}
			wantEqual(t, q.traceCalls, []traceCall{{tt.id, tt.start, tt.end}})
		})
	}
}

func TestAcceptNegotiation(t *testing.T) {
	tests := []struct {
		accept, contentType string
	}{
		{"", "application/json"},
		{"*/*", "application/json"},
		{"application/json", "application/json"},
		{"application/protobuf", "application/protobuf"},
		{"application/json;q=0.9, application/protobuf;q=0.1", "application/protobuf"}, // Tempo looks for the string
		{"application/vnd.grafana.llm", "application/json"},
		{"text/html", "application/json"},
	}
	q := &fakeQuerier{found: true, trace: testTrace()}
	mux := newTestMux(t, DefaultConfig(), q)
	for _, tt := range tests {
		for _, path := range []string{"/tempo/api/traces/1", "/tempo/api/v2/traces/1"} {
			rec := get(t, mux, path, "Accept", tt.accept)
			if got := rec.Header().Get("Content-Type"); rec.Code != 200 || got != tt.contentType {
				t.Errorf("%s Accept %q: %d %q, want %q", path, tt.accept, rec.Code, got, tt.contentType)
			}
		}
		// search answers JSON whatever is asked
		if got := get(t, mux, "/tempo/api/search", "Accept", tt.accept).Header().Get("Content-Type"); got != "application/json" {
			t.Errorf("search Accept %q: %q", tt.accept, got)
		}
	}
}

func TestParseTraceID(t *testing.T) {
	for in, want := range map[string][16]byte{
		"":                                 {},
		"1":                                {15: 1},
		"0001":                             {15: 1},
		"ABCDEF":                           {13: 0xab, 14: 0xcd, 15: 0xef},
		"000102030405060708090a0b0c0d0e0f": {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	} {
		got, err := parseTraceID(in)
		if err != nil || got != want {
			t.Errorf("parseTraceID(%q) = %x, %v; want %x", in, got, err, want)
		}
	}
}
