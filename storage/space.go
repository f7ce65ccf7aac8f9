package storage

import (
	"math"
	"slices"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// A space is one set of time-windowed databases of a signal, with its own
// window length and retention. Traces and logs live in one space each;
// metrics in four: the series index and chunks, the write-through records
// (short-lived: deleted once their block is flushed into chunks, so they
// never make the chunk databases compact around them), and the 5 m and 1 h
// rollups, kept longer than raw data. A key's kind names its space; every
// space's keys start with the partition, so a partition is one key range
// per window of every space.
type space uint8

const (
	spaceMain space = iota
	spaceRecords
	spaceRollup5m
	spaceRollup1h
	numSpaces
)

// spacesOf lists the spaces of a signal.
func spacesOf(sig starlingpb.Signal) []space {
	if sig == starlingpb.Signal_SIGNAL_METRICS {
		return []space{spaceMain, spaceRecords, spaceRollup5m, spaceRollup1h}
	}
	return []space{spaceMain}
}

// spaceOfKind returns the space holding keys of a kind.
func spaceOfKind(kind byte) space {
	switch kind {
	case kindRecord:
		return spaceRecords
	case kindRollup5m, kindRollup5mSeries, kindRollup5mMarker, kindRollup5mPosting:
		return spaceRollup5m
	case kindRollup1h, kindRollup1hSeries, kindRollup1hMarker, kindRollup1hPosting:
		return spaceRollup1h
	}
	return spaceMain
}

// dirName is the directory of a signal's space under the data directory.
func (sp space) dirName(sig starlingpb.Signal) string {
	switch sp {
	case spaceRecords:
		return signalName(sig) + "-records"
	case spaceRollup5m:
		return signalName(sig) + "-5m"
	case spaceRollup1h:
		return signalName(sig) + "-1h"
	}
	return signalName(sig)
}

// spaceName names a space in logs and metrics.
func (sp space) name(sig starlingpb.Signal) string { return sp.dirName(sig) }

// windowLength is the length of one window of a space: the rollup spaces
// have longer windows (their retention is longer), multiples of the raw
// window so that every window start is aligned to it.
func (c *Config) windowLength(sp space) time.Duration {
	switch sp {
	case spaceRollup5m:
		return c.Window * rollup5mWindows
	case spaceRollup1h:
		return c.Window * rollup1hWindows
	case spaceRecords:
		return c.RecordsWindow
	}
	return c.Window
}

// entryWindow returns the start of the window of its space that entry e
// goes to: the window it names, but for a write-through record the records
// window of the record's block (records are windowed by block, not by the
// raw window the frontend names, so that a flushed block's records empty
// their database; recordsWindow is its length in seconds). A deletion
// goes where it says: RecordDeletes names the window holding the record.
func entryWindow(e Entry, recordsWindow int64) int64 {
	if e.Key[partLen] != kindRecord || e.Delete {
		return e.Window
	}
	block, _, ok := parseRecordKey(e.Key)
	if !ok {
		return e.Window // refused by CompleteRecords before it gets here
	}
	return floorTo(block, recordsWindow*1000) / 1000
}

// How many raw windows one rollup window spans (7 and 28 days by default).
const (
	rollup5mWindows = 7
	rollup1hWindows = 28
)

// retention returns the retention of a signal's space.
func (c *Config) retention(sig starlingpb.Signal, sp space) time.Duration {
	switch sp {
	case spaceRollup5m:
		return c.RetentionMetrics5m
	case spaceRollup1h:
		return c.RetentionMetrics1h
	}
	return c.Retention(sig)
}

// spaceKey names one space of one signal.
type spaceKey struct {
	sig starlingpb.Signal
	sp  space
}

// acquireAll returns the referenced windows of every space of sig, each
// space's oldest first; release them with releaseAll.
func (s *Store) acquireAll(sig starlingpb.Signal) []*window {
	var ws []*window
	for _, sp := range spacesOf(sig) {
		sws := s.acquireSpace(sig, sp, math.MinInt64, math.MaxInt64)
		slices.Reverse(sws)
		ws = append(ws, sws...)
	}
	return ws
}
