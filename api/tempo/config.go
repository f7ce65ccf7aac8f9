package tempo

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// CompatibleVersion is the Tempo release reported by /api/status/buildinfo
// by default. Grafana's Tempo data source gates features on that version;
// the last 2.x release is claimed because the HTTP API here is Tempo's
// (main branch, 3.1.0-dev at the time of writing) minus the 3.x-only
// additions Starling does not serve (the trace-by-id q filter, span
// pruning and the gRPC streaming querier).
const CompatibleVersion = "2.10.8"

// Config of the API. DefaultConfig holds Tempo's defaults.
type Config struct {
	// DefaultLimit is the number of traces a search answers without a
	// limit parameter (query_frontend.search.default_result_limit, 20).
	DefaultLimit int
	// MaxLimit is the largest limit a search may ask; beyond it the answer
	// is 400 "limit N exceeds max limit M"
	// (query_frontend.search.max_result_limit, 262144). 0: no maximum.
	MaxLimit int

	// DefaultSpansPerSpanSet is the spss of a search without one, and of
	// spss=0 (query_frontend.search.default_spans_per_span_set, and the
	// engine's DefaultSpansPerSpanSet: 3).
	DefaultSpansPerSpanSet int
	// MaxSpansPerSpanSet is the largest spss a search may ask; beyond it
	// the answer is 400 (query_frontend.search.max_spans_per_span_set,
	// 100). 0: no maximum.
	MaxSpansPerSpanSet int

	// MaxSearchDuration bounds end-start of searches, tag names and tag
	// values (query_frontend.search.max_duration, 168h). 0: no bound.
	MaxSearchDuration time.Duration
	// RecentRange is what a search or tag lookup without start and end
	// reads: the last RecentRange up to now. Tempo then reads only its live
	// store, which keeps about complete_block_timeout (20m) of data.
	RecentRange time.Duration

	// MaxQueryBytes bounds the size of every q and query parameter
	// (query_frontend.max_query_expression_size_bytes, 128 KiB). 0: no
	// bound.
	MaxQueryBytes int
	// MaxTagBytes bounds the total size of the names or values a tag
	// lookup answers; collection stops before the value that would reach
	// it (overrides max_bytes_per_tag_values_query, 1,000,000). 0: no bound.
	MaxTagBytes int

	// MetricsMaxDuration bounds end-start of metrics queries
	// (query_frontend.metrics.max_duration, 24h). 0: no bound.
	MetricsMaxDuration time.Duration
	// MetricsMaxIntervals bounds (end-start)/step of metrics range queries
	// (query_frontend.metrics.max_intervals, 10000). 0: no bound.
	MetricsMaxIntervals int
	// MetricsMaxExemplars is the exemplar limit of a query without an
	// exemplars parameter (or with exemplars=0) and the cap of one with it
	// (query_frontend.metrics.max_exemplars, 100).
	MetricsMaxExemplars int
	// QueryEndCutoff pulls the end of metrics queries back to now minus
	// this, so that the last, still filling, interval is not answered
	// (query_frontend.query_end_cutoff, 30s). 0 still pulls a future end
	// back to now, as Tempo does.
	QueryEndCutoff time.Duration

	// LeftPadTraceIDs writes search results' trace IDs as 32 hex digits;
	// Tempo trims their leading zeros unless the tenant's
	// left_pad_trace_ids override is set (default false).
	LeftPadTraceIDs bool

	// BuildInfo is what /api/status/buildinfo answers.
	BuildInfo BuildInfo
}

// BuildInfo is the answer of /api/status/buildinfo: Tempo answers
// Prometheus' version struct (cmd/tempo/build). Version should stay a
// Tempo version (clients compare it); Starling's own belongs in Revision.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// DefaultConfig returns Tempo's defaults (modules/frontend/config.go and
// modules/overrides/config.go).
func DefaultConfig() Config {
	return Config{
		DefaultLimit:           20,
		MaxLimit:               256 * 1024,
		DefaultSpansPerSpanSet: 3,
		MaxSpansPerSpanSet:     100,
		MaxSearchDuration:      168 * time.Hour,
		RecentRange:            20 * time.Minute,
		MaxQueryBytes:          128 * 1024,
		MaxTagBytes:            1_000_000,
		MetricsMaxDuration:     24 * time.Hour,
		MetricsMaxIntervals:    10_000,
		MetricsMaxExemplars:    100,
		QueryEndCutoff:         30 * time.Second,
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
	if c.DefaultLimit < 1 {
		bad("default limit %d must be at least 1", c.DefaultLimit)
	}
	if c.MaxLimit < 0 || (c.MaxLimit > 0 && c.MaxLimit < c.DefaultLimit) {
		bad("max limit %d must be 0 (none) or at least the default limit %d", c.MaxLimit, c.DefaultLimit)
	}
	if c.DefaultSpansPerSpanSet < 1 {
		bad("default spans per span set %d must be at least 1", c.DefaultSpansPerSpanSet)
	}
	if c.MaxSpansPerSpanSet < 0 || (c.MaxSpansPerSpanSet > 0 && c.MaxSpansPerSpanSet < c.DefaultSpansPerSpanSet) {
		bad("max spans per span set %d must be 0 (none) or at least the default %d", c.MaxSpansPerSpanSet, c.DefaultSpansPerSpanSet)
	}
	if c.MaxSearchDuration < 0 {
		bad("max search duration %s must not be negative", c.MaxSearchDuration)
	}
	if c.RecentRange <= 0 {
		bad("recent range %s must be positive", c.RecentRange)
	}
	if c.MaxQueryBytes < 0 {
		bad("max query bytes %d must not be negative", c.MaxQueryBytes)
	}
	if c.MaxTagBytes < 0 {
		bad("max tag bytes %d must not be negative", c.MaxTagBytes)
	}
	if c.MetricsMaxDuration < 0 {
		bad("metrics max duration %s must not be negative", c.MetricsMaxDuration)
	}
	if c.MetricsMaxIntervals < 0 {
		bad("metrics max intervals %d must not be negative", c.MetricsMaxIntervals)
	}
	if c.MetricsMaxExemplars < 0 {
		bad("metrics max exemplars %d must not be negative", c.MetricsMaxExemplars)
	}
	if c.QueryEndCutoff < 0 {
		bad("query end cutoff %s must not be negative", c.QueryEndCutoff)
	}
	if c.BuildInfo.Version == "" {
		bad("build info version must be set (clients parse it)")
	}
	return errors.Join(errs...)
}
