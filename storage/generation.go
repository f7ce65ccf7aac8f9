package storage

import (
	"sync/atomic"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// generations counts, per signal, the changes to a store's data that are
// not writes of fresh records: a window removed by retention, partitions
// dropped after a move, a snapshot loaded by a handoff. A cache of query
// answers keys its entries by the count (DataGeneration), so that such a
// change makes it forget them; late writes it learns of from the
// frontends.
type generations [len(Signals)]atomic.Uint64

// signalIndex is sig's index in Signals (-1: unknown).
func signalIndex(sig starlingpb.Signal) int {
	for i, s := range Signals {
		if s == sig {
			return i
		}
	}
	return -1
}

// DataGeneration returns the count of changes to sig's stored data other
// than writes (see generations). Safe to call from any goroutine.
func (s *Store) DataGeneration(sig starlingpb.Signal) uint64 {
	if i := signalIndex(sig); i >= 0 {
		return s.gens[i].Load()
	}
	return 0
}

// changed counts one such change of sig.
func (s *Store) changed(sig starlingpb.Signal) {
	if i := signalIndex(sig); i >= 0 {
		s.gens[i].Add(1)
	}
}
