package chaoskit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// The killer SIGKILLs one node at a time and restarts it, same data dir,
// id and ports, after Down (LongDown every LongDownEvery-th kill). The
// next kill comes a uniform random time in [KillMin, KillMax] after the
// previous one, and never before the node killed last is ready again.
// Every third kill (the 3rd, 6th, …) aims at the Raft leader; every third
// from the 2nd on at the target or source (primary) of a partition move
// under way, a migration rather than a catch-up when there is one; the
// others at a random node.

// KillEvent is one kill.
type KillEvent struct {
	// At is the time of the SIGKILL from the start of the load.
	At   time.Duration
	Node string
	// Aim is what the kill aimed at: random, leader, migration target,
	// migration source, catch-up source or catch-up target.
	Aim string
	// Leader: the node led the Raft group; Primaries: partitions it was
	// primary of.
	Leader    bool
	Primaries int
	Down      time.Duration
	// ReadyAfter is the time from the restart to /readyz answering 200
	// (0: it did not).
	ReadyAfter time.Duration
}

type killer struct {
	cfg     Config
	cluster *cluster
	watcher *watcher
	rng     *rand.Rand
	began   time.Time
	logf    func(string, ...any)

	mu       sync.Mutex
	kills    []KillEvent
	restarts int
	findings []string
}

func newKiller(cfg Config, c *cluster, w *watcher, began time.Time, logf func(string, ...any)) *killer {
	return &killer{cfg: cfg, cluster: c, watcher: w, rng: rand.New(rand.NewPCG(cfg.Seed, 3)), began: began, logf: logf}
}

func (k *killer) interval() time.Duration {
	return k.cfg.KillMin + time.Duration(k.rng.Int64N(int64(k.cfg.KillMax-k.cfg.KillMin)+1))
}

// run kills and restarts nodes until ctx ends; a node down then is
// restarted at once.
func (k *killer) run(ctx context.Context) {
	next := time.Now().Add(k.interval())
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		victim, ev, err := k.choose(ctx, i)
		if err != nil {
			k.finding("kill %d: %v", i+1, err)
			next = time.Now().Add(time.Second)
			continue
		}
		at := time.Now()
		ev.At = at.Sub(k.began)
		ev.Down = k.cfg.downFor(i)
		if err := k.cluster.kill(victim); err != nil {
			k.finding("kill %s: %v", victim.id, err)
		}
		k.watcher.noteKill(victim.id, at, ev.Primaries > 0)
		k.mu.Lock()
		idx := len(k.kills)
		k.kills = append(k.kills, ev)
		k.mu.Unlock()
		k.logf("kill %d: SIGKILL %s (%s; leader %v, primary of %d partitions), down for %s",
			i+1, victim.id, ev.Aim, ev.Leader, ev.Primaries, ev.Down)
		select {
		case <-ctx.Done():
		case <-time.After(ev.Down):
		}
		ready := k.restart(victim)
		k.mu.Lock()
		k.kills[idx].ReadyAfter = ready
		k.mu.Unlock()
		next = at.Add(k.interval())
	}
}

// restart starts p again and waits until it is ready; it returns the time
// that took (0 when it did not get ready).
func (k *killer) restart(p *proc) time.Duration {
	if err := k.cluster.restart(p); err != nil {
		k.finding("restart %s: %v", p.id, err)
		return 0
	}
	k.watcher.noteRestart(p.id)
	k.mu.Lock()
	k.restarts++
	k.mu.Unlock()
	d, err := k.cluster.waitReady(context.Background(), p)
	if err != nil {
		k.finding("restarted %s: %v", p.id, err)
		return 0
	}
	k.logf("%s restarted, ready in %s", p.id, d.Round(time.Millisecond))
	return d
}

// choose picks the i-th kill's victim.
func (k *killer) choose(ctx context.Context, i int) (*proc, KillEvent, error) {
	live := k.cluster.live()
	if len(live) == 0 {
		return nil, KillEvent{}, fmt.Errorf("no live node")
	}
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	leader, _ := k.cluster.leader(qctx)
	var victim *proc
	ev := KillEvent{Aim: "random"}
	switch i % 3 {
	case 2:
		if p := k.cluster.byID(leader); p != nil && k.cluster.isLive(p) {
			victim, ev.Aim = p, "leader"
		}
	case 1:
		victim, ev.Aim = k.moveNode()
	}
	if victim == nil {
		victim, ev.Aim = live[k.rng.IntN(len(live))], "random"
	}
	ev.Node = victim.id
	ev.Leader = victim.id == leader
	if t, err := k.cluster.anyTable(qctx, k.rng.IntN(len(k.cluster.procs))); err == nil {
		for _, r := range t.Partitions {
			if r.Primary == victim.id {
				ev.Primaries++
			}
		}
	}
	return victim, ev, nil
}

// moveNode picks the target or the source of a move under way, a
// migration if there is one; nil if none runs on a live node.
func (k *killer) moveNode() (*proc, string) {
	moves := k.watcher.running()
	for _, kind := range []moveKind{kindMigration, kindCatchUp} {
		var cands []runningMove
		for _, m := range moves {
			if m.kind == kind {
				cands = append(cands, m)
			}
		}
		k.rng.Shuffle(len(cands), func(a, b int) { cands[a], cands[b] = cands[b], cands[a] })
		for _, m := range cands {
			ends := []struct{ id, role string }{{m.target, "target"}, {m.source, "source"}}
			if k.rng.IntN(2) == 1 {
				ends[0], ends[1] = ends[1], ends[0]
			}
			for _, e := range ends {
				if p := k.cluster.byID(e.id); p != nil && k.cluster.isLive(p) {
					name := "migration"
					if kind == kindCatchUp {
						name = "catch-up"
					}
					return p, fmt.Sprintf("%s %s of %s", name, e.role, m.part)
				}
			}
		}
	}
	return nil, ""
}

func (k *killer) finding(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	k.logf("%s", msg)
	k.mu.Lock()
	k.findings = append(k.findings, msg)
	k.mu.Unlock()
}

// killStats is what the killer did.
type killStats struct {
	Kills    []KillEvent
	Restarts int
	Findings []string
}

func (k *killer) stats() killStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return killStats{Kills: append([]KillEvent(nil), k.kills...), Restarts: k.restarts, Findings: append([]string(nil), k.findings...)}
}
