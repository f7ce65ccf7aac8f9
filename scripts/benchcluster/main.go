// Command benchcluster measures, in one run, what clustering costs on one
// machine: spans/s stored through a single node and through an N-node local
// cluster (replication factor 1) under the same paced telemetrygen load, and
// the time from process start to every node ready for clusters of a few
// sizes. Node i binds 127.0.0.(base+i) with the default ports, so the
// single node (node 0 alone) and the cluster run alike. Stored spans are
// the sum over nodes of starling_ingested_records_total{signal="traces"}
// (counted by the node that received the request). Run it with
// `task bench-cluster` (scripts/bench-cluster.sh).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// marker is the prefix of every data dir this benchmark makes; it tells its
// leftover nodes apart.
const marker = "starling-benchcluster-"

type options struct {
	rf         int
	starling   string
	load       benchkit.Load
	nodes      int
	base       int
	formations int
	sizes      []int
	readyLimit time.Duration
}

func main() {
	var o options
	var sizes string
	flag.StringVar(&o.starling, "starling", "bin/starling", "starling binary")
	o.load.RegisterFlags(flag.CommandLine, 30*time.Second)
	o.load.LogName = "starling-benchcluster-telemetrygen"
	flag.IntVar(&o.nodes, "nodes", 3, "nodes of the cluster under load")
	flag.IntVar(&o.rf, "replication-factor", 1, "copies of every partition in the cluster (1: the cost of routing alone; 3: with replication)")
	flag.IntVar(&o.base, "base", 60, "node i binds 127.0.0.(base+i)")
	flag.IntVar(&o.formations, "formations", 3, "formations timed per cluster size (0: skip)")
	flag.StringVar(&sizes, "formation-sizes", "3,5", "cluster sizes whose formation is timed")
	flag.DurationVar(&o.readyLimit, "ready-timeout", 60*time.Second, "time a node has to become ready")
	flag.Parse()
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "benchcluster: -formation-sizes: %q is not a node count\n", f)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.nodes < 1 || o.base < 1 || o.base+max(o.nodes, slicesMax(o.sizes)) > 254 {
		fmt.Fprintln(os.Stderr, "benchcluster: -nodes, -base or -formation-sizes out of range")
		os.Exit(2)
	}
	benchkit.CleanupOnSignal()
	err := run(o)
	benchkit.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcluster:", err)
		os.Exit(1)
	}
}

func slicesMax(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

var logf = benchkit.Logf

func (o options) host(i int) string { return fmt.Sprintf("127.0.0.%d", o.base+i) }

// cluster is a set of nodes started together.
type cluster struct {
	nodes []*benchkit.Node
	data  string // parent of the nodes' data dirs
}

// start starts n nodes at once (a single one bootstraps alone), every node
// joining node 0, with a fresh data dir each. Logs go to
// <tmp>/starling-benchcluster-<phase>-node-<i>.log.
func (o options) start(phase string, n int) (*cluster, error) {
	for i := 0; i < n; i++ {
		if err := benchkit.CheckFree(o.host(i), benchkit.DefaultPorts(), 10*time.Second); err != nil {
			return nil, err
		}
	}
	data, err := benchkit.TempDir(marker, false)
	if err != nil {
		return nil, err
	}
	c := &cluster{data: data}
	for i := 0; i < n; i++ {
		spec := benchkit.NodeSpec{
			Binary:  o.starling,
			Host:    o.host(i),
			Ports:   benchkit.DefaultPorts(),
			DataDir: filepath.Join(data, fmt.Sprintf("node-%d", i)),
			NodeID:  fmt.Sprintf("node-%d", i),
			Log:     filepath.Join(os.TempDir(), fmt.Sprintf("%s%s-node-%d.log", marker, phase, i)),
		}
		if n > 1 {
			spec.Join = []string{o.host(0) + ":7946"}
			spec.BootstrapExpect = n
			spec.Extra = []string{"--replication-factor", strconv.Itoa(o.rf)}
		}
		nd, err := benchkit.StartNode(spec)
		if err != nil {
			_ = c.close(0)
			return nil, err
		}
		c.nodes = append(c.nodes, nd)
	}
	return c, nil
}

// waitReady polls /readyz of every node every 10 ms and returns the time
// from the first process start to the last node ready.
func (c *cluster) waitReady(limit time.Duration) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = n.WaitReady(limit, 10*time.Millisecond)
		}()
	}
	wg.Wait()
	took := time.Since(c.nodes[0].Started)
	return took, errors.Join(errs...)
}

// close stops every node at once (SIGTERM, killed after timeout; 0: kill)
// and removes their data.
func (c *cluster) close(timeout time.Duration) error {
	defer os.RemoveAll(c.data)
	return benchkit.StopAll(c.nodes, timeout)
}

func (c *cluster) cpu() float64 {
	var s float64
	for _, n := range c.nodes {
		s += n.CPU()
	}
	return s
}

// spans is the sum over nodes of the stored-span counter, and each node's.
func (c *cluster) spans() (float64, []float64, error) {
	per := make([]float64, len(c.nodes))
	var sum float64
	for i, n := range c.nodes {
		v, err := n.Spans()
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", n.Name(), err)
		}
		per[i] = v
		sum += v
	}
	return sum, per, nil
}

// loadResult is one load phase.
type loadResult struct {
	nodes             int
	ready             time.Duration
	stored            float64
	perNode           []float64
	meanRate, worst2s float64
	nodeCPU, genCPU   float64
	peakRSS           int64 // largest over the nodes
}

// loadPhase starts n nodes, runs the load with generator i sending to node
// i mod n, and stops them.
func (o options) loadPhase(phase string, n int) (r loadResult, err error) {
	r.nodes = n
	c, err := o.start(phase, n)
	if err != nil {
		return r, err
	}
	defer func() {
		if serr := c.close(30 * time.Second); serr != nil && err == nil {
			logf("stopping the nodes: %v", serr)
		}
	}()
	if r.ready, err = c.waitReady(o.readyLimit); err != nil {
		return r, err
	}
	logf("%d node(s) ready in %.2f s (%s … %s, logs %s)", n, r.ready.Seconds(), c.nodes[0].Spec.Host, c.nodes[n-1].Spec.Host, filepath.Dir(c.nodes[0].Spec.Log)+"/"+marker+phase+"-node-*.log")
	endpoints := make([]string, n)
	for i, nd := range c.nodes {
		endpoints[i] = nd.GRPC
	}
	cpu0 := c.cpu()
	var stored benchkit.Rates
	if stored.Prev, _, err = c.spans(); err != nil {
		return r, err
	}
	logf("load: %s, generator i → node i mod %d", o.load.Describe(), n)
	r.genCPU, err = o.load.Run(endpoints, func(el time.Duration) {
		cur, _, err := c.spans()
		if err != nil {
			logf("%v", err)
			return
		}
		rate := stored.Add(cur)
		logf("stored %9.0f spans  %7.0f spans/s  elapsed %4.0fs  ETA %4.0fs", cur, rate, el.Seconds(), max(0, o.load.Duration-el).Seconds())
	})
	if err != nil {
		return r, err
	}
	r.nodeCPU = c.cpu() - cpu0
	r.meanRate, r.worst2s = stored.Summary()
	if r.stored, r.perNode, err = c.spans(); err != nil {
		return r, err
	}
	for _, nd := range c.nodes {
		r.peakRSS = max(r.peakRSS, benchkit.PeakRSS(nd.Pid()))
	}
	for _, nd := range c.nodes {
		if nd.Exited() {
			return r, fmt.Errorf("%s exited during the load; log %s:\n%s", nd.Name(), nd.Spec.Log, nd.LogTail(20))
		}
	}
	logf("load done: %.0f spans stored", r.stored)
	return r, nil
}

// formation starts n nodes at once and returns the time until all are
// ready; the nodes are killed afterwards (their data is thrown away).
func (o options) formation(n int) (time.Duration, error) {
	c, err := o.start(fmt.Sprintf("form%d", n), n)
	if err != nil {
		return 0, err
	}
	took, err := c.waitReady(o.readyLimit)
	_ = c.close(0)
	return took, err
}

func run(o options) error {
	if err := benchkit.Prepare(o.load.Telemetrygen, o.starling, "scripts/bench-cluster.sh", marker, "benchcluster"); err != nil {
		return err
	}

	logf("phase 1: single node on %s", o.host(0))
	single, err := o.loadPhase("single", 1)
	if err != nil {
		return fmt.Errorf("single node: %w", err)
	}
	logf("phase 2: %d-node cluster on %s … %s", o.nodes, o.host(0), o.host(o.nodes-1))
	multi, err := o.loadPhase(fmt.Sprintf("cluster%d", o.nodes), o.nodes)
	if err != nil {
		return fmt.Errorf("%d-node cluster: %w", o.nodes, err)
	}

	forms := map[int][]time.Duration{}
	if o.formations > 0 {
		for _, n := range o.sizes {
			for round := 1; round <= o.formations; round++ {
				took, err := o.formation(n)
				if err != nil {
					return fmt.Errorf("formation of %d nodes, round %d: %w", n, round, err)
				}
				logf("formation: %d nodes ready %.2f s after start (round %d of %d)", n, took.Seconds(), round, o.formations)
				forms[n] = append(forms[n], took)
			}
		}
	}
	report(o, single, multi, forms)
	return nil
}

func report(o options, single, multi loadResult, forms map[int][]time.Duration) {
	cores := runtime.NumCPU()
	fmt.Printf("\nStarling, single node vs %d-node local cluster (replication factor 1), %s\n", o.nodes, o.load.Describe())
	fmt.Printf("machine: %d cores (runtime.NumCPU). All nodes and generators share them: the ratio is the cost\n", cores)
	fmt.Printf("of clustering on one machine (forwarding to partitions on other nodes), not a scaling figure.\n")
	fmt.Printf("generator i sends to node i mod %d", o.nodes)
	if o.load.Generators < o.nodes {
		fmt.Printf(" (with %d generators, %d node(s) receive no OTLP requests themselves)", o.load.Generators, o.nodes-o.load.Generators)
	}
	fmt.Printf("\n\n")
	col := fmt.Sprintf("%d-node cluster", o.nodes)
	fmt.Printf("%-36s %-24s %s\n", "figure", "single node", col)
	row := func(name string, f func(r loadResult) string) {
		fmt.Printf("%-36s %-24s %s\n", name, f(single), f(multi))
	}
	d := o.load.Duration.Seconds()
	row("spans/s stored (mean)", func(r loadResult) string { return fmt.Sprintf("%.0f", r.meanRate) })
	row("spans/s stored (worst 2 s window)", func(r loadResult) string { return fmt.Sprintf("%.0f", r.worst2s) })
	row("spans stored", func(r loadResult) string { return fmt.Sprintf("%.0f", r.stored) })
	row("  per receiving node", func(r loadResult) string {
		var s []string
		for _, v := range r.perNode {
			s = append(s, fmt.Sprintf("%.0f", v))
		}
		return strings.Join(s, " / ")
	})
	row("node CPU during load (all nodes)", func(r loadResult) string {
		return fmt.Sprintf("%.1f s (%.0f%% of %d cores)", r.nodeCPU, 100*r.nodeCPU/d/float64(cores), cores)
	})
	row("node CPU µs per stored span", func(r loadResult) string { return fmt.Sprintf("%.1f", 1e6*r.nodeCPU/max(r.stored, 1)) })
	row("generator CPU", func(r loadResult) string {
		return fmt.Sprintf("%.1f s (%.0f%% of %d cores)", r.genCPU, 100*r.genCPU/d/float64(cores), cores)
	})
	row("largest node peak RSS", func(r loadResult) string { return fmt.Sprintf("%.2f GiB", float64(r.peakRSS)/(1<<30)) })
	row("ready after start", func(r loadResult) string { return fmt.Sprintf("%.2f s", r.ready.Seconds()) })
	ratio := 0.0
	if single.meanRate > 0 {
		ratio = multi.meanRate / single.meanRate
	}
	fmt.Printf("\n%-36s %.2f\n", fmt.Sprintf("ratio %d-node / single (mean spans/s)", o.nodes), ratio)
	if len(forms) == 0 {
		return
	}
	fmt.Printf("\nformation: all processes started at once, time from start to /readyz 200 on every node\n")
	for _, n := range o.sizes {
		ts := forms[n]
		var s []string
		for _, t := range ts {
			s = append(s, fmt.Sprintf("%.2f s", t.Seconds()))
		}
		fmt.Printf("  %d nodes: %-40s median %.2f s\n", n, strings.Join(s, "  "), median(ts).Seconds())
	}
}

func median(ts []time.Duration) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
