package storage

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// BlockDuration is the block length for a storage window: 2 h where it
// divides the window, else 1 h (windows are whole hours).
func BlockDuration(window time.Duration) time.Duration {
	if window%(2*time.Hour) == 0 {
		return 2 * time.Hour
	}
	return time.Hour
}

// Prom turns a write of Prometheus-model series into partition batches:
// per series, its definition and postings once per window, its exemplars,
// and its samples in the partition's write-through record of each block
// they fall in (one record per partition and block); per metric family
// with metadata, the metadata in the family's partition.
//
// Every series is checked first: labels (tsdb.ValidateLabels, after
// sorting and dropping empty values, unless req.Checked), sample times
// (retention, the future bound, no times before 1970) and native
// histograms. With strict (remote write) one bad series rejects the whole
// request and nothing is built; otherwise (OTLP) only that series' samples
// are rejected. Accepted counts samples, histogram samples included.
//
// Series are taken in request order, each written at once into its
// partition's buffers (the request's memory is read once, in order), and
// the partitions' batches are assembled at the end.
func (b *Builder) Prom(req *tsdb.WriteRequest, strict bool) BuildResult {
	now := b.now()
	bounds := b.timeBounds(now)
	var r BuildResult
	pb := b.promParts()
	accepted := 0
	// First every series is checked and hashed; then the seen cache is
	// probed for the definitions of all of them in one tight loop, whose
	// independent loads the CPU overlaps (one probe is a cache miss: done
	// one by one among the rest of the work they cost as much as the rest
	// of the build); then each series is written out.
	b.hashes = slices.Grow(b.hashes[:0], len(req.Series))[:len(req.Series)]
	for i := range req.Series {
		s := &req.Series[i]
		b.hashes[i] = 0
		n := len(s.Samples) + len(s.Histograms)
		if !req.Checked {
			tsdb.SortLabels(s.Labels)
			s.Labels = tsdb.DropEmpty(s.Labels)
			if err := tsdb.ValidateLabels(s.Labels); err != nil {
				r.rejectN(max(n, 1), ReasonInvalid, "series %s: %v", seriesName(s.Labels), err)
				continue
			}
		}
		if reason, problem := bounds.check(s); reason != "" {
			r.rejectN(max(n, 1), reason, "series %s: %s", seriesName(s.Labels), problem)
			continue
		}
		if strict && r.Rejected > 0 || n == 0 && len(s.Exemplars) == 0 {
			continue // nothing to store, or nothing will be
		}
		b.hashes[i], b.hashBuf = tsdb.SeriesHashBuf(s.Labels, b.hashBuf)
		if b.hashes[i] == 0 {
			b.hashes[i] = 1 // 0 marks a skipped series
		}
	}
	if strict && r.Rejected > 0 {
		return r
	}
	b.known = slices.Grow(b.known[:0], len(req.Series))[:len(req.Series)]
	for i := range req.Series {
		b.known[i] = b.hashes[i] != 0 && b.seen.Contains(seriesSeenKey(b.hashes[i], b.firstWindow(&req.Series[i])))
	}
	for i := range req.Series {
		h := b.hashes[i]
		if h == 0 {
			continue
		}
		s := &req.Series[i]
		n := len(s.Samples) + len(s.Histograms)
		acc := pb.part(PartitionOf(h, b.cfg.Partitions))
		acc.records += n
		name := "" // named in the record only with its definition (see tsdb.HeadConfig.Names)
		if b.addSeriesIndex(acc, h, s, b.known[i]) {
			name = tsdb.MetricName(s.Labels)
		}
		b.addExemplars(acc, h, s, bounds)
		if n > 0 {
			acc.addSamples(b.blockMs, h, name, s)
		}
		accepted += n
	}
	if strict && r.Rejected > 0 {
		return r
	}
	for _, m := range req.Metadata {
		if m.Family != "" {
			b.addMetadata(pb.part(PartitionOf(FamilyHash(m.Family), b.cfg.Partitions)), m, now)
		}
	}
	r.Accepted = accepted
	b.assemble(pb, &r)
	return r
}

// promParts returns the builder's per-partition buffers, emptied.
func (b *Builder) promParts() *promBatches {
	if b.prom == nil {
		b.prom = &promBatches{acc: make([]*partAcc, b.cfg.Partitions)}
	}
	for _, p := range b.prom.used {
		b.prom.acc[p].reset()
	}
	b.prom.used = b.prom.used[:0]
	return b.prom
}

// promBatches is one request's output, partition by partition.
type promBatches struct {
	acc  []*partAcc // by partition, nil until used once
	used []uint32   // partitions with output in this request
}

func (pb *promBatches) part(p uint32) *partAcc {
	a := pb.acc[p]
	if a == nil {
		a = &partAcc{p: p}
		pb.acc[p] = a
	}
	if !a.used {
		a.used = true
		pb.used = append(pb.used, p)
	}
	return a
}

// partAcc gathers one partition's output of a request: framed entries
// (definitions, postings, exemplars, metadata), the series of its record
// of each block, and the write-once keys it carries.
type partAcc struct {
	p       uint32
	used    bool
	records int
	entries []byte
	blocks  []blockRecord
	seen    []uint64
	local   map[uint64]struct{} // write-once keys already in this request
	key     []byte
}

// blockRecord is the series of one record being written.
type blockRecord struct {
	start  int64
	series int
	body   []byte
}

func (a *partAcc) reset() {
	a.used, a.records = false, 0
	a.entries = a.entries[:0]
	for i := range a.blocks {
		a.blocks[i].series, a.blocks[i].body = 0, a.blocks[i].body[:0]
	}
	a.blocks = a.blocks[:0]
	a.seen = a.seen[:0]
	clear(a.local)
}

// once reports whether write-once key h (hashed already) still has to be
// written: neither the seen cache nor this request has it.
func (a *partAcc) once(seen *SeenCache, h uint64) bool {
	if seen.Contains(h) {
		return false
	}
	if _, ok := a.local[h]; ok {
		return false
	}
	if a.local == nil {
		a.local = make(map[uint64]struct{})
	}
	a.local[h] = struct{}{}
	a.seen = append(a.seen, h)
	return true
}

func (a *partAcc) block(start int64) *blockRecord {
	for i := range a.blocks {
		if a.blocks[i].start == start {
			return &a.blocks[i]
		}
	}
	if len(a.blocks) < cap(a.blocks) {
		a.blocks = a.blocks[:len(a.blocks)+1]
		br := &a.blocks[len(a.blocks)-1]
		br.start = start
		return br
	}
	a.blocks = append(a.blocks, blockRecord{start: start})
	return &a.blocks[len(a.blocks)-1]
}

// addSamples adds a series' samples to the records of the blocks they
// fall in (almost always one).
func (a *partAcc) addSamples(blockMs int64, hash uint64, name string, s *tsdb.Series) {
	first, one := int64(-1), true
	for _, smp := range s.Samples {
		if bs := smp.T - smp.T%blockMs; first < 0 {
			first = bs
		} else if bs != first {
			one = false
		}
	}
	for _, hs := range s.Histograms {
		if bs := hs.T - hs.T%blockMs; first < 0 {
			first = bs
		} else if bs != first {
			one = false
		}
	}
	if one {
		br := a.block(first)
		br.body = tsdb.AppendRecordSeries(br.body, hash, name, s.Samples, s.Histograms)
		br.series++
		return
	}
	byBlock := map[int64]*tsdb.Series{}
	var order []int64
	get := func(bs int64) *tsdb.Series {
		if x := byBlock[bs]; x != nil {
			return x
		}
		x := &tsdb.Series{}
		byBlock[bs] = x
		order = append(order, bs)
		return x
	}
	for _, smp := range s.Samples {
		x := get(smp.T - smp.T%blockMs)
		x.Samples = append(x.Samples, smp)
	}
	for _, hs := range s.Histograms {
		x := get(hs.T - hs.T%blockMs)
		x.Histograms = append(x.Histograms, hs)
	}
	for _, bs := range order {
		br := a.block(bs)
		br.body = tsdb.AppendRecordSeries(br.body, hash, name, byBlock[bs].Samples, byBlock[bs].Histograms)
		br.series++
	}
}

// assemble builds the request's batches, in partition order, in one
// buffer: each partition's entries, then its records.
func (b *Builder) assemble(pb *promBatches, r *BuildResult) {
	slices.Sort(pb.used)
	size := 0
	for _, p := range pb.used {
		a := pb.acc[p]
		size += len(a.entries)
		for _, br := range a.blocks {
			size += len(br.body) + recordKeyLen + 32
		}
	}
	w := partWriter{buf: make([]byte, 0, size)}
	for _, p := range pb.used {
		a := pb.acc[p]
		w.begin(p)
		w.cur.Records = a.records
		w.buf = append(w.buf, a.entries...)
		for _, br := range a.blocks {
			b.key = recordKey(b.key[:0], p, br.start, 0, 0)
			b.val = tsdb.AppendRecordHeader(b.val[:0], br.series)
			b.val = append(b.val, br.body...)
			w.add(windowOfMs(br.start, b.windowSeconds), b.key, b.val)
		}
		w.cur.Seen = slices.Clone(a.seen)
	}
	w.result(r)
}

// sampleBounds are the sample times (ms) a request may hold.
type sampleBounds struct {
	oldest, newest int64 // inclusive; newest is 0 without a future bound
}

func (b *Builder) timeBounds(now time.Time) sampleBounds {
	sb := sampleBounds{oldest: 0, newest: math.MaxInt64}
	if r := b.cfg.Retention[starlingpb.Signal_SIGNAL_METRICS]; r > 0 {
		sb.oldest = max(0, now.Add(-r).UnixMilli())
	}
	if b.cfg.MaxFuture > 0 {
		sb.newest = now.Add(b.cfg.MaxFuture).UnixMilli()
	}
	return sb
}

// reason classifies a sample time, "" when it is within bounds.
func (sb sampleBounds) reason(t int64) (string, string) {
	switch {
	case t < 0:
		return ReasonInvalid, fmt.Sprintf("sample time %d is before 1970", t)
	case t < sb.oldest:
		return ReasonTooOld, fmt.Sprintf("sample time %s %s", time.UnixMilli(t).UTC().Format(time.RFC3339Nano), timeProblem(ReasonTooOld))
	case t > sb.newest:
		return ReasonTooNew, fmt.Sprintf("sample time %s %s", time.UnixMilli(t).UTC().Format(time.RFC3339Nano), timeProblem(ReasonTooNew))
	}
	return "", ""
}

func (sb sampleBounds) ok(t int64) bool { return t >= sb.oldest && t <= sb.newest && t >= 0 }

// check returns why a series' samples cannot be stored, or "".
func (sb sampleBounds) check(s *tsdb.Series) (reason, problem string) {
	for _, smp := range s.Samples {
		if !sb.ok(smp.T) {
			return sb.reason(smp.T)
		}
	}
	for _, hs := range s.Histograms {
		if !sb.ok(hs.T) {
			return sb.reason(hs.T)
		}
		if err := validateHistogram(hs); err != nil {
			return ReasonInvalid, fmt.Sprintf("native histogram at %d: %v", hs.T, err)
		}
	}
	return "", ""
}

func validateHistogram(hs tsdb.HistogramSample) error {
	switch {
	case hs.H != nil && hs.FH != nil, hs.H == nil && hs.FH == nil:
		return errors.New("exactly one of integer and float counts must be set")
	case hs.H != nil:
		return hs.H.Validate()
	}
	if math.IsNaN(hs.FH.Count) || math.IsInf(hs.FH.Count, 0) {
		return errors.New("count is not a number")
	}
	return hs.FH.Validate()
}

// seriesName renders a series for an error message, bounded.
func seriesName(ls []tsdb.Label) string {
	s := tsdb.LabelsString(ls)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// windowOfMs returns the window start (unix seconds) holding t (ms ≥ 0).
func windowOfMs(t int64, windowSeconds int64) int64 {
	s := t / 1000
	return s - s%windowSeconds
}

// appendSeriesIndex appends to dst the index entries of one series in
// window win of an index: its definition def (of labels ls), its name
// marker and its postings. key is scratch, returned grown.
func appendSeriesIndex(dst, key []byte, ix indexKinds, win int64, p uint32, hash uint64, def []byte, ls []tsdb.Label) ([]byte, []byte) {
	key = ix.seriesKey(key[:0], p, hash)
	dst = appendEntry(dst, win, key, def)
	key = ix.markerKey(key[:0], p, tsdb.MetricName(ls))
	dst = appendEntry(dst, win, key, nil)
	for _, l := range ls {
		key = ix.postingKey(key[:0], p, l, hash)
		dst = appendEntry(dst, win, key, nil)
	}
	return dst, key
}

// firstWindow is the window of a series' first sample (or histogram, or
// exemplar): the one its definition is probed for before the build.
func (b *Builder) firstWindow(s *tsdb.Series) int64 {
	switch {
	case len(s.Samples) > 0:
		return windowOfMs(s.Samples[0].T, b.windowSeconds)
	case len(s.Histograms) > 0:
		return windowOfMs(s.Histograms[0].T, b.windowSeconds)
	}
	for _, e := range s.Exemplars {
		if e.HasT {
			return windowOfMs(e.T, b.windowSeconds)
		}
	}
	return -1
}

// addSeriesIndex adds the series definition and its postings to every
// window its samples fall in, once per window. known says the seen cache
// has the definition of the first window (probed before). It reports
// whether it added a definition.
func (b *Builder) addSeriesIndex(a *partAcc, hash uint64, s *tsdb.Series, known bool) bool {
	added := false
	last := int64(-1)
	first := b.firstWindow(s)
	each := func(t int64) {
		win := windowOfMs(t, b.windowSeconds)
		if win == last {
			return
		}
		last = win
		switch key := seriesSeenKey(hash, win); {
		case win == first && known:
			return
		case win == first:
			if !a.once(nil, key) { // probed already: only this request may have it
				return
			}
		case !a.once(b.seen, key):
			return
		}
		b.val = encodeSeriesDef(b.val[:0], s.Labels)
		a.entries, a.key = appendSeriesIndex(a.entries, a.key, mainIndex, win, a.p, hash, b.val, s.Labels)
		added = true
	}
	for _, smp := range s.Samples {
		each(smp.T)
	}
	for _, hs := range s.Histograms {
		each(hs.T)
	}
	if len(s.Samples)+len(s.Histograms) == 0 {
		// Exemplars alone (senders send them so): index the series where
		// they are, so exemplar queries find it.
		for _, e := range s.Exemplars {
			if e.HasT {
				each(e.T)
			}
		}
	}
	return added
}

// seriesSeenKey is the seen-cache key of a series' definition and postings
// in a window: the series hash is a hash already, mixed with the window.
func seriesSeenKey(series uint64, window int64) uint64 {
	return (series ^ uint64(window)*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9
}

func (b *Builder) addExemplars(a *partAcc, hash uint64, s *tsdb.Series, bounds sampleBounds) {
	// An invalid exemplar is dropped, the samples kept (as Prometheus does).
	for _, e := range s.Exemplars {
		tsdb.SortLabels(e.Labels)
		if tsdb.ValidateExemplarLabels(e.Labels) != nil {
			continue
		}
		t := e.T
		if !e.HasT {
			t = lastSampleTime(s)
		}
		// An exemplar out of the store's time bounds is dropped, not the
		// samples.
		if t <= 0 || !bounds.ok(t) {
			continue
		}
		b.val = encodeExemplar(b.val[:0], e)
		a.key = exemplarKey(a.key[:0], a.p, hash, t, uint32(xxhash.Sum64(b.val)))
		a.entries = appendEntry(a.entries, windowOfMs(t, b.windowSeconds), a.key, b.val)
	}
}

func lastSampleTime(s *tsdb.Series) int64 {
	t := int64(0)
	for _, smp := range s.Samples {
		t = max(t, smp.T)
	}
	for _, hs := range s.Histograms {
		t = max(t, hs.T)
	}
	return t
}

func (b *Builder) addMetadata(a *partAcc, m tsdb.Metadata, now time.Time) {
	win := windowOfMs(now.UnixMilli(), b.windowSeconds)
	b.val = encodeMetadata(b.val[:0], m)
	a.key = metadataKey(a.key[:0], a.p, m.Family)
	// Once per window per content: a changed help text is written again.
	if a.once(b.seen, seenKey(byte(starlingpb.Signal_SIGNAL_METRICS), win, append(a.key, b.val...))) {
		a.entries = appendEntry(a.entries, win, a.key, b.val)
	}
}

// rejectN records n rejected records with one message.
func (r *BuildResult) rejectN(n int, reason, format string, args ...any) {
	r.reject(reason, format, args...)
	r.Rejected += n - 1
	r.Reasons[reason] += n - 1
}
