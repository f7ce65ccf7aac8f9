package node

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// The last step of a migration: a node that no longer holds a copy of a
// partition (it moved to another node, or this node drained) drops the
// partition's key range from its store once the copy has been gone for
// DropDelay (in-flight reads and forwards finish first, and a copy that
// comes straight back costs nothing), from the windows that are over; the
// window being written keeps it until it is over too (a DropPrefix there
// would block ingest for seconds). The guard keeps a snapshot arriving
// for the partition meanwhile, or its actor, from racing the drop.

// dropper is the node's dropper state; only runDropper touches it.
type dropper struct {
	since   map[dropKey]time.Time // not held here since
	dropped map[dropKey]time.Time // dropped from the windows ended by then, and not held since
	count   prometheus.Counter
}

type dropKey struct {
	sig starlingpb.Signal
	p   uint32
}

// runDropper drops partitions the table no longer places here, every
// DropDelay/2 (at most every 10 s), until the node stops.
func (n *Node) runDropper(partitions int) {
	d := &dropper{since: map[dropKey]time.Time{}, dropped: map[dropKey]time.Time{}, count: n.droppedCount}
	n.every(min(n.cfg.DropDelay/2, 10*time.Second), func() {
		ended := time.Now().Truncate(n.cfg.Window) // windows up to here are over
		for _, sig := range storage.Signals {
			if due := d.due(n, sig, partitions, ended); len(due) > 0 {
				n.drop(d, sig, due, ended)
			}
		}
	})
}

// every calls f every period until the node stops.
func (n *Node) every(period time.Duration, f func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-n.quit:
			return
		case <-t.C:
			f()
		}
	}
}

// held lists the partitions of sig the table places on this node.
func (n *Node) held(sig starlingpb.Signal) map[uint32]bool {
	out := map[uint32]bool{}
	for _, p := range n.group.FSM().State().Partitions {
		if p.Signal == sig && slices.Contains(p.Replicas, n.settings.NodeID) {
			out[p.Id] = true
		}
	}
	return out
}

// due lists the partitions of sig not held here for DropDelay and not
// dropped yet from the windows ended by ended.
func (d *dropper) due(n *Node, sig starlingpb.Signal, partitions int, ended time.Time) []uint32 {
	held := n.held(sig)
	now := time.Now()
	var out []uint32
	for p := range uint32(partitions) {
		k := dropKey{sig, p}
		switch since, seen := d.since[k]; {
		case held[p]:
			delete(d.since, k)
			delete(d.dropped, k)
		case !seen:
			d.since[k] = now
		case now.Sub(since) >= n.cfg.DropDelay && d.dropped[k].Before(ended):
			out = append(out, p)
		}
	}
	return out
}

// drop drops partitions ps of sig, but those the table placed here again
// or that are being received.
func (n *Node) drop(d *dropper, sig starlingpb.Signal, ps []uint32, ended time.Time) {
	marked := n.guard.BeginDrop(sig, ps)
	defer n.guard.EndDrop(sig, marked)
	held := n.held(sig) // after marking: a copy placed here from now on waits for the drop
	marked = slices.DeleteFunc(slices.Clone(marked), func(p uint32) bool { return held[p] })
	if len(marked) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := n.store.DropPartitions(ctx, sig, marked, ended)
	if err != nil {
		n.log.Error("drop the data of partitions no longer held here", "signal", storage.SignalName(sig), "partitions", len(marked), "err", err)
		return
	}
	for _, p := range marked {
		d.dropped[dropKey{sig, p}] = ended
	}
	if st.Calls > 0 {
		d.count.Add(float64(len(marked)))
		n.log.Info("dropped the data of partitions no longer held here", "signal", storage.SignalName(sig), "partitions", marked,
			"bytes", st.Bytes, "windows", st.Windows, "writes_blocked", st.Took.Round(time.Millisecond))
	}
}

// newDroppedCounter registers the dropper's counter.
func newDroppedCounter(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "starling_dropped_partitions_total",
		Help: "Partition copies whose data this node deleted after the copy moved away.",
	})
	reg.MustRegister(c)
	return c
}
