package storage

import (
	"bytes"
	"encoding/binary"
	"math"
	"sort"
	"time"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

type spanRef struct {
	partition uint32
	traceID   pcommon.TraceID
	spanID    pcommon.SpanID
	res       int // index into the request's resource records
	span      ptrace.Span
	// terms are the index terms of the span's attributes:
	// Builder.spanTerms[terms[0]:terms[1]].
	terms [2]int32
}

// indexedResource is a resource record of a request with its index terms.
type indexedResource struct {
	resourceRecord
	terms []uint64 // attribute terms of the resource, service.name excluded
	// catalogWindow is the window whose catalog entries of the resource's
	// and scope's attributes were noted last (if catalogued).
	catalogWindow int64
	catalogued    bool
}

// Traces turns a traces request into partition batches. A span group (the
// spans of one trace in this request) is written to the window of its
// earliest span: its spans, one group record, one posting per term present
// in the group (a bitmap says which spans carry it), catalog entries and the
// resource records its spans refer to. Catalog entries (services, span
// names, attribute keys and values, see attrcatalog.go) go to the windows of
// their spans' starts.
func (b *Builder) Traces(td ptrace.Traces) BuildResult {
	now := b.now()
	var r BuildResult
	b.acat.reset()
	b.spanTerms = b.spanTerms[:0]
	var res []indexedResource
	var refs []spanRef
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			resIdx := -1
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				if field, problem, reason := b.checkSpan(s, now); reason != "" {
					r.reject(reason, "resourceSpans[%d].scopeSpans[%d].spans[%d].%s: %s", i, j, k, field, problem)
					continue
				}
				if resIdx < 0 {
					res = append(res, b.indexResource(rs.Resource(), rs.SchemaUrl(), ss.Scope(), ss.SchemaUrl()))
					resIdx = len(res) - 1
				}
				r.saw(uint64(s.StartTimestamp()))
				window := windowOf(uint64(s.StartTimestamp()), b.windowSeconds)
				b.catalogResource(&res[resIdx], window, rs.Resource(), ss.Scope())
				t0 := len(b.spanTerms)
				b.catalogSpan(s, window)
				tid := s.TraceID()
				refs = append(refs, spanRef{
					partition: PartitionOf(TraceHash(tid), b.cfg.Partitions),
					traceID:   tid, spanID: s.SpanID(), res: resIdx, span: s,
					terms: [2]int32{int32(t0), int32(len(b.spanTerms))},
				})
			}
		}
	}
	r.Accepted = len(refs)
	sort.Slice(refs, func(i, j int) bool {
		a, c := &refs[i], &refs[j]
		if a.partition != c.partition {
			return a.partition < c.partition
		}
		if x := bytes.Compare(a.traceID[:], c.traceID[:]); x != 0 {
			return x < 0
		}
		return bytes.Compare(a.spanID[:], c.spanID[:]) < 0
	})

	cats := b.catalogRefs(refs, res)

	w := b.newPartWriter(starlingpb.Signal_SIGNAL_TRACES, len(refs), 256)
	g := groupWriter{b: b, w: &w, res: res, acats: b.acat.sorted()}
	for start := 0; start < len(refs); {
		// Catalog entries of partitions up to this one come first, so
		// every partition's entries stay contiguous.
		cats = g.catalog(cats, refs[start].partition)
		end := start + 1
		for end < len(refs) && refs[end].traceID == refs[start].traceID {
			end++
		}
		for group := dedupSpans(refs[start:end]); len(group) > 0; {
			n := min(len(group), maxGroupSpans)
			g.write(group[:n])
			group = group[n:]
		}
		start = end
	}
	g.catalog(cats, math.MaxUint32)
	b.learnSize(starlingpb.Signal_SIGNAL_TRACES, &w, len(refs))
	w.result(&r)
	return r
}

// catalogRef is one catalog entry of a request: a service and one of its
// span names, seen in a window. A service's entries live in the partition
// its name hashes to, so listing its operations reads one partition.
type catalogRef struct {
	partition uint32
	window    int64
	service   string
	name      string
	kind      byte // OTLP span kind
}

// catalogRefs lists the distinct catalog entries of a request, by partition.
func (b *Builder) catalogRefs(refs []spanRef, res []indexedResource) []catalogRef {
	type key struct {
		window        int64
		service, name string
		kind          byte
	}
	done := make(map[key]struct{})
	var out []catalogRef
	for i := range refs {
		service, name := res[refs[i].res].service, refs[i].span.Name()
		if len(service) > maxCatalogNameLen {
			continue // keys are bounded (Badger refuses keys over 65000 bytes)
		}
		k := key{windowOf(uint64(refs[i].span.StartTimestamp()), b.windowSeconds), service, name, byte(refs[i].span.Kind())}
		if _, ok := done[k]; ok {
			continue
		}
		done[k] = struct{}{}
		out = append(out, catalogRef{
			partition: CatalogPartition(service, b.cfg.Partitions),
			window:    k.window, service: service, name: name, kind: k.kind,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].partition < out[j].partition })
	return out
}

func (b *Builder) checkSpan(s ptrace.Span, now time.Time) (field, problem, reason string) {
	switch {
	case s.TraceID().IsEmpty():
		return "traceId", "must not be all zeros", ReasonInvalid
	case s.SpanID().IsEmpty():
		return "spanId", "must not be all zeros", ReasonInvalid
	case s.StartTimestamp() == 0:
		return "startTimeUnixNano", "must be set", ReasonInvalid
	case s.EndTimestamp() < s.StartTimestamp():
		return "endTimeUnixNano", "must not be before startTimeUnixNano", ReasonInvalid
	}
	if reason := b.timeCheck(starlingpb.Signal_SIGNAL_TRACES, uint64(s.StartTimestamp()), now); reason != "" {
		return "startTimeUnixNano", timeProblem(reason), reason
	}
	return "", "", ""
}

// indexResource encodes a resource and scope and computes the attribute
// terms every record of theirs carries.
func (b *Builder) indexResource(res pcommon.Resource, resSchema string, scope pcommon.InstrumentationScope, scopeSchema string) indexedResource {
	t := indexedResource{resourceRecord: newResourceRecord(res, resSchema, scope, scopeSchema)}
	res.Attributes().Range(func(k string, v pcommon.Value) bool {
		if k == "service.name" {
			return true
		}
		b.eachAttrTerm(k, v, func(term uint64) { t.terms = append(t.terms, term) })
		return true
	})
	return t
}

// dedupSpans drops repeated span ids of one trace (sorted), keeping the
// first: the store keeps one span per id anyway.
func dedupSpans(g []spanRef) []spanRef {
	out := g[:1]
	for _, s := range g[1:] {
		if s.spanID != out[len(out)-1].spanID {
			out = append(out, s)
		}
	}
	return out
}

// groupWriter writes span groups of one request, reusing its term tables.
type groupWriter struct {
	b     *Builder
	w     *partWriter
	res   []indexedResource
	acats []attrCatalogRef // attribute catalog entries not written yet

	termOrder []uint64
	termBits  map[uint64]int // term -> offset in bits
	bits      []byte
	suffix    []byte
	key, val  []byte
	spans     []byte // the span group value
}

func (g *groupWriter) write(spans []spanRef) {
	b, w := g.b, g.w
	p := spans[0].partition
	w.begin(p)
	w.cur.Records += len(spans)

	minStart := uint64(spans[0].span.StartTimestamp())
	var grp xxhash.Digest
	grp.Reset()
	for _, s := range spans {
		minStart = min(minStart, uint64(s.span.StartTimestamp()))
		_, _ = grp.Write(s.spanID[:])
	}
	window := windowOf(minStart, b.windowSeconds)
	tid := spans[0].traceID
	g.suffix = appendFixed64(g.suffix[:0], tdesc(minStart))
	g.suffix = append(g.suffix, tid[:]...)
	g.suffix = binary.BigEndian.AppendUint32(g.suffix, uint32(grp.Sum64()>>32))

	nb := (len(spans) + 7) / 8
	g.termOrder = g.termOrder[:0]
	g.bits = g.bits[:0]
	if g.termBits == nil {
		g.termBits = make(map[uint64]int)
	}
	clear(g.termBits)
	mark := func(term uint64, i int) {
		off, ok := g.termBits[term]
		if !ok {
			off = len(g.bits)
			g.bits = append(g.bits, make([]byte, nb)...)
			g.termBits[term] = off
			g.termOrder = append(g.termOrder, term)
		}
		g.bits[off+i/8] |= 1 << (i % 8)
	}

	// Group record: per span, duration and status, then per term the
	// bitmap of its spans (appended below). Span group: the spans.
	g.val = append(g.val[:0], groupRecordVersion)
	g.val = appendUvarint(g.val, uint64(len(spans)))
	g.spans = append(g.spans[:0], spanGroupVersion)
	g.spans = appendUvarint(g.spans, uint64(len(spans)))
	lastRes := -1
	for i, sr := range spans {
		s := sr.span
		rr := &g.res[sr.res]
		if sr.res != lastRes {
			lastRes = sr.res
			g.key = resourceKey(g.key[:0], p, rr.ref)
			if h, need := w.once(b.seen, starlingpb.Signal_SIGNAL_TRACES, window, g.key); need {
				w.addOnce(h, window, g.key, rr.value)
			}
		}
		b.val = encodeSpan(b.val[:0], rr.ref, s)
		g.spans = append(g.spans, sr.spanID[:]...)
		g.spans = appendBytes(g.spans, b.val)

		status := uint32(s.Status().Code()) + 1
		dur := uint64(s.EndTimestamp() - s.StartTimestamp())
		g.val = appendUvarint(g.val, dur)
		g.val = append(g.val, byte(status))
		for k, d := range durationShortcuts {
			if dur < uint64(d) {
				break
			}
			// durationTerm("", k), then durationTerm(rr.service, k).
			b.key = append(append(b.key[:0], termDuration...), byte(k))
			mark(termHash(b.key), i)
			b.key = append(append(b.key, 0), rr.service...)
			mark(termHash(b.key), i)
		}

		b.key = append(append(b.key[:0], termService...), rr.service...)
		mark(termHash(b.key), i)
		b.key = append(append(b.key[:0], termName...), s.Name()...)
		mark(termHash(b.key), i)
		if status == statusOK || status == statusError {
			mark(statusTerm(status), i)
		}
		for _, t := range b.spanTerms[sr.terms[0]:sr.terms[1]] {
			mark(t, i)
		}
		for _, t := range rr.terms {
			mark(t, i)
		}
	}
	g.key = spanGroupKey(g.key[:0], p, tid)
	w.add(window, g.key, g.spans)

	// The forward index goes into the group record; a posting is written
	// only while its term is not common in this partition and window.
	g.val = appendUvarint(g.val, uint64(len(g.termOrder)))
	groups := b.terms.group(window, p)
	for _, t := range g.termOrder {
		off := g.termBits[t]
		bm := g.bits[off : off+nb]
		if fullBitmap(bm, len(spans)) {
			bm = nil
		}
		g.val = appendFixed64(g.val, t)
		g.val = appendBytes(g.val, bm)

		g.key = commonTermKey(g.key[:0], p, t)
		h := seenKey(byte(starlingpb.Signal_SIGNAL_TRACES), window, g.key)
		if b.seen.Contains(h) {
			continue // common, and its marker is committed
		}
		if b.terms.common(window, p, t, groups) {
			if h, need := w.once(b.seen, starlingpb.Signal_SIGNAL_TRACES, window, g.key); need {
				w.addOnce(h, window, g.key, nil)
			}
		}
		g.key = appendHeader(g.key[:0], p, kindTracePosting)
		g.key = appendFixed64(g.key, t)
		g.key = append(g.key, g.suffix...)
		w.add(window, g.key, bm)
	}
	g.key = appendHeader(g.key[:0], p, kindTraceGroup)
	g.key = append(g.key, g.suffix...)
	w.add(window, g.key, g.val)
}

// maxCatalogNameLen bounds the service and span names kept in the catalog.
const maxCatalogNameLen = 256

// catalog writes the catalog entries (cats, then the attribute entries
// g.acats) of partitions up to upTo, partition by partition, and returns
// the rest of cats.
func (g *groupWriter) catalog(cats []catalogRef, upTo uint32) []catalogRef {
	for {
		var p uint32
		have := false
		if len(cats) > 0 && cats[0].partition <= upTo {
			p, have = cats[0].partition, true
		}
		if len(g.acats) > 0 && g.acats[0].partition <= upTo && (!have || g.acats[0].partition < p) {
			p, have = g.acats[0].partition, true
		}
		if !have {
			return cats
		}
		for len(cats) > 0 && cats[0].partition == p {
			g.serviceCatalog(cats[0])
			cats = cats[1:]
		}
		for len(g.acats) > 0 && g.acats[0].partition == p {
			a := g.acats[0]
			g.acats = g.acats[1:]
			g.w.begin(p)
			g.w.addOnce(a.h, a.window, g.b.acat.arena[a.off:a.end], nil)
		}
	}
}

// serviceCatalog writes the entries of a service and span name.
func (g *groupWriter) serviceCatalog(c catalogRef) {
	w := g.w
	w.begin(c.partition)
	g.key = appendHeader(g.key[:0], c.partition, kindCatalog)
	g.key = append(g.key, catalogService)
	g.key = append(g.key, c.service...)
	if h, need := w.once(g.b.seen, starlingpb.Signal_SIGNAL_TRACES, c.window, g.key); need {
		w.addOnce(h, c.window, g.key, nil)
	}
	if len(c.name) > maxCatalogNameLen {
		return
	}
	g.key = appendHeader(g.key[:0], c.partition, kindCatalog)
	g.key = append(g.key, catalogOperation)
	g.key = append(g.key, c.service...)
	g.key = append(g.key, 0)
	g.key = append(g.key, c.name...)
	if h, need := w.once(g.b.seen, starlingpb.Signal_SIGNAL_TRACES, c.window, g.key); need {
		w.addOnce(h, c.window, g.key, nil)
	}
	g.key = appendHeader(g.key[:0], c.partition, kindCatalog)
	g.key = append(g.key, catalogOperationKind)
	g.key = append(g.key, c.service...)
	g.key = append(g.key, 0, c.kind)
	g.key = append(g.key, c.name...)
	if h, need := w.once(g.b.seen, starlingpb.Signal_SIGNAL_TRACES, c.window, g.key); need {
		w.addOnce(h, c.window, g.key, nil)
	}
}

// fullBitmap reports whether the first n bits of bm are all set.
func fullBitmap(bm []byte, n int) bool {
	for i := 0; i < n/8; i++ {
		if bm[i] != 0xff {
			return false
		}
	}
	if r := n % 8; r != 0 {
		return bm[n/8] == byte(1<<r-1)
	}
	return true
}
