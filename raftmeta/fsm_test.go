package raftmeta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
)

const (
	active    = starlingpb.PartitionState_PARTITION_STATE_ACTIVE
	migrating = starlingpb.PartitionState_PARTITION_STATE_MIGRATING
	traces    = starlingpb.Signal_SIGNAL_TRACES
	logsSig   = starlingpb.Signal_SIGNAL_LOGS
	metrics   = starlingpb.Signal_SIGNAL_METRICS
)

// testSettings are valid settings with p partitions per signal.
func testSettings(p uint32) *starlingpb.ClusterSettings {
	return &starlingpb.ClusterSettings{ClusterId: "c1", Partitions: p, ReplicationFactor: 2, MinInSync: 1, WindowSeconds: 3600, CreatedAtUnixNano: 42}
}

// testRows places p partitions of every signal on nodes round-robin, two
// replicas each, at epoch 1.
func testRows(p uint32, nodes ...string) []*starlingpb.Partition {
	var rows []*starlingpb.Partition
	for _, sig := range signals {
		for id := range p {
			a, b := nodes[int(id)%len(nodes)], nodes[(int(id)+1)%len(nodes)]
			rows = append(rows, &starlingpb.Partition{Signal: sig, Id: id, Epoch: 1, Primary: a,
				Replicas: []string{a, b}, InSync: []string{a, b}, State: active})
		}
	}
	return rows
}

func initCmd(s *starlingpb.ClusterSettings, rows []*starlingpb.Partition) *starlingpb.RaftCommand {
	return &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_Init{Init: &starlingpb.InitCluster{Settings: s, Partitions: rows}}}
}

func putNodeCmd(id string) *starlingpb.RaftCommand {
	return &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_PutNode{PutNode: &starlingpb.PutNode{Node: &starlingpb.NodeRecord{
		Meta: &starlingpb.NodeMeta{Id: id, ActorAddr: id + ":1"}, State: starlingpb.NodeState_NODE_STATE_ALIVE}}}}
}

func removeNodeCmd(id string) *starlingpb.RaftCommand {
	return &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_RemoveNode{RemoveNode: &starlingpb.RemoveNode{Id: id}}}
}

func updateCmd(us ...*starlingpb.PartitionUpdate) *starlingpb.RaftCommand {
	return &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_UpdatePartitions{UpdatePartitions: &starlingpb.UpdatePartitions{Updates: us}}}
}

func sizesCmd(stats ...*starlingpb.PartitionStats) *starlingpb.RaftCommand {
	return &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_ReportSizes{ReportSizes: &starlingpb.ReportSizes{Stats: stats}}}
}

func mustEncode(t testing.TB, c *starlingpb.RaftCommand) []byte {
	t.Helper()
	b, err := EncodeCommand(c)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

// applyData applies data at index and returns the FSM's verdict.
func applyData(t testing.TB, f *FSM, index uint64, data []byte) error {
	t.Helper()
	r, ok := f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data}).(*ApplyResult)
	if !ok || r == nil {
		t.Fatalf("Apply returned %T, want *ApplyResult", r)
	}
	return r.Err
}

// newTestFSM returns an FSM with nodes a, b, c (indexes 1–3) and, when
// initialised, a cluster of p partitions per signal (index 4).
func newTestFSM(t testing.TB, p uint32, initialised bool) *FSM {
	t.Helper()
	f := NewFSM()
	for i, id := range []string{"c", "a", "b"} {
		if err := applyData(t, f, uint64(i+1), mustEncode(t, putNodeCmd(id))); err != nil {
			t.Fatal(err)
		}
	}
	if initialised {
		if err := applyData(t, f, 4, mustEncode(t, initCmd(testSettings(p), testRows(p, "a", "b", "c")))); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// checkState checks the invariants of a published state, independently of
// the FSM's own validation.
func checkState(t testing.TB, s *State) {
	t.Helper()
	if s.Settings == nil {
		if len(s.Partitions) != 0 {
			t.Fatalf("uninitialised state has %d rows", len(s.Partitions))
		}
	} else if want := 3 * int(s.Settings.Partitions); len(s.Partitions) != want {
		t.Fatalf("state has %d rows, want %d", len(s.Partitions), want)
	}
	for i, p := range s.Partitions {
		sig, id := signals[i/int(s.Settings.Partitions)], uint32(i%int(s.Settings.Partitions))
		if p.Signal != sig || p.Id != id {
			t.Fatalf("row %d is %s/%d, want %s/%d", i, p.Signal, p.Id, sig, id)
		}
		if msg := rowProblem(p); msg != "" {
			t.Fatalf("row %s/%d invalid: %s: %v", p.Signal, p.Id, msg, p)
		}
	}
	for i := 1; i < len(s.Nodes); i++ {
		if s.Nodes[i-1].Meta.Id >= s.Nodes[i].Meta.Id {
			t.Fatalf("nodes not sorted by id: %q then %q", s.Nodes[i-1].Meta.Id, s.Nodes[i].Meta.Id)
		}
	}
}

// rowProblem re-states the row rules plainly.
func rowProblem(p *starlingpb.Partition) string {
	if p.Epoch == 0 {
		return "epoch 0"
	}
	if p.State == 0 || p.State > starlingpb.PartitionState_PARTITION_STATE_READONLY {
		return "bad state"
	}
	replicas := map[string]bool{}
	for _, r := range p.Replicas {
		if r == "" || replicas[r] {
			return "bad replicas"
		}
		replicas[r] = true
	}
	inSync := map[string]bool{}
	for _, r := range p.InSync {
		if !replicas[r] || inSync[r] {
			return "bad in-sync"
		}
		inSync[r] = true
	}
	if p.Primary == "" || !replicas[p.Primary] || !inSync[p.Primary] {
		return "bad primary"
	}
	return ""
}

// frozen is a deep copy of a state, to check later that it is unchanged.
type frozen struct {
	index uint64
	meta  *starlingpb.MetaState
}

func freeze(s *State) frozen {
	return frozen{s.Index, proto.Clone(s.meta()).(*starlingpb.MetaState)}
}

func (z frozen) equal(s *State) bool { return z.index == s.Index && proto.Equal(z.meta, s.meta()) }

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// upd is an update of base row sig/id at expected epoch 1 after edit.
func upd(sig starlingpb.Signal, id uint32, expected uint64, edit func(p *starlingpb.Partition)) *starlingpb.PartitionUpdate {
	p := testRows(2, "a", "b", "c")[(int(sig)-1)*2+int(id)%2]
	p.Id = id
	if edit != nil {
		edit(p)
	}
	return &starlingpb.PartitionUpdate{Partition: p, ExpectedEpoch: expected}
}

func bump(p *starlingpb.Partition) { p.Epoch++ }

func TestEncodeDecodeCommand(t *testing.T) {
	c := putNodeCmd("a")
	b := mustEncode(t, c)
	if c.Format != CommandFormat {
		t.Fatalf("format %d not set", c.Format)
	}
	got, err := DecodeCommand(b)
	if err != nil || !proto.Equal(got, c) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	if _, err := EncodeCommand(nil); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("encode nil: %v", err)
	}
	if _, err := EncodeCommand(&starlingpb.RaftCommand{}); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("encode empty: %v", err)
	}
	if _, err := DecodeCommand([]byte{0xff, 0xff}); !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("decode garbage: %v", err)
	}
	c.Format = 2
	b, _ = proto.Marshal(c)
	if _, err := DecodeCommand(b); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("decode format 2: %v", err)
	}
	if _, err := DecodeCommand(nil); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("decode empty (format 0): %v", err)
	}
}

func TestApply(t *testing.T) {
	withRows := func(edit func(rows []*starlingpb.Partition) []*starlingpb.Partition) *starlingpb.RaftCommand {
		return initCmd(testSettings(2), edit(testRows(2, "a", "b", "c")))
	}
	withSettings := func(edit func(s *starlingpb.ClusterSettings)) *starlingpb.RaftCommand {
		s := testSettings(2)
		edit(s)
		return initCmd(s, testRows(s.Partitions, "a", "b", "c"))
	}
	editRow := func(edit func(p *starlingpb.Partition)) *starlingpb.RaftCommand {
		return withRows(func(rows []*starlingpb.Partition) []*starlingpb.Partition { edit(rows[3]); return rows })
	}
	wrongFormat, _ := proto.Marshal(&starlingpb.RaftCommand{Format: 7, Command: putNodeCmd("d").Command})
	noCommand, _ := proto.Marshal(&starlingpb.RaftCommand{Format: CommandFormat})

	cases := []struct {
		name  string
		fresh bool                    // apply to an FSM with nodes but no InitCluster
		prep  *starlingpb.RaftCommand // applied first (index 99), when set
		cmd   *starlingpb.RaftCommand
		data  []byte // used when cmd is nil
		want  error
		msg   string // in the error, when set
		check func(t *testing.T, s *State)
	}{
		// Decoding.
		{name: "garbage", data: []byte("\xff\xff\xff"), want: ErrInvalidCommand},
		{name: "wrong format", data: wrongFormat, want: ErrUnknownFormat},
		{name: "no command", data: noCommand, want: ErrInvalidCommand},
		{name: "empty init", data: mustEncode(t, &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_Init{}}), fresh: true, want: ErrInvalidCommand},

		// InitCluster.
		{name: "init", fresh: true, cmd: initCmd(testSettings(2), testRows(2, "a", "b", "c")), check: func(t *testing.T, s *State) {
			if !s.Initialised() || s.Settings.Partitions != 2 || len(s.Partitions) != 6 || len(s.Nodes) != 3 {
				t.Fatalf("state after init: %v", s.meta())
			}
		}},
		{name: "init unsorted rows", fresh: true, cmd: withRows(func(r []*starlingpb.Partition) []*starlingpb.Partition {
			slices.Reverse(r)
			return r
		}), check: func(t *testing.T, s *State) {
			if p := s.Partition(logsSig, 1); p == nil || p.Signal != logsSig || p.Id != 1 {
				t.Fatalf("Partition(logs, 1) = %v", p)
			}
		}},
		{name: "init twice", cmd: initCmd(testSettings(2), testRows(2, "a")), want: ErrAlreadyInitialised},
		{name: "init without settings", fresh: true, cmd: initCmd(nil, testRows(2, "a")), want: ErrInvalidCommand},
		{name: "init 0 partitions", fresh: true, cmd: withSettings(func(s *starlingpb.ClusterSettings) { s.Partitions = 0 }), want: ErrInvalidCommand},
		{name: "init 4097 partitions", fresh: true, cmd: withSettings(func(s *starlingpb.ClusterSettings) { s.Partitions = 4097 }), want: ErrInvalidCommand},
		{name: "init 4096 partitions", fresh: true, cmd: withSettings(func(s *starlingpb.ClusterSettings) { s.Partitions = 4096 })},
		{name: "init rf 0", fresh: true, cmd: withSettings(func(s *starlingpb.ClusterSettings) { s.ReplicationFactor, s.MinInSync = 0, 0 }), want: ErrInvalidCommand},
		{name: "init min in-sync 0", fresh: true, cmd: withSettings(func(s *starlingpb.ClusterSettings) { s.MinInSync = 0 }), want: ErrInvalidCommand},
		{name: "init min in-sync above rf", fresh: true, cmd: withSettings(func(s *starlingpb.ClusterSettings) { s.MinInSync = 3 }), want: ErrInvalidCommand},
		{name: "init window 0", fresh: true, cmd: withSettings(func(s *starlingpb.ClusterSettings) { s.WindowSeconds = 0 }), want: ErrInvalidCommand},
		{name: "init negative window", fresh: true, cmd: withSettings(func(s *starlingpb.ClusterSettings) { s.WindowSeconds = -1 }), want: ErrInvalidCommand},
		{name: "init no cluster id", fresh: true, cmd: withSettings(func(s *starlingpb.ClusterSettings) { s.ClusterId = "" }), want: ErrInvalidCommand},
		{name: "init missing row", fresh: true, cmd: withRows(func(r []*starlingpb.Partition) []*starlingpb.Partition { return r[1:] }), want: ErrInvalidCommand},
		{name: "init extra row", fresh: true, cmd: withRows(func(r []*starlingpb.Partition) []*starlingpb.Partition {
			return append(r, proto.Clone(r[0]).(*starlingpb.Partition))
		}), want: ErrInvalidCommand},
		{name: "init duplicate row", fresh: true, cmd: withRows(func(r []*starlingpb.Partition) []*starlingpb.Partition { r[1].Id = 0; return r }), want: ErrInvalidCommand},
		{name: "init id out of range", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.Id = 2 }), want: ErrInvalidCommand},
		{name: "init unknown signal", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.Signal = 0 }), want: ErrInvalidCommand},
		{name: "init nil row", fresh: true, cmd: withRows(func(r []*starlingpb.Partition) []*starlingpb.Partition { r[2] = nil; return r }), want: ErrInvalidCommand},
		{name: "init under-replicated", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.Replicas, p.InSync = p.Replicas[:1], p.InSync[:1] })},

		// Row rules, through InitCluster.
		{name: "row epoch 0", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.Epoch = 0 }), want: ErrInvalidCommand, msg: "epoch must be"},
		{name: "row no primary", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.Primary = "" }), want: ErrInvalidCommand, msg: "primary must be set"},
		{name: "row primary not a replica", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.Primary = "a" }), want: ErrInvalidCommand, msg: "primary a is not a replica"},
		{name: "row replicas repeat", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.Replicas = []string{"b", "c", "b"} }), want: ErrInvalidCommand, msg: "replicas: node b listed twice"},
		{name: "row empty replica id", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.Replicas = append(p.Replicas, "") }), want: ErrInvalidCommand, msg: "replicas: empty node id"},
		{name: "row in-sync outside replicas", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.InSync = append(p.InSync, "a") }), want: ErrInvalidCommand, msg: "in-sync node a is not a replica"},
		{name: "row in-sync repeats", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.InSync = append(p.InSync, p.Primary) }), want: ErrInvalidCommand, msg: "in-sync: node b listed twice"},
		{name: "row primary not in sync", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.InSync = p.InSync[1:] }), want: ErrInvalidCommand, msg: "primary b is not in sync"},
		{name: "row state unspecified", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.State = 0 }), want: ErrInvalidCommand, msg: "state must be set"},
		{name: "row state unknown", fresh: true, cmd: editRow(func(p *starlingpb.Partition) { p.State = 99 }), want: ErrInvalidCommand, msg: "unknown state 99"},

		// PutNode and RemoveNode.
		{name: "put new node", cmd: putNodeCmd("b2"), check: func(t *testing.T, s *State) {
			if n := s.Node("b2"); n == nil || len(s.Nodes) != 4 || s.Nodes[2] != n {
				t.Fatalf("nodes after put: %v", s.Nodes)
			}
		}},
		{name: "put node before init", fresh: true, cmd: putNodeCmd("d"), check: func(t *testing.T, s *State) {
			if s.Node("d") == nil || s.Initialised() {
				t.Fatal("node d missing")
			}
		}},
		{name: "replace node", cmd: &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_PutNode{PutNode: &starlingpb.PutNode{Node: &starlingpb.NodeRecord{
			Meta: &starlingpb.NodeMeta{Id: "a", Zone: "z9"}, State: starlingpb.NodeState_NODE_STATE_DEAD}}}},
			check: func(t *testing.T, s *State) {
				if n := s.Node("a"); len(s.Nodes) != 3 || n.Meta.Zone != "z9" || n.State != starlingpb.NodeState_NODE_STATE_DEAD {
					t.Fatalf("node a after replace: %v", n)
				}
			}},
		{name: "put node nil", cmd: &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_PutNode{PutNode: &starlingpb.PutNode{}}}, want: ErrInvalidCommand},
		{name: "put node no meta", cmd: &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_PutNode{PutNode: &starlingpb.PutNode{Node: &starlingpb.NodeRecord{}}}}, want: ErrInvalidCommand},
		{name: "put node no id", cmd: putNodeCmd(""), want: ErrInvalidCommand},
		{name: "remove node", cmd: removeNodeCmd("b"), check: func(t *testing.T, s *State) {
			if s.Node("b") != nil || len(s.Nodes) != 2 || s.Node("a") == nil || s.Node("c") == nil {
				t.Fatalf("nodes after remove: %v", s.Nodes)
			}
		}},
		{name: "remove unknown node", cmd: removeNodeCmd("zz"), check: func(t *testing.T, s *State) {
			if len(s.Nodes) != 3 {
				t.Fatalf("nodes after no-op remove: %v", s.Nodes)
			}
		}},
		{name: "remove no id", cmd: removeNodeCmd(""), want: ErrInvalidCommand},

		// UpdatePartitions.
		{name: "update before init", fresh: true, cmd: updateCmd(upd(traces, 0, 1, bump)), want: ErrNotInitialised},
		{name: "update stats, same epoch", cmd: updateCmd(upd(traces, 1, 1, func(p *starlingpb.Partition) { p.SizeBytes, p.Records = 10, 2 })),
			check: func(t *testing.T, s *State) {
				if p := s.Partition(traces, 1); p.Epoch != 1 || p.SizeBytes != 10 || p.Records != 2 {
					t.Fatalf("row after stats update: %v", p)
				}
			}},
		{name: "update leaving without epoch bump", cmd: updateCmd(upd(traces, 1, 1, func(p *starlingpb.Partition) { p.Leaving = p.Replicas[0] })),
			want: ErrInvalidCommand, msg: "placement changed without an epoch bump"},
		{name: "update leaving not a replica", cmd: updateCmd(upd(traces, 1, 1, func(p *starlingpb.Partition) { bump(p); p.Leaving = "zz" })),
			want: ErrInvalidCommand, msg: "leaving node zz is not a replica"},
		{name: "report sizes", cmd: sizesCmd(&starlingpb.PartitionStats{Signal: traces, Id: 1, SizeBytes: 7 << 20, Records: 9}, &starlingpb.PartitionStats{Signal: metrics, Id: 0, SizeBytes: 3}),
			check: func(t *testing.T, s *State) {
				if p := s.Partition(traces, 1); p.Epoch != 1 || p.SizeBytes != 7<<20 || p.Records != 9 {
					t.Fatalf("traces 1 after report: %v", p)
				}
				if p := s.Partition(metrics, 0); p.SizeBytes != 3 {
					t.Fatalf("metrics 0 after report: %v", p)
				}
			}},
		{name: "report sizes before init", fresh: true, cmd: sizesCmd(&starlingpb.PartitionStats{Signal: traces, Id: 1}), want: ErrNotInitialised},
		{name: "report sizes empty", cmd: sizesCmd(), want: ErrInvalidCommand},
		{name: "report sizes unknown partition", cmd: sizesCmd(&starlingpb.PartitionStats{Signal: traces, Id: 1, SizeBytes: 1}, &starlingpb.PartitionStats{Signal: traces, Id: 99, SizeBytes: 1}),
			want: ErrUnknownPartition},
		{name: "report sizes twice", cmd: sizesCmd(&starlingpb.PartitionStats{Signal: traces, Id: 1}, &starlingpb.PartitionStats{Signal: traces, Id: 1}), want: ErrInvalidCommand, msg: "appears twice"},
		{name: "update move primary", cmd: updateCmd(upd(metrics, 0, 1, func(p *starlingpb.Partition) {
			p.Epoch, p.Primary, p.Replicas, p.InSync = 5, "c", []string{"c", "b"}, []string{"c"}
		})), check: func(t *testing.T, s *State) {
			if p := s.Partition(metrics, 0); p.Epoch != 5 || p.Primary != "c" {
				t.Fatalf("row after move: %v", p)
			}
		}},
		{name: "update two rows", cmd: updateCmd(upd(traces, 0, 1, bump), upd(logsSig, 1, 1, func(p *starlingpb.Partition) { bump(p); p.State = migrating })),
			check: func(t *testing.T, s *State) {
				if s.Partition(traces, 0).Epoch != 2 || s.Partition(logsSig, 1).State != migrating || s.Partition(logsSig, 0).Epoch != 1 {
					t.Fatalf("rows after update: %v", s.Partitions)
				}
			}},
		{name: "update unknown id", cmd: updateCmd(upd(traces, 2, 1, bump)), want: ErrUnknownPartition},
		{name: "update unknown signal", cmd: updateCmd(upd(traces, 0, 1, func(p *starlingpb.Partition) { p.Signal = 0 })), want: ErrUnknownPartition},
		{name: "update invalid row", cmd: updateCmd(upd(traces, 0, 1, func(p *starlingpb.Partition) { bump(p); p.InSync = nil })), want: ErrInvalidCommand, msg: "not in sync"},
		{name: "update stale epoch", cmd: updateCmd(upd(traces, 0, 0, bump)), want: ErrEpochConflict},
		{name: "update future epoch", cmd: updateCmd(upd(traces, 0, 2, func(p *starlingpb.Partition) { p.Epoch = 3 })), want: ErrEpochConflict},
		{name: "update epoch below expected", prep: updateCmd(upd(logsSig, 0, 1, func(p *starlingpb.Partition) { p.Epoch = 3 })),
			cmd: updateCmd(upd(logsSig, 0, 3, func(p *starlingpb.Partition) { p.Epoch = 2 })), want: ErrInvalidCommand, msg: "new epoch 2 is below 3"},
		{name: "update after a bump", prep: updateCmd(upd(logsSig, 0, 1, func(p *starlingpb.Partition) { p.Epoch = 3 })),
			cmd: updateCmd(upd(logsSig, 0, 3, func(p *starlingpb.Partition) { p.Epoch, p.Records = 3, 9 })), check: func(t *testing.T, s *State) {
				if p := s.Partition(logsSig, 0); p.Epoch != 3 || p.Records != 9 {
					t.Fatalf("row: %v", p)
				}
			}},
		{name: "update primary without bump", cmd: updateCmd(upd(traces, 0, 1, func(p *starlingpb.Partition) { p.Primary = p.Replicas[1] })), want: ErrInvalidCommand, msg: "without an epoch bump"},
		{name: "update replicas without bump", cmd: updateCmd(upd(traces, 0, 1, func(p *starlingpb.Partition) { p.Replicas = append(p.Replicas, "c") })), want: ErrInvalidCommand, msg: "without an epoch bump"},
		{name: "update replica order without bump", cmd: updateCmd(upd(traces, 0, 1, func(p *starlingpb.Partition) { slices.Reverse(p.Replicas) })), want: ErrInvalidCommand, msg: "without an epoch bump"},
		{name: "update in-sync without bump", cmd: updateCmd(upd(traces, 0, 1, func(p *starlingpb.Partition) { p.InSync = p.InSync[:1] })), want: ErrInvalidCommand, msg: "without an epoch bump"},
		{name: "update state without bump", cmd: updateCmd(upd(traces, 0, 1, func(p *starlingpb.Partition) { p.State = migrating })), want: ErrInvalidCommand, msg: "without an epoch bump"},
		{name: "update row twice", cmd: updateCmd(upd(traces, 1, 1, bump), upd(traces, 1, 1, bump)), want: ErrInvalidCommand, msg: "appears twice"},
		{name: "update all or nothing", cmd: updateCmd(upd(traces, 0, 1, bump), upd(traces, 1, 7, bump)), want: ErrEpochConflict},
		{name: "update nothing", cmd: updateCmd(), want: ErrInvalidCommand},
		{name: "update nil row", cmd: updateCmd(&starlingpb.PartitionUpdate{ExpectedEpoch: 1}), want: ErrInvalidCommand},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFSM(t, 2, !tc.fresh)
			if tc.prep != nil {
				if err := applyData(t, f, 99, mustEncode(t, tc.prep)); err != nil {
					t.Fatal(err)
				}
			}
			data := tc.data
			if tc.cmd != nil {
				data = mustEncode(t, tc.cmd)
			}
			before := f.State()
			was := freeze(before)
			ch := f.Changed()
			err := applyData(t, f, 100, data)
			after := f.State()
			if !was.equal(before) {
				t.Fatal("Apply modified the published state in place")
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want it to say %q", err, tc.msg)
				}
				if after != before || !was.equal(after) || closed(ch) {
					t.Fatal("a rejected command changed the state")
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if after.Index != 100 || !closed(ch) {
				t.Fatalf("success: index %d, changed closed %v", after.Index, closed(ch))
			}
			checkState(t, after)
			if tc.check != nil {
				tc.check(t, after)
			}
		})
	}
}

func TestEpochConflictMessage(t *testing.T) {
	f := newTestFSM(t, 2, true)
	err := applyData(t, f, 5, mustEncode(t, updateCmd(upd(logsSig, 1, 3, bump))))
	if !errors.Is(err, ErrEpochConflict) || err.Error() != "update partitions: SIGNAL_LOGS partition 1 is at epoch 1, expected 3: partition epoch conflict" {
		t.Fatalf("err = %v", err)
	}
}

func TestStateLookups(t *testing.T) {
	f := newTestFSM(t, 3, true)
	s := f.State()
	for _, sig := range signals {
		for id := range uint32(3) {
			if p := s.Partition(sig, id); p == nil || p.Signal != sig || p.Id != id {
				t.Fatalf("Partition(%s, %d) = %v", sig, id, p)
			}
		}
	}
	if s.Partition(traces, 3) != nil || s.Partition(0, 0) != nil || s.Node("d") != nil || s.Node("") != nil {
		t.Fatal("lookup of a missing key found something")
	}
	if n := s.Node("b"); n == nil || n.Meta.Id != "b" {
		t.Fatalf("Node(b) = %v", n)
	}
	if got := f.Partitions(); len(got) != 9 || got[0] != s.Partitions[0] {
		t.Fatalf("Partitions() = %d rows", len(got))
	}
	empty := NewFSM().State()
	if empty.Initialised() || empty.Partition(traces, 0) != nil || empty.Node("a") != nil || empty.Index != 0 {
		t.Fatal("empty state is not empty")
	}
}

func TestChanged(t *testing.T) {
	f := newTestFSM(t, 2, true)
	before := f.Changed()
	if closed(before) {
		t.Fatal("changed closed before any change")
	}
	if err := applyData(t, f, 5, mustEncode(t, putNodeCmd("d"))); err != nil {
		t.Fatal(err)
	}
	if !closed(before) {
		t.Fatal("channel from before Apply not closed")
	}
	after := f.Changed()
	if closed(after) {
		t.Fatal("channel from after Apply closed")
	}
	if err := applyData(t, f, 6, mustEncode(t, updateCmd(upd(traces, 0, 9, bump)))); err == nil {
		t.Fatal("conflicting update applied")
	}
	if closed(after) {
		t.Fatal("a rejected command closed the channel")
	}
	snap := snapshotBytes(t, f)
	if err := f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if !closed(after) {
		t.Fatal("Restore did not close the channel")
	}
}

// TestConcurrentReaders runs readers against Apply; meaningful under -race.
func TestConcurrentReaders(t *testing.T) {
	f := newTestFSM(t, 4, true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				ch := f.Changed()
				for _, p := range f.Partitions() {
					if rowProblem(p) != "" {
						t.Error("reader saw an invalid row")
						return
					}
				}
				select {
				case <-stop:
					return
				case <-ch:
				}
			}
		})
	}
	for i := range uint64(200) {
		id := uint32(i % 4)
		cur := f.State().Partition(traces, id)
		next := proto.Clone(cur).(*starlingpb.Partition)
		next.Epoch++
		next.Primary, next.Replicas[0], next.Replicas[1] = next.Replicas[1], next.Replicas[1], next.Replicas[0]
		next.InSync = []string{next.Primary}
		err := applyData(t, f, 10+i, mustEncode(t, updateCmd(&starlingpb.PartitionUpdate{Partition: next, ExpectedEpoch: cur.Epoch})))
		if err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}

// bufSink is a raft.SnapshotSink over a buffer.
type bufSink struct {
	bytes.Buffer
	failWrite         bool
	closed, cancelled bool
}

func (s *bufSink) Write(p []byte) (int, error) {
	if s.failWrite {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}
func (s *bufSink) ID() string    { return "test" }
func (s *bufSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufSink) Close() error  { s.closed = true; return nil }

func persist(t testing.TB, snap raft.FSMSnapshot) []byte {
	t.Helper()
	sink := &bufSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed %v, cancelled %v", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return persist(t, snap)
}

func TestSnapshotRoundTrip(t *testing.T) {
	f := newTestFSM(t, 3, true)
	if err := applyData(t, f, 5, mustEncode(t, updateCmd(upd(metrics, 1, 1, func(p *starlingpb.Partition) {
		p.Epoch, p.State, p.SizeBytes, p.UpdatedAtUnixNano = 4, migrating, 77, 123
	})))); err != nil {
		t.Fatal(err)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	was := freeze(f.State())
	// Changes after Snapshot must not reach the persisted snapshot.
	if err := applyData(t, f, 6, mustEncode(t, removeNodeCmd("a"))); err != nil {
		t.Fatal(err)
	}
	b := persist(t, snap)

	g := NewFSM()
	if err := g.Restore(io.NopCloser(bytes.NewReader(b))); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(g.State().meta(), was.meta) {
		t.Fatalf("restored state differs:\n%v\n%v", g.State().meta(), was.meta)
	}
	checkState(t, g.State())

	// Through raft's in-memory snapshot store, as raft would.
	store := raft.NewInmemSnapshotStore()
	sink, err := store.Create(raft.SnapshotVersionMax, 6, 1, raft.Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	snap, _ = f.Snapshot()
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	metas, _ := store.List()
	_, rc, err := store.Open(metas[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	h := NewFSM()
	if err := h.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(h.State().meta(), f.State().meta()) {
		t.Fatal("state restored from the inmem store differs")
	}

	// An uninitialised FSM with nodes round-trips too.
	u := newTestFSM(t, 0, false)
	v := NewFSM()
	if err := v.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, u)))); err != nil {
		t.Fatal(err)
	}
	if v.State().Initialised() || len(v.State().Nodes) != 3 || !proto.Equal(v.State().meta(), u.State().meta()) {
		t.Fatal("uninitialised state did not round-trip")
	}
}

func TestPersistCancelsOnError(t *testing.T) {
	snap, _ := newTestFSM(t, 2, true).Snapshot()
	sink := &bufSink{failWrite: true}
	if err := snap.Persist(sink); err == nil || !sink.cancelled || sink.closed {
		t.Fatalf("err %v, cancelled %v, closed %v", err, sink.cancelled, sink.closed)
	}
}

func TestRestoreRejects(t *testing.T) {
	good := func(edit func(m *starlingpb.MetaState)) []byte {
		m := &starlingpb.MetaState{Format: SnapshotFormat, Settings: testSettings(2), Partitions: testRows(2, "a", "b"),
			Nodes: []*starlingpb.NodeRecord{{Meta: &starlingpb.NodeMeta{Id: "b"}}, {Meta: &starlingpb.NodeMeta{Id: "a"}}}}
		if edit != nil {
			edit(m)
		}
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"valid", good(nil), nil},
		{"garbage", []byte{0xff, 0x01}, ErrInvalidCommand},
		{"empty (format 0)", nil, ErrUnknownFormat},
		{"format 2", good(func(m *starlingpb.MetaState) { m.Format = 2 }), ErrUnknownFormat},
		{"rows without settings", good(func(m *starlingpb.MetaState) { m.Settings = nil }), ErrInvalidCommand},
		{"nodes only", good(func(m *starlingpb.MetaState) { m.Settings, m.Partitions = nil, nil }), nil},
		{"bad settings", good(func(m *starlingpb.MetaState) { m.Settings.MinInSync = 0 }), ErrInvalidCommand},
		{"missing row", good(func(m *starlingpb.MetaState) { m.Partitions = m.Partitions[1:] }), ErrInvalidCommand},
		{"invalid row", good(func(m *starlingpb.MetaState) { m.Partitions[4].Epoch = 0 }), ErrInvalidCommand},
		{"node without meta", good(func(m *starlingpb.MetaState) { m.Nodes[0].Meta = nil }), ErrInvalidCommand},
		{"node without id", good(func(m *starlingpb.MetaState) { m.Nodes[0].Meta.Id = "" }), ErrInvalidCommand},
		{"node twice", good(func(m *starlingpb.MetaState) { m.Nodes[0].Meta.Id = "a" }), ErrInvalidCommand},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFSM(t, 3, true)
			before := f.State()
			was := freeze(before)
			ch := f.Changed()
			err := f.Restore(io.NopCloser(bytes.NewReader(tc.data)))
			if tc.want == nil {
				if err != nil || !closed(ch) {
					t.Fatalf("err %v, changed closed %v", err, closed(ch))
				}
				checkState(t, f.State())
				if s := f.State(); s.Nodes[0].Meta.Id != "a" || s.Index != 0 {
					t.Fatalf("restored nodes %v, index %d", s.Nodes, s.Index)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if f.State() != before || !was.equal(before) || closed(ch) {
				t.Fatal("a failed restore changed the state")
			}
		})
	}
}

// errReader fails every read.
type errReader struct{ closed bool }

func (r *errReader) Read([]byte) (int, error) { return 0, errors.New("read failed") }
func (r *errReader) Close() error             { r.closed = true; return nil }

func TestRestoreReadError(t *testing.T) {
	f := newTestFSM(t, 2, true)
	before := f.State()
	r := &errReader{}
	if err := f.Restore(r); err == nil || f.State() != before || !r.closed {
		t.Fatalf("err %v, state kept %v, closed %v", err, f.State() == before, r.closed)
	}
}

// gen writes random Raft logs against a model FSM that applies what it
// writes, so its updates are mostly plausible, often conflicting.
type gen struct {
	rng     *rand.Rand
	model   *FSM
	history []*State
	nodes   []string
	log     []*raft.Log
}

func (g *gen) emit(t testing.TB, data []byte) {
	l := &raft.Log{Index: uint64(len(g.log) + 1), Term: 1, Type: raft.LogCommand, Data: data}
	g.log = append(g.log, l)
	g.model.Apply(l)
	g.history = append(g.history, g.model.State())
}

// view is the state a proposer decides from: usually current, sometimes
// stale (a deposed leader, a slow decider).
func (g *gen) view() *State {
	if g.rng.IntN(3) == 0 {
		return g.history[g.rng.IntN(len(g.history))]
	}
	return g.model.State()
}

func (g *gen) node() string { return g.nodes[g.rng.IntN(len(g.nodes))] }

// pick returns a row of v to change (a made-up one before InitCluster).
func (g *gen) pick(v *State) *starlingpb.Partition {
	if len(v.Partitions) == 0 {
		return testRows(1, "n1")[0]
	}
	return v.Partitions[g.rng.IntN(len(v.Partitions))]
}

// update proposes a change of row cur.
func (g *gen) update(cur *starlingpb.Partition) *starlingpb.PartitionUpdate {
	r := g.rng
	p := proto.Clone(cur).(*starlingpb.Partition)
	p.Epoch++
	switch r.IntN(7) {
	case 0: // statistics only
		p.Epoch -= uint64(r.IntN(2))
		p.SizeBytes, p.Records = r.Uint64N(1<<30), r.Uint64N(1<<20)
	case 1: // promote another in-sync replica
		p.Primary = p.InSync[r.IntN(len(p.InSync))]
	case 2: // add a replica, not yet in sync
		if n := g.node(); !slices.Contains(p.Replicas, n) {
			p.Replicas = append(p.Replicas, n)
			p.State = migrating
		}
	case 3: // drop a non-primary replica
		for i, n := range p.Replicas {
			if n != p.Primary {
				p.Replicas = slices.Delete(p.Replicas, i, i+1)
				p.InSync = slices.DeleteFunc(p.InSync, func(s string) bool { return s == n })
				break
			}
		}
	case 4: // catch up: everyone in sync, active
		p.InSync, p.State = slices.Clone(p.Replicas), active
	case 5: // a buggy decider: forgets the bump or breaks the row
		p.Epoch--
		switch r.IntN(3) {
		case 0:
			p.Primary = g.node()
		case 1:
			p.InSync = append(p.InSync, "ghost")
		case 2:
			p.Id += 1 + uint32(r.IntN(8))
		}
	case 6: // jump epochs
		p.Epoch += r.Uint64N(5)
		p.Primary = p.Replicas[len(p.Replicas)-1]
		p.InSync = []string{p.Primary}
	}
	expected := cur.Epoch
	if r.IntN(20) == 0 {
		expected = r.Uint64N(4)
	}
	return &starlingpb.PartitionUpdate{Partition: p, ExpectedEpoch: expected}
}

func (g *gen) step(t testing.TB) {
	r := g.rng
	switch k := r.IntN(100); {
	case k < 5 || (k < 50 && !g.model.State().Initialised()):
		p := uint32(1 + r.IntN(4))
		rows := testRows(p, g.nodes...)
		if r.IntN(10) == 0 {
			rows[r.IntN(len(rows))].Epoch = 0
		}
		g.emit(t, mustEncode(t, initCmd(testSettings(p), rows)))
	case k < 15:
		g.emit(t, mustEncode(t, putNodeCmd(g.node())))
	case k < 20:
		id := g.node()
		if r.IntN(3) == 0 {
			id = "unknown"
		}
		g.emit(t, mustEncode(t, removeNodeCmd(id)))
	case k < 23:
		g.emit(t, []byte(fmt.Sprintf("garbage %d", r.Int())))
	case k < 30: // two deciders race from the same view
		row := g.pick(g.view())
		a, b := g.update(row), g.update(row)
		g.emit(t, mustEncode(t, updateCmd(a)))
		g.emit(t, mustEncode(t, updateCmd(b)))
	default:
		v := g.view()
		us := []*starlingpb.PartitionUpdate{g.update(g.pick(v))}
		for r.IntN(3) == 0 {
			us = append(us, g.update(g.pick(v)))
		}
		g.emit(t, mustEncode(t, updateCmd(us...)))
	}
}

// TestFSMProperty applies random logs: replicas agree, a replica restored
// from a mid-way snapshot agrees, rows stay valid and epochs never go back.
func TestFSMProperty(t *testing.T) {
	verdicts := map[string]int{}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 0x5ee1))
		g := &gen{rng: rng, model: NewFSM(), nodes: []string{"n1", "n2", "n3", "n4", "n5"}}
		g.history = []*State{g.model.State()}
		for len(g.log) < 40+rng.IntN(80) {
			g.step(t)
		}

		a, b, c := NewFSM(), NewFSM(), NewFSM()
		cut := rng.IntN(len(g.log) + 1)
		var snap raft.FSMSnapshot
		takeSnap := func() {
			var err error
			if snap, err = a.Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
		if cut == 0 {
			takeSnap()
		}
		for i, l := range g.log {
			prev := a.State()
			ra, rb := a.Apply(l).(*ApplyResult), b.Apply(l).(*ApplyResult)
			if fmt.Sprint(ra.Err) != fmt.Sprint(rb.Err) {
				t.Fatalf("seed %d entry %d: verdicts differ: %v / %v", seed, i, ra.Err, rb.Err)
			}
			switch {
			case ra.Err == nil:
				verdicts["ok"]++
			case errors.Is(ra.Err, ErrEpochConflict):
				verdicts["conflict"]++
			default:
				verdicts["other"]++
			}
			s := a.State()
			checkState(t, s)
			if ra.Err != nil && s != prev {
				t.Fatalf("seed %d entry %d: rejected entry changed the state", seed, i)
			}
			if prev.Initialised() {
				for j, p := range s.Partitions {
					if p.Epoch < prev.Partitions[j].Epoch {
						t.Fatalf("seed %d entry %d: %s/%d epoch went back %d -> %d", seed, i, p.Signal, p.Id, prev.Partitions[j].Epoch, p.Epoch)
					}
				}
			}
			if i+1 == cut {
				takeSnap()
			}
		}
		if !proto.Equal(a.State().meta(), b.State().meta()) || a.State().Index != b.State().Index {
			t.Fatalf("seed %d: replicas disagree", seed)
		}
		// Persisted after the whole log was applied: must still hold the
		// state at the cut.
		if err := c.Restore(io.NopCloser(bytes.NewReader(persist(t, snap)))); err != nil {
			t.Fatalf("seed %d: restore: %v", seed, err)
		}
		applied := false
		for _, l := range g.log[cut:] {
			applied = c.Apply(l).(*ApplyResult).Err == nil || applied
			checkState(t, c.State())
		}
		if !proto.Equal(a.State().meta(), c.State().meta()) {
			t.Fatalf("seed %d: replica restored at %d disagrees", seed, cut)
		}
		if applied && a.State().Index != c.State().Index {
			t.Fatalf("seed %d: restored replica at index %d, want %d", seed, c.State().Index, a.State().Index)
		}
	}
	t.Logf("verdicts: %v", verdicts)
	if verdicts["ok"] < 1000 || verdicts["conflict"] < 100 || verdicts["other"] < 100 {
		t.Fatalf("generator does not exercise the FSM enough: %v", verdicts)
	}
}
