package traceql

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The conformance data set and table. conformanceTraces builds twelve
// fixed traces; conformanceCases lists queries with the exact traces (and
// for some the exact spans, as "trace:span name") they match. Both are
// self-contained so that they can be run through a whole cluster later.

// conformanceT0 is the start of the first trace; trace k starts (k-1)*10s
// later.
const conformanceT0 = int64(1_700_000_000) * int64(time.Second)

func traceID(k int) [16]byte {
	var id [16]byte
	id[15] = byte(k)
	return id
}

func spanID(k, n int) [8]byte {
	var id [8]byte
	id[6], id[7] = byte(k), byte(n)
	return id
}

// spanSpec describes one span of the data set; times are milliseconds
// after the trace's start.
type spanSpec struct {
	n, parent    int // span number within the trace; parent 0: root, -1: a parent not in the trace
	name, svc    string
	kind         Kind
	status       Status
	msg          string
	start, dur   float64
	attrs        []Attr
	resource     []Attr
	scope, scopV string
	scopeAttrs   []Attr
	events       []Event
	links        []Link
}

func ms(v float64) int64 { return int64(v * float64(time.Millisecond)) }

func str(k, v string) Attr       { return Attr{Key: k, Value: StringValue(v)} }
func num(k string, v int64) Attr { return Attr{Key: k, Value: IntValue(v)} }

func buildTrace(k int, specs ...spanSpec) Trace {
	base := conformanceT0 + int64(k-1)*int64(10*time.Second)
	t := Trace{ID: traceID(k)}
	for _, s := range specs {
		sp := Span{
			ID: spanID(k, s.n), Name: s.name, Kind: s.kind, Status: s.status, StatusMessage: s.msg,
			Start: base + ms(s.start), End: base + ms(s.start) + ms(s.dur),
			Attrs: s.attrs, Resource: append([]Attr{str("service.name", s.svc)}, s.resource...),
			ScopeName: s.scope, ScopeVersion: s.scopV, ScopeAttrs: s.scopeAttrs, Links: s.links,
		}
		switch {
		case s.parent > 0:
			sp.ParentID = spanID(k, s.parent)
		case s.parent < 0:
			sp.ParentID = spanID(k, 99)
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

// conformanceTraces returns the data set: twelve traces.
func conformanceTraces() []Trace {
	return []Trace{
		// 1: frontend -> api -> db, no errors.
		buildTrace(1,
			spanSpec{n: 1, name: "GET /checkout", svc: "frontend", kind: KindServer, start: 0, dur: 100,
				attrs: []Attr{str("http.method", "GET"), num("http.status_code", 200), str("http.route", "/checkout")}},
			spanSpec{n: 2, parent: 1, name: "POST /api/order", svc: "api", kind: KindServer, start: 10, dur: 80,
				attrs: []Attr{str("http.method", "POST"), num("http.status_code", 201)}},
			spanSpec{n: 3, parent: 2, name: "SELECT orders", svc: "db", kind: KindClient, start: 20, dur: 30,
				attrs: []Attr{str("db.system", "postgresql"), str("db.statement", "SELECT * FROM orders")}},
		),
		// 2: the same chain failing, with an exception event in the db.
		buildTrace(2,
			spanSpec{n: 1, name: "GET /checkout", svc: "frontend", kind: KindServer, status: StatusError, start: 0, dur: 200,
				attrs: []Attr{str("http.method", "GET"), num("http.status_code", 500)}},
			spanSpec{n: 2, parent: 1, name: "POST /api/order", svc: "api", kind: KindServer, status: StatusError, start: 10, dur: 180,
				attrs: []Attr{str("http.method", "POST"), num("http.status_code", 500)}},
			spanSpec{n: 3, parent: 2, name: "INSERT orders", svc: "db", kind: KindClient, status: StatusError, msg: "deadlock detected", start: 20, dur: 150,
				attrs:  []Attr{str("db.system", "postgresql")},
				events: []Event{{Name: "exception", Time: ms(100), Attrs: []Attr{str("exception.type", "DeadlockError")}}}},
		),
		// 3: frontend -> api, the api unavailable.
		buildTrace(3,
			spanSpec{n: 1, name: "GET /cart", svc: "frontend", kind: KindServer, start: 0, dur: 50,
				attrs: []Attr{str("http.method", "GET"), num("http.status_code", 503)}},
			spanSpec{n: 2, parent: 1, name: "GET /api/cart", svc: "api", kind: KindServer, status: StatusError, msg: "upstream unavailable", start: 5, dur: 40,
				attrs: []Attr{str("http.method", "GET"), num("http.status_code", 503)}},
		),
		// 4: a producer and its consumer, which links to trace 1.
		buildTrace(4,
			spanSpec{n: 1, name: "publish order", svc: "orders", kind: KindProducer, status: StatusOK, start: 0, dur: 5,
				attrs: []Attr{str("messaging.system", "kafka"), str("messaging.destination", "orders")}},
			spanSpec{n: 2, parent: 1, name: "consume order", svc: "billing", kind: KindConsumer, start: 30, dur: 20,
				attrs: []Attr{str("messaging.system", "kafka")},
				links: []Link{{TraceID: traceID(1), SpanID: spanID(1, 1), Attrs: []Attr{str("relation", "follows_from")}}}},
		),
		// 5: siblings under a batch, one with a child.
		buildTrace(5,
			spanSpec{n: 1, name: "batch", svc: "worker", kind: KindInternal, start: 0, dur: 100},
			spanSpec{n: 2, parent: 1, name: "task A", svc: "worker", kind: KindInternal, start: 10, dur: 20,
				attrs: []Attr{num("task.index", 0), {Key: "retry", Value: BoolValue(true)}}},
			spanSpec{n: 3, parent: 1, name: "task B", svc: "worker", kind: KindInternal, start: 30, dur: 30,
				attrs: []Attr{num("task.index", 1)}},
			spanSpec{n: 4, parent: 1, name: "task C", svc: "worker", kind: KindInternal, start: 60, dur: 30,
				attrs: []Attr{num("task.index", 2), {Key: "task.weight", Value: FloatValue(0.75)}}},
			spanSpec{n: 5, parent: 3, name: "subtask", svc: "worker", kind: KindInternal, start: 35, dur: 10},
		),
		// 6: array attributes.
		buildTrace(6,
			spanSpec{n: 1, name: "search query", svc: "search", kind: KindServer, start: 0, dur: 40,
				attrs: []Attr{
					{Key: "tags", Value: StringArrayValue([]string{"alpha", "beta"})},
					{Key: "codes", Value: IntArrayValue([]int64{200, 404})},
					{Key: "ratios", Value: FloatArrayValue([]float64{0.5, 1.5})},
					{Key: "flags", Value: BoolArrayValue([]bool{false, true})},
				}},
		),
		// 7: resource attributes, one shadowed by a span attribute.
		buildTrace(7,
			spanSpec{n: 1, name: "GET /login", svc: "gateway", kind: KindServer, start: 0, dur: 60,
				attrs:    []Attr{str("region", "eu")},
				resource: []Attr{str("deployment.environment", "prod"), str("region", "us")}},
			spanSpec{n: 2, parent: 1, name: "auth check", svc: "gateway", kind: KindInternal, start: 5, dur: 20,
				resource: []Attr{str("deployment.environment", "prod"), str("region", "us")}},
		),
		// 8: very different durations; instrumentation scope.
		buildTrace(8,
			spanSpec{n: 1, name: "slow op", svc: "reports", kind: KindServer, start: 0, dur: 2000},
			spanSpec{n: 2, parent: 1, name: "fast op", svc: "reports", kind: KindInternal, start: 10, dur: 1},
			spanSpec{n: 3, parent: 1, name: "medium op", svc: "reports", kind: KindClient, start: 20, dur: 150,
				attrs: []Attr{str("db.system", "mysql")},
				scope: "io.opentelemetry.jdbc", scopV: "1.2.0", scopeAttrs: []Attr{str("lib.lang", "java")}},
		),
		// 9: two roots, and an orphan whose parent is missing.
		buildTrace(9,
			spanSpec{n: 1, name: "cron tick", svc: "scheduler", kind: KindInternal, start: 0, dur: 10},
			spanSpec{n: 2, name: "cron cleanup", svc: "scheduler", kind: KindInternal, start: 5, dur: 10},
			spanSpec{n: 3, parent: -1, name: "orphan work", svc: "worker", kind: KindInternal, start: 20, dur: 10},
			spanSpec{n: 4, parent: 3, name: "orphan child", svc: "worker", kind: KindInternal, start: 22, dur: 5},
		),
		// 10: events and links.
		buildTrace(10,
			spanSpec{n: 1, name: "upload", svc: "storage", kind: KindServer, start: 0, dur: 100,
				events: []Event{
					{Name: "start", Time: ms(1)},
					{Name: "checkpoint", Time: ms(50), Attrs: []Attr{num("bytes", 1024)}},
					{Name: "done", Time: ms(90)},
				},
				links: []Link{
					{TraceID: traceID(4), SpanID: spanID(4, 1), Attrs: []Attr{str("relation", "caused_by")}},
					{TraceID: traceID(2), SpanID: spanID(2, 3)},
				}},
			spanSpec{n: 2, parent: 1, name: "write chunk", svc: "storage", kind: KindClient, start: 10, dur: 30,
				events: []Event{{Name: "retry", Time: ms(5), Attrs: []Attr{num("attempt", 2)}}}},
		),
		// 11: a deep chain; the status code is an int on L1 and a string on L2.
		buildTrace(11,
			spanSpec{n: 1, name: "L0", svc: "chain", kind: KindServer, start: 0, dur: 80},
			spanSpec{n: 2, parent: 1, name: "L1", svc: "chain", kind: KindInternal, start: 5, dur: 60,
				attrs: []Attr{num("http.status_code", 404)}},
			spanSpec{n: 3, parent: 2, name: "L2", svc: "chain", kind: KindInternal, start: 10, dur: 40,
				attrs: []Attr{str("http.status_code", "404")}},
			spanSpec{n: 4, parent: 3, name: "L3", svc: "chain", kind: KindClient, status: StatusError, start: 15, dur: 20},
		),
		// 12: a healthy check; a quoted attribute name and a negative value.
		buildTrace(12,
			spanSpec{n: 1, name: "GET /health", svc: "frontend", kind: KindServer, status: StatusOK, start: 0, dur: 3,
				attrs: []Attr{num("http.status_code", 200), str("user id", "u-42"), num("balance", -5)}},
			spanSpec{n: 2, parent: 1, name: "health db ping", svc: "db", kind: KindClient, status: StatusOK, start: 1, dur: 2,
				attrs: []Attr{str("db.system", "redis")}},
		),
	}
}

// conformanceCase is a query and what it matches: traces by number and,
// if spans is set, the exact matched spans as "trace:span name".
type conformanceCase struct {
	query  string
	traces []int
	spans  []string
}

var all12 = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}

var conformanceCases = []conformanceCase{
	// Filters, scopes and literals.
	{query: `{ }`, traces: all12},
	{query: `{ true }`, traces: all12},
	{query: `{ false }`, traces: nil},
	{query: `{ resource.service.name = "frontend" }`, traces: []int{1, 2, 3, 12},
		spans: []string{"1:GET /checkout", "2:GET /checkout", "3:GET /cart", "12:GET /health"}},
	{query: `{ resource.service.name != "frontend" }`, traces: all12},
	{query: `{ .service.name = "db" }`, traces: []int{1, 2, 12}},
	{query: `{ span.http.status_code >= 500 }`, traces: []int{2, 3},
		spans: []string{"2:GET /checkout", "2:POST /api/order", "3:GET /cart", "3:GET /api/cart"}},
	{query: `{ span.http.status_code >= 500 && resource.service.name = "api" }`, traces: []int{2, 3},
		spans: []string{"2:POST /api/order", "3:GET /api/cart"}},
	{query: `{ span.http.status_code = 404 }`, traces: []int{11}, spans: []string{"11:L1"}},
	{query: `{ span.http.status_code = "404" }`, traces: []int{11}, spans: []string{"11:L2"}},
	{query: `{ span.http.status_code > 200 && span.http.status_code < 300 }`, traces: []int{1}, spans: []string{"1:POST /api/order"}},
	{query: `{ span.http.status_code = 500.0 }`, traces: []int{2}},
	{query: `{ span.http.status_code <= 200 }`, traces: []int{1, 12}},
	{query: `{ name = "GET /checkout" }`, traces: []int{1, 2}},
	{query: `{ span:name =~ "GET .*" }`, traces: []int{1, 2, 3, 7, 12}},
	{query: `{ name =~ "GET" }`, traces: nil},
	{query: `{ name !~ ".*order.*" }`, traces: []int{1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12}},
	{query: `{ status = error }`, traces: []int{2, 3, 11}},
	{query: `{ span:status = ok }`, traces: []int{4, 12}},
	{query: `{ status = unset }`, traces: []int{1, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	{query: `{ status != ok }`, traces: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
	{query: `{ kind = server }`, traces: []int{1, 2, 3, 6, 7, 8, 10, 11, 12}},
	{query: `{ span:kind = producer }`, traces: []int{4}, spans: []string{"4:publish order"}},
	{query: `{ kind = consumer }`, traces: []int{4}, spans: []string{"4:consume order"}},
	{query: `{ kind = client && status = error }`, traces: []int{2, 11}, spans: []string{"2:INSERT orders", "11:L3"}},
	{query: `{ duration > 1s }`, traces: []int{8}, spans: []string{"8:slow op"}},
	{query: `{ span:duration >= 150ms }`, traces: []int{2, 8},
		spans: []string{"2:GET /checkout", "2:POST /api/order", "2:INSERT orders", "8:slow op", "8:medium op"}},
	{query: `{ duration < 5ms }`, traces: []int{8, 12}},
	{query: `{ duration = 5ms }`, traces: []int{4, 9}, spans: []string{"4:publish order", "9:orphan child"}},
	{query: `{ statusMessage = "deadlock detected" }`, traces: []int{2}},
	{query: `{ span:statusMessage =~ "up.*" }`, traces: []int{3}},
	{query: `{ span:id = "0000000000000a01" }`, traces: []int{10}, spans: []string{"10:upload"}},
	{query: `{ span:id = "0000000000000A01" }`, traces: nil},
	{query: `{ span:parentID = "0000000000000301" }`, traces: []int{3}, spans: []string{"3:GET /api/cart"}},
	{query: `{ span:parentID != nil && kind = server }`, traces: []int{1, 2, 3}},
	{query: `{ trace:id = "0000000000000000000000000000000c" }`, traces: []int{12}},
	{query: `{ trace:id =~ ".*0[ab]" }`, traces: []int{10, 11}},
	{query: `{ rootName = "GET /checkout" }`, traces: []int{1, 2}},
	{query: `{ trace:rootName = "cron tick" }`, traces: []int{9}},
	{query: `{ rootServiceName = "frontend" }`, traces: []int{1, 2, 3, 12}},
	{query: `{ trace:rootService = "frontend" && resource.service.name = "db" }`, traces: []int{1, 2, 12},
		spans: []string{"1:SELECT orders", "2:INSERT orders", "12:health db ping"}},
	{query: `{ traceDuration > 150ms }`, traces: []int{2, 8}},
	{query: `{ trace:duration < 40ms }`, traces: []int{9, 12}},
	{query: `{ event:name = "exception" }`, traces: []int{2}, spans: []string{"2:INSERT orders"}},
	{query: `{ event.exception.type = "DeadlockError" }`, traces: []int{2}},
	{query: `{ event:name = "checkpoint" && event.bytes > 1000 }`, traces: []int{10}},
	{query: `{ event:timeSinceStart > 80ms }`, traces: []int{2, 10}},
	{query: `{ event.attempt = 2 }`, traces: []int{10}, spans: []string{"10:write chunk"}},
	{query: `{ event:name = nil && kind = server }`, traces: []int{1, 2, 3, 6, 7, 8, 11, 12}},
	{query: `{ link:traceID = "00000000000000000000000000000001" }`, traces: []int{4}},
	{query: `{ link:spanID = "0000000000000401" }`, traces: []int{10}},
	{query: `{ link.relation = "caused_by" }`, traces: []int{10}},
	{query: `{ link.relation =~ ".*_.*" }`, traces: []int{4, 10}},
	{query: `{ link:traceID != nil }`, traces: []int{4, 10}},
	{query: `{ instrumentation:name = "io.opentelemetry.jdbc" }`, traces: []int{8}, spans: []string{"8:medium op"}},
	{query: `{ instrumentation:version = "1.2.0" && instrumentation.lib.lang = "java" }`, traces: []int{8}},
	{query: `{ childCount = 3 }`, traces: []int{5}, spans: []string{"5:batch"}},
	{query: `{ childCount > 1 }`, traces: []int{5, 8}},
	{query: `{ span.tags = "beta" }`, traces: []int{6}},
	{query: `{ span.codes = 404 }`, traces: []int{6}},
	{query: `{ span.codes > 300 }`, traces: []int{6}},
	{query: `{ span.ratios < 1.0 }`, traces: []int{6}},
	{query: `{ span.flags = true }`, traces: []int{6}},
	{query: `{ span.tags =~ "al.*" }`, traces: []int{6}},
	{query: `{ span.tags = "gamma" }`, traces: nil},
	{query: `{ span.codes = "200" }`, traces: nil},
	{query: `{ .region = "eu" }`, traces: []int{7}, spans: []string{"7:GET /login"}},
	{query: `{ .region = "us" }`, traces: []int{7}, spans: []string{"7:auth check"}},
	{query: `{ resource.region = "us" }`, traces: []int{7}, spans: []string{"7:GET /login", "7:auth check"}},
	{query: `{ .deployment.environment = "prod" }`, traces: []int{7}},
	{query: `{ span.deployment.environment = "prod" }`, traces: nil},
	{query: `{ span.retry = true }`, traces: []int{5}, spans: []string{"5:task A"}},
	{query: `{ span.retry }`, traces: []int{5}, spans: []string{"5:task A"}},
	{query: `{ !span.retry }`, traces: all12},
	{query: `{ span.task.weight > 0.5 }`, traces: []int{5}},
	{query: `{ span.task.index = 1.0 }`, traces: []int{5}, spans: []string{"5:task B"}},
	{query: `{ span.missing = nil }`, traces: all12},
	{query: `{ span.http.method != nil }`, traces: []int{1, 2, 3}},
	{query: `{ span.db.system = nil && resource.service.name = "db" }`, traces: nil},
	{query: `{ span.http.status_code = nil && kind = server }`, traces: []int{6, 7, 8, 10, 11}},
	{query: `{ span."user id" = "u-42" }`, traces: []int{12}},
	{query: `{ span.balance < 0 && span.balance = -5 }`, traces: []int{12}},
	{query: `{ -span.balance = 5 }`, traces: []int{12}},
	{query: `{ span.http.status_code + 1 = 501 }`, traces: []int{2}},
	{query: `{ span.http.status_code / 100 = 5 }`, traces: []int{2}},
	{query: `{ span.http.status_code % 100 = 3 }`, traces: []int{3}},
	{query: `{ duration * 2 > 3s }`, traces: []int{8}},
	{query: `{ duration - 100ms > 1s }`, traces: []int{8}},
	{query: `{ span.task.index ^ 2 = 4 }`, traces: []int{5}, spans: []string{"5:task C"}},
	{query: `{ (name = "task A" || name = "task C") && span.task.index > 0 }`, traces: []int{5}, spans: []string{"5:task C"}},
	{query: `{ !(status = error) && resource.service.name = "api" }`, traces: []int{1}},
	{query: `{ name = "nonexistent" || true }`, traces: all12},
	{query: `{ 1 = 1 }`, traces: all12},
	{query: `{ "a" = 1 }`, traces: nil},
	{query: `{ status = "error" }`, traces: nil},

	// Spanset operators.
	{query: `{ resource.service.name = "frontend" } && { resource.service.name = "db" }`, traces: []int{1, 2, 12},
		spans: []string{"1:GET /checkout", "1:SELECT orders", "2:GET /checkout", "2:INSERT orders", "12:GET /health", "12:health db ping"}},
	{query: `{ resource.service.name = "db" } || { kind = producer }`, traces: []int{1, 2, 4, 12}},
	{query: `{ resource.service.name = "frontend" } >> { resource.service.name = "db" }`, traces: []int{1, 2, 12},
		spans: []string{"1:SELECT orders", "2:INSERT orders", "12:health db ping"}},
	{query: `{ resource.service.name = "frontend" } > { resource.service.name = "db" }`, traces: []int{12}},
	{query: `{ resource.service.name = "frontend" } > { resource.service.name = "api" }`, traces: []int{1, 2, 3},
		spans: []string{"1:POST /api/order", "2:POST /api/order", "3:GET /api/cart"}},
	{query: `{ resource.service.name = "db" } << { resource.service.name = "frontend" }`, traces: []int{1, 2, 12},
		spans: []string{"1:GET /checkout", "2:GET /checkout", "12:GET /health"}},
	{query: `{ resource.service.name = "db" } < { resource.service.name = "api" }`, traces: []int{1, 2},
		spans: []string{"1:POST /api/order", "2:POST /api/order"}},
	{query: `{ name = "task A" } ~ { span.task.index != nil }`, traces: []int{5}, spans: []string{"5:task B", "5:task C"}},
	{query: `{ name = "cron tick" } ~ { name = "cron cleanup" }`, traces: nil},
	{query: `{ name = "orphan work" } > { name = "orphan child" }`, traces: []int{9}, spans: []string{"9:orphan child"}},
	{query: `{ name = "cron tick" } >> { }`, traces: nil},
	{query: `{ kind = server } >> { status = error }`, traces: []int{2, 3, 11},
		spans: []string{"2:POST /api/order", "2:INSERT orders", "3:GET /api/cart", "11:L3"}},
	{query: `{ kind = server } !>> { status = error }`, traces: []int{2}, spans: []string{"2:GET /checkout"}},
	{query: `{ resource.service.name = "api" } !> { resource.service.name = "db" }`, traces: []int{12}},
	{query: `{ status = error } !<< { kind = server }`, traces: []int{1, 3, 6, 7, 8, 10, 12}},
	{query: `{ resource.service.name = "db" } !< { kind = server }`, traces: []int{1, 2, 3, 6, 7, 8, 10, 11}},
	{query: `{ name = "task A" } !~ { kind = internal }`, traces: []int{5, 7, 8, 9, 11},
		spans: []string{"5:batch", "5:task A", "5:subtask", "7:auth check", "8:fast op",
			"9:cron tick", "9:cron cleanup", "9:orphan work", "9:orphan child", "11:L1", "11:L2"}},
	{query: `{ resource.service.name = "frontend" } &>> { resource.service.name = "db" }`, traces: []int{1, 2, 12},
		spans: []string{"1:GET /checkout", "1:SELECT orders", "2:GET /checkout", "2:INSERT orders", "12:GET /health", "12:health db ping"}},
	{query: `{ resource.service.name = "api" } &> { resource.service.name = "db" }`, traces: []int{1, 2},
		spans: []string{"1:POST /api/order", "1:SELECT orders", "2:POST /api/order", "2:INSERT orders"}},
	{query: `{ resource.service.name = "db" } &<< { kind = server }`, traces: []int{1, 2, 12},
		spans: []string{"1:GET /checkout", "1:POST /api/order", "1:SELECT orders", "2:GET /checkout", "2:POST /api/order",
			"2:INSERT orders", "12:GET /health", "12:health db ping"}},
	{query: `{ name = "subtask" } &< { name = "task B" }`, traces: []int{5}, spans: []string{"5:task B", "5:subtask"}},
	{query: `{ name = "task A" } &~ { name = "task C" }`, traces: []int{5}, spans: []string{"5:task A", "5:task C"}},
	{query: `({ kind = server } >> { kind = client }) && { status = error }`, traces: []int{2, 11},
		spans: []string{"2:GET /checkout", "2:POST /api/order", "2:INSERT orders", "11:L3"}},
	{query: `{ resource.service.name = "frontend" } >> { resource.service.name = "api" } >> { resource.service.name = "db" }`,
		traces: []int{1, 2}, spans: []string{"1:SELECT orders", "2:INSERT orders"}},
	{query: `{ name = "L0" } >> ({ name = "L2" } && { name = "L3" })`, traces: []int{11}, spans: []string{"11:L2", "11:L3"}},

	// Pipelines.
	{query: `{ } | count() > 3`, traces: []int{5, 9, 11}},
	{query: `{ resource.service.name = "worker" } | count() = 2`, traces: []int{9}},
	{query: `{ } | avg(duration) > 500ms`, traces: []int{8}},
	{query: `{ } | max(duration) >= 200ms`, traces: []int{2, 8}},
	{query: `{ } | min(duration) < 2ms`, traces: []int{8}},
	{query: `{ } | sum(duration) > 400ms`, traces: []int{2, 8}},
	{query: `{ } | sum(span.task.index) = 3`, traces: []int{5}},
	{query: `{ status = error } | count() > 1`, traces: []int{2}},
	{query: `{ } | by(resource.service.name) | count() > 2`, traces: []int{5, 8, 11}},
	{query: `{ } | { name = "task B" }`, traces: []int{5}, spans: []string{"5:task B"}},
	{query: `{ resource.service.name = "api" } | { status = error }`, traces: []int{2, 3}},
	{query: `{ } | coalesce()`, traces: all12},
	{query: `({ } | count() > 3) && { status = error }`, traces: []int{11}},
	{query: `({ } | count() > 3) || { kind = producer }`, traces: []int{4, 5, 9, 11}},
	{query: `by(resource.service.name) | count() > 4`, traces: []int{5}},
	{query: `{ } | count() > 1 | { status = error }`, traces: []int{2, 3, 11}},
	{query: `{ } | avg(span.http.status_code) > 400`, traces: []int{2, 3, 11}},
	{query: `{ } | count() * 2 >= 8`, traces: []int{5, 9, 11}},
	{query: `{ kind = server } | select(span.http.method) | { span.http.method = "POST" }`, traces: []int{1, 2}},
	{query: `{ } | rate()`, traces: all12},
}

// spanLabel names a span as the table does.
func spanLabel(s *Span) string { return fmt.Sprintf("%d:%s", s.ID[6], s.Name) }

func TestConformance(t *testing.T) {
	traces := conformanceTraces()
	for _, c := range conformanceCases {
		q, err := Parse(c.query)
		if err != nil {
			t.Errorf("%s: %v", c.query, err)
			continue
		}
		var gotTraces []int
		var gotSpans []string
		for i := range traces {
			res, err := q.Eval(&traces[i])
			if err != nil {
				t.Fatalf("%s: Eval: %v", c.query, err)
			}
			if len(res) == 0 {
				continue
			}
			gotTraces = append(gotTraces, int(traces[i].ID[15]))
			for _, ss := range res {
				if ss.Matched != len(ss.Spans) || len(ss.Spans) == 0 {
					t.Errorf("%s: spanset of %d spans says Matched %d", c.query, len(ss.Spans), ss.Matched)
				}
				for _, m := range ss.Spans {
					gotSpans = append(gotSpans, spanLabel(m.Span))
				}
			}
		}
		if !slices.Equal(gotTraces, c.traces) {
			t.Errorf("%s: traces %v, want %v", c.query, gotTraces, c.traces)
		}
		if c.spans != nil {
			slices.Sort(gotSpans)
			gotSpans = slices.Compact(gotSpans)
			want := slices.Clone(c.spans)
			slices.Sort(want)
			if !slices.Equal(gotSpans, want) {
				t.Errorf("%s: spans\n got %s\nwant %s", c.query, strings.Join(gotSpans, ", "), strings.Join(want, ", "))
			}
		}
	}
	if len(conformanceCases) < 80 {
		t.Errorf("only %d conformance cases", len(conformanceCases))
	}
}
