// Package raftmeta owns the cluster's metadata: the settings fixed at
// creation, the nodes, and the partition table (which node is primary and
// replica of every partition, at which epoch). It is the state machine of a
// Raft group (hashicorp/raft, raft-wal, file snapshots) that forms itself
// from gossip: bootstrap, voter management and the first assignment run
// here. Every node reads the table locally and is notified of changes;
// changes are proposed on the leader.
//
// It must not know about actors, storage or the APIs: it publishes rows of
// proto/starlingpb and notifies watchers of changes.
package raftmeta
