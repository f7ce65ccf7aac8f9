package index

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// names returns the names of entries.
func names(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Name
	}
	return out
}

func TestTrieInsertGet(t *testing.T) {
	tr := NewTrie()
	inserts := []struct {
		s    string
		tags uint64
	}{
		{"http.request.method", 1}, {"http.response.status_code", 2}, {"http", 4},
		{"http.request.method", 2}, {"", 8}, {"h", 1}, {"http.route", 1}, {"http.request.method", 0},
	}
	for _, in := range inserts {
		tr.Insert(in.s, in.tags)
	}
	tests := []struct {
		s         string
		ok        bool
		tags      uint64
		count     uint64
		comparing string
	}{
		{"http.request.method", true, 3, 3, "repeated"},
		{"http", true, 4, 1, "prefix of others"},
		{"", true, 8, 1, "empty name"},
		{"h", true, 1, 1, "one byte"},
		{"http.request", false, 0, 0, "inner node"},
		{"http.request.methods", false, 0, 0, "extension"},
		{"ht", false, 0, 0, "inside a label"},
		{"x", false, 0, 0, "absent"},
	}
	for _, tt := range tests {
		e, ok := tr.Get(tt.s)
		if ok != tt.ok || e.Tags != tt.tags || e.Count != tt.count || (ok && e.Name != tt.s) {
			t.Errorf("%s: Get(%q) = %+v, %v; want tags %d count %d, %v", tt.comparing, tt.s, e, ok, tt.tags, tt.count, tt.ok)
		}
	}
	if tr.Len() != 6 {
		t.Errorf("Len = %d, want 6", tr.Len())
	}
	tr.Insert(strings.Repeat("x", MaxNameLen+1), 1)
	tr.Insert(strings.Repeat("x", MaxNameLen), 1)
	if tr.Len() != 7 {
		t.Errorf("Len = %d after a too-long and a longest name, want 7", tr.Len())
	}
	var zero Trie
	if zero.Len() != 0 || zero.Prefix("", 0) != nil || zero.Fuzzy("a", 1, 0) != nil {
		t.Errorf("zero Trie is not empty")
	}
	if _, ok := zero.Get(""); ok {
		t.Errorf("zero Trie has the empty name")
	}
}

func TestTriePrefixOrder(t *testing.T) {
	tr := NewTrie()
	for s, n := range map[string]int{
		"checkout": 1, "checkout-service": 5, "checkout-api": 5, "checkout-worker": 9,
		"check": 2, "cart": 7, "Checkout-UI": 3, "CHECKOUT": 1, "chec": 1,
	} {
		for range n {
			tr.Insert(s, 0)
		}
	}
	tests := []struct {
		p     string
		fold  bool
		limit int
		want  []string
	}{
		{"checkout", false, 0, []string{"checkout", "checkout-worker", "checkout-api", "checkout-service"}},
		{"checkout", false, 2, []string{"checkout", "checkout-worker"}},
		{"check", false, 0, []string{"check", "checkout-worker", "checkout-api", "checkout-service", "checkout"}},
		{"c", false, 3, []string{"checkout-worker", "cart", "checkout-api"}},
		{"", false, 2, []string{"checkout-worker", "cart"}},
		{"checkout-s", false, 0, []string{"checkout-service"}},
		{"checkouts", false, 0, nil},
		{"d", false, 0, nil},
		{"Check", false, 0, []string{"Checkout-UI"}},
		{"checkout", true, 0, []string{"CHECKOUT", "checkout", "checkout-worker", "checkout-api", "checkout-service", "Checkout-UI"}},
		{"CHECKOUT-", true, 2, []string{"checkout-worker", "checkout-api"}},
		{"chec", true, 1, []string{"chec"}},
	}
	for _, tt := range tests {
		var got []Entry
		if tt.fold {
			got = tr.PrefixFold(tt.p, tt.limit)
		} else {
			got = tr.Prefix(tt.p, tt.limit)
		}
		if !slices.Equal(names(got), tt.want) {
			t.Errorf("Prefix(%q, fold %v, %d) = %q, want %q", tt.p, tt.fold, tt.limit, names(got), tt.want)
		}
	}
}

// bruteOrder sorts as Prefix documents: exact first, then count, then name.
func bruteOrder(es []Entry, exact func(string) bool) {
	slices.SortFunc(es, func(a, b Entry) int {
		ea, eb := exact(a.Name), exact(b.Name)
		switch {
		case ea && !eb:
			return -1
		case eb && !ea:
			return 1
		case a.Count != b.Count:
			return cmpDesc(a.Count, b.Count)
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func TestTriePrefixBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	all := testNames(11, 2000)
	tr := NewTrie()
	counts := map[string]uint64{}
	tags := map[string]uint64{}
	for _, s := range all {
		n := 1 + rng.IntN(4)
		if rng.IntN(4) == 0 {
			s = strings.ToUpper(s[:1]) + s[1:]
		}
		for range n {
			tag := uint64(1) << rng.IntN(4)
			tr.Insert(s, tag)
			counts[s]++
			tags[s] |= tag
		}
	}
	if tr.Len() != len(counts) {
		t.Fatalf("Len = %d, want %d", tr.Len(), len(counts))
	}
	queries := []string{"", "G", "g", "GET /api/v1/", "db.query.", "k8s.", "x", "zzz", "http.request.method"}
	for range 300 {
		s := all[rng.IntN(len(all))]
		queries = append(queries, s[:rng.IntN(len(s)+1)])
	}
	for range 50 {
		queries = append(queries, typo(rng, all[rng.IntN(len(all))][:3], 1))
	}
	for _, q := range queries {
		for _, fold := range []bool{false, true} {
			var want []Entry
			for s, c := range counts {
				if strings.HasPrefix(s, q) || fold && strings.HasPrefix(asciiLower(s), asciiLower(q)) {
					want = append(want, Entry{Name: s, Tags: tags[s], Count: c})
				}
			}
			bruteOrder(want, func(s string) bool { return s == q || fold && asciiLower(s) == asciiLower(q) })
			var got, first []Entry
			if fold {
				got, first = tr.PrefixFold(q, 0), tr.PrefixFold(q, 5)
			} else {
				got, first = tr.Prefix(q, 0), tr.Prefix(q, 5)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Prefix(%q, fold %v): %d entries %q…, brute force %d %q…", q, fold, len(got), head(names(got)), len(want), head(names(want)))
			}
			if !slices.Equal(first, want[:min(5, len(want))]) {
				t.Fatalf("Prefix(%q, fold %v, 5) = %q, want %q", q, fold, names(first), names(want[:min(5, len(want))]))
			}
		}
	}
}

// head returns the first few of s, for messages.
func head(s []string) []string { return s[:min(len(s), 6)] }

func TestTrieMerge(t *testing.T) {
	all := testNames(12, 3000)
	a, b, whole := NewTrie(), NewTrie(), NewTrie()
	for i, s := range all {
		tag := uint64(1) << (i % 3)
		if i%3 != 0 {
			a.Insert(s, tag)
			whole.Insert(s, tag)
		}
		if i%2 == 0 {
			b.Insert(s, tag)
			whole.Insert(s, tag)
		}
	}
	a.Merge(b)
	a.Merge(a)
	if !slices.Equal(a.entries(), whole.entries()) {
		t.Fatalf("merged trie differs from the trie of all inserts")
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.Merge(b) }()
	go func() { defer wg.Done(); b.Merge(a) }()
	wg.Wait()
}

func TestTrieRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 500, 5000} {
		tr := NewTrie()
		for i, s := range testNames(13, n) {
			for range 1 + i%3 {
				tr.Insert(s, uint64(i)<<20)
			}
		}
		if n == 1 {
			tr.Insert("", 5) // the root's own entry
		}
		data, err := tr.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back Trie
		if err := back.UnmarshalBinary(data); err != nil {
			t.Fatalf("%d names: %v", n, err)
		}
		if !slices.Equal(back.entries(), tr.entries()) || back.Len() != tr.Len() {
			t.Fatalf("%d names: decoded trie differs", n)
		}
		again, _ := back.AppendBinary([]byte("x"))
		if string(again[1:]) != string(data) {
			t.Fatalf("%d names: re-encoding differs", n)
		}
		t.Logf("%d names: %d bytes encoded, %d in memory", tr.Len(), len(data), tr.SizeBytes())
	}
}

func TestTrieUnmarshalErrors(t *testing.T) {
	tr := NewTrie()
	for _, s := range []string{"a", "ab", "abc", "b"} {
		tr.Insert(s, 1)
	}
	good, _ := tr.MarshalBinary()
	reseal := func(body ...byte) []byte { return binary.LittleEndian.AppendUint32(body, checksum(body)) }
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"unknown version", append([]byte{2}, good[1:]...), ErrVersion},
		{"flipped bit", func() []byte { b := slices.Clone(good); b[3] ^= 1; return b }(), ErrCorrupt},
		{"truncated", good[:len(good)-1], ErrCorrupt},
		{"count past data", reseal(trieVersion, 100, 0, 1, 'a', 1, 0), ErrCorrupt},
		{"zero count", reseal(trieVersion, 1, 0, 1, 'a', 0, 0), ErrCorrupt},
		{"duplicate", reseal(trieVersion, 2, 0, 1, 'a', 1, 0, 1, 0, 1, 0), ErrCorrupt},
		{"descending", reseal(trieVersion, 2, 0, 1, 'b', 1, 0, 0, 1, 'a', 1, 0), ErrCorrupt},
		{"shared too long", reseal(trieVersion, 2, 0, 1, 'a', 1, 0, 2, 1, 'b', 1, 0), ErrCorrupt},
		{"suffix past data", reseal(trieVersion, 1, 0, 9, 'a', 1, 0), ErrCorrupt},
		{"name too long", reseal(trieVersion, 1, 0, 0x81, 0x08, 'a', 1, 0), ErrCorrupt},
		{"count too large", reseal(trieVersion, 1, 0, 1, 'a', 0x80, 0x80, 0x80, 0x80, 0x10, 0), ErrCorrupt},
		{"trailing", reseal(trieVersion, 1, 0, 1, 'a', 1, 0, 0), ErrCorrupt},
	}
	for _, tt := range tests {
		back := NewTrie()
		back.Insert("keep", 1)
		if err := back.UnmarshalBinary(tt.data); !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
		if back.Len() != 1 {
			t.Errorf("%s: a failed decode changed the trie", tt.name)
		}
	}
	ok := reseal(trieVersion, 2, 0, 1, 'a', 1, 0, 1, 1, 'b', 2, 3)
	back := NewTrie()
	if err := back.UnmarshalBinary(ok); err != nil || back.Len() != 2 {
		t.Fatalf("hand-made encoding: %v, Len %d", err, back.Len())
	}
	if e, _ := back.Get("ab"); e.Count != 2 || e.Tags != 3 {
		t.Errorf("hand-made encoding: %+v", e)
	}
}

func TestTrieCompact(t *testing.T) {
	all := testNames(15, 3000)
	tr := NewTrie()
	for i, s := range all {
		tr.Insert(s, uint64(i))
	}
	before := tr.entries()
	queries := fuzzyQueries(all, 50, 1)
	var fuzzy [][]Entry
	for _, q := range queries {
		fuzzy = append(fuzzy, tr.Fuzzy(q, 2, 0))
	}
	tr.r.compact()
	if !slices.Equal(tr.entries(), before) || tr.Len() != len(all) {
		t.Fatalf("compaction changed the entries")
	}
	for i, q := range queries {
		if got := tr.Fuzzy(q, 2, 0); !slices.Equal(got, fuzzy[i]) {
			t.Fatalf("compaction changed Fuzzy(%q)", q)
		}
	}
	// Children are adjacent after a compaction.
	r := &tr.r
	for i := range r.nodes {
		for ch := r.nodes[i].child; ch != 0 && r.nodes[ch].next != 0; ch = r.nodes[ch].next {
			if r.nodes[ch].next != ch+1 {
				t.Fatalf("node %d: sibling %d follows %d", i, r.nodes[ch].next, ch)
			}
		}
	}
	if cap(r.nodes) != len(r.nodes) || cap(r.labels) != len(r.labels) {
		t.Errorf("compaction left spare capacity")
	}
	for _, s := range testNames(16, 500) {
		tr.Insert(s, 1)
	}
	if e, ok := tr.Get(all[0]); !ok || e.Tags != 0 {
		t.Errorf("insert after compaction: %+v, %v", e, ok)
	}
}

func TestTrieConcurrentReaders(t *testing.T) {
	all := testNames(14, 4000)
	tr := NewTrie()
	for _, s := range all[:2000] {
		tr.Insert(s, 1)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 300 {
				s := all[rng.IntN(2000)]
				if got := tr.Prefix(s, 1); len(got) == 0 || got[0].Name != s {
					t.Errorf("Prefix(%q) lost an inserted name", s)
					return
				}
				if got := tr.Fuzzy(typo(rng, s, 1), 1, 0); len(got) == 0 {
					t.Errorf("Fuzzy lost a name")
					return
				}
			}
		}()
	}
	for _, s := range all[2000:] {
		tr.Insert(s, 2)
	}
	wg.Wait()
	if tr.Len() != len(all) {
		t.Fatalf("Len = %d, want %d", tr.Len(), len(all))
	}
}
