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

// metricRef is one valid series of a write and where it goes.
type metricRef struct {
	partition uint32
	hash      uint64
	series    int // index in the request, or -1 for metadata
	meta      int // index of the metadata, when series is -1
}

// Prom turns a write of Prometheus-model series into partition batches:
// per series, its definition and postings once per window, its exemplars,
// and its samples in the partition's write-through record of each block
// they fall in (one record per partition and block); per metric family
// with metadata, the metadata in the family's partition.
//
// Every series is checked first: labels (tsdb.ValidateLabels, after
// sorting and dropping empty values), sample times (retention, the future
// bound, no times before 1970) and native histograms. With strict (remote
// write) one bad series rejects the whole request and nothing is built;
// otherwise (OTLP) only that series' samples are rejected. Accepted counts
// samples, histogram samples included.
func (b *Builder) Prom(req *tsdb.WriteRequest, strict bool) BuildResult {
	now := b.now()
	var r BuildResult
	refs := make([]metricRef, 0, len(req.Series)+len(req.Metadata))
	accepted := 0
	for i := range req.Series {
		s := &req.Series[i]
		tsdb.SortLabels(s.Labels)
		s.Labels = tsdb.DropEmpty(s.Labels)
		n := len(s.Samples) + len(s.Histograms)
		if err := tsdb.ValidateLabels(s.Labels); err != nil {
			r.rejectN(max(n, 1), ReasonInvalid, "series %s: %v", seriesName(s.Labels), err)
			continue
		}
		if reason, problem := b.checkSamples(s, now); reason != "" {
			r.rejectN(max(n, 1), reason, "series %s: %s", seriesName(s.Labels), problem)
			continue
		}
		if n == 0 && len(s.Exemplars) == 0 {
			continue // nothing to store
		}
		h := tsdb.SeriesHash(s.Labels)
		refs = append(refs, metricRef{partition: PartitionOf(h, b.cfg.Partitions), hash: h, series: i})
		accepted += n
	}
	if strict && r.Rejected > 0 {
		return r
	}
	for i, m := range req.Metadata {
		if m.Family == "" {
			continue
		}
		refs = append(refs, metricRef{partition: PartitionOf(FamilyHash(m.Family), b.cfg.Partitions), series: -1, meta: i})
	}
	r.Accepted = accepted
	slices.SortStableFunc(refs, func(a, c metricRef) int { return int(a.partition) - int(c.partition) })

	sig := starlingpb.Signal_SIGNAL_METRICS
	w := b.newPartWriter(sig, accepted+len(refs), 48)
	blockMs := BlockDuration(b.cfg.Window).Milliseconds()
	var recs blockRecords
	for i := 0; i < len(refs); {
		p := refs[i].partition
		w.begin(p)
		recs.reset()
		for ; i < len(refs) && refs[i].partition == p; i++ {
			ref := &refs[i]
			if ref.series < 0 {
				b.addMetadata(&w, p, req.Metadata[ref.meta], now)
				continue
			}
			s := &req.Series[ref.series]
			w.cur.Records += len(s.Samples) + len(s.Histograms)
			b.addSeriesIndex(&w, p, ref.hash, s)
			b.addExemplars(&w, p, ref.hash, s)
			if len(s.Samples)+len(s.Histograms) > 0 {
				recs.add(blockMs, ref.hash, s)
			}
		}
		for _, br := range recs.blocks {
			b.key = recordStub(b.key[:0], p, br.start)
			b.val = br.rb.Append(b.val[:0])
			w.add(windowOfMs(br.start, b.windowSeconds), b.key, b.val)
		}
	}
	b.learnSize(sig, &w, accepted+len(refs))
	w.result(&r)
	return r
}

// checkSamples returns why a series' samples cannot be stored, or "".
func (b *Builder) checkSamples(s *tsdb.Series, now time.Time) (reason, problem string) {
	check := func(t int64) (string, string) {
		if t < 0 {
			return ReasonInvalid, fmt.Sprintf("sample time %d is before 1970", t)
		}
		if reason := b.timeCheck(starlingpb.Signal_SIGNAL_METRICS, uint64(t)*1e6, now); reason != "" {
			return reason, fmt.Sprintf("sample time %s %s", time.UnixMilli(t).UTC().Format(time.RFC3339Nano), timeProblem(reason))
		}
		return "", ""
	}
	for _, smp := range s.Samples {
		if reason, problem := check(smp.T); reason != "" {
			return reason, problem
		}
	}
	for _, hs := range s.Histograms {
		if reason, problem := check(hs.T); reason != "" {
			return reason, problem
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

// addSeriesIndex adds the series definition and its postings to every
// window its samples fall in, once per window.
func (b *Builder) addSeriesIndex(w *partWriter, p uint32, hash uint64, s *tsdb.Series) {
	sig := starlingpb.Signal_SIGNAL_METRICS
	last := int64(-1)
	each := func(t int64) {
		win := windowOfMs(t, b.windowSeconds)
		if win == last {
			return
		}
		last = win
		b.key = seriesKey(b.key[:0], p, hash)
		h, need := w.once(b.seen, sig, win, b.key)
		if !need {
			return
		}
		b.val = encodeSeriesDef(b.val[:0], s.Labels)
		w.addOnce(h, win, b.key, b.val)
		for _, l := range s.Labels {
			b.key = postingKey(b.key[:0], p, l, hash)
			w.add(win, b.key, nil)
		}
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
}

func (b *Builder) addExemplars(w *partWriter, p uint32, hash uint64, s *tsdb.Series) {
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
		if t <= 0 || b.timeCheck(starlingpb.Signal_SIGNAL_METRICS, uint64(t)*1e6, b.now()) != "" {
			continue
		}
		b.val = encodeExemplar(b.val[:0], e)
		b.key = exemplarKey(b.key[:0], p, hash, t, uint32(xxhash.Sum64(b.val)))
		w.add(windowOfMs(t, b.windowSeconds), b.key, b.val)
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

func (b *Builder) addMetadata(w *partWriter, p uint32, m tsdb.Metadata, now time.Time) {
	win := windowOfMs(now.UnixMilli(), b.windowSeconds)
	b.val = encodeMetadata(b.val[:0], m)
	b.key = metadataKey(b.key[:0], p, m.Family)
	// Once per window per content: a changed help text is written again.
	h, need := w.once(b.seen, starlingpb.Signal_SIGNAL_METRICS, win, append(b.key, b.val...))
	if need {
		w.addOnce(h, win, b.key, b.val)
	}
}

// blockRecords gathers one partition's samples into one record per block.
type blockRecords struct {
	blocks []blockRecord
	spare  []*tsdb.RecordBuilder
}

type blockRecord struct {
	start int64
	rb    *tsdb.RecordBuilder
}

func (br *blockRecords) reset() {
	for _, b := range br.blocks {
		b.rb.Reset()
		br.spare = append(br.spare, b.rb)
	}
	br.blocks = br.blocks[:0]
}

func (br *blockRecords) builder(start int64) *tsdb.RecordBuilder {
	for _, b := range br.blocks {
		if b.start == start {
			return b.rb
		}
	}
	var rb *tsdb.RecordBuilder
	if n := len(br.spare); n > 0 {
		rb, br.spare = br.spare[n-1], br.spare[:n-1]
	} else {
		rb = &tsdb.RecordBuilder{}
	}
	br.blocks = append(br.blocks, blockRecord{start: start, rb: rb})
	return rb
}

// add puts a series' samples into the records of the blocks they fall in.
func (br *blockRecords) add(blockMs int64, hash uint64, s *tsdb.Series) {
	name := tsdb.MetricName(s.Labels)
	first := int64(-1)
	one := true
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
		br.builder(first).Add(hash, name, s.Samples, s.Histograms)
		return
	}
	// Samples in several blocks (rare): split them.
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
		br.builder(bs).Add(hash, name, byBlock[bs].Samples, byBlock[bs].Histograms)
	}
}

// rejectN records n rejected records with one message.
func (r *BuildResult) rejectN(n int, reason, format string, args ...any) {
	r.reject(reason, format, args...)
	r.Rejected += n - 1
	r.Reasons[reason] += n - 1
}
