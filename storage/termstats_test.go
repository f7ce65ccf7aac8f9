package storage

import (
	"context"
	"reflect"
	"strconv"
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

// TestKeptTermGroups: the term counts a summary keeps from the writes
// match the postings TermGroups measures over a whole window, a term of
// one group counts 1, an absent one 0, a common one -1, and a range of
// part of the data's time scales them.
func TestKeptTermGroups(t *testing.T) {
	e := newTestEnv(t, 1)
	start := e.clock.Now().Add(-10 * time.Minute)
	for i := range 200 {
		id := pcommon.TraceID{byte(i), byte(i >> 8), 1}
		name := "rare"
		if i%10 != 0 {
			name = "filler-" + strconv.Itoa(i%4) // 45–50 groups each: never common
		}
		if i == 7 {
			name = "once"
		}
		e.writeTraces(buildTrace(id, start.Add(time.Duration(i)*time.Second), testSpan{service: "svc", name: name, dur: time.Millisecond}))
	}
	q := &starlingpb.TraceSearch{Service: "svc", Name: "rare"}
	counts, groups, ok := e.store.KeptTermGroups(q, []uint32{0}, 0, maxTime)
	if !ok {
		t.Fatal("the summary of a window this process created is not in memory")
	}
	measured, err := e.store.TermGroups(t.Context(), 0, q, 0, maxTime)
	if err != nil {
		t.Fatal(err)
	}
	if groups != 200 || counts[0] != -1 || counts[1] != 20 || measured[1] != 20 || measured[0] != -1 {
		t.Errorf("kept %v of %d groups, measured %v; want the service common (-1) and 20 groups of name rare", counts, groups, measured)
	}
	for name, want := range map[string]int64{"once": 1, "filler-1": 50, "absent": 0} {
		got, _, _ := e.store.KeptTermGroups(&starlingpb.TraceSearch{Name: name}, []uint32{0}, 0, maxTime)
		if got[0] != want {
			t.Errorf("name %s: %d groups kept, want %d", name, got[0], want)
		}
	}
	// The first 100 of 200 seconds: about half of them.
	half, _, _ := e.store.KeptTermGroups(&starlingpb.TraceSearch{Name: "filler-1"}, []uint32{0}, start.UnixNano(), start.Add(100*time.Second).UnixNano()-1)
	if half[0] < 24 || half[0] > 27 {
		t.Errorf("half the time: %d groups of filler-1, want about 25", half[0])
	}
}
