package actors

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/storage"
)

// Querier answers the API's queries by running query coordinators over the
// partitions that hold the data. Safe for concurrent use.
type Querier struct {
	system *actor.ActorSystem
	router *Router
	cfg    QuerierConfig
	local  LocalStore
	nextID atomic.Uint64
}

// QuerierConfig bounds the queries of a Querier.
type QuerierConfig struct {
	// Timeout bounds one fan-out (the query's context may end it sooner).
	Timeout time.Duration
	// MaxBytes bounds the partitions' answers one fan-out of a query
	// holds (bytes as encoded); a query that needs more fails with
	// ErrQueryMemory instead of growing the node's memory. 0: no bound.
	MaxBytes int64
	// Cache keeps the answers of TraceQL queries over closed ranges (nil:
	// none).
	Cache *QueryCache
}

// DefaultQuerierConfig is a 30 s timeout and a 256 MiB cap per fan-out.
func DefaultQuerierConfig() QuerierConfig {
	return QuerierConfig{Timeout: 30 * time.Second, MaxBytes: 256 << 20}
}

// Validate checks the bounds.
func (c QuerierConfig) Validate() error {
	if c.Timeout <= 0 {
		return fmt.Errorf("querier: timeout %s must be positive", c.Timeout)
	}
	if c.MaxBytes < 0 {
		return fmt.Errorf("querier: max bytes %d must not be negative", c.MaxBytes)
	}
	return nil
}

// LocalSeries is this node's metrics store as a querier sees it before a
// fan-out: a series select skips the partitions read on this node that
// cannot hold its series (most partitions lack a given metric name), with
// no actor message. Called by every select, concurrently.
type LocalSeries interface {
	// MayHoldSeries reports, for each partition of ps, whether it may
	// hold series that sel selects; false must be exact (a read would
	// find none).
	MayHoldSeries(sel *starlingpb.SeriesSelect, ps []uint32) []bool
}

// LocalTraces is this node's traces as a querier sees them before a
// fan-out: a search skips the partitions read on this node whose bloom
// filters rule out a term it needs, with no actor message. Called by every
// TraceQL search, concurrently.
type LocalTraces interface {
	// MayHoldTraces reports, for each partition of ps, whether it may
	// hold a trace of [startNano, endNano] with a span matching q's
	// terms; false must be exact.
	MayHoldTraces(q *starlingpb.TraceSearch, ps []uint32, startNano, endNano int64) []bool
	// KeptTermGroups estimates the span groups of q's terms in ps over
	// [startNano, endNano] from kept counts; ok is false when they are
	// not in memory.
	KeptTermGroups(q *starlingpb.TraceSearch, ps []uint32, startNano, endNano int64) (counts []int64, groups int64, ok bool)
}

// LocalStore is this node's store as a querier sees it (storage.Store).
type LocalStore interface {
	LocalSeries
	LocalTraces
}

// NewQuerier returns a querier bounded by cfg (see Validate); local (nil:
// none) prunes the series selects and trace searches of partitions read
// on this node.
func NewQuerier(system *actor.ActorSystem, router *Router, cfg QuerierConfig, local LocalStore) *Querier {
	return &Querier{system: system, router: router, cfg: cfg, local: local}
}

// run executes targets through one coordinator and returns one merged
// chunk per target (nil where a partition had nothing).
func (q *Querier) run(ctx context.Context, sig starlingpb.Signal, targets []readTarget) ([]*starlingpb.ResultChunk, error) {
	done := make(chan queryOutcome, 1)
	base := q.nextID.Add(uint64(len(targets))+1) - uint64(len(targets))
	timeout := q.cfg.Timeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	props := actor.PropsFromProducer(func() actor.Actor {
		return &coordinator{router: q.router, signal: sig, targets: targets, baseID: base, timeout: timeout, maxBytes: q.cfg.MaxBytes, done: done}
	})
	pid := q.system.Root.SpawnPrefix(props, "query")
	select {
	case out := <-done:
		return out.results, out.err
	case <-ctx.Done():
		q.system.Root.Stop(pid)
		return nil, ctx.Err()
	}
}

// all returns one target per partition of sig, each with its own copy of
// the request.
func (q *Querier) all(sig starlingpb.Signal, req func() *starlingpb.ReadRequest) []readTarget {
	n := q.router.Partitions(sig)
	ts := make([]readTarget, n)
	for i := range ts {
		ts[i] = readTarget{partition: uint32(i), req: req()}
	}
	return ts
}

// TraceByID returns every span of a trace; found is false when no span is
// stored.
func (q *Querier) TraceByID(ctx context.Context, traceID [16]byte) (td ptrace.Traces, found bool, err error) {
	p := storage.PartitionOf(storage.TraceHash(traceID), q.router.Partitions(starlingpb.Signal_SIGNAL_TRACES))
	res, err := q.run(ctx, starlingpb.Signal_SIGNAL_TRACES, []readTarget{{partition: p, req: traceByID(traceID[:])}})
	if err != nil {
		return ptrace.NewTraces(), false, err
	}
	if res[0] == nil || len(res[0].Records) == 0 {
		return ptrace.NewTraces(), false, nil
	}
	td, err = storage.DecodeTrace(res[0].Records, res[0].Refs)
	if err != nil {
		return td, false, fmt.Errorf("decode trace: %w", err)
	}
	return td, true, nil
}

func traceByID(id []byte) *starlingpb.ReadRequest {
	return &starlingpb.ReadRequest{
		EndUnixNano: math.MaxInt64,
		Query:       &starlingpb.ReadRequest_TraceById{TraceById: &starlingpb.TraceByID{TraceId: id}},
	}
}

// FindTraces finds up to limit traces with one span matching s, started
// in [start, end], and answers them whole, newest first: every partition
// returns its newest hits, the newest limit of all are then read. (The
// Jaeger API's search, whose tags compare as strings; TraceQL searches
// run through SearchTraceQL.)
func (q *Querier) FindTraces(ctx context.Context, s *starlingpb.TraceSearch, start, end int64, limit int) ([]ptrace.Traces, error) {
	sig := starlingpb.Signal_SIGNAL_TRACES
	res, err := q.run(ctx, sig, q.all(sig, func() *starlingpb.ReadRequest {
		return &starlingpb.ReadRequest{
			StartUnixNano: start, EndUnixNano: end, Limit: uint32(limit),
			Query: &starlingpb.ReadRequest_TraceSearch{TraceSearch: s},
		}
	}))
	if err != nil {
		return nil, err
	}
	traces, err := q.readHits(ctx, query.TopTraceHits(res, limit))
	if err != nil {
		return nil, err
	}
	out := make([]ptrace.Traces, 0, len(traces))
	for _, t := range traces {
		if t == nil || len(t.Records) == 0 {
			continue // dropped by retention between the two reads
		}
		td, err := storage.DecodeTrace(t.Records, t.Refs)
		if err != nil {
			return nil, fmt.Errorf("decode trace: %w", err)
		}
		out = append(out, td)
	}
	return out, nil
}

// readHits reads the traces of hits whole, one chunk each in hit order.
func (q *Querier) readHits(ctx context.Context, hits []*starlingpb.TraceHit) ([]*starlingpb.ResultChunk, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	sig := starlingpb.Signal_SIGNAL_TRACES
	n := q.router.Partitions(sig)
	targets := make([]readTarget, len(hits))
	for i, h := range hits {
		targets[i] = readTarget{partition: storage.PartitionOf(storage.TraceHash([16]byte(h.TraceId)), n), req: traceByID(h.TraceId)}
	}
	return q.run(ctx, sig, targets)
}

// catalog lists names of a kind over every partition of sig.
func (q *Querier) catalog(ctx context.Context, sig starlingpb.Signal, c *starlingpb.Catalog) ([]string, error) {
	res, err := q.run(ctx, sig, q.all(sig, func() *starlingpb.ReadRequest {
		return &starlingpb.ReadRequest{
			EndUnixNano: math.MaxInt64,
			Query:       &starlingpb.ReadRequest_Catalog{Catalog: c},
		}
	}))
	if err != nil {
		return nil, err
	}
	return query.UnionNames(res), nil
}

// Services lists the services that sent spans.
func (q *Querier) Services(ctx context.Context) ([]string, error) {
	return q.catalog(ctx, starlingpb.Signal_SIGNAL_TRACES, &starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_SERVICES})
}

// Operations lists the span names of a service, kept in one partition.
func (q *Querier) Operations(ctx context.Context, service string) ([]string, error) {
	res, err := q.serviceCatalog(ctx, starlingpb.Catalog_KIND_OPERATIONS, service)
	if err != nil {
		return nil, err
	}
	return query.UnionNames(res), nil
}

// serviceCatalog reads a catalog of a service from the one partition that
// keeps it.
func (q *Querier) serviceCatalog(ctx context.Context, kind starlingpb.Catalog_Kind, service string) ([]*starlingpb.ResultChunk, error) {
	sig := starlingpb.Signal_SIGNAL_TRACES
	p := storage.CatalogPartition(service, q.router.Partitions(sig))
	return q.run(ctx, sig, []readTarget{{partition: p, req: &starlingpb.ReadRequest{
		EndUnixNano: math.MaxInt64,
		Query:       &starlingpb.ReadRequest_Catalog{Catalog: &starlingpb.Catalog{Kind: kind, Service: service}},
	}}})
}

// OperationKind is a span name of a service with one span kind it was
// seen with.
type OperationKind struct {
	Name, Kind string // Kind as storage.SpanKindName
}

// OperationKinds lists the span names of a service with their span kinds,
// sorted by name, then kind. Windows written before kinds were kept add
// nothing (Operations lists their names).
func (q *Querier) OperationKinds(ctx context.Context, service string) ([]OperationKind, error) {
	res, err := q.serviceCatalog(ctx, starlingpb.Catalog_KIND_OPERATION_KINDS, service)
	if err != nil {
		return nil, err
	}
	seen := map[OperationKind]bool{}
	var out []OperationKind
	for _, c := range res {
		for _, n := range c.GetCatalogNames() {
			if k := (OperationKind{Name: n.GetName(), Kind: n.GetType()}); !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	slices.SortFunc(out, func(a, b OperationKind) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out, nil
}

// MetricNames lists metric names starting with prefix.
func (q *Querier) MetricNames(ctx context.Context, prefix string) ([]string, error) {
	return q.catalog(ctx, starlingpb.Signal_SIGNAL_METRICS, &starlingpb.Catalog{Kind: starlingpb.Catalog_KIND_METRIC_NAMES, Prefix: prefix})
}

// SearchLogs finds up to limit log records matching s in [start, end],
// newest first.
func (q *Querier) SearchLogs(ctx context.Context, s *starlingpb.LogSearch, start, end int64, limit int) ([]storage.LogEntry, error) {
	sig := starlingpb.Signal_SIGNAL_LOGS
	res, err := q.run(ctx, sig, q.all(sig, func() *starlingpb.ReadRequest {
		return &starlingpb.ReadRequest{
			StartUnixNano: start, EndUnixNano: end, Limit: uint32(limit),
			Query: &starlingpb.ReadRequest_LogSearch{LogSearch: s},
		}
	}))
	if err != nil {
		return nil, err
	}
	var records, refs []*starlingpb.Record
	for _, r := range res {
		if r != nil {
			records = append(records, r.Records...)
			refs = append(refs, r.Refs...)
		}
	}
	records = query.Newest(records, func(r *starlingpb.Record) int64 { return storage.LogTime(r.Key) }, limit)
	return storage.DecodeLogs(records, refs)
}
