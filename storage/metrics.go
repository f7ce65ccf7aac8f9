package storage

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// metrics of a store, registered on the registry given to Open.
type metrics struct {
	commitRecords     *prometheus.HistogramVec
	commitEntries     *prometheus.HistogramVec
	commitSubmissions *prometheus.HistogramVec
	commitSeconds     *prometheus.HistogramVec
	commitWait        *prometheus.HistogramVec
	windowsDropped    *prometheus.CounterVec
	bytesFreed        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Store) *metrics {
	sizes := prometheus.ExponentialBuckets(1, 2, 18)
	m := &metrics{
		commitRecords: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starling_storage_commit_records",
			Help:    "OTLP records (spans, log records, data points) per Badger group commit.",
			Buckets: sizes,
		}, []string{"signal"}),
		commitEntries: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starling_storage_commit_entries",
			Help:    "Key/value entries (records and their index keys) per Badger group commit.",
			Buckets: sizes,
		}, []string{"signal"}),
		commitSubmissions: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starling_storage_commit_batches",
			Help:    "Partition batches answered by one Badger group commit.",
			Buckets: sizes[:12],
		}, []string{"signal"}),
		commitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starling_storage_commit_seconds",
			Help:    "Time to write one group commit to Badger.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"signal"}),
		commitWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starling_storage_commit_wait_seconds",
			Help:    "Time a partition batch waits for its group commit to start (queue and pipeline slots).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"signal"}),
		windowsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_storage_windows_dropped_total",
			Help: "Windows deleted by retention.",
		}, []string{"signal"}),
		bytesFreed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_storage_freed_bytes_total",
			Help: "Disk bytes returned by deleting expired windows.",
		}, []string{"signal"}),
	}
	if reg != nil {
		reg.MustRegister(m.commitRecords, m.commitEntries, m.commitSubmissions, m.commitSeconds, m.commitWait,
			m.windowsDropped, m.bytesFreed, sizeCollector{s})
	}
	return m
}

func (m *metrics) observeCommit(sig starlingpb.Signal, submissions, entries, records int, took time.Duration) {
	name := signalName(sig)
	m.commitRecords.WithLabelValues(name).Observe(float64(records))
	m.commitEntries.WithLabelValues(name).Observe(float64(entries))
	m.commitSubmissions.WithLabelValues(name).Observe(float64(submissions))
	m.commitSeconds.WithLabelValues(name).Observe(took.Seconds())
}

var windowBytesDesc = prometheus.NewDesc("starling_storage_window_bytes",
	"Size of a window's Badger database: kind=lsm (tables) or kind=vlog (value log), as Badger last measured it.",
	[]string{"signal", "window", "kind"}, nil)

// sizeCollector reports window sizes at scrape time.
type sizeCollector struct{ s *Store }

func (c sizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- windowBytesDesc }

func (c sizeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, w := range c.s.Windows() {
		name := w.Start.Format(windowDirLayout)
		sig := w.Space
		ch <- prometheus.MustNewConstMetric(windowBytesDesc, prometheus.GaugeValue, float64(w.LSMBytes), sig, name, "lsm")
		ch <- prometheus.MustNewConstMetric(windowBytesDesc, prometheus.GaugeValue, float64(w.LogBytes), sig, name, "vlog")
	}
}
