package traceql

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// requiredString writes Required's answer as "g<group>:<condition>, ... | ...".
func requiredString(alts [][]Condition) string {
	if alts == nil {
		return "nil"
	}
	var parts []string
	for _, alt := range alts {
		var cs []string
		for _, c := range alt {
			s := fmt.Sprintf("g%d:%s", c.Group, c)
			if c.Prefix != "" {
				s += " prefix " + c.Prefix
			}
			cs = append(cs, s)
		}
		parts = append(parts, strings.Join(cs, ", "))
	}
	return strings.Join(parts, " | ")
}

func TestRequired(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{`{ resource.service.name = "x" && span.http.status_code >= 500 }`, `g1:resource.service.name = "x", g1:span.http.status_code >= 500`},
		{`{ }`, "nil"},
		{`{ true }`, "nil"},
		{`{ .a != 1 }`, "nil"},
		{`{ !(.a = 1) }`, "nil"},
		{`{ .a = nil }`, "nil"},
		{`{ .a = 1 || .b = 2 }`, `g1:.a = 1 | g1:.b = 2`},
		{`{ .a = 1 || .b != 2 }`, "nil"},
		{`{ (.a = 1 || .b = 2) && .c > 3.5 }`, `g1:.a = 1, g1:.c > 3.5 | g1:.b = 2, g1:.c > 3.5`},
		{`{ .a = 1 && .b != 2 }`, `g1:.a = 1`},
		{`{ .a = 1 } && { .b = 2 }`, `g1:.a = 1, g2:.b = 2`},
		{`{ .a = 1 } || { }`, "nil"},
		{`{ .a = 1 } || { .b = 2 }`, `g1:.a = 1 | g2:.b = 2`},
		{`{ .a } !>> { .b = 2 }`, `g2:.b = 2`},
		{`{ .a = 1 } >> { .b = 2 }`, `g1:.a = 1, g2:.b = 2`},
		{`{ .a = 1 } &~ { .b = 2 }`, `g1:.a = 1, g2:.b = 2`},
		{`{ name =~ "GET /api.*" }`, `g1:span:name =~ "GET /api.*" prefix GET /api`},
		{`{ name =~ "(?i)get.*" }`, `g1:span:name =~ "(?i)get.*"`},
		{`{ .a !~ "x.*" }`, "nil"},
		{`{ 500 <= span.http.status_code }`, `g1:span.http.status_code >= 500`},
		{`{ duration > 1s && status = error && kind = server }`, `g1:span:duration > 1s, g1:span:status = error, g1:span:kind = server`},
		{`{ traceDuration > 1s }`, "nil"},
		{`{ rootServiceName = "x" && childCount > 1 }`, "nil"},
		{`{ span.flag }`, `g1:span.flag = true`},
		{`{ event.exception.type = "E" && link:traceID = "ab" }`, `g1:event.exception.type = "E", g1:link:traceID = "ab"`},
		{`{ .a + 1 = 2 }`, "nil"},
		{`{ .a = .b }`, "nil"},
		{`{ } | rate() by (resource.service.name)`, "nil"},
		{`{ status = error } | rate()`, `g1:span:status = error`},
		{`{ .a = 1 } | count() > 2 | { .b = 2 }`, `g1:.a = 1, g2:.b = 2`},
		{`({ .a = 1 } | by(.x)) || { .b = 2 } | coalesce()`, `g1:.a = 1 | g2:.b = 2`},
		{`by(.x) | count() > 1`, "nil"},
	} {
		q, err := Parse(c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		if got := requiredString(q.Required()); got != c.want {
			t.Errorf("%s: Required() = %s, want %s", c.query, got, c.want)
		}
	}
}

func TestFields(t *testing.T) {
	for _, c := range []struct {
		query string
		want  string
		tree  bool
	}{
		{`{ }`, "", false},
		{`{ resource.service.name = "x" && span.http.status_code >= 500 && .a = 1 }`,
			".a span.http.status_code resource.service.name", false},
		{`{ name = "x" } >> { status = error } | select(event.x, link:spanID)`,
			"event.x link:spanID span:name span:status", true},
		{`{ rootServiceName = "a" } | by(instrumentation.lib) | avg(duration) > 1s`,
			"resource.service.name instrumentation.lib span:duration trace:rootService", true},
		{`{ trace:rootName = "a" }`, "span:name trace:rootName", true},
		{`{ trace:id = "a" }`, "trace:id", false},
		{`{ } | quantile_over_time(duration, 0.5) by (span.x)`, "span.x span:duration", false},
		{`{ } | rate() by (trace:duration)`, "trace:duration", true},
	} {
		q, err := Parse(c.query)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range q.Fields() {
			if f.Scope == ScopeIntrinsic {
				names = append(names, f.Name)
			} else {
				names = append(names, attrString(f.Scope, f.Name))
			}
		}
		if got := strings.Join(names, " "); got != c.want {
			t.Errorf("%s: Fields() = %q, want %q", c.query, got, c.want)
		}
		if q.NeedsTree() != c.tree {
			t.Errorf("%s: NeedsTree() = %v", c.query, !c.tree)
		}
	}
}

// satisfies reports whether a trace meets one alternative of Required:
// every group of conditions is met by one span.
func satisfies(tr *Trace, alt []Condition) bool {
	groups := map[int][]Condition{}
	for _, c := range alt {
		groups[c.Group] = append(groups[c.Group], c)
	}
	for _, g := range groups {
		found := false
		for i := range tr.Spans {
			all := true
			for _, c := range g {
				if !c.Matches(&tr.Spans[i]) {
					all = false
					break
				}
			}
			if all {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// randomTrace builds a trace from a small vocabulary, so that queries
// often match: random parents (some missing), names, services, statuses,
// kinds, durations, status codes of mixed types, events, links, arrays.
func randomTrace(r *rand.Rand, k int) Trace {
	names := []string{"a", "b", "GET /x", "GET /api/y", "task"}
	services := []string{"frontend", "api", "db"}
	t := Trace{ID: traceID(k)}
	n := 1 + r.IntN(10)
	for i := 1; i <= n; i++ {
		s := Span{ID: spanID(k, i), Name: names[r.IntN(len(names))], Kind: Kind(r.IntN(6)), Status: Status(r.IntN(3)),
			Start: int64(r.IntN(1000)) * int64(time.Millisecond)}
		s.End = s.Start + int64(1+r.IntN(3000))*int64(time.Millisecond)
		switch p := r.IntN(4); {
		case i > 1 && p < 3:
			s.ParentID = spanID(k, 1+r.IntN(i-1))
		case p == 3:
			s.ParentID = spanID(k, 50)
		}
		s.Resource = []Attr{str("service.name", services[r.IntN(len(services))])}
		if r.IntN(2) == 0 {
			s.Resource = append(s.Resource, str("region", "us"))
		}
		switch r.IntN(5) {
		case 0:
			s.Attrs = append(s.Attrs, num("http.status_code", []int64{200, 404, 500, 503}[r.IntN(4)]))
		case 1:
			s.Attrs = append(s.Attrs, str("http.status_code", "500"))
		case 2:
			s.Attrs = append(s.Attrs, Attr{Key: "http.status_code", Value: FloatValue(500)})
		}
		if r.IntN(3) == 0 {
			s.Attrs = append(s.Attrs, str("region", "eu"), Attr{Key: "flag", Value: BoolValue(r.IntN(2) == 0)})
		}
		if r.IntN(4) == 0 {
			s.Attrs = append(s.Attrs, Attr{Key: "tags", Value: StringArrayValue([]string{"alpha", names[r.IntN(len(names))]})})
		}
		if r.IntN(3) == 0 {
			s.Events = append(s.Events, Event{Name: []string{"exception", "retry"}[r.IntN(2)], Time: s.Start + 1, Attrs: []Attr{num("n", int64(r.IntN(3)))}})
		}
		if r.IntN(4) == 0 {
			s.Links = append(s.Links, Link{TraceID: traceID(r.IntN(3)), SpanID: spanID(1, r.IntN(3)), Attrs: []Attr{str("relation", "x")}})
		}
		t.Spans = append(t.Spans, s)
	}
	return t
}

// requiredQueries are the queries of the soundness property: the
// conformance table and more shaped for the random traces.
func requiredQueries() []string {
	qs := []string{
		`{ name = "a" && span.http.status_code >= 500 }`,
		`{ name =~ "GET .*" || resource.service.name = "db" }`,
		`{ .region = "us" && status = error }`,
		`{ span.http.status_code = 500 } >> { name = "b" }`,
		`{ span.http.status_code = 500.0 } !>> { name = "b" && kind = server }`,
		`{ name = "a" } && ({ name = "b" } || { name = "task" && duration > 2s })`,
		`{ span.tags = "task" } ~ { event:name = "retry" }`,
		`{ event.n >= 1 && link.relation = "x" }`,
		`{ span.flag } | count() > 1 | { kind = client }`,
		`{ duration < 500ms } &> { .region = "eu" }`,
		`{ name = "a" } | by(resource.service.name) | { status = ok } | coalesce()`,
		`({ name = "a" } | count() > 1) || ({ name = "b" } | avg(duration) > 1s)`,
		`{ span:parentID != nil && name = "GET /x" } < { name = "a" }`,
		`{ resource.service.name = "api" } | rate() by (name)`,
		`{ 1s < duration && span.http.status_code <= 404 }`,
	}
	for _, c := range conformanceCases {
		qs = append(qs, c.query)
	}
	return qs
}

// TestRequiredSound is the soundness property of Required: whenever a
// trace matches, some alternative is satisfied.
func TestRequiredSound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	traces := conformanceTraces()
	for k := 0; k < 400; k++ {
		traces = append(traces, randomTrace(r, 20+k))
	}
	checked := 0
	for _, query := range requiredQueries() {
		q, err := Parse(query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		req := q.Required()
		if req == nil {
			continue
		}
		for i := range traces {
			res, _ := q.Eval(&traces[i])
			if len(res) == 0 {
				continue
			}
			checked++
			if !slices.ContainsFunc(req, func(alt []Condition) bool { return satisfies(&traces[i], alt) }) {
				t.Errorf("%s matches trace %x, but no alternative of %s holds", query, traces[i].ID, requiredString(req))
			}
		}
	}
	if checked < 500 {
		t.Errorf("the property was checked on only %d matches", checked)
	}
}
