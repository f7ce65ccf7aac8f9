package jaeger

import (
	"errors"
	"fmt"
	"time"
)

// Errors of New and Config.Validate.
var (
	// ErrInvalidConfig wraps every error of Config.Validate.
	ErrInvalidConfig = errors.New("jaeger api: invalid config")
	// ErrMissingQuerier is returned by New when the Querier is nil.
	ErrMissingQuerier = errors.New("jaeger api: missing querier")
)

// Config of the API. DefaultConfig works as it is.
type Config struct {
	// DefaultLimit is how many traces a search returns when the request has
	// no limit (or limit=0). Jaeger's defaultQueryLimit (query_parser.go)
	// is 100. The Jaeger UI always sends its own limit, 20 by default.
	DefaultLimit int

	// MaxLimit caps a request's limit (a larger one is cut to it) and the
	// number of traceID parameters of one request (more is a 400). The
	// default is the Jaeger UI's search.maxLimit, 1500: the largest limit
	// its search form accepts.
	MaxLimit int

	// DefaultLookback is how far back from end a search looks when the
	// request has no start. Jaeger's defaultTraceQueryLookbackDuration
	// (default_params.go) is 2 days, which is also the Jaeger UI's default
	// search.maxLookback.
	DefaultLookback time.Duration

	// DefaultDependenciesLookback is the lookback of /api/dependencies when
	// the request has none. Jaeger's defaultDependencyLookbackDuration
	// (default_params.go) is 24 hours.
	DefaultDependenciesLookback time.Duration
}

// DefaultConfig returns Jaeger's defaults.
func DefaultConfig() Config {
	return Config{
		DefaultLimit:                100,
		MaxLimit:                    1500,
		DefaultLookback:             48 * time.Hour,
		DefaultDependenciesLookback: 24 * time.Hour,
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
	if c.MaxLimit < 1 {
		bad("max limit %d must be at least 1", c.MaxLimit)
	} else if c.DefaultLimit > c.MaxLimit {
		bad("default limit %d must not exceed max limit %d", c.DefaultLimit, c.MaxLimit)
	}
	if c.DefaultLookback <= 0 {
		bad("default lookback %s must be positive", c.DefaultLookback)
	}
	if c.DefaultDependenciesLookback <= 0 {
		bad("default dependencies lookback %s must be positive", c.DefaultDependenciesLookback)
	}
	return errors.Join(errs...)
}
