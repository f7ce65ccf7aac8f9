package traceql

import (
	"fmt"
	"testing"
	"time"
)

// benchTrace builds a realistic trace of 50 spans: a frontend request
// fanning out to api calls, each with database, cache and auth children;
// every span has ten attributes (six span, four more resource) and a few
// errors.
func benchTrace() *Trace {
	t := &Trace{ID: traceID(7)}
	base := conformanceT0
	add := func(n, parent int, name, svc string, kind Kind, status Status, start, dur time.Duration, extra ...Attr) {
		s := Span{ID: spanID(7, n), Name: name, Kind: kind, Status: status,
			Start: base + int64(start), End: base + int64(start+dur),
			Resource: []Attr{str("service.name", svc), str("service.version", "1.4.2"), str("host.name", "node-17"),
				str("k8s.pod.name", svc+"-7d9f8-x2l4k"), str("deployment.environment", "prod")},
			Attrs: append([]Attr{str("component", "http"), num("thread.id", int64(n)), str("net.peer.name", "10.0.0.7")}, extra...),
		}
		if parent > 0 {
			s.ParentID = spanID(7, parent)
		}
		t.Spans = append(t.Spans, s)
	}
	add(1, 0, "GET /checkout", "frontend", KindServer, StatusUnset, 0, 400*time.Millisecond,
		str("http.method", "GET"), str("http.route", "/checkout"), num("http.status_code", 200))
	n := 2
	for call := 0; call < 12; call++ {
		api := n
		status, code := StatusUnset, int64(200)
		if call%5 == 4 {
			status, code = StatusError, 503
		}
		add(api, 1, fmt.Sprintf("POST /api/v1/op%d", call), "api", KindServer, status, time.Duration(call)*20*time.Millisecond, 15*time.Millisecond,
			str("http.method", "POST"), str("http.route", fmt.Sprintf("/api/v1/op%d", call)), num("http.status_code", code))
		n++
		for _, child := range []struct{ name, svc string }{{"SELECT items", "db"}, {"GET cache", "cache"}, {"verify token", "auth"}} {
			if n > 50 {
				break
			}
			add(n, api, child.name, child.svc, KindClient, StatusUnset, time.Duration(call)*20*time.Millisecond+time.Millisecond, 5*time.Millisecond,
				str("db.system", "postgresql"), str("db.statement", "SELECT * FROM items WHERE id = $1"), num("rows", 3))
			n++
		}
	}
	return t
}

var benchQueries = []struct{ name, query string }{
	{"common-filter", `{ resource.service.name = "api" && span.http.status_code >= 500 }`},
	{"no-match", `{ resource.service.name = "nope" }`},
	{"intrinsics", `{ status = error && kind = server && duration > 10ms }`},
	{"regex", `{ span.http.route =~ "/api/v1/op1.*" }`},
	{"unscoped", `{ .deployment.environment = "prod" && .http.method = "POST" }`},
	{"structural", `{ resource.service.name = "frontend" } >> { resource.service.name = "api" && status = error }`},
	{"spanset-and", `{ resource.service.name = "db" } && { status = error }`},
	{"by-avg", `{ } | by(resource.service.name) | avg(duration) > 10ms`},
	{"count", `{ kind = client } | count() > 10`},
}

// BenchmarkEval evaluates queries on the 50-span trace; ns/span is the
// time of one Eval divided by the trace's spans.
func BenchmarkEval(b *testing.B) {
	tr := benchTrace()
	for _, c := range benchQueries {
		q, err := Parse(c.query)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := q.Eval(tr); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tr.Spans)), "ns/span")
		})
	}
}

// BenchmarkMetricsObserve feeds the 50-span trace to metrics partials.
func BenchmarkMetricsObserve(b *testing.B) {
	tr := benchTrace()
	for _, c := range []struct{ name, query string }{
		{"rate-by", `{ } | rate() by (resource.service.name)`},
		{"quantile-by", `{ kind = client } | quantile_over_time(duration, 0.9, 0.99) by (resource.service.name)`},
	} {
		q, err := Parse(c.query)
		if err != nil {
			b.Fatal(err)
		}
		m, _ := q.NewMetrics(conformanceT0, conformanceT0+int64(time.Hour), int64(time.Minute))
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.Observe(tr)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tr.Spans)), "ns/span")
		})
	}
}

// BenchmarkParse parses and compiles a typical query.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(`{ resource.service.name = "api" && span.http.status_code >= 500 } >> { name =~ "SELECT.*" } | count() > 1`); err != nil {
			b.Fatal(err)
		}
	}
}
