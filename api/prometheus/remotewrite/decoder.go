package remotewrite

import (
	"fmt"
	"unsafe"

	"github.com/golang/snappy"

	"github.com/starling-otel/starling/storage/tsdb"
)

// Decoder decodes remote write bodies into tsdb.WriteRequests and reuses its
// memory from one call to the next: the decompressed body, which the
// result's strings alias, and arenas the result's slices are cut from.
//
// A Decoder is used by one goroutine at a time (an HTTP handler keeps one
// per worker, or a pool of its own). The WriteRequest it returns is valid
// until the next Decode, DecodeProto or Reset on the same Decoder: a caller
// that keeps anything of it beyond that (a label string, a slice) copies it.
type Decoder struct {
	cfg Config
	buf []byte // the decompressed body of the last Decode

	req       tsdb.WriteRequest
	recs      []seriesRec   // per kept series: where its parts are in the arenas
	labels    []tsdb.Label  // arena: series labels
	exLabels  []tsdb.Label  // arena: exemplar labels
	samples   []tsdb.Sample // arena
	hists     []tsdb.HistogramSample
	exRecs    []exemplarRec
	exemplars []tsdb.Exemplar // built from exRecs once the arenas stop growing
	meta      []tsdb.Metadata
	series    []tsdb.Series

	// Remote write 2.0.
	symbols  []string
	symASCII []bool   // symbols[i] is ASCII
	spans    [][3]int // timeseries messages: tag offset, start, end
	refs     []uint32 // labels_refs of the series being decoded
	exRefs   []uint32 // labels_refs of the exemplar being decoded
	families map[string]struct{}

	stats Stats

	// The series being decoded, for errors: its index among the request's
	// timeseries (-1 outside a series) and the offset of its tag.
	cur, curAt, next int

	// copyStrings makes str copy instead of alias (benchmarks only).
	copyStrings bool
}

// seriesRec locates one kept series' parts in the arenas as [start, end).
type seriesRec struct {
	labels, samples, hists, exemplars [2]int
}

// exemplarRec is an exemplar whose labels are exLabels[labels[0]:labels[1]].
type exemplarRec struct {
	labels [2]int
	v      float64
	t      int64
}

// Stats counts what the last successful Decode found.
type Stats struct {
	// DecodedBytes is the size of the protobuf message.
	DecodedBytes int
	// Series, Samples, Histograms, Exemplars and Metadata count what the
	// WriteRequest holds.
	Series, Samples, Histograms, Exemplars, Metadata int
	// SkippedSeries counts valid series with no samples, histograms or
	// exemplars, left out of the WriteRequest.
	SkippedSeries int
	// DroppedExemplars counts exemplars with invalid labels, left out as
	// Prometheus leaves them out.
	DroppedExemplars int
}

// NewDecoder returns a Decoder with the bounds of cfg.
func NewDecoder(cfg Config) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Decoder{cfg: cfg, families: map[string]struct{}{}, cur: -1}, nil
}

// Decode decodes one remote write body of the given version, snappy block
// format as the specification requires, into a WriteRequest valid until the
// next call on d. The decoded length is checked against
// Config.MaxDecodedBytes before anything is allocated.
func (d *Decoder) Decode(body []byte, v Version) (*tsdb.WriteRequest, error) {
	if err := checkVersion(v); err != nil {
		return nil, err
	}
	n, err := snappy.DecodedLen(body)
	if err != nil {
		return nil, &Error{Kind: ErrSnappy, Offset: -1, Index: -1, Err: err}
	}
	if n > d.cfg.MaxDecodedBytes {
		return nil, &Error{Kind: ErrTooLarge, Offset: -1, Index: -1,
			Err: fmt.Errorf("the body decodes to %d bytes, more than the limit of %d", n, d.cfg.MaxDecodedBytes)}
	}
	if cap(d.buf) < n || cap(d.buf) > d.cfg.MaxRetainedBytes && n <= d.cfg.MaxRetainedBytes {
		d.buf = make([]byte, n)
	}
	out, err := snappy.Decode(d.buf[:cap(d.buf)], body)
	if err != nil {
		return nil, &Error{Kind: ErrSnappy, Offset: -1, Index: -1, Err: err}
	}
	return d.DecodeProto(out, v)
}

// DecodeProto decodes a body that is already decompressed. The WriteRequest
// aliases b: it is valid while b is unchanged, and until the next call on d.
func (d *Decoder) DecodeProto(b []byte, v Version) (*tsdb.WriteRequest, error) {
	if err := checkVersion(v); err != nil {
		return nil, err
	}
	d.begin()
	var err error
	if v == V1 {
		err = d.decodeV1(b)
	} else {
		err = d.decodeV2(b)
	}
	if err != nil {
		d.stats = Stats{}
		return nil, err
	}
	d.finish()
	d.stats.DecodedBytes = len(b)
	return &d.req, nil
}

// Decode decodes one body with a Decoder of its own, for callers that decode
// rarely; maxBytes bounds the decoded size (≤ 0: DefaultConfig's). Nothing
// reuses the result's memory, so it stays valid; its strings alias the
// decompressed body, which stays in memory while any of them is referenced.
func Decode(body []byte, v Version, maxBytes int) (*tsdb.WriteRequest, error) {
	cfg := DefaultConfig()
	if maxBytes > 0 {
		cfg.MaxDecodedBytes = maxBytes
	}
	d, err := NewDecoder(cfg)
	if err != nil {
		return nil, err
	}
	return d.Decode(body, v)
}

// Stats returns the counts of the last successful Decode (zero after an
// error).
func (d *Decoder) Stats() Stats { return d.stats }

// Reset forgets the last request: its WriteRequest is no longer valid, and
// references into the body it aliased are cleared, so that the caller's
// buffer (DecodeProto) can be collected. Buffers above
// Config.MaxRetainedBytes are dropped; the others are kept for reuse.
func (d *Decoder) Reset() {
	clear(d.labels[:cap(d.labels)])
	clear(d.exLabels[:cap(d.exLabels)])
	clear(d.hists[:cap(d.hists)])
	clear(d.exemplars[:cap(d.exemplars)])
	clear(d.meta[:cap(d.meta)])
	clear(d.series[:cap(d.series)])
	clear(d.symbols[:cap(d.symbols)])
	d.req = tsdb.WriteRequest{}
	d.begin()
	if cap(d.buf) > d.cfg.MaxRetainedBytes {
		d.buf = nil
	}
	d.stats = Stats{}
}

func checkVersion(v Version) error {
	if v != V1 && v != V2 {
		return fmt.Errorf("remotewrite: unknown version %d", int(v))
	}
	return nil
}

// begin truncates the arenas for a new request, dropping those an earlier
// request grew beyond the retained bound.
func (d *Decoder) begin() {
	limit := d.cfg.MaxRetainedBytes
	d.recs = truncate(d.recs, limit)
	d.labels = truncate(d.labels, limit)
	d.exLabels = truncate(d.exLabels, limit)
	d.samples = truncate(d.samples, limit)
	clear(d.hists) // release the last request's histograms
	d.hists = truncate(d.hists, limit)
	d.exRecs = truncate(d.exRecs, limit)
	d.exemplars = truncate(d.exemplars, limit)
	d.meta = truncate(d.meta, limit)
	d.series = truncate(d.series, limit)
	d.symbols = truncate(d.symbols, limit)
	d.symASCII = truncate(d.symASCII, limit)
	d.spans = truncate(d.spans, limit)
	d.refs = truncate(d.refs, limit)
	d.exRefs = truncate(d.exRefs, limit)
	if len(d.families) > 0 {
		clear(d.families)
	}
	d.stats = Stats{}
	d.cur, d.curAt, d.next = -1, -1, 0
}

// truncate empties s, or drops it when its backing array is above limit
// bytes.
func truncate[T any](s []T, limit int) []T {
	var zero T
	if cap(s)*int(unsafe.Sizeof(zero)) > limit {
		return nil
	}
	return s[:0]
}

// finish cuts the WriteRequest's slices from the arenas, which no longer
// grow.
func (d *Decoder) finish() {
	for _, r := range d.exRecs {
		d.exemplars = append(d.exemplars, tsdb.Exemplar{
			Labels: sub(d.exLabels, r.labels), V: r.v, T: r.t, HasT: r.t != 0,
		})
	}
	for _, r := range d.recs {
		d.series = append(d.series, tsdb.Series{
			Labels:     sub(d.labels, r.labels),
			Samples:    sub(d.samples, r.samples),
			Histograms: sub(d.hists, r.hists),
			Exemplars:  sub(d.exemplars, r.exemplars),
		})
	}
	d.req.Series = d.series
	d.req.Metadata = d.meta
	d.req.Checked = true // endSeries sorted, validated and dropped empty values
	d.stats.Series = len(d.series)
	d.stats.Samples = len(d.samples)
	d.stats.Histograms = len(d.hists)
	d.stats.Exemplars = len(d.exemplars)
	d.stats.Metadata = len(d.meta)
}

// sub returns s[r[0]:r[1]] with its capacity cut, or nil when empty.
func sub[T any](s []T, r [2]int) []T {
	if r[0] == r[1] {
		return nil
	}
	return s[r[0]:r[1]:r[1]]
}

// str returns b[s:e] as a string aliasing b.
func (d *Decoder) str(b []byte, s, e int) string {
	if s == e {
		return ""
	}
	if d.copyStrings {
		return string(b[s:e])
	}
	return unsafe.String(&b[s], e-s)
}
