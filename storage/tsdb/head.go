package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// HeadConfig configures the head of one partition copy.
type HeadConfig struct {
	// BlockDuration is the time span of one block in milliseconds: every
	// series gets one chunk key per block (or more, past MaxChunkSamples).
	// It must divide the storage window.
	BlockDuration int64
	// OutOfOrder is how long, in milliseconds, a block keeps taking samples
	// after its end before it is flushed: the newest sample time of the
	// partition (or the wall clock, for a partition that stopped getting
	// samples) must pass the block's end by this much. Samples that come
	// later reopen the block (see LateFlushDelay).
	OutOfOrder int64
	// LateFlushDelay is the longest a block reopened by late samples
	// gathers them before it is flushed (merged with the chunks already
	// stored), and LateFlushIdle how long it waits after the last of them:
	// a backfill is flushed once it stops, a steady trickle of late
	// samples once per LateFlushDelay.
	LateFlushDelay time.Duration
	LateFlushIdle  time.Duration
	// Now is the wall clock (tests move it).
	Now func() time.Time
	// Names looks up the metric names records leave out (nil: such
	// series count under the empty name).
	Names SeriesNames
}

// SeriesNames finds the metric name of a series by its hash. A record
// names a series only in the batch that also writes its definition; the
// head asks for the others' names when it first holds them (after a
// restart, or when a series comes back after a flush). Called from Append
// under the head's lock, so calls do not overlap for one head; it must not
// call the head.
type SeriesNames interface {
	MetricName(hash uint64) string
}

// DefaultHeadConfig is 2 h blocks, a 10 min out-of-order window and late
// samples gathered for 30 s.
func DefaultHeadConfig() HeadConfig {
	return HeadConfig{BlockDuration: 2 * 3600 * 1000, OutOfOrder: 10 * 60 * 1000, LateFlushDelay: 30 * time.Second, LateFlushIdle: 5 * time.Second, Now: time.Now}
}

// Validate reports the first invalid field.
func (c HeadConfig) Validate() error {
	switch {
	case c.BlockDuration <= 0 || c.BlockDuration%(60*1000) != 0:
		return fmt.Errorf("block duration: %d ms is not a positive whole number of minutes", c.BlockDuration)
	case c.OutOfOrder < 0:
		return fmt.Errorf("out-of-order window: %d ms is negative", c.OutOfOrder)
	case c.LateFlushDelay < 0:
		return fmt.Errorf("late flush delay: %s is negative", c.LateFlushDelay)
	case c.LateFlushIdle < 0:
		return fmt.Errorf("late flush idle time: %s is negative", c.LateFlushIdle)
	}
	return nil
}

// BlockStart returns the start of the block holding time t (ms).
func (c HeadConfig) BlockStart(t int64) int64 {
	s := t - t%c.BlockDuration
	if t < 0 && t%c.BlockDuration != 0 {
		s -= c.BlockDuration
	}
	return s
}

// Head is the samples of one partition copy not yet flushed into chunks:
// its open blocks. The partition actor appends and flushes; queries read
// concurrently. Every method is safe for concurrent use.
type Head struct {
	cfg HeadConfig

	mu     sync.RWMutex
	blocks []*Block // by start, then age
	maxT   int64    // newest sample time appended (the data clock)
	seq    uint64   // last record sequence handed out (see NextSeq)
	active map[uint64]*activeSeries
	names  map[string]int // active series per metric name
}

type activeSeries struct {
	name   string
	blocks int // open blocks holding the series
}

// NewHead returns an empty head.
func NewHead(cfg HeadConfig) (*Head, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Head{cfg: cfg, active: map[uint64]*activeSeries{}, names: map[string]int{}}, nil
}

// Config returns the head's configuration.
func (h *Head) Config() HeadConfig { return h.cfg }

// Block is one open block of a head: the samples of every series with
// times in [Start, End) appended since the block was created. A block
// start may have two Blocks at once: one being flushed and a younger one
// taking the samples that came meanwhile.
type Block struct {
	Start, End int64
	// late: created for samples that came after the block was due (or
	// while it was being flushed); flushed LateFlushIdle after the last
	// append (touched), at most LateFlushDelay after creation.
	late    bool
	created time.Time
	touched time.Time

	flushing bool
	cut      uint64      // records with sequence ≤ cut are in this block (set when flushing)
	index    seriesIndex // series hash → its place in series
	series   []memSeries
	samples  int
}

// get returns the block's series of hash, or nil.
func (b *Block) get(hash uint64) *memSeries {
	if i := b.index.get(hash); i >= 0 {
		return &b.series[i]
	}
	return nil
}

// memSeries is one series' samples in a block: in-order floats in a
// Gorilla chunk, out-of-order and duplicate ones aside, histograms as
// they came (rare). Series live by value in their block's slice, so an
// append touches the index, the series and its chunk's tail.
type memSeries struct {
	hash  uint64
	xor   xorWriter
	ooo   []Sample
	hists []HistogramSample
}

func (s *memSeries) append(t int64, v float64) {
	if (s.xor.n == 0 || t > s.xor.t) && s.xor.n < maxXORSamples {
		s.xor.append(t, v)
		return
	}
	s.ooo = append(s.ooo, Sample{T: t, V: v})
}

// NextSeq returns the sequence number for a record being appended: above
// every record sequence this head handed out or replayed.
func (h *Head) NextSeq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq = max(h.seq+1, uint64(h.cfg.Now().UnixNano()))
	return h.seq
}

// Append adds the samples of one record of block blockStart, sequence seq
// (from NextSeq, or for a replayed record the sequence in its key).
// Samples outside the block are refused (the record is corrupt).
func (h *Head) Append(blockStart int64, seq uint64, record []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq = max(h.seq, seq)
	b := h.openBlock(blockStart)
	if b.late {
		b.touched = h.cfg.Now()
	}
	end := blockStart + h.cfg.BlockDuration
	return DecodeRecord(record, func(rs *RecordSeries) error {
		s := b.get(rs.Hash)
		if s == nil {
			b.index.put(rs.Hash, int32(len(b.series)))
			b.series = append(b.series, memSeries{hash: rs.Hash})
			s = &b.series[len(b.series)-1]
			h.addActive(rs.Hash, rs.NameBytes)
		}
		for _, smp := range rs.Samples {
			if smp.T < blockStart || smp.T >= end {
				return fmt.Errorf("%w: sample at %d outside block %d", ErrCorruptRecord, smp.T, blockStart)
			}
			s.append(smp.T, smp.V)
			h.maxT = max(h.maxT, smp.T)
		}
		for _, hs := range rs.Histograms {
			if hs.T < blockStart || hs.T >= end {
				return fmt.Errorf("%w: histogram at %d outside block %d", ErrCorruptRecord, hs.T, blockStart)
			}
			s.hists = append(s.hists, hs)
			h.maxT = max(h.maxT, hs.T)
		}
		b.samples += len(rs.Samples) + len(rs.Histograms)
		return nil
	})
}

// openBlock returns the block taking samples for start, creating it.
func (h *Head) openBlock(start int64) *Block {
	i, _ := slices.BinarySearchFunc(h.blocks, start, func(b *Block, s int64) int { return cmpInt(b.Start, s) })
	for j := i; j < len(h.blocks) && h.blocks[j].Start == start; j++ {
		if !h.blocks[j].flushing {
			return h.blocks[j]
		}
	}
	b := &Block{Start: start, End: start + h.cfg.BlockDuration, created: h.cfg.Now()}
	b.late = h.dueAt(b) || (i < len(h.blocks) && h.blocks[i].Start == start)
	// After every block of the same start: the younger last.
	for i < len(h.blocks) && h.blocks[i].Start == start {
		i++
	}
	h.blocks = slices.Insert(h.blocks, i, b)
	return b
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dueAt reports whether an on-time block is over: the data clock or the
// wall clock passed its end plus the out-of-order window.
func (h *Head) dueAt(b *Block) bool {
	limit := b.End + h.cfg.OutOfOrder
	return h.maxT >= limit || h.cfg.Now().UnixMilli() >= limit
}

func (h *Head) addActive(hash uint64, name []byte) {
	a := h.active[hash]
	if a == nil {
		n := string(name)
		if n == "" && h.cfg.Names != nil {
			n = h.cfg.Names.MetricName(hash)
		}
		a = &activeSeries{name: n}
		h.active[hash] = a
		h.names[a.name]++
	}
	a.blocks++
}

func (h *Head) dropActive(hash uint64) {
	a := h.active[hash]
	if a == nil {
		return
	}
	if a.blocks--; a.blocks > 0 {
		return
	}
	delete(h.active, hash)
	if h.names[a.name]--; h.names[a.name] <= 0 {
		delete(h.names, a.name)
	}
}

// Due marks the blocks to flush now as flushing and returns them, oldest
// first: on-time blocks that are over, late blocks LateFlushIdle after
// their last append or LateFlushDelay after they were created, and with
// all every block (a node stopping). Samples
// appended to a flushing block's start from now on go to a new block.
func (h *Head) Due(all bool) []*Block {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Now()
	var out []*Block
	for _, b := range h.blocks {
		if b.flushing {
			continue
		}
		due := all
		if !due && b.late {
			due = !now.Before(b.created.Add(h.cfg.LateFlushDelay)) || !now.Before(b.touched.Add(h.cfg.LateFlushIdle))
		} else if !due {
			due = h.dueAt(b)
		}
		if due {
			b.flushing = true
			b.cut = h.seq
			out = append(out, b)
		}
	}
	return out
}

// Flushed removes a flushing block whose chunks are committed.
func (h *Head) Flushed(b *Block) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.blocks, b); i >= 0 {
		h.blocks = slices.Delete(h.blocks, i, i+1)
		for i := range b.series {
			h.dropActive(b.series[i].hash)
		}
	}
}

// Unflushed puts back a block whose flush failed: it is due again at the
// next Due.
func (h *Head) Unflushed(b *Block) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b.flushing = false
}

// Cut is the highest record sequence a flushing block holds: every record
// of the block's start with a sequence up to it may be deleted once the
// block's chunks are committed.
func (b *Block) Cut() uint64 { return b.cut }

// Samples is the number of samples appended to the block.
func (b *Block) Samples() int { return b.samples }

// SeriesCount is the number of series in the block.
func (b *Block) SeriesCount() int { return len(b.series) }

// EachSeries calls fn for every series of a flushing block with its float
// samples sorted by time (one per time: of duplicates the last appended)
// and its histogram samples, likewise. The slices are reused between
// calls. Only for blocks returned by Due (no appends run meanwhile).
func (b *Block) EachSeries(fn func(hash uint64, samples []Sample, hists []HistogramSample) error) error {
	if !b.flushing {
		return errors.New("BUG: EachSeries of a block that is not flushing")
	}
	var buf []Sample
	var hbuf []HistogramSample
	for i := range b.series {
		s := &b.series[i]
		buf = s.floats(buf[:0], b.Start, b.End-1)
		hbuf = sortHists(append(hbuf[:0], s.hists...))
		if err := fn(s.hash, buf, hbuf); err != nil {
			return err
		}
	}
	return nil
}

// floats appends the series' float samples in [mint, maxt] sorted and
// deduplicated.
func (s *memSeries) floats(dst []Sample, mint, maxt int64) []Sample {
	start := len(dst)
	if s.xor.n > 0 {
		c, err := chunkenc.FromData(chunkenc.EncXOR, s.xor.chunk(nil))
		if err != nil {
			panic("BUG: head chunk: " + err.Error())
		}
		it := c.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			t, v := it.At()
			if t >= mint && t <= maxt {
				dst = append(dst, Sample{T: t, V: v})
			}
		}
	}
	ordered := len(dst)
	for _, o := range s.ooo {
		if o.T >= mint && o.T <= maxt {
			dst = append(dst, o)
		}
	}
	if len(dst) == ordered {
		return dst
	}
	return dedupSamples(dst, start)
}

// dedupSamples sorts dst[start:] by time, stably, and keeps the last of
// samples with equal times.
func dedupSamples(dst []Sample, start int) []Sample {
	part := dst[start:]
	slices.SortStableFunc(part, func(a, b Sample) int { return cmpInt(a.T, b.T) })
	out := part[:0]
	for i, smp := range part {
		if i+1 < len(part) && part[i+1].T == smp.T {
			continue
		}
		out = append(out, smp)
	}
	return dst[:start+len(out)]
}

func sortHists(hs []HistogramSample) []HistogramSample {
	if len(hs) < 2 {
		return hs
	}
	slices.SortStableFunc(hs, func(a, b HistogramSample) int { return cmpInt(a.T, b.T) })
	out := hs[:0]
	for i, h := range hs {
		if i+1 < len(hs) && hs[i+1].T == h.T {
			continue
		}
		out = append(out, h)
	}
	return out
}

// Read appends to dst the head's float samples of series hash in [mint,
// maxt] (inclusive, as PromQL selects), sorted, one per time, and to hdst
// its histogram samples likewise.
func (h *Head) Read(hash uint64, mint, maxt int64, dst []Sample, hdst []HistogramSample) ([]Sample, []HistogramSample) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	start, hstart := len(dst), len(hdst)
	n := 0
	for _, b := range h.blocks {
		if b.End <= mint || b.Start > maxt {
			continue
		}
		s := b.get(hash)
		if s == nil {
			continue
		}
		n++
		dst = s.floats(dst, mint, maxt)
		for _, hs := range s.hists {
			if hs.T >= mint && hs.T <= maxt {
				hdst = append(hdst, hs)
			}
		}
	}
	if n > 1 {
		dst = dedupSamples(dst, start)
	}
	hdst = append(hdst[:hstart], sortHists(hdst[hstart:])...)
	return dst, hdst
}

// ReadXOR appends to dst the bytes of the open XOR chunk (Prometheus'
// chunkenc.EncXOR) of series hash when that chunk alone holds the
// series' head samples in [mint, maxt]: one block of the range has the
// series, with no out-of-order or histogram samples. The chunk may also
// hold samples outside the range. It returns the chunk's sample count
// (0: the head holds no sample of the series in the range) and first and
// last times; ok false means Read must be used.
func (h *Head) ReadXOR(hash uint64, mint, maxt int64, dst []byte) (out []byte, n int, minT, maxT int64, ok bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var found *memSeries
	for _, b := range h.blocks {
		if b.End <= mint || b.Start > maxt {
			continue
		}
		if s := b.get(hash); s != nil {
			if found != nil {
				return dst, 0, 0, 0, false
			}
			found = s
		}
	}
	if found == nil {
		return dst, 0, 0, 0, true
	}
	if found.xor.n == 0 || len(found.ooo) > 0 || len(found.hists) > 0 {
		return dst, 0, 0, 0, false
	}
	first, k := binary.Varint(found.xor.b[2:])
	if k <= 0 {
		panic("BUG: head chunk without its first timestamp")
	}
	return found.xor.chunk(dst), int(found.xor.n), first, found.xor.t, true
}

// Has reports whether the head holds samples of series hash in [mint, maxt].
func (h *Head) Has(hash uint64, mint, maxt int64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, b := range h.blocks {
		if b.End <= mint || b.Start > maxt {
			continue
		}
		if b.get(hash) != nil {
			return true
		}
	}
	return false
}

// Stats is what a head holds.
type Stats struct {
	Blocks, Series, Samples int
	MaxTime                 int64
}

// Stats returns the head's block, active series and sample counts.
func (h *Head) Stats() Stats {
	h.mu.RLock()
	defer h.mu.RUnlock()
	st := Stats{Blocks: len(h.blocks), Series: len(h.active), MaxTime: h.maxT}
	for _, b := range h.blocks {
		st.Samples += b.samples
	}
	return st
}

// ActiveByName calls fn with every metric name of the head's active series
// and their count.
func (h *Head) ActiveByName(fn func(name string, series int)) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for n, c := range h.names {
		fn(n, c)
	}
}

// IsActive reports whether series hash is in an open block.
func (h *Head) IsActive(hash uint64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.active[hash] != nil
}

// MinBlockStart is the start of the head's oldest open block, or
// math.MaxInt64 when it has none: the blocks before it are flushed.
func (h *Head) MinBlockStart() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	m := int64(math.MaxInt64)
	for _, b := range h.blocks {
		m = min(m, b.Start)
	}
	return m
}
