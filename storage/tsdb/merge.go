package tsdb

import "slices"

// MergeSamples merges two lists of samples into one sorted list with one
// sample per time: for equal times, b's sample wins (b is the newer write).
// Neither input needs to be sorted; the result may alias a.
func MergeSamples(a, b []Sample) []Sample {
	return mergeByTime(a, b, func(s Sample) int64 { return s.T })
}

// MergeHistograms is MergeSamples for histogram samples.
func MergeHistograms(a, b []HistogramSample) []HistogramSample {
	return mergeByTime(a, b, func(s HistogramSample) int64 { return s.T })
}

func mergeByTime[S any](a, b []S, t func(S) int64) []S {
	if len(b) == 0 && slices.IsSortedFunc(a, func(x, y S) int { return cmpInt(t(x), t(y)) }) {
		return dedupLast(a, t)
	}
	out := append(a, b...)
	slices.SortStableFunc(out, func(x, y S) int { return cmpInt(t(x), t(y)) })
	return dedupLast(out, t)
}

// dedupLast keeps the last of sorted entries with equal times.
func dedupLast[S any](s []S, t func(S) int64) []S {
	out := s[:0]
	for i, x := range s {
		if i+1 < len(s) && t(s[i+1]) == t(x) {
			continue
		}
		out = append(out, x)
	}
	return out
}
