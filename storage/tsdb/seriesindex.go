package tsdb

import (
	"math/bits"
	"math/rand/v2"
)

// seriesIndex maps a series hash to its place in a block's series: an
// open-addressing table with linear probing. A lookup is a multiply and
// one load of the slot's cache line, where a Go map hashes the key again
// and reads a control word first (a head looks up every series of every
// record). The slot is picked by multiply-shift hashing with a random odd
// multiplier, so that hashes crafted to share low bits do not pile up.
type seriesIndex struct {
	slots []indexSlot // len a power of two; hash 0 marks a free slot
	n     int
	mul   uint64 // random, odd
	shift uint8  // 64 - log2(len(slots))
}

type indexSlot struct {
	hash uint64
	i    int32
}

// get returns the place of hash, or -1.
func (x *seriesIndex) get(hash uint64) int32 {
	if len(x.slots) == 0 {
		return -1
	}
	hash = nonZero(hash)
	mask := uint64(len(x.slots) - 1)
	for s := (hash * x.mul) >> x.shift; ; s = (s + 1) & mask {
		switch x.slots[s].hash {
		case hash:
			return x.slots[s].i
		case 0:
			return -1
		}
	}
}

// put maps hash (not in the index) to i.
func (x *seriesIndex) put(hash uint64, i int32) {
	if (x.n+1)*4 > len(x.slots)*3 { // over 3/4 full: double
		x.grow()
	}
	x.insert(nonZero(hash), i)
	x.n++
}

func (x *seriesIndex) insert(hash uint64, i int32) {
	mask := uint64(len(x.slots) - 1)
	s := (hash * x.mul) >> x.shift
	for x.slots[s].hash != 0 {
		s = (s + 1) & mask
	}
	x.slots[s] = indexSlot{hash: hash, i: i}
}

func (x *seriesIndex) grow() {
	old := x.slots
	x.slots = make([]indexSlot, max(64, 2*len(old)))
	x.shift = uint8(64 - bits.TrailingZeros(uint(len(x.slots))))
	if x.mul == 0 {
		x.mul = rand.Uint64() | 1
	}
	for _, s := range old {
		if s.hash != 0 {
			x.insert(s.hash, s.i)
		}
	}
}

// nonZero keeps 0 free for empty slots: hash 0 is stored as 1 (a series
// hash of 1 then shares its key; both being in one block is a 2^-63
// event, and the second merely joins the first's samples).
func nonZero(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}
