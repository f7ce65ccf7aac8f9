package query

import (
	"testing"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/traceql"
)

func TestLegacyTraceQL(t *testing.T) {
	cases := []struct {
		s    *starlingpb.TraceSearch
		want string
	}{
		{&starlingpb.TraceSearch{}, `{ }`},
		{&starlingpb.TraceSearch{Service: "api", Name: "GET /x", Status: 3}, `{ resource.service.name = "api" && name = "GET /x" && status = error }`},
		{&starlingpb.TraceSearch{Status: 1, MinDurationNano: 1500e6, MaxDurationNano: 2e9}, `{ status = unset && duration >= 1.5s && duration <= 2s }`},
		{&starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{{Key: "http.status_code", Value: "500"}}}, `{ .http.status_code = "500" || .http.status_code = 500 }`},
		{&starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{{Key: "ratio", Value: "0.5"}, {Key: "ok", Value: "true"}}}, `{ (.ratio = "0.5" || .ratio = 0.5) && (.ok = "true" || .ok = true) }`},
		{&starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{{Key: "a b", Value: `say "hi"`}}}, `{ ."a b" = "say \"hi\"" }`},
		{&starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{{Key: "x", Value: "1e5"}}}, `{ .x = "1e5" }`},
	}
	for _, c := range cases {
		got := LegacyTraceQL(c.s)
		q, err := traceql.Parse(got)
		if err != nil {
			t.Errorf("%v: %q does not parse: %v", c.s, got, err)
			continue
		}
		if q.String() != c.want {
			t.Errorf("%v: %q, want %q", c.s, q.String(), c.want)
		}
	}
}
