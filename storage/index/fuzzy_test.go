package index

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestTrieFuzzyTable(t *testing.T) {
	tr := NewTrie()
	for _, s := range []string{
		"checkout-service", "checkout", "checkouts", "chekout", "cart-service",
		"http.request.method", "http.response.status_code", "k8s.pod.name", "k8s.node.name",
		"db", "", "a", "ab", "GET /api/v1/users/{id}", "Checkout",
	} {
		tr.Insert(s, 0)
	}
	type match struct {
		name string
		dist int
	}
	tests := []struct {
		q     string
		k     int
		fold  bool
		limit int
		want  []match
	}{
		{"checkout", 0, false, 0, []match{{"checkout", 0}}},
		{"checkout", 1, false, 0, []match{{"checkout", 0}, {"Checkout", 1}, {"checkouts", 1}, {"chekout", 1}}},
		{"chekcuot", 1, false, 0, nil},
		{"chekcuot", 2, false, 0, []match{{"checkout", 2}, {"chekout", 2}}}, // two transpositions; a deletion and one
		{"chekcout", 1, false, 0, []match{{"checkout", 1}, {"chekout", 1}}}, // a transposition, a deletion
		{"chekcout", 2, false, 0, []match{{"checkout", 1}, {"chekout", 1}, {"Checkout", 2}, {"checkouts", 2}}},
		{"chekcout", 2, false, 3, []match{{"checkout", 1}, {"chekout", 1}, {"Checkout", 2}}},
		{"CHECKOUT", 0, true, 0, []match{{"Checkout", 0}, {"checkout", 0}}},
		{"k8s.pod.nmae", 2, false, 0, []match{{"k8s.pod.name", 1}}},
		{"k8s.pdo.nmae", 2, false, 0, []match{{"k8s.pod.name", 2}}},
		{"k8s.xxx.name", 2, false, 0, nil},
		{"http.request.methd", 1, false, 0, []match{{"http.request.method", 1}}},
		{"GET /api/v1/user/{id}", 2, false, 0, []match{{"GET /api/v1/users/{id}", 1}}},
		{"", 1, false, 0, []match{{"", 0}, {"a", 1}}},
		{"b", 1, false, 0, []match{{"", 1}, {"a", 1}, {"ab", 1}, {"db", 1}}},
		{"db", 5, false, 0, []match{{"db", 0}, {"ab", 1}, {"", 2}, {"a", 2}}}, // clamped to 2
		{"db", -1, false, 0, nil},
	}
	for _, tt := range tests {
		var got []Entry
		if tt.fold {
			got = tr.FuzzyFold(tt.q, tt.k, tt.limit)
		} else {
			got = tr.Fuzzy(tt.q, tt.k, tt.limit)
		}
		var gm []match
		for _, e := range got {
			gm = append(gm, match{e.Name, e.Dist})
		}
		if !slices.Equal(gm, tt.want) {
			t.Errorf("Fuzzy(%q, %d, fold %v, %d) = %v, want %v", tt.q, tt.k, tt.fold, tt.limit, gm, tt.want)
		}
	}
}

// TestTrieFuzzyBruteForce compares Fuzzy with the distance computed against
// every name: the same names, distances and order.
func TestTrieFuzzyBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 21))
	all := testNames(22, 2000)
	tr := NewTrie()
	for i, s := range all {
		if i%5 == 0 {
			s = strings.ToUpper(s[:len(s)/2]) + s[len(s)/2:]
			all[i] = s
		}
		tr.Insert(s, uint64(i))
	}
	var queries []string
	for i := range 200 {
		s := all[rng.IntN(len(all))]
		switch i % 5 {
		case 0, 1, 2: // typos of a name
			queries = append(queries, typo(rng, s, i%4))
		case 3: // a prefix with a typo
			queries = append(queries, typo(rng, s[:rng.IntN(len(s)+1)], 1))
		default: // short random strings, which reach many names
			queries = append(queries, typo(rng, "", 1+rng.IntN(3)))
		}
	}
	total := 0
	dists := make([]int, len(all))
	for _, q := range queries {
		for _, fold := range []bool{false, true} {
			for i, s := range all {
				dists[i] = osa(s, q, fold)
			}
			for k := range 3 {
				var want []Entry
				for i, s := range all {
					if d := dists[i]; d <= k {
						e, _ := tr.Get(s)
						e.Dist = d
						want = append(want, e)
					}
				}
				slices.SortFunc(want, func(a, b Entry) int {
					if c := cmp.Compare(a.Dist, b.Dist); c != 0 {
						return c
					}
					return strings.Compare(a.Name, b.Name)
				})
				var got []Entry
				if fold {
					got = tr.FuzzyFold(q, k, 0)
				} else {
					got = tr.Fuzzy(q, k, 0)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("Fuzzy(%q, %d, fold %v): %d matches %q…, brute force %d %q…",
						q, k, fold, len(got), head(names(got)), len(want), head(names(want)))
				}
				total += len(got)
			}
		}
	}
	t.Logf("%d queries × distances 0–2, case-sensitive and folded: %d matches, all equal to brute force", len(queries), total)
}
