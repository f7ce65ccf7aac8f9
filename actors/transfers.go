package actors

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// Transfers is the record of this node's outgoing partition handoffs: the
// ones running, with their progress, and the last ones finished. The
// partition actors that stream (a primary catching a learner up) report to
// it from their stream goroutines; the API and the logs read it. Calls may
// overlap.
type Transfers struct {
	log      *slog.Logger
	logEvery time.Duration
	done     *prometheus.CounterVec
	bytes    prometheus.Counter

	mu     sync.Mutex
	active map[string]*Transfer
	recent []Transfer // newest last, at most keepRecent
}

// Transfer is one outgoing handoff.
type Transfer struct {
	ID        string
	Signal    starlingpb.Signal
	Partition uint32
	Epoch     uint64
	Target    string // node id
	Started   time.Time
	Finished  time.Time // zero while running
	Progress  HandoffProgress
	Err       string // why it failed (finished only)

	lastLog time.Time
}

const keepRecent = 64

// NewTransfers makes the record; its counters are registered on reg (nil:
// not registered). logEvery is how often a running transfer logs its
// progress.
func NewTransfers(log *slog.Logger, reg prometheus.Registerer, logEvery time.Duration) *Transfers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Transfers{
		log: log, logEvery: logEvery, active: map[string]*Transfer{},
		done: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_handoffs_total",
			Help: "Partition handoffs this node streamed to another node, by result (completed, failed).",
		}, []string{"result"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_handoff_sent_bytes_total",
			Help: "Bytes of keys and values of partition snapshots acknowledged by their targets.",
		}),
	}
	if reg != nil {
		reg.MustRegister(t.done, t.bytes)
	}
	return t
}

// Begin records the start of a handoff.
func (t *Transfers) Begin(id string, sig starlingpb.Signal, p uint32, epoch uint64, target string) {
	now := time.Now()
	t.mu.Lock()
	t.active[id] = &Transfer{ID: id, Signal: sig, Partition: p, Epoch: epoch, Target: target, Started: now, lastLog: now}
	t.mu.Unlock()
	t.log.Info("handoff started", "migration", id, "signal", storage.SignalName(sig), "partition", p, "target", target)
}

// Update records a handoff's progress; every logEvery it logs it too.
func (t *Transfers) Update(p HandoffProgress) {
	t.mu.Lock()
	tr := t.active[p.MigrationID]
	if tr == nil {
		t.mu.Unlock()
		return
	}
	t.bytes.Add(float64(p.Bytes - tr.Progress.Bytes))
	tr.Progress = p
	logNow := t.logEvery > 0 && time.Since(tr.lastLog) >= t.logEvery
	if logNow {
		tr.lastLog = time.Now()
	}
	t.mu.Unlock()
	if logNow {
		t.log.Info("handoff progress", "migration", p.MigrationID, "signal", storage.SignalName(p.Signal), "partition", p.Partition,
			"bytes", p.Bytes, "estimate", p.Estimate, "keys", p.Keys, "MiB/s", mibPerSecond(p.Rate()), "eta", p.ETA().Round(time.Second))
	}
}

// End records how a handoff finished (err nil: the target loaded all).
func (t *Transfers) End(p HandoffProgress, err error) {
	t.mu.Lock()
	tr := t.active[p.MigrationID]
	if tr == nil {
		t.mu.Unlock()
		return
	}
	delete(t.active, p.MigrationID)
	t.bytes.Add(float64(p.Bytes - tr.Progress.Bytes))
	tr.Progress, tr.Finished = p, time.Now()
	result := "completed"
	if err != nil {
		tr.Err, result = err.Error(), "failed"
	}
	t.recent = append(t.recent, *tr)
	if over := len(t.recent) - keepRecent; over > 0 {
		t.recent = slices.Delete(t.recent, 0, over)
	}
	t.mu.Unlock()
	t.done.WithLabelValues(result).Inc()
	if err != nil {
		t.log.Warn("handoff failed", "migration", p.MigrationID, "bytes", p.Bytes, "err", err)
		return
	}
	t.log.Info("handoff completed", "migration", p.MigrationID, "signal", storage.SignalName(p.Signal), "partition", p.Partition,
		"bytes", p.Bytes, "keys", p.Keys, "took", p.Elapsed.Round(time.Millisecond), "MiB/s", mibPerSecond(p.Rate()))
}

// Snapshot returns copies of the running handoffs (oldest first) and the
// last finished ones (newest last).
func (t *Transfers) Snapshot() (active, recent []Transfer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.active {
		active = append(active, *tr)
	}
	slices.SortFunc(active, func(a, b Transfer) int { return a.Started.Compare(b.Started) })
	return active, slices.Clone(t.recent)
}

func mibPerSecond(bps float64) float64 { return float64(int(bps/(1<<20)*10)) / 10 }
