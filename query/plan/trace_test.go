package plan_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/plan"
	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/query/traceql/traceqltest"
)

// TestTracePushdownSound plans every query of the conformance table and
// checks the pushdown against the data set, as the partitions' postings
// and group records would apply it: every trace the query matches has a
// span that satisfies every condition of the candidate search (else the
// partition would never evaluate it); when the plan says the candidates
// are exact, the traces with such a span (without a candidate search:
// every trace) are exactly the matching ones; when it limits the query
// to trace IDs, they include every match's.
func TestTracePushdownSound(t *testing.T) {
	traces := traceqltest.Traces(traceqltest.T0)
	byNumber := map[int]*traceql.Trace{}
	for i := range traces {
		byNumber[int(traces[i].ID[15])] = &traces[i]
	}
	cases := traceqltest.Cases()
	pushing, exact := 0, 0
	for _, c := range cases {
		p, err := plan.Trace(c.Query)
		if err != nil {
			t.Errorf("%s: %v", c.Query, err)
			continue
		}
		if len(p.TraceIDs) > 0 {
			for _, k := range c.Traces {
				if !slices.Contains(p.TraceIDs, traceqltest.TraceID(k)) {
					t.Errorf("%s: the plan's trace IDs %x leave out trace %d, which matches", c.Query, p.TraceIDs, k)
				}
			}
		}
		var s *starlingpb.TraceSearch // nil: every trace is a candidate
		if len(p.Candidates) > 0 {
			pushing++
			s = p.Candidates[0]
			for _, k := range c.Traces {
				if !slices.ContainsFunc(byNumber[k].Spans, func(sp traceql.Span) bool { return satisfies(s, &sp) }) {
					t.Errorf("%s: pushes %v (%v), which drops trace %d, a match", c.Query, p.Pushed, s, k)
				}
			}
		}
		if p.Exact {
			exact++
			var found []int
			for i := range traces {
				if slices.ContainsFunc(traces[i].Spans, func(sp traceql.Span) bool { return satisfies(s, &sp) }) {
					found = append(found, int(traces[i].ID[15]))
				}
			}
			if !slices.Equal(found, c.Traces) {
				t.Errorf("%s: exact candidates %v (%v) find traces %v, want %v", c.Query, p.Pushed, s, found, c.Traces)
			}
		}
	}
	t.Logf("%d queries, %d pushed something, %d planned exact", len(cases), pushing, exact)
	if pushing == 0 {
		t.Error("no query pushed anything")
	}
}

// satisfies reports whether span s matches every condition of the search:
// the service is the resource's service.name, the status is OTLP's code
// plus one (0: any), the duration bounds are inclusive (max 0: none), and
// each attribute is a span attribute or a resource attribute (but the
// resource's service.name, which has its own term) whose value, or an
// element of whose array, is the attribute's text (ints and bools as
// strconv writes them, doubles as pdata's AsString).
func satisfies(q *starlingpb.TraceSearch, s *traceql.Span) bool {
	if q == nil {
		return true
	}
	if q.GetService() != "" && attrText(s.Resource, "service.name") != q.GetService() {
		return false
	}
	if q.GetName() != "" && s.Name != q.GetName() {
		return false
	}
	if st := q.GetStatus(); st != 0 && st != uint32(s.Status)+1 {
		return false
	}
	d := s.End - s.Start
	if d < q.GetMinDurationNano() || (q.GetMaxDurationNano() > 0 && d > q.GetMaxDurationNano()) {
		return false
	}
	for _, a := range q.GetAttributes() {
		if !hasText(s.Attrs, a.GetKey(), a.GetValue(), "") && !hasText(s.Resource, a.GetKey(), a.GetValue(), "service.name") {
			return false
		}
	}
	return true
}

func attrText(as []traceql.Attr, key string) string {
	for _, a := range as {
		if a.Key == key {
			return a.Value.Str()
		}
	}
	return "\x00none"
}

// hasText reports whether an attribute key of as (but skip) has the value
// text, or an element of an array with that text.
func hasText(as []traceql.Attr, key, text, skip string) bool {
	if key == skip {
		return false
	}
	for _, a := range as {
		if a.Key != key {
			continue
		}
		v := a.Value
		var texts []string
		switch v.Type() {
		case traceql.TypeString:
			texts = []string{v.Str()}
		case traceql.TypeInt:
			texts = []string{strconv.FormatInt(v.Int(), 10)}
		case traceql.TypeBool:
			texts = []string{strconv.FormatBool(v.Bool())}
		case traceql.TypeFloat:
			texts = []string{strconv.FormatFloat(v.Float(), 'f', -1, 64)}
		case traceql.TypeStringArray:
			texts = v.Strings()
		case traceql.TypeIntArray:
			for _, e := range v.Ints() {
				texts = append(texts, strconv.FormatInt(e, 10))
			}
		case traceql.TypeBoolArray:
			for _, e := range v.Bools() {
				texts = append(texts, strconv.FormatBool(e))
			}
		case traceql.TypeFloatArray:
			for _, e := range v.Floats() {
				texts = append(texts, strconv.FormatFloat(e, 'f', -1, 64))
			}
		}
		if slices.Contains(texts, text) {
			return true
		}
	}
	return false
}

// TestTraceOptions: a query that requires several same-span groups keeps
// each group's pushdown as an option, the static pick first; WithOption
// pushes another one; a query of one group has no options.
func TestTraceOptions(t *testing.T) {
	p, err := plan.Trace(`{ resource.service.name = "a" } && { name = "b" && duration > 1s }`)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Options) != 2 {
		t.Fatalf("%d options, want 2", len(p.Options))
	}
	// The name and the duration weigh more than the service alone.
	if got := p.Options[0].Search; got.GetName() != "b" || got.GetMinDurationNano() != 1e9+1 || p.Candidates[0] != got {
		t.Errorf("first option %v (candidates %v), want the name and duration group", got, p.Candidates)
	}
	o := p.WithOption(1, "test")
	if o.Candidates[0].GetService() != "a" || !slices.Equal(o.Pushed, []string{`resource.service.name = "a"`}) || o.Exact || o.Choice != "test" {
		t.Errorf("WithOption(1): candidates %v, pushed %q, exact %v", o.Candidates, o.Pushed, o.Exact)
	}
	if p.Candidates[0].GetName() != "b" {
		t.Error("WithOption changed the plan it copies")
	}
	one, err := plan.Trace(`{ resource.service.name = "a" && name = "b" }`)
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Options) != 0 {
		t.Errorf("one group: %d options, want none", len(one.Options))
	}
}
