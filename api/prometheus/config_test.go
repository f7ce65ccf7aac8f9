package prometheus

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.QueryTimeout = 0 }, "query timeout 0s must be positive"},
		{func(c *Config) { c.LookbackDelta = -time.Second }, "lookback delta -1s must be positive"},
		{func(c *Config) { c.MaxSamples = 0 }, "max samples 0 must be positive"},
		{func(c *Config) { c.MaxPointsPerSeries = -1 }, "max points per series -1 must be positive"},
		{func(c *Config) { c.SubqueryStep = time.Microsecond }, "subquery step 1µs must be at least 1ms"},
		{func(c *Config) { c.DefaultLimit = -1 }, "default limit -1 must not be negative"},
		{func(c *Config) { c.CORSOrigin = "(" }, `cors origin "(": error parsing regexp`},
		{func(c *Config) { c.BuildInfo.Version = "" }, "build info version must be set"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate() = %v, want %q", err, c.want)
		}
		if _, err := New(cfg, Deps{}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New with a bad config: %v", err)
		}
	}
	// Each bad field has its own error.
	cfg := DefaultConfig()
	cfg.QueryTimeout, cfg.MaxSamples = 0, 0
	if err := cfg.Validate(); strings.Count(err.Error(), ErrInvalidConfig.Error()) != 2 {
		t.Errorf("two bad fields: %v", err)
	}
}

func TestNewMissingDependencies(t *testing.T) {
	cfg := DefaultConfig()
	engine := promql.NewEngine(cfg.EngineOpts())
	if _, err := New(cfg, Deps{Queryable: nil, Engine: engine}); !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "Queryable") {
		t.Errorf("no Queryable: %v", err)
	}
	if _, err := New(cfg, Deps{}); !errors.Is(err, ErrMissingDependency) || !strings.Contains(err.Error(), "Engine") {
		t.Errorf("no Engine: %v", err)
	}
}

func TestEngineOpts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SubqueryStep = 30 * time.Second
	o := cfg.EngineOpts()
	if o.Timeout != 2*time.Minute || o.LookbackDelta != 5*time.Minute || o.MaxSamples != 50_000_000 ||
		!o.EnableAtModifier || !o.EnableNegativeOffset || !o.EnablePerStepStats || o.NoStepSubqueryIntervalFn(3600_000) != 30_000 {
		t.Errorf("EngineOpts = %+v", o)
	}
}
