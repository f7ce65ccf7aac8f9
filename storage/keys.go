package storage

import (
	"encoding/binary"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Key layout. Every key is [partition uint16 BE][kind byte][...]; integers are
// big-endian so keys sort by them. "tdesc" is ^unixNano: ascending keys give
// newest first. A span group is the spans of one trace that arrived in one
// batch; grp is the first 4 bytes of a hash of their span ids, so a retry of
// the same batch writes the same keys.
//
//	traces
//	  kindSpan          [p][k][trace 16][span 8]                 span
//	  kindTraceGroup    [p][k][tdesc 8][trace 16][grp 4]         per span: duration, status; per term: bitmap
//	  kindTracePosting  [p][k][term 8][tdesc 8][trace 16][grp 4] bitmap of group spans with the term
//	  kindCommonTerm    [p][k][term 8]                           -
//	  kindCatalog       [p][k]['s'][service]                     -
//	                    [p][k]['o'][service 0x00 operation]      -
//	                    [p][k]['O'][service 0x00 kind][operation] -
//	                    [p][k]['k'][scope][attribute key]        -
//	                    [p][k]['v'][scope][key 0x00][type][value] -
//	logs
//	  kindLog           [p][k][tdesc 8][hash 8]                  log record
//	  kindLogPosting    [p][k][term 8][tdesc 8][hash 8]          -
//	metrics (see docs/metrics.md; times in milliseconds)
//	  kindSeries        [p][k][series 8]                          labels, metric type
//	  kindNameMarker    [p][k][metric name]                       - (the window holds series of the name)
//	  kindPosting       [p][k][name 0xff value 0xff][series 8]    -
//	  kindRecord        [p][k][block 8][seq 8][writer 4]          write-through samples (records space)
//	  kindChunk         [p][k][series 8][min time 8][hash 4]      encoded samples of one series in one block
//	  kindExemplar      [p][k][series 8][time 8][hash 4]          exemplar
//	  kindMetadata      [p][k][family]                            type, help, unit
//	  kindRollupMark    [p][k][block 8]                           - (the block's rollups are written)
//	  kindRollup5m      [p][k][series 8][block 8]                 5 m aggregates of one block (5m space)
//	  kindRollup1h      [p][k][series 8][block 8]                 1 h aggregates of one block (1h space)
//	  kindRollup5mSeries, …Marker, …Posting, and the same of 1h: each rollup
//	                    tier's own series index, laid out as the main one's
//	traces and logs
//	  kindResource      [p][k][ref 8]                            resource + scope
//	  kindTraceSummary  [p][k]                                   bloom filter and common terms (traces)
const (
	kindSpan         byte = 0x01
	kindTraceGroup   byte = 0x02
	kindTracePosting byte = 0x03
	kindResource     byte = 0x04
	kindCatalog      byte = 0x05
	kindCommonTerm   byte = 0x06
	// kindTraceSummary must sort after every other traces kind: see
	// tracesummary.go, "Kept summaries".
	kindTraceSummary byte = 0x0f

	kindLog        byte = 0x11
	kindLogPosting byte = 0x12

	// 0x22..0x24 held points and hashed postings in entry format 1.
	kindSeries     byte = 0x21
	kindNameMarker byte = 0x28
	kindPosting    byte = 0x29
	kindRecord     byte = 0x2a // must sort before kindChunk: see docs/metrics.md, "Two commits"
	kindChunk      byte = 0x2c
	kindExemplar   byte = 0x2d
	kindMetadata   byte = 0x2e
	kindRollupMark byte = 0x2f
	kindRollup5m   byte = 0x30
	kindRollup1h   byte = 0x31

	kindRollup5mSeries  byte = 0x32
	kindRollup5mMarker  byte = 0x33
	kindRollup5mPosting byte = 0x34
	kindRollup1hSeries  byte = 0x35
	kindRollup1hMarker  byte = 0x36
	kindRollup1hPosting byte = 0x37
)

// Catalog entries (kindCatalog), each written once per window (the
// builder's seen cache). A service and its span names are in the partition
// CatalogPartition(service); an attribute key and all of its values are in
// the partition CatalogPartition(key), so a key's values are read from one
// partition (its name from all of them).
const (
	catalogService   byte = 's' // [service]
	catalogOperation byte = 'o' // [service 0x00 span name]
	// catalogOperationKind is [service 0x00 kind][span name], kind the
	// OTLP span kind (0–5); windows written before it have none.
	catalogOperationKind byte = 'O'
	catalogAttrKey       byte = 'k' // [scope][key]
	catalogAttrValue     byte = 'v' // [scope][key 0x00][type][value as text]
)

// Attribute scopes of catalogAttrKey and catalogAttrValue entries.
const (
	catalogScopeSpan            byte = 's'
	catalogScopeResource        byte = 'r'
	catalogScopeEvent           byte = 'e'
	catalogScopeLink            byte = 'l'
	catalogScopeInstrumentation byte = 'i'
)

// Value types of catalogAttrValue entries; the text is the value as
// searches compare it (strconv for integers and booleans, AsString for
// floats). Maps, byte strings and empty values have no entry (their key
// has), an array has one per scalar element.
const (
	catalogTypeString byte = 's'
	catalogTypeInt    byte = 'i'
	catalogTypeFloat  byte = 'f'
	catalogTypeBool   byte = 'b'
)

const (
	partLen     = 2
	headerLen   = partLen + 1
	traceIDLen  = 16
	spanIDLen   = 8
	grpLen      = 4
	traceSuffix = 8 + traceIDLen + grpLen // tdesc, trace, grp
	logSuffix   = 8 + 8                   // tdesc, hash
)

func appendHeader(dst []byte, p uint32, kind byte) []byte {
	return append(dst, byte(p>>8), byte(p), kind)
}

// keyPartition returns the partition id a key belongs to.
func keyPartition(k []byte) (uint32, bool) {
	if len(k) < headerLen {
		return 0, false
	}
	return uint32(binary.BigEndian.Uint16(k)), true
}

func tdesc(unixNano uint64) uint64 { return ^unixNano }

// termHash is the 8-byte id of an index term.
func termHash(term []byte) uint64 { return xxhash.Sum64(term) }

// Term prefixes. A term is prefix + fields joined by 0x00.
const (
	termService  = "s\x00"
	termName     = "n\x00"
	termStatus   = "e\x00"
	termAttr     = "a\x00"
	termWord     = "w\x00"
	termSeverity = "v\x00"
	termDuration = "d\x00"
)

// maxIndexedValueLen is the longest attribute value that gets a posting;
// longer values are stored and returned but cannot be searched.
const maxIndexedValueLen = 256

func appendAttrTerm(dst []byte, k, v string) []byte {
	dst = append(dst, termAttr...)
	dst = append(dst, k...)
	dst = append(dst, 0)
	return append(dst, v...)
}

func serviceTerm(service string) uint64 {
	return termHash(append([]byte(termService), service...))
}

func nameTerm(name string) uint64 { return termHash(append([]byte(termName), name...)) }

func attrTerm(k, v string) uint64 { return termHash(appendAttrTerm(nil, k, v)) }

func wordTerm(w string) uint64 { return termHash(append([]byte(termWord), w...)) }

func severityTerm(n int32) uint64 {
	return termHash(append([]byte(termSeverity), byte(n)))
}

// Status codes as stored: OTLP status code + 1, so 0 can mean "any" in a
// search.
const (
	statusAny   uint32 = 0
	statusUnset uint32 = 1
	statusOK    uint32 = 2
	statusError uint32 = 3
)

func statusTerm(code uint32) uint64 {
	return termHash(append([]byte(termStatus), byte(code)))
}

// durationShortcuts are the span durations that get a posting "duration
// >= d", and one "a span of service s with duration >= d" (from window
// format 3 on, see windowformat.go), so that a search for slow spans (of
// a service) reads their posting list instead of every group record (of
// the service): each is a few percent of the spans or less, so their
// postings are rare, and one is the largest bound at or below a search's
// minimum.
var durationShortcuts = [...]time.Duration{100 * time.Millisecond, 300 * time.Millisecond, time.Second, 3 * time.Second, 10 * time.Second, 30 * time.Second}

// durationTerm is "duration >= durationShortcuts[i]"; with a service, "a
// span of the service with that duration" (one posting list for the slow
// spans of a service, which is most of what is asked).
func durationTerm(service string, i int) uint64 {
	b := append([]byte(termDuration), byte(i))
	if service != "" {
		b = append(append(b, 0), service...)
	}
	return termHash(b)
}

// durationShortcut returns the term of the largest shortcut at or below
// minNano (of the service's spans when service is set), or false when
// there is none.
func durationShortcut(service string, minNano int64) (uint64, bool) {
	best := -1
	for i, d := range durationShortcuts {
		if minNano >= int64(d) {
			best = i
		}
	}
	if best < 0 {
		return 0, false
	}
	return durationTerm(service, best), true
}

// severityShortcuts are the severities (WARN, ERROR, FATAL) that get a
// posting "severity >= n" so that a minimum-severity search of the rare high
// levels does not scan every record.
var severityShortcuts = [...]int32{13, 17, 21}

// prefixEnd returns the smallest key greater than every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
