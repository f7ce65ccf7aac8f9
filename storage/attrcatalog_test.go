package storage

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// catalogSpans returns a request of n spans of service checkout started at
// ts, with attributes of every scope and type; extra adds more to each span.
func catalogSpans(n int, ts time.Time, extra func(i int, a pcommon.Map)) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutInt("host.cpus", 8)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("shop")
	ss.Scope().Attributes().PutStr("library.kind", "manual")
	rng := newRand(uint64(ts.UnixNano()) + uint64(n))
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(randTraceID(rng))
		s.SetSpanID(randSpanID(rng))
		s.SetName("charge")
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(ts))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Millisecond)))
		a := s.Attributes()
		a.PutStr("http.method", []string{"GET", "POST"}[i%2])
		a.PutInt("http.status_code", []int64{200, 500}[i%2])
		a.PutDouble("app.ratio", 0.5)
		a.PutBool("app.flag", true)
		tags := a.PutEmptySlice("app.tags")
		tags.AppendEmpty().SetStr("a")
		tags.AppendEmpty().SetInt(3)
		tags.AppendEmpty().SetBool(true)
		tags.AppendEmpty().SetEmptyMap().PutStr("k", "v") // no value entry
		a.PutEmptyMap("app.ctx").PutStr("user", "u1")
		a.PutEmptyBytes("app.payload").FromRaw([]byte{1, 2})
		a.PutEmpty("app.empty")
		a.PutStr("v256", strings.Repeat("x", 256))
		a.PutStr("v257", strings.Repeat("x", 257))
		a.PutStr(strings.Repeat("k", maxCatalogNameLen+1), "too long a key")
		a.PutStr("nul\x00key", "v")
		ev := s.Events().AppendEmpty()
		ev.SetName("exception")
		ev.Attributes().PutStr("exception.type", "CardDeclined")
		l := s.Links().AppendEmpty()
		l.SetTraceID(randTraceID(rng))
		l.SetSpanID(randSpanID(rng))
		l.Attributes().PutStr("link.kind", "follows_from")
		if extra != nil {
			extra(i, a)
		}
	}
	return td
}

// attrCatalogEntries returns the attribute catalog entries of r as
// "window scope/key" and "window scope/key=type:value", with the number of
// times each was written, and fails when one is outside the partition of
// its key.
func attrCatalogEntries(t *testing.T, r BuildResult, parts int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, b := range r.Batches {
		it := NewEntryIter(b.Entries)
		for it.Next() {
			e := it.Entry()
			k := e.Key
			if k[partLen] != kindCatalog || (k[headerLen] != catalogAttrKey && k[headerLen] != catalogAttrValue) {
				continue
			}
			rest := string(k[headerLen+2:])
			key, val, isValue := rest, "", k[headerLen] == catalogAttrValue
			if isValue {
				key, val, _ = strings.Cut(rest, "\x00")
				val = string(val[0]) + ":" + val[1:]
			}
			if p := CatalogPartition(key, parts); b.Partition != p {
				t.Errorf("entry of %q in partition %d, want %d", key, b.Partition, p)
			}
			name := fmt.Sprintf("%d %c/%s", e.Window, k[headerLen+1], key)
			if isValue {
				name += "=" + val
			}
			out[name]++
		}
	}
	return out
}

func TestAttributeCatalogWrite(t *testing.T) {
	e := newTestEnv(t, 16)
	now := e.clock.Now().Add(-time.Minute)
	old := now.Add(-48 * time.Hour)
	wNow, wOld := windowOf(uint64(now.UnixNano()), e.builder.windowSeconds), windowOf(uint64(old.UnixNano()), e.builder.windowSeconds)

	td := catalogSpans(50, now, nil)
	catalogSpans(3, old, nil).ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	r := e.builder.Traces(td)
	got := attrCatalogEntries(t, r, e.parts)
	var want []string
	for _, w := range []int64{wNow, wOld} {
		for _, s := range []string{
			"s/http.method", "s/http.method=s:GET", "s/http.method=s:POST",
			"s/http.status_code", "s/http.status_code=i:200", "s/http.status_code=i:500",
			"s/app.ratio", "s/app.ratio=f:0.5", "s/app.flag", "s/app.flag=b:true",
			"s/app.tags", "s/app.tags=s:a", "s/app.tags=i:3", "s/app.tags=b:true",
			"s/app.ctx", "s/app.payload", "s/app.empty",
			"s/v256", "s/v256=s:" + strings.Repeat("x", 256), "s/v257",
			"r/service.name", "r/service.name=s:checkout", "r/host.cpus", "r/host.cpus=i:8",
			"i/library.kind", "i/library.kind=s:manual",
			"e/exception.type", "e/exception.type=s:CardDeclined",
			"l/link.kind", "l/link.kind=s:follows_from",
		} {
			want = append(want, fmt.Sprintf("%d %s", w, s))
		}
	}
	var names []string
	for n, c := range got {
		names = append(names, n)
		if c != 1 {
			t.Errorf("%s written %d times in one request", n, c)
		}
	}
	slices.Sort(names)
	slices.Sort(want)
	if !reflect.DeepEqual(names, want) {
		t.Errorf("entries:\n got %q\nwant %q", names, want)
	}

	// Committed, they are not written again in their windows.
	e.write(sigTraces, r)
	if again := attrCatalogEntries(t, e.builder.Traces(catalogSpans(10, now, nil)), e.parts); len(again) != 0 {
		t.Errorf("written again after commit: %v", again)
	}
	// A new value of a known key: only the value.
	more := e.builder.Traces(catalogSpans(1, now, func(_ int, a pcommon.Map) { a.PutStr("http.method", "PATCH") }))
	if got, want := attrCatalogEntries(t, more, e.parts), map[string]int{fmt.Sprintf("%d s/http.method=s:PATCH", wNow): 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("a new value: got %v, want %v", got, want)
	}
	// The group records, postings and spans are those of a build without
	// the catalog: searching an attribute still finds every span.
	hits := e.searchTraces(&starlingpb.TraceSearch{Attributes: []*starlingpb.Attribute{{Key: "app.tags", Value: "3"}}}, 0, maxTime, 100)
	n := 0
	for _, h := range hits {
		n += len(h)
	}
	if n != 53 {
		t.Errorf("search app.tags=3: %d traces, want 53", n)
	}
}

// readAttrs reads an attribute catalog query from every partition (or only
// p when p >= 0) and returns "scope/name" or "type:name" answers, sorted,
// and whether one was truncated.
func (e *testEnv) readAttrs(q *starlingpb.Catalog, p int, start, end int64) ([]string, bool) {
	e.t.Helper()
	var out []string
	trunc := false
	for i := range e.parts {
		if p >= 0 && i != p {
			continue
		}
		var c starlingpb.ResultChunk
		if err := e.store.ReadCatalog(context.Background(), uint32(i), q, start, end, &c); err != nil {
			e.t.Fatalf("ReadCatalog p%d: %v", i, err)
		}
		trunc = trunc || c.Truncated
		for _, n := range c.CatalogNames {
			if n.Scope != "" {
				out = append(out, n.Scope+"/"+n.Name)
			} else {
				out = append(out, n.Type+":"+n.Name)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), trunc
}

func TestAttributeCatalogRead(t *testing.T) {
	e := newTestEnv(t, 16)
	now := e.clock.Now().Add(-time.Minute)
	old := now.Add(-48 * time.Hour)
	e.writeTraces(catalogSpans(20, now, nil))
	e.writeTraces(catalogSpans(2, old, func(_ int, a pcommon.Map) { a.PutStr("old.only", "yes") }))
	oldStart, oldEnd := old.Add(-time.Hour).UnixNano(), old.Add(time.Hour).UnixNano()
	nowStart := now.Add(-time.Hour).UnixNano()

	keys := func(scope, prefix string) *starlingpb.Catalog {
		return &starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_ATTRIBUTE_KEYS, Scope: scope, Prefix: prefix}
	}
	values := func(scope, key, prefix string) *starlingpb.Catalog {
		return &starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_ATTRIBUTE_VALUES, Scope: scope, Key: key, Prefix: prefix}
	}
	cases := []struct {
		name       string
		q          *starlingpb.Catalog
		start, end int64
		want       []string
	}{
		{"every key", keys("", ""), 0, maxTime, []string{
			"event/exception.type", "instrumentation/library.kind", "link/link.kind",
			"resource/host.cpus", "resource/service.name",
			"span/app.ctx", "span/app.empty", "span/app.flag", "span/app.payload", "span/app.ratio", "span/app.tags",
			"span/http.method", "span/http.status_code", "span/old.only", "span/v256", "span/v257",
		}},
		{"span keys by prefix", keys("span", "http."), 0, maxTime, []string{"span/http.method", "span/http.status_code"}},
		{"prefix of every scope", keys("", "l"), 0, maxTime, []string{"instrumentation/library.kind", "link/link.kind"}},
		{"keys of the new window", keys("span", "old"), nowStart, maxTime, nil},
		{"keys of the old window", keys("span", "old"), oldStart, oldEnd, []string{"span/old.only"}},
		{"int values", values("span", "http.status_code", ""), 0, maxTime, []string{"int:200", "int:500"}},
		{"value prefix", values("span", "http.method", "P"), 0, maxTime, []string{"string:POST"}},
		{"array elements", values("span", "app.tags", ""), 0, maxTime, []string{"bool:true", "int:3", "string:a"}},
		{"float", values("span", "app.ratio", ""), 0, maxTime, []string{"float:0.5"}},
		{"resource", values("resource", "service.name", ""), 0, maxTime, []string{"string:checkout"}},
		{"instrumentation", values("instrumentation", "library.kind", ""), 0, maxTime, []string{"string:manual"}},
		{"event", values("event", "exception.type", ""), 0, maxTime, []string{"string:CardDeclined"}},
		{"link", values("link", "link.kind", ""), 0, maxTime, []string{"string:follows_from"}},
		{"other scope", values("resource", "http.method", ""), 0, maxTime, nil},
		{"key only", values("span", "app.ctx", ""), 0, maxTime, nil},
		{"a key's prefix is not the key", values("span", "http", ""), 0, maxTime, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, trunc := e.readAttrs(tc.q, -1, tc.start, tc.end)
			if !reflect.DeepEqual(got, tc.want) || trunc {
				t.Errorf("got %q (truncated %v), want %q", got, trunc, tc.want)
			}
			if tc.q.Kind == starlingpb.Catalog_KIND_ATTRIBUTE_VALUES {
				// All of them in the key's partition.
				only, _ := e.readAttrs(tc.q, int(CatalogPartition(tc.q.Key, e.parts)), tc.start, tc.end)
				if !reflect.DeepEqual(only, tc.want) {
					t.Errorf("in partition %d: %q", CatalogPartition(tc.q.Key, e.parts), only)
				}
			}
		})
	}
	// A partition's snapshot carries its catalog (it is in its key range).
	dst := newTestEnv(t, e.parts)
	for p := range uint32(e.parts) {
		copyPartition(t, e.store, dst.store, sigTraces, p, 4<<10)
	}
	for _, tc := range cases {
		if got, _ := dst.readAttrs(tc.q, -1, tc.start, tc.end); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s, from the copy: got %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, q := range []*starlingpb.Catalog{values("", "http.method", ""), keys("intrinsic", ""), values("nope", "x", "")} {
		var out starlingpb.ResultChunk
		if err := e.store.ReadCatalog(context.Background(), 0, q, 0, maxTime, &out); err == nil {
			t.Errorf("%v: no error", q)
		}
	}
}

// TestAttributeCatalogBounds checks the bound on the values written per
// key and window, and the bound on a read, flagged.
func TestAttributeCatalogBounds(t *testing.T) {
	e := newTestEnv(t, 4)
	now := e.clock.Now().Add(-time.Minute)
	old := now.Add(-48 * time.Hour)
	const n = maxCatalogValuesPerKey + 50
	r := e.writeTraces(catalogSpans(n, now, func(i int, a pcommon.Map) { a.PutInt("user.id", int64(i)) }))
	written := 0
	for name := range attrCatalogEntries(t, r, e.parts) {
		if strings.Contains(name, " s/user.id=") {
			written++
		}
	}
	if written != maxCatalogValuesPerKey {
		t.Errorf("%d values of user.id written, want the bound %d", written, maxCatalogValuesPerKey)
	}
	e.writeTraces(catalogSpans(5, old, func(i int, a pcommon.Map) { a.PutInt("user.id", int64(-1-i)) }))

	q := &starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_ATTRIBUTE_VALUES, Scope: "span", Key: "user.id"}
	p := int(CatalogPartition("user.id", e.parts))
	got, trunc := e.readAttrs(q, p, now.Add(-time.Hour).UnixNano(), maxTime)
	if len(got) != maxCatalogValuesPerKey || trunc {
		t.Errorf("new window: %d values, truncated %v; want %d, not truncated", len(got), trunc, maxCatalogValuesPerKey)
	}
	got, trunc = e.readAttrs(q, p, 0, maxTime)
	if len(got) != maxCatalogNames || !trunc {
		t.Errorf("both windows: %d values, truncated %v; want %d, truncated", len(got), trunc, maxCatalogNames)
	}
}
