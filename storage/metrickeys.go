package storage

import (
	"encoding/binary"

	"github.com/starling-otel/starling/storage/tsdb"
)

// Metric keys; see keys.go for the table and docs/metrics.md for the why.
// Times in metric keys are milliseconds, big-endian with the sign bit
// flipped (sortableTime), so negative times sort before positive ones.

const (
	seriesKeyLen   = headerLen + 8
	recordKeyLen   = headerLen + 8 + 8 + 4 // block, seq, writer
	chunkKeyLen    = headerLen + 8 + 8 + 4 // series, min time, hash
	exemplarKeyLen = headerLen + 8 + 8 + 4
	rollupKeyLen   = headerLen + 8 + 8
)

func sortableTime(t int64) uint64 { return uint64(t) ^ (1 << 63) }

func timeOfSortable(u uint64) int64 { return int64(u ^ (1 << 63)) }

// indexKinds are the key kinds of one space's series index: series
// definitions, name markers and postings. The main space has one, and so
// has each rollup tier: a tier outlives raw data, so it keeps an index of
// the series it holds, in kinds of its own (a key's kind names its space).
type indexKinds struct{ series, marker, posting byte }

var (
	mainIndex     = indexKinds{kindSeries, kindNameMarker, kindPosting}
	rollup5mIndex = indexKinds{kindRollup5mSeries, kindRollup5mMarker, kindRollup5mPosting}
	rollup1hIndex = indexKinds{kindRollup1hSeries, kindRollup1hMarker, kindRollup1hPosting}
)

// indexOf returns the index kinds of a metrics space.
func indexOf(sp space) indexKinds {
	switch sp {
	case spaceRollup5m:
		return rollup5mIndex
	case spaceRollup1h:
		return rollup1hIndex
	}
	return mainIndex
}

func seriesKey(dst []byte, p uint32, series uint64) []byte {
	return mainIndex.seriesKey(dst, p, series)
}

func (ix indexKinds) seriesKey(dst []byte, p uint32, series uint64) []byte {
	dst = appendHeader(dst, p, ix.series)
	return appendFixed64(dst, series)
}

// markerKey says a window of partition p holds series of metric name: a
// select of a name asks the shard's marker sets (markers.go) before it
// opens an iterator.
func (ix indexKinds) markerKey(dst []byte, p uint32, name string) []byte {
	return append(appendHeader(dst, p, ix.marker), name...)
}

// postingPrefix is the key prefix of label name's postings, and with value
// of name=value's.
func (ix indexKinds) postingPrefix(dst []byte, p uint32, name string) []byte {
	dst = appendHeader(dst, p, ix.posting)
	dst = append(dst, name...)
	return append(dst, 0xff)
}

func (ix indexKinds) postingValuePrefix(dst []byte, p uint32, name, value string) []byte {
	dst = ix.postingPrefix(dst, p, name)
	dst = append(dst, value...)
	return append(dst, 0xff)
}

func (ix indexKinds) postingKey(dst []byte, p uint32, l tsdb.Label, series uint64) []byte {
	return appendFixed64(ix.postingValuePrefix(dst, p, l.Name, l.Value), series)
}

// parsePosting splits a posting key of any index into label name, value
// and series.
func parsePosting(k []byte) (name, value []byte, series uint64, ok bool) {
	if len(k) < headerLen+2+8 || !isPostingKind(k[partLen]) {
		return nil, nil, 0, false
	}
	body := k[headerLen : len(k)-8]
	series = binary.BigEndian.Uint64(k[len(k)-8:])
	for i, c := range body {
		if c == 0xff {
			if len(body) < i+2 || body[len(body)-1] != 0xff {
				return nil, nil, 0, false
			}
			return body[:i], body[i+1 : len(body)-1], series, true
		}
	}
	return nil, nil, 0, false
}

func isPostingKind(k byte) bool {
	return k == kindPosting || k == kindRollup5mPosting || k == kindRollup1hPosting
}

// isIndexKind reports whether k is a kind of any space's series index.
func isIndexKind(k byte) bool {
	for _, ix := range [...]indexKinds{mainIndex, rollup5mIndex, rollup1hIndex} {
		if k == ix.series || k == ix.marker || k == ix.posting {
			return true
		}
	}
	return false
}

// recordPrefix is the key prefix of partition p's records of one block.
func recordPrefix(dst []byte, p uint32, block int64) []byte {
	dst = appendHeader(dst, p, kindRecord)
	return appendFixed64(dst, sortableTime(block))
}

// recordKey is a record's key; the frontend writes it with sequence and
// writer 0 (a stub), and each copy completes it (CompleteRecords).
func recordKey(dst []byte, p uint32, block int64, seq uint64, writer uint32) []byte {
	dst = appendFixed64(recordPrefix(dst, p, block), seq)
	return binary.BigEndian.AppendUint32(dst, writer)
}

// parseRecordKey returns the block and sequence of a full record key.
func parseRecordKey(k []byte) (block int64, seq uint64, ok bool) {
	if len(k) != recordKeyLen || k[partLen] != kindRecord {
		return 0, 0, false
	}
	return timeOfSortable(binary.BigEndian.Uint64(k[headerLen:])), binary.BigEndian.Uint64(k[headerLen+8:]), true
}

func chunkPrefix(dst []byte, p uint32, series uint64) []byte {
	dst = appendHeader(dst, p, kindChunk)
	return appendFixed64(dst, series)
}

func chunkKey(dst []byte, p uint32, series uint64, minT int64, hash uint32) []byte {
	dst = appendFixed64(chunkPrefix(dst, p, series), sortableTime(minT))
	return binary.BigEndian.AppendUint32(dst, hash)
}

// chunkMinTime is the first sample time of a chunk key.
func chunkMinTime(k []byte) int64 {
	return timeOfSortable(binary.BigEndian.Uint64(k[headerLen+8:]))
}

func exemplarKey(dst []byte, p uint32, series uint64, t int64, hash uint32) []byte {
	dst = appendHeader(dst, p, kindExemplar)
	dst = appendFixed64(dst, series)
	dst = appendFixed64(dst, sortableTime(t))
	return binary.BigEndian.AppendUint32(dst, hash)
}

func metadataKey(dst []byte, p uint32, family string) []byte {
	return append(appendHeader(dst, p, kindMetadata), family...)
}

func rollupKey(dst []byte, p uint32, kind byte, series uint64, block int64) []byte {
	dst = appendHeader(dst, p, kind)
	dst = appendFixed64(dst, series)
	return appendFixed64(dst, sortableTime(block))
}

// rollupMarkKey says block's rollups are written (by a rollup pass), so
// that a later flush of the block, merging late samples, writes them anew.
func rollupMarkKey(dst []byte, p uint32, block int64) []byte {
	return appendFixed64(appendHeader(dst, p, kindRollupMark), sortableTime(block))
}

// keySeries is the series hash of a series, chunk, exemplar or rollup key.
func keySeries(k []byte) uint64 { return binary.BigEndian.Uint64(k[headerLen:]) }
