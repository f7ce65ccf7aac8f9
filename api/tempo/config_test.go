package tempo

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigIsTempos(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	want := []struct {
		name      string
		got, want any
	}{
		{"DefaultLimit", c.DefaultLimit, 20},
		{"MaxLimit", c.MaxLimit, 262144},
		{"DefaultSpansPerSpanSet", c.DefaultSpansPerSpanSet, 3},
		{"MaxSpansPerSpanSet", c.MaxSpansPerSpanSet, 100},
		{"MaxSearchDuration", c.MaxSearchDuration, 168 * time.Hour},
		{"MaxQueryBytes", c.MaxQueryBytes, 131072},
		{"MaxTagBytes", c.MaxTagBytes, 1_000_000},
		{"MetricsMaxDuration", c.MetricsMaxDuration, 24 * time.Hour},
		{"MetricsMaxIntervals", c.MetricsMaxIntervals, 10000},
		{"MetricsMaxExemplars", c.MetricsMaxExemplars, 100},
		{"QueryEndCutoff", c.QueryEndCutoff, 30 * time.Second},
		{"LeftPadTraceIDs", c.LeftPadTraceIDs, false},
		{"BuildInfo.Version", c.BuildInfo.Version, CompatibleVersion},
	}
	for _, w := range want {
		if w.got != w.want {
			t.Errorf("%s = %v, want %v", w.name, w.got, w.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"default limit", func(c *Config) { c.DefaultLimit = 0 }, "default limit 0 must be at least 1"},
		{"max limit below default", func(c *Config) { c.MaxLimit = 5 }, "max limit 5 must be 0 (none) or at least the default limit 20"},
		{"max limit negative", func(c *Config) { c.MaxLimit = -1 }, "max limit -1"},
		{"default spss", func(c *Config) { c.DefaultSpansPerSpanSet = 0 }, "default spans per span set 0"},
		{"max spss", func(c *Config) { c.MaxSpansPerSpanSet = 2 }, "max spans per span set 2"},
		{"search duration", func(c *Config) { c.MaxSearchDuration = -time.Second }, "max search duration -1s"},
		{"recent range", func(c *Config) { c.RecentRange = 0 }, "recent range 0s must be positive"},
		{"query bytes", func(c *Config) { c.MaxQueryBytes = -1 }, "max query bytes -1"},
		{"tag bytes", func(c *Config) { c.MaxTagBytes = -1 }, "max tag bytes -1"},
		{"metrics duration", func(c *Config) { c.MetricsMaxDuration = -1 }, "metrics max duration -1ns"},
		{"metrics intervals", func(c *Config) { c.MetricsMaxIntervals = -1 }, "metrics max intervals -1"},
		{"metrics exemplars", func(c *Config) { c.MetricsMaxExemplars = -1 }, "metrics max exemplars -1"},
		{"cutoff", func(c *Config) { c.QueryEndCutoff = -1 }, "query end cutoff -1ns"},
		{"version", func(c *Config) { c.BuildInfo.Version = "" }, "build info version must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig with %q", err, tt.want)
			}
			if _, nerr := New(c, &fakeQuerier{}, nil); !errors.Is(nerr, ErrInvalidConfig) {
				t.Fatalf("New() = %v, want ErrInvalidConfig", nerr)
			}
		})
	}
}

func TestConfigValidateJoinsErrors(t *testing.T) {
	c := DefaultConfig()
	c.DefaultLimit, c.RecentRange = 0, 0
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "default limit") || !strings.Contains(err.Error(), "recent range") {
		t.Fatalf("Validate() = %v, want both errors", err)
	}
}

func TestNewNeedsQuerier(t *testing.T) {
	if _, err := New(DefaultConfig(), nil, nil); !errors.Is(err, ErrMissingQuerier) {
		t.Fatalf("New(nil querier) = %v, want ErrMissingQuerier", err)
	}
}

func TestStatusErrorHelpers(t *testing.T) {
	base := errors.New(`invalid TraceQL query: parse error at line 1, col 3: syntax error: unexpected IDENTIFIER`)
	bq := BadQuery(base)
	if !errors.Is(bq, ErrBadQuery) || !errors.Is(bq, base) || bq.Error() != base.Error() {
		t.Fatalf("BadQuery: %v (is bad %v, is base %v)", bq, errors.Is(bq, ErrBadQuery), errors.Is(bq, base))
	}
	nf := NotFound(base)
	if !errors.Is(nf, ErrNotFound) || errors.Is(nf, ErrBadQuery) || nf.Error() != base.Error() {
		t.Fatalf("NotFound: %v", nf)
	}
	if BadQuery(nil) != nil || NotFound(nil) != nil {
		t.Fatal("helpers of nil must be nil")
	}
}
