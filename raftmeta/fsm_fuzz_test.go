package raftmeta

import (
	"bytes"
	"io"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// FuzzFSMApply feeds arbitrary log data to an initialised FSM and to one
// that only knows nodes: Apply never panics, a rejected entry leaves the
// state as it was, an applied one leaves every row valid and no epoch lower.
func FuzzFSMApply(f *testing.F) {
	seeds := []*starlingpb.RaftCommand{
		initCmd(testSettings(2), testRows(2, "a", "b", "c")),
		putNodeCmd("d"),
		putNodeCmd("a"),
		removeNodeCmd("b"),
		removeNodeCmd("zz"),
		updateCmd(upd(traces, 0, 1, func(p *starlingpb.Partition) { p.SizeBytes = 5 })),
		updateCmd(upd(logsSig, 1, 1, func(p *starlingpb.Partition) {
			p.Epoch, p.Primary, p.Replicas, p.InSync, p.State = 2, "c", []string{"c", "b", "a"}, []string{"c"}, migrating
		})),
		updateCmd(upd(metrics, 0, 1, bump), upd(metrics, 1, 1, bump)),
		updateCmd(upd(traces, 1, 0, bump)),
		updateCmd(upd(traces, 1, 1, func(p *starlingpb.Partition) { bump(p); p.Leaving = p.Replicas[len(p.Replicas)-1] })),
		sizesCmd(&starlingpb.PartitionStats{Signal: logsSig, Id: 1, SizeBytes: 1 << 30, Records: 4}),
	}
	for _, c := range seeds {
		f.Add(mustEncode(f, c))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, initialised := range []bool{true, false} {
			m := newTestFSM(t, 2, initialised)
			before := m.State()
			was := freeze(before)
			ch := m.Changed()
			err := applyData(t, m, 10, data)
			after := m.State()
			if !was.equal(before) {
				t.Fatal("Apply modified the published state in place")
			}
			if err != nil {
				if after != before || closed(ch) {
					t.Fatalf("rejected entry (%v) changed the state", err)
				}
				continue
			}
			if after.Index != 10 || !closed(ch) {
				t.Fatalf("applied entry: index %d, changed closed %v", after.Index, closed(ch))
			}
			checkState(t, after)
			if before.Initialised() {
				for i, p := range after.Partitions {
					if p.Epoch < before.Partitions[i].Epoch {
						t.Fatalf("%s/%d epoch went back", p.Signal, p.Id)
					}
				}
			}
		}
	})
}

// FuzzFSMRestore feeds arbitrary snapshots to an initialised FSM: Restore
// never panics, a failed one leaves the state as it was, a successful one
// gives a valid state that round-trips.
func FuzzFSMRestore(f *testing.F) {
	src := newTestFSM(f, 3, true)
	if err := applyData(f, src, 5, mustEncode(f, updateCmd(upd(traces, 1, 1, func(p *starlingpb.Partition) {
		p.Epoch, p.State, p.SizeBytes = 3, migrating, 99
	})))); err != nil {
		f.Fatal(err)
	}
	f.Add(snapshotBytes(f, src))
	f.Add(snapshotBytes(f, newTestFSM(f, 1, false)))
	f.Add(snapshotBytes(f, NewFSM()))
	f.Fuzz(func(t *testing.T, data []byte) {
		m := newTestFSM(t, 2, true)
		before := m.State()
		was := freeze(before)
		ch := m.Changed()
		if err := m.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
			if m.State() != before || !was.equal(before) || closed(ch) {
				t.Fatalf("failed restore (%v) changed the state", err)
			}
			return
		}
		if !closed(ch) {
			t.Fatal("restore did not notify")
		}
		s := m.State()
		checkState(t, s)
		again := NewFSM()
		if err := again.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, m)))); err != nil {
			t.Fatalf("restored state does not restore again: %v", err)
		}
		if !proto.Equal(again.State().meta(), s.meta()) {
			t.Fatal("restored state does not round-trip")
		}
	})
}
