package cluster

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/starling-otel/starling/proto/starlingpb"
)

// randMembers returns n members with random, distinct IDs, spread round
// robin over zones zones ("" for all when zones is 0).
func randMembers(rng *rand.Rand, n, zones int) []Member {
	ms := make([]Member, 0, n)
	seen := make(map[string]bool, n)
	for len(ms) < n {
		id := fmt.Sprintf("node-%x", rng.Uint64()>>uint(rng.IntN(40)))
		if seen[id] {
			continue
		}
		seen[id] = true
		m := Member{ID: id, Region: "r1"}
		if zones > 0 {
			m.Zone = fmt.Sprintf("z%d", len(ms)%zones)
		}
		ms = append(ms, m)
	}
	return ms
}

func shuffled(rng *rand.Rand, ms []Member) []Member {
	c := slices.Clone(ms)
	rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c
}

func zoneOf(ms []Member) map[string]string {
	z := make(map[string]string, len(ms))
	for _, m := range ms {
		z[m.ID] = m.Region + "/" + m.Zone
	}
	return z
}

func TestRingDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 30 {
		n := 1 + rng.IntN(12)
		ms := randMembers(rng, n, rng.IntN(5))
		ref := NewRing(ms, 16+rng.IntN(64))
		tokens := len(ref.tokens) / n
		rings := []*Ring{NewRing(shuffled(rng, ms), tokens), NewRing(shuffled(rng, ms), tokens)}
		keys := make([]uint64, 1000)
		for i := range keys {
			keys[i] = rng.Uint64()
		}
		keys[0], keys[1] = 0, ^uint64(0)
		keys[2] = ref.tokens[0]
		keys[3] = ref.tokens[len(ref.tokens)-1]
		for _, key := range keys {
			for want := 1; want <= 4; want++ {
				got := ref.Owners(key, want)
				if len(got) != min(want, n) {
					t.Fatalf("trial %d: Owners(%#x, %d) = %v: len %d, want %d", trial, key, want, got, len(got), min(want, n))
				}
				if c := slices.Compact(slices.Sorted(slices.Values(got))); len(c) != len(got) {
					t.Fatalf("trial %d: Owners(%#x, %d) = %v: not distinct", trial, key, want, got)
				}
				for i, r := range rings {
					if o := r.Owners(key, want); !slices.Equal(o, got) {
						t.Fatalf("trial %d: shuffled ring %d: Owners(%#x, %d) = %v, want %v", trial, i, key, want, o, got)
					}
				}
				// Owners for fewer is a prefix of owners for more only
				// without zones, so check the primary alone.
				if got[0] != ref.Owners(key, 1)[0] {
					t.Fatalf("trial %d: primary of Owners(%#x, %d) = %s, want %s", trial, key, want, got[0], ref.Owners(key, 1)[0])
				}
			}
		}
	}
}

func TestRingZoneSpread(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, zones := range []int{1, 2, 3, 4, 5} {
		for _, n := range []int{zones, zones + 1, 2 * zones, 7 * zones} {
			ms := randMembers(rng, n, zones)
			z := zoneOf(ms)
			r := NewRing(ms, DefaultTokens)
			for range 500 {
				key := rng.Uint64()
				for want := 1; want <= zones+2; want++ {
					got := r.Owners(key, want)
					distinct := map[string]bool{}
					for _, id := range got {
						distinct[z[id]] = true
					}
					if wantZones := min(want, zones); len(distinct) != wantZones {
						t.Fatalf("zones %d, n %d: Owners(%#x, %d) = %v in %d zones, want %d", zones, n, key, want, got, len(distinct), wantZones)
					}
				}
			}
		}
	}
}

func TestRingOwnersTable(t *testing.T) {
	ms := []Member{{ID: "a", Zone: "z1"}, {ID: "b", Zone: "z1"}, {ID: "c", Zone: "z2"}}
	r := NewRing(ms, 4)
	tests := []struct {
		name string
		r    *Ring
		key  uint64
		n    int
		want int
	}{
		{"empty ring", NewRing(nil, 4), 1, 3, 0},
		{"n zero", r, 1, 0, 0},
		{"n negative", r, 1, -1, 0},
		{"n one", r, 1, 1, 1},
		{"n above members", r, 1, 10, 3},
		{"key max wraps", r, ^uint64(0), 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.Owners(tt.key, tt.n)
			if len(got) != tt.want {
				t.Fatalf("Owners(%#x, %d) = %v, want %d owners", tt.key, tt.n, got, tt.want)
			}
			if tt.want >= 2 && got[0] != "c" && got[1] != "c" {
				t.Fatalf("Owners(%#x, %d) = %v: zone z2 (c) not among the first two", tt.key, tt.n, got)
			}
		})
	}
}

// TestRingWalk checks Owners against a direct reading of the rule: walk
// one lap, take members of new zones, then fill in walk order.
func TestRingWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		ms := randMembers(rng, 2+rng.IntN(10), rng.IntN(4))
		z := zoneOf(ms)
		r := NewRing(ms, 8)
		for range 200 {
			key := rng.Uint64()
			var walk []string // distinct members in walk order
			for i := range r.tokens {
				j := (r.search(key) + i) % len(r.tokens)
				if id := r.members[r.owner[j]].ID; !slices.Contains(walk, id) {
					walk = append(walk, id)
				}
			}
			if j := r.search(key); key > r.tokens[len(r.tokens)-1] && j != 0 ||
				key <= r.tokens[len(r.tokens)-1] && (r.tokens[j] < key || j > 0 && r.tokens[j-1] >= key) {
				t.Fatalf("search(%#x) = %d, not the first token ≥ key (wrapping)", key, j)
			}
			for n := 1; n <= len(ms)+1; n++ {
				var want []string
				used := map[string]bool{}
				for _, id := range walk {
					if len(want) < n && !used[z[id]] {
						want = append(want, id)
						used[z[id]] = true
					}
				}
				for _, id := range walk {
					if len(want) < n && !slices.Contains(want, id) {
						want = append(want, id)
					}
				}
				if got := r.Owners(key, n); !slices.Equal(got, want) {
					t.Fatalf("Owners(%#x, %d) = %v, want %v", key, n, got, want)
				}
			}
		}
	}
}

func TestRingMembers(t *testing.T) {
	ms := []Member{{ID: "c", Zone: "z1"}, {ID: "a"}, {ID: "b"}, {ID: "c", Zone: "z2"}}
	r := NewRing(ms, 0)
	want := []Member{{ID: "a"}, {ID: "b"}, {ID: "c", Zone: "z1"}}
	if got := r.Members(); !slices.Equal(got, want) {
		t.Fatalf("Members() = %v, want %v (sorted, first duplicate kept)", got, want)
	}
	if r.Len() != 3 || len(r.tokens) != 3*DefaultTokens {
		t.Fatalf("Len() = %d, tokens %d; want 3, %d", r.Len(), len(r.tokens), 3*DefaultTokens)
	}
	r.Members()[0].ID = "x"
	if r.Members()[0].ID != "a" {
		t.Fatal("Members() shares the ring's slice")
	}
}

// TestRingTokens rebuilds the tokens from their definition: token i of a
// member is xxhash64(ID, 0, i big-endian), sorted, ties by ID.
func TestRingTokens(t *testing.T) {
	ms := []Member{{ID: "b"}, {ID: "node-1"}, {ID: "a"}}
	r := NewRing(ms, 5)
	type tok struct {
		v  uint64
		id string
	}
	var want []tok
	for _, m := range ms {
		for i := range 5 {
			b := append([]byte(m.ID), 0, 0, 0, 0, byte(i))
			want = append(want, tok{xxhash.Sum64(b), m.ID})
		}
	}
	slices.SortFunc(want, func(a, b tok) int {
		if a.v != b.v {
			return cmp.Compare(a.v, b.v)
		}
		return strings.Compare(a.id, b.id)
	})
	for j, w := range want {
		if r.tokens[j] != w.v || r.members[r.owner[j]].ID != w.id {
			t.Fatalf("token %d = %#x of %s, want %#x of %s", j, r.tokens[j], r.members[r.owner[j]].ID, w.v, w.id)
		}
	}
}

// TestPartitionKeyStable pins PartitionKey: these values must never change.
func TestPartitionKeyStable(t *testing.T) {
	tests := []struct {
		sig  starlingpb.Signal
		id   uint32
		want uint64
	}{
		{starlingpb.Signal_SIGNAL_TRACES, 0, 0xf3e5687af1878726},
		{starlingpb.Signal_SIGNAL_LOGS, 1, 0x8a157378f99aa841},
		{starlingpb.Signal_SIGNAL_METRICS, 255, 0x731f5dcbd46e682e},
	}
	for _, tt := range tests {
		if got := PartitionKey(tt.sig, tt.id); got != tt.want {
			t.Errorf("PartitionKey(%v, %d) = %#x, want %#x", tt.sig, tt.id, got, tt.want)
		}
		b := []byte{byte(tt.sig), byte(tt.id >> 24), byte(tt.id >> 16), byte(tt.id >> 8), byte(tt.id)}
		if got := xxhash.Sum64(b); got != tt.want {
			t.Errorf("xxhash64(%x) = %#x, want %#x", b, got, tt.want)
		}
	}
}

func BenchmarkOwners(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	r := NewRing(randMembers(rng, 50, 3), DefaultTokens)
	keys := make([]uint64, 1024)
	for i := range keys {
		keys[i] = rng.Uint64()
	}
	dst := make([]string, 0, 3)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst = r.AppendOwners(dst[:0], keys[i&1023], 3)
		i++
	}
}
