package chaoskit

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// The watcher polls the partition table of a live node every pollInterval
// and derives from the changes between polls:
//
//   - failovers: from the SIGKILL of a node that was primary of some
//     partitions to the first table without a primary on it;
//   - partition moves, per (partition, node) outside the in-sync set: a
//     replica appearing outside it starts a move, joining it completes the
//     move, leaving the replicas without joining abandons it. A move is a
//     migration when the node was not a replica of the partition before
//     (the rebalancer added it as a learner), a catch-up when it was (it
//     fell out of sync, typically killed). A completed move resumed when a
//     node it involved (its target, or a primary of the partition while it
//     ran) was killed while it ran.
//
// Moves that start and end between two polls are not seen.

const pollInterval = 250 * time.Millisecond

// moveKind tells migrations and catch-ups apart.
type moveKind int

const (
	kindMigration moveKind = iota
	kindCatchUp
	numMoveKinds
)

var moveKindNames = [numMoveKinds]string{"migrations", "catch-ups"}

// MoveStats counts the moves of one kind.
type MoveStats struct {
	Started, Completed, Resumed, Abandoned, Running int
	// Longest is the longest completed move.
	Longest time.Duration
}

type learnerKey struct {
	part partKey
	node string
}

// move is one running move.
type move struct {
	kind     moveKind
	started  time.Time
	target   string
	involved map[string]bool
}

// runningMove is a move as the killer sees it.
type runningMove struct {
	kind           moveKind
	target, source string
	part           partKey
}

// killMark is one kill.
type killMark struct {
	node     string
	killedAt time.Time
}

type watcher struct {
	cluster *cluster
	rng     *rand.Rand

	mu         sync.Mutex
	last       *table
	lastIndex  uint64
	pollErrors int
	polls      int
	moves      map[learnerKey]*move
	moveStats  [numMoveKinds]MoveStats
	kills      []killMark // every kill, for "resumed"
	pending    map[string]time.Time
	failovers  []time.Duration
	// notFailedOver counts kills of primaries restarted before their
	// partitions failed over.
	notFailedOver int
}

func newWatcher(c *cluster, seed uint64) *watcher {
	return &watcher{cluster: c, rng: rand.New(rand.NewPCG(seed, 2)),
		moves: map[learnerKey]*move{}, pending: map[string]time.Time{}}
}

// run polls until ctx ends.
func (w *watcher) run(ctx context.Context) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// poll reads the table once and takes in its changes. A table older than
// one seen before (a node that just restarted and is catching up with the
// Raft log) is skipped.
func (w *watcher) poll(ctx context.Context) {
	w.mu.Lock()
	start := w.rng.IntN(len(w.cluster.procs))
	w.mu.Unlock()
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	t, err := w.cluster.anyTable(qctx, start)
	cancel()
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.polls++
	if err != nil {
		w.pollErrors++
		return
	}
	if t.AppliedRaftIndex < w.lastIndex {
		return
	}
	w.observe(t, now)
}

func (w *watcher) observe(t *table, now time.Time) {
	prev := map[partKey]*partitionRow{}
	if w.last != nil {
		for i := range w.last.Partitions {
			r := &w.last.Partitions[i]
			prev[rowKey(r)] = r
		}
	}
	primaries := map[string]bool{}
	seen := map[learnerKey]bool{}
	for i := range t.Partitions {
		r := &t.Partitions[i]
		k := rowKey(r)
		primaries[r.Primary] = true
		for _, id := range r.Replicas {
			if slices.Contains(r.InSync, id) {
				continue
			}
			lk := learnerKey{k, id}
			seen[lk] = true
			m := w.moves[lk]
			if m == nil {
				m = &move{kind: kindMigration, started: now, target: id, involved: map[string]bool{id: true}}
				if p := prev[k]; p != nil && slices.Contains(p.Replicas, id) {
					m.kind = kindCatchUp
				}
				w.moves[lk] = m
				w.moveStats[m.kind].Started++
			}
			m.involved[r.Primary] = true
		}
	}
	// Moves no longer outside the in-sync set: completed or abandoned.
	rows := map[partKey]*partitionRow{}
	for i := range t.Partitions {
		rows[rowKey(&t.Partitions[i])] = &t.Partitions[i]
	}
	for lk, m := range w.moves {
		if seen[lk] {
			continue
		}
		delete(w.moves, lk)
		st := &w.moveStats[m.kind]
		r := rows[lk.part]
		if r == nil || !slices.Contains(r.InSync, lk.node) {
			st.Abandoned++
			continue
		}
		st.Completed++
		st.Longest = max(st.Longest, now.Sub(m.started))
		for _, k := range w.kills {
			if m.involved[k.node] && !k.killedAt.Before(m.started) {
				st.Resumed++
				break
			}
		}
	}
	for node, at := range w.pending {
		if !primaries[node] {
			w.failovers = append(w.failovers, now.Sub(at))
			delete(w.pending, node)
		}
	}
	w.last, w.lastIndex = t, t.AppliedRaftIndex
}

func rowKey(r *partitionRow) partKey {
	for s, name := range signalNames {
		if name == r.Signal {
			return partKey{signal(s), r.ID}
		}
	}
	return partKey{numSignals, r.ID}
}

// noteKill records a SIGKILL of node at; primary says whether the node was
// primary of some partition then.
func (w *watcher) noteKill(node string, at time.Time, primary bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.kills = append(w.kills, killMark{node: node, killedAt: at})
	if primary {
		w.pending[node] = at
	}
}

// noteRestart records that node runs again.
func (w *watcher) noteRestart(node string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.pending[node]; ok {
		w.notFailedOver++
		delete(w.pending, node)
	}
}

// running lists the moves under way, each with the partition's primary
// as its source.
func (w *watcher) running() []runningMove {
	w.mu.Lock()
	defer w.mu.Unlock()
	primary := map[partKey]string{}
	if w.last != nil {
		for i := range w.last.Partitions {
			r := &w.last.Partitions[i]
			primary[rowKey(r)] = r.Primary
		}
	}
	var out []runningMove
	for lk, m := range w.moves {
		out = append(out, runningMove{kind: m.kind, target: m.target, source: primary[lk.part], part: lk.part})
	}
	slices.SortFunc(out, func(a, b runningMove) int {
		if a.part != b.part {
			if a.part.sig != b.part.sig {
				return int(a.part.sig) - int(b.part.sig)
			}
			return int(a.part.id) - int(b.part.id)
		}
		if a.target < b.target {
			return -1
		}
		return 1
	})
	return out
}

// watchStats is what the watcher saw.
type watchStats struct {
	Moves         [numMoveKinds]MoveStats
	Failovers     []time.Duration
	NotFailedOver int
	Polls         int
	PollErrors    int
}

func (w *watcher) stats() watchStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := watchStats{Moves: w.moveStats, Failovers: slices.Clone(w.failovers), NotFailedOver: w.notFailedOver,
		Polls: w.polls, PollErrors: w.pollErrors}
	for _, m := range w.moves {
		s.Moves[m.kind].Running++
	}
	return s
}
