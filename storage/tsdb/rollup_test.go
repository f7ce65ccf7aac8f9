package tsdb

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// counterSamples returns n samples every 15 s from t0 of a counter with
// resets, staleness markers and a NaN.
func counterSamples(r *rand.Rand, t0 int64, n int) []Sample {
	var out []Sample
	v := 0.0
	for i := range n {
		switch {
		case i%97 == 96:
			v = 0 // reset
		case i%131 == 130:
			out = append(out, Sample{T: t0 + int64(i)*15000, V: math.Float64frombits(StaleNaN)})
			continue
		}
		v += float64(r.IntN(10))
		out = append(out, Sample{T: t0 + int64(i)*15000, V: v})
	}
	return out
}

func TestRollupOfSplitEqualsWhole(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	samples := counterSamples(r, 7_200_000, 2000) // from a block start: partial first bucket
	for _, res := range []int64{Res5m, Res1h} {
		whole := AppendRollup(nil, samples, res)
		// Cut at block edges (2 h) as flushes do, and merge.
		var lists [][]Bucket
		for start := 0; start < len(samples); {
			end := start
			block := samples[start].T / 7_200_000
			for end < len(samples) && samples[end].T/7_200_000 == block {
				end++
			}
			lists = append(lists, AppendRollup(nil, samples[start:end], res))
			start = end
		}
		merged := MergeBuckets(lists...)
		if len(merged) != len(whole) {
			t.Fatalf("res %d: %d merged buckets, %d whole", res, len(merged), len(whole))
		}
		for i := range whole {
			if !sameBucket(merged[i], whole[i]) {
				t.Fatalf("res %d bucket %d: merged %+v, whole %+v", res, i, merged[i], whole[i])
			}
		}
	}
}

func TestRollupBucket(t *testing.T) {
	stale := math.Float64frombits(StaleNaN)
	tests := []struct {
		name    string
		samples []Sample
		want    []Bucket
	}{
		{"edges belong to the bucket ending there",
			[]Sample{{0, 1}, {1, 2}, {Res5m, 3}, {Res5m + 1, 4}},
			[]Bucket{
				{End: 0, Count: 1, FirstT: 0, LastT: 0, First: 1, Last: 1, Min: 1, Max: 1, Sum: 1, Stale: NoStale},
				{End: Res5m, Count: 2, FirstT: 1, LastT: Res5m, First: 2, Last: 3, Min: 2, Max: 3, Sum: 5, ResetSum: 0, Stale: NoStale},
				{End: 2 * Res5m, Count: 1, FirstT: Res5m + 1, LastT: Res5m + 1, First: 4, Last: 4, Min: 4, Max: 4, Sum: 4, Stale: NoStale},
			}},
		{"a reset counts from zero",
			[]Sample{{1, 10}, {2, 15}, {3, 4}, {4, 6}},
			[]Bucket{{End: Res5m, Count: 4, FirstT: 1, LastT: 4, First: 10, Last: 6, Min: 4, Max: 15, Sum: 35, ResetSum: 15, Stale: NoStale}}},
		{"a trailing staleness marker ends the bucket",
			[]Sample{{1, 10}, {2, stale}},
			[]Bucket{{End: Res5m, Count: 1, FirstT: 1, LastT: 1, First: 10, Last: 10, Min: 10, Max: 10, Sum: 10, Stale: 2}}},
		{"a marker followed by samples does not",
			[]Sample{{1, 10}, {2, stale}, {3, 11}},
			[]Bucket{{End: Res5m, Count: 2, FirstT: 1, LastT: 3, First: 10, Last: 11, Min: 10, Max: 11, Sum: 21, ResetSum: 0, Stale: NoStale}}},
		{"only a marker",
			[]Sample{{7, stale}},
			[]Bucket{{End: Res5m, Stale: 7}}},
		{"negative times",
			[]Sample{{-Res5m - 1, 1}, {-1, 2}},
			[]Bucket{
				{End: -Res5m, Count: 1, FirstT: -Res5m - 1, LastT: -Res5m - 1, First: 1, Last: 1, Min: 1, Max: 1, Sum: 1, Stale: NoStale},
				{End: 0, Count: 1, FirstT: -1, LastT: -1, First: 2, Last: 2, Min: 2, Max: 2, Sum: 2, Stale: NoStale},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendRollup(nil, tt.samples, Res5m)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if !sameBucket(got[i], tt.want[i]) {
					t.Fatalf("bucket %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			dec, err := DecodeRollup(nil, AppendRollupValue(nil, got, Res5m), Res5m)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if !sameBucket(dec[i], got[i]) {
					t.Fatalf("decoded bucket %d: %+v, want %+v", i, dec[i], got[i])
				}
			}
		})
	}
}

func TestRollupValueRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, res := range []int64{Res5m, Res1h} {
		bs := AppendRollup(nil, counterSamples(r, -3_600_000, 5000), res)
		v := AppendRollupValue(nil, bs, res)
		got, err := DecodeRollup(nil, v, res)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(bs) {
			t.Fatalf("%d buckets back of %d", len(got), len(bs))
		}
		for i := range bs {
			if !sameBucket(got[i], bs[i]) {
				t.Fatalf("bucket %d: %+v, want %+v", i, got[i], bs[i])
			}
		}
		t.Logf("res %d: %d buckets in %d bytes", res, len(bs), len(v))
		// Every truncation is an error, never a panic.
		for n := range len(v) {
			if _, err := DecodeRollup(nil, v[:n], res); !errors.Is(err, ErrCorruptRollup) {
				t.Fatalf("truncated to %d: %v", n, err)
			}
		}
	}
}

func sameBucket(a, b Bucket) bool {
	same := func(x, y float64) bool {
		return math.Float64bits(x) == math.Float64bits(y) || math.Abs(x-y) <= 1e-9*math.Abs(y)
	}
	return a.End == b.End && a.Count == b.Count && a.Stale == b.Stale &&
		(a.Count == 0 || a.FirstT == b.FirstT && a.LastT == b.LastT && same(a.First, b.First) && same(a.Last, b.Last) &&
			same(a.Min, b.Min) && same(a.Max, b.Max) && same(a.Sum, b.Sum) && same(a.ResetSum, b.ResetSum))
}

func FuzzDecodeRollup(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	f.Add(AppendRollupValue(nil, AppendRollup(nil, counterSamples(r, 0, 300), Res5m), Res5m))
	f.Add(AppendRollupValue(nil, AppendRollup(nil, []Sample{{1, math.Float64frombits(StaleNaN)}}, Res5m), Res5m))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		bs, err := DecodeRollup(nil, v, Res5m)
		if err != nil {
			if !errors.Is(err, ErrCorruptRollup) || len(bs) != 0 {
				t.Fatalf("error %v with %d buckets", err, len(bs))
			}
			return
		}
		for i, b := range bs {
			if b.End%Res5m != 0 || i > 0 && b.End <= bs[i-1].End || b.Count > 0 && (b.FirstT <= b.End-Res5m || b.LastT > b.End || b.LastT < b.FirstT) {
				t.Fatalf("bucket %d out of shape: %+v", i, b)
			}
		}
		// What decodes re-encodes to a value that decodes the same.
		again, err := DecodeRollup(nil, AppendRollupValue(nil, bs, Res5m), Res5m)
		if err != nil || len(again) != len(bs) {
			t.Fatalf("re-encoded: %v (%d of %d buckets)", err, len(again), len(bs))
		}
	})
}
