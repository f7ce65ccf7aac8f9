package raftmeta

import (
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// StaticTable is the partition table of a single node: every partition of
// every signal has the node as its only replica and primary, at epoch 1. It
// never changes.
type StaticTable struct {
	rows    []*starlingpb.Partition
	changed chan struct{}
}

// NewStaticTable places partitions partitions of each signal on nodeID.
func NewStaticTable(nodeID string, partitions int, signals []starlingpb.Signal) *StaticTable {
	t := &StaticTable{changed: make(chan struct{})}
	now := time.Now().UnixNano()
	for _, sig := range signals {
		for id := 0; id < partitions; id++ {
			t.rows = append(t.rows, &starlingpb.Partition{
				Signal: sig, Id: uint32(id), Epoch: 1,
				Primary: nodeID, Replicas: []string{nodeID}, InSync: []string{nodeID},
				State: starlingpb.PartitionState_PARTITION_STATE_ACTIVE, UpdatedAtUnixNano: now,
			})
		}
	}
	return t
}

// Partitions returns every row; callers must not modify them.
func (t *StaticTable) Partitions() []*starlingpb.Partition { return t.rows }

// Changed returns a channel that is never closed: the table never changes.
func (t *StaticTable) Changed() <-chan struct{} { return t.changed }
