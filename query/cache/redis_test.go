package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newRedisCache(t *testing.T, cfg Config, reg prometheus.Registerer) *Cache {
	t.Helper()
	c, err := New(cfg, reg, testLogger(t.Output()))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestEnvelope(t *testing.T) {
	key := "q:{rate(x[5m])}:1700000000-1700003600:epoch=3"
	val := []byte("encoded\x00result")
	env := encodeEnvelope(key, val)
	if env[0] != 1 {
		t.Fatalf("version byte %d, want 1", env[0])
	}
	got, err := decodeEnvelope(key, env)
	if err != nil || !bytes.Equal(got, val) {
		t.Fatalf("round trip: %q, %v", got, err)
	}
	if got, err := decodeEnvelope("", encodeEnvelope("", nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty round trip: %q, %v", got, err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version only", []byte{1}},
		{"version 2", append([]byte{2}, env[1:]...)},
		{"other key", encodeEnvelope(key+"x", val)},
		{"key prefix", encodeEnvelope(key[:10], val)},
		{"length past the end", []byte{1, 200, 'q'}},
		{"unterminated length", []byte{1, 0x80, 0x80}},
	} {
		if v, err := decodeEnvelope(key, tc.b); err == nil {
			t.Errorf("%s: decoded %q, want an error", tc.name, v)
		}
	}
	rk := redisKey(key)
	if !regexp.MustCompile(`^starling:qc:v1:[0-9a-f]{64}$`).MatchString(rk) || rk == redisKey(key+" ") {
		t.Fatalf("redis key %q", rk)
	}
}

func TestL2SharedAcrossCaches(t *testing.T) {
	srv := startRedis(t)
	rc := srv.client(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		ttl     time.Duration
		wantTTL time.Duration
	}{
		{"ttl set", 10 * time.Minute, 10 * time.Minute},
		{"default ttl", 0, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{MaxBytes: 1 << 20, MaxEntryBytes: 1 << 10, RedisURL: srv.url(), RedisTTL: tc.ttl, RedisTimeout: 2 * time.Second}
			key, val := "shared:"+tc.name, []byte("result of "+tc.name)
			a := newRedisCache(t, cfg, nil)
			a.Set(ctx, key, val)

			reg := prometheus.NewPedanticRegistry()
			b := newRedisCache(t, cfg, reg)
			mustGet(t, b, key, val) // L1 empty: from L2
			if st := b.Stats(); st.L1Misses != 1 || st.L2Hits != 1 || st.L2Misses != 0 || st.L2Errors != 0 || st.Entries != 1 {
				t.Fatalf("after the first Get on B: %+v, want an L1 miss, an L2 hit, 1 entry", st)
			}
			mustGet(t, b, key, val) // now from L1
			if st := b.Stats(); st.L1Hits != 1 || st.L2Hits != 1 {
				t.Fatalf("after the second Get on B: %+v, want an L1 hit and no second L2 lookup", st)
			}
			mustMiss(t, b, "absent:"+tc.name)
			if st := b.Stats(); st.L2Misses != 1 || st.L2Errors != 0 {
				t.Fatalf("after a miss on B: %+v", st)
			}
			want := `
# HELP starling_query_cache_requests_total Lookups of the query results cache by level (l1: in-process LRU; l2: Redis, asked on an L1 miss) and result (hit; miss; error: Redis failed or timed out, a miss to the caller).
# TYPE starling_query_cache_requests_total counter
starling_query_cache_requests_total{level="l1",result="hit"} 1
starling_query_cache_requests_total{level="l1",result="miss"} 2
starling_query_cache_requests_total{level="l2",result="error"} 0
starling_query_cache_requests_total{level="l2",result="hit"} 1
starling_query_cache_requests_total{level="l2",result="miss"} 1
`
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "starling_query_cache_requests_total"); err != nil {
				t.Fatal(err)
			}

			ttl, err := rc.TTL(ctx, redisKey(key)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl <= tc.wantTTL-time.Minute || ttl > tc.wantTTL {
				t.Fatalf("TTL %s, want just under %s", ttl, tc.wantTTL)
			}
			raw, err := rc.Get(ctx, redisKey(key)).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, encodeEnvelope(key, val)) {
				t.Fatalf("stored %q, want the envelope of %q", raw, val)
			}

			// Too large for MaxEntryBytes: in neither level.
			a.Set(ctx, "big:"+tc.name, make([]byte, 1<<10+1))
			if n := rc.Exists(ctx, redisKey("big:"+tc.name)).Val(); n != 0 {
				t.Fatal("a value over MaxEntryBytes was written to Redis")
			}
		})
	}
}

func TestL2OnlyCache(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	c := newRedisCache(t, Config{RedisURL: srv.url(), RedisTimeout: 2 * time.Second}, nil) // no L1
	c.Set(ctx, "k", []byte("v"))
	mustGet(t, c, "k", []byte("v"))
	mustGet(t, c, "k", []byte("v"))
	if st := c.Stats(); st.L2Hits != 2 || st.L1Hits+st.L1Misses+st.Entries != 0 {
		t.Fatalf("stats %+v, want 2 L2 hits and no L1", st)
	}
}

func TestL2ForeignEntryIsMiss(t *testing.T) {
	srv := startRedis(t)
	rc := srv.client(t)
	ctx := context.Background()
	const key = "q:traces:1700000000-1700003600"
	val := []byte("the result")
	for _, tc := range []struct {
		name   string
		stored []byte
		hit    bool
	}{
		{"own envelope", encodeEnvelope(key, val), true},
		{"other key", encodeEnvelope("q:traces:1700000000-1700007200", val), false},
		{"unknown version", append([]byte{9}, encodeEnvelope(key, val)[1:]...), false},
		{"truncated", encodeEnvelope(key, nil)[:5], false},
		{"bare value", val, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := rc.Set(ctx, redisKey(key), tc.stored, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			c := newRedisCache(t, Config{MaxBytes: 1 << 20, RedisURL: srv.url(), RedisTimeout: 2 * time.Second}, nil)
			got, ok := c.Get(ctx, key)
			if ok != tc.hit || tc.hit && !bytes.Equal(got, val) {
				t.Fatalf("Get = %q, %v; want hit %v", got, ok, tc.hit)
			}
			st := c.Stats()
			if tc.hit && st.L2Hits != 1 || !tc.hit && (st.L2Misses != 1 || st.Entries != 0) || st.L2Errors != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// assertQuick fails if f takes longer than the Redis timeout plus some slack
// for a loaded machine.
func assertQuick(t *testing.T, what string, timeout time.Duration, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d > timeout+150*time.Millisecond {
		t.Fatalf("%s took %s with a Redis timeout of %s", what, d, timeout)
	}
}

func TestL2DownIsCountedMiss(t *testing.T) {
	srv := startRedis(t)
	ctx := context.Background()
	const timeout = 100 * time.Millisecond
	logs := &syncBuffer{}
	cfg := Config{MaxBytes: 1 << 20, RedisURL: srv.url(), RedisTimeout: timeout}
	c, err := New(cfg, nil, testLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Set(ctx, "k", []byte("v"))
	if st := c.Stats(); st.L2Errors != 0 {
		t.Fatalf("Set against a live Redis failed: %+v\n%s", st, logs)
	}

	srv.stop()
	mustGet(t, c, "k", []byte("v")) // L1 still answers
	for i := range 30 {             // past go-redis's dial-failure threshold too
		assertQuick(t, "Get with Redis down", timeout, func() { mustMiss(t, c, fmt.Sprintf("absent-%d", i)) })
	}
	st := c.Stats()
	if st.L2Errors != 30 || st.L2Misses != 0 || st.L2Hits != 0 {
		t.Fatalf("stats %+v, want 30 L2 errors", st)
	}
	assertQuick(t, "Set with Redis down", timeout, func() { c.Set(ctx, "k2", []byte("v2")) })
	if got := c.Stats().L2Errors; got != 31 {
		t.Fatalf("L2 errors %d after a failed Set, want 31", got)
	}
	mustGet(t, c, "k2", []byte("v2")) // the Set still reached L1
	for _, s := range []string{"L2 lookup failed", "L2 write failed"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("no %q logged:\n%s", s, logs)
		}
	}

	// A cache created while Redis is down starts anyway.
	var d *Cache
	assertQuick(t, "New with Redis down", timeout, func() { d = newRedisCache(t, cfg, nil) })
	mustMiss(t, d, "k")
	if st := d.Stats(); st.L2Errors != 1 {
		t.Fatalf("stats %+v, want 1 L2 error", st)
	}
}

// A Redis that accepts connections and never answers: the timeout, not the
// connection refusal, must bound every operation.
func TestL2HungIsBoundedByTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn) // held open, never read or answered
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})

	ctx := context.Background()
	const timeout = 100 * time.Millisecond
	cfg := Config{MaxBytes: 1 << 20, RedisURL: "redis://" + ln.Addr().String() + "/0", RedisTimeout: timeout}
	var c *Cache
	assertQuick(t, "New against a hung Redis", timeout, func() { c = newRedisCache(t, cfg, nil) })
	for i := range 3 {
		assertQuick(t, "Get against a hung Redis", timeout, func() { mustMiss(t, c, fmt.Sprintf("k%d", i)) })
		assertQuick(t, "Set against a hung Redis", timeout, func() { c.Set(ctx, fmt.Sprintf("s%d", i), []byte("v")) })
	}
	if st := c.Stats(); st.L2Errors != 6 || st.L2Misses != 0 {
		t.Fatalf("stats %+v, want 6 L2 errors", st)
	}
	// A caller's earlier deadline wins over RedisTimeout for a lookup.
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	assertQuick(t, "Get with a short caller deadline", 10*time.Millisecond, func() {
		if _, ok := c.Get(short, "z"); ok {
			t.Fatal("hit")
		}
	})
}
