package cache

import "github.com/prometheus/client_golang/prometheus"

// collector exports the counters of a Cache at each scrape, so that the
// metrics and Stats never disagree and Get pays for no metric updates.
type collector struct {
	c *Cache

	requests, hitRatio, bytes, entries, evictions, l2WriteErrors *prometheus.Desc
}

func newCollector(c *Cache) *collector {
	return &collector{
		c: c,
		requests: prometheus.NewDesc("starling_query_cache_requests_total",
			"Lookups of the query results cache by level (l1: in-process LRU; l2: Redis, asked on an L1 miss) "+
				"and result (hit; miss; error: Redis failed or timed out, a miss to the caller).",
			[]string{"level", "result"}, nil),
		hitRatio: prometheus.NewDesc("starling_query_cache_hit_ratio",
			"Fraction of the lookups of a query results cache level that hit since start "+
				"(hits / (hits + misses), errors counted as misses; 0 before any lookup).",
			[]string{"level"}, nil),
		bytes: prometheus.NewDesc("starling_query_cache_bytes",
			"Bytes of the keys and values held in the L1 (in-process) query results cache.", nil, nil),
		entries: prometheus.NewDesc("starling_query_cache_entries",
			"Entries held in the L1 (in-process) query results cache.", nil, nil),
		evictions: prometheus.NewDesc("starling_query_cache_evictions_total",
			"Entries evicted from the L1 (in-process) query results cache to stay within its byte bound.", nil, nil),
		l2WriteErrors: prometheus.NewDesc("starling_query_cache_l2_write_errors_total",
			"Writes of query results to the L2 (Redis) cache that failed or timed out (not cached there).", nil, nil),
	}
}

func (m *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.requests, m.hitRatio, m.bytes, m.entries, m.evictions, m.l2WriteErrors} {
		ch <- d
	}
}

func (m *collector) Collect(ch chan<- prometheus.Metric) {
	c := m.c
	var entries, evictions uint64
	var bytes int64
	if c.l1 != nil {
		entries, bytes, evictions = c.l1.stats()
	}
	for _, l := range []struct {
		level                string
		hits, misses, errors uint64
	}{
		{"l1", c.l1Hits.Load(), c.l1Misses.Load(), 0},
		{"l2", c.l2Hits.Load(), c.l2Misses.Load(), c.l2GetErrs.Load()},
	} {
		ch <- prometheus.MustNewConstMetric(m.requests, prometheus.CounterValue, float64(l.hits), l.level, "hit")
		ch <- prometheus.MustNewConstMetric(m.requests, prometheus.CounterValue, float64(l.misses), l.level, "miss")
		if l.level == "l2" {
			ch <- prometheus.MustNewConstMetric(m.requests, prometheus.CounterValue, float64(l.errors), l.level, "error")
		}
		ratio := 0.0
		if n := l.hits + l.misses + l.errors; n > 0 {
			ratio = float64(l.hits) / float64(n)
		}
		ch <- prometheus.MustNewConstMetric(m.hitRatio, prometheus.GaugeValue, ratio, l.level)
	}
	ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.GaugeValue, float64(bytes))
	ch <- prometheus.MustNewConstMetric(m.entries, prometheus.GaugeValue, float64(entries))
	ch <- prometheus.MustNewConstMetric(m.evictions, prometheus.CounterValue, float64(evictions))
	ch <- prometheus.MustNewConstMetric(m.l2WriteErrors, prometheus.CounterValue, float64(c.l2SetErrs.Load()))
}
