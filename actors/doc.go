// Package actors holds Starling's protoactor-go actors and the small
// services around them: the frontend pool that turns an OTLP request into one
// write per partition, the partition actors that own a partition's reads and
// writes on this node, the partition manager that keeps them in line with the
// partition table, and the query coordinator that fans a read out to
// partitions and gathers their answers.
//
// It assembles storage (the store and its encodings) with the partition
// table (an interface: static on one node, the Raft FSM in a cluster). It
// must not know about OTLP transports or the HTTP API; node does.
//
// Messages between actors that may cross nodes are the protobufs of
// proto/starlingpb; messages that never leave the node (an ingest request
// holding decoded pdata, internal timers) are plain Go types in messages.go.
package actors
