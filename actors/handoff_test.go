package actors

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// remoteNode is an actor system reachable on a loopback address, with a
// store and a handoff actor: one side of a handoff.
type remoteNode struct {
	system *actor.ActorSystem
	store  *storage.Store
}

func startRemoteNode(t testing.TB, host string) *remoteNode {
	t.Helper()
	store, err := storage.Open(storage.LocalConfig(t.TempDir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := remote.NewRemote(system, remote.Configure(host, port,
		remote.WithServerOptions(grpc.MaxRecvMsgSize(64<<20)),
		remote.WithDialOptions(grpc.WithTransportCredentials(insecure.NewCredentials()))))
	r.Start()
	if _, err := StartHandoffActor(system, store, 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Shutdown(false)
		system.Shutdown()
		_ = store.Close()
	})
	return &remoteNode{system: system, store: store}
}

// fillPartition writes traces into partition 0 of a store (built for one
// partition), about size bytes of keys and values; it returns what the
// partition holds.
func fillPartition(t testing.TB, store *storage.Store, size int64) storage.SnapshotStats {
	t.Helper()
	b, err := storage.NewBuilder(storage.BuilderConfig{Partitions: 1, Window: store.Config().Window, MaxFuture: time.Hour}, storage.NewSeenCache(16), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Framed entries are a little larger than the keys and values they
	// carry: write until they add up to size, then measure.
	var written int64
	for round := 0; written < size; round++ {
		td, _ := traces(40)
		spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		for i := 0; i < spans.Len(); i++ {
			tid := spans.At(i).TraceID()
			tid[8], tid[9], tid[10] = byte(round), byte(round>>8), byte(round>>16)
			spans.At(i).SetTraceID(tid)
		}
		for _, pb := range b.Traces(td).Batches {
			done := make(chan error, 1)
			store.Apply(starlingpb.Signal_SIGNAL_TRACES, pb.Entries, pb.Records, func(err error) { done <- err })
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			written += int64(len(pb.Entries))
		}
	}
	st, err := store.StreamPartition(context.Background(), starlingpb.Signal_SIGNAL_TRACES, 0, 1<<30, func(*starlingpb.SnapshotChunk) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestHandoffCopiesAPartitionOverTheRemote(t *testing.T) {
	src, dst := startRemoteNode(t, "127.0.0.71"), startRemoteNode(t, "127.0.0.72")
	want := fillPartition(t, src.store, 4<<20)
	var calls []HandoffProgress
	cfg := DefaultHandoffConfig()
	cfg.ChunkBytes, cfg.Credit, cfg.MaxRate = 64<<10, 4, 0
	prog, err := SendPartition(context.Background(), src.system, src.store, cfg, "m-1",
		starlingpb.Signal_SIGNAL_TRACES, 0, 1, dst.system.Address(), func(p HandoffProgress) { calls = append(calls, p) })
	if err != nil {
		t.Fatal(err)
	}
	got, err := dst.store.StreamPartition(context.Background(), starlingpb.Signal_SIGNAL_TRACES, 0, 1<<30, func(*starlingpb.SnapshotChunk) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Versions != want.Versions || got.Bytes != want.Bytes || got.Keys != want.Keys {
		t.Fatalf("target holds %+v, source %+v", got, want)
	}
	if !prog.Done || prog.Bytes != want.Bytes || prog.Keys < want.Keys || prog.Estimate <= 0 {
		t.Errorf("progress %+v, want done with %d bytes and an estimate", prog, want.Bytes)
	}
	if len(calls) < 10 || calls[len(calls)-1].Bytes != want.Bytes {
		t.Errorf("%d progress calls", len(calls))
	}
	for i := 1; i < len(calls); i++ {
		if calls[i].Bytes < calls[i-1].Bytes {
			t.Fatalf("progress went back: %+v after %+v", calls[i], calls[i-1])
		}
	}
	t.Logf("%d MiB in %d chunks at %.1f MiB/s (estimate %d MiB)", want.Bytes>>20, prog.Chunks, prog.Rate()/(1<<20), prog.Estimate>>20)
}

func TestHandoffRateLimitAndUnreachableTarget(t *testing.T) {
	src, dst := startRemoteNode(t, "127.0.0.73"), startRemoteNode(t, "127.0.0.74")
	want := fillPartition(t, src.store, 1<<20)
	cfg := DefaultHandoffConfig()
	cfg.ChunkBytes, cfg.MaxRate = 64<<10, want.Bytes*2 // about half a second
	began := time.Now()
	if _, err := SendPartition(context.Background(), src.system, src.store, cfg, "m-2",
		starlingpb.Signal_SIGNAL_TRACES, 0, 1, dst.system.Address(), nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < 400*time.Millisecond {
		t.Errorf("%d bytes at %d bytes/s took %s", want.Bytes, cfg.MaxRate, took)
	}
	cfg.AckTimeout = 300 * time.Millisecond
	if _, err := SendPartition(context.Background(), src.system, src.store, cfg, "m-3",
		starlingpb.Signal_SIGNAL_TRACES, 0, 1, "127.0.0.75:1", nil); err == nil {
		t.Fatal("a handoff to nowhere succeeded")
	}
}

// BenchmarkHandoffPartition sends one partition of
// STARLING_BENCH_PARTITION_MIB MiB (default 32; task bench-handoff: 1024)
// from one actor system to another over loopback, with the default chunk
// size and credit and no rate limit, and reports MiB/s.
func BenchmarkHandoffPartition(b *testing.B) {
	mib := int64(32)
	if v := os.Getenv("STARLING_BENCH_PARTITION_MIB"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			b.Fatalf("STARLING_BENCH_PARTITION_MIB=%q", v)
		}
		mib = n
	}
	src := startRemoteNode(b, "127.0.0.76")
	want := fillPartition(b, src.store, mib<<20)
	cfg := DefaultHandoffConfig()
	cfg.MaxRate = 0
	var bytes int64
	i := 0
	for b.Loop() {
		b.StopTimer()
		dst := startRemoteNode(b, "127.0.0.77")
		i++
		b.StartTimer()
		prog, err := SendPartition(context.Background(), src.system, src.store, cfg, "bench-"+strconv.Itoa(i),
			starlingpb.Signal_SIGNAL_TRACES, 0, 1, dst.system.Address(), nil)
		if err != nil || prog.Bytes != want.Bytes {
			b.Fatalf("sent %d of %d bytes: %v", prog.Bytes, want.Bytes, err)
		}
		bytes += prog.Bytes
	}
	b.ReportMetric(float64(bytes)/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
}
