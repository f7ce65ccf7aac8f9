package actors

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/starling-otel/starling/storage/tsdb"
)

// HeadSet holds the heads of the metrics partitions this node is primary
// of, for /metrics: each series is counted on one node, so the nodes' sums
// are the cluster's. Partition actors add and remove their heads as their
// role changes (calls overlap); scrapes read them.
type HeadSet struct {
	mu    sync.Mutex
	heads map[uint32]*tsdb.Head
}

// NewHeadSet returns an empty set.
func NewHeadSet() *HeadSet { return &HeadSet{heads: map[uint32]*tsdb.Head{}} }

// set adds partition p's head (nil removes it).
func (s *HeadSet) set(p uint32, h *tsdb.Head) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.heads, p)
		return
	}
	s.heads[p] = h
}

// Active returns the active series of the set's heads, in total and per
// metric name.
func (s *HeadSet) Active() (int, map[string]int) {
	s.mu.Lock()
	heads := make([]*tsdb.Head, 0, len(s.heads))
	for _, h := range s.heads {
		heads = append(heads, h)
	}
	s.mu.Unlock()
	total, per := 0, map[string]int{}
	for _, h := range heads {
		h.ActiveByName(func(name string, n int) {
			per[name] += n
			total += n
		})
	}
	return total, per
}

// maxMetricLabels bounds the metric names /metrics lists active series of
// (the most populous first); the cardinality API lists every name.
const maxMetricLabels = 500

var (
	activeSeriesDesc = prometheus.NewDesc("starling_tsdb_head_series",
		"Active series (in an open head block) of the metrics partitions this node is primary of.", nil, nil)
	activeByMetricDesc = prometheus.NewDesc("starling_tsdb_head_series_by_metric",
		"Active series of one metric name in the metrics partitions this node is primary of (the 500 largest names).", []string{"metric"}, nil)
)

// Describe implements prometheus.Collector.
func (s *HeadSet) Describe(ch chan<- *prometheus.Desc) {
	ch <- activeSeriesDesc
	ch <- activeByMetricDesc
}

// Collect implements prometheus.Collector.
func (s *HeadSet) Collect(ch chan<- prometheus.Metric) {
	total, per := s.Active()
	ch <- prometheus.MustNewConstMetric(activeSeriesDesc, prometheus.GaugeValue, float64(total))
	names := make([]string, 0, len(per))
	for n := range per {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if per[names[i]] != per[names[j]] {
			return per[names[i]] > per[names[j]]
		}
		return names[i] < names[j]
	})
	for _, n := range names[:min(len(names), maxMetricLabels)] {
		ch <- prometheus.MustNewConstMetric(activeByMetricDesc, prometheus.GaugeValue, float64(per[n]), n)
	}
}
