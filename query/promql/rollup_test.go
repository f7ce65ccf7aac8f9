package promql

import (
	"errors"
	"testing"
	"time"

	promstorage "github.com/prometheus/prometheus/storage"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

func TestChooseResolution(t *testing.T) {
	const h, m = tsdb.Res1h, tsdb.Res5m
	lookback := 5 * time.Minute
	day := int64(86_400_000) * 20_000 // an aligned evaluation start
	// hints as the engine makes them for a range query from start to end.
	matrix := func(start, end, step, rng int64, fn string) *promstorage.SelectHints {
		return &promstorage.SelectHints{Start: start - rng + 1, End: end, Step: step, Range: rng, Func: fn}
	}
	instant := func(start, end, step int64, fn string) *promstorage.SelectHints {
		return &promstorage.SelectHints{Start: start - lookback.Milliseconds() + 1, End: end, Step: step, Func: fn}
	}
	tests := []struct {
		name   string
		hints  *promstorage.SelectHints
		maxRes time.Duration
		want   starlingpb.Resolution
	}{
		{"rate at 1h step over 1h", matrix(day, day+24*h, h, h, "rate"), -1, starlingpb.Resolution_RESOLUTION_1H},
		{"rate at 1h step over 5m", matrix(day, day+24*h, h, 5*60_000, "rate"), -1, starlingpb.Resolution_RESOLUTION_5M},
		{"rate at 5m step over 1h", matrix(day, day+24*h, m, h, "rate"), -1, starlingpb.Resolution_RESOLUTION_5M},
		{"rate at 1m step", matrix(day, day+h, 60_000, h, "rate"), -1, starlingpb.Resolution_RESOLUTION_RAW},
		{"unaligned start", matrix(day+60_000, day+60_000+24*h, h, h, "rate"), -1, starlingpb.Resolution_RESOLUTION_RAW},
		{"unaligned end", matrix(day, day+24*h+1, h, h, "rate"), -1, starlingpb.Resolution_RESOLUTION_RAW},
		{"range not whole buckets", matrix(day, day+24*h, h, 90*60_000, "max_over_time"), -1, starlingpb.Resolution_RESOLUTION_5M},
		{"avg_over_time reads raw", matrix(day, day+24*h, h, h, "avg_over_time"), -1, starlingpb.Resolution_RESOLUTION_RAW},
		{"count_over_time reads raw", matrix(day, day+24*h, h, h, "count_over_time"), -1, starlingpb.Resolution_RESOLUTION_RAW},
		{"irate reads raw", matrix(day, day+24*h, h, h, "irate"), -1, starlingpb.Resolution_RESOLUTION_RAW},
		{"instant selector in sum", instant(day, day+24*h, h, "sum"), -1, starlingpb.Resolution_RESOLUTION_1H},
		{"instant query reads raw", instant(day, day, 0, ""), -1, starlingpb.Resolution_RESOLUTION_RAW},
		{"max resolution 5m", matrix(day, day+24*h, h, h, "rate"), 5 * time.Minute, starlingpb.Resolution_RESOLUTION_5M},
		{"max resolution 0s", matrix(day, day+24*h, h, h, "rate"), 0, starlingpb.Resolution_RESOLUTION_RAW},
		{"series hint reads labels", &promstorage.SelectHints{Start: day, End: day + h, Step: h, Func: "series"}, -1, starlingpb.Resolution_RESOLUTION_RAW},
		{"before the epoch", matrix(-48*h, -24*h, h, h, "rate"), -1, starlingpb.Resolution_RESOLUTION_1H},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := chooseResolution(tt.hints, lookback, tt.maxRes); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseMaxResolution(t *testing.T) {
	for in, want := range map[string]time.Duration{"": -1, "auto": -1, "raw": 0, "0s": 0, "5m": 5 * time.Minute, "1h": time.Hour} {
		if got, err := ParseMaxResolution(in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"-5m", "soon", "5"} {
		if _, err := ParseMaxResolution(in); !errors.Is(err, ErrBadResolution) {
			t.Errorf("%q: %v, want ErrBadResolution", in, err)
		}
	}
}

// TestSynthesizeCounter: the samples of a rolled up counter give rate's
// own sums: last - first plus the values before resets.
func TestSynthesizeCounter(t *testing.T) {
	raw := []tsdb.Sample{{T: 1000, V: 10}, {T: 2000, V: 12}, {T: 3000, V: 2}, {T: 4000, V: 5}, {T: 301_000, V: 7}, {T: 302_000, V: 1}, {T: 600_000, V: 3}}
	got := synthesize(tsdb.AppendRollup(nil, raw, tsdb.Res5m), synthCounter)
	// PromQL's increase before extrapolation over both: last - first + drops.
	sum := func(s []tsdb.Sample) float64 {
		r := s[len(s)-1].V - s[0].V
		for i := 1; i < len(s); i++ {
			if s[i].V < s[i-1].V {
				r += s[i-1].V
			}
		}
		return r
	}
	if a, b := sum(got), sum(raw); a != b {
		t.Errorf("synthesized increase %v, raw %v (samples %v)", a, b, got)
	}
	if got[0] != raw[0] || got[len(got)-1] != raw[len(raw)-1] {
		t.Errorf("first and last samples %v and %v, want the raw ones", got[0], got[len(got)-1])
	}
}
