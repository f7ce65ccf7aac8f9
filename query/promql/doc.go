// Package promql is Starling's side of PromQL: a Prometheus
// storage.Queryable (and ExemplarQueryable) over the cluster's metrics
// partitions, so that the Prometheus engine evaluates every query exactly
// as Prometheus does while the selectors are pushed down to the
// partitions (matchers, time range, resolution) and only matching series'
// chunks come back.
//
// It owns turning selectors into partition reads and chunks into the
// engine's series iterators, and splitting a query that aggregates by
// labels into parts the engine evaluates at once (shard.go); it must not
// know actors, Raft or Badger: the node hands it a Reader (the query
// coordinator's front).
package promql
