// Package cluster owns gossip membership (memberlist), the consistent-hash
// ring built from the live members, and the desired placement of partitions.
// It knows nothing about Badger, actors or Raft.
package cluster
