package main

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func testDataset(t *testing.T, seed uint64) *Dataset {
	t.Helper()
	d, err := NewDataset(Config{Spans: 50_500, Batch: 1000, Range: 2 * time.Hour, End: time.Unix(1_800_000_000, 0), Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func marshal(t *testing.T, td ptrace.Traces) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGeneratorDeterministic(t *testing.T) {
	a, b, c := testDataset(t, 1), testDataset(t, 1), testDataset(t, 2)
	for _, i := range []int{0, 7, a.Batches - 1} {
		x, y, z := marshal(t, a.Generate(i)), marshal(t, b.Generate(i)), marshal(t, c.Generate(i))
		if string(x) != string(y) {
			t.Fatalf("batch %d differs between two datasets of seed 1", i)
		}
		if string(x) == string(z) {
			t.Fatalf("batch %d is the same for seeds 1 and 2", i)
		}
	}
	// Out of order, the same.
	if string(marshal(t, a.Generate(3))) != string(marshal(t, b.Generate(3))) {
		t.Fatal("batch 3 depends on what was generated before")
	}
}

func TestGeneratorShape(t *testing.T) {
	d := testDataset(t, 1)
	if d.Batches != 51 || d.BatchSpans(50) != 500 {
		t.Fatalf("%d batches, last %d spans; want 51, 500", d.Batches, d.BatchSpans(50))
	}
	values := map[string]map[string]bool{}
	see := func(k, v string) {
		if values[k] == nil {
			values[k] = map[string]bool{}
		}
		values[k][v] = true
	}
	traces := map[pcommon.TraceID]int{}
	spanIDs := map[pcommon.SpanID]bool{}
	parents := map[pcommon.SpanID]bool{}
	var spans, errs, slowGET, roots int
	start, end := d.Start().UnixNano(), d.End.UnixNano()
	for b := 0; b < d.Batches; b++ {
		td := d.Generate(b)
		if n := td.SpanCount(); n != d.BatchSpans(b) {
			t.Fatalf("batch %d: %d spans, want %d", b, n, d.BatchSpans(b))
		}
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			rs.Resource().Attributes().Range(func(k string, v pcommon.Value) bool { see(k, v.AsString()); return true })
			ss := rs.ScopeSpans().At(0).Spans()
			for j := 0; j < ss.Len(); j++ {
				s := ss.At(j)
				spans++
				traces[s.TraceID()]++
				spanIDs[s.SpanID()] = true
				if s.ParentSpanID().IsEmpty() {
					roots++
				} else {
					parents[s.ParentSpanID()] = true
				}
				if s.Status().Code() == ptrace.StatusCodeError {
					errs++
				}
				if int64(s.StartTimestamp()) < start || int64(s.StartTimestamp()) >= end+int64(time.Hour) || s.EndTimestamp() <= s.StartTimestamp() {
					t.Fatalf("span times %d … %d outside the range", s.StartTimestamp(), s.EndTimestamp())
				}
				if m, ok := s.Attributes().Get("http.method"); ok && m.AsString() == "GET" && s.EndTimestamp()-s.StartTimestamp() > pcommon.Timestamp(500*time.Millisecond) {
					slowGET++
				}
				s.Attributes().Range(func(k string, v pcommon.Value) bool { see(k, v.AsString()); return true })
			}
		}
		smp := d.Samples[b]
		if len(smp.TraceID) != 32 || smp.Spans < 1 || smp.UserID == "" || smp.RootService == "" {
			t.Fatalf("batch %d: sample %+v", b, smp)
		}
	}
	if spans != d.Spans {
		t.Fatalf("%d spans, want %d", spans, d.Spans)
	}
	for p := range parents {
		if !spanIDs[p] {
			t.Fatalf("parent %s is no span of the data set", p)
		}
	}
	if roots != len(traces) {
		t.Errorf("%d roots for %d traces", roots, len(traces))
	}
	meanSize := float64(spans) / float64(len(traces))
	if meanSize < 8 || meanSize > 12 {
		t.Errorf("mean trace size %.1f, want about 10", meanSize)
	}
	if r := float64(errs) / float64(spans); r < 0.005 || r > 0.02 {
		t.Errorf("error rate %.3f, want about 0.01", r)
	}
	if slowGET == 0 {
		t.Error("no GET span above 500 ms")
	}
	for k, want := range map[string][2]int{
		"service.name": {20, 20}, "host.name": {50, 50}, "deployment.environment": {3, 3},
		"http.method": {5, 5}, "http.status_code": {9, 11}, "http.route": {190, 200},
		"user.id": {3000, 100_000}, "request.id": {len(traces) * 9 / 10, len(traces)},
	} {
		if n := len(values[k]); n < want[0] || n > want[1] {
			t.Errorf("%s: %d values, want %d … %d", k, n, want[0], want[1])
		}
	}
	t.Logf("%d spans, %d traces (mean %.1f spans), %.2f%% errors, %d slow GET spans, %d user.id values",
		spans, len(traces), meanSize, 100*float64(errs)/float64(spans), slowGET, len(values["user.id"]))
}

// BenchmarkGenerate is the driver's cost per batch: generation and
// protobuf encoding (what the server does not pay).
func BenchmarkGenerate(b *testing.B) {
	d, err := NewDataset(Config{Spans: 10_000_000, Batch: 1000, Range: 2 * time.Hour, End: time.Unix(1_800_000_000, 0), Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if _, err := ptraceotlp.NewExportRequestFromTraces(d.Generate(i % d.Batches)).MarshalProto(); err != nil {
			b.Fatal(err)
		}
	}
}
