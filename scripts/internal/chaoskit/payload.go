package chaoskit

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
)

// The generated records and how each one is told apart when read back:
//
//   - spans: 4 traces per request, random trace and span ids; a span is
//     (trace id, span id), read back by trace id;
//   - log records: each has its own random trace id (which spreads them
//     over the partitions, a log record's partition hashes its service and
//     trace id) and a body "chaos <group> <token>"; a group is a run of up
//     to logsPerGroup requests of one worker, read back with one search
//     for the group word;
//   - metric points: gauge chaosMetric with labels worker and s (one of
//     seriesPerWorker series per worker); every request of a worker has its
//     own timestamp and each of its points a distinct series, so a point is
//     (worker, s, timestamp), read back by series search per worker.

// signal is one of the three OTLP signals.
type signal int

const (
	sigTraces signal = iota
	sigLogs
	sigMetrics
	numSignals
)

var signalNames = [numSignals]string{"traces", "logs", "metrics"}

func (s signal) String() string { return signalNames[s] }

const (
	// service is every resource's service.name.
	service = "chaos"
	// chaosMetric is the metric every point belongs to.
	chaosMetric = "chaos_points"
	// tracesPerRequest are the traces of one traces request.
	tracesPerRequest = 4
	// maxRecordsPerRequest bounds RecordsPerRequest: a log group's
	// records must stay below a search's limit, and a metrics request
	// needs that many series.
	maxRecordsPerRequest = 64
	// seriesPerWorker are the series a worker's points spread over.
	seriesPerWorker = 64
	// logGroupRecords bounds the records of a log group, below the API's
	// largest search limit (1000) so that duplicates show.
	logGroupRecords = 800
)

// Record identities kept for every acknowledged request.

// traceRec is one acknowledged trace: its spans.
type traceRec struct {
	id    [16]byte
	spans [][8]byte
	part  uint32
	req   int32
}

// logRec is one acknowledged log record, known by its trace id.
type logRec struct {
	traceID [16]byte
	worker  int16
	group   int32
	part    uint32
	req     int32
}

// pointRec is one acknowledged metric point.
type pointRec struct {
	worker int16
	series int16
	ts     int64
	value  float64
	part   uint32
	req    int32
}

// payload is one generated request with the identities of its records and
// the partitions it writes to.
type payload struct {
	signal  signal
	traces  ptrace.Traces
	logs    plog.Logs
	metrics pmetric.Metrics
	nrec    int
	parts   []uint32 // distinct partitions of the signal

	traceRecs []traceRec
	logRecs   []logRec
	pointRecs []pointRec
}

// builder makes one worker's payloads.
type builder struct {
	worker     int
	records    int
	partitions int
	rng        *rand.Rand
	seq        int
	lastTS     int64
	// The current log group and how many records it holds.
	group, groupRecords int
}

// logGroupWord is the searchable word of a log group.
func logGroupWord(worker, group int) string { return fmt.Sprintf("chaosg%dx%d", worker, group) }

func newBuilder(worker, records, partitions int, seed uint64) *builder {
	return &builder{
		worker: worker, records: records, partitions: partitions,
		rng: rand.New(rand.NewPCG(seed, uint64(worker)+1)),
	}
}

func (b *builder) traceID() [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], b.rng.Uint64())
	binary.BigEndian.PutUint64(id[8:], b.rng.Uint64()|1) // never all zeros
	return id
}

func (b *builder) spanID() [8]byte {
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], b.rng.Uint64()|1)
	return id
}

// next builds the worker's next request: traces, logs and metrics in turn.
func (b *builder) next(now time.Time) *payload {
	sig := signal(b.seq % int(numSignals))
	b.seq++
	switch sig {
	case sigTraces:
		return b.tracesPayload(now)
	case sigLogs:
		return b.logsPayload(now)
	default:
		return b.metricsPayload(now)
	}
}

func addParts(parts []uint32, p uint32) []uint32 {
	for _, q := range parts {
		if q == p {
			return parts
		}
	}
	return append(parts, p)
}

func (b *builder) tracesPayload(now time.Time) *payload {
	pl := &payload{signal: sigTraces, traces: ptrace.NewTraces(), nrec: b.records}
	rs := pl.traces.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	rs.Resource().Attributes().PutInt("chaos.worker", int64(b.worker))
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("chaoskit")
	start := pcommon.NewTimestampFromTime(now)
	for t := range tracesPerRequest {
		n := b.records / tracesPerRequest
		if t == tracesPerRequest-1 {
			n = b.records - n*(tracesPerRequest-1)
		}
		rec := traceRec{id: b.traceID()}
		rec.part = storage.PartitionOf(storage.TraceHash(rec.id), b.partitions)
		var root [8]byte
		for i := range n {
			sid := b.spanID()
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(rec.id)
			sp.SetSpanID(sid)
			if i == 0 {
				root = sid
				sp.SetName("chaos-root")
				sp.SetKind(ptrace.SpanKindServer)
			} else {
				sp.SetParentSpanID(root)
				sp.SetName("chaos-child")
				sp.SetKind(ptrace.SpanKindInternal)
			}
			sp.SetStartTimestamp(start + pcommon.Timestamp(i))
			sp.SetEndTimestamp(start + pcommon.Timestamp(i) + pcommon.Timestamp(time.Millisecond))
			sp.Attributes().PutInt("chaos.seq", int64(b.seq))
			rec.spans = append(rec.spans, sid)
		}
		pl.parts = addParts(pl.parts, rec.part)
		pl.traceRecs = append(pl.traceRecs, rec)
	}
	return pl
}

func (b *builder) logsPayload(now time.Time) *payload {
	if b.groupRecords+b.records > logGroupRecords {
		b.group++
		b.groupRecords = 0
	}
	b.groupRecords += b.records
	word := logGroupWord(b.worker, b.group)
	pl := &payload{signal: sigLogs, logs: plog.NewLogs(), nrec: b.records}
	rl := pl.logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", service)
	rl.Resource().Attributes().PutInt("chaos.worker", int64(b.worker))
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("chaoskit")
	ts := pcommon.NewTimestampFromTime(now)
	for i := range b.records {
		rec := logRec{traceID: b.traceID(), worker: int16(b.worker), group: int32(b.group)}
		rec.part = storage.PartitionOf(storage.LogHash(service, rec.traceID, 0), b.partitions)
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(ts + pcommon.Timestamp(i))
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.SetTraceID(rec.traceID)
		lr.SetSpanID(b.spanID())
		lr.Body().SetStr(fmt.Sprintf("chaos %s record %x", word, rec.traceID[:8]))
		lr.Attributes().PutInt("chaos.seq", int64(b.seq))
		pl.parts = addParts(pl.parts, rec.part)
		pl.logRecs = append(pl.logRecs, rec)
	}
	return pl
}

// seriesLabels are a point's labels as storage sees them after the
// Prometheus translation of OTLP: the metric name, job from service.name,
// the point attributes; sorted by name.
func seriesLabels(worker, s int) []tsdb.Label {
	return []tsdb.Label{
		{Name: tsdb.MetricNameLabel, Value: chaosMetric},
		{Name: "job", Value: service},
		{Name: "s", Value: strconv.Itoa(s)},
		{Name: "worker", Value: strconv.Itoa(worker)},
	}
}

func (b *builder) metricsPayload(now time.Time) *payload {
	// Samples are kept to the millisecond: one request per millisecond.
	ts := max(now.UnixNano()/1e6, b.lastTS/1e6+1) * 1e6
	b.lastTS = ts
	pl := &payload{signal: sigMetrics, metrics: pmetric.NewMetrics(), nrec: b.records}
	rm := pl.metrics.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", service)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("chaoskit")
	m := sm.Metrics().AppendEmpty()
	m.SetName(chaosMetric)
	dps := m.SetEmptyGauge().DataPoints()
	series := b.rng.Perm(seriesPerWorker)[:b.records]
	for _, s := range series {
		rec := pointRec{worker: int16(b.worker), series: int16(s), ts: ts, value: float64(b.seq*100 + s)}
		rec.part = storage.PartitionOf(tsdb.SeriesHash(seriesLabels(b.worker, s)), b.partitions)
		dp := dps.AppendEmpty()
		dp.SetTimestamp(pcommon.Timestamp(ts))
		dp.SetDoubleValue(rec.value)
		dp.Attributes().PutStr("worker", strconv.Itoa(b.worker))
		dp.Attributes().PutStr("s", strconv.Itoa(s))
		pl.parts = addParts(pl.parts, rec.part)
		pl.pointRecs = append(pl.pointRecs, rec)
	}
	return pl
}
