// Package jaeger owns Starling's Jaeger query API: the HTTP JSON API that the
// Jaeger UI and Grafana's Jaeger data source call (GET /api/services,
// /api/services/{service}/operations, /api/operations, /api/traces,
// /api/traces/{traceID} and /api/dependencies), which the node mounts under
// /jaeger on its API port. The package owns that API's paths, parameters,
// defaults, JSON shapes, status codes and error texts, and the translation
// of OTLP spans (ptrace.Traces) into Jaeger's UI model.
//
// The behaviour follows Jaeger's query service (Apache-2.0) v2.20.0, the last
// release that serves the whole API (upstream removed the search endpoints
// after it, in favour of api_v3): the handlers of http_handler.go and the
// parameter parsing of query_parser.go (cmd/query/app/, since moved to
// cmd/jaeger/internal/extension/jaegerquery/internal/), the defaults of
// default_params.go, the JSON model of internal/uimodel/model.go (formerly
// model/json/model.go) as internal/uimodel/converter/v1/json/from_domain.go
// fills it, and the OTLP translation of the collector-contrib
// pkg/translator/jaeger/traces_to_jaegerproto.go.
// None of those packages is imported: the JSON structs and the translation
// are written here. Each file names the upstream file it follows, and the
// few places where this package deliberately differs say so.
//
// The package reads through one small interface, Querier, that the node
// implements. It must not know actors, Raft, partitions or how Starling
// stores spans: it sees whole ptrace.Traces and plain Go values only.
package jaeger
