// Package storage owns the on-disk data of one node: the time-windowed Badger
// databases, the key layout inside them, the encodings of spans, log records
// and metric points, the search indexes written in the same batch as the data,
// the group committer, retention, and the read paths over one partition.
//
// It must not know about actors, the network, Raft or the HTTP API: callers
// hand it framed entries (built here, by Builder) and ask it to read one
// partition. Everything that crosses a node boundary is expressed in the
// storage format defined here and versioned by EntryFormat.
//
// Layout: one Badger database per signal per time window
// (<data>/<signal>/<window start>/). Every key starts with the 2-byte
// partition id and a kind byte, so one partition is one key range per window.
// See keys.go for every kind.
package storage
