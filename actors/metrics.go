package actors

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// Metrics of the actors of one node.
type Metrics struct {
	ingestedRecords *prometheus.CounterVec
	rejectedRecords *prometheus.CounterVec
	writeLatency    *prometheus.HistogramVec
	buildSeconds    *prometheus.HistogramVec
	partitions      *prometheus.GaugeVec
	reads           *prometheus.CounterVec

	flushSeconds   prometheus.Histogram
	flushedSamples prometheus.Counter
	flushedChunks  prometheus.Counter
	flushedBytes   prometheus.Counter
	mergedSeries   prometheus.Counter
	rollupSeconds  prometheus.Histogram
	rollupBlocks   prometheus.Counter
	rollupSamples  prometheus.Counter
}

// NewMetrics registers the actors' metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ingestedRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_ingested_records_total",
			Help: "Records (spans, log records, data points) committed and acknowledged to the client.",
		}, []string{"signal"}),
		rejectedRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_rejected_records_total",
			Help: "Records not stored: invalid, too_old, too_new (rejected for good) or unavailable (the client was told to retry).",
		}, []string{"signal", "reason"}),
		writeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starling_write_latency_seconds",
			Help:    "Time from receiving an ingest request to acknowledging it, for requests fully committed.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"signal"}),
		buildSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starling_frontend_build_seconds",
			Help:    "Time a frontend spends turning one request into partition batches (validation, encoding, indexes).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"signal"}),
		partitions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "starling_partition_actors",
			Help: "Partition actors running on this node.",
		}, []string{"signal"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starling_partition_reads_total",
			Help: "Partition reads served by this node's partition actors, by the copy's role (primary, replica) and signal.",
		}, []string{"signal", "role"}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "starling_tsdb_flush_seconds",
			Help:    "Time to flush one block of a metrics partition copy into chunks (encode, merge, commit).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		flushedSamples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_tsdb_flushed_samples_total",
			Help: "Samples written into chunks by block flushes (stored samples merged again included).",
		}),
		flushedChunks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_tsdb_flushed_chunks_total",
			Help: "Chunk keys written by block flushes.",
		}),
		flushedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_tsdb_flushed_chunk_bytes_total",
			Help: "Bytes of chunk values written by block flushes (before Badger's block compression).",
		}),
		mergedSeries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_tsdb_merged_series_total",
			Help: "Series whose stored chunks a flush merged with late samples and rewrote.",
		}),
		rollupSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "starling_tsdb_rollup_seconds",
			Help:    "Time of one rollup pass step of a partition (up to a day of blocks).",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		rollupBlocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_tsdb_rollup_blocks_total",
			Help: "Partition blocks whose 5 m and 1 h rollups a rollup pass wrote.",
		}),
		rollupSamples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starling_tsdb_rollup_samples_total",
			Help: "Samples rolled up: read from chunks by rollup passes, and flushed into blocks rolled up already (late samples).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.ingestedRecords, m.rejectedRecords, m.writeLatency, m.buildSeconds, m.partitions, m.reads,
			m.flushSeconds, m.flushedSamples, m.flushedChunks, m.flushedBytes, m.mergedSeries,
			m.rollupSeconds, m.rollupBlocks, m.rollupSamples)
	}
	return m
}

func (m *Metrics) observeRollup(st storage.RollupStats, took time.Duration) {
	m.rollupSeconds.Observe(took.Seconds())
	m.rollupBlocks.Add(float64(st.Blocks))
	m.rollupSamples.Add(float64(st.Samples))
}

func (m *Metrics) observeFlush(st storage.FlushStats, took time.Duration) {
	m.flushSeconds.Observe(took.Seconds())
	m.flushedSamples.Add(float64(st.Samples))
	m.flushedChunks.Add(float64(st.Chunks))
	m.flushedBytes.Add(float64(st.Bytes))
	m.mergedSeries.Add(float64(st.Merged))
	m.rollupSamples.Add(float64(st.RollupSamples))
}

func (m *Metrics) ingested(sig starlingpb.Signal, records int, took time.Duration) {
	name := storage.SignalName(sig)
	m.ingestedRecords.WithLabelValues(name).Add(float64(records))
	m.writeLatency.WithLabelValues(name).Observe(took.Seconds())
}

func (m *Metrics) rejected(sig starlingpb.Signal, reasons map[string]int) {
	for reason, n := range reasons {
		m.rejectedRecords.WithLabelValues(storage.SignalName(sig), reason).Add(float64(n))
	}
}

func (m *Metrics) refused(sig starlingpb.Signal, records int) {
	m.rejectedRecords.WithLabelValues(storage.SignalName(sig), "unavailable").Add(float64(records))
}
