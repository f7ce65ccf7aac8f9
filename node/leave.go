package node

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
)

// A graceful leave: the node gossips that it is draining, the Raft
// leader's rebalancer then places no partition copy on it and moves every
// copy it holds to the other nodes (snapshot handoffs, primaries flipped
// once the new copies are in sync); when it holds none, it hands Raft
// leadership over if it has it, and its Stop leaves gossip (peers record it
// as left, and the leader removes it from the Raft group at once) instead
// of dying. Started by SIGTERM with --drain or by POST
// /api/v1/cluster/leave (`starling leave`).

// Leave phases, in order.
const (
	leaveNone      = ""
	leaveDraining  = "draining"   // copies are moving away
	leaveLeader    = "leadership" // handing Raft leadership over
	leaveDrained   = "drained"    // holds nothing; stopping and leaving gossip
	leaveFailed    = "failed"
	drainPollEvery = 250 * time.Millisecond
	drainLogEvery  = 5 * time.Second
)

// leaveState is where a leave stands.
type leaveState struct {
	mu         sync.Mutex
	phase      string
	started    time.Time
	copiesAt   int // copies held when the drain started
	copiesLeft int
	err        error
	done       chan struct{} // closed when the drain ends (drained or failed)
	requested  chan struct{} // closed when the API asks the process to stop
}

// LeaveStatus is the progress of a leave, as GET /api/v1/cluster/leave
// shows it.
type LeaveStatus struct {
	Node          string  `json:"node"`
	Phase         string  `json:"phase"`
	Started       string  `json:"started,omitempty"`
	Seconds       float64 `json:"seconds"`
	CopiesAtStart int     `json:"copiesAtStart"`
	CopiesLeft    int     `json:"copiesLeft"`
	Migrating     int     `json:"migrating"` // copies on their way to or from this node
	StreamedBytes int64   `json:"streamedBytes"`
	Error         string  `json:"error,omitempty"`
}

// copiesHeld counts the partition copies the table places on this node,
// and those of them still being built or moved (the partition has
// learners).
func (n *Node) copiesHeld() (held, migrating int) {
	for _, p := range n.group.FSM().State().Partitions {
		if !slices.Contains(p.Replicas, n.settings.NodeID) {
			continue
		}
		held++
		if len(p.InSync) < len(p.Replicas) {
			migrating++
		}
	}
	return held, migrating
}

// Drain hands every partition copy of this node to the other nodes and
// Raft leadership to another voter, and waits until both are done or ctx
// ends. The node keeps serving meanwhile; Stop then leaves the cluster
// for good. Calls after the first wait for the first one.
func (n *Node) Drain(ctx context.Context) error {
	l := &n.leave
	l.mu.Lock()
	if l.done != nil {
		done := l.done
		l.mu.Unlock()
		select {
		case <-done:
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	held, _ := n.copiesHeld()
	l.phase, l.started, l.copiesAt, l.copiesLeft, l.done = leaveDraining, time.Now(), held, held, make(chan struct{})
	l.mu.Unlock()
	err := n.drain(ctx)
	l.mu.Lock()
	l.err = err
	l.phase = leaveDrained
	if err != nil {
		l.phase = leaveFailed
	}
	close(l.done)
	l.mu.Unlock()
	return err
}

func (n *Node) drain(ctx context.Context) error {
	began := time.Now()
	n.log.Info("draining: handing every partition copy over before leaving")
	if err := n.gossip.UpdateLocal(5*time.Second, func(m *starlingpb.NodeMeta) { m.Draining = true }); err != nil {
		return fmt.Errorf("drain: announce: %w", err)
	}
	t := time.NewTicker(drainPollEvery)
	defer t.Stop()
	lastLog := time.Now()
	for {
		held, migrating := n.copiesHeld()
		n.leave.mu.Lock()
		n.leave.copiesLeft = held
		n.leave.mu.Unlock()
		if held == 0 {
			break
		}
		if time.Since(lastLog) >= drainLogEvery {
			lastLog = time.Now()
			n.log.Info("draining", "copies_left", held, "migrating", migrating, "elapsed", time.Since(began).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain: %d partition copies still here: %w", held, ctx.Err())
		case <-n.quit:
			return ErrStopped
		case <-t.C:
		}
	}
	n.leave.mu.Lock()
	n.leave.phase = leaveLeader
	n.leave.mu.Unlock()
	if err := n.group.HandOverLeadership(ctx); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	n.drained.Store(true)
	n.log.Info("drained: no partition copy left here", "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// LeaveRequested is closed when POST /api/v1/cluster/leave finished
// draining the node: the process should Stop and exit.
func (n *Node) LeaveRequested() <-chan struct{} { return n.leaveRequested }

// LeaveStatus reports the leave's progress.
func (n *Node) LeaveStatus() LeaveStatus {
	l := &n.leave
	l.mu.Lock()
	defer l.mu.Unlock()
	out := LeaveStatus{Node: n.settings.NodeID, Phase: l.phase, CopiesAtStart: l.copiesAt, CopiesLeft: l.copiesLeft}
	if out.Phase == leaveNone {
		out.Phase = "none"
		return out
	}
	out.Started = l.started.UTC().Format(time.RFC3339Nano)
	out.Seconds = time.Since(l.started).Seconds()
	if l.err != nil {
		out.Error = l.err.Error()
	}
	_, out.Migrating = n.copiesHeld()
	if n.transfers != nil {
		active, recent := n.transfers.Snapshot()
		for _, tr := range append(active, recent...) {
			if !tr.Started.Before(l.started) {
				out.StreamedBytes += tr.Progress.Bytes
			}
		}
	}
	return out
}

// POST /api/v1/cluster/leave starts a graceful leave of this node (202;
// again while one runs: its status); the process exits once drained. GET
// shows its progress.
func (n *Node) clusterLeave(w http.ResponseWriter, r *http.Request) {
	if err := query.ParseNone(r.URL.Query()); err != nil {
		writeQueryError(w, err)
		return
	}
	if r.Method == http.MethodPost && n.serving.Load() != nil {
		n.leaveOnce.Do(func() {
			go func() {
				if err := n.Drain(context.Background()); err != nil {
					n.log.Error("leave failed; the node stays", "err", err)
					return
				}
				close(n.leaveRequested)
			}()
		})
		for n.LeaveStatus().Phase == "none" { // the drain has not recorded its start yet
			time.Sleep(time.Millisecond)
		}
		writeJSON(w, http.StatusAccepted, n.LeaveStatus())
		return
	}
	if r.Method == http.MethodPost {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the node is not serving yet"})
		return
	}
	writeJSON(w, http.StatusOK, n.LeaveStatus())
}
