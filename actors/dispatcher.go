package actors

import (
	"runtime"
	"sync/atomic"
)

// poolDispatcher runs actors' mailboxes on a few long-lived goroutines
// instead of protoactor's goroutine per mailbox run: a fresh goroutine
// starts with a small stack that the write path (decode, head, encode)
// grows by copying on every run, which cost several percent of the CPU
// under load. A run finds a worker through a channel; when none is free
// and the queue is full it gets a goroutine of its own, so a blocked
// worker (a commit queue full) never stalls other actors.
type poolDispatcher struct {
	runs       chan func()
	stop       chan struct{}
	stopped    atomic.Bool
	throughput int
}

// newPoolDispatcher starts workers goroutines (0: two per core), until
// close; throughput is how many messages a mailbox run takes before it
// yields.
func newPoolDispatcher(workers, throughput int) *poolDispatcher {
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	d := &poolDispatcher{runs: make(chan func(), 4*workers), stop: make(chan struct{}), throughput: throughput}
	for range workers {
		go d.work()
	}
	return d
}

func (d *poolDispatcher) work() {
	for {
		select {
		case fn := <-d.runs:
			fn()
		case <-d.stop:
			for { // what was queued before the stop still runs
				select {
				case fn := <-d.runs:
					fn()
				default:
					return
				}
			}
		}
	}
}

// Schedule implements actor.Dispatcher.
func (d *poolDispatcher) Schedule(fn func()) {
	if d.stopped.Load() {
		go fn()
		return
	}
	select {
	case d.runs <- fn:
	default:
		go fn()
	}
}

// Throughput implements actor.Dispatcher.
func (d *poolDispatcher) Throughput() int { return d.throughput }

// close lets the workers end once the queue is empty; later runs get
// goroutines of their own.
func (d *poolDispatcher) close() {
	if !d.stopped.Swap(true) {
		close(d.stop)
	}
}
