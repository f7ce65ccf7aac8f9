// Command bench measures a fresh single Starling node under paced
// telemetrygen trace load, the way Jaeger's load is usually measured:
// spans/s stored from the node's own counters (mean and worst 2 s
// window), CPU of node and generator, peak RSS, disk bytes per span after a
// clean close, and trace-by-ID and search latency over 200 sequential
// requests each. Run it with `task bench` (scripts/bench.sh).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

type options struct {
	starling string
	load     benchkit.Load
	ceiling  time.Duration
	queries  int
	dataDir  string
	keep     bool
}

func main() {
	var o options
	flag.StringVar(&o.starling, "starling", "bin/starling", "starling binary")
	o.load.RegisterFlags(flag.CommandLine, 60*time.Second)
	o.load.LogName = "starling-bench-telemetrygen"
	flag.DurationVar(&o.ceiling, "ceiling", 20*time.Second, "first measure what the generators deliver to a null sink for this long (0: skip)")
	flag.IntVar(&o.queries, "queries", 200, "requests per query latency figure")
	flag.StringVar(&o.dataDir, "data-dir", "", "data directory (default: a new temp dir)")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directory")
	flag.Parse()
	benchkit.CleanupOnSignal()
	err := run(o)
	benchkit.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

var logf = benchkit.Logf

// startNode starts a node on 127.0.0.1 with free ports for every listener
// (gossip, Raft and actor ports too: the defaults would collide with other
// nodes on this machine) and waits until it is ready.
func startNode(o options) (*benchkit.Node, error) {
	dir := o.dataDir
	if dir == "" {
		var err error
		if dir, err = benchkit.TempDir("starling-bench-", o.keep); err != nil {
			return nil, err
		}
	}
	ports, err := benchkit.FreePorts("127.0.0.1")
	if err != nil {
		return nil, err
	}
	n, err := benchkit.StartNode(benchkit.NodeSpec{
		Binary: o.starling, Host: "127.0.0.1", Ports: ports, DataDir: dir,
		Log: filepath.Join(os.TempDir(), "starling-bench-node.log"),
	})
	if err != nil {
		return nil, err
	}
	if _, err := n.WaitReady(30*time.Second, 50*time.Millisecond); err != nil {
		_ = n.Stop(0)
		return nil, err
	}
	logf("node ready (pid %d, data %s, log %s)", n.Pid(), dir, n.Spec.Log)
	return n, nil
}

// stage is the mean of one latency histogram of the node.
type stage struct {
	name  string
	mean  time.Duration
	n     float64
	count bool // a count, not a time
}

type results struct {
	ceiling            float64
	stages             []stage
	stored             float64
	meanRate, worst2s  float64
	nodeCPU, genCPU    float64
	peakRSS            int64
	diskPerSpan        float64
	byID, search       [2]time.Duration // p50, p99 after ingest
	byIDLoad, srchLoad [2]time.Duration // p50, p99 during ingest
}

func run(o options) error {
	if _, err := exec.LookPath(o.load.Telemetrygen); err != nil {
		return fmt.Errorf("telemetrygen not found (scripts/bench.sh installs it): %w", err)
	}
	var ceiling float64
	if o.ceiling > 0 {
		logf("generator ceiling: the same load against a null OTLP sink for %s", o.ceiling)
		var err error
		if ceiling, err = o.load.Ceiling(o.ceiling); err != nil {
			return err
		}
		logf("generators deliver %.0f spans/s when the server costs nothing", ceiling)
	}
	n, err := startNode(o)
	if err != nil {
		return err
	}
	var r results
	pid := n.Pid()

	cpu0 := benchkit.ProcCPU(pid)
	logf("load: %d × telemetrygen, %d workers × %d spans/s each, for %s, 10 spans per trace", o.load.Generators, o.load.Workers, o.load.Rate, o.load.Duration)
	var stored benchkit.Rates
	stored.Prev, _ = n.Spans()
	queriedUnderLoad := false
	r.genCPU, err = o.load.Run([]string{n.GRPC}, func(el time.Duration) {
		cur, err := n.Spans()
		if err != nil {
			return
		}
		rate := stored.Add(cur)
		logf("stored %9.0f spans  %7.0f spans/s  elapsed %4.0fs  ETA %4.0fs", cur, rate, el.Seconds(), (o.load.Duration - el).Seconds())
		if !queriedUnderLoad && el > o.load.Duration/2 {
			queriedUnderLoad = true
			if ids, err := traceIDs(n, 1000); err == nil {
				r.byIDLoad = latency(n, 50, func(i int) string { return "/api/v1/traces/" + ids[i%len(ids)] })
				r.srchLoad = latency(n, 50, func(int) string { return "/api/v1/traces?service=telemetrygen&limit=20" })
			}
		}
	})
	if err != nil {
		return err
	}
	r.meanRate, r.worst2s = stored.Summary()
	r.nodeCPU = benchkit.ProcCPU(pid) - cpu0
	if r.stored, err = n.Spans(); err != nil {
		return err
	}
	logf("load done: %.0f spans stored", r.stored)

	ids, err := traceIDs(n, 1000)
	if err != nil {
		return err
	}
	r.byID = latency(n, o.queries, func(i int) string { return "/api/v1/traces/" + ids[i%len(ids)] })
	r.search = latency(n, o.queries, func(int) string { return "/api/v1/traces?service=telemetrygen&limit=20" })
	r.peakRSS = benchkit.PeakRSS(pid)
	for _, st := range []struct {
		name, metric string
		count        bool
	}{
		{"OTLP request, server side (decode to reply)", `starling_otlp_request_seconds_%s{signal="traces",transport="grpc"}`, false},
		{"  frontend: receipt to last ack", `starling_write_latency_seconds_%s{signal="traces"}`, false},
		{"  frontend: build batches", `starling_frontend_build_seconds_%s{signal="traces"}`, false},
		{"  batch waits for its group commit", `starling_storage_commit_wait_seconds_%s{signal="traces"}`, false},
		{"  group commit (sort, Badger write)", `starling_storage_commit_seconds_%s{signal="traces"}`, false},
		{"records per Badger commit", `starling_storage_commit_records_%s{signal="traces"}`, true},
		{"entries per Badger commit", `starling_storage_commit_entries_%s{signal="traces"}`, true},
	} {
		sum, _ := n.Metric(fmt.Sprintf(st.metric, "sum"))
		cnt, _ := n.Metric(fmt.Sprintf(st.metric, "count"))
		if cnt > 0 {
			r.stages = append(r.stages, stage{name: st.name, mean: time.Duration(sum / cnt * 1e9), n: sum / cnt, count: st.count})
		}
	}

	logf("stopping the node (SIGTERM) for a clean close")
	if err := n.Stop(5 * time.Minute); err != nil {
		return fmt.Errorf("node exit: %w", err)
	}
	r.diskPerSpan = float64(benchkit.DiskBytes(n.Spec.DataDir)) / r.stored
	r.ceiling = ceiling
	report(o, r)
	return nil
}

// traceIDs collects up to n trace ids, from searches over random slices of
// the last hour so they spread over the data.
func traceIDs(n *benchkit.Node, count int) ([]string, error) {
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/traces?service=telemetrygen&limit=%d", n.HTTP, min(count, 1000)))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Traces []struct {
			TraceID string `json:"traceID"`
		} `json:"traces"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(body.Traces))
	for _, t := range body.Traces {
		ids = append(ids, t.TraceID)
	}
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	if len(ids) == 0 {
		return nil, errors.New("no traces found")
	}
	return ids, nil
}

// latency issues count GET requests one after another and returns p50, p99.
func latency(n *benchkit.Node, count int, path func(i int) string) [2]time.Duration {
	ds := make([]time.Duration, 0, count)
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < count; i++ {
		t := time.Now()
		resp, err := client.Get(n.HTTP + path(i))
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			continue
		}
		ds = append(ds, time.Since(t))
	}
	if len(ds) == 0 {
		return [2]time.Duration{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	pct := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return [2]time.Duration{pct(0.50), pct(0.99)}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func report(o options, r results) {
	check := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	enough := r.stored >= 1.5e6
	fmt.Printf("\nStarling single node, %s\n", o.load.Describe())
	if r.ceiling > 0 {
		fmt.Printf("generators alone, against a null sink: %.0f spans/s; Starling stored %.0f%% of that\n", r.ceiling, 100*r.meanRate/r.ceiling)
	}
	fmt.Printf("%-36s %-22s %-14s %s\n", "figure", "value", "target", "")
	row := func(name, value, target string, ok bool) {
		fmt.Printf("%-36s %-22s %-14s %s\n", name, value, target, check(ok))
	}
	row("spans/s stored (mean)", fmt.Sprintf("%.0f", r.meanRate), ">= 50000", r.meanRate >= 50000)
	row("spans/s stored (worst 2 s window)", fmt.Sprintf("%.0f (%.0f%% of mean)", r.worst2s, 100*r.worst2s/r.meanRate), ">= 50% of mean", r.worst2s >= r.meanRate/2)
	fmt.Printf("%-36s %.0f\n", "spans stored", r.stored)
	fmt.Printf("%-36s %.1f s (%.0f%% of one core)\n", "node CPU during load", r.nodeCPU, 100*r.nodeCPU/o.load.Duration.Seconds())
	fmt.Printf("%-36s %.1f s (%.0f%% of one core)\n", "generator CPU", r.genCPU, 100*r.genCPU/o.load.Duration.Seconds())
	row("node peak RSS", fmt.Sprintf("%.2f GiB", float64(r.peakRSS)/(1<<30)), "<= 1.2 GiB", float64(r.peakRSS) <= 1.2*(1<<30))
	row("disk bytes per span (clean close)", fmt.Sprintf("%.1f", r.diskPerSpan), "<= 110", r.diskPerSpan <= 110)
	if !enough {
		fmt.Printf("(query figures below are over %.0f spans, fewer than the 1.5 M the targets assume)\n", r.stored)
	}
	row("trace by ID p50 / p99", ms(r.byID[0])+" / "+ms(r.byID[1]), "p99 <= 1.5 ms", r.byID[1] <= 1500*time.Microsecond && r.byID[1] > 0)
	row("search by service p50 / p99", ms(r.search[0])+" / "+ms(r.search[1]), "p99 <= 60 ms", r.search[1] <= 60*time.Millisecond && r.search[1] > 0)
	fmt.Printf("%-36s %s / %s\n", "  during ingest: trace by ID", ms(r.byIDLoad[0]), ms(r.byIDLoad[1]))
	fmt.Printf("%-36s %s / %s\n", "  during ingest: search", ms(r.srchLoad[0]), ms(r.srchLoad[1]))
	fmt.Printf("\nwhere a request's time goes (means, node's own histograms)\n")
	for _, st := range r.stages {
		if st.count {
			fmt.Printf("  %-48s %.0f\n", st.name, st.n)
		} else {
			fmt.Printf("  %-48s %s\n", st.name, ms(st.mean))
		}
	}
}
