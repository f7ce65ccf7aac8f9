package actors

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// tracesBatch builds one partition's batch of traces(n), the way a
// frontend does.
func tracesBatch(t *testing.T, e *env) *storage.PartBatch {
	t.Helper()
	b, err := storage.NewBuilder(storage.BuilderConfig{Partitions: testParts, Window: e.store.Config().Window, MaxFuture: time.Hour}, storage.NewSeenCache(16), nil)
	if err != nil {
		t.Fatal(err)
	}
	td, _ := traces(5)
	res := b.Traces(td)
	if len(res.Batches) == 0 {
		t.Fatal("no batch built")
	}
	return &res.Batches[0]
}

func request(t *testing.T, e *env, id uint32, msg any) any {
	t.Helper()
	pid := actor.NewPID(e.system.Address(), PartitionName(starlingpb.Signal_SIGNAL_TRACES, id))
	res, err := e.system.Root.RequestFuture(pid, msg, 10*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitRow waits until partition id's actor works from the table's row of
// epoch: a batch of another epoch gets NotPrimary naming the row's epoch.
func waitRow(t *testing.T, e *env, id uint32, epoch uint64) {
	t.Helper()
	waitFor(t, "the partition actor to take the new row", func() bool {
		np, ok := request(t, e, id, &starlingpb.WriteBatch{Format: storage.EntryFormat,
			Partition: &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: id, Epoch: 0}}).(*starlingpb.NotPrimary)
		return ok && np.Partition.GetEpoch() == epoch
	})
}

func TestReplicaAppliesForwardsOfItsEpochOnly(t *testing.T) {
	e := newEnv(t)
	b := tracesBatch(t, e)
	e.table.set(starlingpb.Signal_SIGNAL_TRACES, b.Partition, func(p *starlingpb.Partition) {
		p.Epoch, p.Primary, p.Replicas, p.InSync = 3, "n2", []string{"n2", "n1"}, []string{"n2", "n1"}
	})
	waitRow(t, e, b.Partition, 3)
	fwd := func(epoch uint64) *starlingpb.WriteAck {
		res := request(t, e, b.Partition, &starlingpb.WriteBatch{Format: storage.EntryFormat, Replicate: true, RequestId: 7,
			Partition: &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: b.Partition, Epoch: epoch},
			Records:   uint32(b.Records), Entries: b.Entries})
		ack, ok := res.(*starlingpb.WriteAck)
		if !ok {
			t.Fatalf("answer %T", res)
		}
		return ack
	}
	if ack := fwd(2); !strings.Contains(ack.Error, "stale epoch") || !ack.Retryable || ack.Node != "n1" {
		t.Errorf("forward of an older epoch: %v, want a retryable stale-epoch refusal from n1", ack)
	}
	if keys := e.partitionKeys(t, b.Partition); keys != 0 {
		t.Fatalf("a refused forward wrote %d keys", keys)
	}
	for _, epoch := range []uint64{3, 4} { // its epoch, or a newer one the primary knows first
		if ack := fwd(epoch); ack.Error != "" || ack.Node != "n1" || ack.RequestId != 7 {
			t.Errorf("forward at epoch %d: %v, want an ack from n1", epoch, ack)
		}
	}
	if keys := e.partitionKeys(t, b.Partition); keys == 0 {
		t.Fatal("the accepted forward wrote nothing")
	}
}

func TestPrimaryRefusesBelowMinInSync(t *testing.T) {
	e := newEnv(t)
	b := tracesBatch(t, e)
	e.minInSync.Store(2)
	res := request(t, e, b.Partition, &starlingpb.WriteBatch{Format: storage.EntryFormat, RequestId: 5,
		Partition: &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: b.Partition, Epoch: 1},
		Records:   uint32(b.Records), Entries: b.Entries})
	ack, ok := res.(*starlingpb.WriteAck)
	if !ok || !strings.Contains(ack.Error, ErrBelowMinInSync.Error()) || !ack.Retryable {
		t.Fatalf("write with 1 in-sync copy and min 2: %T %v, want a retryable refusal", res, res)
	}
	if keys := e.partitionKeys(t, b.Partition); keys != 0 {
		t.Fatalf("a refused write left %d keys", keys)
	}
}

func TestPrimaryShrinksInSyncBeforeAcknowledging(t *testing.T) {
	e := newEnv(t)
	b := tracesBatch(t, e)
	// "ghost" resolves to this node, where the partition is primary and
	// refuses forwards: it never acknowledges as ghost.
	e.table.set(starlingpb.Signal_SIGNAL_TRACES, b.Partition, func(p *starlingpb.Partition) {
		p.Epoch, p.Replicas, p.InSync = 2, []string{"n1", "ghost"}, []string{"n1", "ghost"}
	})
	waitRow(t, e, b.Partition, 2)
	began := time.Now()
	res := request(t, e, b.Partition, &starlingpb.WriteBatch{Format: storage.EntryFormat, RequestId: 6,
		Partition: &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: b.Partition, Epoch: 2},
		Records:   uint32(b.Records), Entries: b.Entries})
	ack, ok := res.(*starlingpb.WriteAck)
	if !ok || ack.Error != "" {
		t.Fatalf("write with a silent replica: %T %v, want an ack once it is out of the in-sync set", res, res)
	}
	row := e.table.row(starlingpb.Signal_SIGNAL_TRACES, b.Partition)
	if row.Epoch != 3 || !slices.Equal(row.InSync, []string{"n1"}) || !slices.Contains(row.Replicas, "ghost") {
		t.Fatalf("row after the ack %v: want epoch 3, in sync [n1], ghost still a replica", row)
	}
	if waited := time.Since(began); waited < 2*time.Second {
		t.Errorf("acknowledged after %s, before the replica timeout", waited)
	}
	// With min_in_sync 2 the same silence refuses the write instead.
	e.table.set(starlingpb.Signal_SIGNAL_TRACES, b.Partition, func(p *starlingpb.Partition) {
		p.Epoch, p.InSync = 4, []string{"n1", "ghost"}
	})
	waitRow(t, e, b.Partition, 4)
	e.minInSync.Store(2)
	res = request(t, e, b.Partition, &starlingpb.WriteBatch{Format: storage.EntryFormat, RequestId: 8,
		Partition: &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: b.Partition, Epoch: 4},
		Records:   uint32(b.Records), Entries: b.Entries})
	if ack, ok := res.(*starlingpb.WriteAck); !ok || !ack.Retryable || !strings.Contains(ack.Error, ErrBelowMinInSync.Error()) {
		t.Fatalf("write that would leave 1 copy with min 2: %v, want a retryable refusal", res)
	}
}

// partitionKeys counts the keys the store holds for partition p of traces.
func (e *env) partitionKeys(t *testing.T, p uint32) int {
	t.Helper()
	st, err := e.store.StreamPartition(context.Background(), starlingpb.Signal_SIGNAL_TRACES, p, 1<<20, func(*starlingpb.SnapshotChunk) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return st.Keys
}
