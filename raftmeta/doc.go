// Package raftmeta owns the partition table: which node is primary and
// replica of every partition, at which epoch. In a cluster the table is the
// state machine of a Raft group (hashicorp/raft); on a single node it is the
// static table of static.go, which places every partition on the node.
//
// It must not know about actors, storage or the APIs: it publishes rows of
// proto/starlingpb and notifies watchers of changes.
package raftmeta
