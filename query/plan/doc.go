// Package plan turns parsed queries into the reads the partitions run:
// which conditions go down to the partitions' postings (predicate
// pushdown), which partitions can hold an answer at all (partition
// pruning), and what the executor evaluates on whole records.
//
// It must not do I/O, talk to actors or know the storage key layout; it
// speaks the read requests of proto/starlingpb, which storage answers.
package plan
