package main

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// placement is a partition table summed up for one node.
type placement struct {
	copies, primaries     int // on the node
	share                 int // ⌊copies in all ÷ nodes⌋
	migrating             int // rows in state migrating
	learners              int // copies listed but not in sync
	learnerRows           []string
	skew, primarySkew     float64
	maxCopies, maxPrimary int
	meanCopies, meanPrim  float64
	underReplicated       int
	perNode               map[string][2]int // id → copies, primaries
}

// summarize counts the table for node id over the given nodes (the
// mean is over them all, holding partitions or not).
func summarize(v *benchkit.Table, id string, nodes []string) placement {
	var p placement
	p.perNode = map[string][2]int{}
	total, totalPrim := 0, 0
	for _, n := range nodes {
		c := v.PerNode[n]
		p.perNode[n] = [2]int{c.Primary + c.Replica, c.Primary}
		p.maxCopies = max(p.maxCopies, c.Primary+c.Replica)
		p.maxPrimary = max(p.maxPrimary, c.Primary)
	}
	for _, c := range v.PerNode {
		total += c.Primary + c.Replica
		totalPrim += c.Primary
	}
	p.copies, p.primaries = p.perNode[id][0], p.perNode[id][1]
	p.share = total / len(nodes)
	p.meanCopies = float64(total) / float64(len(nodes))
	p.meanPrim = float64(totalPrim) / float64(len(nodes))
	if total > 0 {
		p.skew = float64(p.maxCopies) / p.meanCopies
	}
	if totalPrim > 0 {
		p.primarySkew = float64(p.maxPrimary) / p.meanPrim
	}
	for _, r := range v.Partitions {
		if r.State == "migrating" {
			p.migrating++
		}
		for _, c := range r.Replicas {
			if !slices.Contains(r.InSync, c) {
				p.learners++
				p.learnerRows = append(p.learnerRows, fmt.Sprintf("%s/%d (primary %s, learner %s, %s)", r.Signal, r.ID, r.Primary, c, r.State))
			}
		}
	}
	p.underReplicated = v.UnderReplicated
	return p
}

// settled: the node holds its share and nothing is moving.
func (p placement) settled() bool {
	return p.copies >= p.share && p.migrating == 0 && p.learners == 0
}

// result is everything report prints.
type result struct {
	load             string
	ceiling          float64
	before, moves    window
	beforeCPU        float64
	movesCPU, genCPU float64
	joinToReady      time.Duration
	joinToFirstMove  time.Duration
	joinToSettled    time.Duration
	finished         bool
	final            placement
	nodes            []string
	newBytes         int64 // the new node's data dir at the end
	handoffs, failed float64
	handoffBytes     float64
	maxMigrating     int
	foreign          []string // other starling / telemetrygen processes seen, by moment
}

// watch polls the partition table every 250 ms (and the counters every
// second) from the join until the new node holds its share and no
// partition is migrating, or -timeout.
func (c *cluster) watch(res *result, load *benchkit.Running) error {
	o := c.o
	joiner := c.nodes[initial]
	joined := joiner.Started
	for _, nd := range c.nodes {
		res.nodes = append(res.nodes, nd.Spec.NodeID)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	var ss []sample // from the first move on
	var lastSample, lastLog time.Time
	var lastErr error
	var lastChange time.Time // of the new node's copies or the learners
	var lastKey string
	stalled := false
	cpu0 := 0.0
	ready := false
	defer func() {
		res.joinToSettled = time.Since(joined)
		res.moves = measure(ss)
		if len(ss) > 0 {
			res.movesCPU = c.cpu() - cpu0
		}
		res.newBytes = benchkit.DiskBytes(joiner.Spec.DataDir)
		res.handoffs = c.sum(`starling_handoffs_total{result="completed"}`)
		res.failed = c.sum(`starling_handoffs_total{result="failed"}`)
		res.handoffBytes = c.sum(`starling_handoff_sent_bytes_total`)
	}()
	for {
		select {
		case <-load.Done():
			return fmt.Errorf("the load ended early: %v", load.Err())
		case <-poll.C:
		}
		now := time.Now()
		if err := c.exited(); err != nil {
			return err
		}
		if !ready && joiner.Ready() {
			ready = true
			res.joinToReady = now.Sub(joined)
			logf("%s ready %.2f s after its start", joiner.Name(), res.joinToReady.Seconds())
		}
		v, err := benchkit.GetTable(client, c.nodes[0].HTTP)
		if err != nil {
			if lastErr == nil || err.Error() != lastErr.Error() {
				logf("%v (retrying)", err)
			}
			lastErr = err
			if now.Sub(joined) > o.timeout {
				return fmt.Errorf("the rebalance did not finish within %s of the join: %w", o.timeout, err)
			}
			continue
		}
		lastErr = nil
		p := summarize(v, joiner.Spec.NodeID, res.nodes)
		res.final = p
		res.maxMigrating = max(res.maxMigrating, p.migrating)
		moving := p.copies > 0 || p.migrating > 0 || p.learners > 0
		if len(ss) == 0 && moving {
			s, err := c.sample()
			if err != nil {
				logf("%v (retrying)", err)
				continue
			}
			ss = append(ss, s)
			lastSample = now
			cpu0 = c.cpu()
			res.joinToFirstMove = now.Sub(joined)
			logf("first move %.2f s after the join: %d migrating", res.joinToFirstMove.Seconds(), p.migrating)
		}
		if key := fmt.Sprint(p.copies, p.learnerRows); key != lastKey {
			lastKey, lastChange, stalled = key, now, false
		} else if !stalled && now.Sub(lastChange) >= time.Minute {
			stalled = true
			logf("no progress for %s: the new node holds %d copies; learners: %s", now.Sub(lastChange).Round(time.Second),
				p.copies, someOf(p.learnerRows, 8))
		}
		done := len(ss) > 0 && p.settled()
		if len(ss) > 0 && (done || now.Sub(lastSample) >= time.Second) {
			// A node too busy to answer /metrics in time costs a sample,
			// not the run (the window is measured between samples).
			if s, err := c.sample(); err != nil {
				logf("%v (sample skipped)", err)
			} else {
				ss = append(ss, s)
				lastSample = now
			}
		}
		timedOut := now.Sub(joined) > o.timeout
		if done || timedOut || now.Sub(lastLog) >= 2*time.Second {
			lastLog = now
			rate, refused := 0.0, 0.0
			if n := len(ss); n >= 2 {
				i := max(0, n-3)
				rate = (ss[n-1].spans - ss[i].spans) / ss[n-1].at.Sub(ss[i].at).Seconds()
				refused = ss[n-1].refused - ss[0].refused
			}
			logf("join %5.1fs  new node %3d/%d copies (%3d primaries)  migrating %2d  learners %2d  skew %.3f  %7.0f spans/s  refused %.0f",
				now.Sub(joined).Seconds(), p.copies, p.share, p.primaries, p.migrating, p.learners, p.skew, rate, refused)
		}
		if done || timedOut {
			res.finished = done
			if !done {
				return fmt.Errorf("the rebalance did not finish within %s of the join; no progress for the last %s; learners: %s (node logs %s)",
					o.timeout, now.Sub(lastChange).Round(time.Second), someOf(p.learnerRows, 8),
					c.logs())
			}
			return nil
		}
	}
}

func report(o options, r result) {
	cores := runtime.NumCPU()
	fmt.Printf("\nStarling, a node joining a loaded %d-node cluster (replication factor 3, min in-sync 2)\n", initial)
	fmt.Printf("load: %s; generator i → node i mod %d, none to the new node\n", r.load, initial)
	fmt.Printf("machine: %d cores (runtime.NumCPU), shared by every node and generator\n", cores)
	if len(r.foreign) > 0 {
		fmt.Printf("WARNING: processes of other runs shared the cores (%s): the figures are not clean\n", strings.Join(r.foreign, ", "))
	}
	fmt.Println()
	row := func(name, format string, args ...any) {
		fmt.Printf("%-40s "+format+"\n", append([]any{name}, args...)...)
	}
	if r.ceiling > 0 {
		row("generator ceiling (null sink)", "%.0f spans/s", r.ceiling)
	}
	row("spans/s stored before the join", "%.0f (mean over %.0f s; worst 2 s %.0f)", r.before.rate, r.before.took.Seconds(), r.before.worst2s)
	if r.ceiling > 0 {
		// The generators share the cores with the nodes and deliver a
		// little less than their ceiling (about 8% here): a cluster that
		// keeps up stores 85% or more of it.
		kind := "below saturation: the cluster keeps up with the offered load"
		if r.before.rate < 0.85*r.ceiling {
			kind = "saturated: the cluster stores less than the generators offer"
		}
		row("  of the ceiling", "%.0f%% (%s)", 100*r.before.rate/r.ceiling, kind)
	}
	row("  node CPU, preload + before (all nodes)", "%.0f%% of %d cores", 100*r.beforeCPU/(o.preload+o.before).Seconds()/float64(cores), cores)
	row("spans/s stored during the moves", "%.0f (mean over %.1f s; worst 2 s %.0f)", r.moves.rate, r.moves.took.Seconds(), r.moves.worst2s)
	if r.moves.took > 0 {
		row("  node CPU during the moves (all nodes)", "%.0f%% of %d cores", 100*r.movesCPU/r.moves.took.Seconds()/float64(cores), cores)
	}
	ratio := 0.0
	if r.before.rate > 0 {
		ratio = r.moves.rate / r.before.rate
	}
	row("ratio during / before", "%.2f", ratio)
	row("spans refused (retryable) before", "%.0f", r.before.refused)
	row("spans refused (retryable) during moves", "%.0f", r.moves.refused)
	fmt.Println()
	status := "settled"
	if !r.finished {
		status = fmt.Sprintf("NOT settled within %s", o.timeout)
	}
	row("rebalance", "%s", status)
	row("  join → new node ready", "%.2f s", r.joinToReady.Seconds())
	row("  join → first move", "%.2f s", r.joinToFirstMove.Seconds())
	row("  join → settled", "%.2f s (moves %.1f s)", r.joinToSettled.Seconds(), r.moves.took.Seconds())
	row("  partitions on the new node", "%d copies of %d slots (share %d), %d primaries", r.final.copies, r.final.share*len(r.nodes), r.final.share, r.final.primaries)
	row("  most migrating at once", "%d", r.maxMigrating)
	if r.handoffs+r.failed > 0 {
		row("  handoffs (completed / failed)", "%.0f / %.0f, %.1f MiB sent", r.handoffs, r.failed, r.handoffBytes/(1<<20))
	}
	row("  new node's data dir at the end", "%.1f MiB", float64(r.newBytes)/(1<<20))
	var per []string
	for _, id := range r.nodes {
		c := r.final.perNode[id]
		per = append(per, fmt.Sprintf("%s %d/%d", id, c[0], c[1]))
	}
	row("  copies/primaries per node", "%s", strings.Join(per, ", "))
	row("  skew copies (max / mean)", "%.3f (%d / %.1f)  limit %.2f", r.final.skew, r.final.maxCopies, r.final.meanCopies, o.maxSkew)
	row("  skew primaries (max / mean)", "%.3f (%d / %.1f)", r.final.primarySkew, r.final.maxPrimary, r.final.meanPrim)
	row("  under-replicated partitions at the end", "%d", r.final.underReplicated)
	row("generator CPU", "%.1f s", r.genCPU)
	fmt.Println()
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "NO"
	}
	skewOK := r.finished && r.final.skew <= o.maxSkew && r.final.primarySkew <= o.maxSkew
	row(fmt.Sprintf("settled with skew ≤ %.2f", o.maxSkew), "%s", yes(skewOK))
	row(fmt.Sprintf("ratio during / before ≥ %.2f", o.minRatio), "%s (%.2f, %s mode)", yes(ratio >= o.minRatio), ratio, o.mode)
}

// someOf joins the first n of rows, saying how many more there are.
func someOf(rows []string, n int) string {
	if len(rows) <= n {
		return strings.Join(rows, "; ")
	}
	return fmt.Sprintf("%s; … and %d more", strings.Join(rows[:n], "; "), len(rows)-n)
}
