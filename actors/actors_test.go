package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/cache"
	"github.com/starling-otel/starling/storage"
)

const testParts = 8

// table is a partition table the test can change.
type table struct {
	mu      sync.Mutex
	rows    []*starlingpb.Partition
	changed chan struct{}
}

func newTable(node string) *table {
	t := &table{changed: make(chan struct{})}
	for _, sig := range storage.Signals {
		for id := range uint32(testParts) {
			t.rows = append(t.rows, &starlingpb.Partition{
				Signal: sig, Id: id, Epoch: 1, Primary: node, Replicas: []string{node}, InSync: []string{node},
				State: starlingpb.PartitionState_PARTITION_STATE_ACTIVE,
			})
		}
	}
	return t
}

func (t *table) Partitions() []*starlingpb.Partition {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rows
}

func (t *table) Changed() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changed
}

// set replaces one partition's row with what change makes of a copy, as a
// Raft change would.
func (t *table) set(sig starlingpb.Signal, id uint32, change func(*starlingpb.Partition)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rows := make([]*starlingpb.Partition, len(t.rows))
	for i, r := range t.rows {
		if r.Signal == sig && r.Id == id {
			r = proto.Clone(r).(*starlingpb.Partition)
			change(r)
		}
		rows[i] = r
	}
	t.rows = rows
	close(t.changed)
	t.changed = make(chan struct{})
}

// UpdatePartition is the table as a Proposer: a compare-and-set on the
// row's epoch, like the Raft FSM's.
func (t *table) UpdatePartition(_ context.Context, row *starlingpb.Partition, expected uint64) error {
	cur := t.row(row.Signal, row.Id)
	if cur.Epoch != expected {
		return fmt.Errorf("epoch %d, expected %d", cur.Epoch, expected)
	}
	t.set(row.Signal, row.Id, func(p *starlingpb.Partition) { proto.Reset(p); proto.Merge(p, row) })
	return nil
}

func (t *table) row(sig starlingpb.Signal, id uint32) *starlingpb.Partition {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range t.rows {
		if r.Signal == sig && r.Id == id {
			return r
		}
	}
	return nil
}

// bump raises the epoch of one partition, as a Raft change would.
func (t *table) bump(sig starlingpb.Signal, id uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rows := make([]*starlingpb.Partition, len(t.rows))
	for i, r := range t.rows {
		if r.Signal == sig && r.Id == id {
			r = proto.Clone(r).(*starlingpb.Partition)
			r.Epoch++
		}
		rows[i] = r
	}
	t.rows = rows
	close(t.changed)
	t.changed = make(chan struct{})
}

type addrs struct{ system *actor.ActorSystem }

func (a addrs) ActorAddress(string) (string, bool) { return a.system.Address(), true }

type env struct {
	system    *actor.ActorSystem
	table     *table
	store     *storage.Store
	manager   *Manager
	frontends *Frontends
	querier   *Querier
	router    *Router
	outbox    *Outbox
	results   *cache.Cache // the levels of qcache
	qcache    *QueryCache  // the frontends' LateWrites; e.querier does not use it
	minInSync atomic.Int32
}

func newEnv(t testing.TB) *env {
	t.Helper()
	cfg := storage.LocalConfig(t.TempDir())
	store, err := storage.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	e := &env{
		system: actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet })),
		table:  newTable("n1"),
		store:  store,
	}
	e.minInSync.Store(1)
	e.router = NewRouter(e.table, addrs{e.system})
	e.outbox = NewOutbox(e.system, 1024)
	m := NewMetrics(nil)
	if e.manager, err = StartManager(e.system, ManagerConfig{NodeID: "n1", ReadTimeout: 5 * time.Second,
		Replication: ReplicationConfig{Timeout: 2 * time.Second, MinInSync: func() int { return int(e.minInSync.Load()) },
			Addresses: addrs{e.system}, Outbox: e.outbox, Proposer: e.table}, Metrics: DefaultMetricsConfig()}, store, e.table, m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "partition actors", e.manager.Ready)
	if e.results, err = cache.New(cache.LocalConfig(), nil, nil); err != nil {
		t.Fatal(err)
	}
	qcfg := DefaultQueryCacheConfig()
	qcfg.Self = "n1"
	if e.qcache, err = StartQueryCache(e.system, qcfg, e.results, e.store, e.router, addrs{e.system}); err != nil {
		t.Fatal(err)
	}
	fcfg := FrontendConfig{Late: e.qcache, Size: 2, Timeout: 2 * time.Second, MaxAttempts: 3, Builder: storage.BuilderConfig{
		Partitions: testParts, Window: cfg.Window, MaxFuture: time.Hour,
	}, Outbox: e.outbox}
	if e.frontends, err = StartFrontends(e.system, fcfg, e.router, storage.NewSeenCache(1<<10), m, nil); err != nil {
		t.Fatal(err)
	}
	e.querier = NewQuerier(e.system, e.router, QuerierConfig{Timeout: 5 * time.Second}, e.store)
	t.Cleanup(func() {
		e.frontends.Stop()
		e.manager.Stop()
		e.qcache.Stop()
		e.system.Shutdown()
		_ = store.Close()
	})
	return e
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func traces(n int) (ptrace.Traces, []pcommon.TraceID) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "svc")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	var ids []pcommon.TraceID
	for i := 0; i < n; i++ {
		tid := pcommon.TraceID{byte(i + 1), 7}
		ids = append(ids, tid)
		for j := 0; j < 3; j++ {
			s := ss.Spans().AppendEmpty()
			s.SetTraceID(tid)
			s.SetSpanID(pcommon.SpanID{byte(j + 1)})
			s.SetName("op")
			s.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
			s.SetEndTimestamp(pcommon.NewTimestampFromTime(now))
		}
	}
	return td, ids
}

// TestIngestThenQuery sends a request through the frontend pool and reads
// every trace back through the query coordinator.
func TestIngestThenQuery(t *testing.T) {
	e := newEnv(t)
	td, ids := traces(20)
	res, err := e.frontends.Ingest(context.Background(), &IngestRequest{Signal: starlingpb.Signal_SIGNAL_TRACES, Traces: td})
	if err != nil || res.Err != nil || res.Accepted != 60 {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	for _, id := range ids {
		got, found, err := e.querier.TraceByID(context.Background(), id)
		if err != nil || !found || got.SpanCount() != 3 {
			t.Fatalf("trace %s: %d spans, found %v, %v", id, got.SpanCount(), found, err)
		}
	}
	found, err := e.querier.FindTraces(context.Background(), &starlingpb.TraceSearch{Service: "svc"}, 0, time.Now().Add(time.Hour).UnixNano(), 50)
	if err != nil || len(found) != 20 {
		t.Fatalf("search: %d traces, %v", len(found), err)
	}
}

// TestStaleEpochRefused checks that a partition answers a batch of another
// epoch with NotPrimary and writes nothing.
func TestStaleEpochRefused(t *testing.T) {
	e := newEnv(t)
	pid, epoch, err := e.router.Primary(starlingpb.Signal_SIGNAL_TRACES, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		epoch uint64
	}{{"older", epoch - 1}, {"newer", epoch + 1}} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.system.Root.RequestFuture(pid, &starlingpb.WriteBatch{
				Format:    storage.EntryFormat,
				Partition: &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: 3, Epoch: tc.epoch},
				RequestId: 9,
			}, 5*time.Second).Result()
			if err != nil {
				t.Fatal(err)
			}
			np, ok := res.(*starlingpb.NotPrimary)
			if !ok || np.RequestId != 9 || np.Partition.GetEpoch() != epoch || np.Primary != "n1" {
				t.Fatalf("got %T %v, want NotPrimary at epoch %d", res, res, epoch)
			}
		})
	}
}

// TestFrontendFollowsEpochChange checks that after the table raises a
// partition's epoch, writes reach it (the partition learns its epoch from
// the manager, the frontend its route from the router).
func TestFrontendFollowsEpochChange(t *testing.T) {
	e := newEnv(t)
	for id := uint32(0); id < testParts; id++ {
		e.table.bump(starlingpb.Signal_SIGNAL_TRACES, id)
	}
	td, ids := traces(10)
	waitFor(t, "writes at the new epoch", func() bool {
		res, err := e.frontends.Ingest(context.Background(), &IngestRequest{Signal: starlingpb.Signal_SIGNAL_TRACES, Traces: td})
		return err == nil && res.Err == nil
	})
	for _, id := range ids {
		if _, found, err := e.querier.TraceByID(context.Background(), id); err != nil || !found {
			t.Fatalf("trace %s after the epoch change: found %v, %v", id, found, err)
		}
	}
}

// TestQueryTimesOutOnSilentPartition routes reads to a partition nobody
// hosts: the coordinator gives up with ErrQueryTimeout.
func TestQueryTimesOutOnSilentPartition(t *testing.T) {
	e := newEnv(t)
	silent := NewRouter(e.table, nowhere{})
	q := NewQuerier(e.system, silent, QuerierConfig{Timeout: 200 * time.Millisecond}, nil)
	_, _, err := q.TraceByID(context.Background(), [16]byte{1})
	if !errors.Is(err, ErrQueryTimeout) {
		t.Fatalf("got %v, want ErrQueryTimeout", err)
	}
}

// nowhere resolves every node to an address no actor system listens on.
type nowhere struct{}

func (nowhere) ActorAddress(string) (string, bool) { return "127.0.0.1:1", true }

// TestUndeliveredAnsweredNotPrimary: a write or read sent to a partition
// actor this node does not run (yet) is answered NotPrimary, so that the
// sender tries again instead of waiting for its timeout.
func TestUndeliveredAnsweredNotPrimary(t *testing.T) {
	e := newEnv(t)
	got := make(chan *starlingpb.NotPrimary, 2)
	probe, err := e.system.Root.SpawnNamed(actor.PropsFromFunc(func(c actor.Context) {
		if np, ok := c.Message().(*starlingpb.NotPrimary); ok {
			got <- np
		}
	}), "probe")
	if err != nil {
		t.Fatal(err)
	}
	missing := actor.NewPID(e.system.Address(), PartitionName(starlingpb.Signal_SIGNAL_TRACES, 9999))
	ref := &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: 9999, Epoch: 1}
	for _, tc := range []struct {
		name string
		msg  any
		id   uint64
	}{
		{"write", &starlingpb.WriteBatch{Format: storage.EntryFormat, Partition: ref, RequestId: 41}, 41},
		{"read", &starlingpb.ReadRequest{Format: storage.EntryFormat, Partition: ref, QueryId: 42}, 42},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.system.Root.RequestWithCustomSender(missing, tc.msg, probe)
			select {
			case np := <-got:
				if np.RequestId != tc.id || np.GetPartition().GetId() != 9999 {
					t.Fatalf("NotPrimary %+v, want request %d of partition 9999", np, tc.id)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no NotPrimary within 5 s")
			}
		})
	}
}

// TestQueryMemoryCap: a fan-out whose answers pass the querier's cap
// fails with ErrQueryMemory, and the next query (without the cap) is
// answered as before.
func TestQueryMemoryCap(t *testing.T) {
	e := newEnv(t)
	td, _ := traces(40)
	if res, err := e.frontends.Ingest(context.Background(), &IngestRequest{Signal: starlingpb.Signal_SIGNAL_TRACES, Traces: td}); err != nil || res.Err != nil {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	end := time.Now().Add(time.Hour).UnixNano()
	s := &starlingpb.TraceSearch{Service: "svc"}
	for _, tc := range []struct {
		name     string
		maxBytes int64
		wantErr  bool
	}{
		{"below the answers", 512, true},
		{"no cap", 0, false},
		{"above the answers", 64 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewQuerier(e.system, e.router, QuerierConfig{Timeout: 5 * time.Second, MaxBytes: tc.maxBytes}, e.store)
			found, err := q.FindTraces(context.Background(), s, 0, end, 40)
			if tc.wantErr {
				if !errors.Is(err, ErrQueryMemory) {
					t.Fatalf("got %d traces, %v; want ErrQueryMemory", len(found), err)
				}
				return
			}
			if err != nil || len(found) != 40 {
				t.Fatalf("got %d traces, %v; want 40", len(found), err)
			}
		})
	}
}

// TestQueryCancelsReads: when a query's context ends while partitions
// still read, the coordinator sends each of them a CancelRead for its
// read (the partitions here are probes that never answer).
func TestQueryCancelsReads(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	t.Cleanup(system.Shutdown)
	reads, cancels := make(chan uint64, testParts), make(chan uint64, testParts)
	for id := range uint32(testParts) {
		_, err := system.Root.SpawnNamed(actor.PropsFromFunc(func(c actor.Context) {
			switch m := c.Message().(type) {
			case *starlingpb.ReadRequest:
				reads <- m.QueryId
			case *starlingpb.CancelRead:
				cancels <- m.QueryId
			}
		}), PartitionName(starlingpb.Signal_SIGNAL_TRACES, id))
		if err != nil {
			t.Fatal(err)
		}
	}
	q := NewQuerier(system, NewRouter(newTable("n1"), addrs{system}), QuerierConfig{Timeout: time.Minute}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := q.FindTraces(ctx, &starlingpb.TraceSearch{Service: "svc"}, 0, time.Now().UnixNano(), 20)
		errc <- err
	}()
	sent := map[uint64]bool{}
	for range testParts {
		sent[<-reads] = true
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("query ended with %v, want context.Canceled", err)
	}
	for range testParts {
		select {
		case id := <-cancels:
			if !sent[id] {
				t.Fatalf("CancelRead for query %d, which was not sent", id)
			}
			delete(sent, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d reads not cancelled", len(sent))
		}
	}
}
