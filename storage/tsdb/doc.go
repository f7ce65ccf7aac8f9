// Package tsdb owns Starling's time-series model and the logic that turns
// written samples into compressed chunks: the sample and series types every
// metrics writer produces (remote write, OTLP after translation), series
// identity and validation, the write-through record a partition batch
// carries, the in-memory head of a partition copy (open 2 h blocks), block
// flushes into chunks, and rollups.
//
// It must not know about Badger, keys, windows, actors or the network:
// package storage keeps the key layout and the databases and hands this
// package bytes; the partition actor owns a Head and decides when to flush.
// Chunk encodings live in storage/tsdb/chunk.
package tsdb
