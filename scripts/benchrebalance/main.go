// Command benchrebalance measures a join under load: a 4th node joins a
// loaded 3-node cluster (replication factor 3, min in-sync 2) and receives
// partitions by snapshot handoff until the rebalancer is done. It prints,
// from one run, the time the rebalance took, the partitions the new node
// received, the skew reached (max ÷ mean copies per node, and the same for
// primaries; must be ≤ -max-skew) and spans/s stored during the moves
// against the rate before them under the same telemetrygen load, with
// their ratio, and the writes refused (retryable) meanwhile.
//
// Node i binds 127.0.0.(base+i) with the default ports; the generators
// send to the three first nodes only (generator i → node i mod 3), so the
// new node takes partitions but no OTLP requests. Stored spans are the sum
// over nodes of starling_ingested_records_total{signal="traces"}, refused
// ones of starling_rejected_records_total{reason="unavailable"}. -mode
// fixed offers a fixed load below saturation (-rate spans/s in all, paced
// by telemetrygen's per-worker limiter); -mode saturate offers more than
// the cluster stores. Run it with `task bench-rebalance`
// (scripts/bench-rebalance.sh builds the binary and installs telemetrygen).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// marker is the prefix of every data dir this benchmark makes; it tells its
// leftover nodes apart.
const marker = "starling-benchrebalance-"

// initial is the size of the loaded cluster; node initial joins it.
const initial = 3

type options struct {
	starling   string
	load       benchkit.Load
	mode       string
	rate       int
	preload    time.Duration
	before     time.Duration
	timeout    time.Duration
	ceiling    time.Duration
	readyLimit time.Duration
	base       int
	keep       bool
	maxSkew    float64
	minRatio   float64
	nodeArgs   []string
}

func main() {
	var o options
	var nodeArgs string
	flag.StringVar(&o.starling, "starling", "bin/starling", "starling binary")
	flag.StringVar(&o.load.Telemetrygen, "telemetrygen", "telemetrygen", "telemetrygen binary")
	flag.StringVar(&o.mode, "mode", "fixed", "fixed: offer -rate spans/s (below saturation); saturate: offer more than the cluster stores")
	flag.IntVar(&o.rate, "rate", 18000, "spans/s offered in all with -mode fixed (split over generators × workers)")
	flag.IntVar(&o.load.Generators, "generators", initial, "telemetrygen processes (generator i sends to node i mod 3)")
	flag.IntVar(&o.load.Workers, "workers", 0, "telemetrygen workers per process (0: 8 with -mode fixed, 20 with -mode saturate)")
	flag.IntVar(&o.load.Batch, "batch-size", 2048, "telemetrygen --batch-size")
	flag.DurationVar(&o.preload, "preload", 30*time.Second, "load before the measurement, so that partitions hold data worth moving")
	flag.DurationVar(&o.before, "before", 30*time.Second, "steady-rate measurement before the join")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "time the rebalance has, from the join")
	flag.DurationVar(&o.ceiling, "ceiling", 10*time.Second, "generator ceiling measured first against a null OTLP sink (0: skip)")
	flag.DurationVar(&o.readyLimit, "ready-timeout", 60*time.Second, "time a node has to become ready")
	flag.IntVar(&o.base, "base", 100, "node i binds 127.0.0.(base+i)")
	flag.BoolVar(&o.keep, "keep", false, "keep the nodes' data dirs and logs in <tmp>/kept-starling-benchrebalance-* (else the logs are <tmp>/starling-benchrebalance-node-*.log, overwritten by the next run)")
	flag.Float64Var(&o.maxSkew, "max-skew", 1.10, "largest skew (max ÷ mean copies, and primaries, per node) accepted at the end; above it the run fails")
	flag.Float64Var(&o.minRatio, "min-ratio", 0.9, "spans/s during ÷ before the target; printed as a verdict, the run does not fail on it")
	flag.StringVar(&nodeArgs, "node-args", "", "more flags for every node, space-separated (e.g. \"--max-concurrent-migrations 6\")")
	flag.Parse()
	o.nodeArgs = strings.Fields(nodeArgs)
	if err := o.setLoad(); err != nil {
		fmt.Fprintln(os.Stderr, "benchrebalance:", err)
		os.Exit(2)
	}
	if o.base < 1 || o.base+initial > 254 {
		fmt.Fprintln(os.Stderr, "benchrebalance: -base out of range")
		os.Exit(2)
	}
	benchkit.CleanupOnSignal()
	err := run(o)
	benchkit.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrebalance:", err)
		os.Exit(1)
	}
}

// setLoad fills the generators' workers and per-worker rate from -mode,
// and a duration longer than the run (the load is stopped at the end).
func (o *options) setLoad() error {
	if o.load.Generators < 1 {
		return errors.New("-generators must be at least 1")
	}
	switch o.mode {
	case "fixed":
		if o.load.Workers == 0 {
			o.load.Workers = 8
		}
		if o.rate < o.load.Generators*o.load.Workers {
			return fmt.Errorf("-rate %d is below one span/s per worker", o.rate)
		}
		o.load.Rate = o.rate / (o.load.Generators * o.load.Workers)
	case "saturate":
		if o.load.Workers == 0 {
			o.load.Workers = 20
		}
		o.load.Rate = 2000
	default:
		return fmt.Errorf("-mode %q: fixed or saturate", o.mode)
	}
	if o.load.Workers < 1 {
		return errors.New("-workers must be at least 1")
	}
	o.load.Duration = o.preload + o.before + o.timeout + 5*time.Minute
	o.load.LogName = "starling-benchrebalance-telemetrygen"
	return nil
}

func logf(format string, args ...any) { benchkit.Logf(format, args...) }

func (o options) host(i int) string { return fmt.Sprintf("127.0.0.%d", o.base+i) }

// describe is the load in one line, without its duration.
func (o options) describe() string {
	s := fmt.Sprintf("%d × telemetrygen (%d workers × %d spans/s each), 10 spans/trace", o.load.Generators, o.load.Workers, o.load.Rate)
	if o.mode == "fixed" {
		return fmt.Sprintf("fixed load, %d spans/s nominal: %s", o.load.Generators*o.load.Workers*o.load.Rate, s)
	}
	return "saturating load: " + s
}

// cluster is the nodes of the run; nodes[initial] is the one that joins.
type cluster struct {
	o     options
	nodes []*benchkit.Node
	data  string // parent of the nodes' data dirs
}

// startNode starts node i with a fresh data dir, joining node 0. Its log
// is <tmp>/starling-benchrebalance-node-<i>.log.
func (c *cluster) startNode(i int) error {
	o := c.o
	if err := benchkit.CheckFree(o.host(i), benchkit.DefaultPorts(), 10*time.Second); err != nil {
		return err
	}
	spec := benchkit.NodeSpec{
		Binary:          o.starling,
		Host:            o.host(i),
		Ports:           benchkit.DefaultPorts(),
		DataDir:         filepath.Join(c.data, fmt.Sprintf("node-%d", i)),
		NodeID:          fmt.Sprintf("node-%d", i),
		Log:             c.logPath(i),
		Join:            []string{o.host(0) + ":7946"},
		BootstrapExpect: initial,
		Extra:           append([]string{"--replication-factor", "3", "--min-in-sync", "2"}, o.nodeArgs...),
	}
	nd, err := benchkit.StartNode(spec)
	if err != nil {
		return err
	}
	c.nodes = append(c.nodes, nd)
	return nil
}

// logPath is node i's log: in the data dir's parent with -keep, else
// <tmp>/starling-benchrebalance-node-<i>.log (the next run overwrites it).
func (c *cluster) logPath(i int) string {
	if c.o.keep {
		return filepath.Join(c.data, fmt.Sprintf("node-%d.log", i))
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("%snode-%d.log", marker, i))
}

// logs names every node's log.
func (c *cluster) logs() string {
	if c.o.keep {
		return filepath.Join(c.data, "node-*.log")
	}
	return filepath.Join(os.TempDir(), marker+"node-*.log")
}

// close stops every node at once (SIGTERM, killed after timeout).
func (c *cluster) close(timeout time.Duration) error {
	return benchkit.StopAll(c.nodes, timeout)
}

// exited is an error naming a node that has exited, with its log's tail.
func (c *cluster) exited() error {
	for _, nd := range c.nodes {
		if nd.Exited() {
			return fmt.Errorf("%s exited; log %s:\n%s", nd.Name(), nd.Spec.Log, nd.LogTail(20))
		}
	}
	return nil
}

// pids are the processes of this run: the nodes and the generators.
func (c *cluster) pids(load *benchkit.Running) map[int]bool {
	m := map[int]bool{}
	for _, n := range c.nodes {
		m[n.Pid()] = true
	}
	if load != nil {
		for _, p := range load.Pids() {
			m[p] = true
		}
	}
	return m
}

// checkForeign logs the processes of other runs sharing the machine and
// remembers them for the report.
func (c *cluster) checkForeign(when string, load *benchkit.Running, res *result) {
	if f := foreign(c.pids(load)); len(f) > 0 {
		logf("warning (%s): other processes share the cores and skew the figures: %s", when, strings.Join(f, ", "))
		res.foreign = append(res.foreign, fmt.Sprintf("%s: %d", when, len(f)))
	}
}

func (c *cluster) cpu() float64 {
	var s float64
	for _, n := range c.nodes {
		s += n.CPU()
	}
	return s
}

// sample is the cluster's counters at one moment.
type sample struct {
	at      time.Time
	spans   float64 // stored, summed over the nodes
	refused float64 // spans refused as retryable (503 / Unavailable)
}

// sample reads the counters of every node.
func (c *cluster) sample() (sample, error) {
	s := sample{at: time.Now()}
	for _, n := range c.nodes {
		v, err := n.Spans()
		if err != nil {
			return s, fmt.Errorf("%s: %w", n.Name(), err)
		}
		r, err := n.Metric(`starling_rejected_records_total{reason="unavailable",signal="traces"}`)
		if err != nil {
			return s, fmt.Errorf("%s: %w", n.Name(), err)
		}
		s.spans += v
		s.refused += r
	}
	return s, nil
}

// sum adds a counter over the nodes (0 where a node does not export it).
func (c *cluster) sum(prefix string) float64 {
	var s float64
	for _, n := range c.nodes {
		v, _ := n.Metric(prefix)
		s += v
	}
	return s
}

// window is what the counters did between two samples, with the worst
// 2 s stretch of the samples in between.
type window struct {
	took    time.Duration
	spans   float64
	refused float64
	rate    float64 // stored spans/s, mean
	worst2s float64
}

func measure(ss []sample) window {
	if len(ss) < 2 {
		return window{}
	}
	a, b := ss[0], ss[len(ss)-1]
	w := window{took: b.at.Sub(a.at), spans: b.spans - a.spans, refused: b.refused - a.refused}
	if w.took > 0 {
		w.rate = w.spans / w.took.Seconds()
	}
	w.worst2s = w.rate
	for i := range ss {
		for j := i + 1; j < len(ss); j++ {
			if d := ss[j].at.Sub(ss[i].at); d >= 2*time.Second {
				w.worst2s = min(w.worst2s, (ss[j].spans-ss[i].spans)/d.Seconds())
				break
			}
		}
	}
	return w
}

// steady runs for d under the running load, sampling every second and
// logging every 2 s, and returns the samples from its start to its end.
func (c *cluster) steady(name string, d time.Duration, load *benchkit.Running) ([]sample, error) {
	first, err := c.sample()
	if err != nil {
		return nil, err
	}
	ss := []sample{first}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Since(first.at) < d {
		select {
		case <-load.Done():
			return nil, fmt.Errorf("the load ended early: %v", load.Err())
		case <-tick.C:
		}
		if err := c.exited(); err != nil {
			return nil, err
		}
		s, err := c.sample()
		if err != nil {
			logf("%v (sample skipped)", err)
			continue
		}
		ss = append(ss, s)
		if len(ss)%2 == 1 {
			p := ss[len(ss)-3]
			logf("%-7s %4.0fs  stored %9.0f spans  %7.0f spans/s  refused %6.0f", name, s.at.Sub(first.at).Seconds(),
				s.spans, (s.spans-p.spans)/s.at.Sub(p.at).Seconds(), s.refused-first.refused)
		}
	}
	return ss, nil
}

func run(o options) error {
	if err := benchkit.Prepare(o.load.Telemetrygen, o.starling, "scripts/bench-rebalance.sh", marker, "benchrebalance"); err != nil {
		return err
	}
	var res result
	res.load = o.describe()
	if o.ceiling > 0 {
		logf("generator ceiling: the same load against a null OTLP sink for %s", o.ceiling)
		var err error
		if res.ceiling, err = o.load.Ceiling(o.ceiling); err != nil {
			return fmt.Errorf("generator ceiling: %w", err)
		}
		logf("generator ceiling: %.0f spans/s", res.ceiling)
	}

	// A kept dir is named so that the next run's RemoveStaleDirs leaves it.
	pattern := marker
	if o.keep {
		pattern = "kept-" + marker
	}
	data, err := benchkit.TempDir(pattern, o.keep)
	if err != nil {
		return err
	}
	c := &cluster{o: o, data: data}
	defer func() {
		if err := c.close(30 * time.Second); err != nil {
			logf("stopping the nodes: %v", err)
		}
		if o.keep {
			logf("kept the data dirs and logs under %s", data)
		}
	}()
	for i := 0; i < initial; i++ {
		if err := c.startNode(i); err != nil {
			return err
		}
	}
	for _, nd := range c.nodes {
		if _, err := nd.WaitReady(o.readyLimit, 50*time.Millisecond); err != nil {
			return err
		}
	}
	logf("%d nodes ready in %.2f s (%s … %s, rf 3, min in-sync 2; logs %s)", initial, time.Since(c.nodes[0].Started).Seconds(),
		o.host(0), o.host(initial-1), c.logs())
	var endpoints []string
	for _, nd := range c.nodes {
		endpoints = append(endpoints, nd.GRPC)
	}
	logf("load: %s, generator i → node i mod %d", res.load, initial)
	load, err := o.load.Start(endpoints)
	if err != nil {
		return err
	}
	defer load.Stop()
	c.checkForeign("at the start", load, &res)
	cpu0 := c.cpu()
	if o.preload > 0 {
		if _, err := c.steady("preload", o.preload, load); err != nil {
			return fmt.Errorf("preload: %w", err)
		}
	}
	ss, err := c.steady("before", o.before, load)
	if err != nil {
		return fmt.Errorf("before the join: %w", err)
	}
	res.before = measure(ss)
	res.beforeCPU = c.cpu() - cpu0
	logf("before the join: %.0f spans/s stored (mean over %.0f s), %.0f refused", res.before.rate, res.before.took.Seconds(), res.before.refused)

	c.checkForeign("before the join", load, &res)
	if err := c.startNode(initial); err != nil {
		return fmt.Errorf("the joining node: %w", err)
	}
	joiner := c.nodes[initial]
	logf("%s joins on %s (--join %s); polling %s/api/v1/cluster/partitions every 250 ms", joiner.Name(), joiner.Spec.Host,
		joiner.Spec.Join[0], c.nodes[0].HTTP)
	watchErr := c.watch(&res, load)
	c.checkForeign("at the end", load, &res)
	genCPU, _ := load.Stop()
	res.genCPU = genCPU
	report(o, res)
	switch {
	case watchErr != nil:
		return watchErr
	case res.final.skew > o.maxSkew || res.final.primarySkew > o.maxSkew:
		return fmt.Errorf("skew %.3f (primaries %.3f) is above %.2f", res.final.skew, res.final.primarySkew, o.maxSkew)
	}
	return nil
}

// foreign lists the starling and telemetrygen processes running on this
// machine that this run did not start: they share the cores, and the
// figures with them.
func foreign(ours map[int]bool) []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || ours[pid] {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		name := filepath.Base(strings.SplitN(string(b), "\x00", 2)[0])
		if name == "starling" || name == "telemetrygen" {
			out = append(out, fmt.Sprintf("%s %d", name, pid))
		}
	}
	return out
}
