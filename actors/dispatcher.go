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

// runQueue is how many mailbox runs wait for a worker before a run gets
// a goroutine of its own: with hundreds of partition actors taking writes,
// a short queue overflowed on most runs, and each overflow grew a fresh
// goroutine's stack again (6 % of the CPU under remote write load).
const runQueue = 4096

// newPoolDispatcher starts workers goroutines (0: two per core), until
// close; throughput is how many messages a mailbox run takes before it
// yields.
func newPoolDispatcher(workers, throughput int) *poolDispatcher {
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	d := &poolDispatcher{runs: make(chan func(), runQueue), stop: make(chan struct{}), throughput: throughput}
	for range workers {
		go d.work()
	}
	return d
}

// workerStackPad is stack a worker keeps in use while it idles. The
// garbage collector halves a goroutine's stack when less than a quarter
// of it is in use, and an idle worker uses almost none: every GC cycle
// would shrink the stack the write path grew, and the next write copy it
// back up (measured at 7 % of the CPU under remote write load). With the
// pad a worker's stack stays as large as the write path needs (up to four
// times the pad).
const workerStackPad = 32 << 10

// work runs the worker loop below a frame of workerStackPad bytes.
//
//go:noinline
func (d *poolDispatcher) work() {
	var pad [workerStackPad]byte
	d.loop(&pad)
}

//go:noinline
func (d *poolDispatcher) loop(pad *[workerStackPad]byte) {
	pad[0] = 1 // the pad is live: its frame stays below the loop
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
