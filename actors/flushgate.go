package actors

// FlushGate bounds how many metrics flushes (and rollup passes) run at
// once on a node. Each partition copy flushes on a goroutine of its own
// when its tick finds blocks due; after a backfill or at a block boundary
// that is every partition at the same moment, and unbounded they would
// take every core for a second or more while queries wait behind them.
// With the gate, flushes queue for a slot and queries keep the other
// cores. Safe for concurrent use; a nil gate lets everything through.
type FlushGate struct {
	slots chan struct{}
}

// NewFlushGate lets n flushes run at once (at least one).
func NewFlushGate(n int) *FlushGate {
	return &FlushGate{slots: make(chan struct{}, max(1, n))}
}

// enter waits for a slot; leave gives it back.
func (g *FlushGate) enter() {
	if g != nil {
		g.slots <- struct{}{}
	}
}

func (g *FlushGate) leave() {
	if g != nil {
		<-g.slots
	}
}
