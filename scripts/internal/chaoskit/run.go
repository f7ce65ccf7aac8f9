package chaoskit

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Run starts the cluster, runs the load and the kills for cfg.Duration,
// lets the cluster settle, checks every acknowledged record and reports.
// logf gets progress lines. The error is for a run that could not be
// carried out (the cluster did not start, ctx ended); what the run found
// is in the report (Report.Failed).
func Run(ctx context.Context, cfg Config, logf func(format string, args ...any)) (Report, error) {
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	rep := Report{Seed: cfg.Seed, Nodes: cfg.Nodes, ReplicationFactor: cfg.ReplicationFactor, MinInSync: cfg.MinInSync, Kept: cfg.Keep}
	if err := cfg.Validate(); err != nil {
		return rep, fmt.Errorf("config: %w", err)
	}
	dir := cfg.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("", "starling-chaos-")
		if err != nil {
			return rep, fmt.Errorf("work dir: %w", err)
		}
		dir = d
		if !cfg.Keep {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, fmt.Errorf("work dir: %w", err)
	}
	rep.WorkDir = dir
	logf("seed %d; %d nodes on %s…%s, data and logs in %s", cfg.Seed, cfg.Nodes, cfg.host(0), cfg.host(cfg.Nodes-1), dir)

	c := newCluster(cfg, dir)
	defer c.stopAll()
	began := time.Now()
	if err := c.start(ctx); err != nil {
		return rep, fmt.Errorf("start the cluster: %w", err)
	}
	t, err := c.anyTable(ctx, 0)
	if err != nil {
		return rep, fmt.Errorf("read the partition table: %w", err)
	}
	rep.Partitions = t.Settings.Partitions
	if t.Settings.ReplicationFactor != cfg.ReplicationFactor || t.Settings.MinInSync != cfg.MinInSync {
		return rep, fmt.Errorf("the cluster has replication factor %d and min in sync %d, not %d and %d",
			t.Settings.ReplicationFactor, t.Settings.MinInSync, cfg.ReplicationFactor, cfg.MinInSync)
	}
	logf("%d nodes ready in %s; %d partitions per signal", cfg.Nodes, ms(time.Since(began)), rep.Partitions)

	gen, err := newGenerator(cfg, c, rep.Partitions)
	if err != nil {
		return rep, err
	}
	defer gen.close()
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	w := newWatcher(c, cfg.Seed)
	var watchDone sync.WaitGroup
	watchDone.Go(func() { w.run(watchCtx) })

	loadBegan := time.Now()
	loadCtx, stopLoad := context.WithTimeout(ctx, cfg.Duration)
	defer stopLoad()
	k := newKiller(cfg, c, w, loadBegan, logf)
	var wg sync.WaitGroup
	wg.Go(func() { gen.run(loadCtx) })
	wg.Go(func() { k.run(loadCtx) })
	progressDone := make(chan struct{})
	if cfg.Progress > 0 {
		go progress(loadCtx, cfg, gen, k, c, loadBegan, logf, progressDone)
	} else {
		close(progressDone)
	}
	<-loadCtx.Done()
	loadEnded := time.Now()
	wg.Wait() // requests in flight finish their attempts, a node down is back
	drained := time.Now()
	<-progressDone
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("interrupted: %w", err)
	}
	rep.Load = loadEnded.Sub(loadBegan)
	cs := gen.ledger.counts()
	logf("load stopped after %s (the last requests %s later): %d records acknowledged; waiting for the cluster to settle",
		ms(rep.Load), ms(drained.Sub(loadEnded)), sum(cs.AckedRecords))

	settled, why, final := settle(ctx, c, cfg, logf)
	rep.Settled, rep.SettleTime = settled, time.Since(drained)
	if !settled {
		rep.Findings = append(rep.Findings, fmt.Sprintf("the cluster did not settle within %s of the end of the load: %s", cfg.SettleTimeout, why))
		logf("not settled: %s", why)
	} else {
		logf("settled in %s", ms(rep.SettleTime))
		if stale := staleStates(final); len(stale) > 0 {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d partitions settled (every replica in sync) but not in state active, e.g. %s",
				len(stale), strings.Join(stale[:min(len(stale), 3)], "; ")))
		}
	}
	stopWatch()
	watchDone.Wait()
	w.poll(ctx) // the moves as they stand once settled

	v := newVerifier(c, gen.ledger, final, loadBegan, drained, cfg.Seed)
	vr := v.run(ctx)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("interrupted: %w", err)
	}
	for _, p := range c.exited() {
		rep.Findings = append(rep.Findings, fmt.Sprintf("%s crashed (log %s): %s", p.id, p.spec.Log, logSummary(p.spec.Log)))
	}

	ks := k.stats()
	ws := w.stats()
	rep.Kills, rep.Restarts = ks.Kills, ks.Restarts
	rep.Findings = append(rep.Findings, ks.Findings...)
	rep.AckedRecords, rep.AckedRequests = cs.AckedRecords, cs.AckedRequests
	rep.Refused, rep.GaveUp, rep.PartialRejects, rep.Errors = cs.Refused, cs.GaveUp, cs.Partial, cs.Failed
	gen.avail.mu.Lock()
	rep.NodeLevelRefusals = gen.avail.nodeLevel
	gen.avail.mu.Unlock()
	gen.ledger.mu.Lock()
	rep.ErrorExamples = slices.Clone(gen.ledger.examples)
	gen.ledger.mu.Unlock()
	rep.Checked, rep.Lost, rep.Duplicated, rep.Unverified = vr.Checked, vr.Lost, vr.Duplicated, vr.Unverified
	rep.WrongValues, rep.Problems, rep.QueryErrors, rep.VerifyTime = vr.WrongValue, vr.Examples, vr.QueryErrors, vr.Took
	rep.WorstOutages, rep.PartitionsWithOutage = gen.avail.worst(5)
	rep.Failovers, rep.NotFailedOver, rep.Moves = ws.Failovers, ws.NotFailedOver, ws.Moves
	rep.TablePolls, rep.TablePollErrors = ws.Polls, ws.PollErrors
	return rep, nil
}

// progress prints a line every cfg.Progress until ctx ends.
func progress(ctx context.Context, cfg Config, g *generator, k *killer, c *cluster, began time.Time, logf func(string, ...any), done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(cfg.Progress)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		el := time.Since(began)
		cs := g.ledger.counts()
		down := strings.Join(c.down(), ",")
		if down == "" {
			down = "none"
		}
		logf("%s elapsed, ETA %s: acked %d (t %d, l %d, m %d), refused %d, gave up %d, kills %d, down %s",
			el.Round(time.Second), (cfg.Duration - el).Round(time.Second), sum(cs.AckedRecords),
			cs.AckedRecords[sigTraces], cs.AckedRecords[sigLogs], cs.AckedRecords[sigMetrics],
			sum(cs.Refused), sum(cs.GaveUp), len(k.stats().Kills), down)
	}
}

// settle waits until every node is ready (but those that crashed) and
// every partition has replication-factor copies, all in sync (no move
// under way). It logs how far it is every 10 s and returns whether it got
// there, why not, and the last table read.
func settle(ctx context.Context, c *cluster, cfg Config, logf func(string, ...any)) (bool, string, *table) {
	deadline := time.Now().Add(cfg.SettleTimeout)
	var last *table
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	lastLog := time.Now()
	for {
		why, short := "", ""
		if nr := c.notReady(); len(nr) > 0 {
			why = "not ready: " + strings.Join(nr, ", ")
			short = why
		} else {
			qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			t, err := c.anyTable(qctx, 0)
			cancel()
			if err != nil {
				why = "partition table: " + err.Error()
				short = why
			} else {
				last = t
				why, short = unsettled(t, cfg.ReplicationFactor)
			}
		}
		if why == "" {
			return true, "", last
		}
		if time.Now().After(deadline) {
			return false, why, last
		}
		if time.Since(lastLog) >= 10*time.Second {
			logf("settling: %s", short)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err().Error(), last
		case <-tick.C:
		}
	}
}

// unsettled says which partitions are not settled ("" when all are): fewer
// than rf copies in sync, or a move under way (a replica out of sync, or
// more replicas than rf). short has the counts only.
func unsettled(t *table, rf int) (why, short string) {
	var under, moving []string
	for _, r := range t.Partitions {
		desc := fmt.Sprintf("%s/%d (primary %s, replicas %v, in sync %v, %s)", r.Signal, r.ID, r.Primary, r.Replicas, r.InSync, r.State)
		switch {
		case len(r.InSync) < rf:
			under = append(under, desc)
		case len(r.Replicas) != rf || !sameSet(r.Replicas, r.InSync):
			moving = append(moving, desc)
		}
	}
	var long, counts []string
	for _, g := range []struct {
		what string
		rows []string
	}{{"with fewer than rf copies in sync", under}, {"moving (a replica out of sync, or more than rf)", moving}} {
		if n := len(g.rows); n > 0 {
			counts = append(counts, fmt.Sprintf("%d partitions %s", n, g.what))
			long = append(long, fmt.Sprintf("%d partitions %s, e.g. %s", n, g.what, strings.Join(g.rows[:min(n, 3)], "; ")))
		}
	}
	return strings.Join(long, "; "), strings.Join(counts, ", ")
}

// staleStates lists partitions settled (every replica in sync) whose state
// still is not "active".
func staleStates(t *table) []string {
	var out []string
	for _, r := range t.Partitions {
		if r.State != "active" {
			out = append(out, fmt.Sprintf("%s/%d (epoch %d, primary %s, replicas %v, in sync %v, %s)", r.Signal, r.ID, r.Epoch, r.Primary, r.Replicas, r.InSync, r.State))
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
