package storage

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// BuilderConfig is what a Builder needs to know of the cluster settings.
type BuilderConfig struct {
	// Partitions is the number of partitions per signal (P).
	Partitions int
	// Window is the length of a storage window.
	Window time.Duration
	// Retention per signal; a record older than now-retention is rejected.
	Retention map[starlingpb.Signal]time.Duration
	// MaxFuture is how far past now a record's time may be.
	MaxFuture time.Duration
}

// Validate reports the first invalid field.
func (c BuilderConfig) Validate() error {
	if c.Partitions < 1 || c.Partitions > 1<<16 {
		return fmt.Errorf("partitions: %d is outside 1..65536", c.Partitions)
	}
	if c.Window < time.Hour || c.Window%time.Hour != 0 {
		return fmt.Errorf("window: %s is not a whole number of hours", c.Window)
	}
	return nil
}

// Rejection reasons, as used in starling_rejected_records_total{reason}.
const (
	ReasonInvalid = "invalid"
	ReasonTooOld  = "too_old"
	ReasonTooNew  = "too_new"
)

// PartBatch is every entry of one request for one partition.
type PartBatch struct {
	Partition uint32
	Records   int    // OTLP records in Entries
	Entries   []byte // framed entries, see entries.go
	// Seen lists write-once keys in Entries; add them to the SeenCache
	// once the batch is committed.
	Seen []uint64
}

// BuildResult is a request turned into partition batches.
type BuildResult struct {
	Batches  []PartBatch
	Accepted int
	Rejected int
	// Reasons counts rejected records by reason.
	Reasons map[string]int
	// Message describes the first rejections, naming the field and why.
	Message string
	// Oldest is the time (unix nanoseconds) of the oldest accepted span
	// or log record (0: none), by which the query cache tells a late
	// write.
	Oldest int64
}

// saw notes the time of an accepted record.
func (r *BuildResult) saw(unixNano uint64) {
	if t := int64(unixNano); t > 0 && (r.Oldest == 0 || t < r.Oldest) {
		r.Oldest = t
	}
}

func (r *BuildResult) reject(reason, format string, args ...any) {
	r.Rejected++
	if r.Reasons == nil {
		r.Reasons = make(map[string]int)
	}
	r.Reasons[reason]++
	const maxMessages = 3
	switch {
	case r.Rejected <= maxMessages:
		if r.Message != "" {
			r.Message += "; "
		}
		r.Message += fmt.Sprintf(format, args...)
	case r.Rejected == maxMessages+1:
		r.Message += "; and more"
	}
}

// Builder turns decoded OTLP requests into per-partition batches of entries:
// records, their indexes and the write-once records they need. It validates
// every record first; a rejected record contributes nothing.
//
// A Builder is used by one goroutine at a time. The batches it returns own
// their memory (they are handed to other actors and stay in use until
// committed).
type Builder struct {
	cfg           BuilderConfig
	windowSeconds int64
	seen          *SeenCache
	now           func() time.Time

	terms termCounts // common-term detection, see commonterms.go
	// sizeHint is the bytes of entries per record of the last request of
	// each signal, to size the next request's buffer in one allocation.
	sizeHint [4]int

	key, val, words []byte // scratch

	acat      attrCatalog // attribute catalog entries of a traces request
	spanTerms []uint64    // attribute terms of a traces request's spans

	conv    *prometheusremotewrite.PrometheusConverter // OTLP metrics translator, reused
	prom    *promBatches                               // metrics output by partition, reused
	hashBuf []byte                                     // scratch of series hashes
	hashes  []uint64                                   // a request's series hashes (0: skipped)
	known   []bool                                     // whether the seen cache has each one's definition
	blockMs int64                                      // metrics block length
}

// NewBuilder returns a Builder; seen may be nil.
func NewBuilder(cfg BuilderConfig, seen *SeenCache, now func() time.Time) (*Builder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Builder{cfg: cfg, windowSeconds: int64(cfg.Window / time.Second), seen: seen, now: now,
		blockMs: BlockDuration(cfg.Window).Milliseconds()}, nil
}

// windowOf returns the start (unix seconds) of the window holding unixNano.
func windowOf(unixNano uint64, windowSeconds int64) int64 {
	s := int64(unixNano / 1e9)
	return s - s%windowSeconds
}

// timeCheck classifies a record time against retention and the future bound.
func (b *Builder) timeCheck(sig starlingpb.Signal, unixNano uint64, now time.Time) string {
	t := int64(unixNano)
	if r := b.cfg.Retention[sig]; r > 0 && t < now.Add(-r).UnixNano() {
		return ReasonTooOld
	}
	if b.cfg.MaxFuture > 0 && t > now.Add(b.cfg.MaxFuture).UnixNano() {
		return ReasonTooNew
	}
	return ""
}

func timeProblem(reason string) string {
	if reason == ReasonTooOld {
		return "is older than the retention period"
	}
	return "is too far in the future"
}

// partWriter collects the output of one request partition by partition:
// every partition's entries are contiguous in one buffer.
type partWriter struct {
	buf     []byte
	batches []PartBatch
	cur     *PartBatch
	start   int
	local   map[uint64]struct{} // write-once keys already in this request
}

func (w *partWriter) begin(p uint32) {
	if w.cur != nil && w.cur.Partition == p {
		return
	}
	w.end()
	w.batches = append(w.batches, PartBatch{Partition: p})
	w.cur = &w.batches[len(w.batches)-1]
	w.start = len(w.buf)
}

func (w *partWriter) end() {
	if w.cur == nil {
		return
	}
	if len(w.buf) == w.start && w.cur.Records == 0 {
		w.batches = w.batches[:len(w.batches)-1] // nothing to send
	} else {
		w.cur.Entries = w.buf[w.start:len(w.buf):len(w.buf)]
	}
	w.cur = nil
}

func (w *partWriter) add(window int64, key, value []byte) {
	w.buf = appendEntry(w.buf, window, key, value)
}

// once reports whether a write-once key still has to be written in this
// request (neither this request nor the seen cache has it), and marks it
// as written for the rest of the request. Pass the returned hash to
// addOnce.
func (w *partWriter) once(seen *SeenCache, sig starlingpb.Signal, window int64, key []byte) (uint64, bool) {
	h := seenKey(byte(sig), window, key)
	if _, ok := w.local[h]; ok {
		return h, false
	}
	if w.local == nil {
		w.local = make(map[uint64]struct{})
	}
	w.local[h] = struct{}{}
	return h, !seen.Contains(h)
}

// addOnce adds a write-once entry that once said is needed.
func (w *partWriter) addOnce(h uint64, window int64, key, value []byte) {
	w.add(window, key, value)
	w.cur.Seen = append(w.cur.Seen, h)
}

func (w *partWriter) result(r *BuildResult) {
	w.end()
	// The buffer may have moved while growing: re-slice every batch.
	off := 0
	for i := range w.batches {
		n := len(w.batches[i].Entries)
		w.batches[i].Entries = w.buf[off : off+n : off+n]
		off += n
	}
	r.Batches = w.batches
}

// newPartWriter returns a writer whose buffer fits n records of sig at the
// size of the previous request's records.
func (b *Builder) newPartWriter(sig starlingpb.Signal, n, fallback int) partWriter {
	per := b.sizeHint[sig]
	if per == 0 {
		per = fallback
	}
	return partWriter{buf: make([]byte, 0, n*per+n*per/8)}
}

// learnSize records the entry bytes per record of a request.
func (b *Builder) learnSize(sig starlingpb.Signal, w *partWriter, n int) {
	if n > 0 {
		b.sizeHint[sig] = len(w.buf)/n + 1
	}
}

// attrTerm returns the index term of attribute k=v (the value as searches
// compare it, see valueString), or false when the value is too long to
// index. Strings, integers and booleans are appended without allocating.
// eachAttrTerm calls fn with the terms of a span or resource attribute:
// its value's, and for an array each scalar element's too, so that a
// search for one element (TraceQL compares arrays element by element)
// finds the span.
func (b *Builder) eachAttrTerm(k string, v pcommon.Value, fn func(term uint64)) {
	if term, ok := b.attrTerm(k, v); ok {
		fn(term)
	}
	if v.Type() != pcommon.ValueTypeSlice {
		return
	}
	sl := v.Slice()
	for i := 0; i < sl.Len(); i++ {
		switch e := sl.At(i); e.Type() {
		case pcommon.ValueTypeStr, pcommon.ValueTypeInt, pcommon.ValueTypeBool, pcommon.ValueTypeDouble:
			if term, ok := b.attrTerm(k, e); ok {
				fn(term)
			}
		}
	}
}

func (b *Builder) attrTerm(k string, v pcommon.Value) (uint64, bool) {
	b.key = append(b.key[:0], termAttr...)
	b.key = append(b.key, k...)
	b.key = append(b.key, 0)
	n := len(b.key)
	b.key = appendAttrText(b.key, v)
	if len(b.key)-n > maxIndexedValueLen {
		return 0, false
	}
	return termHash(b.key), true
}

// appendAttrText appends v as searches compare it (see valueString).
func appendAttrText(dst []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return append(dst, v.Str()...)
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(dst, v.Int(), 10)
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(dst, v.Bool())
	default:
		return append(dst, v.AsString()...)
	}
}
