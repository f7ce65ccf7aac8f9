package storage

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Log value, version 1 (the time is in the key):
//
//	version, resource ref (8), observed time (fixed 8), severity number,
//	severity text, body, attributes, dropped, flags, trace id (len byte +
//	0|16), span id (len byte + 0|8), event name.
//
// The key's hash is a hash of the value and the time, so the same record
// written twice has one key.
const logVersion byte = 1

func logKey(dst []byte, p uint32, unixNano uint64, hash uint64) []byte {
	dst = appendHeader(dst, p, kindLog)
	dst = appendFixed64(dst, tdesc(unixNano))
	return appendFixed64(dst, hash)
}

// encodeLog appends the value of lr and returns it with the offsets of the
// encoded body within the appended part.
func encodeLog(dst []byte, ref uint64, lr plog.LogRecord) (out []byte, bodyStart, bodyEnd int) {
	base := len(dst)
	dst = append(dst, logVersion)
	dst = appendFixed64(dst, ref)
	dst = appendFixed64(dst, uint64(lr.ObservedTimestamp()))
	dst = append(dst, byte(lr.SeverityNumber()))
	dst = appendString(dst, lr.SeverityText())
	bodyStart = len(dst) - base
	dst = appendValue(dst, lr.Body())
	bodyEnd = len(dst) - base
	dst = appendMap(dst, lr.Attributes())
	dst = appendUvarint(dst, uint64(lr.DroppedAttributesCount()))
	dst = appendUvarint(dst, uint64(lr.Flags()))
	if tid := lr.TraceID(); tid.IsEmpty() {
		dst = append(dst, 0)
	} else {
		dst = append(dst, traceIDLen)
		dst = append(dst, tid[:]...)
	}
	if sid := lr.SpanID(); sid.IsEmpty() {
		dst = append(dst, 0)
	} else {
		dst = append(dst, spanIDLen)
		dst = append(dst, sid[:]...)
	}
	dst = appendString(dst, lr.EventName())
	return dst, bodyStart, bodyEnd
}

// logContentHash is the key hash of a log value at a time.
func logContentHash(value []byte, unixNano uint64) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.Write(value)
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], unixNano)
	_, _ = d.Write(t[:])
	return d.Sum64()
}

// decodeLog fills lr from a stored log key and value and returns the
// record's resource ref.
func decodeLog(key, v []byte, lr plog.LogRecord) (uint64, error) {
	if len(key) != headerLen+logSuffix {
		return 0, ErrCorrupt
	}
	lr.SetTimestamp(pcommon.Timestamp(^binary.BigEndian.Uint64(key[headerLen:])))
	if len(v) == 0 || v[0] != logVersion {
		return 0, ErrUnknownFormat
	}
	d := decoder{b: v[1:]}
	ref := d.fixed64()
	lr.SetObservedTimestamp(pcommon.Timestamp(d.fixed64()))
	lr.SetSeverityNumber(plog.SeverityNumber(d.byte()))
	lr.SetSeverityText(d.string())
	d.value(lr.Body(), 0)
	d.mapInto(lr.Attributes(), 0)
	lr.SetDroppedAttributesCount(uint32(d.uvarint()))
	lr.SetFlags(plog.LogRecordFlags(d.uvarint()))
	switch d.byte() {
	case 0:
	case traceIDLen:
		lr.SetTraceID(d.traceID())
	default:
		d.fail()
	}
	switch d.byte() {
	case 0:
	case spanIDLen:
		lr.SetSpanID(d.spanID())
	default:
		d.fail()
	}
	lr.SetEventName(d.string())
	return ref, d.done()
}

// logSeverity reads only the severity number of a stored log value.
func logSeverity(v []byte) (int32, bool) {
	const off = 1 + 8 + 8
	if len(v) <= off || v[0] != logVersion {
		return 0, false
	}
	return int32(v[off]), true
}
