package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage/tsdb"
)

// This file holds the test data generators and the helpers every storage
// test shares: a controllable clock, a store+builder environment, applyAll,
// key counting and canonical encodings for comparing pdata.

const (
	sigTraces  = starlingpb.Signal_SIGNAL_TRACES
	sigLogs    = starlingpb.Signal_SIGNAL_LOGS
	sigMetrics = starlingpb.Signal_SIGNAL_METRICS

	testRetention = 7 * 24 * time.Hour
	applyDeadline = 30 * time.Second
	maxTime       = int64(math.MaxInt64)
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// ---------------------------------------------------------------------------
// Clock and environment

// fakeClock is a settable clock shared by a builder and a store.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// testEnv is a store in a temporary directory and a builder writing to it.
type testEnv struct {
	t       testing.TB
	dir     string
	cfg     Config
	store   *Store
	builder *Builder
	seen    *SeenCache
	clock   *fakeClock
	parts   int
	heads   map[uint32]*tsdb.Head // metrics partition copies' heads, see metricenv_test.go
}

type envOption func(*Config, *BuilderConfig)

// withRetentionLoopOff keeps the background retention loop from racing a
// test that calls ExpireWindows or dropEmptiedRecords itself.
func withRetentionLoopOff() envOption {
	return func(c *Config, _ *BuilderConfig) { c.RetentionInterval, c.RecordsCheckInterval = time.Hour, time.Hour }
}

func testBuilderConfig(parts int) BuilderConfig {
	return BuilderConfig{
		Partitions: parts,
		Window:     24 * time.Hour,
		Retention: map[starlingpb.Signal]time.Duration{
			sigTraces: testRetention, sigLogs: testRetention, sigMetrics: testRetention,
		},
		MaxFuture: time.Hour,
	}
}

// newTestEnv opens a store with LocalConfig in t.TempDir() and a builder of
// parts partitions; both read clock, which starts at the current time.
func newTestEnv(t testing.TB, parts int, opts ...envOption) *testEnv {
	t.Helper()
	return newTestEnvAt(t, t.TempDir(), parts, newFakeClock(time.Now()), opts...)
}

func newTestEnvAt(t testing.TB, dir string, parts int, clock *fakeClock, opts ...envOption) *testEnv {
	t.Helper()
	cfg := LocalConfig(dir)
	cfg.Now = clock.Now
	bcfg := testBuilderConfig(parts)
	for _, o := range opts {
		o(&cfg, &bcfg)
	}
	s, err := Open(cfg, nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	seen := NewSeenCache(1 << 16)
	b, err := NewBuilder(bcfg, seen, clock.Now)
	if err != nil {
		_ = s.Close()
		t.Fatalf("new builder: %v", err)
	}
	e := &testEnv{t: t, dir: dir, cfg: cfg, store: s, builder: b, seen: seen, clock: clock, parts: parts}
	t.Cleanup(func() { _ = e.store.Close() })
	return e
}

// reopen closes the store and opens the same directory again.
func (e *testEnv) reopen() {
	e.t.Helper()
	if err := e.store.Close(); err != nil {
		e.t.Fatalf("close store: %v", err)
	}
	s, err := Open(e.cfg, nil)
	if err != nil {
		e.t.Fatalf("reopen store: %v", err)
	}
	e.store = s
	if e.heads != nil {
		e.replayHeads() // the partition copies restart with the store
	}
}

func (e *testEnv) apply(sig starlingpb.Signal, r BuildResult) {
	e.t.Helper()
	applyAll(e.t, e.store, e.seen, sig, r)
}

func (e *testEnv) writeTraces(td ptrace.Traces) BuildResult {
	e.t.Helper()
	return e.write(sigTraces, e.builder.Traces(td))
}

func (e *testEnv) writeLogs(ld plog.Logs) BuildResult {
	e.t.Helper()
	return e.write(sigLogs, e.builder.Logs(ld))
}

// write applies a built request that must have no rejected record.
func (e *testEnv) write(sig starlingpb.Signal, r BuildResult) BuildResult {
	e.t.Helper()
	if r.Rejected != 0 {
		e.t.Fatalf("%s rejected: %d (%v): %s", SignalName(sig), r.Rejected, r.Reasons, r.Message)
	}
	e.apply(sig, r)
	return r
}

// applyAll checks and applies every batch of r, waits (with a deadline) for
// every done callback, and then adds the batches' write-once keys to seen
// (which may be nil).
func applyAll(t testing.TB, s *Store, seen *SeenCache, sig starlingpb.Signal, r BuildResult) {
	t.Helper()
	if err := applyAllErr(s, seen, sig, r); err != nil {
		t.Fatal(err)
	}
}

func applyAllErr(s *Store, seen *SeenCache, sig starlingpb.Signal, r BuildResult) error {
	done := make(chan error, len(r.Batches))
	for i, b := range r.Batches {
		if _, err := CheckEntries(b.Entries, b.Partition, s.WindowSeconds()); err != nil {
			return fmt.Errorf("batch %d (partition %d): CheckEntries: %w", i, b.Partition, err)
		}
		s.Apply(sig, b.Entries, b.Records, func(err error) { done <- err })
	}
	deadline := time.NewTimer(applyDeadline)
	defer deadline.Stop()
	var firstErr error
	for range r.Batches {
		select {
		case err := <-done:
			if err != nil && firstErr == nil {
				firstErr = err
			}
		case <-deadline.C:
			return fmt.Errorf("apply: not every batch was answered within %s", applyDeadline)
		}
	}
	if firstErr != nil {
		return fmt.Errorf("apply: %w", firstErr)
	}
	for _, b := range r.Batches {
		seen.Add(b.Seen)
	}
	return nil
}

// countKeys counts the distinct keys of every open window of sig, by kind.
func countKeys(t testing.TB, s *Store, sig starlingpb.Signal) (total int, byKind map[byte]int) {
	t.Helper()
	byKind = make(map[byte]int)
	ws := s.acquire(sig, 0, maxTime)
	defer releaseAll(ws)
	for _, sh := range shardsOf(ws) {
		err := sh.db.View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			opts.PrefetchValues = false
			// Span groups are versions of one key; in metrics databases an
			// older version is only what a newer one replaced.
			opts.AllVersions = !versionClock(sig)
			it := txn.NewIterator(opts)
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				k := it.Item().Key()
				if len(k) == headerLen && k[partLen] == kindTraceSummary {
					continue // kept by a close, not data (tracesummary.go)
				}
				if len(k) >= headerLen {
					byKind[k[partLen]]++
				}
				total++
			}
			return nil
		})
		if err != nil {
			t.Fatalf("count keys: %v", err)
		}
	}
	return total, byKind
}

// spansIn is the number of distinct spans in a ReadTrace answer.
func spansIn(t testing.TB, out *starlingpb.ResultChunk) int {
	t.Helper()
	td, err := DecodeTrace(out.Records, out.Refs)
	if err != nil {
		t.Fatalf("decode trace: %v", err)
	}
	return td.SpanCount()
}

// shardsOf lists the shards of windows.
func shardsOf(ws []*window) []*shard {
	var out []*shard
	for _, w := range ws {
		out = append(out, w.shards...)
	}
	return out
}

// storedSpans counts the spans held in span group records of every window
// (a span stored in two groups counts twice).
func storedSpans(t testing.TB, s *Store, sig starlingpb.Signal) int {
	t.Helper()
	n := 0
	ws := s.acquire(sig, 0, maxTime)
	defer releaseAll(ws)
	for _, sh := range shardsOf(ws) {
		err := sh.db.View(func(txn *badger.Txn) error {
			opts := badger.DefaultIteratorOptions
			// Span groups are versions of one key; in metrics databases an
			// older version is only what a newer one replaced.
			opts.AllVersions = !versionClock(sig)
			it := txn.NewIterator(opts)
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				if k := it.Item().Key(); len(k) < headerLen || k[partLen] != kindSpan {
					continue
				}
				v, err := it.Item().ValueCopy(nil)
				if err != nil {
					return err
				}
				if err := forEachGroupSpan(v, func(pcommon.SpanID, []byte) error { n++; return nil }); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("count spans: %v", err)
		}
	}
	return n
}

// ---------------------------------------------------------------------------
// Reading helpers

func (e *testEnv) readTrace(tid pcommon.TraceID) *starlingpb.ResultChunk {
	e.t.Helper()
	var out starlingpb.ResultChunk
	p := PartitionOf(TraceHash(tid), e.parts)
	if err := e.store.ReadTrace(context.Background(), p, tid, &out); err != nil {
		e.t.Fatalf("ReadTrace %s: %v", tid, err)
	}
	return &out
}

// searchTraces runs q over every partition and returns the hits per
// partition.
func (e *testEnv) searchTraces(q *starlingpb.TraceSearch, start, end int64, limit int) map[uint32][]*starlingpb.TraceHit {
	e.t.Helper()
	res := make(map[uint32][]*starlingpb.TraceHit)
	for p := 0; p < e.parts; p++ {
		var out starlingpb.ResultChunk
		if err := e.store.SearchTraces(context.Background(), uint32(p), q, start, end, limit, &out); err != nil {
			e.t.Fatalf("SearchTraces p%d: %v", p, err)
		}
		if len(out.TraceHits) > 0 {
			res[uint32(p)] = out.TraceHits
		}
	}
	return res
}

func (e *testEnv) searchLogs(q *starlingpb.LogSearch, start, end int64, limit int) map[uint32]*starlingpb.ResultChunk {
	e.t.Helper()
	res := make(map[uint32]*starlingpb.ResultChunk)
	for p := 0; p < e.parts; p++ {
		out := &starlingpb.ResultChunk{}
		if err := e.store.SearchLogs(context.Background(), uint32(p), q, start, end, limit, out); err != nil {
			e.t.Fatalf("SearchLogs p%d: %v", p, err)
		}
		if len(out.Records) > 0 {
			res[uint32(p)] = out
		}
	}
	return res
}

func (e *testEnv) catalog(q *starlingpb.Catalog) []string {
	e.t.Helper()
	seen := map[string]bool{}
	var names []string
	for p := 0; p < e.parts; p++ {
		var out starlingpb.ResultChunk
		if err := e.store.ReadCatalog(context.Background(), uint32(p), q, 0, maxTime, &out); err != nil {
			e.t.Fatalf("ReadCatalog p%d: %v", p, err)
		}
		for _, n := range out.Names {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return names
}

// ---------------------------------------------------------------------------
// Generators

type genService struct {
	name, version, lang, sdkVersion, host string
	pid                                   int64
}

var genServices = []genService{
	{"frontend", "2.3.1", "nodejs", "1.26.0", "web-7f9c", 4121},
	{"checkout", "1.14.0", "go", "1.28.0", "app-01", 1},
	{"cart", "0.9.7", "dotnet", "1.9.0", "app-02", 7},
	{"payment", "3.0.0", "java", "1.40.0", "pay-1", 31337},
	{"shipping", "1.1.2", "rust", "0.24.0", "app-03", 12},
}

const (
	genResourceSchema = "https://opentelemetry.io/schemas/1.26.0"
	genScopeSchema    = "https://opentelemetry.io/schemas/1.24.0"
)

// fillResource sets SDK-like resource attributes of svc.
func fillResource(res pcommon.Resource, svc genService) {
	a := res.Attributes()
	a.PutStr("service.name", svc.name)
	a.PutStr("service.version", svc.version)
	a.PutStr("service.namespace", "shop")
	a.PutStr("service.instance.id", fmt.Sprintf("%s-%08x", svc.name, uint32(svc.pid*2654435761)))
	a.PutStr("telemetry.sdk.name", "opentelemetry")
	a.PutStr("telemetry.sdk.language", svc.lang)
	a.PutStr("telemetry.sdk.version", svc.sdkVersion)
	a.PutStr("host.name", svc.host)
	a.PutStr("host.arch", "amd64")
	a.PutStr("os.type", "linux")
	a.PutInt("process.pid", svc.pid)
	a.PutStr("deployment.environment.name", "production")
	a.PutStr("k8s.pod.name", svc.name+"-5d8f7c9b4-x2k9q")
	if svc.lang == "java" {
		args := a.PutEmptySlice("process.command_args")
		args.AppendEmpty().SetStr("-Xmx512m")
		args.AppendEmpty().SetStr("-jar")
		args.AppendEmpty().SetStr("payment.jar")
		res.SetDroppedAttributesCount(2)
	}
}

func fillScope(scope pcommon.InstrumentationScope, svc genService, i int) {
	switch i {
	case 0:
		scope.SetName("io.opentelemetry." + svc.lang + ".http")
		scope.SetVersion("0.45.0")
	default:
		scope.SetName("github.com/shop/" + svc.name)
		scope.SetVersion(svc.version)
		scope.Attributes().PutStr("library.kind", "manual")
		scope.SetDroppedAttributesCount(1)
	}
}

func randTraceID(rng *rand.Rand) pcommon.TraceID {
	var id pcommon.TraceID
	for id.IsEmpty() {
		binary.BigEndian.PutUint64(id[:8], rng.Uint64())
		binary.BigEndian.PutUint64(id[8:], rng.Uint64())
	}
	return id
}

func randSpanID(rng *rand.Rand) pcommon.SpanID {
	var id pcommon.SpanID
	for id.IsEmpty() {
		binary.BigEndian.PutUint64(id[:], rng.Uint64())
	}
	return id
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

var (
	genRoutes   = []string{"/api/cart", "/api/checkout", "/api/products/{id}", "/api/shipping/quote", "/healthz", "/api/users/{id}/orders"}
	genMethods  = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	genPeers    = []string{"cart.shop.svc", "payment.shop.svc", "redis-master", "postgres-0.db", "api.stripe.com"}
	genOpsByKnd = map[ptrace.SpanKind][]string{
		ptrace.SpanKindClient:   {"HTTP GET", "HTTP POST", "redis GET", "SELECT orders", "grpc.Charge"},
		ptrace.SpanKindInternal: {"compute-quote", "render", "validate-cart", "serialize"},
		ptrace.SpanKindProducer: {"orders publish"},
		ptrace.SpanKindConsumer: {"orders process"},
	}
)

// genSpanTimes holds the times of a generated span so that children start
// inside their parent.
type genSpanTimes struct{ start, end uint64 }

// genTraces returns traces of spansPerTrace spans each, spread over the
// services of genServices (one ResourceSpans per service, two scopes each),
// started in the hour before now. Roughly one span in ten is an error, some
// are explicitly OK, some have events (exceptions among them) and links, and
// attributes of every value type appear.
func genTraces(rng *rand.Rand, traces, spansPerTrace int, now time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	slots := make(map[string][2]ptrace.SpanSlice)
	slot := func(svc genService, scope int) ptrace.SpanSlice {
		s, ok := slots[svc.name]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			rs.SetSchemaUrl(genResourceSchema)
			fillResource(rs.Resource(), svc)
			for i := range s {
				ss := rs.ScopeSpans().AppendEmpty()
				fillScope(ss.Scope(), svc, i)
				if i == 1 {
					ss.SetSchemaUrl(genScopeSchema)
				}
				s[i] = ss.Spans()
			}
			slots[svc.name] = s
		}
		return s[scope]
	}
	for range traces {
		tid := randTraceID(rng)
		start := uint64(now.Add(-time.Minute).UnixNano()) - uint64(rng.Int64N(int64(50*time.Minute)))
		rootDur := uint64(time.Millisecond) + uint64(rng.ExpFloat64()*float64(200*time.Millisecond))
		times := make([]genSpanTimes, 0, spansPerTrace)
		ids := make([]pcommon.SpanID, 0, spansPerTrace)
		svcs := make([]genService, 0, spansPerTrace)
		for i := range spansPerTrace {
			var s ptrace.Span
			var svc genService
			var parent int
			kind := ptrace.SpanKindServer
			if i == 0 {
				svc = genServices[rng.IntN(2)]
				times = append(times, genSpanTimes{start, start + rootDur})
			} else {
				parent = rng.IntN(i)
				svc = svcs[parent]
				kind = pick(rng, []ptrace.SpanKind{ptrace.SpanKindClient, ptrace.SpanKindClient, ptrace.SpanKindInternal, ptrace.SpanKindProducer, ptrace.SpanKindServer})
				if kind == ptrace.SpanKindServer {
					svc = pick(rng, genServices)
				}
				pt := times[parent]
				d := pt.end - pt.start
				st := pt.start + uint64(rng.Int64N(int64(d/2)+1))
				en := st + uint64(rng.Int64N(int64(pt.end-st)+1))
				times = append(times, genSpanTimes{st, en})
			}
			s = slot(svc, rng.IntN(2)).AppendEmpty()
			id := randSpanID(rng)
			ids = append(ids, id)
			svcs = append(svcs, svc)
			s.SetTraceID(tid)
			s.SetSpanID(id)
			if i > 0 {
				s.SetParentSpanID(ids[parent])
			}
			s.SetStartTimestamp(pcommon.Timestamp(times[i].start))
			s.SetEndTimestamp(pcommon.Timestamp(times[i].end))
			s.SetKind(kind)
			s.SetFlags(1 | uint32(rng.IntN(2))<<8)
			if rng.IntN(5) == 0 {
				s.TraceState().FromRaw("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
			}
			fillSpan(rng, s, kind)
		}
	}
	return td
}

func fillSpan(rng *rand.Rand, s ptrace.Span, kind ptrace.SpanKind) {
	a := s.Attributes()
	status := 200
	switch rng.IntN(10) {
	case 0:
		status = 500
		s.Status().SetCode(ptrace.StatusCodeError)
		s.Status().SetMessage(pick(rng, []string{"deadline exceeded", "connection refused", "card declined: insufficient funds"}))
	case 1:
		s.Status().SetCode(ptrace.StatusCodeOk)
	case 2:
		status = 404
	}
	switch kind {
	case ptrace.SpanKindServer:
		method, route := pick(rng, genMethods), pick(rng, genRoutes)
		s.SetName(method + " " + route)
		a.PutStr("http.method", method)
		a.PutStr("http.route", route)
		a.PutInt("http.status_code", int64(status))
		a.PutStr("url.scheme", "https")
		a.PutInt("net.host.port", 8080)
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
	case ptrace.SpanKindClient:
		s.SetName(pick(rng, genOpsByKnd[kind]))
		a.PutStr("net.peer.name", pick(rng, genPeers))
		a.PutInt("net.peer.port", int64(pick(rng, []int{80, 443, 5432, 6379})))
		a.PutStr("http.method", pick(rng, genMethods))
		a.PutInt("http.status_code", int64(status))
	default:
		s.SetName(pick(rng, genOpsByKnd[kind]))
		a.PutInt("app.cart.items", rng.Int64N(20))
		a.PutBool("app.feature.enabled", rng.IntN(2) == 0)
		a.PutDouble("app.ratio", float64(rng.IntN(1000))/7)
		if kind == ptrace.SpanKindProducer {
			a.PutStr("messaging.system", "kafka")
			a.PutStr("messaging.destination.name", "orders")
		}
	}
	if rng.IntN(8) == 0 {
		a.PutEmptyBytes("app.payload").FromRaw([]byte{0, 1, 2, 0xfe, 0xff, byte(rng.IntN(256))})
		tags := a.PutEmptySlice("app.tags")
		tags.AppendEmpty().SetStr("beta")
		tags.AppendEmpty().SetInt(rng.Int64N(100) - 50)
		tags.AppendEmpty().SetBool(true)
		tags.AppendEmpty().SetDouble(-2.5)
		tags.AppendEmpty() // empty value
		ctx := a.PutEmptyMap("app.ctx")
		user := ctx.PutEmptyMap("user")
		user.PutInt("id", rng.Int64N(1e6))
		user.PutStr("tier", pick(rng, []string{"gold", "free"}))
		nested := ctx.PutEmptySlice("list")
		nested.AppendEmpty().SetEmptyMap().PutStr("k", "v")
		nested.AppendEmpty().SetEmptySlice().AppendEmpty().SetInt(1)
		a.PutStr("app.unicode", "Grüße, 世界 🌍")
		a.PutInt("app.min", math.MinInt64)
		a.PutEmpty("app.empty")
	}
	if rng.IntN(16) == 0 {
		s.SetDroppedAttributesCount(uint32(rng.IntN(5) + 1))
	}
	if s.Status().Code() == ptrace.StatusCodeError {
		e := s.Events().AppendEmpty()
		e.SetName("exception")
		e.SetTimestamp(s.EndTimestamp())
		e.Attributes().PutStr("exception.type", "java.net.ConnectException")
		e.Attributes().PutStr("exception.message", s.Status().Message())
		e.Attributes().PutStr("exception.stacktrace", "at com.shop.Pay.charge(Pay.java:42)\n\tat com.shop.Main.run(Main.java:7)")
		e.Attributes().PutBool("exception.escaped", true)
	}
	if rng.IntN(3) == 0 {
		for range rng.IntN(3) + 1 {
			e := s.Events().AppendEmpty()
			e.SetName(pick(rng, []string{"cache.miss", "retry", "message"}))
			e.SetTimestamp(s.StartTimestamp() + pcommon.Timestamp(rng.Int64N(int64(s.EndTimestamp()-s.StartTimestamp())+1)))
			e.Attributes().PutInt("attempt", rng.Int64N(4))
			if rng.IntN(4) == 0 {
				e.SetDroppedAttributesCount(3)
			}
		}
		if rng.IntN(4) == 0 {
			s.SetDroppedEventsCount(uint32(rng.IntN(10) + 1))
		}
	}
	if rng.IntN(10) == 0 {
		for range rng.IntN(2) + 1 {
			l := s.Links().AppendEmpty()
			l.SetTraceID(randTraceID(rng))
			l.SetSpanID(randSpanID(rng))
			l.TraceState().FromRaw("vendor=abc")
			l.Attributes().PutStr("link.kind", "follows_from")
			l.SetDroppedAttributesCount(uint32(rng.IntN(2)))
			l.SetFlags(uint32(rng.IntN(2)) | 0x100)
		}
		if rng.IntN(2) == 0 {
			s.SetDroppedLinksCount(2)
		}
	}
}

var (
	genLogBodies = []string{
		"GET /api/products/%d HTTP/1.1 200 %dms",
		"User %d added %d items to cart",
		"Failed to charge card: connection reset by peer (attempt %d of %d)",
		"cache miss for key product:%d shard %d",
		"Shipping quote computed: %d.%02d USD",
		"Zahlung fehlgeschlagen: Überweisung %d abgelehnt (%d)",
		"order_id=%d processed in %dms",
	}
	genSeverityTexts = []string{"", "TRACE", "TRACE2", "TRACE3", "TRACE4", "DEBUG", "DEBUG2", "DEBUG3", "DEBUG4",
		"INFO", "INFO2", "INFO3", "INFO4", "WARN", "WARN2", "WARN3", "WARN4", "ERROR", "ERROR2", "ERROR3", "ERROR4",
		"FATAL", "FATAL2", "FATAL3", "FATAL4"}
)

// genLogs returns n log records of the services of genServices, timed in
// the hour before now, with varied bodies (strings mostly, also maps, ints,
// bytes and empty), every severity, attributes and, for about half of them,
// a trace and span id.
func genLogs(rng *rand.Rand, n int, now time.Time) plog.Logs {
	ld := plog.NewLogs()
	slots := make(map[string][2]plog.LogRecordSlice)
	for range n {
		svc := pick(rng, genServices)
		sl, ok := slots[svc.name]
		if !ok {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.SetSchemaUrl(genResourceSchema)
			fillResource(rl.Resource(), svc)
			for i := range sl {
				scl := rl.ScopeLogs().AppendEmpty()
				fillScope(scl.Scope(), svc, i)
				if i == 1 {
					scl.SetSchemaUrl(genScopeSchema)
				}
				sl[i] = scl.LogRecords()
			}
			slots[svc.name] = sl
		}
		lr := sl[rng.IntN(2)].AppendEmpty()
		fillLog(rng, lr, now)
	}
	return ld
}

func genSeverity(rng *rand.Rand) int {
	switch x := rng.IntN(100); {
	case x < 5:
		return 0
	case x < 15:
		return 1 + rng.IntN(8) // trace, debug
	case x < 70:
		return 9 + rng.IntN(4) // info
	case x < 85:
		return 13 + rng.IntN(4) // warn
	case x < 97:
		return 17 + rng.IntN(4) // error
	default:
		return 21 + rng.IntN(4) // fatal
	}
}

func fillLog(rng *rand.Rand, lr plog.LogRecord, now time.Time) {
	ts := pcommon.Timestamp(now.Add(-time.Minute).UnixNano() - rng.Int64N(int64(50*time.Minute)))
	if rng.IntN(20) == 0 {
		lr.SetObservedTimestamp(ts) // time only in the observed timestamp
	} else {
		lr.SetTimestamp(ts)
		lr.SetObservedTimestamp(ts + pcommon.Timestamp(rng.Int64N(int64(time.Second))))
	}
	sev := genSeverity(rng)
	lr.SetSeverityNumber(plog.SeverityNumber(sev))
	lr.SetSeverityText(genSeverityTexts[sev])
	switch x := rng.IntN(100); {
	case x < 80:
		lr.Body().SetStr(fmt.Sprintf(pick(rng, genLogBodies), rng.IntN(10000), rng.IntN(100)))
	case x < 90:
		m := lr.Body().SetEmptyMap()
		m.PutStr("event", "checkout")
		m.PutDouble("amount", float64(rng.IntN(100000))/100)
		items := m.PutEmptySlice("items")
		for range rng.IntN(3) + 1 {
			items.AppendEmpty().SetStr(fmt.Sprintf("sku-%d", rng.IntN(500)))
		}
	case x < 95:
		lr.Body().SetInt(rng.Int64N(1 << 40))
	case x < 98:
		lr.Body().SetEmptyBytes().FromRaw([]byte{0xde, 0xad, byte(rng.IntN(256))})
	default:
		// empty body
	}
	a := lr.Attributes()
	a.PutStr("code.function", pick(rng, []string{"main.handle", "cart.Add", "pay.Charge"}))
	a.PutInt("thread.id", rng.Int64N(64))
	if rng.IntN(3) == 0 {
		a.PutInt("http.status_code", int64(pick(rng, []int{200, 404, 500})))
	}
	if sev >= 17 {
		a.PutStr("exception.type", "TimeoutError")
	}
	if rng.IntN(10) == 0 {
		a.PutEmptyMap("ctx").PutBool("retry", true)
		lr.SetDroppedAttributesCount(1)
	}
	if rng.IntN(2) == 0 {
		lr.SetTraceID(randTraceID(rng))
		lr.SetSpanID(randSpanID(rng))
		lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	}
	if rng.IntN(20) == 0 {
		lr.SetEventName("browser.page_view")
	}
}

// genMetrics returns metrics of all five types for three services: per
// metric seriesPerMetric series (distinct point attributes) of points
// points each, ten seconds apart and ending a minute before now. Values are
// int and double, histograms carry exemplars, and a gauge holds NaN, ±Inf
// and -0.
func genMetrics(rng *rand.Rand, seriesPerMetric, points int, now time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	end := now.Add(-time.Minute).Truncate(time.Second)
	startTS := pcommon.NewTimestampFromTime(end.Add(-time.Hour))
	tsAt := func(i int) pcommon.Timestamp {
		return pcommon.NewTimestampFromTime(end.Add(-time.Duration(points-1-i) * 10 * time.Second))
	}
	exemplars := func(es pmetric.ExemplarSlice, ts pcommon.Timestamp, isInt bool) {
		if rng.IntN(3) != 0 {
			return
		}
		e := es.AppendEmpty()
		e.SetTimestamp(ts - 1000)
		if isInt {
			e.SetIntValue(rng.Int64N(1000))
		} else {
			e.SetDoubleValue(rng.Float64() * 3)
		}
		e.SetTraceID(randTraceID(rng))
		e.SetSpanID(randSpanID(rng))
		e.FilteredAttributes().PutStr("user.id", fmt.Sprint(rng.IntN(100)))
		if rng.IntN(3) == 0 {
			es.AppendEmpty().SetTimestamp(ts - 2000) // no value, no ids
		}
	}
	for _, svc := range genServices[:3] {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.SetSchemaUrl(genResourceSchema)
		fillResource(rm.Resource(), svc)
		sm := rm.ScopeMetrics().AppendEmpty()
		fillScope(sm.Scope(), svc, 0)
		ms := sm.Metrics()

		m := ms.AppendEmpty()
		m.SetName("http.server.request.duration")
		m.SetUnit("s")
		m.SetDescription("Duration of HTTP server requests.")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		bounds := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
		for s := range seriesPerMetric {
			for i := range points {
				p := h.DataPoints().AppendEmpty()
				p.Attributes().PutStr("http.request.method", genMethods[s%len(genMethods)])
				p.Attributes().PutStr("http.route", genRoutes[s%len(genRoutes)])
				p.Attributes().PutInt("http.response.status_code", int64(200+100*(s%4)))
				p.Attributes().PutInt("series", int64(s))
				p.SetStartTimestamp(startTS)
				p.SetTimestamp(tsAt(i))
				p.ExplicitBounds().FromRaw(bounds)
				counts := make([]uint64, len(bounds)+1)
				var total uint64
				for j := range counts {
					counts[j] = uint64(rng.IntN(50))
					total += counts[j]
				}
				p.BucketCounts().FromRaw(counts)
				p.SetCount(total)
				p.SetSum(rng.Float64() * float64(total))
				if i%2 == 0 {
					p.SetMin(0.001)
					p.SetMax(9.5)
				}
				exemplars(p.Exemplars(), p.Timestamp(), false)
			}
		}
		{
			// A histogram point without buckets (count only).
			p := h.DataPoints().AppendEmpty()
			p.Attributes().PutStr("http.route", "/no-buckets")
			p.SetTimestamp(tsAt(0))
			p.SetCount(3)
			p.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
		}

		m = ms.AppendEmpty()
		m.SetName("http.server.active_requests")
		m.SetUnit("{request}")
		sum := m.SetEmptySum()
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		sum.SetIsMonotonic(false)
		for s := range seriesPerMetric {
			for i := range points {
				p := sum.DataPoints().AppendEmpty()
				p.Attributes().PutStr("http.request.method", genMethods[s%len(genMethods)])
				p.Attributes().PutInt("series", int64(s))
				p.SetStartTimestamp(startTS)
				p.SetTimestamp(tsAt(i))
				p.SetIntValue(rng.Int64N(200) - 20)
			}
		}

		m = ms.AppendEmpty()
		m.SetName("app.orders.count")
		m.SetDescription("Orders placed.")
		sum = m.SetEmptySum()
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		sum.SetIsMonotonic(true)
		for s := range seriesPerMetric {
			var v int64
			for i := range points {
				p := sum.DataPoints().AppendEmpty()
				p.Attributes().PutStr("payment.method", []string{"card", "paypal"}[s%2])
				p.Attributes().PutInt("series", int64(s))
				p.SetStartTimestamp(startTS)
				p.SetTimestamp(tsAt(i))
				v += rng.Int64N(10)
				p.SetIntValue(v)
				exemplars(p.Exemplars(), p.Timestamp(), true)
			}
		}

		m = ms.AppendEmpty()
		m.SetName("app.payment.amount")
		m.SetUnit("USD")
		sum = m.SetEmptySum()
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		sum.SetIsMonotonic(true)
		for s := range seriesPerMetric {
			for i := range points {
				p := sum.DataPoints().AppendEmpty()
				p.Attributes().PutInt("series", int64(s))
				p.SetStartTimestamp(tsAt(i) - pcommon.Timestamp(10*time.Second))
				p.SetTimestamp(tsAt(i))
				p.SetDoubleValue(float64(rng.IntN(1e6)) / 100)
				exemplars(p.Exemplars(), p.Timestamp(), false)
			}
		}

		m = ms.AppendEmpty()
		m.SetName("process.runtime.go.goroutines")
		g := m.SetEmptyGauge()
		for i := range points {
			p := g.DataPoints().AppendEmpty()
			p.SetTimestamp(tsAt(i))
			p.SetIntValue(rng.Int64N(500))
		}

		m = ms.AppendEmpty()
		m.SetName("system.cpu.utilization")
		m.SetUnit("1")
		g = m.SetEmptyGauge()
		for s := range seriesPerMetric {
			for i := range points {
				p := g.DataPoints().AppendEmpty()
				p.Attributes().PutInt("cpu", int64(s))
				p.Attributes().PutStr("state", "user")
				p.Attributes().PutStr("host.name", "override-"+svc.host) // point attribute wins
				p.SetTimestamp(tsAt(i))
				p.SetDoubleValue(rng.Float64())
			}
		}

		m = ms.AppendEmpty()
		m.SetName("app.special.values")
		g = m.SetEmptyGauge()
		specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}
		for i := range points {
			p := g.DataPoints().AppendEmpty()
			p.SetTimestamp(tsAt(i))
			p.SetDoubleValue(specials[i%len(specials)])
		}

		m = ms.AppendEmpty()
		m.SetName("rpc.client.duration")
		m.SetUnit("ms")
		eh := m.SetEmptyExponentialHistogram()
		eh.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		for s := range seriesPerMetric {
			for i := range points {
				p := eh.DataPoints().AppendEmpty()
				p.Attributes().PutStr("rpc.method", fmt.Sprintf("Method%d", s))
				p.SetStartTimestamp(tsAt(i) - pcommon.Timestamp(10*time.Second))
				p.SetTimestamp(tsAt(i))
				p.SetScale(int32(rng.IntN(8)) - 2)
				p.SetZeroCount(uint64(rng.IntN(3)))
				p.SetZeroThreshold(1e-9)
				p.Positive().SetOffset(int32(rng.IntN(20)) - 10)
				pos := []uint64{1, 0, 3, uint64(rng.IntN(100)), 7}
				p.Positive().BucketCounts().FromRaw(pos)
				count := p.ZeroCount() + 11 + pos[3]
				if i%3 == 0 {
					p.Negative().SetOffset(-3)
					p.Negative().BucketCounts().FromRaw([]uint64{2, 1})
					count += 3
				}
				p.SetCount(count) // the zero bucket's and every bucket's, as OTLP requires
				p.SetSum(rng.Float64() * 100)
				p.SetMin(0.5)
				p.SetMax(math.Inf(1))
				exemplars(p.Exemplars(), p.Timestamp(), false)
			}
		}

		m = ms.AppendEmpty()
		m.SetName("jvm.gc.pause")
		m.SetUnit("ms")
		sumy := m.SetEmptySummary()
		for i := range points {
			p := sumy.DataPoints().AppendEmpty()
			p.Attributes().PutStr("gc", "G1 Young Generation")
			p.SetStartTimestamp(startTS)
			p.SetTimestamp(tsAt(i))
			p.SetCount(uint64(100 + i))
			p.SetSum(float64(rng.IntN(10000)) / 10)
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 1} {
				qv := p.QuantileValues().AppendEmpty()
				qv.SetQuantile(q)
				qv.SetValue(q * 100)
			}
			if i == 1 {
				p.SetSum(math.NaN())
			}
		}
	}
	return md
}

// ---------------------------------------------------------------------------
// Canonical encodings for comparison

// canonSpan is the OTLP protobuf of a Traces holding one span with its
// resource and scope: two spans compare equal when every field, schema URLs
// and resource included, is equal (NaN compares by its bits).
func canonSpan(t testing.TB, res pcommon.Resource, resSchema string, scope pcommon.InstrumentationScope, scopeSchema string, s ptrace.Span) string {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res.CopyTo(rs.Resource())
	rs.SetSchemaUrl(resSchema)
	ss := rs.ScopeSpans().AppendEmpty()
	scope.CopyTo(ss.Scope())
	ss.SetSchemaUrl(scopeSchema)
	s.CopyTo(ss.Spans().AppendEmpty())
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatalf("marshal span: %v", err)
	}
	return string(b)
}

// spansByID flattens td into canonical spans keyed by trace and span id.
func spansByID(t testing.TB, td ptrace.Traces) map[string]string {
	t.Helper()
	out := make(map[string]string)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				s := ss.Spans().At(k)
				tid, sid := s.TraceID(), s.SpanID()
				out[string(tid[:])+string(sid[:])] = canonSpan(t, rs.Resource(), rs.SchemaUrl(), ss.Scope(), ss.SchemaUrl(), s)
			}
		}
	}
	return out
}

func jsonOfCanonSpan(c string) string {
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces([]byte(c))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func canonLog(t testing.TB, res pcommon.Resource, resSchema string, scope pcommon.InstrumentationScope, scopeSchema string, lr plog.LogRecord) string {
	t.Helper()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res.CopyTo(rl.Resource())
	rl.SetSchemaUrl(resSchema)
	sl := rl.ScopeLogs().AppendEmpty()
	scope.CopyTo(sl.Scope())
	sl.SetSchemaUrl(scopeSchema)
	lr.CopyTo(sl.LogRecords().AppendEmpty())
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		t.Fatalf("marshal log: %v", err)
	}
	return string(b)
}

func jsonOfCanonLog(c string) string {
	ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs([]byte(c))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func canonMetric(t testing.TB, m pmetric.Metric) string {
	t.Helper()
	md := pmetric.NewMetrics()
	m.CopyTo(md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty())
	b, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	if err != nil {
		t.Fatalf("marshal metric: %v", err)
	}
	return string(b)
}

func jsonOfCanonMetric(c string) string {
	md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics([]byte(c))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// traceIDsOf lists the distinct trace ids of td in order of appearance.
func traceIDsOf(td ptrace.Traces) []pcommon.TraceID {
	var ids []pcommon.TraceID
	seen := map[pcommon.TraceID]bool{}
	forEachSpan(td, func(_ ptrace.ResourceSpans, _ ptrace.ScopeSpans, s ptrace.Span) {
		if !seen[s.TraceID()] {
			seen[s.TraceID()] = true
			ids = append(ids, s.TraceID())
		}
	})
	return ids
}

func forEachSpan(td ptrace.Traces, fn func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				fn(rs, ss, ss.Spans().At(k))
			}
		}
	}
}

func forEachLog(ld plog.Logs, fn func(plog.ResourceLogs, plog.ScopeLogs, plog.LogRecord)) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				fn(rl, sl, sl.LogRecords().At(k))
			}
		}
	}
}

func spanCount(td ptrace.Traces) int {
	n := 0
	forEachSpan(td, func(ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) { n++ })
	return n
}

// firstDiff describes where two strings first differ (for long JSON).
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-80, 0)
	return fmt.Sprintf("at byte %d:\n  got  …%s…\n  want …%s…", i, a[lo:min(len(a), i+80)], b[lo:min(len(b), i+80)])
}

// TestGeneratorsCoverFields makes sure the generated data exercises what
// the round-trip tests claim to compare.
func TestGeneratorsCoverFields(t *testing.T) {
	now := time.Now()
	td := genTraces(newRand(1), 80, 12, now)
	has := map[string]int{}
	var walk func(prefix string, v pcommon.Value)
	walk = func(prefix string, v pcommon.Value) {
		has[prefix+v.Type().String()]++
		switch v.Type() {
		case pcommon.ValueTypeMap:
			v.Map().Range(func(_ string, c pcommon.Value) bool { walk("nested ", c); return true })
		case pcommon.ValueTypeSlice:
			for i := 0; i < v.Slice().Len(); i++ {
				walk("nested ", v.Slice().At(i))
			}
		}
	}
	forEachSpan(td, func(rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, s ptrace.Span) {
		has["status "+s.Status().Code().String()]++
		has["kind "+s.Kind().String()]++
		if s.Events().Len() > 0 {
			has["events"]++
		}
		if s.Links().Len() > 0 {
			has["links"]++
		}
		if s.DroppedAttributesCount()+s.DroppedEventsCount()+s.DroppedLinksCount() > 0 {
			has["dropped"]++
		}
		if s.TraceState().AsRaw() != "" {
			has["tracestate"]++
		}
		if !s.ParentSpanID().IsEmpty() {
			has["parent"]++
		}
		if s.Flags() != 0 {
			has["flags"]++
		}
		if rs.SchemaUrl() != "" && ss.SchemaUrl() != "" {
			has["schemas"]++
		}
		if ss.Scope().Attributes().Len() > 0 {
			has["scope attributes"]++
		}
		s.Attributes().Range(func(_ string, v pcommon.Value) bool { walk("", v); return true })
	})
	for _, want := range []string{"status Error", "status Ok", "status Unset", "kind Server", "kind Client", "kind Internal", "kind Producer",
		"events", "links", "dropped", "tracestate", "parent", "flags", "schemas", "scope attributes",
		"Str", "Int", "Double", "Bool", "Bytes", "Slice", "Map", "Empty", "nested Map", "nested Slice", "nested Int"} {
		if has[want] == 0 {
			t.Errorf("generated traces have no %q", want)
		}
	}

	ld := genLogs(newRand(2), 600, now)
	sev := map[int32]bool{}
	bodies := map[pcommon.ValueType]bool{}
	traced, observedOnly, events := 0, 0, 0
	forEachLog(ld, func(_ plog.ResourceLogs, _ plog.ScopeLogs, lr plog.LogRecord) {
		sev[int32(lr.SeverityNumber())] = true
		bodies[lr.Body().Type()] = true
		if !lr.TraceID().IsEmpty() {
			traced++
		}
		if lr.Timestamp() == 0 {
			observedOnly++
		}
		if lr.EventName() != "" {
			events++
		}
	})
	if len(sev) < 20 || len(bodies) != 5 || traced == 0 || observedOnly == 0 || events == 0 {
		t.Errorf("logs: %d severities, %d body types, %d traced, %d without timestamp, %d events", len(sev), len(bodies), traced, observedOnly, events)
	}

	md := genMetrics(newRand(3), 2, 6, now)
	types := map[pmetric.MetricType]bool{}
	exemplarKinds := map[pmetric.ExemplarValueType]bool{}
	valueKinds := map[pmetric.NumberDataPointValueType]bool{}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		ms := rms.At(i).ScopeMetrics().At(0).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			types[m.Type()] = true
			nps := pmetric.NewNumberDataPointSlice()
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				nps = m.Gauge().DataPoints()
			case pmetric.MetricTypeSum:
				nps = m.Sum().DataPoints()
			case pmetric.MetricTypeHistogram:
				for k := 0; k < m.Histogram().DataPoints().Len(); k++ {
					es := m.Histogram().DataPoints().At(k).Exemplars()
					for l := 0; l < es.Len(); l++ {
						exemplarKinds[es.At(l).ValueType()] = true
					}
				}
			}
			for k := 0; k < nps.Len(); k++ {
				valueKinds[nps.At(k).ValueType()] = true
				es := nps.At(k).Exemplars()
				for l := 0; l < es.Len(); l++ {
					exemplarKinds[es.At(l).ValueType()] = true
				}
			}
		}
	}
	if len(types) != 5 || len(exemplarKinds) != 3 || !valueKinds[pmetric.NumberDataPointValueTypeInt] || !valueKinds[pmetric.NumberDataPointValueTypeDouble] {
		t.Errorf("metrics: types %v, exemplar kinds %v, value kinds %v", types, exemplarKinds, valueKinds)
	}
}
