package prometheus

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/common/model"
)

// /api/v1/status/*: build and runtime information, flags and config.
// Starling has no Prometheus flags or configuration file, so flags and
// config describe what the API and its engine actually do, in Prometheus'
// terms.

func (a *API) buildInfo(*http.Request) result {
	info := a.cfg.BuildInfo
	return result{data: &info}
}

func (a *API) runtimeInfo(*http.Request) result {
	if a.runtimeInfoFn == nil {
		info := ProcessRuntimeInfo(a.start)
		return result{data: info}
	}
	info, err := a.runtimeInfoFn()
	if err != nil {
		return result{data: info, err: &apiError{errorInternal, err}}
	}
	return result{data: info}
}

// flags answers the Prometheus flags Starling has an equivalent for.
func (a *API) flags(*http.Request) result {
	return result{data: map[string]string{
		"query.lookback-delta": model.Duration(a.cfg.LookbackDelta).String(),
		"query.max-samples":    strconv.Itoa(a.cfg.MaxSamples),
		"query.timeout":        model.Duration(a.cfg.QueryTimeout).String(),
		"web.cors.origin":      a.cfg.CORSOrigin,
	}}
}

// prometheusConfig is the data of /status/config.
type prometheusConfig struct {
	YAML string `json:"yaml"`
}

// config answers a minimal valid Prometheus configuration: the global
// section with Prometheus' default scrape interval and timeout and, as
// evaluation_interval, the step of subqueries written without one (which
// Prometheus takes from it). There are no scrape or rule configs.
func (a *API) config(*http.Request) result {
	return result{data: &prometheusConfig{YAML: fmt.Sprintf(
		"global:\n  scrape_interval: 1m\n  scrape_timeout: 10s\n  evaluation_interval: %s\n",
		model.Duration(a.cfg.SubqueryStep))}}
}
