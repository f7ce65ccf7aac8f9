package jaeger

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// goldenA is trace A as Jaeger's UI model: spans by start time; processes
// p1 (frontend, shared by two resources), p2 (backend); tags of a1 with
// the scope first, the attributes sorted, then span.kind, status and
// tracestate; a1's events sorted by name (the nameless one first), the
// name as field "event" unless an attribute has that key; microseconds
// truncated; flags only the sampled bit; a4's link to its parent turning
// the parent reference into FOLLOWS_FROM; a3's links, the one with an
// empty trace ID removed with a warning after the stored one.
const goldenA = `[{"traceID":"0102030405060708090a0b0c0d0e0f10","spans":[
{"traceID":"0102030405060708090a0b0c0d0e0f10","spanID":"00000000000000a1","flags":1,"operationName":"GET /",
 "references":[],"startTime":1704164645123456,"duration":1500,
 "tags":[
  {"key":"otel.scope.name","type":"string","value":"io.opentelemetry.http"},
  {"key":"otel.scope.version","type":"string","value":"1.2.3"},
  {"key":"big","type":"int64","value":"9007199254740993"},
  {"key":"bool","type":"bool","value":true},
  {"key":"bytes","type":"binary","value":"AQID"},
  {"key":"double","type":"float64","value":1.5},
  {"key":"empty","type":"string","value":""},
  {"key":"int","type":"int64","value":42},
  {"key":"map","type":"string","value":"{\"k\":\"v\",\"n\":1}"},
  {"key":"nan","type":"float64","value":"NaN"},
  {"key":"neg.big","type":"int64","value":"-9007199254740992"},
  {"key":"slice","type":"string","value":"[\"a\",2]"},
  {"key":"str","type":"string","value":"s"},
  {"key":"span.kind","type":"string","value":"server"},
  {"key":"otel.status_code","type":"string","value":"OK"},
  {"key":"w3c.tracestate","type":"string","value":"k=v"}],
 "logs":[
  {"timestamp":1704164645123487,"fields":[{"key":"x","type":"string","value":"y"}]},
  {"timestamp":1704164645123476,"fields":[{"key":"event","type":"string","value":"overridden"},{"key":"exception.message","type":"string","value":"bad"}]},
  {"timestamp":1704164645123466,"fields":[{"key":"event","type":"string","value":"retry"},{"key":"attempt","type":"int64","value":2}]}],
 "processID":"p1","warnings":null},
{"traceID":"0102030405060708090a0b0c0d0e0f10","spanID":"00000000000000a4","operationName":"cache",
 "references":[{"refType":"FOLLOWS_FROM","traceID":"0102030405060708090a0b0c0d0e0f10","spanID":"00000000000000a1"}],
 "startTime":1704164645123506,"duration":10,
 "tags":[
  {"key":"otel.scope.name","type":"string","value":"io.opentelemetry.http"},
  {"key":"otel.scope.version","type":"string","value":"1.2.3"},
  {"key":"span.kind","type":"string","value":"internal"}],
 "logs":[],"processID":"p1","warnings":null},
{"traceID":"0102030405060708090a0b0c0d0e0f10","spanID":"00000000000000a2","operationName":"call backend",
 "references":[{"refType":"CHILD_OF","traceID":"0102030405060708090a0b0c0d0e0f10","spanID":"00000000000000a1"}],
 "startTime":1704164645123556,"duration":200,
 "tags":[
  {"key":"otel.scope.name","type":"string","value":"io.opentelemetry.http"},
  {"key":"otel.scope.version","type":"string","value":"1.2.3"},
  {"key":"span.kind","type":"string","value":"client"},
  {"key":"otel.status_code","type":"string","value":"ERROR"},
  {"key":"error","type":"bool","value":true},
  {"key":"otel.status_description","type":"string","value":"boom"}],
 "logs":[],"processID":"p1","warnings":null},
{"traceID":"0102030405060708090a0b0c0d0e0f10","spanID":"00000000000000a3","operationName":"handle",
 "references":[
  {"refType":"CHILD_OF","traceID":"0102030405060708090a0b0c0d0e0f10","spanID":"00000000000000a2"},
  {"refType":"FOLLOWS_FROM","traceID":"0b0b0b0b0b0b0b0b","spanID":"00000000000000b1"},
  {"refType":"CHILD_OF","traceID":"0102030405060708090a0b0c0d0e0f10","spanID":"00000000000000a1"}],
 "startTime":1704164645123606,"duration":100,
 "tags":[
  {"key":"span.kind","type":"string","value":"server"},
  {"key":"otel.status_description","type":"string","value":"note"}],
 "logs":[],"processID":"p2","warnings":["w1","Invalid span link removed"]}],
"processes":{
 "p1":{"serviceName":"frontend","tags":[{"key":"a.first","type":"string","value":"x"},{"key":"host.name","type":"string","value":"h1"}]},
 "p2":{"serviceName":"backend","tags":[]}},
"warnings":null}]`

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("golden is not JSON: %v", err)
	}
	return b.String()
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConvertGolden(t *testing.T) {
	got := marshal(t, convertTraces([]ptrace.Traces{fixtureA()}, false))
	if want := compactJSON(t, goldenA); got != want {
		t.Errorf("trace A\n got %s\nwant %s", got, want)
	}
}

func TestConvertRaw(t *testing.T) {
	// raw: no sorting of attributes and events, no removal of empty links;
	// the spans are still sorted, and the two frontend resources, whose
	// attributes differ in order, are two processes.
	traces := convertTraces([]ptrace.Traces{fixtureA()}, true)
	var got []jTrace
	strictDecode(t, []byte(marshal(t, traces)), &got)
	tr := got[0]
	if ids := spanIDs(tr); !equalStrings(ids, []string{"00000000000000a1", "00000000000000a4", "00000000000000a2", "00000000000000a3"}) {
		t.Errorf("span order %v", ids)
	}
	a1 := tr.Spans[0]
	wantKeys := []string{"otel.scope.name", "otel.scope.version", "str", "int", "big", "neg.big", "bool", "double", "nan", "bytes", "map", "slice", "empty", "span.kind", "otel.status_code", "w3c.tracestate"}
	if keys := tagKeys(a1.Tags); !equalStrings(keys, wantKeys) {
		t.Errorf("raw tags %v", keys)
	}
	var logNames []string
	for _, l := range a1.Logs {
		logNames = append(logNames, tagKeys(l.Fields)...)
	}
	if !equalStrings(logNames, []string{"event", "attempt", "exception.message", "event", "x"}) {
		t.Errorf("raw log fields %v", logNames)
	}
	a3 := tr.Spans[3]
	if len(a3.References) != 4 || a3.References[3] != (jRef{refFollowsFrom, "0000000000000000", "0000000000000033"}) {
		t.Errorf("raw references %+v", a3.References)
	}
	if !equalStrings(a3.Warnings, []string{"w1"}) {
		t.Errorf("raw warnings %v", a3.Warnings)
	}
	pids := []string{tr.Spans[0].ProcessID, tr.Spans[1].ProcessID, tr.Spans[2].ProcessID, tr.Spans[3].ProcessID}
	if !equalStrings(pids, []string{"p1", "p2", "p1", "p3"}) || len(tr.Processes) != 3 {
		t.Errorf("raw processes %v %+v", pids, tr.Processes)
	}
	if keys := tagKeys(tr.Processes["p1"].Tags); !equalStrings(keys, []string{"host.name", "a.first"}) {
		t.Errorf("raw process tags %v", keys)
	}
}

func TestConvertTracesGrouping(t *testing.T) {
	// The spans of one trace spread over two ptrace.Traces, and one
	// ptrace.Traces holding two traces: grouped by ID, in order of first
	// appearance.
	b, c := fixtureB(), fixtureC()
	mixed := ptrace.NewTraces()
	b.ResourceSpans().At(1).CopyTo(mixed.ResourceSpans().AppendEmpty()) // b2
	c.ResourceSpans().At(0).CopyTo(mixed.ResourceSpans().AppendEmpty())
	b.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool { return rs.Resource().Attributes().Len() == 0 })

	var got []jTrace
	strictDecode(t, []byte(marshal(t, convertTraces([]ptrace.Traces{mixed, b}, false))), &got)
	if ids := traceIDs(got); !equalStrings(ids, []string{traceBHex, traceCHex}) {
		t.Fatalf("traces %v", ids)
	}
	tb := got[0]
	if ids := spanIDs(tb); !equalStrings(ids, []string{"00000000000000b1", "00000000000000b2"}) {
		t.Errorf("trace B spans %v", ids)
	}
	// b1 starts first, so its process is p1 although b2 came first.
	if tb.Spans[0].ProcessID != "p1" || tb.Processes["p1"].ServiceName != "backend" ||
		tb.Processes["p2"].ServiceName != noServiceName {
		t.Errorf("trace B processes %+v", tb.Processes)
	}
	// b2 ends before it starts: duration 0, not a wrapped uint64.
	if tb.Spans[1].Duration != 0 || tb.Spans[1].StartTime != t0us+1_001_000 {
		t.Errorf("b2 start %d duration %d", tb.Spans[1].StartTime, tb.Spans[1].Duration)
	}
	// Same start time: by span ID. A resource without service.name.
	tc := got[1]
	if ids := spanIDs(tc); !equalStrings(ids, []string{"00000000000000c1", "00000000000000c2"}) {
		t.Errorf("trace C spans %v", ids)
	}
	if p := tc.Processes["p1"]; p.ServiceName != "" || len(tc.Processes) != 1 || len(tc.Spans[0].Tags) != 0 {
		t.Errorf("trace C %+v", tc)
	}
}

func TestConvertDoesNotModify(t *testing.T) {
	td := fixtureA()
	before, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	convertTraces([]ptrace.Traces{td}, false)
	after, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if !bytes.Equal(before, after) {
		t.Error("converting modified the traces")
	}
}

func TestAttrKeyValue(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(pcommon.Value)
		want string
	}{
		{"string", func(v pcommon.Value) { v.SetStr("a\"<b>") }, `{"key":"k","type":"string","value":"a\"\u003cb\u003e"}`},
		{"bool false", func(v pcommon.Value) { v.SetBool(false) }, `{"key":"k","type":"bool","value":false}`},
		{"int", func(v pcommon.Value) { v.SetInt(-7) }, `{"key":"k","type":"int64","value":-7}`},
		{"max safe int", func(v pcommon.Value) { v.SetInt(1<<53 - 1) }, `{"key":"k","type":"int64","value":9007199254740991}`},
		{"min safe int", func(v pcommon.Value) { v.SetInt(-(1<<53 - 1)) }, `{"key":"k","type":"int64","value":-9007199254740991}`},
		{"unsafe int", func(v pcommon.Value) { v.SetInt(math.MaxInt64) }, `{"key":"k","type":"int64","value":"9223372036854775807"}`},
		{"float", func(v pcommon.Value) { v.SetDouble(0.1) }, `{"key":"k","type":"float64","value":0.1}`},
		{"whole float", func(v pcommon.Value) { v.SetDouble(3) }, `{"key":"k","type":"float64","value":3}`},
		{"+inf", func(v pcommon.Value) { v.SetDouble(math.Inf(1)) }, `{"key":"k","type":"float64","value":"Infinity"}`},
		{"-inf", func(v pcommon.Value) { v.SetDouble(math.Inf(-1)) }, `{"key":"k","type":"float64","value":"-Infinity"}`},
		{"bytes", func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte{0xff, 0xfe}) }, `{"key":"k","type":"binary","value":"//4="}`},
		{"empty bytes", func(v pcommon.Value) { v.SetEmptyBytes() }, `{"key":"k","type":"binary","value":""}`},
		{"map", func(v pcommon.Value) { v.SetEmptyMap().PutBool("b", true) }, `{"key":"k","type":"string","value":"{\"b\":true}"}`},
		{"slice", func(v pcommon.Value) { v.SetEmptySlice().AppendEmpty().SetDouble(1.5) }, `{"key":"k","type":"string","value":"[1.5]"}`},
		{"empty", func(pcommon.Value) {}, `{"key":"k","type":"string","value":""}`},
	} {
		v := pcommon.NewValueEmpty()
		c.set(v)
		if got := marshal(t, attrKeyValue("k", v)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestSpanKindsAndStatus(t *testing.T) {
	for _, c := range []struct {
		kind ptrace.SpanKind
		code ptrace.StatusCode
		msg  string
		want []string // key=value of the tags
	}{
		{ptrace.SpanKindUnspecified, ptrace.StatusCodeUnset, "", nil},
		{ptrace.SpanKindServer, ptrace.StatusCodeUnset, "", []string{"span.kind=\"server\""}},
		{ptrace.SpanKindClient, ptrace.StatusCodeOk, "", []string{"span.kind=\"client\"", "otel.status_code=\"OK\""}},
		{ptrace.SpanKindProducer, ptrace.StatusCodeError, "", []string{"span.kind=\"producer\"", "otel.status_code=\"ERROR\"", "error=true"}},
		{ptrace.SpanKindConsumer, ptrace.StatusCodeError, "m", []string{"span.kind=\"consumer\"", "otel.status_code=\"ERROR\"", "error=true", "otel.status_description=\"m\""}},
		{ptrace.SpanKindInternal, ptrace.StatusCodeOk, "m", []string{"span.kind=\"internal\"", "otel.status_code=\"OK\"", "otel.status_description=\"m\""}},
	} {
		s := ptrace.NewSpan()
		s.SetKind(c.kind)
		s.Status().SetCode(c.code)
		s.Status().SetMessage(c.msg)
		var got []string
		for _, kv := range spanTags(s, pcommon.NewInstrumentationScope(), false) {
			got = append(got, kv.Key+"="+marshal(t, kv.Value))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%v %v %q: %v, want %v", c.kind, c.code, c.msg, got, c.want)
		}
	}
}

func TestIDStrings(t *testing.T) {
	for _, c := range []struct {
		id   pcommon.TraceID
		want string
	}{
		{traceA, traceAHex},
		{traceB, traceBHex},
		{pcommon.TraceID{15: 1}, "0000000000000001"},
		{pcommon.TraceID{7: 1}, "00000000000000010000000000000000"},
		{pcommon.TraceID{}, "0000000000000000"},
	} {
		if got := traceIDString(c.id); got != c.want {
			t.Errorf("traceIDString(%x) = %s, want %s", c.id[:], got, c.want)
		}
	}
	if got := spanIDString(pcommon.SpanID{0xab, 7: 1}); got != "ab00000000000001" {
		t.Errorf("spanIDString = %s", got)
	}
}

func TestMicroseconds(t *testing.T) {
	s := ptrace.NewSpan()
	start := time.Date(2030, 6, 1, 0, 0, 0, 999, time.UTC)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(2*time.Second + 1999)))
	e := s.Events().AppendEmpty()
	e.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Millisecond)))
	got := convertSpan(spanInfo{span: s, scope: pcommon.NewInstrumentationScope()}, "p1", false)
	if got.StartTime != uint64(start.UnixMicro()) || got.Duration != 2_000_001 || got.Logs[0].Timestamp != uint64(start.UnixMicro())+1000 {
		t.Errorf("start %d duration %d log %d", got.StartTime, got.Duration, got.Logs[0].Timestamp)
	}
	if got.Flags != 0 || !bytes.Contains([]byte(marshal(t, got)), []byte(`"spanID":"0000000000000000","operationName"`)) {
		t.Errorf("flags 0 must be omitted: %s", marshal(t, got))
	}
}
