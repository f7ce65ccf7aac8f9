package promql_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	ppromql "github.com/prometheus/prometheus/promql"

	"github.com/starling-otel/starling/api/prometheus"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/promql"
	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
)

// Benchmarks of PromQL over a real storage.Store: the Prometheus engine
// with the API's options, this package's Queryable, and a Reader that
// answers from the store's partitions (with their heads) as the partition
// actors do. Run with e.g.
//
//	go test ./query/promql -run '^$' -bench . -benchtime 3x

const benchSignal = starlingpb.Signal_SIGNAL_METRICS

// benchStore is a store, a builder writing to it and a head per
// partition: one node's metrics partitions without the actors.
type benchStore struct {
	b       *testing.B
	store   *storage.Store
	builder *storage.Builder
	seen    *storage.SeenCache
	heads   []*tsdb.Head
}

func newBenchStore(b *testing.B, parts int) *benchStore {
	b.Helper()
	cfg := storage.LocalConfig(b.TempDir())
	s, err := storage.Open(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	seen := storage.NewSeenCache(1 << 16)
	bld, err := storage.NewBuilder(storage.BuilderConfig{
		Partitions: parts,
		Window:     cfg.Window,
		Retention:  map[starlingpb.Signal]time.Duration{benchSignal: cfg.RetentionMetrics},
		MaxFuture:  time.Hour,
	}, seen, nil)
	if err != nil {
		b.Fatal(err)
	}
	bs := &benchStore{b: b, store: s, builder: bld, seen: seen}
	for p := range parts {
		hc := tsdb.DefaultHeadConfig()
		hc.BlockDuration = storage.BlockDuration(cfg.Window).Milliseconds()
		hc.Names = seriesNames{s, uint32(p)}
		h, err := tsdb.NewHead(hc)
		if err != nil {
			b.Fatal(err)
		}
		bs.heads = append(bs.heads, h)
	}
	return bs
}

type seriesNames struct {
	s *storage.Store
	p uint32
}

func (n seriesNames) MetricName(hash uint64) string { return n.s.SeriesName(n.p, hash) }

// commit applies entries and waits for them.
func (bs *benchStore) commit(entries []byte, records int) {
	bs.b.Helper()
	if len(entries) == 0 {
		return
	}
	done := make(chan error, 1)
	bs.store.Apply(benchSignal, entries, records, func(err error) { done <- err })
	if err := <-done; err != nil {
		bs.b.Fatal(err)
	}
}

// write builds a remote write and commits it as the partition copies do:
// records completed and appended to the head, then committed.
func (bs *benchStore) write(req *tsdb.WriteRequest) {
	bs.b.Helper()
	r := bs.builder.Prom(req, true)
	if r.Rejected != 0 {
		bs.b.Fatalf("rejected %d: %s", r.Rejected, r.Message)
	}
	for _, pb := range r.Batches {
		h := bs.heads[pb.Partition]
		local, err := storage.CompleteRecords(pb.Entries, 1, h.NextSeq, h.Append)
		if err != nil {
			bs.b.Fatal(err)
		}
		bs.commit(local, pb.Records)
		bs.seen.Add(pb.Seen)
	}
}

// flush flushes every block of every head into chunks as the partition
// actors' flush does.
func (bs *benchStore) flush() {
	bs.b.Helper()
	for p, h := range bs.heads {
		for _, blk := range h.Due(true) {
			ents, _, err := bs.store.FlushEntries(context.Background(), uint32(p), blk)
			if err != nil {
				bs.b.Fatal(err)
			}
			bs.commit(ents, 0)
			h.Flushed(blk)
			dels, err := bs.store.RecordDeletes(uint32(p), blk.Start, blk.Cut())
			if err != nil {
				bs.b.Fatal(err)
			}
			bs.commit(dels, 0)
		}
	}
}

// SelectSeries asks every partition, one after the other, and merges the
// answers as actors.Querier does (which asks them in parallel).
func (bs *benchStore) SelectSeries(ctx context.Context, sel *starlingpb.SeriesSelect, limit int) ([]storage.SelectedSeries, error) {
	var out []storage.SelectedSeries
	for p, h := range bs.heads {
		var rc starlingpb.ResultChunk
		if err := bs.store.SelectSeries(ctx, uint32(p), sel, limit, h, &rc); err != nil {
			return nil, err
		}
		ss, err := storage.DecodeSelect(rc.Records)
		if err != nil {
			return nil, err
		}
		out = append(out, ss...)
	}
	slices.SortFunc(out, func(a, b storage.SelectedSeries) int { return tsdb.CompareLabels(a.Labels, b.Labels) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

var errUnused = errors.New("not used by the benchmark")

func (bs *benchStore) LabelValues(context.Context, *starlingpb.LabelQuery) ([]string, error) {
	return nil, errUnused
}

func (bs *benchStore) Exemplars(context.Context, *starlingpb.ExemplarQuery) ([]storage.SeriesExemplars, error) {
	return nil, errUnused
}

// writeCounters writes counters name{instance, cpu, job} of instances ×
// cpus series with n samples step ms apart from t0, in requests of ten
// samples of every series.
func (bs *benchStore) writeCounters(name string, instances, cpus int, t0, step int64, n int) {
	bs.b.Helper()
	vals := make([]float64, instances*cpus)
	for done := 0; done < n; done += 10 {
		req := &tsdb.WriteRequest{}
		for i := range instances {
			for c := range cpus {
				s := tsdb.Series{Labels: []tsdb.Label{
					{Name: tsdb.MetricNameLabel, Value: name},
					{Name: "cpu", Value: fmt.Sprint(c)},
					{Name: "instance", Value: fmt.Sprintf("10.1.0.%d:9100", 10+i)},
					{Name: "job", Value: "node"},
				}}
				v := &vals[i*cpus+c]
				for k := done; k < min(done+10, n); k++ {
					*v += float64((k*7+i*3+c)%13) / 4
					s.Samples = append(s.Samples, tsdb.Sample{T: t0 + int64(k)*step, V: *v})
				}
				req.Series = append(req.Series, s)
			}
		}
		bs.write(req)
	}
}

func BenchmarkRangeQuery(b *testing.B) {
	// 100 series of x (10 instances × 10 cpus) and 100 of another metric,
	// 1 h 5 min of 15 s samples in the block before the current one;
	// sum by (instance)(rate(x[5m])) over the last hour of it at 15 s.
	const (
		parts     = 16
		instances = 10
		step      = 15 * time.Second
		query     = `sum by (instance)(rate(x[5m]))`
	)
	bd := storage.BlockDuration(storage.LocalConfig("").Window).Milliseconds()
	now := time.Now().UnixMilli()
	t0 := now - now%bd - bd
	n := int((65*time.Minute)/step) + 1
	start := time.UnixMilli(t0).Add(5 * time.Minute)
	end := start.Add(time.Hour)
	wantPoints := int(time.Hour/step) + 1

	cfg := prometheus.DefaultConfig()
	engine := ppromql.NewEngine(cfg.EngineOpts())
	qcfg := promql.DefaultConfig()
	qcfg.LookbackDelta = cfg.LookbackDelta
	for _, flushed := range []bool{true, false} {
		name := "chunks"
		if !flushed {
			name = "head"
		}
		b.Run(name, func(b *testing.B) {
			bs := newBenchStore(b, parts)
			bs.writeCounters("x", instances, 10, t0, step.Milliseconds(), n)
			bs.writeCounters("y", instances, 10, t0, step.Milliseconds(), n)
			if flushed {
				bs.flush()
			}
			q, err := promql.NewQueryable(bs, qcfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			// run runs the query and checks its answer (before Close hands
			// its points back to the engine's pools).
			run := func(check func(ppromql.Matrix)) {
				qry, err := engine.NewRangeQuery(ctx, q, nil, query, start, end, step)
				if err != nil {
					b.Fatal(err)
				}
				defer qry.Close()
				res := qry.Exec(ctx)
				if res.Err != nil {
					b.Fatal(res.Err)
				}
				m, err := res.Matrix()
				if err != nil {
					b.Fatal(err)
				}
				if len(m) != instances {
					b.Fatalf("%d series in the answer, want %d", len(m), instances)
				}
				if check != nil {
					check(m)
				}
			}
			run(func(m ppromql.Matrix) {
				for _, s := range m {
					if len(s.Floats) != wantPoints {
						b.Fatalf("%s: %d points, want %d", s.Metric, len(s.Floats), wantPoints)
					}
					for _, p := range s.Floats {
						if !(p.F > 0) {
							b.Fatalf("%s: rate %v at %d, want > 0", s.Metric, p.F, p.T)
						}
					}
				}
			})
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				run(nil)
			}
		})
	}
}
