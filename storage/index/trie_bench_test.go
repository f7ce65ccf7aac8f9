package index

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

const benchNames = 100_000

// benchTrie returns a trie of benchNames generated names, each inserted one
// to three times, and the names.
func benchTrie(tb testing.TB) (*Trie, []string) {
	tb.Helper()
	all := testNames(1, benchNames)
	tr := NewTrie()
	for i, s := range all {
		for range 1 + i%3 {
			tr.Insert(s, uint64(1)<<(i%2))
		}
	}
	if tr.Len() != benchNames {
		tb.Fatalf("Len = %d, want %d", tr.Len(), benchNames)
	}
	return tr, all
}

// prefixQueries returns n prefixes of 1 to 10 bytes of random names, as a
// user types them.
func prefixQueries(all []string, n int) []string {
	rng := rand.New(rand.NewPCG(2, 2))
	out := make([]string, n)
	for i := range out {
		s := all[rng.IntN(len(all))]
		out[i] = s[:min(len(s), 1+rng.IntN(10))]
	}
	return out
}

// fuzzyQueries returns n names with edits typos each; one in four is cut to
// a prefix first, as a user who has not finished typing.
func fuzzyQueries(all []string, n, edits int) []string {
	rng := rand.New(rand.NewPCG(3, uint64(edits)))
	out := make([]string, n)
	for i := range out {
		s := all[rng.IntN(len(all))]
		if i%4 == 3 {
			s = s[:min(len(s), 3+rng.IntN(8))]
		}
		out[i] = typo(rng, s, edits)
	}
	return out
}

// percentile returns the p-quantile of ds, sorting it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// benchLookups runs lookup over queries, timing each call, and reports the
// 99th percentile.
func benchLookups(b *testing.B, queries []string, lookup func(string) []Entry) {
	ds := make([]time.Duration, 0, 1<<16)
	i, found := 0, 0
	b.ResetTimer()
	for b.Loop() {
		q := queries[i%len(queries)]
		start := time.Now()
		found += len(lookup(q))
		ds = append(ds, time.Since(start))
		i++
	}
	b.ReportMetric(float64(percentile(ds, 0.99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(found)/float64(i), "results/op")
}

func BenchmarkTriePrefix(b *testing.B) {
	tr, all := benchTrie(b)
	queries := prefixQueries(all, 4096)
	benchLookups(b, queries, func(q string) []Entry { return tr.Prefix(q, 10) })
}

func BenchmarkTriePrefixFold(b *testing.B) {
	tr, all := benchTrie(b)
	queries := prefixQueries(all, 4096)
	benchLookups(b, queries, func(q string) []Entry { return tr.PrefixFold(q, 10) })
}

func BenchmarkTrieFuzzy1(b *testing.B) {
	tr, all := benchTrie(b)
	queries := fuzzyQueries(all, 4096, 1)
	benchLookups(b, queries, func(q string) []Entry { return tr.Fuzzy(q, 1, 10) })
}

func BenchmarkTrieFuzzy2(b *testing.B) {
	tr, all := benchTrie(b)
	queries := fuzzyQueries(all, 4096, 2)
	benchLookups(b, queries, func(q string) []Entry { return tr.Fuzzy(q, 2, 10) })
}

func BenchmarkTrieFuzzy2Fold(b *testing.B) {
	tr, all := benchTrie(b)
	queries := fuzzyQueries(all, 4096, 2)
	benchLookups(b, queries, func(q string) []Entry { return tr.FuzzyFold(q, 2, 10) })
}

func BenchmarkTrieInsert(b *testing.B) {
	all := testNames(1, benchNames)
	tr := NewTrie()
	i := 0
	for b.Loop() {
		tr.Insert(all[i%len(all)], 1)
		i++
	}
}

// BenchmarkTrieMemory builds the 100,000-name trie and reports its size per
// name: the arrays' capacity (SizeBytes) and the heap growth, against the
// names' own bytes.
func BenchmarkTrieMemory(b *testing.B) {
	all := testNames(1, benchNames)
	raw := 0
	for _, s := range all {
		raw += len(s)
	}
	var heap, size float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		tr := NewTrie()
		for _, s := range all {
			tr.Insert(s, 1)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc-before.HeapAlloc) / benchNames
		size = float64(tr.SizeBytes()) / benchNames
		runtime.KeepAlive(tr)
	}
	b.ReportMetric(size, "bytes/name")
	b.ReportMetric(heap, "heap-bytes/name")
	b.ReportMetric(float64(raw)/benchNames, "name-bytes/name")
}

// TestTrieLatencyReport logs the latency of 1,000 fuzzy lookups at distance
// 2 (and of prefix lookups) over 100,000 names. It never fails on time:
// these machines are too noisy for that; the benchmarks report the same.
func TestTrieLatencyReport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100,000-name trie")
	}
	tr, all := benchTrie(t)
	measure := func(queries []string, lookup func(string) []Entry) (p50, p99, worst time.Duration, results int) {
		ds := make([]time.Duration, len(queries))
		for i, q := range queries {
			start := time.Now()
			results += len(lookup(q))
			ds[i] = time.Since(start)
		}
		return percentile(ds, 0.50), percentile(ds, 0.99), ds[len(ds)-1], results
	}
	fq := fuzzyQueries(all, 1000, 2)
	p50, p99, worst, n := measure(fq, func(q string) []Entry { return tr.Fuzzy(q, 2, 10) })
	t.Logf("Fuzzy, distance 2, 1000 queries over %d names: p50 %v, p99 %v, max %v, %.1f results/query", tr.Len(), p50, p99, worst, float64(n)/1000)
	p50, p99, worst, n = measure(fq, func(q string) []Entry { return tr.FuzzyFold(q, 2, 10) })
	t.Logf("FuzzyFold, distance 2: p50 %v, p99 %v, max %v, %.1f results/query", p50, p99, worst, float64(n)/1000)
	p50, p99, worst, n = measure(fuzzyQueries(all, 1000, 1), func(q string) []Entry { return tr.Fuzzy(q, 1, 10) })
	t.Logf("Fuzzy, distance 1: p50 %v, p99 %v, max %v, %.1f results/query", p50, p99, worst, float64(n)/1000)
	pq := prefixQueries(all, 1000)
	p50, p99, worst, n = measure(pq, func(q string) []Entry { return tr.Prefix(q, 10) })
	t.Logf("Prefix, limit 10: p50 %v, p99 %v, max %v, %.1f results/query", p50, p99, worst, float64(n)/1000)
	p50, p99, worst, n = measure(pq, func(q string) []Entry { return tr.PrefixFold(q, 10) })
	t.Logf("PrefixFold, limit 10: p50 %v, p99 %v, max %v, %.1f results/query", p50, p99, worst, float64(n)/1000)
	t.Logf("memory: %.1f bytes/name in the trie's arrays", float64(tr.SizeBytes())/float64(tr.Len()))
	tr.mu.Lock()
	start := time.Now()
	tr.r.compact()
	pause := time.Since(start)
	tr.mu.Unlock()
	t.Logf("one compaction of %d nodes: %v; then %.1f bytes/name", len(tr.r.nodes), pause, float64(tr.SizeBytes())/float64(tr.Len()))
	p50, p99, worst, n = measure(fq, func(q string) []Entry { return tr.Fuzzy(q, 2, 10) })
	t.Logf("Fuzzy, distance 2, fully compacted: p50 %v, p99 %v, max %v, %.1f results/query", p50, p99, worst, float64(n)/1000)
}
