// Package query owns what a query is before it touches data: parsing and
// validating API parameters into the read requests of proto/starlingpb
// (errors name the parameter and the reason), and merging the partial
// answers of many partitions into one (newest first, limits, unions).
//
// It must not do I/O, talk to actors or know the storage key layout; the
// coordinator in actors runs the plans, storage reads one partition.
package query
