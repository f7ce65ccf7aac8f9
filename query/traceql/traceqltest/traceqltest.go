// Package traceqltest holds the TraceQL conformance data set and table,
// for the tests of every layer that answers TraceQL: the in-memory
// evaluator (package traceql), the planner's pushdown (query/plan) and
// whole nodes through the Tempo API (package node).
//
// Traces builds twelve fixed traces; Cases lists queries with the exact
// traces (and for some the exact spans, as "trace:span name") they match.
// Pdata converts the traces into OTLP, to be sent to a real receiver.
//
// It is test support: it imports only package traceql, pdata and the
// standard library, so that any package's tests can import it.
package traceqltest

import (
	"fmt"
	"slices"
	"time"

	"github.com/starling-otel/starling/query/traceql"
)

// T0 is the start of the first trace in the in-memory tests: 2023-11-14.
const T0 = int64(1_700_000_000) * int64(time.Second)

// Traces are numbered 1 to 12; trace k starts (k-1)*10s after t0.
const traceSpacing = 10 * time.Second

// TraceID is the ID of trace k: k in its last byte.
func TraceID(k int) [16]byte {
	var id [16]byte
	id[15] = byte(k)
	return id
}

// SpanID is the ID of span n of trace k: k and n in its last two bytes.
func SpanID(k, n int) [8]byte {
	var id [8]byte
	id[6], id[7] = byte(k), byte(n)
	return id
}

// SpanLabel names a span as the table does: "trace:span name".
func SpanLabel(s *traceql.Span) string { return fmt.Sprintf("%d:%s", s.ID[6], s.Name) }

// spanSpec describes one span of the data set; times are milliseconds
// after the trace's start.
type spanSpec struct {
	n, parent    int // span number within the trace; parent 0: root, -1: a parent not in the trace
	name, svc    string
	kind         traceql.Kind
	status       traceql.Status
	msg          string
	start, dur   float64
	attrs        []traceql.Attr
	resource     []traceql.Attr
	scope, scopV string
	scopeAttrs   []traceql.Attr
	events       []traceql.Event
	links        []traceql.Link
}

func ms(v float64) int64 { return int64(v * float64(time.Millisecond)) }

func str(k, v string) traceql.Attr       { return traceql.Attr{Key: k, Value: traceql.StringValue(v)} }
func num(k string, v int64) traceql.Attr { return traceql.Attr{Key: k, Value: traceql.IntValue(v)} }

func buildTrace(t0 int64, k int, specs ...spanSpec) traceql.Trace {
	base := t0 + int64(k-1)*int64(traceSpacing)
	t := traceql.Trace{ID: TraceID(k)}
	for _, s := range specs {
		sp := traceql.Span{
			ID: SpanID(k, s.n), Name: s.name, Kind: s.kind, Status: s.status, StatusMessage: s.msg,
			Start: base + ms(s.start), End: base + ms(s.start) + ms(s.dur),
			Attrs: s.attrs, Resource: append([]traceql.Attr{str("service.name", s.svc)}, s.resource...),
			ScopeName: s.scope, ScopeVersion: s.scopV, ScopeAttrs: s.scopeAttrs, Links: s.links,
		}
		switch {
		case s.parent > 0:
			sp.ParentID = SpanID(k, s.parent)
		case s.parent < 0:
			sp.ParentID = SpanID(k, 99)
		}
		for _, e := range s.events {
			e.Time += sp.Start
			sp.Events = append(sp.Events, e)
		}
		t.Spans = append(t.Spans, sp)
	}
	// Spans are stored in no particular order: reverse them.
	slices.Reverse(t.Spans)
	return t
}

// Traces returns the data set: twelve traces, numbered 1 to 12 (the last
// byte of their ID), the first starting at t0 (unix nanoseconds) and each
// 10s after the one before. The traces are built anew on every call.
func Traces(t0 int64) []traceql.Trace {
	return []traceql.Trace{
		// 1: frontend -> api -> db, no errors.
		buildTrace(t0, 1,
			spanSpec{n: 1, name: "GET /checkout", svc: "frontend", kind: traceql.KindServer, start: 0, dur: 100,
				attrs: []traceql.Attr{str("http.method", "GET"), num("http.status_code", 200), str("http.route", "/checkout")}},
			spanSpec{n: 2, parent: 1, name: "POST /api/order", svc: "api", kind: traceql.KindServer, start: 10, dur: 80,
				attrs: []traceql.Attr{str("http.method", "POST"), num("http.status_code", 201)}},
			spanSpec{n: 3, parent: 2, name: "SELECT orders", svc: "db", kind: traceql.KindClient, start: 20, dur: 30,
				attrs: []traceql.Attr{str("db.system", "postgresql"), str("db.statement", "SELECT * FROM orders")}},
		),
		// 2: the same chain failing, with an exception event in the db.
		buildTrace(t0, 2,
			spanSpec{n: 1, name: "GET /checkout", svc: "frontend", kind: traceql.KindServer, status: traceql.StatusError, start: 0, dur: 200,
				attrs: []traceql.Attr{str("http.method", "GET"), num("http.status_code", 500)}},
			spanSpec{n: 2, parent: 1, name: "POST /api/order", svc: "api", kind: traceql.KindServer, status: traceql.StatusError, start: 10, dur: 180,
				attrs: []traceql.Attr{str("http.method", "POST"), num("http.status_code", 500)}},
			spanSpec{n: 3, parent: 2, name: "INSERT orders", svc: "db", kind: traceql.KindClient, status: traceql.StatusError, msg: "deadlock detected", start: 20, dur: 150,
				attrs:  []traceql.Attr{str("db.system", "postgresql")},
				events: []traceql.Event{{Name: "exception", Time: ms(100), Attrs: []traceql.Attr{str("exception.type", "DeadlockError")}}}},
		),
		// 3: frontend -> api, the api unavailable.
		buildTrace(t0, 3,
			spanSpec{n: 1, name: "GET /cart", svc: "frontend", kind: traceql.KindServer, start: 0, dur: 50,
				attrs: []traceql.Attr{str("http.method", "GET"), num("http.status_code", 503)}},
			spanSpec{n: 2, parent: 1, name: "GET /api/cart", svc: "api", kind: traceql.KindServer, status: traceql.StatusError, msg: "upstream unavailable", start: 5, dur: 40,
				attrs: []traceql.Attr{str("http.method", "GET"), num("http.status_code", 503)}},
		),
		// 4: a producer and its consumer, which links to trace 1.
		buildTrace(t0, 4,
			spanSpec{n: 1, name: "publish order", svc: "orders", kind: traceql.KindProducer, status: traceql.StatusOK, start: 0, dur: 5,
				attrs: []traceql.Attr{str("messaging.system", "kafka"), str("messaging.destination", "orders")}},
			spanSpec{n: 2, parent: 1, name: "consume order", svc: "billing", kind: traceql.KindConsumer, start: 30, dur: 20,
				attrs: []traceql.Attr{str("messaging.system", "kafka")},
				links: []traceql.Link{{TraceID: TraceID(1), SpanID: SpanID(1, 1), Attrs: []traceql.Attr{str("relation", "follows_from")}}}},
		),
		// 5: siblings under a batch, one with a child.
		buildTrace(t0, 5,
			spanSpec{n: 1, name: "batch", svc: "worker", kind: traceql.KindInternal, start: 0, dur: 100},
			spanSpec{n: 2, parent: 1, name: "task A", svc: "worker", kind: traceql.KindInternal, start: 10, dur: 20,
				attrs: []traceql.Attr{num("task.index", 0), {Key: "retry", Value: traceql.BoolValue(true)}}},
			spanSpec{n: 3, parent: 1, name: "task B", svc: "worker", kind: traceql.KindInternal, start: 30, dur: 30,
				attrs: []traceql.Attr{num("task.index", 1)}},
			spanSpec{n: 4, parent: 1, name: "task C", svc: "worker", kind: traceql.KindInternal, start: 60, dur: 30,
				attrs: []traceql.Attr{num("task.index", 2), {Key: "task.weight", Value: traceql.FloatValue(0.75)}}},
			spanSpec{n: 5, parent: 3, name: "subtask", svc: "worker", kind: traceql.KindInternal, start: 35, dur: 10},
		),
		// 6: array attributes.
		buildTrace(t0, 6,
			spanSpec{n: 1, name: "search query", svc: "search", kind: traceql.KindServer, start: 0, dur: 40,
				attrs: []traceql.Attr{
					{Key: "tags", Value: traceql.StringArrayValue([]string{"alpha", "beta"})},
					{Key: "codes", Value: traceql.IntArrayValue([]int64{200, 404})},
					{Key: "ratios", Value: traceql.FloatArrayValue([]float64{0.5, 1.5})},
					{Key: "flags", Value: traceql.BoolArrayValue([]bool{false, true})},
				}},
		),
		// 7: resource attributes, one shadowed by a span attribute.
		buildTrace(t0, 7,
			spanSpec{n: 1, name: "GET /login", svc: "gateway", kind: traceql.KindServer, start: 0, dur: 60,
				attrs:    []traceql.Attr{str("region", "eu")},
				resource: []traceql.Attr{str("deployment.environment", "prod"), str("region", "us")}},
			spanSpec{n: 2, parent: 1, name: "auth check", svc: "gateway", kind: traceql.KindInternal, start: 5, dur: 20,
				resource: []traceql.Attr{str("deployment.environment", "prod"), str("region", "us")}},
		),
		// 8: very different durations; instrumentation scope.
		buildTrace(t0, 8,
			spanSpec{n: 1, name: "slow op", svc: "reports", kind: traceql.KindServer, start: 0, dur: 2000},
			spanSpec{n: 2, parent: 1, name: "fast op", svc: "reports", kind: traceql.KindInternal, start: 10, dur: 1},
			spanSpec{n: 3, parent: 1, name: "medium op", svc: "reports", kind: traceql.KindClient, start: 20, dur: 150,
				attrs: []traceql.Attr{str("db.system", "mysql")},
				scope: "io.opentelemetry.jdbc", scopV: "1.2.0", scopeAttrs: []traceql.Attr{str("lib.lang", "java")}},
		),
		// 9: two roots, and an orphan whose parent is missing.
		buildTrace(t0, 9,
			spanSpec{n: 1, name: "cron tick", svc: "scheduler", kind: traceql.KindInternal, start: 0, dur: 10},
			spanSpec{n: 2, name: "cron cleanup", svc: "scheduler", kind: traceql.KindInternal, start: 5, dur: 10},
			spanSpec{n: 3, parent: -1, name: "orphan work", svc: "worker", kind: traceql.KindInternal, start: 20, dur: 10},
			spanSpec{n: 4, parent: 3, name: "orphan child", svc: "worker", kind: traceql.KindInternal, start: 22, dur: 5},
		),
		// 10: events and links.
		buildTrace(t0, 10,
			spanSpec{n: 1, name: "upload", svc: "storage", kind: traceql.KindServer, start: 0, dur: 100,
				events: []traceql.Event{
					{Name: "start", Time: ms(1)},
					{Name: "checkpoint", Time: ms(50), Attrs: []traceql.Attr{num("bytes", 1024)}},
					{Name: "done", Time: ms(90)},
				},
				links: []traceql.Link{
					{TraceID: TraceID(4), SpanID: SpanID(4, 1), Attrs: []traceql.Attr{str("relation", "caused_by")}},
					{TraceID: TraceID(2), SpanID: SpanID(2, 3)},
				}},
			spanSpec{n: 2, parent: 1, name: "write chunk", svc: "storage", kind: traceql.KindClient, start: 10, dur: 30,
				events: []traceql.Event{{Name: "retry", Time: ms(5), Attrs: []traceql.Attr{num("attempt", 2)}}}},
		),
		// 11: a deep chain; the status code is an int on L1 and a string on L2.
		buildTrace(t0, 11,
			spanSpec{n: 1, name: "L0", svc: "chain", kind: traceql.KindServer, start: 0, dur: 80},
			spanSpec{n: 2, parent: 1, name: "L1", svc: "chain", kind: traceql.KindInternal, start: 5, dur: 60,
				attrs: []traceql.Attr{num("http.status_code", 404)}},
			spanSpec{n: 3, parent: 2, name: "L2", svc: "chain", kind: traceql.KindInternal, start: 10, dur: 40,
				attrs: []traceql.Attr{str("http.status_code", "404")}},
			spanSpec{n: 4, parent: 3, name: "L3", svc: "chain", kind: traceql.KindClient, status: traceql.StatusError, start: 15, dur: 20},
		),
		// 12: a healthy check; a quoted attribute name and a negative value.
		buildTrace(t0, 12,
			spanSpec{n: 1, name: "GET /health", svc: "frontend", kind: traceql.KindServer, status: traceql.StatusOK, start: 0, dur: 3,
				attrs: []traceql.Attr{num("http.status_code", 200), str("user id", "u-42"), num("balance", -5)}},
			spanSpec{n: 2, parent: 1, name: "health db ping", svc: "db", kind: traceql.KindClient, status: traceql.StatusOK, start: 1, dur: 2,
				attrs: []traceql.Attr{str("db.system", "redis")}},
		),
	}
}

// Case is a query and what it matches: traces by number and, if Spans is
// not nil, the exact matched spans as "trace:span name" (SpanLabel).
type Case struct {
	Query  string
	Traces []int
	Spans  []string
}

var all12 = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

// Cases returns the conformance table (a new copy on every call).
func Cases() []Case {
	out := slices.Clone(cases)
	for i := range out {
		out[i].Traces = slices.Clone(out[i].Traces)
		out[i].Spans = slices.Clone(out[i].Spans)
	}
	return out
}

var cases = []Case{
	// Filters, scopes and literals.
	{Query: `{ }`, Traces: all12},
	{Query: `{ true }`, Traces: all12},
	{Query: `{ false }`, Traces: nil},
	{Query: `{ resource.service.name = "frontend" }`, Traces: []int{1, 2, 3, 12},
		Spans: []string{"1:GET /checkout", "2:GET /checkout", "3:GET /cart", "12:GET /health"}},
	{Query: `{ resource.service.name != "frontend" }`, Traces: all12},
	{Query: `{ .service.name = "db" }`, Traces: []int{1, 2, 12}},
	{Query: `{ span.http.status_code >= 500 }`, Traces: []int{2, 3},
		Spans: []string{"2:GET /checkout", "2:POST /api/order", "3:GET /cart", "3:GET /api/cart"}},
	{Query: `{ span.http.status_code >= 500 && resource.service.name = "api" }`, Traces: []int{2, 3},
		Spans: []string{"2:POST /api/order", "3:GET /api/cart"}},
	{Query: `{ span.http.status_code = 404 }`, Traces: []int{11}, Spans: []string{"11:L1"}},
	{Query: `{ span.http.status_code = "404" }`, Traces: []int{11}, Spans: []string{"11:L2"}},
	{Query: `{ span.http.status_code > 200 && span.http.status_code < 300 }`, Traces: []int{1}, Spans: []string{"1:POST /api/order"}},
	{Query: `{ span.http.status_code = 500.0 }`, Traces: []int{2}},
	{Query: `{ span.http.status_code <= 200 }`, Traces: []int{1, 12}},
	{Query: `{ name = "GET /checkout" }`, Traces: []int{1, 2}},
	{Query: `{ span:name =~ "GET .*" }`, Traces: []int{1, 2, 3, 7, 12}},
	{Query: `{ name =~ "GET" }`, Traces: nil},
	{Query: `{ name !~ ".*order.*" }`, Traces: []int{1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12}},
	{Query: `{ status = error }`, Traces: []int{2, 3, 11}},
	{Query: `{ span:status = ok }`, Traces: []int{4, 12}},
	{Query: `{ status = unset }`, Traces: []int{1, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	{Query: `{ status != ok }`, Traces: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	{Query: `{ kind = server }`, Traces: []int{1, 2, 3, 6, 7, 8, 10, 11, 12}},
	{Query: `{ span:kind = producer }`, Traces: []int{4}, Spans: []string{"4:publish order"}},
	{Query: `{ kind = consumer }`, Traces: []int{4}, Spans: []string{"4:consume order"}},
	{Query: `{ kind = client && status = error }`, Traces: []int{2, 11}, Spans: []string{"2:INSERT orders", "11:L3"}},
	{Query: `{ duration > 1s }`, Traces: []int{8}, Spans: []string{"8:slow op"}},
	{Query: `{ span:duration >= 150ms }`, Traces: []int{2, 8},
		Spans: []string{"2:GET /checkout", "2:POST /api/order", "2:INSERT orders", "8:slow op", "8:medium op"}},
	{Query: `{ duration < 5ms }`, Traces: []int{8, 12}},
	{Query: `{ duration = 5ms }`, Traces: []int{4, 9}, Spans: []string{"4:publish order", "9:orphan child"}},
	{Query: `{ statusMessage = "deadlock detected" }`, Traces: []int{2}},
	{Query: `{ span:statusMessage =~ "up.*" }`, Traces: []int{3}},
	{Query: `{ span:id = "0000000000000a01" }`, Traces: []int{10}, Spans: []string{"10:upload"}},
	{Query: `{ span:id = "0000000000000A01" }`, Traces: nil},
	{Query: `{ span:parentID = "0000000000000301" }`, Traces: []int{3}, Spans: []string{"3:GET /api/cart"}},
	{Query: `{ span:parentID != nil && kind = server }`, Traces: []int{1, 2, 3}},
	{Query: `{ trace:id = "0000000000000000000000000000000c" }`, Traces: []int{12}},
	{Query: `{ trace:id =~ ".*0[ab]" }`, Traces: []int{10, 11}},
	{Query: `{ rootName = "GET /checkout" }`, Traces: []int{1, 2}},
	{Query: `{ trace:rootName = "cron tick" }`, Traces: []int{9}},
	{Query: `{ rootServiceName = "frontend" }`, Traces: []int{1, 2, 3, 12}},
	{Query: `{ trace:rootService = "frontend" && resource.service.name = "db" }`, Traces: []int{1, 2, 12},
		Spans: []string{"1:SELECT orders", "2:INSERT orders", "12:health db ping"}},
	{Query: `{ traceDuration > 150ms }`, Traces: []int{2, 8}},
	{Query: `{ trace:duration < 40ms }`, Traces: []int{9, 12}},
	{Query: `{ event:name = "exception" }`, Traces: []int{2}, Spans: []string{"2:INSERT orders"}},
	{Query: `{ event.exception.type = "DeadlockError" }`, Traces: []int{2}},
	{Query: `{ event:name = "checkpoint" && event.bytes > 1000 }`, Traces: []int{10}},
	{Query: `{ event:timeSinceStart > 80ms }`, Traces: []int{2, 10}},
	{Query: `{ event.attempt = 2 }`, Traces: []int{10}, Spans: []string{"10:write chunk"}},
	{Query: `{ event:name = nil && kind = server }`, Traces: []int{1, 2, 3, 6, 7, 8, 11, 12}},
	{Query: `{ link:traceID = "00000000000000000000000000000001" }`, Traces: []int{4}},
	{Query: `{ link:spanID = "0000000000000401" }`, Traces: []int{10}},
	{Query: `{ link.relation = "caused_by" }`, Traces: []int{10}},
	{Query: `{ link.relation =~ ".*_.*" }`, Traces: []int{4, 10}},
	{Query: `{ link:traceID != nil }`, Traces: []int{4, 10}},
	{Query: `{ instrumentation:name = "io.opentelemetry.jdbc" }`, Traces: []int{8}, Spans: []string{"8:medium op"}},
	{Query: `{ instrumentation:version = "1.2.0" && instrumentation.lib.lang = "java" }`, Traces: []int{8}},
	{Query: `{ childCount = 3 }`, Traces: []int{5}, Spans: []string{"5:batch"}},
	{Query: `{ childCount > 1 }`, Traces: []int{5, 8}},
	{Query: `{ span.tags = "beta" }`, Traces: []int{6}},
	{Query: `{ span.codes = 404 }`, Traces: []int{6}},
	{Query: `{ span.codes > 300 }`, Traces: []int{6}},
	{Query: `{ span.ratios < 1.0 }`, Traces: []int{6}},
	{Query: `{ span.flags = true }`, Traces: []int{6}},
	{Query: `{ span.tags =~ "al.*" }`, Traces: []int{6}},
	{Query: `{ span.tags = "gamma" }`, Traces: nil},
	{Query: `{ span.codes = "200" }`, Traces: nil},
	{Query: `{ .region = "eu" }`, Traces: []int{7}, Spans: []string{"7:GET /login"}},
	{Query: `{ .region = "us" }`, Traces: []int{7}, Spans: []string{"7:auth check"}},
	{Query: `{ resource.region = "us" }`, Traces: []int{7}, Spans: []string{"7:GET /login", "7:auth check"}},
	{Query: `{ .deployment.environment = "prod" }`, Traces: []int{7}},
	{Query: `{ span.deployment.environment = "prod" }`, Traces: nil},
	{Query: `{ span.retry = true }`, Traces: []int{5}, Spans: []string{"5:task A"}},
	{Query: `{ span.retry }`, Traces: []int{5}, Spans: []string{"5:task A"}},
	{Query: `{ !span.retry }`, Traces: all12},
	{Query: `{ span.task.weight > 0.5 }`, Traces: []int{5}},
	{Query: `{ span.task.index = 1.0 }`, Traces: []int{5}, Spans: []string{"5:task B"}},
	{Query: `{ span.missing = nil }`, Traces: all12},
	{Query: `{ span.http.method != nil }`, Traces: []int{1, 2, 3}},
	{Query: `{ span.db.system = nil && resource.service.name = "db" }`, Traces: nil},
	{Query: `{ span.http.status_code = nil && kind = server }`, Traces: []int{6, 7, 8, 10, 11}},
	{Query: `{ span."user id" = "u-42" }`, Traces: []int{12}},
	{Query: `{ span.balance < 0 && span.balance = -5 }`, Traces: []int{12}},
	{Query: `{ -span.balance = 5 }`, Traces: []int{12}},
	{Query: `{ span.http.status_code + 1 = 501 }`, Traces: []int{2}},
	{Query: `{ span.http.status_code / 100 = 5 }`, Traces: []int{2}},
	{Query: `{ span.http.status_code % 100 = 3 }`, Traces: []int{3}},
	{Query: `{ duration * 2 > 3s }`, Traces: []int{8}},
	{Query: `{ duration - 100ms > 1s }`, Traces: []int{8}},
	{Query: `{ span.task.index ^ 2 = 4 }`, Traces: []int{5}, Spans: []string{"5:task C"}},
	{Query: `{ (name = "task A" || name = "task C") && span.task.index > 0 }`, Traces: []int{5}, Spans: []string{"5:task C"}},
	{Query: `{ !(status = error) && resource.service.name = "api" }`, Traces: []int{1}},
	{Query: `{ name = "nonexistent" || true }`, Traces: all12},
	{Query: `{ 1 = 1 }`, Traces: all12},
	{Query: `{ "a" = 1 }`, Traces: nil},
	{Query: `{ status = "error" }`, Traces: nil},

	// Spanset operators.
	{Query: `{ resource.service.name = "frontend" } && { resource.service.name = "db" }`, Traces: []int{1, 2, 12},
		Spans: []string{"1:GET /checkout", "1:SELECT orders", "2:GET /checkout", "2:INSERT orders", "12:GET /health", "12:health db ping"}},
	{Query: `{ resource.service.name = "db" } || { kind = producer }`, Traces: []int{1, 2, 4, 12}},
	{Query: `{ resource.service.name = "frontend" } >> { resource.service.name = "db" }`, Traces: []int{1, 2, 12},
		Spans: []string{"1:SELECT orders", "2:INSERT orders", "12:health db ping"}},
	{Query: `{ resource.service.name = "frontend" } > { resource.service.name = "db" }`, Traces: []int{12}},
	{Query: `{ resource.service.name = "frontend" } > { resource.service.name = "api" }`, Traces: []int{1, 2, 3},
		Spans: []string{"1:POST /api/order", "2:POST /api/order", "3:GET /api/cart"}},
	{Query: `{ resource.service.name = "db" } << { resource.service.name = "frontend" }`, Traces: []int{1, 2, 12},
		Spans: []string{"1:GET /checkout", "2:GET /checkout", "12:GET /health"}},
	{Query: `{ resource.service.name = "db" } < { resource.service.name = "api" }`, Traces: []int{1, 2},
		Spans: []string{"1:POST /api/order", "2:POST /api/order"}},
	{Query: `{ name = "task A" } ~ { span.task.index != nil }`, Traces: []int{5}, Spans: []string{"5:task B", "5:task C"}},
	{Query: `{ name = "cron tick" } ~ { name = "cron cleanup" }`, Traces: nil},
	{Query: `{ name = "orphan work" } > { name = "orphan child" }`, Traces: []int{9}, Spans: []string{"9:orphan child"}},
	{Query: `{ name = "cron tick" } >> { }`, Traces: nil},
	{Query: `{ kind = server } >> { status = error }`, Traces: []int{2, 3, 11},
		Spans: []string{"2:POST /api/order", "2:INSERT orders", "3:GET /api/cart", "11:L3"}},
	{Query: `{ kind = server } !>> { status = error }`, Traces: []int{2}, Spans: []string{"2:GET /checkout"}},
	{Query: `{ resource.service.name = "api" } !> { resource.service.name = "db" }`, Traces: []int{12}},
	{Query: `{ status = error } !<< { kind = server }`, Traces: []int{1, 3, 6, 7, 8, 10, 12}},
	{Query: `{ resource.service.name = "db" } !< { kind = server }`, Traces: []int{1, 2, 3, 6, 7, 8, 10, 11}},
	{Query: `{ name = "task A" } !~ { kind = internal }`, Traces: []int{5, 7, 8, 9, 11},
		Spans: []string{"5:batch", "5:task A", "5:subtask", "7:auth check", "8:fast op",
			"9:cron tick", "9:cron cleanup", "9:orphan work", "9:orphan child", "11:L1", "11:L2"}},
	{Query: `{ resource.service.name = "frontend" } &>> { resource.service.name = "db" }`, Traces: []int{1, 2, 12},
		Spans: []string{"1:GET /checkout", "1:SELECT orders", "2:GET /checkout", "2:INSERT orders", "12:GET /health", "12:health db ping"}},
	{Query: `{ resource.service.name = "api" } &> { resource.service.name = "db" }`, Traces: []int{1, 2},
		Spans: []string{"1:POST /api/order", "1:SELECT orders", "2:POST /api/order", "2:INSERT orders"}},
	{Query: `{ resource.service.name = "db" } &<< { kind = server }`, Traces: []int{1, 2, 12},
		Spans: []string{"1:GET /checkout", "1:POST /api/order", "1:SELECT orders", "2:GET /checkout", "2:POST /api/order",
			"2:INSERT orders", "12:GET /health", "12:health db ping"}},
	{Query: `{ name = "subtask" } &< { name = "task B" }`, Traces: []int{5}, Spans: []string{"5:task B", "5:subtask"}},
	{Query: `{ name = "task A" } &~ { name = "task C" }`, Traces: []int{5}, Spans: []string{"5:task A", "5:task C"}},
	{Query: `({ kind = server } >> { kind = client }) && { status = error }`, Traces: []int{2, 11},
		Spans: []string{"2:GET /checkout", "2:POST /api/order", "2:INSERT orders", "11:L3"}},
	{Query: `{ resource.service.name = "frontend" } >> { resource.service.name = "api" } >> { resource.service.name = "db" }`,
		Traces: []int{1, 2}, Spans: []string{"1:SELECT orders", "2:INSERT orders"}},
	{Query: `{ name = "L0" } >> ({ name = "L2" } && { name = "L3" })`, Traces: []int{11}, Spans: []string{"11:L2", "11:L3"}},

	// Pipelines.
	{Query: `{ } | count() > 3`, Traces: []int{5, 9, 11}},
	{Query: `{ resource.service.name = "worker" } | count() = 2`, Traces: []int{9}},
	{Query: `{ } | avg(duration) > 500ms`, Traces: []int{8}},
	{Query: `{ } | max(duration) >= 200ms`, Traces: []int{2, 8}},
	{Query: `{ } | min(duration) < 2ms`, Traces: []int{8}},
	{Query: `{ } | sum(duration) > 400ms`, Traces: []int{2, 8}},
	{Query: `{ } | sum(span.task.index) = 3`, Traces: []int{5}},
	{Query: `{ status = error } | count() > 1`, Traces: []int{2}},
	{Query: `{ } | by(resource.service.name) | count() > 2`, Traces: []int{5, 8, 11}},
	{Query: `{ } | { name = "task B" }`, Traces: []int{5}, Spans: []string{"5:task B"}},
	{Query: `{ resource.service.name = "api" } | { status = error }`, Traces: []int{2, 3}},
	{Query: `{ } | coalesce()`, Traces: all12},
	{Query: `({ } | count() > 3) && { status = error }`, Traces: []int{11}},
	{Query: `({ } | count() > 3) || { kind = producer }`, Traces: []int{4, 5, 9, 11}},
	{Query: `by(resource.service.name) | count() > 4`, Traces: []int{5}},
	{Query: `{ } | count() > 1 | { status = error }`, Traces: []int{2, 3, 11}},
	{Query: `{ } | avg(span.http.status_code) > 400`, Traces: []int{2, 3, 11}},
	{Query: `{ } | count() * 2 >= 8`, Traces: []int{5, 9, 11}},
	{Query: `{ kind = server } | select(span.http.method) | { span.http.method = "POST" }`, Traces: []int{1, 2}},
	{Query: `{ } | rate()`, Traces: all12},
}
