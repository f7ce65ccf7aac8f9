package storage

import (
	"context"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// TestTermGroups: a term's count is the span groups of the range that
// carry it, in the order TraceTermNames names them.
func TestTermGroups(t *testing.T) {
	e := newTestEnv(t, 1)
	base := e.clock.Now().Add(-30 * time.Minute)
	td := ptrace.NewTraces()
	for i := range 10 {
		svc := "a"
		if i >= 7 {
			svc = "b"
		}
		tr := buildTrace(pcommon.TraceID{byte(i + 1)}, base.Add(time.Duration(i)*time.Minute),
			testSpan{service: svc, name: "op", dur: time.Millisecond, attrs: map[string]string{"k": "v"}})
		tr.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	e.writeTraces(td)
	q := &starlingpb.TraceSearch{Service: "a", Attributes: []*starlingpb.Attribute{attr("k", "v"), attr("k", "none")}}
	if got := TraceTermNames(q); !reflect.DeepEqual(got, []string{`resource.service.name = "a"`, `.k = "v"`, `.k = "none"`}) {
		t.Fatalf("names %q", got)
	}
	for _, tc := range []struct {
		name       string
		start, end time.Time
		want       []int64
	}{
		{"all", base.Add(-time.Minute), base.Add(time.Hour), []int64{7, 10, 0}},
		{"first five minutes", base, base.Add(4 * time.Minute), []int64{5, 5, 0}},
		{"the last three", base.Add(7 * time.Minute), base.Add(time.Hour), []int64{0, 3, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.store.TermGroups(context.Background(), 0, q, tc.start.UnixNano(), tc.end.UnixNano())
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
