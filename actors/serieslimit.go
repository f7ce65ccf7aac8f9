package actors

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// Series limits. A metrics primary writes a series its head does not hold
// (a new active series) only if the node's SeriesLimiter admits it. The
// limiter counts the cluster's active series, in total and per metric
// name, from every partition's head at each refresh, plus the series it
// admitted since: every node admits against the same counts, so the limit
// holds within what the nodes admit together in one refresh interval.

// SeriesAdmitter decides whether a primary may write a new active series.
// The node's metrics partition actors call it from their own goroutines:
// calls overlap.
type SeriesAdmitter interface {
	// Admit counts a new series of metric name and returns "", or returns
	// why the series is refused (naming the limit) and counts nothing.
	Admit(name []byte) string
}

// SeriesLimits configures a SeriesLimiter.
type SeriesLimits struct {
	// MaxSeries bounds the cluster's active series; 0: no bound.
	MaxSeries int
	// MaxSeriesPerMetric bounds the active series of one metric name; 0:
	// no bound.
	MaxSeriesPerMetric int
	// RefreshInterval is how often the counts are read from the heads.
	RefreshInterval time.Duration
}

// DefaultSeriesLimits has no limit; counts refresh every 5 s once one is set.
func DefaultSeriesLimits() SeriesLimits { return SeriesLimits{RefreshInterval: 5 * time.Second} }

// Validate reports the first invalid field.
func (c SeriesLimits) Validate() error {
	switch {
	case c.MaxSeries < 0 || c.MaxSeriesPerMetric < 0:
		return fmt.Errorf("series limits: %d and %d must not be negative", c.MaxSeries, c.MaxSeriesPerMetric)
	case c.RefreshInterval <= 0:
		return fmt.Errorf("series limits refresh interval: %s must be positive", c.RefreshInterval)
	}
	return nil
}

// Enabled reports whether any limit is set.
func (c SeriesLimits) Enabled() bool { return c.MaxSeries > 0 || c.MaxSeriesPerMetric > 0 }

// SeriesLimiter is the node's SeriesAdmitter. Safe for concurrent use.
type SeriesLimiter struct {
	cfg       SeriesLimits
	mu        sync.Mutex
	total     int
	perMetric map[string]int
	refused   *prometheus.CounterVec // by limit
	refreshes atomic.Uint64
}

// NewSeriesLimiter returns a limiter with no series counted yet; reg (nil:
// none) gets its counter of refused series.
func NewSeriesLimiter(cfg SeriesLimits, reg prometheus.Registerer) (*SeriesLimiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &SeriesLimiter{cfg: cfg, perMetric: map[string]int{}, refused: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "starling_series_refused_total",
		Help: "New series a series limit refused on this node, by limit (max_series, max_series_per_metric).",
	}, []string{"limit"})}
	if reg != nil {
		if err := reg.Register(l.refused); err != nil {
			return nil, fmt.Errorf("series limits: register metrics: %w", err)
		}
	}
	return l, nil
}

// Admit implements SeriesAdmitter.
func (l *SeriesLimiter) Admit(name []byte) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.MaxSeries > 0 && l.total >= l.cfg.MaxSeries {
		l.refused.WithLabelValues("max_series").Inc()
		return fmt.Sprintf("the cluster has %d active series, the limit (--max-series)", l.cfg.MaxSeries)
	}
	n := l.perMetric[string(name)]
	if l.cfg.MaxSeriesPerMetric > 0 && n >= l.cfg.MaxSeriesPerMetric {
		l.refused.WithLabelValues("max_series_per_metric").Inc()
		return fmt.Sprintf("metric %q has %d active series, the limit (--max-series-per-metric)", name, l.cfg.MaxSeriesPerMetric)
	}
	l.total++
	l.perMetric[string(name)] = n + 1
	return ""
}

// Set replaces the counts with the heads' (a refresh, every
// RefreshInterval, by the node).
func (l *SeriesLimiter) Set(c *starlingpb.Cardinality) {
	per := make(map[string]int, len(c.GetMetrics()))
	for _, m := range c.GetMetrics() {
		per[m.Name] = int(m.Series)
	}
	l.mu.Lock()
	l.total, l.perMetric = int(c.GetActiveSeries()), per
	l.mu.Unlock()
	l.refreshes.Add(1)
}

// Refreshes is how many times Set has replaced the counts.
func (l *SeriesLimiter) Refreshes() uint64 { return l.refreshes.Load() }

// refusal is what a primary's series limits took out of a batch.
type refusal struct {
	series, samples uint32
	message         string
	unseen          []uint64
}

// annotate adds the refusal to the batch's acknowledgement.
func (r *refusal) annotate(ack *starlingpb.WriteAck) {
	if r == nil || r.samples == 0 {
		return
	}
	ack.RefusedSeries, ack.RefusedSamples, ack.RefusedMessage, ack.Unseen = r.series, r.samples, r.message, r.unseen
}

// limitSeries takes the new series the node's limits refuse out of a
// metrics batch, before it is replicated: the batch to write and what was
// refused (nil: nothing).
func (a *partition) limitSeries(b *starlingpb.WriteBatch) (*starlingpb.WriteBatch, *refusal, error) {
	adm := a.metricsCfg.Limits
	if a.mh == nil || a.mh.head == nil || adm == nil {
		return b, nil, nil
	}
	head := a.mh.head
	entries, refused, err := storage.FilterSeries(b.Entries, func(h uint64, name []byte) string {
		if head.IsActive(h) {
			return ""
		}
		if len(name) == 0 { // a known series, back: named by its definition
			name = []byte(a.store.SeriesName(a.id, h))
		}
		return adm.Admit(name)
	})
	if err != nil || len(refused) == 0 {
		return b, nil, err
	}
	r := &refusal{series: uint32(len(refused))}
	for _, s := range refused {
		r.samples += uint32(s.Samples)
		r.unseen = append(r.unseen, s.Seen...)
	}
	r.message = refused[0].Reason
	for _, s := range refused[1:] {
		if s.Reason != r.message {
			r.message += "; " + s.Reason
			break
		}
	}
	records := b.Records - min(b.Records, r.samples)
	return &starlingpb.WriteBatch{Format: b.Format, Partition: b.Partition, RequestId: b.RequestId, Records: records, Entries: entries}, r, nil
}
