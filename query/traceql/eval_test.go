package traceql

import (
	"testing"
	"time"
)

// attrsString writes attributes as key=value for comparisons.
func attrsString(attrs []Attr) string {
	s := ""
	for i, a := range attrs {
		if i > 0 {
			s += " "
		}
		s += a.Key + "=" + a.Value.String()
	}
	return s
}

func TestEvalAttributes(t *testing.T) {
	traces := conformanceTraces()
	type set struct {
		attrs string   // the spanset's attributes
		spans []string // per span: "name: attributes"
	}
	for _, c := range []struct {
		query string
		trace int
		want  []set
	}{
		{`{ span.http.status_code >= 500 && resource.service.name = "api" }`, 2,
			[]set{{"", []string{`POST /api/order: http.status_code=500 service.name="api"`}}}},
		{`{ status = error && kind = client }`, 2,
			[]set{{"", []string{`INSERT orders: status=error kind=client`}}}},
		{`{ } | by(resource.service.name) | count() > 2`, 5,
			[]set{{`by(resource.service.name)="worker" count()=5`, []string{
				"subtask: service.name=\"worker\"", "task C: service.name=\"worker\"", "task B: service.name=\"worker\"",
				"task A: service.name=\"worker\"", "batch: service.name=\"worker\""}}}},
		{`{ kind = server } | by(resource.service.name)`, 1, []set{
			{`by(resource.service.name)="api"`, []string{"POST /api/order: kind=server service.name=\"api\""}},
			{`by(resource.service.name)="frontend"`, []string{"GET /checkout: kind=server service.name=\"frontend\""}},
		}},
		{`{ } | select(span.http.method, name, span:id)`, 1, []set{{"", []string{
			"SELECT orders: ", `POST /api/order: http.method="POST"`, `GET /checkout: http.method="GET"`}}}},
		{`{ } | avg(duration) > 500ms`, 8, []set{{"avg(duration)=" + (717 * time.Millisecond).String(),
			[]string{"medium op: ", "fast op: ", "slow op: "}}}},
		{`{ event.bytes > 1000 }`, 10, []set{{"", []string{"upload: bytes=1024"}}}},
		{`{ .region = "us" }`, 7, []set{{"", []string{`auth check: region="us"`}}}},
		{`{ span:parentID = "0000000000000301" && event:name = nil }`, 3, []set{{"", []string{
			`GET /api/cart: span:parentID="0000000000000301"`}}}},
		{`{ name = "task A" } &~ { name = "task C" } | coalesce()`, 5, []set{{"", []string{"task C: ", "task A: "}}}},
		{`{ } | by(span.task.index) | count() = 1 | { name =~ "task.*" }`, 5, []set{
			{`by(span.task.index)=2 count()=1`, []string{"task C: task.index=2"}},
			{`by(span.task.index)=1 count()=1`, []string{"task B: task.index=1"}},
			{`by(span.task.index)=0 count()=1`, []string{"task A: task.index=0"}},
		}},
	} {
		q, err := Parse(c.query)
		if err != nil {
			t.Fatalf("%s: %v", c.query, err)
		}
		res, err := q.Eval(&traces[c.trace-1])
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != len(c.want) {
			t.Errorf("%s: %d spansets, want %d", c.query, len(res), len(c.want))
			continue
		}
		for i, ss := range res {
			if got := attrsString(ss.Attributes); got != c.want[i].attrs {
				t.Errorf("%s: spanset %d attributes %q, want %q", c.query, i, got, c.want[i].attrs)
			}
			if len(ss.Spans) != len(c.want[i].spans) {
				t.Errorf("%s: spanset %d has %d spans, want %d", c.query, i, len(ss.Spans), len(c.want[i].spans))
				continue
			}
			for j, m := range ss.Spans {
				if got := m.Span.Name + ": " + attrsString(m.Attributes); got != c.want[i].spans[j] {
					t.Errorf("%s: span %d is %q, want %q", c.query, j, got, c.want[i].spans[j])
				}
			}
		}
	}
}

func TestEvalEdgeCases(t *testing.T) {
	q, err := Parse(`{ } >> { }`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*Trace{nil, {}} {
		if res, err := q.Eval(tr); res != nil || err != nil {
			t.Errorf("Eval(%v) = %v, %v", tr, res, err)
		}
	}
	// A cycle (a is b's parent and b is a's) and a self parent do not hang
	// and relate as a tree broken at the first span walked.
	a, b, c := spanID(1, 1), spanID(1, 2), spanID(1, 3)
	cyc := &Trace{Spans: []Span{{ID: a, ParentID: b, Name: "a"}, {ID: b, ParentID: a, Name: "b"}, {ID: c, ParentID: c, Name: "c"}}}
	for query, want := range map[string]int{
		`{ name = "a" } > { name = "b" }`:   1,
		`{ name = "b" } > { name = "a" }`:   0,
		`{ name = "c" } >> { }`:             0,
		`{ } ~ { }`:                         0,
		`{ name = "a" } &>> { name = "b" }`: 2,
	} {
		q, err := Parse(query)
		if err != nil {
			t.Fatal(err)
		}
		res, _ := q.Eval(cyc)
		n := 0
		for _, ss := range res {
			n += len(ss.Spans)
		}
		if n != want {
			t.Errorf("%s on a cycle: %d spans, want %d", query, n, want)
		}
	}
}

func TestCompareSemantics(t *testing.T) {
	for _, c := range []struct {
		op   Op
		a, b Value
		want bool
	}{
		{OpEq, IntValue(1), FloatValue(1), true},
		{OpLt, IntValue(1), FloatValue(1.5), true},
		{OpEq, StringValue("1"), IntValue(1), false},
		{OpNeq, StringValue("1"), IntValue(1), false},
		{OpGt, StringValue("b"), StringValue("a"), true},
		{OpEq, BoolValue(true), BoolValue(true), true},
		{OpGt, BoolValue(true), BoolValue(false), false},
		{OpEq, StatusValue(StatusError), StatusValue(StatusError), true},
		{OpEq, KindValue(KindServer), StatusValue(2), false},
		{OpEq, DurationValue(time.Second), IntValue(1e9), false},
		{OpGte, DurationValue(time.Second), DurationValue(time.Second), true},
		{OpEq, StringArrayValue([]string{"a", "b"}), StringValue("b"), true},
		{OpNeq, StringArrayValue([]string{"a", "a"}), StringValue("a"), false},
		{OpNeq, StringArrayValue([]string{"a", "b"}), StringValue("a"), true},
		{OpEq, IntArrayValue([]int64{1, 2}), FloatValue(2), true},
		{OpEq, IntArrayValue(nil), IntValue(0), false},
		{OpEq, IntArrayValue([]int64{1}), IntArrayValue([]int64{1}), false},
		{OpEq, Value{}, Value{}, false},
		{OpEq, FloatValue(nanFloat()), FloatValue(nanFloat()), false},
		{OpNeq, FloatValue(nanFloat()), FloatValue(1), true},
	} {
		if got := compareValues(c.op, c.a, c.b); got != c.want {
			t.Errorf("%v %v %v = %v, want %v", c.a, c.op, c.b, got, c.want)
		}
	}
	for _, c := range []struct {
		op   Op
		a, b Value
		want string
	}{
		{OpAdd, IntValue(2), IntValue(3), "5"},
		{OpDiv, IntValue(3), IntValue(2), "1.5"},
		{OpDiv, IntValue(3), IntValue(0), "nil"},
		{OpMod, IntValue(7), IntValue(-1), "0"},
		{OpPow, IntValue(2), IntValue(10), "1024.0"},
		{OpAdd, DurationValue(time.Second), DurationValue(time.Millisecond), "1.001s"},
		{OpMul, DurationValue(time.Second), FloatValue(1.5), "1.5s"},
		{OpMul, IntValue(3), DurationValue(time.Second), "3s"},
		{OpDiv, DurationValue(time.Second), DurationValue(250 * time.Millisecond), "4.0"},
		{OpAdd, StringValue("a"), StringValue("b"), "nil"},
		{OpMul, DurationValue(time.Second), FloatValue(1e300), "nil"},
	} {
		if got := arith(c.op, c.a, c.b).String(); got != c.want {
			t.Errorf("%v %v %v = %s, want %s", c.a, c.op, c.b, got, c.want)
		}
	}
}

func nanFloat() float64 {
	var zero float64
	return zero / zero
}

func TestValueAccessors(t *testing.T) {
	s := StringValue("x")
	if s.Str() != "x" || s.Int() != 0 || s.Type() != TypeString || s.IsNil() || !s.Equal(StringValue("x")) {
		t.Errorf("string value %v", s)
	}
	if v := FloatValue(2.5); v.Float() != 2.5 || v.String() != "2.5" || v.Text() != "2.5" {
		t.Errorf("float value %v", v)
	}
	if v := IntValue(-3); v.Int() != -3 || v.Float() != -3 {
		t.Errorf("int value %v", v)
	}
	if v := BoolArrayValue([]bool{true}); v.Bools()[0] != true || v.String() != "[true]" || v.Strings() != nil {
		t.Errorf("bool array %v", v)
	}
	if v := StringArrayValue([]string{"a", "b"}); v.String() != `["a", "b"]` || !v.Equal(StringArrayValue([]string{"a", "b"})) || v.Equal(StringArrayValue([]string{"a"})) {
		t.Errorf("string array %v", v)
	}
	if v := DurationValue(time.Minute); v.Duration() != time.Minute || v.String() != "1m0s" {
		t.Errorf("duration %v", v)
	}
	if StatusValue(StatusOK).Status() != StatusOK || KindValue(KindProducer).Kind() != KindProducer || Status(9).String() != "status(9)" {
		t.Error("status or kind accessors")
	}
	if !NilValue().IsNil() || NilValue().String() != "nil" || FloatValue(3).String() != "3.0" {
		t.Error("nil or float printing")
	}
}
