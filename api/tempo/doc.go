// Package tempo owns Starling's copy of Grafana Tempo's query HTTP API,
// the one Grafana's Tempo data source and tempo-cli call: echo, build
// info, search (TraceQL and the legacy tag search), trace by ID (v1 and
// v2), tag names and tag values (v1 and v2), and TraceQL metrics (range
// and instant). The node mounts it under a prefix (/tempo/api/search).
//
// It owns what a client sees: the paths, the parameters with their
// parsing, defaults and limits, the JSON shapes (those gogo jsonpb writes
// for pkg/tempopb: camelCase names, 64-bit integers as strings, zero
// fields left out, base64 span IDs and enum names in traces), the
// protobuf of trace by ID, and the status codes and plain-text error
// bodies. Each behaviour follows Tempo's code (pkg/api/http.go, the
// frontend's handlers, sharders and combiners in modules/frontend); Tempo
// is AGPL, so nothing of it is imported or copied, only reproduced. The
// legacy tag search, which Tempo's blocks still answer directly, is turned
// into the TraceQL query that selects the same traces.
//
// It must not know actors, Raft, partitions, how storage lays out traces,
// or how TraceQL is evaluated: every read goes through the Querier the
// node implements, with TraceQL text, time ranges and limits in, and
// matches, traces, names, values and series out.
package tempo
