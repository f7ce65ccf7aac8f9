package node

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/starling-otel/starling/storage"
)

// Config of one node. The flags of `starling` map onto it one to one.
type Config struct {
	// NodeID names the node in the partition table; empty means the id
	// stored in the data directory (made up on first start).
	NodeID string
	// DataDir holds the node's settings, id and storage.
	DataDir string

	// Bind is the host every listener binds to; empty is all interfaces.
	Bind string
	// OTLPGRPCPort, OTLPHTTPPort and HTTPPort are the listening ports; 0
	// picks a free port (tests).
	OTLPGRPCPort int
	OTLPHTTPPort int
	HTTPPort     int

	// Partitions per signal (P). Fixed when the data directory is created.
	Partitions int
	// Window is the length of a storage window. Fixed when the data
	// directory is created.
	Window time.Duration
	// Retention per signal.
	RetentionTraces  time.Duration
	RetentionLogs    time.Duration
	RetentionMetrics time.Duration
	// MaxFuture is how far ahead of the node's clock a record may be.
	MaxFuture time.Duration
	// SyncWrites fsyncs each group commit (power-loss safety on one node).
	SyncWrites bool

	// MaxRequestBytes bounds an OTLP request body (after decompression).
	MaxRequestBytes int64
	// IngestTimeout bounds one OTLP request from receipt to commit.
	IngestTimeout time.Duration
	// QueryTimeout bounds one API query.
	QueryTimeout time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests on Stop.
	ShutdownTimeout time.Duration
	// Frontends is the size of the ingest frontend pool.
	Frontends int

	// Storage tunes the store; Dir, Window and retention are set from the
	// fields above.
	Storage storage.Config

	// Logger receives the node's logs (nil: discarded).
	Logger *slog.Logger
}

// DefaultConfig is a node on the default ports with data in ./data.
func DefaultConfig() Config {
	return Config{
		DataDir:          "./data",
		OTLPGRPCPort:     4317,
		OTLPHTTPPort:     4318,
		HTTPPort:         3300,
		Partitions:       256,
		Window:           24 * time.Hour,
		RetentionTraces:  7 * 24 * time.Hour,
		RetentionLogs:    7 * 24 * time.Hour,
		RetentionMetrics: 7 * 24 * time.Hour,
		MaxFuture:        time.Hour,
		MaxRequestBytes:  16 << 20,
		IngestTimeout:    15 * time.Second,
		QueryTimeout:     30 * time.Second,
		ShutdownTimeout:  30 * time.Second,
		Frontends:        runtime.GOMAXPROCS(0),
		Storage:          storage.DefaultConfig(""),
	}
}

// LocalConfig is a small node for tests: loopback, free ports, 16
// partitions, small Badger tables.
func LocalConfig(dataDir string) Config {
	c := DefaultConfig()
	c.DataDir = dataDir
	c.Bind = "127.0.0.1"
	c.OTLPGRPCPort, c.OTLPHTTPPort, c.HTTPPort = 0, 0, 0
	c.Partitions = 16
	c.Frontends = 2
	c.Storage = storage.LocalConfig("")
	return c
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir: must be set"))
	}
	for _, p := range []struct {
		name string
		port int
	}{{"otlp-grpc-port", c.OTLPGRPCPort}, {"otlp-http-port", c.OTLPHTTPPort}, {"http-port", c.HTTPPort}} {
		if p.port < 0 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%s: %d is not a port", p.name, p.port))
		}
	}
	if c.Partitions < 1 || c.Partitions > 4096 {
		errs = append(errs, fmt.Errorf("partitions: %d is outside 1..4096", c.Partitions))
	}
	if c.MaxFuture < 0 {
		errs = append(errs, fmt.Errorf("max-future: %s is negative", c.MaxFuture))
	}
	if c.MaxRequestBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("max-request-bytes: %d is below 1 KiB", c.MaxRequestBytes))
	}
	if c.IngestTimeout <= 0 || c.QueryTimeout <= 0 || c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("ingest, query and shutdown timeouts must be positive"))
	}
	if c.Frontends < 1 {
		errs = append(errs, fmt.Errorf("frontends: %d must be at least 1", c.Frontends))
	}
	if err := c.storageConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// storageConfig is Storage with the node-level fields filled in.
func (c Config) storageConfig() storage.Config {
	s := c.Storage
	s.Dir = storageDir(c.DataDir)
	s.Window = c.Window
	s.RetentionTraces, s.RetentionLogs, s.RetentionMetrics = c.RetentionTraces, c.RetentionLogs, c.RetentionMetrics
	s.SyncWrites = c.SyncWrites
	s.Logger = c.Logger
	return s
}
