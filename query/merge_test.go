package query

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/starling-otel/starling/proto/starlingpb"
)

func hit(id byte, t int64) *starlingpb.TraceHit {
	return &starlingpb.TraceHit{TraceId: []byte{id}, TimeUnixNano: t}
}

func TestTopTraceHits(t *testing.T) {
	cases := []struct {
		name   string
		chunks [][]*starlingpb.TraceHit
		limit  int
		want   string
	}{
		{"empty", nil, 5, "[]"},
		{"one partition", [][]*starlingpb.TraceHit{{hit(1, 30), hit(2, 20)}}, 5, "[1@30 2@20]"},
		{"interleaved", [][]*starlingpb.TraceHit{{hit(1, 30), hit(3, 10)}, {hit(2, 20), hit(4, 5)}}, 3, "[1@30 2@20 3@10]"},
		{"duplicate trace keeps newest", [][]*starlingpb.TraceHit{{hit(1, 30)}, {hit(1, 40), hit(2, 1)}}, 5, "[1@40 2@1]"},
		{"tie broken by id", [][]*starlingpb.TraceHit{{hit(2, 10)}, {hit(1, 10)}}, 5, "[1@10 2@10]"},
		{"limit", [][]*starlingpb.TraceHit{{hit(1, 3), hit(2, 2), hit(3, 1)}}, 2, "[1@3 2@2]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var chunks []*starlingpb.ResultChunk
			for _, hs := range tc.chunks {
				chunks = append(chunks, &starlingpb.ResultChunk{TraceHits: hs})
			}
			chunks = append(chunks, nil) // a partition that answered nothing
			if got := render(TopTraceHits(chunks, tc.limit)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestTopTraceHitsMatchesSort checks the merge against sorting everything.
func TestTopTraceHitsMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		var chunks []*starlingpb.ResultChunk
		var all []*starlingpb.TraceHit
		for p := 0; p < 1+rng.IntN(20); p++ {
			var hs []*starlingpb.TraceHit
			for i := 0; i < rng.IntN(30); i++ {
				h := hit(byte(rng.IntN(256)), rng.Int64N(1000))
				hs = append(hs, h)
			}
			sort.Slice(hs, func(i, j int) bool { // storage order
				if hs[i].TimeUnixNano != hs[j].TimeUnixNano {
					return hs[i].TimeUnixNano > hs[j].TimeUnixNano
				}
				return hs[i].TraceId[0] < hs[j].TraceId[0]
			})
			all = append(all, hs...)
			chunks = append(chunks, &starlingpb.ResultChunk{TraceHits: hs})
		}
		limit := 1 + rng.IntN(40)
		sort.SliceStable(all, func(i, j int) bool {
			if all[i].TimeUnixNano != all[j].TimeUnixNano {
				return all[i].TimeUnixNano > all[j].TimeUnixNano
			}
			return all[i].TraceId[0] < all[j].TraceId[0]
		})
		var want []*starlingpb.TraceHit
		seen := map[byte]bool{}
		for _, h := range all {
			if len(want) < limit && !seen[h.TraceId[0]] {
				seen[h.TraceId[0]] = true
				want = append(want, h)
			}
		}
		if got := render(TopTraceHits(chunks, limit)); got != render(want) {
			t.Fatalf("round %d: got %s, want %s", round, got, render(want))
		}
	}
}

func render(hs []*starlingpb.TraceHit) string {
	out := "["
	for i, h := range hs {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%d@%d", h.TraceId[0], h.TimeUnixNano)
	}
	return out + "]"
}
