package traceql_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/query/traceql/traceqltest"
)

// The conformance data set and table live in traceqltest, to be run
// through whole nodes too. This package's internal tests cannot import
// it (traceqltest imports traceql): they get it from here, before any
// test runs (see conformance_data_test.go).
func init() {
	var cs []traceql.ConformanceCase
	for _, c := range traceqltest.Cases() {
		cs = append(cs, traceql.ConformanceCase{Query: c.Query, Traces: c.Traces, Spans: c.Spans})
	}
	traceql.SetConformance(traceql.Conformance{
		T0:      traceqltest.T0,
		Traces:  traceqltest.Traces,
		Cases:   cs,
		TraceID: traceqltest.TraceID,
		SpanID:  traceqltest.SpanID,
		Label:   traceqltest.SpanLabel,
	})
}

func TestConformance(t *testing.T) {
	traces := traceqltest.Traces(traceqltest.T0)
	cases := traceqltest.Cases()
	for _, c := range cases {
		q, err := traceql.Parse(c.Query)
		if err != nil {
			t.Errorf("%s: %v", c.Query, err)
			continue
		}
		var gotTraces []int
		var gotSpans []string
		for i := range traces {
			res, err := q.Eval(&traces[i])
			if err != nil {
				t.Fatalf("%s: Eval: %v", c.Query, err)
			}
			if len(res) == 0 {
				continue
			}
			gotTraces = append(gotTraces, int(traces[i].ID[15]))
			for _, ss := range res {
				if ss.Matched != len(ss.Spans) || len(ss.Spans) == 0 {
					t.Errorf("%s: spanset of %d spans says Matched %d", c.Query, len(ss.Spans), ss.Matched)
				}
				for _, m := range ss.Spans {
					gotSpans = append(gotSpans, traceqltest.SpanLabel(m.Span))
				}
			}
		}
		if !slices.Equal(gotTraces, c.Traces) {
			t.Errorf("%s: traces %v, want %v", c.Query, gotTraces, c.Traces)
		}
		if c.Spans != nil {
			slices.Sort(gotSpans)
			gotSpans = slices.Compact(gotSpans)
			want := slices.Clone(c.Spans)
			slices.Sort(want)
			if !slices.Equal(gotSpans, want) {
				t.Errorf("%s: spans\n got %s\nwant %s", c.Query, strings.Join(gotSpans, ", "), strings.Join(want, ", "))
			}
		}
	}
	if len(cases) < 80 {
		t.Errorf("only %d conformance cases", len(cases))
	}
}
