package prometheus

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Errors of New and Config.Validate.
var (
	// ErrInvalidConfig wraps every error of Config.Validate.
	ErrInvalidConfig = errors.New("prometheus api: invalid config")
	// ErrMissingDependency is returned by New when a required field of
	// Deps is nil.
	ErrMissingDependency = errors.New("prometheus api: missing dependency")
)

// Deps are what the API reads from. Every method is called from the HTTP
// server's request goroutines, so calls overlap whenever requests do; each
// call carries the request's context, which is cancelled when the client
// goes away or the query deadline passes, and may block until then.
type Deps struct {
	// Engine builds the queries of /query and /query_range
	// (NewInstantQuery, NewRangeQuery). The API executes each query with
	// the request's context and closes it once the response is written.
	// Build it with promql.NewEngine(cfg.EngineOpts()) so that its limits
	// agree with the API's. Required.
	Engine promql.QueryEngine

	// Queryable is the storage the queries read, and what /series, /labels
	// and /label/{name}/values ask directly. A Querier is used by one
	// request goroutine and closed after the response is written. The
	// annotations a Querier returns (SeriesSet.Warnings, and those of
	// LabelNames and LabelValues) become the response's "warnings" and
	// "infos"; this is the path for "some partitions did not answer".
	// An error wrapped in promql.ErrStorage answers 500 "internal",
	// context.Canceled 499 "canceled", any other 422 "execution", as in
	// Prometheus (the engine turns its own deadline into 503 "timeout").
	// Required.
	Queryable storage.Queryable

	// Parts splits a range query into parts evaluated at once (see
	// QueryParts). Optional: nil runs every query whole.
	Parts QueryParts

	// Exemplars answers /query_exemplars. Optional: nil answers every
	// exemplar query with an empty list, as a Prometheus without exemplar
	// storage does.
	Exemplars storage.ExemplarQueryable

	// Metadata answers /metadata. Optional: nil answers an empty object,
	// as a Prometheus without targets does.
	Metadata MetadataSource

	// RuntimeInfo answers /status/runtimeinfo. Optional: nil answers
	// ProcessRuntimeInfo(the time New was called).
	RuntimeInfo func() (RuntimeInfo, error)

	// Parser parses format_query, parse_query, match[] and the exemplar
	// query. It should be the engine's parser (EngineOpts.Parser), so that
	// both accept the same language. Optional: nil is
	// parser.NewParser(parser.Options{}), the engine's own default.
	Parser parser.Parser

	// Logger receives the errors of writing responses. Optional: nil
	// discards them.
	Logger *slog.Logger
}

// QueryParts splits queries whose answer is exactly the union of the
// answers of the same query over disjoint sets of series.
type QueryParts interface {
	// Parts returns n queryables, one per part of a query of expr, or nil
	// when expr does not split so. The parts' queries run at once and
	// call their queryables from their own goroutines. Called from request
	// goroutines, possibly at the same time.
	Parts(expr parser.Expr, n int) []storage.Queryable
}

// MetadataQuery is the request of /api/v1/metadata.
type MetadataQuery struct {
	// Metric is one metric family name; empty means every family.
	Metric string
	// Limit is the most families the answer keeps; negative means all,
	// and 0 means none (Prometheus answers {} to limit=0). A hint: the
	// API applies it again.
	Limit int
	// LimitPerMetric is the most distinct entries kept per family; 0 or
	// negative means all. A hint: the API applies it again.
	LimitPerMetric int
}

// MetadataSource knows the type, help and unit of metric families.
type MetadataSource interface {
	// MetricMetadata returns metadata by metric family name. Called from
	// request goroutines, possibly at the same time; it may block until
	// ctx is done. The API deduplicates each family's entries, applies
	// the limits and keeps neither the map nor the slices after it
	// returns. An error answers 422 (503 or 499 when ctx ran out or was
	// cancelled).
	MetricMetadata(ctx context.Context, q MetadataQuery) (map[string][]metadata.Metadata, error)
}

// RuntimeInfo is the answer of /api/v1/status/runtimeinfo, with
// Prometheus' field names.
type RuntimeInfo struct {
	StartTime           time.Time `json:"startTime"`
	CWD                 string    `json:"CWD"`
	Hostname            string    `json:"hostname"`
	ServerTime          time.Time `json:"serverTime"`
	ReloadConfigSuccess bool      `json:"reloadConfigSuccess"`
	LastConfigTime      time.Time `json:"lastConfigTime"`
	CorruptionCount     int64     `json:"corruptionCount"`
	GoroutineCount      int       `json:"goroutineCount"`
	GOMAXPROCS          int       `json:"GOMAXPROCS"`
	GOMEMLIMIT          int64     `json:"GOMEMLIMIT"`
	GOGC                string    `json:"GOGC"`
	GODEBUG             string    `json:"GODEBUG"`
	StorageRetention    string    `json:"storageRetention"`
}

// ProcessRuntimeInfo fills what the process knows of itself: the working
// directory, host name, server time (UTC, as Prometheus reports it), Go
// runtime settings and goroutines, with start as both the start time and
// the last configuration time. A node's RuntimeInfo function starts from
// it and sets StorageRetention and CorruptionCount.
func ProcessRuntimeInfo(start time.Time) RuntimeInfo {
	cwd, err := os.Getwd()
	if err != nil {
		cwd = "<error retrieving current working directory>"
	}
	host, err := os.Hostname()
	if err != nil {
		host = "<error retrieving hostname>"
	}
	return RuntimeInfo{
		StartTime:           start,
		CWD:                 cwd,
		Hostname:            host,
		ServerTime:          time.Now().UTC(),
		ReloadConfigSuccess: true,
		LastConfigTime:      start,
		GoroutineCount:      runtime.NumGoroutine(),
		GOMAXPROCS:          runtime.GOMAXPROCS(0),
		GOMEMLIMIT:          debug.SetMemoryLimit(-1),
		GOGC:                os.Getenv("GOGC"),
		GODEBUG:             os.Getenv("GODEBUG"),
	}
}
