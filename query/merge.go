package query

import (
	"bytes"
	"slices"
	"sort"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// TopTraceHits merges the trace hits of many partitions: newest first, each
// trace once (at its newest hit), at most limit.
func TopTraceHits(chunks []*starlingpb.ResultChunk, limit int) []*starlingpb.TraceHit {
	var all []*starlingpb.TraceHit
	for _, c := range chunks {
		if c != nil {
			all = append(all, c.TraceHits...)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].TimeUnixNano != all[j].TimeUnixNano {
			return all[i].TimeUnixNano > all[j].TimeUnixNano
		}
		return bytes.Compare(all[i].TraceId, all[j].TraceId) < 0
	})
	seen := make(map[string]struct{}, len(all))
	out := all[:0]
	for _, h := range all {
		if len(out) == limit {
			break
		}
		if _, dup := seen[string(h.TraceId)]; dup {
			continue
		}
		seen[string(h.TraceId)] = struct{}{}
		out = append(out, h)
	}
	return out
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
