package index

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Design.
//
// A Bloom is a scalable bloom filter (Almeida, Baquero, Preguiça, Hutchison,
// "Scalable Bloom Filters", 2007) whose stages are split-block bloom filters
// (Putze, Sanders, Singler, "Cache-, Hash- and Space-Efficient Bloom
// Filters", 2007; the layout Parquet and Impala use).
//
// Stages. Stage level l holds up to n0·2^l items (n0 is the expected count)
// at a false-positive rate of p_l = P·(1-r)·r^l with r = 1/2, so that the
// compound rate over any number of full stages stays below
//
//	1 - Π(1-p_l) ≤ Σ p_l = P·(1-r)·Σ r^l = P.
//
// A new stage is started when the newest one is full, so a filter sized for
// n0 keeps its rate at 4·n0 (three stages) or 100·n0 (seven). Growth s = 2
// wastes at most half of the newest stage; r = 1/2 costs about 1.4 bits per
// item more per level, but spends the least on stage 0, the only stage of a
// filter whose expected count was right. Levels stop at bloomMaxLevel (16)
// and stages at bloomMaxBlocks: past 131,071·n0 items (the seventeen stages'
// capacities) the last stage overfills and the rate creeps up instead of the
// memory exploding.
//
// Blocks. A stage is an array of 256-bit blocks of eight 32-bit words. An
// item picks one block from the high 32 bits of its (re-mixed) hash and sets
// one bit in each of the eight words, chosen from the low 32 bits multiplied
// by eight odd salts, so a lookup reads one 32-byte block: one cache miss per
// stage and no division. With λ items per block on average the block loads
// are Poisson(λ), and a word holding j items has each bit set with
// probability 1-(31/32)^j, so the rate of a stage is
//
//	f(λ) = Σ_j e^{-λ} λ^j / j! · (1 - (31/32)^j)^8,
//
// which sbbfRate computes; a stage of capacity c and rate p gets
// ceil(c/λ*) blocks with f(λ*) = p. That is 12.2 bits per item for p = 0.5 %
// (stage 0 of a 1 % filter; 14.1, 16.2, 18.5 for the next levels), against
// 11.0 for an unblocked filter with optimal k: the price of the single cache
// miss, which makes a lookup three to four times faster than hashing the
// key's bytes again into an unblocked filter (bits-and-blooms/bloom v3.7.1:
// 75 ns against 21 ns per lookup on 2^20 items, measured when this was
// written; that library also has no scalable chain, and its decoder accepts
// m = 0, on which the next lookup divides by zero).
//
// Hashes. The caller hands in 64-bit hashes (xxhash of a trace ID, of a
// term). Each stage re-mixes the hash with a bijective finalizer seeded by
// its level before using its bits: a caller that shards items by a range of
// the same hash hands one filter hashes whose top bits are nearly constant,
// which would otherwise crowd every item into a few blocks, and stages would
// share their false positives.
//
// Counting. Add skips a hash that MayContain already reports, so repeated
// trace IDs (one per batch of a trace) do not fill stages, and Len counts the
// items that changed the filter.

const (
	// DefaultFalsePositiveRate is the rate NewBloom uses for an out-of-range
	// argument.
	DefaultFalsePositiveRate = 0.01
	// MinFalsePositiveRate is the lowest target rate NewBloom accepts; lower
	// arguments are raised to it (eight bits set per item suit rates from a
	// few per cent down to this).
	MinFalsePositiveRate = 1e-4
	// MaxFalsePositiveRate is the highest target rate NewBloom accepts.
	MaxFalsePositiveRate = 0.5
	// DefaultBloomExpected is the expected count NewBloom uses for an
	// argument ≤ 0, and the zero Bloom adopts.
	DefaultBloomExpected = 4096
	// MaxBloomExpected is the largest expected count NewBloom accepts;
	// larger arguments are lowered to it.
	MaxBloomExpected = 1 << 32

	bloomVersion      = 1
	bloomWords        = 8 // 32-bit words per block
	bloomBlockBytes   = bloomWords * 4
	bloomMaxLevel     = 16 // stage capacities up to n0·2^16
	bloomMaxPerLevel  = 8  // stages of one level a Union may leave
	bloomMaxStages    = 1024
	bloomMaxBlocks    = 1 << 26
	bloomMinStageRate = 1e-10
	bloomMaxCapacity  = 1 << 44
	bloomHeaderMax    = 1 + binary.MaxVarintLen64 + 8 + binary.MaxVarintLen64
	bloomStageHdrMax  = 1 + 2*binary.MaxVarintLen64
)

// Bloom is a scalable split-block bloom filter over 64-bit hashes with a
// bounded false-positive rate and no false negatives (see the design note
// above). The zero value is an empty filter with DefaultBloomExpected and
// DefaultFalsePositiveRate, which it adopts on its first Add or encoding, or
// it takes the parameters of the filter it is Union-ed with.
//
// A Bloom is not safe for concurrent use when any goroutine calls a mutating
// method (Add, Union, UnmarshalBinary); MayContain, Len, SizeBytes,
// FalsePositiveRate and MarshalBinary may run concurrently with each other.
type Bloom struct {
	expected uint64  // capacity of a level-0 stage
	rate     float64 // target compound false-positive rate
	stages   []bloomStage
}

// bloomStage is one split-block filter of the chain.
type bloomStage struct {
	level    uint8
	count    uint64 // items added, or estimated after a Union
	capacity uint64 // items this stage holds at its rate
	seed     uint64 // re-mixing seed of the level
	blocks   []bloomBlock
}

// bloomBlock is 256 bits: one bit per word is set for each item.
type bloomBlock [bloomWords]uint32

// NewBloom returns an empty filter sized for expected distinct items at a
// false-positive rate of fpRate, keeping that rate as the count grows past
// expected (up to 131,071 times expected). An expected count ≤ 0 is replaced
// by DefaultBloomExpected and one above MaxBloomExpected lowered to it; a
// rate that is not a number in (0, 1) is replaced by
// DefaultFalsePositiveRate, then clamped to [MinFalsePositiveRate,
// MaxFalsePositiveRate]. No memory is allocated for bits before the first
// Add.
func NewBloom(expected int, fpRate float64) *Bloom {
	e := uint64(DefaultBloomExpected)
	if expected > 0 {
		e = min(uint64(expected), MaxBloomExpected)
	}
	if math.IsNaN(fpRate) || fpRate <= 0 || fpRate >= 1 {
		fpRate = DefaultFalsePositiveRate
	}
	fpRate = min(max(fpRate, MinFalsePositiveRate), MaxFalsePositiveRate)
	return &Bloom{expected: e, rate: fpRate}
}

// Add records hash, a well-mixed 64-bit hash of an item (xxhash of a trace
// ID or of a term). Adding a hash that MayContain already reports is a no-op.
// Add allocates only when it starts a stage.
func (f *Bloom) Add(hash uint64) {
	if f.MayContain(hash) {
		return
	}
	if f.expected == 0 {
		*f = *NewBloom(0, 0)
	}
	s := f.writable()
	s.insert(hash)
	s.count++
}

// MayContain reports whether hash may have been added: false is certain,
// true is wrong at about the filter's false-positive rate. It does not
// allocate.
func (f *Bloom) MayContain(hash uint64) bool {
	// Newest first: in a grown filter most items are in the largest stage.
	for i := len(f.stages) - 1; i >= 0; i-- {
		if f.stages[i].has(hash) {
			return true
		}
	}
	return false
}

// Len returns the number of items that changed the filter: distinct added
// hashes, less the few that were already false positives. After a Union it
// is an estimate (see Union).
func (f *Bloom) Len() int {
	var n uint64
	for i := range f.stages {
		n += f.stages[i].count
	}
	return int(min(n, math.MaxInt))
}

// SizeBytes returns the memory the filter holds, bits and bookkeeping; the
// encoding is about as large.
func (f *Bloom) SizeBytes() int {
	n := 48 // the Bloom struct and slice header
	for i := range f.stages {
		n += 48 + len(f.stages[i].blocks)*bloomBlockBytes
	}
	return n
}

// FalsePositiveRate returns the filter's false-positive rate estimated from
// the fill of its stages: at most the target rate unless a Union merged more
// than fits (see Union), or the filter has grown past 131,071 times its
// expected count.
func (f *Bloom) FalsePositiveRate() float64 {
	pass := 1.0
	for i := range f.stages {
		s := &f.stages[i]
		pass *= 1 - sbbfRate(float64(s.count)/float64(len(s.blocks)))
	}
	return 1 - pass
}

// Union adds every item of other to f, so that f reports everything either
// reported. Both must have been made with the same expected count and rate
// (a zero Bloom takes other's), or Union returns ErrIncompatible and leaves f
// unchanged; other is never changed.
//
// Stages of the same level have the same blocks and are merged with a
// bitwise OR when the union of their items, estimated from the bits set
// (n ≈ -32·blocks·ln(zero fraction), since E[(31/32)^j] = e^{-λ/32} for
// Poisson loads), fits the level's capacity; that is the case when the pieces
// were built with the expected count of the whole and hold what it expects.
// Otherwise the stage of other is kept beside f's (up to eight per level,
// past which it is OR-ed anyway), which bounds the rate of the union by the
// sum of the two rates instead of letting one overfull stage exceed both.
// FalsePositiveRate tells what came out.
func (f *Bloom) Union(other *Bloom) error {
	if other == f || other.expected == 0 {
		return nil // nothing to add: other is f, or a zero Bloom
	}
	expected, rate := f.expected, f.rate
	if expected == 0 {
		expected, rate = other.expected, other.rate
	}
	if other.expected != expected || other.rate != rate {
		return ErrIncompatible
	}
	if n := len(f.stages) + len(other.stages); n > bloomMaxStages {
		return fmt.Errorf("%w: a union of %d stages", ErrIncompatible, n)
	}
	f.expected, f.rate = expected, rate
	for i := range other.stages {
		ob := &other.stages[i]
		best, fits := -1, false
		var est uint64
		same := 0
		for j := range f.stages {
			fs := &f.stages[j]
			if fs.level != ob.level {
				continue
			}
			same++
			if len(fs.blocks) != len(ob.blocks) {
				// Built elsewhere, by a machine whose floating point
				// sized the level one block apart: keep it beside.
				continue
			}
			e := unionEstimate(fs, ob)
			if e <= fs.capacity {
				best, fits, est = j, true, e
				break
			}
			if best < 0 || e < est {
				best, est = j, e
			}
		}
		switch {
		case fits || (best >= 0 && same >= bloomMaxPerLevel):
			fs := &f.stages[best]
			for b := range fs.blocks {
				for w := range bloomWords {
					fs.blocks[b][w] |= ob.blocks[b][w]
				}
			}
			fs.count = est
		default:
			f.stages = append(f.stages, bloomStage{
				level:    ob.level,
				count:    ob.count,
				capacity: ob.capacity,
				seed:     ob.seed,
				blocks:   slices.Clone(ob.blocks),
			})
		}
	}
	// Keep levels in order so the last stage is the one Add writes to.
	slices.SortStableFunc(f.stages, func(a, b bloomStage) int { return int(a.level) - int(b.level) })
	return nil
}

// unionEstimate estimates the number of distinct items of the bitwise OR of
// two stages of the same geometry, clamped to what is possible.
func unionEstimate(a, b *bloomStage) uint64 {
	var ones uint64
	for i := range a.blocks {
		for w := range bloomWords {
			ones += uint64(bits.OnesCount32(a.blocks[i][w] | b.blocks[i][w]))
		}
	}
	total := uint64(len(a.blocks)) * bloomBlockBytes * 8
	lo, hi := max(a.count, b.count), a.count+b.count
	if ones >= total {
		return hi
	}
	zeros := float64(total-ones) / float64(total)
	est := -32 * float64(len(a.blocks)) * math.Log(zeros)
	if est >= float64(hi) {
		return hi
	}
	return max(uint64(est+0.5), lo)
}

// writable returns the stage Add writes to, starting one when the newest is
// full.
func (f *Bloom) writable() *bloomStage {
	n := len(f.stages)
	if n > 0 {
		last := &f.stages[n-1]
		if last.count < last.capacity || last.level >= bloomMaxLevel {
			return last
		}
		f.stages = append(f.stages, f.newStage(last.level+1))
	} else {
		f.stages = append(f.stages, f.newStage(0))
	}
	return &f.stages[len(f.stages)-1]
}

// newStage allocates an empty stage of the given level.
func (f *Bloom) newStage(level uint8) bloomStage {
	capacity := f.levelCapacity(level)
	return bloomStage{
		level:    level,
		capacity: capacity,
		seed:     levelSeed(level),
		blocks:   make([]bloomBlock, blocksFor(capacity, f.levelRate(level))),
	}
}

// levelCapacity returns n0·2^level, saturated.
func (f *Bloom) levelCapacity(level uint8) uint64 {
	if f.expected > bloomMaxCapacity>>level {
		return bloomMaxCapacity
	}
	return f.expected << level
}

// levelRate returns P·(1-r)·r^level for r = 1/2, floored.
func (f *Bloom) levelRate(level uint8) float64 {
	return max(math.Ldexp(f.rate, -int(level)-1), bloomMinStageRate)
}

// levelSeed returns the re-mixing seed of a level.
func levelSeed(level uint8) uint64 {
	return (uint64(level) + 1) * 0x9e3779b97f4a7c15
}

// blocksFor returns the number of blocks a stage of capacity items at rate
// p needs.
func blocksFor(capacity uint64, p float64) int {
	n := math.Ceil(float64(capacity) / sbbfLoad(p))
	return int(min(max(n, 1), bloomMaxBlocks))
}

// sbbfLoad returns the largest mean block load λ with sbbfRate(λ) ≤ p, by
// bisection (sbbfRate increases with λ).
func sbbfLoad(p float64) float64 {
	lo, hi := 1e-3, 256.0
	for range 60 {
		mid := (lo + hi) / 2
		if sbbfRate(mid) <= p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// sbbfRate returns the false-positive rate of a split-block filter whose
// blocks hold lambda items on average: Σ_j Poisson(j; λ)·(1-(31/32)^j)^8.
func sbbfRate(lambda float64) float64 {
	if !(lambda > 0) {
		return 0
	}
	if lambda > 600 { // e^{-λ} underflows; the filter is saturated
		return 1
	}
	term := math.Exp(-lambda) // Poisson(j; λ)
	zero := 1.0               // (31/32)^j
	sum := 0.0
	last := int(lambda + 12*math.Sqrt(lambda) + 32)
	for j := 0; j <= last; j++ {
		t := 1 - zero
		t *= t
		t *= t
		t *= t
		sum += term * t
		zero *= 31.0 / 32
		term *= lambda / float64(j+1)
	}
	return min(sum, 1)
}

// mix is the murmur3 64-bit finalizer: a bijection with full avalanche.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// locate returns the block of hash in s and the eight word masks.
func (s *bloomStage) locate(hash uint64) (*bloomBlock, [bloomWords]uint32) {
	x := mix(hash ^ s.seed)
	i := ((x >> 32) * uint64(len(s.blocks))) >> 32
	k := uint32(x)
	return &s.blocks[i], [bloomWords]uint32{
		1 << ((k * 0x47b6137b) >> 27),
		1 << ((k * 0x44974d91) >> 27),
		1 << ((k * 0x8824ad5b) >> 27),
		1 << ((k * 0xa2b7289d) >> 27),
		1 << ((k * 0x705495c7) >> 27),
		1 << ((k * 0x2df1424b) >> 27),
		1 << ((k * 0x9efc4947) >> 27),
		1 << ((k * 0x5c6bfb31) >> 27),
	}
}

// has reports whether all eight bits of hash are set in s.
func (s *bloomStage) has(hash uint64) bool {
	b, m := s.locate(hash)
	miss := ^b[0]&m[0] | ^b[1]&m[1] | ^b[2]&m[2] | ^b[3]&m[3] |
		^b[4]&m[4] | ^b[5]&m[5] | ^b[6]&m[6] | ^b[7]&m[7]
	return miss == 0
}

// insert sets the eight bits of hash in s.
func (s *bloomStage) insert(hash uint64) {
	b, m := s.locate(hash)
	for w := range bloomWords {
		b[w] |= m[w]
	}
}

// Encoding, version 1, integers little-endian:
//
//	version      1 byte, 1
//	expected     uvarint
//	rate         8 bytes, IEEE 754 bits
//	stages       uvarint
//	per stage    level (1 byte), count (uvarint), blocks (uvarint),
//	             blocks·32 bytes of words
//	checksum     4 bytes, CRC-32C of everything before
//
// Stages appear in nondecreasing level.

// MarshalBinary encodes the filter; it implements encoding.BinaryMarshaler.
func (f *Bloom) MarshalBinary() ([]byte, error) {
	return f.AppendBinary(nil)
}

// AppendBinary appends the encoding of the filter to b; it implements
// encoding.BinaryAppender.
func (f *Bloom) AppendBinary(b []byte) ([]byte, error) {
	if f.expected == 0 {
		return NewBloom(0, 0).AppendBinary(b)
	}
	size := bloomHeaderMax + 4
	for i := range f.stages {
		size += bloomStageHdrMax + len(f.stages[i].blocks)*bloomBlockBytes
	}
	b = slices.Grow(b, size)
	start := len(b)
	b = append(b, bloomVersion)
	b = binary.AppendUvarint(b, f.expected)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f.rate))
	b = binary.AppendUvarint(b, uint64(len(f.stages)))
	for i := range f.stages {
		s := &f.stages[i]
		b = append(b, s.level)
		b = binary.AppendUvarint(b, s.count)
		b = binary.AppendUvarint(b, uint64(len(s.blocks)))
		for _, blk := range s.blocks {
			for _, w := range blk {
				b = binary.LittleEndian.AppendUint32(b, w)
			}
		}
	}
	return binary.LittleEndian.AppendUint32(b, checksum(b[start:])), nil
}

// UnmarshalBinary replaces the filter with the one encoded in data; it
// implements encoding.BinaryUnmarshaler. It returns an error wrapping
// ErrVersion or ErrCorrupt, and leaves the filter unchanged, for data it
// cannot decode; it never panics and allocates no more than len(data) for
// bits.
func (f *Bloom) UnmarshalBinary(data []byte) error {
	g, err := decodeBloom(data)
	if err != nil {
		return err
	}
	*f = g
	return nil
}

// decodeBloom decodes and validates one encoding.
func decodeBloom(data []byte) (Bloom, error) {
	if len(data) == 0 {
		return Bloom{}, fmt.Errorf("%w: bloom: empty", ErrCorrupt)
	}
	if data[0] != bloomVersion {
		return Bloom{}, fmt.Errorf("%w: bloom version %d", ErrVersion, data[0])
	}
	body, err := verifyChecksum(data)
	if err != nil {
		return Bloom{}, fmt.Errorf("bloom: %w", err)
	}
	r := reader{b: body[1:]}
	expected := r.uvarint()
	rate := math.Float64frombits(r.uint64())
	n := r.uvarint()
	if r.err != nil {
		return Bloom{}, fmt.Errorf("%w: bloom header", ErrCorrupt)
	}
	if expected < 1 || expected > MaxBloomExpected || !(rate >= MinFalsePositiveRate && rate <= MaxFalsePositiveRate) {
		return Bloom{}, fmt.Errorf("%w: bloom parameters", ErrCorrupt)
	}
	if n > bloomMaxStages || n > uint64(len(r.b))/(3+bloomBlockBytes) {
		return Bloom{}, fmt.Errorf("%w: bloom: %d stages", ErrCorrupt, n)
	}
	f := Bloom{expected: expected, rate: rate}
	if n > 0 {
		f.stages = make([]bloomStage, 0, n)
	}
	for i := range int(n) {
		level := r.byte()
		count := r.uvarint()
		nb := r.uvarint()
		if r.err != nil || level > bloomMaxLevel || nb < 1 || nb > bloomMaxBlocks || nb > uint64(len(r.b))/bloomBlockBytes {
			return Bloom{}, fmt.Errorf("%w: bloom stage %d", ErrCorrupt, i)
		}
		if i > 0 && level < f.stages[i-1].level {
			return Bloom{}, fmt.Errorf("%w: bloom stage %d out of order", ErrCorrupt, i)
		}
		words := r.take(int(nb) * bloomBlockBytes)
		s := bloomStage{
			level:    level,
			count:    count,
			capacity: f.levelCapacity(level),
			seed:     levelSeed(level),
			blocks:   make([]bloomBlock, nb),
		}
		for b := range s.blocks {
			for w := range bloomWords {
				s.blocks[b][w] = binary.LittleEndian.Uint32(words[(b*bloomWords+w)*4:])
			}
		}
		f.stages = append(f.stages, s)
	}
	if len(r.b) != 0 {
		return Bloom{}, fmt.Errorf("%w: bloom: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	return f, nil
}
