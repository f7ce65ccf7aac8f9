package node

import (
	"crypto/sha256"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Test data built with pdata: every id and value is derived from tag, so
// two tags give disjoint data (writes are idempotent: sending the same
// record twice proves nothing).

func testTraceID(tag string, i int) pcommon.TraceID {
	h := sha256.Sum256([]byte{byte(i), byte(i >> 8), 't'})
	h2 := sha256.Sum256(append(h[:], tag...))
	var id pcommon.TraceID
	copy(id[:], h2[:])
	return id
}

func testSpanID(tag string, i int) pcommon.SpanID {
	h := sha256.Sum256([]byte{byte(i), byte(i >> 8), 's'})
	h2 := sha256.Sum256(append(h[:], tag...))
	var id pcommon.SpanID
	copy(id[:], h2[:])
	return id
}

func ts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

// fillAttrs puts one attribute of every OTLP value type into m.
func fillAttrs(m pcommon.Map, tag string) {
	m.PutStr("str", "value-"+tag)
	m.PutInt("int", -42)
	m.PutDouble("double", 3.25)
	m.PutBool("bool", true)
	m.PutEmptyBytes("bytes").FromRaw([]byte{0, 1, 2, 0xff})
	s := m.PutEmptySlice("slice")
	s.AppendEmpty().SetStr("a")
	s.AppendEmpty().SetInt(2)
	s.AppendEmpty().SetDouble(2.5)
	s.AppendEmpty().SetEmptySlice().AppendEmpty().SetBool(false)
	mm := m.PutEmptyMap("map")
	mm.PutStr("k", "v")
	mm.PutEmptyMap("inner").PutInt("deep", 7)
	m.PutStr("empty.string", "")
	m.PutDouble("big", 1e300)
	m.PutInt("max.int", math.MaxInt64)
}

// testTraces builds two traces of service "json-<tag>": trace 0 has a
// server root with a client child (error, events, link to trace 1) and an
// internal grandchild; trace 1 has one consumer span.
func testTraces(tag string, base time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	rs.Resource().Attributes().PutStr("service.name", "json-"+tag)
	rs.Resource().Attributes().PutStr("k8s.pod.name", "pod-"+tag)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("json-scope")
	ss.Scope().SetVersion("9.9")

	root := ss.Spans().AppendEmpty()
	root.SetTraceID(testTraceID(tag, 0))
	root.SetSpanID(testSpanID(tag, 0))
	root.TraceState().FromRaw("vendor=abc")
	root.SetName("POST /orders")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(ts(base))
	root.SetEndTimestamp(ts(base.Add(30*time.Millisecond + 1)))
	fillAttrs(root.Attributes(), tag)
	root.Status().SetCode(ptrace.StatusCodeOk)

	child := ss.Spans().AppendEmpty()
	child.SetTraceID(testTraceID(tag, 0))
	child.SetSpanID(testSpanID(tag, 1))
	child.SetParentSpanID(testSpanID(tag, 0))
	child.SetName("call inventory")
	child.SetKind(ptrace.SpanKindClient)
	child.SetStartTimestamp(ts(base.Add(time.Millisecond)))
	child.SetEndTimestamp(ts(base.Add(20 * time.Millisecond)))
	child.Attributes().PutStr("peer.service", "inventory")
	child.Status().SetCode(ptrace.StatusCodeError)
	child.Status().SetMessage("upstream 503")
	ev := child.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(ts(base.Add(5 * time.Millisecond)))
	ev.Attributes().PutStr("exception.type", "HTTPError")
	ev.Attributes().PutInt("http.status", 503)
	ev2 := child.Events().AppendEmpty()
	ev2.SetName("bare")
	ev2.SetTimestamp(ts(base.Add(6 * time.Millisecond)))
	ln := child.Links().AppendEmpty()
	ln.SetTraceID(testTraceID(tag, 1))
	ln.SetSpanID(testSpanID(tag, 10))
	ln.TraceState().FromRaw("x=1")
	ln.Attributes().PutBool("follows", true)

	gc := ss.Spans().AppendEmpty()
	gc.SetTraceID(testTraceID(tag, 0))
	gc.SetSpanID(testSpanID(tag, 2))
	gc.SetParentSpanID(testSpanID(tag, 1))
	gc.SetName("serialize")
	gc.SetKind(ptrace.SpanKindInternal)
	gc.SetStartTimestamp(ts(base.Add(2 * time.Millisecond)))
	gc.SetEndTimestamp(ts(base.Add(3 * time.Millisecond)))

	// Trace 1 under another resource of the same service.
	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutStr("service.name", "json-"+tag)
	rs2.Resource().Attributes().PutInt("replica", 2)
	ss2 := rs2.ScopeSpans().AppendEmpty()
	cons := ss2.Spans().AppendEmpty()
	cons.SetTraceID(testTraceID(tag, 1))
	cons.SetSpanID(testSpanID(tag, 10))
	cons.SetName("consume")
	cons.SetKind(ptrace.SpanKindConsumer)
	cons.SetStartTimestamp(ts(base.Add(time.Second)))
	cons.SetEndTimestamp(ts(base.Add(time.Second + 500*time.Microsecond)))
	cons.Attributes().PutStr("messaging.destination.name", "orders")
	return td
}

// testLogs builds log records of service "json-<tag>" with bodies of
// every type; their string forms (AsString) are distinct.
func testLogs(tag string, base time.Time) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "json-"+tag)
	rl.Resource().Attributes().PutStr("host.name", "host-"+tag)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("json-logger")

	add := func(i int, sev plog.SeverityNumber, text string) plog.LogRecord {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(ts(base.Add(time.Duration(i)*time.Second + 3)))
		lr.SetObservedTimestamp(ts(base.Add(time.Duration(i)*time.Second + 99)))
		lr.SetSeverityNumber(sev)
		lr.SetSeverityText(text)
		return lr
	}
	lr := add(0, plog.SeverityNumberInfo, "Information")
	lr.Body().SetStr("order " + tag + " created")
	fillAttrs(lr.Attributes(), tag)
	lr.SetTraceID(testTraceID(tag, 0))
	lr.SetSpanID(testSpanID(tag, 1))
	lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))

	lr = add(1, plog.SeverityNumberError3, "")
	m := lr.Body().SetEmptyMap()
	m.PutStr("msg", "structured "+tag)
	m.PutInt("code", 17)
	m.PutEmptySlice("list").AppendEmpty().SetDouble(0.5)
	lr.Attributes().PutStr("component", "billing")

	lr = add(2, plog.SeverityNumberUnspecified, "")
	lr.Body().SetEmptyBytes().FromRaw([]byte("raw " + tag))
	lr.SetEventName("app.start")

	lr = add(3, plog.SeverityNumberFatal4, "CRIT")
	lr.Body().SetDouble(float64(len(tag)) + 0.5)
	return ld
}

// testMetrics builds one metric of every type for service "json-<tag>".
func testMetrics(tag string, base time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "json-"+tag)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("json-meter")
	start := ts(base.Add(-time.Minute))

	g := sm.Metrics().AppendEmpty()
	g.SetName("json.gauge")
	g.SetUnit("1")
	g.SetEmptyGauge()
	for i, v := range []float64{0.5, math.Inf(1), -3} {
		p := g.Gauge().DataPoints().AppendEmpty()
		p.SetTimestamp(ts(base.Add(time.Duration(i) * time.Second)))
		p.SetDoubleValue(v)
		p.Attributes().PutStr("cpu", "0")
	}

	s := sm.Metrics().AppendEmpty()
	s.SetName("json.sum")
	s.SetUnit("By")
	s.SetEmptySum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	s.Sum().SetIsMonotonic(true)
	for i, v := range []int64{10, 20} {
		p := s.Sum().DataPoints().AppendEmpty()
		p.SetStartTimestamp(start)
		p.SetTimestamp(ts(base.Add(time.Duration(i) * time.Second)))
		p.SetIntValue(v)
		p.Attributes().PutStr("dir", "rx")
		p.Attributes().PutInt("port", 8080)
	}

	h := sm.Metrics().AppendEmpty()
	h.SetName("json.hist")
	h.SetUnit("s")
	h.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	hp := h.Histogram().DataPoints().AppendEmpty()
	hp.SetStartTimestamp(start)
	hp.SetTimestamp(ts(base))
	hp.SetCount(6)
	hp.SetSum(12.5)
	hp.SetMin(0.1)
	hp.SetMax(9)
	hp.ExplicitBounds().FromRaw([]float64{0.5, 1, 5})
	hp.BucketCounts().FromRaw([]uint64{1, 2, 0, 3})

	e := sm.Metrics().AppendEmpty()
	e.SetName("json.exphist")
	e.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	ep := e.ExponentialHistogram().DataPoints().AppendEmpty()
	ep.SetStartTimestamp(start)
	ep.SetTimestamp(ts(base))
	ep.SetCount(7)
	ep.SetSum(-1.5)
	ep.SetScale(3)
	ep.SetZeroCount(1)
	ep.SetZeroThreshold(1e-9)
	ep.Positive().SetOffset(-2)
	ep.Positive().BucketCounts().FromRaw([]uint64{1, 0, 3})
	ep.Negative().SetOffset(4)
	ep.Negative().BucketCounts().FromRaw([]uint64{2})

	q := sm.Metrics().AppendEmpty()
	q.SetName("json.summary")
	qp := q.SetEmptySummary().DataPoints().AppendEmpty()
	qp.SetStartTimestamp(start)
	qp.SetTimestamp(ts(base))
	qp.SetCount(4)
	qp.SetSum(100)
	qv := qp.QuantileValues().AppendEmpty()
	qv.SetQuantile(0.5)
	qv.SetValue(20)
	qv = qp.QuantileValues().AppendEmpty()
	qv.SetQuantile(0.99)
	qv.SetValue(60)
	return md
}
