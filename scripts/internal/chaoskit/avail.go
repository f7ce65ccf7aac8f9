package chaoskit

import (
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Write unavailability per partition, as the generator sees it. A request
// refused because of a partition (Starling's refusals say "<signal>
// partition <n>: …"; an attempt that timed out names none and counts
// against every partition of its request) makes the partition unavailable
// from that attempt's start until the request is acknowledged, or given
// up. The spans of all requests are merged per partition, so a partition
// refused across several requests shows as one outage. Refusals that name
// no partition and did not time out (a node not ready, a connection
// refused) are the node's, not a partition's: another node takes the
// retry.

// partKey names a partition.
type partKey struct {
	sig signal
	id  uint32
}

func (k partKey) String() string { return k.sig.String() + "/" + strconv.Itoa(int(k.id)) }

// Outage is one span of unavailability of a partition.
type Outage struct {
	Partition string
	From      time.Time
	Duration  time.Duration
	// GaveUp: a request writing to it was given up in this span, so the
	// span may have lasted longer.
	GaveUp bool
}

type span struct {
	from, to time.Time
	gaveUp   bool
}

type availability struct {
	mu    sync.Mutex
	spans map[partKey][]span
	// nodeLevel counts refusals that named no partition.
	nodeLevel int64
}

func newAvailability() *availability {
	return &availability{spans: map[partKey][]span{}}
}

var partitionRE = regexp.MustCompile(`\b(traces|logs|metrics) partition (\d+)\b`)

// partitionsIn lists the partitions an error message names.
func partitionsIn(msg string) []partKey {
	var out []partKey
	for _, m := range partitionRE.FindAllStringSubmatch(msg, -1) {
		id, err := strconv.ParseUint(m[2], 10, 32)
		if err != nil {
			continue
		}
		for s, name := range signalNames {
			if name == m[1] {
				out = append(out, partKey{signal(s), uint32(id)})
			}
		}
	}
	return out
}

// requestOutages follows one request: the partitions its refusals blamed
// and since when.
type requestOutages map[partKey]time.Time

// refused records an attempt started at began that was refused with msg.
func (a *availability) refused(ro requestOutages, sig signal, parts []uint32, msg string, timedOut bool, began time.Time) {
	keys := partitionsIn(msg)
	if len(keys) == 0 && timedOut {
		for _, p := range parts {
			keys = append(keys, partKey{sig, p})
		}
	}
	if len(keys) == 0 {
		a.mu.Lock()
		a.nodeLevel++
		a.mu.Unlock()
		return
	}
	for _, k := range keys {
		if _, ok := ro[k]; !ok {
			ro[k] = began
		}
	}
}

// done ends the request's outages at when: acknowledged, or given up.
func (a *availability) done(ro requestOutages, when time.Time, gaveUp bool) {
	if len(ro) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, from := range ro {
		a.spans[k] = append(a.spans[k], span{from: from, to: when, gaveUp: gaveUp})
	}
}

// worst returns the longest outage of each partition (overlapping spans
// merged), longest first, at most n, and how many partitions had one.
func (a *availability) worst(n int) ([]Outage, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Outage, 0, len(a.spans))
	for k, spans := range a.spans {
		sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
		var best Outage
		cur := spans[0]
		flush := func() {
			if d := cur.to.Sub(cur.from); d > best.Duration {
				best = Outage{Partition: k.String(), From: cur.from, Duration: d, GaveUp: cur.gaveUp}
			}
		}
		for _, s := range spans[1:] {
			if !s.from.After(cur.to) {
				if s.to.After(cur.to) {
					cur.to = s.to
				}
				cur.gaveUp = cur.gaveUp || s.gaveUp
				continue
			}
			flush()
			cur = s
		}
		flush()
		out = append(out, best)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Duration > out[j].Duration })
	total := len(out)
	if len(out) > n {
		out = out[:n]
	}
	return out, total
}
