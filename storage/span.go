package storage

import (
	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Spans are stored by span group: the spans of one trace that arrived in
// one request (at most maxGroupSpans of them) share one value. All groups
// of a trace share one key, each group its own Badger version (a hash of
// the group's value, so a retried request rewrites the same version): a
// trace is read by iterating the versions of one key, which lets Badger
// skip every table whose bloom filter lacks the key.
//
//	key     [p][kindSpan][trace 16]
//	version groupVersion(value)
//	value   version, n, n × (span id 8, length, span value)
//
// Span value, version 1 (the trace id is in the key, the span id in the
// group):
//
//	version, resource ref (8), parent id (len byte + 0|8), flags, trace state,
//	name, kind, start (fixed 8), end-start (varint), attributes, dropped,
//	events (time-start, name, attributes, dropped)..., dropped events,
//	links (trace 16, span 8, state, attributes, dropped, flags)...,
//	dropped links, status code, status message.
//
// The fields a search summary needs come first so they decode without the
// rest (decodeSpanHead).
const (
	spanVersion      byte = 1
	spanGroupVersion byte = 1
	// groupRecordVersion is the version of a trace group record: version,
	// n, n × (duration, status), m, m × (term 8, bitmap bytes).
	groupRecordVersion byte = 1
)

// maxGroupSpans bounds the spans of one group, and so the size of a group
// value and of the bitmaps in its postings.
const maxGroupSpans = 128

func spanGroupKey(dst []byte, p uint32, traceID pcommon.TraceID) []byte {
	dst = appendHeader(dst, p, kindSpan)
	return append(dst, traceID[:]...)
}

// spanGroupTrace returns the trace id of a span group key.
func spanGroupTrace(key []byte) (pcommon.TraceID, bool) {
	if len(key) != headerLen+traceIDLen || key[partLen] != kindSpan {
		return pcommon.TraceID{}, false
	}
	return pcommon.TraceID(key[headerLen:]), true
}

// groupVersion is the Badger version of a span group: a hash of its value,
// in [1, 2^63) (Badger versions must not be 0; reads use MaxUint64).
func groupVersion(value []byte) uint64 { return xxhash.Sum64(value)>>1 | 1 }

// forEachGroupSpan calls fn with each span id and span value of a group
// value, in order; the slices alias v.
func forEachGroupSpan(v []byte, fn func(spanID pcommon.SpanID, span []byte) error) error {
	d := decoder{b: v}
	if d.byte() != spanGroupVersion {
		return ErrUnknownFormat
	}
	n := d.count(spanIDLen + 1)
	for i := 0; i < n && d.err == nil; i++ {
		id := d.spanID()
		span := d.bytes()
		if d.err != nil {
			break
		}
		if err := fn(id, span); err != nil {
			return err
		}
	}
	return d.done()
}

func encodeSpan(dst []byte, ref uint64, s ptrace.Span) []byte {
	dst = append(dst, spanVersion)
	dst = appendFixed64(dst, ref)
	if parent := s.ParentSpanID(); parent.IsEmpty() {
		dst = append(dst, 0)
	} else {
		dst = append(dst, spanIDLen)
		dst = append(dst, parent[:]...)
	}
	dst = appendUvarint(dst, uint64(s.Flags()))
	dst = appendString(dst, s.TraceState().AsRaw())
	dst = appendString(dst, s.Name())
	dst = append(dst, byte(s.Kind()))
	start := uint64(s.StartTimestamp())
	dst = appendFixed64(dst, start)
	dst = appendVarint(dst, int64(uint64(s.EndTimestamp())-start))
	dst = appendMap(dst, s.Attributes())
	dst = appendUvarint(dst, uint64(s.DroppedAttributesCount()))

	events := s.Events()
	dst = appendUvarint(dst, uint64(events.Len()))
	for i := 0; i < events.Len(); i++ {
		e := events.At(i)
		dst = appendVarint(dst, int64(uint64(e.Timestamp())-start))
		dst = appendString(dst, e.Name())
		dst = appendMap(dst, e.Attributes())
		dst = appendUvarint(dst, uint64(e.DroppedAttributesCount()))
	}
	dst = appendUvarint(dst, uint64(s.DroppedEventsCount()))

	links := s.Links()
	dst = appendUvarint(dst, uint64(links.Len()))
	for i := 0; i < links.Len(); i++ {
		l := links.At(i)
		tid, sid := l.TraceID(), l.SpanID()
		dst = append(dst, tid[:]...)
		dst = append(dst, sid[:]...)
		dst = appendString(dst, l.TraceState().AsRaw())
		dst = appendMap(dst, l.Attributes())
		dst = appendUvarint(dst, uint64(l.DroppedAttributesCount()))
		dst = appendUvarint(dst, uint64(l.Flags()))
	}
	dst = appendUvarint(dst, uint64(s.DroppedLinksCount()))
	dst = append(dst, byte(s.Status().Code()))
	return appendString(dst, s.Status().Message())
}

// spanHead is the part of a span a search summary needs.
type spanHead struct {
	ref       uint64
	hasParent bool
	name      string
	start     uint64
	end       uint64
}

func (d *decoder) spanHead() spanHead {
	if d.byte() != spanVersion {
		d.fail()
		return spanHead{}
	}
	var h spanHead
	h.ref = d.fixed64()
	switch d.byte() {
	case 0:
	case spanIDLen:
		h.hasParent = true
		d.fixed(spanIDLen)
	default:
		d.fail()
	}
	d.uvarint() // flags
	d.bytes()   // trace state
	h.name = d.string()
	d.byte() // kind
	h.start = d.fixed64()
	h.end = h.start + uint64(d.varint())
	return h
}

func decodeSpanHead(v []byte) (spanHead, error) {
	d := decoder{b: v}
	h := d.spanHead()
	return h, d.err
}

// decodeSpan fills s from a span value and its ids, and returns the span's
// resource ref.
func decodeSpan(traceID pcommon.TraceID, spanID pcommon.SpanID, v []byte, s ptrace.Span) (uint64, error) {
	s.SetTraceID(traceID)
	s.SetSpanID(spanID)

	d := decoder{b: v}
	if len(v) == 0 || v[0] != spanVersion {
		return 0, ErrUnknownFormat
	}
	d.byte()
	ref := d.fixed64()
	switch d.byte() {
	case 0:
	case spanIDLen:
		s.SetParentSpanID(d.spanID())
	default:
		d.fail()
	}
	s.SetFlags(uint32(d.uvarint()))
	s.TraceState().FromRaw(d.string())
	s.SetName(d.string())
	s.SetKind(ptrace.SpanKind(d.byte()))
	start := d.fixed64()
	s.SetStartTimestamp(pcommon.Timestamp(start))
	s.SetEndTimestamp(pcommon.Timestamp(start + uint64(d.varint())))
	d.mapInto(s.Attributes(), 0)
	s.SetDroppedAttributesCount(uint32(d.uvarint()))

	n := d.count(4)
	events := s.Events()
	events.EnsureCapacity(n)
	for i := 0; i < n && d.err == nil; i++ {
		e := events.AppendEmpty()
		e.SetTimestamp(pcommon.Timestamp(start + uint64(d.varint())))
		e.SetName(d.string())
		d.mapInto(e.Attributes(), 0)
		e.SetDroppedAttributesCount(uint32(d.uvarint()))
	}
	s.SetDroppedEventsCount(uint32(d.uvarint()))

	n = d.count(traceIDLen + spanIDLen + 4)
	links := s.Links()
	links.EnsureCapacity(n)
	for i := 0; i < n && d.err == nil; i++ {
		l := links.AppendEmpty()
		l.SetTraceID(d.traceID())
		l.SetSpanID(d.spanID())
		l.TraceState().FromRaw(d.string())
		d.mapInto(l.Attributes(), 0)
		l.SetDroppedAttributesCount(uint32(d.uvarint()))
		l.SetFlags(uint32(d.uvarint()))
	}
	s.SetDroppedLinksCount(uint32(d.uvarint()))
	s.Status().SetCode(ptrace.StatusCode(d.byte()))
	s.Status().SetMessage(d.string())
	return ref, d.done()
}
