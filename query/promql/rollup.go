package promql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	promstorage "github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// Rollups. A selector reads the coarsest rollup whose buckets answer it
// exactly the way its function will use the samples, and raw samples
// otherwise. The engine evaluates at times t and over ranges (t-r, t]; a
// tier of resolution res answers when every evaluation time is a multiple
// of res (the step is one, and the query is aligned to it) and the range
// is whole buckets. An instant query, having no step, reads raw samples. The buckets then become samples at their real times:
//
//   - an instant selector (any function over it, no range): each bucket's
//     last sample, and a trailing staleness marker — the engine's lookback
//     finds the same latest sample as in raw data, whatever the lookback;
//   - min_over_time, max_over_time, sum_over_time: one sample per bucket
//     holding its min, max or sum;
//   - last_over_time, present_over_time, absent_over_time: the last sample;
//   - rate, increase: each bucket's first and last sample and, where the
//     counter was reset inside the bucket, a drop from the bucket's reset
//     sum to zero between them, so that rate counts the raw increase and
//     the raw first value (its zero-point clamp); the extrapolation to
//     the range edges differs from raw only where a series starts or ends
//     inside the range;
//   - delta: each bucket's first and last sample.
//
// Every other function (count_over_time, avg_over_time, quantiles, irate,
// deriv, changes, resets, …) reads raw samples, as does a native histogram
// series.

// synth is how a selector's buckets become samples.
type synth uint8

const (
	synthRaw synth = iota // raw samples: no rollup answers
	synthLast
	synthMin
	synthMax
	synthSum
	synthCounter
	synthFirstLast
)

// synthOf returns how buckets answer a selector with the hints given.
func synthOf(h *promstorage.SelectHints) synth {
	if h.Range == 0 {
		return synthLast
	}
	switch h.Func {
	case "min_over_time":
		return synthMin
	case "max_over_time":
		return synthMax
	case "sum_over_time":
		return synthSum
	case "last_over_time", "present_over_time", "absent_over_time":
		return synthLast
	case "rate", "increase":
		return synthCounter
	case "delta":
		return synthFirstLast
	}
	return synthRaw
}

// resolutions are the rollup tiers, coarsest first.
var resolutions = []struct {
	res  int64
	tier starlingpb.Resolution
	name string
}{
	{tsdb.Res1h, starlingpb.Resolution_RESOLUTION_1H, "1h"},
	{tsdb.Res5m, starlingpb.Resolution_RESOLUTION_5M, "5m"},
}

// chooseResolution returns the coarsest tier answering the selector of
// hints at no coarser than maxRes (0: raw only, negative: any), and its
// name; RAW when none does. lookback is the engine's lookback delta,
// which moved an instant selector's hinted start.
func chooseResolution(h *promstorage.SelectHints, lookback, maxRes time.Duration) (starlingpb.Resolution, string) {
	if h == nil || h.Func == "series" || synthOf(h) == synthRaw {
		return starlingpb.Resolution_RESOLUTION_RAW, "raw"
	}
	evalStart := h.Start + h.Range - 1 // the first evaluation time, offsets taken
	if h.Range == 0 {
		evalStart = h.Start + lookback.Milliseconds() - 1
	}
	for _, r := range resolutions {
		if maxRes >= 0 && r.res > maxRes.Milliseconds() {
			continue
		}
		if h.Step > 0 && h.Step%r.res == 0 && h.Range%r.res == 0 && mod(evalStart, r.res) == 0 && mod(h.End, r.res) == 0 {
			return r.tier, r.name
		}
	}
	return starlingpb.Resolution_RESOLUTION_RAW, "raw"
}

func mod(t, d int64) int64 {
	m := t % d
	if m < 0 {
		m += d
	}
	return m
}

// synthesize turns buckets into the samples that answer synth s.
func synthesize(bs []tsdb.Bucket, s synth) []tsdb.Sample {
	out := make([]tsdb.Sample, 0, 2*len(bs))
	for _, b := range bs {
		if b.Count == 0 {
			if s == synthLast && b.Stale != tsdb.NoStale {
				out = append(out, tsdb.Sample{T: b.Stale, V: math.Float64frombits(tsdb.StaleNaN)})
			}
			continue
		}
		switch s {
		case synthLast:
			out = append(out, tsdb.Sample{T: b.LastT, V: b.Last})
			if b.Stale != tsdb.NoStale {
				out = append(out, tsdb.Sample{T: b.Stale, V: math.Float64frombits(tsdb.StaleNaN)})
			}
		case synthMin:
			out = append(out, tsdb.Sample{T: b.LastT, V: b.Min})
		case synthMax:
			out = append(out, tsdb.Sample{T: b.LastT, V: b.Max})
		case synthSum:
			out = append(out, tsdb.Sample{T: b.LastT, V: b.Sum})
		case synthFirstLast:
			out = append(out, tsdb.Sample{T: b.FirstT, V: b.First})
			if b.LastT > b.FirstT {
				out = append(out, tsdb.Sample{T: b.LastT, V: b.Last})
			}
		case synthCounter:
			out = append(out, tsdb.Sample{T: b.FirstT, V: b.First})
			if b.ResetSum > 0 && b.LastT-b.FirstT >= 3 {
				// A drop from the reset sum to zero: rate adds it back.
				out = append(out, tsdb.Sample{T: b.FirstT + 1, V: b.ResetSum}, tsdb.Sample{T: b.FirstT + 2, V: 0})
			}
			if b.LastT > b.FirstT {
				out = append(out, tsdb.Sample{T: b.LastT, V: b.Last})
			}
		}
	}
	return out
}

// Context values of a query: the coarsest resolution it may read, and
// its own lookback delta.
type (
	maxResolutionKey struct{}
	lookbackKey      struct{}
)

// WithLookback returns ctx for queries run with lookback delta d instead
// of the engine's default (a request's lookback_delta).
func WithLookback(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, lookbackKey{}, d)
}

func lookback(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Value(lookbackKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	return def
}

// WithMaxResolution returns ctx with the coarsest resolution the queries
// run with it may read: 0 for raw samples only, 5m, 1h; negative (the
// default) lets each selector pick.
func WithMaxResolution(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, maxResolutionKey{}, d)
}

func maxResolution(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(maxResolutionKey{}).(time.Duration); ok {
		return d
	}
	return -1
}

// ErrBadResolution is returned by ParseMaxResolution.
var ErrBadResolution = errors.New("max_source_resolution must be auto, 0s (raw), 5m or 1h")

// ParseMaxResolution parses the max_source_resolution parameter the way
// Thanos names it: "auto" (or empty) lets each selector pick, "0s" or
// "raw" reads raw samples, a duration reads no coarser tier than it.
func ParseMaxResolution(s string) (time.Duration, error) {
	switch s {
	case "", "auto":
		return -1, nil
	case "raw":
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w, got %q", ErrBadResolution, s)
	}
	return d, nil
}

// resolutionInfo is the info annotation of a selector read from a rollup.
func resolutionInfo(name string) annotations.Annotations {
	return annotations.New().Add(fmt.Errorf("%w: read the %s rollup (max_source_resolution=0s reads raw samples)", annotations.PromQLInfo, name))
}
