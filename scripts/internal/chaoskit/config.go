// Package chaoskit is the chaos test of a Starling cluster: it starts N
// starling processes on loopback, drives OTLP traces, logs and metrics
// into them while it kills a node with SIGKILL every few seconds (now and
// then the Raft leader, or a node moving a partition) and restarts it with
// the same data dir, id and ports, then lets the cluster settle and checks
// through the query API that every acknowledged span, log record and metric
// point is stored exactly once. Run reports what it did and found: kills,
// refused writes, the longest write unavailability of a partition,
// failover times, migrations, lost and duplicated records.
//
// scripts/chaos is its command line; `go test ./scripts/chaos` runs a short
// version.
package chaoskit

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config is one chaos run.
type Config struct {
	// Binary is the starling binary (see Build).
	Binary string
	// WorkDir holds every node's data dir and log; "" makes a temp dir,
	// removed at the end unless Keep.
	WorkDir string
	Keep    bool

	// Nodes, ReplicationFactor and MinInSync shape the cluster; the first
	// three nodes bootstrap it (--bootstrap-expect 3), the others join.
	Nodes             int
	ReplicationFactor int
	MinInSync         int
	// Partitions per signal (--partitions; 0: starling's default).
	Partitions int
	// DeadNodeTimeout is passed to every node: a node dead longer is
	// replaced (its partitions re-replicated elsewhere).
	DeadNodeTimeout time.Duration
	// HostBase is node 0's address; node i binds HostBase+i with the
	// default ports.
	HostBase string
	// NodeFlags are more starling flags for every node.
	NodeFlags []string

	// Duration of the load (and of the kills).
	Duration time.Duration
	// A kill happens a uniform random time in [KillMin, KillMax] after the
	// previous one (and never before the node killed last is ready again);
	// the node stays down for Down, except one kill in LongDownEvery (the
	// 2nd, then every LongDownEvery-th after it), which keeps it down for
	// LongDown: past the failover, and past DeadNodeTimeout so that its
	// partitions get re-replicated. LongDownEvery 0: never.
	KillMin, KillMax time.Duration
	Down             time.Duration
	LongDown         time.Duration
	LongDownEvery    int

	// Workers are the generator goroutines; Rate caps their OTLP requests
	// per second, all together. Each request carries RecordsPerRequest
	// spans (in 4 traces), log records or metric points.
	Workers           int
	Rate              float64
	RecordsPerRequest int
	// RequestTimeout bounds one export attempt; a request refused as
	// retryable is sent again, unchanged, to another node, up to
	// MaxAttempts times in all.
	RequestTimeout time.Duration
	MaxAttempts    int

	// ReadyTimeout bounds the wait for a (re)started node's /readyz;
	// SettleTimeout the wait for a settled cluster after the load.
	ReadyTimeout  time.Duration
	SettleTimeout time.Duration
	// Progress is the interval of progress lines (0: none).
	Progress time.Duration
	// Seed drives every random choice (0: taken from the clock; the
	// report prints the one used).
	Seed uint64
}

// DefaultConfig is a 5-node cluster with 3 copies of every partition under
// 10 minutes of load, a node killed every 10-20 s for 5 s.
func DefaultConfig() Config {
	return Config{
		Nodes:             5,
		ReplicationFactor: 3,
		MinInSync:         2,
		DeadNodeTimeout:   10 * time.Second,
		HostBase:          "127.0.0.90",
		Duration:          10 * time.Minute,
		KillMin:           10 * time.Second,
		KillMax:           20 * time.Second,
		Down:              5 * time.Second,
		LongDown:          18 * time.Second,
		LongDownEvery:     4,
		Workers:           4,
		Rate:              60,
		RecordsPerRequest: 20,
		RequestTimeout:    10 * time.Second,
		MaxAttempts:       8,
		ReadyTimeout:      60 * time.Second,
		SettleTimeout:     5 * time.Minute,
		Progress:          10 * time.Second,
	}
}

// maxHostOffset keeps node addresses inside 127.0.0.0/8's last octet.
const maxHostOffset = 254

// Validate checks the config.
func (c Config) Validate() error {
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("binary: the starling binary is required (see Build)"))
	}
	if c.Nodes < 3 {
		errs = append(errs, fmt.Errorf("nodes: %d must be at least 3 (three bootstrap the cluster)", c.Nodes))
	}
	if c.ReplicationFactor < 1 || c.ReplicationFactor > c.Nodes {
		errs = append(errs, fmt.Errorf("replication factor: %d is outside 1..nodes (%d)", c.ReplicationFactor, c.Nodes))
	}
	if c.MinInSync < 1 || c.MinInSync > c.ReplicationFactor {
		errs = append(errs, fmt.Errorf("min in sync: %d is outside 1..replication factor (%d)", c.MinInSync, c.ReplicationFactor))
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("partitions: %d is negative", c.Partitions))
	}
	if c.DeadNodeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dead node timeout: %s must be positive", c.DeadNodeTimeout))
	}
	if a, err := netip.ParseAddr(c.HostBase); err != nil || !a.Is4() || !a.IsLoopback() {
		errs = append(errs, fmt.Errorf("host base: %q must be an IPv4 loopback address such as 127.0.0.90", c.HostBase))
	} else if int(a.As4()[3])+c.Nodes-1 > maxHostOffset {
		errs = append(errs, fmt.Errorf("host base: %s + %d nodes runs past .%d", c.HostBase, c.Nodes, maxHostOffset))
	}
	if c.Duration <= 0 {
		errs = append(errs, fmt.Errorf("duration: %s must be positive", c.Duration))
	}
	if c.KillMin <= 0 || c.KillMax < c.KillMin {
		errs = append(errs, fmt.Errorf("kill interval: [%s, %s] must be positive and ordered", c.KillMin, c.KillMax))
	}
	if c.Down <= 0 {
		errs = append(errs, fmt.Errorf("down: %s must be positive", c.Down))
	}
	if c.LongDownEvery < 0 || (c.LongDownEvery > 0 && c.LongDown <= 0) {
		errs = append(errs, fmt.Errorf("long down: every %d kills for %s: both must be positive (every 0 turns it off)", c.LongDownEvery, c.LongDown))
	}
	if c.Workers < 1 {
		errs = append(errs, fmt.Errorf("workers: %d must be at least 1", c.Workers))
	}
	if c.Rate <= 0 {
		errs = append(errs, fmt.Errorf("rate: %g requests/s must be positive", c.Rate))
	}
	if c.RecordsPerRequest < tracesPerRequest || c.RecordsPerRequest > maxRecordsPerRequest {
		errs = append(errs, fmt.Errorf("records per request: %d is outside %d..%d", c.RecordsPerRequest, tracesPerRequest, maxRecordsPerRequest))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("request timeout: %s must be positive", c.RequestTimeout))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max attempts: %d must be at least 1", c.MaxAttempts))
	}
	if c.ReadyTimeout <= 0 || c.SettleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ready timeout %s and settle timeout %s must be positive", c.ReadyTimeout, c.SettleTimeout))
	}
	if c.Progress < 0 {
		errs = append(errs, fmt.Errorf("progress: %s is negative", c.Progress))
	}
	return errors.Join(errs...)
}

// host is node i's address.
func (c Config) host(i int) string {
	a := netip.MustParseAddr(c.HostBase).As4()
	a[3] += byte(i)
	return netip.AddrFrom4(a).String()
}

// downFor is how long the k-th kill (from 0) keeps its node down.
func (c Config) downFor(k int) time.Duration {
	if c.LongDownEvery > 0 && k%c.LongDownEvery == 1%c.LongDownEvery {
		return c.LongDown
	}
	return c.Down
}
