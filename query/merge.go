package query

import (
	"bytes"
	"container/heap"
	"slices"
	"sort"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// TopTraceHits merges the trace hits of many partitions: newest first, each
// trace once (at its newest hit), at most limit. Each partition's hits come
// in storage order (time descending, then trace id ascending), so a k-way
// merge reads only about limit of them.
func TopTraceHits(chunks []*starlingpb.ResultChunk, limit int) []*starlingpb.TraceHit {
	h := make(hitHeap, 0, len(chunks))
	for _, c := range chunks {
		if c != nil && len(c.TraceHits) > 0 {
			h = append(h, c.TraceHits)
		}
	}
	heap.Init(&h)
	seen := make(map[string]struct{}, limit)
	var out []*starlingpb.TraceHit
	for len(h) > 0 && len(out) < limit {
		hit := h[0][0]
		if h[0] = h[0][1:]; len(h[0]) == 0 {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
		if _, dup := seen[string(hit.TraceId)]; dup {
			continue
		}
		seen[string(hit.TraceId)] = struct{}{}
		out = append(out, hit)
	}
	return out
}

// hitHeap orders partitions' remaining hits by their newest hit.
type hitHeap [][]*starlingpb.TraceHit

func (h hitHeap) Len() int { return len(h) }
func (h hitHeap) Less(i, j int) bool {
	a, b := h[i][0], h[j][0]
	if a.TimeUnixNano != b.TimeUnixNano {
		return a.TimeUnixNano > b.TimeUnixNano
	}
	return bytes.Compare(a.TraceId, b.TraceId) < 0
}
func (h hitHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)   { *h = append(*h, x.([]*starlingpb.TraceHit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Newest keeps the limit items with the largest time, newest first; ties
// keep their input order.
func Newest[T any](items []T, time func(T) int64, limit int) []T {
	sort.SliceStable(items, func(i, j int) bool { return time(items[i]) > time(items[j]) })
	if len(items) > limit {
		items = items[:limit]
	}
	return items
}

// UnionNames merges the names of many partitions, sorted, each once.
func UnionNames(chunks []*starlingpb.ResultChunk) []string {
	var out []string
	for _, c := range chunks {
		if c != nil {
			out = append(out, c.Names...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
