// Package prometheus owns the query side of Starling's Prometheus HTTP API:
// the /api/v1 routes that Grafana's Prometheus data source, promtool and the
// Prometheus Go client call (instant and range queries, series, label names
// and values, metric metadata, exemplars, format_query, parse_query, the
// status pages), answered byte for byte as Prometheus 3 answers them: the
// same JSON envelope, the same result encoding (including native
// histograms), the same status codes, parameter parsing and error texts.
// The logic follows Prometheus' web/api/v1/api.go (Apache-2.0) closely; the
// package does not import that package, which would drag in scraping, rules
// and the notifier.
//
// It knows only the interfaces of its Deps: a promql.QueryEngine, a
// storage.Queryable and storage.ExemplarQueryable, a MetadataSource and a
// runtime-info function. It must not know actors, Raft, Badger or how
// Starling lays out its data; the node builds those behind the interfaces.
// Warnings the storage attaches to a SeriesSet or to a label lookup (for
// example, partitions that did not answer during a node kill) reach the
// response's "warnings" through the engine's annotations, as in Prometheus.
//
// Remote write (/api/v1/write) is not here: package
// api/prometheus/remotewrite owns it.
package prometheus
