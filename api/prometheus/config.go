package prometheus

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/grafana/regexp"
	"github.com/prometheus/prometheus/promql"
)

// CompatibleVersion is the Prometheus release whose HTTP API this package
// reproduces (the github.com/prometheus/prometheus module v0.316.0 in
// go.mod). It is the default BuildInfo.Version, because clients gate
// features on that field: Grafana, for one, uses the label and series
// endpoints with match[] only for versions it knows to support them.
const CompatibleVersion = "3.16.0"

// Config of the API. DefaultConfig works as it is.
type Config struct {
	// QueryTimeout bounds one query's evaluation. It is the deadline put on
	// every /query and /query_range request (a request's timeout parameter
	// may only shorten it, as the Prometheus docs say), the engine's Timeout
	// in EngineOpts, and query.timeout in /status/flags. Prometheus' default
	// (--query.timeout) is 2m.
	QueryTimeout time.Duration

	// LookbackDelta is how far back an instant selector looks for the last
	// sample of a series (the staleness window). It goes into EngineOpts and
	// /status/flags; a request's lookback_delta overrides it for that query.
	// Prometheus' default (--query.lookback-delta) is 5m.
	LookbackDelta time.Duration

	// MaxSamples is how many samples one query may hold in memory at once
	// before the engine fails it with an execution error (422). It goes into
	// EngineOpts and /status/flags. Prometheus' default
	// (--query.max-samples) is 50,000,000, about 800 MB of floats.
	MaxSamples int

	// MaxPointsPerSeries bounds (end-start)/step of a range query, which is
	// refused with 400 beyond it. Prometheus hard-codes 11,000: a week at
	// one-minute resolution or a year at one hour.
	MaxPointsPerSeries int

	// SubqueryStep is the step of a subquery written without one
	// (`x[30m:]`). Prometheus takes its global evaluation_interval, 1m by
	// default. It goes into EngineOpts and /status/config.
	SubqueryStep time.Duration

	// DefaultLimit caps /series, /labels and /label/{name}/values when the
	// request has no limit parameter; the answer is then cut with the
	// warning "results truncated due to limit". 0 means no cap, which is
	// Prometheus' behaviour. A request's own limit, including limit=0 (no
	// limit), always wins: the cap protects against careless clients, not
	// against hostile ones.
	DefaultLimit int

	// CORSOrigin is a regular expression, anchored at both ends, of the
	// Origin headers that get CORS headers back. Prometheus'
	// --web.cors.origin defaults to ".*". Grafana calls the API from its
	// backend and needs none.
	CORSOrigin string

	// QueryParts is how many parts, evaluated at once, a range query is
	// split into when it splits exactly (Deps.Parts); 1 runs every query
	// whole. The default is the number of usable CPUs, at most 8. Each part
	// is a query of the engine: MaxSamples bounds each, not their sum.
	QueryParts int

	// BuildInfo is what /status/buildinfo returns; see BuildInfo.
	BuildInfo BuildInfo
}

// BuildInfo is the answer of /api/v1/status/buildinfo, with Prometheus'
// field names. Version should stay a Prometheus version (CompatibleVersion)
// because clients compare it with the Prometheus release that brought a
// feature; Starling's own version belongs in Revision.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// DefaultConfig returns Prometheus' defaults.
func DefaultConfig() Config {
	return Config{
		QueryTimeout:       2 * time.Minute,
		LookbackDelta:      5 * time.Minute,
		MaxSamples:         50_000_000,
		MaxPointsPerSeries: 11_000,
		SubqueryStep:       time.Minute,
		DefaultLimit:       0,
		CORSOrigin:         ".*",
		QueryParts:         min(runtime.GOMAXPROCS(0), 8),
		BuildInfo: BuildInfo{
			Version:   CompatibleVersion,
			Revision:  "starling",
			Branch:    "unknown",
			BuildUser: "unknown",
			BuildDate: "unknown",
			GoVersion: runtime.Version(),
		},
	}
}

// Validate returns one error per bad field, joined, each wrapping
// ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	if c.QueryTimeout <= 0 {
		bad("query timeout %s must be positive", c.QueryTimeout)
	}
	if c.LookbackDelta <= 0 {
		bad("lookback delta %s must be positive", c.LookbackDelta)
	}
	if c.MaxSamples <= 0 {
		bad("max samples %d must be positive", c.MaxSamples)
	}
	if c.MaxPointsPerSeries <= 0 {
		bad("max points per series %d must be positive", c.MaxPointsPerSeries)
	}
	if c.SubqueryStep < time.Millisecond {
		bad("subquery step %s must be at least 1ms", c.SubqueryStep)
	}
	if c.DefaultLimit < 0 {
		bad("default limit %d must not be negative", c.DefaultLimit)
	}
	if c.QueryParts < 1 {
		bad("query parts %d must be at least 1", c.QueryParts)
	}
	if _, err := compileCORS(c.CORSOrigin); err != nil {
		bad("cors origin %q: %v", c.CORSOrigin, err)
	}
	if c.BuildInfo.Version == "" {
		bad("build info version must be set (clients parse it)")
	}
	return errors.Join(errs...)
}

// EngineOpts returns the options of a promql.Engine that agrees with this
// configuration: its timeout, lookback delta, sample limit and subquery
// step, with the @ modifier and negative offsets on (always on since
// Prometheus 2.33) and per-step statistics allowed (stats=all). The caller
// adds Logger, Reg, ActiveQueryTracker and Parser and calls promql.NewEngine.
func (c Config) EngineOpts() promql.EngineOpts {
	step := c.SubqueryStep.Milliseconds()
	return promql.EngineOpts{
		MaxSamples:               c.MaxSamples,
		Timeout:                  c.QueryTimeout,
		LookbackDelta:            c.LookbackDelta,
		NoStepSubqueryIntervalFn: func(int64) int64 { return step },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		EnablePerStepStats:       true,
	}
}

// compileCORS anchors the expression as Prometheus does for
// --web.cors.origin.
func compileCORS(s string) (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + s + ")$")
}
