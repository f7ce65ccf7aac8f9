package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Config of a node's store.
type Config struct {
	// Dir holds one directory per signal, and in it one Badger database
	// per window.
	Dir string

	// bloomBuilds is the store's semaphore of trace bloom builds (set by
	// Open; tracesummary.go).
	bloomBuilds chan struct{}

	// Window is the time span of one database. Retention drops whole
	// windows, so a record lives between Retention and Retention+Window.
	// A whole number of hours; fixed when the data directory is created.
	Window time.Duration

	// RetentionTraces, RetentionLogs and RetentionMetrics: windows that
	// ended longer ago than this are deleted. Zero keeps data forever.
	RetentionTraces  time.Duration
	RetentionLogs    time.Duration
	RetentionMetrics time.Duration
	// RetentionMetrics5m and RetentionMetrics1h keep the 5 m and 1 h
	// rollups of metrics (their windows are 7 and 28 raw windows long).
	RetentionMetrics5m time.Duration
	RetentionMetrics1h time.Duration

	// RetentionInterval is how often expired windows are looked for.
	RetentionInterval time.Duration

	// RecordsWindow is the time span of one database of metrics'
	// write-through records, by the head block a record belongs to (a
	// whole number of hours; the head's block length is a good choice).
	// Records are deleted once their block is flushed into chunks, and a
	// records database holding none is deleted whole: that is how their
	// disk comes back, with no value log garbage collection.
	RecordsWindow time.Duration
	// RecordsCheckInterval is how often records windows are looked at for
	// removal: often, as a backfill opens one per block and each holds
	// memtables until it goes.
	RecordsCheckInterval time.Duration

	// SyncWrites fsyncs Badger's write-ahead log on every group commit.
	// Without it a commit survives kill -9 of the process (the log is in
	// the page cache) but not a power loss.
	SyncWrites bool

	// Shards is the number of Badger databases a new window is split into
	// (by partition). Each has its own writer, so shards insert in
	// parallel; each also has its own memtables and block cache.
	Shards int

	// MemTableSize is Badger's memtable size per database. Larger tables
	// mean fewer level-0 flushes under load at the cost of memory (up to
	// NumMemtables of them per database being written).
	MemTableSize int64
	// NumMemtables is how many memtables a database may hold before writes
	// stall waiting for a flush.
	NumMemtables int
	// BlockSize is the size of Badger's table blocks before compression;
	// larger blocks compress better, smaller blocks read less per lookup.
	BlockSize int
	// BlockCacheSize is Badger's cache of decompressed blocks per database.
	BlockCacheSize int64
	// LevelZeroTables is how many level-0 tables a database collects before
	// compacting them into level 1. Every level-0 table spans every
	// partition, so each one costs every read a lookup; fewer means more
	// compaction work while ingesting.
	LevelZeroTables int
	// NumCompactors is Badger's compaction goroutines per database (≥ 2).
	NumCompactors int

	// CommitQueue is how many submissions may wait for a window's group
	// committer before submitters block.
	CommitQueue int
	// MaxCommitEntries bounds the entries of one group commit.
	MaxCommitEntries int

	// ReadConcurrency bounds partition reads running at once.
	ReadConcurrency int

	// Logger receives the store's and Badger's logs.
	Logger *slog.Logger
	// Now is the clock (tests move it to exercise retention).
	Now func() time.Time
}

// DefaultConfig is a production configuration rooted at dir.
func DefaultConfig(dir string) Config {
	return Config{
		Dir:              dir,
		Window:           24 * time.Hour,
		RetentionTraces:  7 * 24 * time.Hour,
		RetentionLogs:    7 * 24 * time.Hour,
		RetentionMetrics: 7 * 24 * time.Hour,
		// Rollups outlive raw data: 5 m points for 90 days, 1 h for a year.
		RetentionMetrics5m:   90 * 24 * time.Hour,
		RetentionMetrics1h:   365 * 24 * time.Hour,
		RetentionInterval:    time.Minute,
		RecordsWindow:        2 * time.Hour,
		RecordsCheckInterval: 5 * time.Second,
		Shards:               1,
		MemTableSize:         32 << 20,
		NumMemtables:         3,
		BlockSize:            16 << 10,
		BlockCacheSize:       64 << 20,
		LevelZeroTables:      4,
		NumCompactors:        2,
		CommitQueue:          4096,
		MaxCommitEntries:     50000,
		ReadConcurrency:      2 * runtime.GOMAXPROCS(0),
	}
}

// LocalConfig is a small, fast configuration for tests.
func LocalConfig(dir string) Config {
	c := DefaultConfig(dir)
	c.MemTableSize = 4 << 20
	c.BlockCacheSize = 8 << 20
	c.RetentionInterval = 100 * time.Millisecond
	c.RecordsCheckInterval = 100 * time.Millisecond
	return c
}

// Retention returns the retention of a signal.
func (c Config) Retention(sig starlingpb.Signal) time.Duration {
	switch sig {
	case starlingpb.Signal_SIGNAL_TRACES:
		return c.RetentionTraces
	case starlingpb.Signal_SIGNAL_LOGS:
		return c.RetentionLogs
	case starlingpb.Signal_SIGNAL_METRICS:
		return c.RetentionMetrics
	}
	return 0
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("dir: must be set"))
	}
	if c.Window < time.Hour || c.Window%time.Hour != 0 {
		errs = append(errs, fmt.Errorf("window: %s is not a whole number of hours", c.Window))
	}
	for _, r := range []struct {
		name string
		d    time.Duration
	}{{"retention-traces", c.RetentionTraces}, {"retention-logs", c.RetentionLogs}, {"retention-metrics", c.RetentionMetrics},
		{"retention-metrics-5m", c.RetentionMetrics5m}, {"retention-metrics-1h", c.RetentionMetrics1h}} {
		if r.d < 0 {
			errs = append(errs, fmt.Errorf("%s: %s is negative", r.name, r.d))
		}
	}
	if c.RecordsWindow < time.Hour || c.RecordsWindow%time.Hour != 0 {
		errs = append(errs, fmt.Errorf("records window: %s is not a whole number of hours", c.RecordsWindow))
	}
	if c.RetentionInterval <= 0 || c.RecordsCheckInterval <= 0 {
		errs = append(errs, fmt.Errorf("retention interval %s and records check interval %s must be positive", c.RetentionInterval, c.RecordsCheckInterval))
	}
	if c.Shards < 1 || c.Shards > 64 {
		errs = append(errs, fmt.Errorf("shards: %d is outside 1..64", c.Shards))
	}
	if c.MemTableSize < 1<<20 {
		errs = append(errs, fmt.Errorf("memtable size: %d is below 1 MiB", c.MemTableSize))
	}
	if c.NumMemtables < 1 {
		errs = append(errs, fmt.Errorf("memtables: %d must be at least 1", c.NumMemtables))
	}
	if c.BlockSize < 1<<10 || c.BlockSize > 1<<20 {
		errs = append(errs, fmt.Errorf("block size: %d is outside 1 KiB..1 MiB", c.BlockSize))
	}
	if c.BlockCacheSize < 1<<20 {
		errs = append(errs, fmt.Errorf("block cache size: %d is below 1 MiB (compressed tables need a cache)", c.BlockCacheSize))
	}
	if c.LevelZeroTables < 1 {
		errs = append(errs, fmt.Errorf("level-0 tables: %d must be at least 1", c.LevelZeroTables))
	}
	if c.NumCompactors < 2 {
		errs = append(errs, fmt.Errorf("compactors: %d is below Badger's minimum of 2", c.NumCompactors))
	}
	if c.CommitQueue < 1 || c.MaxCommitEntries < 1 || c.ReadConcurrency < 1 {
		errs = append(errs, errors.New("commit queue, max commit entries and read concurrency must be positive"))
	}
	return errors.Join(errs...)
}
