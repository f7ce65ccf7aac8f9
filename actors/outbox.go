package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// Outbox sends messages to actors on other nodes from one goroutine per
// destination node, in order. protoactor's remote connects to a node on
// the sender's goroutine and, when the node is down, keeps it there for
// its retries (seconds): an actor sending through the Outbox never waits
// for that. Messages to local actors go directly. A destination that
// cannot keep up (its queue is full) drops messages, which the senders'
// own timeouts cover. Safe for concurrent use.
type Outbox struct {
	system *actor.ActorSystem
	size   int

	mu     sync.Mutex
	queues map[string]chan outMsg
	closed bool
	wg     sync.WaitGroup
}

type outMsg struct {
	target, sender *actor.PID
	msg            any
}

// NewOutbox returns an outbox with queues of size messages per node.
func NewOutbox(system *actor.ActorSystem, size int) *Outbox {
	return &Outbox{system: system, size: size, queues: map[string]chan outMsg{}}
}

// Send sends msg to target with sender as its sender, and reports whether
// it was queued (false: queue full or outbox closed).
func (o *Outbox) Send(target *actor.PID, msg any, sender *actor.PID) bool {
	if target.Address == o.system.Address() {
		o.send(outMsg{target: target, sender: sender, msg: msg})
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	q := o.queues[target.Address]
	if q == nil {
		q = make(chan outMsg, o.size)
		o.queues[target.Address] = q
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			for m := range q {
				o.send(m)
			}
		}()
	}
	select {
	case q <- outMsg{target: target, sender: sender, msg: msg}:
		return true
	default:
		return false
	}
}

func (o *Outbox) send(m outMsg) {
	if m.sender == nil {
		o.system.Root.Send(m.target, m.msg)
		return
	}
	o.system.Root.RequestWithCustomSender(m.target, m.msg, m.sender)
}

// Close stops the senders after the messages queued.
func (o *Outbox) Close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	for _, q := range o.queues {
		close(q)
	}
	o.mu.Unlock()
	o.wg.Wait()
}
