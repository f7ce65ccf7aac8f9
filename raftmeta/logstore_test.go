package raftmeta

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestLogStoreAgreesWithInmem runs the same random appends, suffix and
// prefix truncations and stable-store writes on the bolt store and on
// raft's in-memory store, reopening the bolt file every few steps (what a
// restart after a crash reads), and compares every answer.
func TestLogStoreAgreesWithInmem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := OpenLogStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ref := raft.NewInmemStore()
	rng := rand.New(rand.NewPCG(7, 8))
	next := uint64(1)
	truncations := 0
	for step := range 400 {
		switch op := rng.IntN(10); {
		case op < 6: // append a batch
			var logs []*raft.Log
			for range 1 + rng.IntN(5) {
				data := make([]byte, rng.IntN(64))
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				l := &raft.Log{Index: next, Term: uint64(1 + step/50), Type: raft.LogType(rng.IntN(6)), Data: data,
					AppendedAt: time.Unix(0, rng.Int64N(1<<62))}
				if rng.IntN(4) == 0 {
					l.Extensions = []byte("ext")
				}
				logs = append(logs, l)
				next++
			}
			mustAgree(t, s.StoreLogs(logs), ref.StoreLogs(logs))
		case op < 8 && next > 1: // a follower's conflicting tail goes
			last, _ := ref.LastIndex()
			first, _ := ref.FirstIndex()
			if last == 0 {
				continue
			}
			from := first + uint64(rng.Int64N(int64(last-first+1)))
			mustAgree(t, s.DeleteRange(from, last), ref.DeleteRange(from, last))
			next = from
			truncations++
		case op < 9 && next > 1: // compaction after a snapshot
			first, _ := ref.FirstIndex()
			last, _ := ref.LastIndex()
			if last <= first {
				continue
			}
			to := first + uint64(rng.Int64N(int64(last-first)))
			mustAgree(t, s.DeleteRange(first, to), ref.DeleteRange(first, to))
		default:
			mustAgree(t, s.SetUint64([]byte("CurrentTerm"), uint64(step)), ref.SetUint64([]byte("CurrentTerm"), uint64(step)))
			mustAgree(t, s.Set([]byte("LastVoteCand"), []byte{byte(step)}), ref.Set([]byte("LastVoteCand"), []byte{byte(step)}))
		}
		if step%25 == 0 { // restart
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s, err = OpenLogStore(path); err != nil {
				t.Fatalf("reopen at step %d: %v", step, err)
			}
		}
		compareStores(t, step, s, ref)
	}
	if truncations == 0 {
		t.Fatal("no suffix truncation: the test missed the case that broke raft-wal")
	}
}

func mustAgree(t *testing.T, got, want error) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Fatalf("bolt store: %v, in-memory store: %v", got, want)
	}
}

func compareStores(t *testing.T, step int, s *LogStore, ref *raft.InmemStore) {
	t.Helper()
	first, _ := ref.FirstIndex()
	last, _ := ref.LastIndex()
	gf, err1 := s.FirstIndex()
	gl, err2 := s.LastIndex()
	if err1 != nil || err2 != nil || gf != first || gl != last {
		t.Fatalf("step %d: first/last %d/%d (%v %v), want %d/%d", step, gf, gl, err1, err2, first, last)
	}
	for i := first; i <= last+1 && last > 0; i++ {
		var want, got raft.Log
		werr := ref.GetLog(i, &want)
		gerr := s.GetLog(i, &got)
		if !errors.Is(gerr, werr) && (gerr == nil) != (werr == nil) {
			t.Fatalf("step %d: log %d: %v, want %v", step, i, gerr, werr)
		}
		if werr != nil {
			continue
		}
		if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) ||
			!bytes.Equal(got.Extensions, want.Extensions) || !got.AppendedAt.Equal(want.AppendedAt) {
			t.Fatalf("step %d: log %d is %+v, want %+v", step, i, got, want)
		}
	}
	// (The in-memory store answers 0 for a key never set; a durable one
	// answers "not found", which raft takes as 0.)
	wt, _ := ref.GetUint64([]byte("CurrentTerm"))
	gt, gerr := s.GetUint64([]byte("CurrentTerm"))
	if gt != wt {
		t.Fatalf("step %d: CurrentTerm %d (%v), want %d", step, gt, gerr, wt)
	}
	if gerr != nil && gerr.Error() != "not found" {
		t.Fatalf("step %d: a missing key answers %q; raft expects \"not found\"", step, gerr)
	}
}

// FuzzDecodeLog: a damaged entry is an error, never a panic.
func FuzzDecodeLog(f *testing.F) {
	f.Add(encodeLog(&raft.Log{Index: 3, Term: 2, Type: raft.LogCommand, Data: []byte("x"), AppendedAt: time.Unix(5, 6)}))
	f.Add([]byte{logFormat})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeLog(b, &l); err == nil {
			if again := encodeLog(&l); !bytes.Equal(again, b) && len(b) < len(again) {
				t.Fatalf("decoded %x to %+v, which encodes to %x", b, l, again)
			}
		}
	})
}
