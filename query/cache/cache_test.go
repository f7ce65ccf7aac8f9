package cache

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newTestCache(t testing.TB, cfg Config, reg prometheus.Registerer) *Cache {
	t.Helper()
	c, err := New(cfg, reg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

func mustGet(t *testing.T, c *Cache, key string, want []byte) {
	t.Helper()
	got, ok := c.Get(context.Background(), key)
	if !ok {
		t.Fatalf("Get(%q): miss, want %q", key, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func mustMiss(t *testing.T, c *Cache, key string) {
	t.Helper()
	if got, ok := c.Get(context.Background(), key); ok {
		t.Fatalf("Get(%q) = %q, want a miss", key, got)
	}
}

func TestGetSet(t *testing.T) {
	ctx := context.Background()
	type set struct{ key, val string }
	for _, tc := range []struct {
		name string
		sets []set
		get  string
		want string
		hit  bool
	}{
		{"hit", []set{{"a", "1"}}, "a", "1", true},
		{"miss", []set{{"a", "1"}}, "b", "", false},
		{"empty cache", nil, "a", "", false},
		{"overwrite", []set{{"a", "1"}, {"a", "22"}}, "a", "22", true},
		{"empty value", []set{{"a", ""}}, "a", "", true},
		{"empty key", []set{{"", "v"}}, "", "v", true},
		{"binary key", []set{{"a\x00b\xff", "v"}, {"a", "w"}}, "a\x00b\xff", "v", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t, LocalConfig(), nil)
			for _, s := range tc.sets {
				c.Set(ctx, s.key, []byte(s.val))
			}
			got, ok := c.Get(ctx, tc.get)
			if ok != tc.hit || string(got) != tc.want {
				t.Fatalf("Get(%q) = %q, %v; want %q, %v", tc.get, got, ok, tc.want, tc.hit)
			}
			if ok && got == nil {
				t.Fatal("a hit returned a nil slice")
			}
			st := c.Stats()
			if tc.hit && (st.L1Hits != 1 || st.L1Misses != 0) || !tc.hit && (st.L1Hits != 0 || st.L1Misses != 1) {
				t.Fatalf("stats %+v after one lookup (hit %v)", st, tc.hit)
			}
			if st.L2Hits+st.L2Misses+st.L2Errors != 0 {
				t.Fatalf("L2 counted without L2: %+v", st)
			}
		})
	}
}

func TestSetCopiesValue(t *testing.T) {
	c := newTestCache(t, LocalConfig(), nil)
	val := []byte("original")
	c.Set(context.Background(), "k", val)
	copy(val, "MUTATED!")
	mustGet(t, c, "k", []byte("original"))
}

// Entries of 10 bytes ("kN" + 8 bytes) in a 30-byte L1: three fit.
func TestEvictionLRUOrder(t *testing.T) {
	val := func(i int) []byte { return []byte(fmt.Sprintf("value-%02d", i)) }
	for _, tc := range []struct {
		name    string
		ops     []string // "s<i>": Set k<i>; "g<i>": Get k<i>
		present []int
		evicted []int
	}{
		{"oldest goes", []string{"s1", "s2", "s3", "s4"}, []int{2, 3, 4}, []int{1}},
		{"a get refreshes", []string{"s1", "s2", "s3", "g1", "s4"}, []int{1, 3, 4}, []int{2}},
		{"a set refreshes", []string{"s1", "s2", "s3", "s1", "s4"}, []int{1, 3, 4}, []int{2}},
		{"two out", []string{"s1", "s2", "s3", "g2", "s4", "s5"}, []int{2, 4, 5}, []int{1, 3}},
		{"a miss does not refresh", []string{"s1", "s2", "s3", "g9", "s4"}, []int{2, 3, 4}, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t, Config{MaxBytes: 30, MaxEntryBytes: 30}, nil)
			for _, op := range tc.ops {
				var i int
				fmt.Sscanf(op[1:], "%d", &i)
				key := fmt.Sprintf("k%d", i)
				if op[0] == 's' {
					c.Set(context.Background(), key, val(i))
				} else {
					c.Get(context.Background(), key)
				}
			}
			st := c.Stats()
			for _, i := range tc.present {
				mustGet(t, c, fmt.Sprintf("k%d", i), val(i))
			}
			for _, i := range tc.evicted {
				mustMiss(t, c, fmt.Sprintf("k%d", i))
			}
			if st.Evictions != uint64(len(tc.evicted)) || st.Entries != 3 || st.Bytes != 30 {
				t.Fatalf("stats %+v, want %d evictions, 3 entries, 30 bytes", st, len(tc.evicted))
			}
		})
	}
}

func TestBytesAccounting(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, Config{MaxBytes: 100, MaxEntryBytes: 100}, nil)
	c.Set(ctx, "ab", make([]byte, 10))
	c.Set(ctx, "cde", make([]byte, 20))
	if st := c.Stats(); st.Bytes != 35 || st.Entries != 2 {
		t.Fatalf("stats %+v, want 35 bytes in 2 entries", st)
	}
	c.Set(ctx, "ab", make([]byte, 4)) // replaced, not added
	if st := c.Stats(); st.Bytes != 29 || st.Entries != 2 || st.Evictions != 0 {
		t.Fatalf("stats %+v, want 29 bytes in 2 entries", st)
	}
	// Growing "ab" to 2+80 pushes out "cde" (the oldest) to fit 100.
	c.Set(ctx, "ab", make([]byte, 80))
	if st := c.Stats(); st.Bytes != 82 || st.Entries != 1 || st.Evictions != 1 {
		t.Fatalf("stats %+v, want 82 bytes in 1 entry after 1 eviction", st)
	}
	mustMiss(t, c, "cde")
}

func TestMaxEntryBytes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		cfg    Config
		valLen int
		cached bool
	}{
		{"at the limit", Config{MaxBytes: 1000, MaxEntryBytes: 100}, 100, true},
		{"over the limit", Config{MaxBytes: 1000, MaxEntryBytes: 100}, 101, false},
		{"default is MaxBytes/8", Config{MaxBytes: 800}, 100, true},
		{"over the default", Config{MaxBytes: 800}, 101, false},
		{"within MaxEntryBytes but over MaxBytes", Config{MaxBytes: 50, MaxEntryBytes: 100}, 60, false},
		{"key and value just fit MaxBytes", Config{MaxBytes: 61, MaxEntryBytes: 100}, 60, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t, tc.cfg, nil)
			c.Set(ctx, "k", bytes.Repeat([]byte{'x'}, tc.valLen))
			_, ok := c.Get(ctx, "k")
			if ok != tc.cached {
				t.Fatalf("cached = %v, want %v (stats %+v)", ok, tc.cached, c.Stats())
			}
			if st := c.Stats(); !tc.cached && (st.Entries != 0 || st.Bytes != 0) {
				t.Fatalf("uncached value accounted: %+v", st)
			}
		})
	}
	// A value that no longer fits drops the key's older value rather than
	// leaving it behind.
	c := newTestCache(t, Config{MaxBytes: 50, MaxEntryBytes: 100}, nil)
	c.Set(ctx, "k", []byte("small"))
	c.Set(ctx, "k", bytes.Repeat([]byte{'x'}, 60))
	mustMiss(t, c, "k")
	if st := c.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Fatalf("stats %+v, want empty", st)
	}
}

func TestConcurrentGetSet(t *testing.T) {
	const maxBytes = 4 << 10
	c := newTestCache(t, Config{MaxBytes: maxBytes, MaxEntryBytes: 1 << 10}, nil)
	valueOf := func(k int) []byte { return bytes.Repeat([]byte{byte(k)}, 64+k%64) }
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := (g*7 + i*13) % 200
				key := fmt.Sprintf("key-%d", k)
				if i%3 == 0 {
					c.Set(ctx, key, valueOf(k))
					continue
				}
				if v, ok := c.Get(ctx, key); ok && !bytes.Equal(v, valueOf(k)) {
					t.Errorf("Get(%s): wrong value of %d bytes", key, len(v))
					return
				}
			}
		})
	}
	wg.Wait()
	st := c.Stats()
	if st.Bytes > maxBytes || st.Bytes <= 0 || st.Entries == 0 || st.Evictions == 0 {
		t.Fatalf("stats %+v, want 0 < bytes <= %d and evictions", st, maxBytes)
	}
	if lookups := st.L1Hits + st.L1Misses; lookups != 8*(2000-667) || st.L1Hits == 0 {
		t.Fatalf("stats %+v: %d lookups counted, want %d with some hits", st, lookups, 8*(2000-667))
	}
}

func TestNilCache(t *testing.T) {
	var c *Cache
	ctx := context.Background()
	c.Set(ctx, "k", []byte("v"))
	if v, ok := c.Get(ctx, "k"); ok || v != nil {
		t.Fatalf("nil cache Get = %q, %v", v, ok)
	}
	if st := c.Stats(); st != (Stats{}) {
		t.Fatalf("nil cache stats %+v", st)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("nil cache Close: %v", err)
	}
}

func TestDisabled(t *testing.T) {
	c := newTestCache(t, Config{}, nil) // no L1, no L2
	c.Set(context.Background(), "k", []byte("v"))
	mustMiss(t, c, "k")
	if st := c.Stats(); st != (Stats{}) {
		t.Fatalf("disabled cache counted: %+v", st)
	}
}

func TestCloseKeepsL1(t *testing.T) {
	c := newTestCache(t, LocalConfig(), nil)
	c.Set(context.Background(), "k", []byte("v"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	mustGet(t, c, "k", []byte("v"))
}

func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  Config
		want Config
	}{
		{"default", DefaultConfig(), Config{MaxBytes: 256 << 20, RedisTTL: time.Hour, RedisTimeout: 50 * time.Millisecond, MaxEntryBytes: 16 << 20}},
		{"local", LocalConfig(), Config{MaxBytes: 8 << 20, RedisTTL: time.Hour, RedisTimeout: 50 * time.Millisecond, MaxEntryBytes: 1 << 20}},
		{"zero with defaults", Config{}.withDefaults(), Config{RedisTTL: time.Hour, RedisTimeout: 50 * time.Millisecond, MaxEntryBytes: 16 << 20}},
		{"small with defaults", Config{MaxBytes: 800}.withDefaults(), Config{MaxBytes: 800, RedisTTL: time.Hour, RedisTimeout: 50 * time.Millisecond, MaxEntryBytes: 100}},
		{"set fields kept", Config{MaxBytes: 800, RedisTTL: time.Minute, RedisTimeout: time.Second, MaxEntryBytes: 7}.withDefaults(),
			Config{MaxBytes: 800, RedisTTL: time.Minute, RedisTimeout: time.Second, MaxEntryBytes: 7}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
	for _, cfg := range []Config{DefaultConfig(), LocalConfig()} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("preset %+v invalid: %v", cfg, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		errs   []string // substrings of the error; none: valid
		hidden string   // must not appear in the error
	}{
		{"local", func(*Config) {}, nil, ""},
		{"zero", func(c *Config) { *c = Config{} }, nil, ""},
		{"redis url", func(c *Config) { c.RedisURL = "redis://127.0.0.1:6379/0" }, nil, ""},
		{"rediss url with password", func(c *Config) { c.RedisURL = "rediss://u:pw@cache:6380/2" }, nil, ""},
		{"unix url", func(c *Config) { c.RedisURL = "unix:///run/redis.sock" }, nil, ""},
		{"negative max-bytes", func(c *Config) { c.MaxBytes = -1 }, []string{"max-bytes"}, ""},
		{"negative max-entry-bytes", func(c *Config) { c.MaxEntryBytes = -1 }, []string{"max-entry-bytes"}, ""},
		{"negative ttl", func(c *Config) { c.RedisTTL = -time.Second }, []string{"redis-ttl"}, ""},
		{"negative timeout", func(c *Config) { c.RedisTimeout = -time.Second }, []string{"redis-timeout"}, ""},
		{"bad scheme", func(c *Config) { c.RedisURL = "http://127.0.0.1:6379" }, []string{"redis-url", "scheme"}, ""},
		{"bad db", func(c *Config) { c.RedisURL = "redis://127.0.0.1:6379/zero" }, []string{"redis-url", "database"}, ""},
		{"unparsable url hides the password", func(c *Config) { c.RedisURL = "redis://u:s3cret@[::1:6379" }, []string{"redis-url"}, "s3cret"},
		{"every field", func(c *Config) {
			*c = Config{MaxBytes: -1, MaxEntryBytes: -1, RedisTTL: -1, RedisTimeout: -1, RedisURL: "x://"}
		},
			[]string{"max-bytes", "max-entry-bytes", "redis-ttl", "redis-timeout", "redis-url"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := LocalConfig()
			tc.mod(&cfg)
			err := cfg.Validate()
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want an error naming %v", tc.errs)
			}
			for _, s := range tc.errs {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Validate: %q does not name %q", err, s)
				}
			}
			if tc.hidden != "" && strings.Contains(err.Error(), tc.hidden) {
				t.Errorf("Validate: %q shows %q", err, tc.hidden)
			}
			if _, nerr := New(cfg, nil, nil); nerr == nil || !strings.Contains(nerr.Error(), tc.errs[0]) {
				t.Errorf("New accepted an invalid config (err %v)", nerr)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewPedanticRegistry()
	c := newTestCache(t, Config{MaxBytes: 30, MaxEntryBytes: 30}, reg)
	c.Set(ctx, "k1", []byte("12345678")) // 10 bytes each
	c.Set(ctx, "k2", []byte("12345678"))
	c.Set(ctx, "k3", []byte("12345678"))
	c.Set(ctx, "k4", []byte("12345678")) // evicts k1
	c.Get(ctx, "k2")                     // hit
	c.Get(ctx, "k3")                     // hit
	c.Get(ctx, "k4")                     // hit
	c.Get(ctx, "k1")                     // miss
	want := `
# HELP starling_query_cache_bytes Bytes of the keys and values held in the L1 (in-process) query results cache.
# TYPE starling_query_cache_bytes gauge
starling_query_cache_bytes 30
# HELP starling_query_cache_entries Entries held in the L1 (in-process) query results cache.
# TYPE starling_query_cache_entries gauge
starling_query_cache_entries 3
# HELP starling_query_cache_evictions_total Entries evicted from the L1 (in-process) query results cache to stay within its byte bound.
# TYPE starling_query_cache_evictions_total counter
starling_query_cache_evictions_total 1
# HELP starling_query_cache_hit_ratio Fraction of the lookups of a query results cache level that hit since start (hits / (hits + misses), errors counted as misses; 0 before any lookup).
# TYPE starling_query_cache_hit_ratio gauge
starling_query_cache_hit_ratio{level="l1"} 0.75
starling_query_cache_hit_ratio{level="l2"} 0
# HELP starling_query_cache_requests_total Lookups of the query results cache by level (l1: in-process LRU; l2: Redis, asked on an L1 miss) and result (hit; miss; error: Redis failed or timed out, a miss to the caller).
# TYPE starling_query_cache_requests_total counter
starling_query_cache_requests_total{level="l1",result="hit"} 3
starling_query_cache_requests_total{level="l1",result="miss"} 1
starling_query_cache_requests_total{level="l2",result="error"} 0
starling_query_cache_requests_total{level="l2",result="hit"} 0
starling_query_cache_requests_total{level="l2",result="miss"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"starling_query_cache_bytes", "starling_query_cache_entries", "starling_query_cache_evictions_total",
		"starling_query_cache_hit_ratio", "starling_query_cache_requests_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(newCollector(c), "starling_query_cache_l2_write_errors_total"); n != 1 {
		t.Fatalf("l2 write errors series: %d, want 1", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	st := c.Stats()
	if st.L1Hits != 3 || st.L1Misses != 1 || st.Evictions != 1 || st.Entries != 3 || st.Bytes != 30 {
		t.Fatalf("stats %+v disagree with the metrics", st)
	}

	// A second cache on the same registry collides: an error, not a panic.
	if _, err := New(LocalConfig(), reg, nil); err == nil {
		t.Fatal("New registered a second cache's metrics on the same registry")
	}
}
