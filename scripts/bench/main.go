// Command bench measures a fresh single Starling node under paced
// telemetrygen trace load, the way ../shared/notes/benchmarking.md measures
// Jaeger: spans/s stored from the node's own counters (mean and worst 2 s
// window), CPU of node and generator, peak RSS, disk bytes per span after a
// clean close, and trace-by-ID and search latency over 200 sequential
// requests each. Run it with `task bench` (scripts/bench.sh).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	starling     string
	telemetrygen string
	duration     time.Duration
	ceiling      time.Duration
	generators   int
	workers      int
	rate         int
	batch        int
	queries      int
	dataDir      string
	keep         bool
}

func main() {
	var o options
	flag.StringVar(&o.starling, "starling", "bin/starling", "starling binary")
	flag.StringVar(&o.telemetrygen, "telemetrygen", "telemetrygen", "telemetrygen binary")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "load duration")
	flag.DurationVar(&o.ceiling, "ceiling", 20*time.Second, "first measure what the generators deliver to a null sink for this long (0: skip)")
	flag.IntVar(&o.generators, "generators", 2, "telemetrygen processes (each has one export in flight)")
	flag.IntVar(&o.workers, "workers", 20, "telemetrygen workers per process (2 × 20 offer about 60K spans/s here; 2 × 32 saturate the node)")
	flag.IntVar(&o.rate, "rate", 2000, "telemetrygen --rate per worker (spans/s)")
	flag.IntVar(&o.batch, "batch-size", 2048, "telemetrygen --batch-size")
	flag.IntVar(&o.queries, "queries", 200, "requests per query latency figure")
	flag.StringVar(&o.dataDir, "data-dir", "", "data directory (default: a new temp dir)")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directory")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type node struct {
	cmd      *exec.Cmd
	http     string
	grpcPort int
	dir      string
}

func startNode(o options) (*node, error) {
	dir := o.dataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "starling-bench-"); err != nil {
			return nil, err
		}
	}
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	logFile, err := os.Create(filepath.Join(os.TempDir(), "starling-bench-node.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.starling, "--data-dir", dir, "--bind", "127.0.0.1",
		"--otlp-grpc-port", strconv.Itoa(ports[0]), "--otlp-http-port", strconv.Itoa(ports[1]),
		"--http-port", strconv.Itoa(ports[2]))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.starling, err)
	}
	n := &node{cmd: cmd, http: fmt.Sprintf("http://127.0.0.1:%d", ports[2]), grpcPort: ports[0], dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(n.http + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				logf("node ready (pid %d, data %s, log %s)", cmd.Process.Pid, dir, logFile.Name())
				return n, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, errors.New("node not ready within 30s")
}

// metric reads one sample of the node's /metrics (first series whose name
// and labels start with prefix).
func (n *node) metric(prefix string) (float64, error) {
	resp, err := http.Get(n.http + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			return strconv.ParseFloat(f[len(f)-1], 64)
		}
	}
	return 0, nil
}

func (n *node) spans() (float64, error) {
	return n.metric(`starling_ingested_records_total{signal="traces"}`)
}

// procCPU returns user+system CPU seconds of a process from /proc.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// peakRSS returns VmHWM of a process in bytes.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// diskBytes is the allocated size of everything under dir.
func diskBytes(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
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
	if _, err := exec.LookPath(o.telemetrygen); err != nil {
		return fmt.Errorf("telemetrygen not found (scripts/bench.sh installs it): %w", err)
	}
	var ceiling float64
	if o.ceiling > 0 {
		logf("generator ceiling: the same load against a null OTLP sink for %s", o.ceiling)
		var err error
		if ceiling, err = generatorCeiling(o, o.ceiling); err != nil {
			return err
		}
		logf("generators deliver %.0f spans/s when the server costs nothing", ceiling)
	}
	n, err := startNode(o)
	if err != nil {
		return err
	}
	defer func() {
		if n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Kill()
			_ = n.cmd.Wait()
		}
		if !o.keep && o.dataDir == "" {
			os.RemoveAll(n.dir)
		}
	}()
	var r results
	pid := n.cmd.Process.Pid

	cpu0 := procCPU(pid)
	logf("load: %d × telemetrygen, %d workers × %d spans/s each, for %s, 10 spans per trace", o.generators, o.workers, o.rate, o.duration)
	var stored rates
	stored.prev, _ = n.spans()
	queriedUnderLoad := false
	r.genCPU, err = load{o: o, endpoint: fmt.Sprintf("127.0.0.1:%d", n.grpcPort)}.run(func(el time.Duration) {
		cur, err := n.spans()
		if err != nil {
			return
		}
		rate := stored.add(cur)
		logf("stored %9.0f spans  %7.0f spans/s  elapsed %4.0fs  ETA %4.0fs", cur, rate, el.Seconds(), (o.duration - el).Seconds())
		if !queriedUnderLoad && el > o.duration/2 {
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
	r.meanRate, r.worst2s = stored.summary()
	r.nodeCPU = procCPU(pid) - cpu0
	if r.stored, err = n.spans(); err != nil {
		return err
	}
	logf("load done: %.0f spans stored", r.stored)

	ids, err := traceIDs(n, 1000)
	if err != nil {
		return err
	}
	r.byID = latency(n, o.queries, func(i int) string { return "/api/v1/traces/" + ids[i%len(ids)] })
	r.search = latency(n, o.queries, func(int) string { return "/api/v1/traces?service=telemetrygen&limit=20" })
	r.peakRSS = peakRSS(pid)
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
		sum, _ := n.metric(fmt.Sprintf(st.metric, "sum"))
		cnt, _ := n.metric(fmt.Sprintf(st.metric, "count"))
		if cnt > 0 {
			r.stages = append(r.stages, stage{name: st.name, mean: time.Duration(sum / cnt * 1e9), n: sum / cnt, count: st.count})
		}
	}

	logf("stopping the node (SIGTERM) for a clean close")
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	if err := n.cmd.Wait(); err != nil {
		return fmt.Errorf("node exit: %w", err)
	}
	r.diskPerSpan = float64(diskBytes(n.dir)) / r.stored
	r.ceiling = ceiling
	report(o, r)
	return nil
}

// traceIDs collects up to n trace ids, from searches over random slices of
// the last hour so they spread over the data.
func traceIDs(n *node, count int) ([]string, error) {
	resp, err := http.Get(fmt.Sprintf("%s/api/v1/traces?service=telemetrygen&limit=%d", n.http, min(count, 1000)))
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
func latency(n *node, count int, path func(i int) string) [2]time.Duration {
	ds := make([]time.Duration, 0, count)
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; i < count; i++ {
		t := time.Now()
		resp, err := client.Get(n.http + path(i))
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
	fmt.Printf("\nStarling single node, %d × telemetrygen (%d workers × %d spans/s each), %s, 10 spans/trace\n", o.generators, o.workers, o.rate, o.duration)
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
	fmt.Printf("%-36s %.1f s (%.0f%% of one core)\n", "node CPU during load", r.nodeCPU, 100*r.nodeCPU/o.duration.Seconds())
	fmt.Printf("%-36s %.1f s (%.0f%% of one core)\n", "generator CPU", r.genCPU, 100*r.genCPU/o.duration.Seconds())
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
