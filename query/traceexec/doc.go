// Package traceexec runs TraceQL on one partition's traces and merges the
// partitions' answers: the executor half of the trace query engine.
//
// A partition actor hands it the partition's traces through the small
// Store interface (candidates newest first, each readable whole) and a
// TraceQLSearch of the plan; it answers trace hits, trace matches or a
// metrics partial in a ResultChunk. The coordinator side turns the
// partitions' chunks into one answer. It owns the conversion of stored
// spans into the evaluator's model (traceql.Trace).
//
// It must not know actors, the network or the storage key layout: storage
// is reached only through Store and storage's exported decoders.
package traceexec
