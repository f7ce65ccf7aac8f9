package storage

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// splitTraces copies td into n requests, span i of every scope going to
// request part(i); resources and scopes are repeated in every request.
func splitTraces(td ptrace.Traces, n int, part func(i int) int) []ptrace.Traces {
	out := make([]ptrace.Traces, n)
	for k := range out {
		out[k] = ptrace.NewTraces()
	}
	i := 0
	for ri := 0; ri < td.ResourceSpans().Len(); ri++ {
		rs := td.ResourceSpans().At(ri)
		for si := 0; si < rs.ScopeSpans().Len(); si++ {
			ss := rs.ScopeSpans().At(si)
			dst := make([]ptrace.SpanSlice, n)
			for k := range out {
				nrs := out[k].ResourceSpans().AppendEmpty()
				rs.Resource().CopyTo(nrs.Resource())
				nrs.SetSchemaUrl(rs.SchemaUrl())
				nss := nrs.ScopeSpans().AppendEmpty()
				ss.Scope().CopyTo(nss.Scope())
				nss.SetSchemaUrl(ss.SchemaUrl())
				dst[k] = nss.Spans()
			}
			for k := 0; k < ss.Spans().Len(); k++ {
				ss.Spans().At(k).CopyTo(dst[part(i)].AppendEmpty())
				i++
			}
		}
	}
	return out
}

func splitLogs(ld plog.Logs, n int, part func(i int) int) []plog.Logs {
	out := make([]plog.Logs, n)
	for k := range out {
		out[k] = plog.NewLogs()
	}
	i := 0
	for ri := 0; ri < ld.ResourceLogs().Len(); ri++ {
		rl := ld.ResourceLogs().At(ri)
		for si := 0; si < rl.ScopeLogs().Len(); si++ {
			sl := rl.ScopeLogs().At(si)
			dst := make([]plog.LogRecordSlice, n)
			for k := range out {
				nrl := out[k].ResourceLogs().AppendEmpty()
				rl.Resource().CopyTo(nrl.Resource())
				nrl.SetSchemaUrl(rl.SchemaUrl())
				nsl := nrl.ScopeLogs().AppendEmpty()
				sl.Scope().CopyTo(nsl.Scope())
				nsl.SetSchemaUrl(sl.SchemaUrl())
				dst[k] = nsl.LogRecords()
			}
			for k := 0; k < sl.LogRecords().Len(); k++ {
				sl.LogRecords().At(k).CopyTo(dst[part(i)].AppendEmpty())
				i++
			}
		}
	}
	return out
}

// TestIdempotentTraces writes the same traces again in several ways; the
// store keeps one copy of every span and the second identical write adds no
// key.
func TestIdempotentTraces(t *testing.T) {
	e := newTestEnv(t, 16)
	td := genTraces(newRand(11), 40, 10, e.clock.Now())
	nspans := spanCount(td)
	first := e.builder.Traces(td)
	e.apply(sigTraces, first)
	keys1, kinds1 := countKeys(t, e.store, sigTraces)
	if kinds1[kindSpan] != kinds1[kindTraceGroup] || kinds1[kindSpan] == 0 {
		t.Fatalf("%d span group keys for %d group records", kinds1[kindSpan], kinds1[kindTraceGroup])
	}
	if stored := storedSpans(t, e.store, sigTraces); stored != nspans {
		t.Fatalf("%d spans stored, want %d", stored, nspans)
	}

	steps := []struct {
		name  string
		write func()
	}{
		{"same batches again", func() { e.apply(sigTraces, first) }},
		{"same request rebuilt (seen cache)", func() { e.writeTraces(td) }},
		{"same request, fresh builder without cache", func() {
			b, err := NewBuilder(testBuilderConfig(16), nil, e.clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			e.apply(sigTraces, b.Traces(td))
		}},
		{"request with every span twice", func() {
			double := ptrace.NewTraces()
			td.ResourceSpans().CopyTo(double.ResourceSpans())
			for i := 0; i < double.ResourceSpans().Len(); i++ {
				for j := 0; j < double.ResourceSpans().At(i).ScopeSpans().Len(); j++ {
					sp := double.ResourceSpans().At(i).ScopeSpans().At(j).Spans()
					n := sp.Len()
					for k := 0; k < n; k++ {
						sp.At(k).CopyTo(sp.AppendEmpty())
					}
				}
			}
			r := e.builder.Traces(double)
			if r.Accepted != 2*nspans {
				t.Fatalf("accepted %d, want %d", r.Accepted, 2*nspans)
			}
			e.apply(sigTraces, r)
		}},
	}
	for _, st := range steps {
		st.write()
		keys, kinds := countKeys(t, e.store, sigTraces)
		if keys != keys1 {
			t.Errorf("%s: %d keys, want %d (by kind %v, first %v)", st.name, keys, keys1, kinds, kinds1)
		}
	}

	// Different batching of the same spans: new span groups (their own
	// spans, group records and postings) but no new resource or catalog
	// key; reads still return every span once (checked below).
	for _, n := range []int{2, 3} {
		for _, part := range splitTraces(td, n, func(i int) int { return (i * 7) % n }) {
			e.writeTraces(part)
		}
		_, kinds := countKeys(t, e.store, sigTraces)
		for _, k := range []byte{kindResource, kindCatalog} {
			if kinds[k] != kinds1[k] {
				t.Errorf("rebatched in %d: %d keys of kind %#x, want %d", n, kinds[k], k, kinds1[k])
			}
		}
		if kinds[kindTraceGroup] <= kinds1[kindTraceGroup] {
			t.Errorf("rebatched in %d: expected new span groups", n)
		}
	}

	want := spansByID(t, td)
	for _, tid := range traceIDsOf(td) {
		out := e.readTrace(tid)
		n := 0
		forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
			if s.TraceID() == tid {
				n++
			}
		})
		if got := spansIn(t, out); got != n {
			t.Errorf("trace %s: ReadTrace returned %d spans, want %d", tid, got, n)
		}
		dt, err := DecodeTrace(out.Records, out.Refs)
		if err != nil {
			t.Fatal(err)
		}
		for id, c := range spansByID(t, dt) {
			if want[id] != c {
				t.Errorf("span %x changed after rewrites", id)
			}
		}
	}
	// Every trace is found once by a search although it has several groups.
	hits := e.searchTraces(&starlingpb.TraceSearch{}, 0, maxTime, 1000)
	seen := map[string]bool{}
	for _, hs := range hits {
		for _, h := range hs {
			if seen[string(h.TraceId)] {
				t.Errorf("trace %x returned twice", h.TraceId)
			}
			seen[string(h.TraceId)] = true
		}
	}
	if len(seen) != len(traceIDsOf(td)) {
		t.Errorf("search found %d traces, want %d", len(seen), len(traceIDsOf(td)))
	}
}

func TestIdempotentLogs(t *testing.T) {
	e := newTestEnv(t, 16)
	ld := genLogs(newRand(12), 300, e.clock.Now())
	first := e.builder.Logs(ld)
	e.apply(sigLogs, first)
	keys1, kinds1 := countKeys(t, e.store, sigLogs)
	if kinds1[kindLog] != ld.LogRecordCount() {
		t.Fatalf("%d log keys for %d records", kinds1[kindLog], ld.LogRecordCount())
	}
	writes := []struct {
		name  string
		write func()
	}{
		{"same batches again", func() { e.apply(sigLogs, first) }},
		{"same request rebuilt", func() { e.writeLogs(ld) }},
		{"split in two", func() {
			for _, part := range splitLogs(ld, 2, func(i int) int { return i % 2 }) {
				e.writeLogs(part)
			}
		}},
		{"split in five, fresh builder", func() {
			b, err := NewBuilder(testBuilderConfig(16), nil, e.clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range splitLogs(ld, 5, func(i int) int { return (i / 3) % 5 }) {
				e.apply(sigLogs, b.Logs(part))
			}
		}},
	}
	for _, w := range writes {
		w.write()
		if keys, kinds := countKeys(t, e.store, sigLogs); keys != keys1 {
			t.Errorf("%s: %d keys, want %d (%v vs %v)", w.name, keys, keys1, kinds, kinds1)
		}
	}
	var got []string
	for _, out := range e.searchLogs(&starlingpb.LogSearch{}, 0, maxTime, 1<<20) {
		got = append(got, decodedLogsCanon(t, out)...)
	}
	compareSorted(t, "log", got, expectedLogs(t, ld), jsonOfCanonLog)
}

// TestSeenCacheSkipsWriteOnceRecords checks that a second request sharing
// resources, catalog names and series with a committed one leaves their
// records out, and that a request carrying the same record twice writes it
// once.
func TestSeenCacheSkipsWriteOnceRecords(t *testing.T) {
	e := newTestEnv(t, 4)
	td := genTraces(newRand(14), 10, 5, e.clock.Now())
	r1 := e.writeTraces(td)
	r2 := e.builder.Traces(td)
	seen1, seen2 := 0, 0
	for _, b := range r1.Batches {
		seen1 += len(b.Seen)
		checkNoDuplicateKeys(t, b)
	}
	for _, b := range r2.Batches {
		seen2 += len(b.Seen)
	}
	if seen1 == 0 || seen2 != 0 {
		t.Errorf("write-once keys: first request %d (want > 0), second %d (want 0)", seen1, seen2)
	}
	md := genMetrics(newRand(15), 2, 3, e.clock.Now())
	r1 = e.writeMetrics(md)
	r2 = e.builder.Metrics(md)
	for _, b := range r2.Batches {
		if len(b.Seen) != 0 {
			t.Errorf("metrics: second request carries %d write-once keys", len(b.Seen))
		}
		it := NewEntryIter(b.Entries)
		for it.Next() {
			if k := it.Entry().Key[partLen]; k != kindRecord && k != kindExemplar {
				t.Errorf("metrics: second request writes kind %#x again", k)
			}
		}
	}
	for _, b := range r1.Batches {
		checkNoDuplicateKeys(t, b)
	}
}

// checkNoDuplicateKeys fails if a batch writes one write-once key twice.
func checkNoDuplicateKeys(t *testing.T, b PartBatch) {
	t.Helper()
	keys := map[string]bool{}
	it := NewEntryIter(b.Entries)
	for it.Next() {
		en := it.Entry()
		switch en.Key[partLen] {
		case kindResource, kindCatalog, kindSeries, kindPosting, kindMetadata:
		default:
			continue
		}
		k := fmt.Sprint(en.Window, string(en.Key))
		if keys[k] {
			t.Errorf("partition %d: write-once key %x written twice in one batch", b.Partition, en.Key)
		}
		keys[k] = true
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
}

// TestRewriteAfterRestartIsIdempotent writes, restarts (the seen cache is
// lost with a new builder) and writes again.
func TestRewriteAfterRestartIsIdempotent(t *testing.T) {
	e := newTestEnv(t, 16)
	md := genMetrics(newRand(16), 2, 5, e.clock.Now())
	td := genTraces(newRand(17), 10, 6, e.clock.Now())
	e.writeMetrics(md)
	e.writeTraces(td)
	mk, _ := countKeys(t, e.store, sigMetrics)
	tk, _ := countKeys(t, e.store, sigTraces)
	e.reopen()
	b, err := NewBuilder(testBuilderConfig(16), NewSeenCache(100), e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	e.builder = b
	e.writeMetrics(md)
	e.writeTraces(td)
	if k, _ := countKeys(t, e.store, sigMetrics); k != mk {
		t.Errorf("metrics: %d keys after rewrite, want %d", k, mk)
	}
	if k, _ := countKeys(t, e.store, sigTraces); k != tk {
		t.Errorf("traces: %d keys after rewrite, want %d", k, tk)
	}
}
