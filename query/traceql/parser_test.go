package traceql

import (
	"errors"
	"strings"
	"testing"
)

// validQueries maps accepted queries to their normalised form ("" means
// unchanged).
var validQueries = []struct{ in, want string }{
	{`{}`, `{ }`},
	{`{ }`, ``},
	{`{true}`, `{ true }`},
	{`{ !true }`, ``},
	{`{ true && false }`, ``},
	{`{ true || false }`, ``},
	{`{ 1 = 2 }`, ``},
	{`{ -1 = 2 }`, ``},
	{`{ "test" =~ "test" }`, ``},
	{`{ "test" !~ "test" }`, ``},
	{`{ .a }`, ``},
	{`{ !.a }`, ``},
	{`{ .a != "test" }`, ``},
	{`{ resource.a != 3 }`, ``},
	{`{ span.a != 3 }`, ``},
	{`{ !("test" != .c || ((true && .b) || 3 < .a)) }`, ``},
	{`{ status = ok }`, ``},
	{`{ status != error }`, ``},
	{`{ kind = consumer }`, ``},
	{`{ traceDuration > 1s }`, ``},
	{`{ rootServiceName = "foo" }`, ``},
	{`{ rootName != "foo" }`, ``},
	{`{ duration > 1s * 2s }`, ``},
	{`{ 1 * 1h = 1 }`, `{ 1 * 1h0m0s = 1 }`},
	{`{ .http.status >= "200" }`, ``},
	{`{ true } && { true }`, ``},
	{`{ true } || { true }`, ``},
	{`avg(.field) > 1`, ``},
	{`max(duration) > 3s | { status = error || .http.status = 500 }`, ``},
	{`select(.a)`, ``},
	{`{} | select(.a,.b,.c)`, `{ } | select(.a, .b, .c)`},
	{`{ true } | count() = 1 | { true }`, ``},
	{`({ true } | count() > 1 | { false }) && ({ true } | count() > 1 | { false })`, ``},
	{`{ true } | by(1 + .a) | coalesce()`, ``},
	{`{ true } | by(3 * .field - 2) | max(duration) < 1s`, ``},
	{`{ true } >> { true || true }`, ``},
	{`{ true } ~ { true }`, ``},
	{`({ true }) << { true }`, `{ true } << { true }`},
	{"{ true } // comment", `{ true }`},
	{"{ true /* block \n * / //comment */ }", `{ true }`},
	{`{ .foo = "G\"E\\T" }`, ``},
	{`{ duration = 123.456us }`, `{ duration = 123.456µs }`},
	{"{ .foo = `GET` && .bar = `P'O\"S\\T` }", `{ .foo = "GET" && .bar = "P'O\"S\\T" }`},
	{"{ .foo = `GET` } | by(.foo, .bar)", `{ .foo = "GET" } | by(.foo, .bar)`},
	{`{ .foo-bar }`, ``},
	{`{ .hel"lo wor"ld }`, `{ ."hello world" }`},
	{`{ span:name = "x" && span:status = error && span:kind = server && span:duration > 1ms }`, ``},
	{`{ span:id = "0102030405060708" && span:parentID != nil }`, ``},
	{`{ trace:rootName = "a" && trace:rootService = "b" && trace:duration < 1m }`, `{ trace:rootName = "a" && trace:rootService = "b" && trace:duration < 1m0s }`},
	{`{ trace:id = "000102030405060708090a0b0c0d0e0f" }`, ``},
	{`{ event:name = "exception" || event:timeSinceStart > 10ms }`, ``},
	{`{ link:traceID != nil && link:spanID = "0102030405060708" }`, ``},
	{`{ instrumentation:name = "otel" && instrumentation:version = "1.0" }`, ``},
	{`{ event.exception.type = "E" && link.x = 1 && instrumentation.x = true }`, ``},
	{`{ childCount > 1 || span:childCount = 0 }`, ``},
	{`{ statusMessage =~ "time.*" && span:statusMessage != "" }`, ``},
	{`{ .a } !>> { .b }`, ``},
	{`{ .a } !> { .b }`, ``},
	{`{ .a } !<< { .b }`, ``},
	{`{ .a } !< { .b }`, ``},
	{`{ .a } !~ { .b }`, ``},
	{`{ .a } &>> { .b }`, ``},
	{`{ .a } &> { .b }`, ``},
	{`{ .a } &<< { .b }`, ``},
	{`{ .a } &< { .b }`, ``},
	{`{ .a } &~ { .b }`, ``},
	{`{.a}>{.b}>{.c}`, `{ .a } > { .b } > { .c }`},
	{`{ .a } > ({ .b } > { .c })`, ``},
	{`{ .a } >> { .b } && { .c }`, ``},
	{`{ .a } >> ({ .b } && { .c })`, ``},
	{`{ .a } || { .b } && { .c }`, `{ .a } || ({ .b } && { .c })`},
	{`{ .a } && { .b } && { .c }`, ``},
	{`{ } | rate()`, ``},
	{`{ } | count_over_time() by (span.http.method)`, ``},
	{`{ } | min_over_time(duration)`, ``},
	{`{ } | max_over_time(duration) by(resource.service.name)`, `{ } | max_over_time(duration) by (resource.service.name)`},
	{`{ } | avg_over_time(span.x) by (resource.service.name, span.y)`, ``},
	{`{ } | sum_over_time(span.size)`, ``},
	{`{ } | quantile_over_time(duration, .99, .9, .5)`, `{ } | quantile_over_time(duration, 0.99, 0.9, 0.5)`},
	{`{ } | quantile_over_time(duration, 1, 0)`, `{ } | quantile_over_time(duration, 1.0, 0.0)`},
	{`{ } | histogram_over_time(duration) by (name)`, ``},
	{`{ } | rate() | bottomk(3)`, ``},
	{`{ status = error } | rate() by (resource.service.name) | topk(10)`, ``},
	{`{span.http.status_code>=500&&resource.service.name="api"}`, `{ span.http.status_code >= 500 && resource.service.name = "api" }`},
	{`{ .a % 2 = 0 }`, ``},
	{`{ (.a + 1) * 2 = 4 }`, ``},
	{`{ .a + 1 * 2 = 4 }`, ``},
	{`{ .a - (1 - 2) = 0 }`, ``},
	{`{ - (.a) = 1 }`, `{ -.a = 1 }`},
	{`{ -(.a + 1) = 1 }`, ``},
	{`{ .a = -1.5 && duration > -1s }`, ``},
	{`{ .a ^ 2 ^ 3 = 1 }`, ``},
	{`{ (.a ^ 2) ^ 3 = 1 }`, ``},
	{`{ .s = "\u00e9\n\t" }`, `{ .s = "é\n\t" }`},
	{`{ name = "a" } | { name = "b" }`, ``},
	{`{ } | by(resource.service.name) | count() > 1 | avg(duration) > 1ms`, ``},
	{`{ .a = nil || .b != nil }`, ``},
	{`{ true } | min(duration) = 1h`, `{ true } | min(duration) = 1h0m0s`},
	{"{\n  .a = 1\n}", `{ .a = 1 }`},
	{`{ } | 2 < count()`, ``},
	{`{ } | count() + 1 > 2`, ``},
	{`{ .x = "a" } | select(span:name, resource.service.name)`, ``},
	{`{ span.foo:bar = 1 }`, ``},
	{`{ .1abc = 1 }`, `{ ."1abc" = 1 }`},
	{`{ resource."service name" = "x" }`, ``},
	{`{ .a = 1e-07 && .b = 1.5e3 }`, `{ .a = 1e-07 && .b = 1500.0 }`},
	{`{ .a =~ "x" && .b !~ "y" }`, ``},
	{`{ } | sum(span.bytes) > 100`, ``},
	{`{ .a || .b && .c }`, `{ .a || (.b && .c) }`},
	{`{ !.a = 1 }`, `{ !(.a = 1) }`},
	{`{ (!.a) = true }`, ``},
	{`{ .a } | ({ .b } | { .c })`, `{ .a } | { .b } | { .c }`},
	{`({ .a } | by(.b))`, `{ .a } | by(.b)`},
	{`{ duration > 1h30m }`, `{ duration > 1h30m0s }`},
	{`{ span.x = 007 }`, `{ span.x = 7 }`},
}

func TestParseValid(t *testing.T) {
	for _, c := range validQueries {
		q, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		want := c.want
		if want == "" {
			want = c.in
		}
		if got := q.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, got, want)
			continue
		}
		again, err := Parse(q.String())
		if err != nil {
			t.Errorf("Parse(%q) of the normalised form: %v", q.String(), err)
		} else if again.String() != q.String() {
			t.Errorf("normalising %q again gave %q", q.String(), again.String())
		}
	}
}

// invalidQueries are refused with the exact position and expectation (or
// the unsupported construct).
var invalidQueries = []struct {
	in                  string
	line, col           int
	expected, found     string
	unsupported, detail string
}{
	{in: ``, line: 1, col: 1, expected: "a spanset filter"},
	{in: `{`, line: 1, col: 2, expected: "an attribute, intrinsic or literal"},
	{in: `{ .a = 1`, line: 1, col: 9, expected: `"&&", "||" or "}"`},
	{in: `{ span.foo  foo }`, line: 1, col: 13, expected: "a comparison operator", found: "foo"},
	{in: `{ .a = }`, line: 1, col: 8, expected: "an attribute, intrinsic or literal", found: "}"},
	{in: `{ .a = 1 } with (most_recent=true)`, line: 1, col: 12, unsupported: "with() hints"},
	{in: `{ } | with(x=1)`, line: 1, col: 7, unsupported: "with() hints"},
	{in: `{ parent.a = 1 }`, line: 1, col: 3, unsupported: "the parent scope (parent.)"},
	{in: `{ .a =~ "(" }`, line: 1, col: 9, expected: "a valid regular expression", found: `"("`, detail: "error parsing regexp: missing closing ): `(`"},
	{in: `{ 1 }`, line: 1, col: 5, expected: "a comparison operator", found: "}"},
	{in: `{ .a = 1 && 2 }`, line: 1, col: 13, expected: "a boolean expression", found: "2"},
	{in: `{ nestedSetLeft > 1 }`, line: 1, col: 3, unsupported: "the nestedSetLeft intrinsic"},
	{in: `{ span:nestedSetParent = 1 }`, line: 1, col: 3, unsupported: "the span:nestedSetParent intrinsic"},
	{in: `{ } | compare({.a})`, line: 1, col: 7, unsupported: "compare()"},
	{in: `{ } | rate() > 1`, line: 1, col: 14, unsupported: "comparisons on a metrics result"},
	{in: `{ $x }`, line: 1, col: 3, unsupported: "template variables ($name)"},
	{in: `{ trace.x = 1 }`, line: 1, col: 3, expected: "an attribute scope (span, resource, event, link, instrumentation or none)", found: "trace"},
	{in: `{ .a = "\q" }`, line: 1, col: 9, expected: "a valid escape sequence", found: `\q`},
	{in: `{ .a = "abc }`, line: 1, col: 8, expected: `a closing "`},
	{in: `{ .a = 5xx }`, line: 1, col: 9, expected: "a duration unit (ns, us, µs, ms, s, m, h)", found: "xx"},
	{in: `{ .a = 99999999999999999999 }`, line: 1, col: 8, expected: "an integer within the int64 range", found: "99999999999999999999"},
	{in: `{ .a = 1.5e999 }`, line: 1, col: 8, expected: "a number within the float64 range", found: "1.5e999"},
	{in: `{ .a } | count()`, line: 1, col: 17, expected: "a comparison operator"},
	{in: `{ .a } | rate() | count() > 1`, line: 1, col: 19, expected: "topk() or bottomk() after a metrics function", found: "count"},
	{in: `{ .a } | topk(5)`, line: 1, col: 10, expected: "a metrics function before topk()", found: "topk"},
	{in: `{ .a } | rate(duration)`, line: 1, col: 15, expected: `")"`, found: "duration"},
	{in: `{ .a } | quantile_over_time(duration)`, line: 1, col: 37, expected: `"," and a quantile`, found: ")"},
	{in: `{ .a } | quantile_over_time(duration, 2)`, line: 1, col: 39, expected: "a quantile between 0 and 1", found: "2"},
	{in: `{ .a } >> `, line: 1, col: 11, expected: "a spanset filter"},
	{in: `{ .a } foo`, line: 1, col: 8, expected: `a spanset operator, "|" or end of query`, found: "foo"},
	{in: `({ .a }`, line: 1, col: 8, expected: `a spanset operator, "|" or ")"`},
	{in: `{ .a } | by()`, line: 1, col: 13, expected: "an attribute, intrinsic or literal", found: ")"},
	{in: `{ .a } | select(1)`, line: 1, col: 17, expected: "an attribute or intrinsic", found: "1"},
	{in: `{ .a & .b }`, line: 1, col: 6, expected: "&&, &>>, &>, &<<, &< or &~", found: "&"},
	{in: `{ span:foo = 1 }`, line: 1, col: 3, expected: "a known intrinsic", found: "span:foo"},
	{in: "{ .a = 1 }\n| count() >", line: 2, col: 12, expected: "an aggregate (count(), avg(), min(), max(), sum()) or a number"},
	{in: "{\n  .a = 1 &&\n  foo\n}", line: 3, col: 3, expected: "an attribute, intrinsic or literal", found: "foo"},
	{in: `{ "a" + 1 = 2 }`, line: 1, col: 3, expected: "a number or duration", found: `"a"`},
	{in: `{ -"a" = 1 }`, line: 1, col: 4, expected: "a number or duration after -", found: `"a"`},
	{in: `{ !1 }`, line: 1, col: 4, expected: "a boolean expression after !", found: "1"},
	{in: `{ .a = 1 } | { .b =~ .c }`, line: 1, col: 22, expected: "a string literal (the regular expression) after =~", found: ".c"},
	{in: `{ .a } | max_over_time(1)`, line: 1, col: 24, expected: "an attribute or intrinsic", found: "1"},
	{in: `{ .a } | rate() by ()`, line: 1, col: 21, expected: "an attribute or intrinsic", found: ")"},
	{in: `{ . = 1 }`, line: 1, col: 3, expected: "an attribute name after the dot", found: "."},
	{in: `{ .a = 1 } | ({ .b } | rate())`, line: 1, col: 24, unsupported: "a metrics function inside parentheses"},
	{in: `!{ .a }`, line: 1, col: 1, expected: "a spanset filter", found: "!"},
	{in: `{ .a = 1 } |`, line: 1, col: 13, expected: "a pipeline stage"},
	{in: `{ .a } | rate() | topk(0)`, line: 1, col: 24, expected: "a positive integer", found: "0"},
	{in: `{ /* unterminated }`, line: 1, col: 20, expected: `the end of the comment "*/"`},
	{in: `{ .a = 1 }}`, line: 1, col: 11, expected: `a spanset operator, "|" or end of query`, found: "}"},
	{in: `{ .a } | coalesce(1)`, line: 1, col: 19, expected: `")"`, found: "1"},
	{in: `{ .a = 1h5 }`, line: 1, col: 11, expected: "a duration unit (ns, us, µs, ms, s, m, h)", found: "1h5"},
	{in: `{ .a } | sort()`, line: 1, col: 10, expected: "a pipeline stage", found: "sort"},
	{in: `{ count() > 1 }`, line: 1, col: 3, expected: "an attribute, intrinsic or literal", found: "count"},
	{in: `{ } | count() > .a`, line: 1, col: 17, expected: "an aggregate (count(), avg(), min(), max(), sum()) or a number", found: ".a"},
	{in: `{ .a } | avg(.b) =~ "x"`, line: 1, col: 21, expected: "a numeric comparison (=~ and !~ need strings)", found: `"x"`},
	{in: `{ é = 1 }`, line: 1, col: 3, expected: "a token", found: "é"},
	{in: `{ .a = 1 } | { .b = 2 } | quantile_over_time(duration, .5) by (.c) | topk(1) | topk(2)`, line: 1, col: 78, expected: "end of query", found: "|"},
}

func TestParseInvalid(t *testing.T) {
	for _, c := range invalidQueries {
		_, err := Parse(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want a *ParseError", c.in, err)
			continue
		}
		want := ParseError{Line: c.line, Column: c.col, Expected: c.expected, Found: c.found, Unsupported: c.unsupported, Detail: c.detail}
		if *pe != want {
			t.Errorf("Parse(%q):\n got %+v\nwant %+v", c.in, *pe, want)
		}
	}
}

func TestParseErrorText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{ span.foo  foo }`, `parse error at line 1, column 13: expected a comparison operator, found "foo"`},
		{`{ .a = 1`, `parse error at line 1, column 9: expected "&&", "||" or "}", found end of query`},
		{`{ .a = 1 } with (most_recent=true)`, `parse error at line 1, column 12: unsupported: with() hints`},
		{`{ .a =~ "a[" }`, "parse error at line 1, column 9: expected a valid regular expression, found \"\\\"a[\\\"\" (error parsing regexp: missing closing ]: `[`)"},
	} {
		_, err := Parse(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("Parse(%q) error:\n got %v\nwant %s", c.in, err, c.want)
		}
	}
}

func TestParseNesting(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("(", 500) + "{ }" + strings.Repeat(")", 500),
		"{ " + strings.Repeat("(", 500) + ".a" + strings.Repeat(")", 500) + " }",
		"{ " + strings.Repeat("-", 500) + "1 = 1 }",
		"{ " + strings.Repeat("!", 500) + "true }",
		"{ .a = 1" + strings.Repeat(" ^ 1", 500) + " }",
	} {
		_, err := Parse(in)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Expected, "levels of nesting") {
			t.Errorf("Parse of %d bytes of nesting = %v, want a nesting error", len(in), err)
		}
	}
	// Nesting within the limit parses.
	if _, err := Parse(strings.Repeat("(", 50) + "{ }" + strings.Repeat(")", 50)); err != nil {
		t.Errorf("50 parentheses: %v", err)
	}
}

func TestIsMetrics(t *testing.T) {
	for in, want := range map[string]bool{
		`{ }`:                                 false,
		`{ } | count() > 1`:                   false,
		`{ } | rate()`:                        true,
		`{ } | histogram_over_time(duration)`: true,
	} {
		q, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if q.IsMetrics() != want {
			t.Errorf("%s: IsMetrics() = %v", in, !want)
		}
	}
}
