// Command benchquery measures trace queries on a large data set: it loads
// one generated, fixed-seed set of traces (default 10 M spans over the
// last 2 h, attributes of every cardinality from 3 to one per trace) into
// Starling and into Jaeger v2 with Badger, one server after the other,
// over OTLP/gRPC, and then times queries against each, one client, one
// request after another: trace by ID, search by service, by a rare
// attribute, by a common attribute and a duration, a search that matches
// nothing, and a TraceQL aggregate (Starling only). It prints the load
// (spans/s stored by the server's own counter, server CPU-µs per span,
// peak RSS, disk bytes per span after a clean stop) and every query's
// p50, p99 and mean side by side with Starling/Jaeger ratios and the
// issue's targets; for Starling also what explain=true says the searches
// move, with and without pushdown; and, with -grow, the same queries at
// 1 M spans loaded, to see whether they stay flat as the data grows.
//
// The data set (generator.go) is made batch by batch, each batch from its
// own random stream, so the same seed gives the same spans in any order;
// it is encoded into OTLP requests on all cores before any timing (about
// 190 bytes per span in memory: 1.9 GB for 10 M), so that while a server
// is measured the driver only sends bytes. The driver's own CPU during
// the load is reported separately from the server's.
//
// Run it with `task bench-query` (scripts/bench-query.sh, which builds
// bin/starling and, once, Jaeger into .cache/peers/jaeger), e.g.
// `task bench-query -- -spans 1000000 -queries 50`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

type options struct {
	targets       []string
	starling      string
	jaeger        string
	jaegerVersion string
	cfg           Config
	clients       int
	gzip          bool
	queries       int
	budget        time.Duration
	wait          time.Duration
	catchUp       time.Duration
	settleMax     time.Duration
	grow          bool
	growAt        int
	short         time.Duration
	warm          bool
	keep          bool
	progress      time.Duration
}

var logf = benchkit.Logf

func main() {
	var o options
	var targetList string
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: scripts/bench-query.sh [flags]   (or: task bench-query -- [flags])\n\n"+
			"Loads one generated trace data set into Starling and Jaeger v2 + Badger in turn and times\n"+
			"trace-by-ID and search queries against each; prints the figures side by side.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.StringVar(&targetList, "targets", "starling,jaeger", "servers to measure, in this order (starling, jaeger)")
	flag.StringVar(&o.starling, "starling", "bin/starling", "starling binary (started with its default flags, a fresh data dir and free loopback ports)")
	flag.StringVar(&o.jaeger, "jaeger", "", "Jaeger v2 binary (cmd/jaeger; scripts/bench-query.sh builds one into .cache/peers/jaeger)")
	flag.StringVar(&o.jaegerVersion, "jaeger-version", "", "the Jaeger release of -jaeger, for the report")
	flag.IntVar(&o.cfg.Spans, "spans", 10_000_000, "spans to load into each server")
	flag.IntVar(&o.cfg.Batch, "batch", 1000, "spans per OTLP request")
	flag.DurationVar(&o.cfg.Range, "range", 2*time.Hour, "trace start times are spread over this much time before the run's start")
	flag.Uint64Var(&o.cfg.Seed, "seed", 1, "generator seed (the same seed gives the same spans)")
	flag.IntVar(&o.clients, "clients", 4, "concurrent OTLP/gRPC clients, one request in flight each")
	flag.BoolVar(&o.gzip, "gzip", false, "gzip the OTLP requests")
	flag.IntVar(&o.queries, "queries", 200, "requests per query kind and pass, one after another")
	flag.DurationVar(&o.budget, "query-budget", 90*time.Second, "time one query kind may take in one pass; it stops there (after at least 5 requests) and the table says how many ran")
	flag.DurationVar(&o.wait, "wait", 15*time.Second, "fixed wait after the load, equal for every server, before the queries (background flushes and compactions)")
	flag.DurationVar(&o.settleMax, "settle-max", 10*time.Minute, "after the fixed wait, wait until the server is idle (under 10% of a core for 2 s: its flushes and compactions done) before the queries, at most this long (0: do not wait)")
	flag.DurationVar(&o.catchUp, "catch-up", 5*time.Minute, "longest wait after the load for the server's own counter to reach the spans it accepted")
	flag.BoolVar(&o.grow, "grow", true, "also run the queries at -grow-at spans loaded, to see whether they stay flat as the data grows (when -spans is larger)")
	flag.IntVar(&o.growAt, "grow-at", 1_000_000, "spans loaded at the -grow checkpoint")
	flag.DurationVar(&o.short, "short-range", 5*time.Minute, "range of the pushdown=false comparison: the last this much of the data")
	flag.BoolVar(&o.warm, "warm", true, "run the searches a second time (a warm pass)")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directories")
	flag.DurationVar(&o.progress, "progress", 5*time.Second, "how often the load logs its progress")
	flag.Parse()
	for _, t := range strings.Split(targetList, ",") {
		if t = strings.TrimSpace(t); t != "" {
			o.targets = append(o.targets, t)
		}
	}
	benchkit.CleanupOnSignal()
	err := run(&o)
	benchkit.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchquery:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	t0 := time.Now()
	if len(o.targets) == 0 {
		return errors.New("-targets: none given")
	}
	for _, t := range o.targets {
		if !slices.ContainsFunc(targets, func(x target) bool { return x.key == t }) {
			return fmt.Errorf("-targets: unknown %q (starling, jaeger)", t)
		}
	}
	if o.clients < 1 || o.queries < 1 {
		return errors.New("-clients and -queries must be at least 1")
	}
	if o.short <= 0 || o.short > o.cfg.Range {
		return fmt.Errorf("-short-range %s: must be within -range %s", o.short, o.cfg.Range)
	}
	logf("machine: %d cores, load average %s; every server and this driver share them", runtime.NumCPU(), loadavg())
	if killed := benchkit.KillLeftovers(marker, "benchquery"); len(killed) > 0 {
		logf("killed leftover nodes of an earlier run: pids %v", killed)
		time.Sleep(200 * time.Millisecond)
	}
	if removed := benchkit.RemoveStaleDirs(marker); len(removed) > 0 {
		logf("removed data dirs of an earlier run: %s", strings.Join(removed, " "))
	}
	o.cfg.End = t0.Truncate(time.Second)
	d, err := NewDataset(o.cfg)
	if err != nil {
		return err
	}
	logf("data set: %s", d.Describe())
	payload, err := encodeAll(d)
	if err != nil {
		return err
	}
	logf("encoded into %d OTLP requests, %.1f MB (%.0f bytes/span), in %.1f s before any timing", len(payload.Requests), float64(payload.Bytes)/1e6, float64(payload.Bytes)/float64(d.Spans), payload.Build.Seconds())
	runtime.GC()
	debug.FreeOSMemory() // the encoding's garbage: keep the driver small next to the servers

	var results []*result
	for _, key := range o.targets {
		t := targets[slices.IndexFunc(targets, func(x target) bool { return x.key == key })]
		results = append(results, runTarget(o, d, payload, t))
	}
	report(o, d, payload, results)
	fmt.Printf("\nwhole run: %s\n", time.Since(t0).Round(time.Second))
	return nil
}

// result is what one server's run measured.
type result struct {
	key, name, version string
	skipped            string
	loadavg            string
	load               loadResult
	loadWall           time.Duration // the sends plus the wait for the server's counter
	cpuLoad            float64       // server CPU seconds over loadWall
	settled            time.Duration // after the fixed wait, until the server was idle (< 0: not within -settle-max)
	cpuSettle          float64       // server CPU seconds from the load's end until settled (fixed wait included)
	counted            float64       // its own count of spans stored after the load
	caughtUp           bool
	peakRSS            int64
	diskApparent       int64
	diskAlloc          int64
	stopErr            error
	cold, warm, grow   pass
	growSpans          int64
	explain            []explainRow
	pushdownNote       string
}

// explainRow is one search's bytes moved: over the whole range, and over
// the short range with and without pushdown.
type explainRow struct {
	label                 string
	whole, short, shipped explainResult
}

// runTarget starts a fresh server of t, loads the data set, queries it
// and stops it.
func runTarget(o *options, d *Dataset, payload *Payload, t target) *result {
	r := &result{key: t.key, name: t.name, loadavg: loadavg(), load: loadResult{Worst2s: -1}}
	logf("── %s; load average %s", t.name, r.loadavg)
	s, err := t.start(o)
	if err != nil {
		logf("%s: %v", t.name, err)
		r.skipped = "failed to start: " + err.Error()
		return r
	}
	r.version = s.version
	pid := s.proc.Pid()
	var qs []query
	if t.key == "starling" {
		qs = starlingQueries()
	} else {
		qs = jaegerQueries()
	}
	whole := window{d.Start(), d.End}

	// The load, in one phase or two (the -grow checkpoint between them).
	phases := [][2]int{{0, d.Batches}}
	growBatches := (o.growAt + d.Batch - 1) / d.Batch
	if o.grow && growBatches < d.Batches {
		phases = [][2]int{{0, growBatches}, {growBatches, d.Batches}}
	}
	logf("%s: loading %d spans over OTLP/gRPC %s from %d clients (batches of %d)", t.name, d.Spans, s.otlp, o.clients, d.Batch)
	for k, ph := range phases {
		cpu0 := benchkit.ProcCPU(pid)
		t0 := time.Now()
		lr, err := sendBatches(o, d, payload, s.otlp, ph[0], ph[1], int64(d.Spans), r.load.Spans, s.stored)
		r.load.add(lr)
		if err != nil {
			logf("%s: %v", t.name, err)
		}
		r.caughtUp = waitCounter(o, s, float64(r.load.Accepted))
		r.loadWall += time.Since(t0)
		r.cpuLoad += benchkit.ProcCPU(pid) - cpu0
		r.counted = s.stored()
		logf("%s: %d spans sent, %d accepted, server counted %.0f (%.1f s, %d retries, %d requests failed)",
			t.name, r.load.Spans, r.load.Accepted, r.counted, r.loadWall.Seconds(), r.load.Retries, r.load.Failed)
		for _, e := range lr.Errors {
			logf("%s:   %s", t.name, e)
		}
		if s.proc.Exited() {
			r.skipped = "exited during the load; log " + s.log + ":\n" + s.proc.LogTail(20)
			return r
		}
		if k == 0 && len(phases) == 2 {
			r.growSpans = r.load.Accepted
			logf("%s: -grow checkpoint at %d spans: fixed wait %s, until idle, then the queries", t.name, r.growSpans, o.wait)
			time.Sleep(o.wait)
			settle(o, s)
			qc := newQctx(d.Samples[:ph[1]], whole, o.cfg.Seed)
			r.grow = runPass(o, s, qs, qc, "at "+spanCount(float64(r.growSpans)), false)
			logf("%s: loading the rest", t.name)
		}
	}
	logf("%s: load done; fixed wait %s before the queries", t.name, o.wait)
	cpuEnd := benchkit.ProcCPU(pid)
	time.Sleep(o.wait)
	r.settled = settle(o, s)
	r.cpuSettle = benchkit.ProcCPU(pid) - cpuEnd
	if s.proc.Exited() {
		r.skipped = "exited after the load; log " + s.log + ":\n" + s.proc.LogTail(20)
		return r
	}

	qc := newQctx(d.Samples, whole, o.cfg.Seed)
	logf("%s: queries, one client, up to %d requests each, over %s … %s", t.name, o.queries, whole.start.UTC().Format("15:04:05"), whole.end.UTC().Format("15:04:05"))
	r.cold = runPass(o, s, qs, qc, "cold", false)
	if t.key == "starling" {
		r.explain, r.pushdownNote = explainPass(o, s, d, qc)
	}
	if o.warm {
		logf("%s: warm pass: the searches again", t.name)
		r.warm = runPass(o, s, qs, qc, "warm", true)
	}
	r.peakRSS = benchkit.PeakRSS(pid)

	logf("%s: stopping (SIGTERM) for a clean close", t.name)
	r.stopErr = s.proc.Stop(5 * time.Minute)
	r.diskApparent = duBytes(s.dataDir)
	r.diskAlloc = benchkit.DiskBytes(s.dataDir)
	logf("%s: stopped; data dir %.1f MB (du -sb), %.1f MB allocated", t.name, float64(r.diskApparent)/1e6, float64(r.diskAlloc)/1e6)
	if !o.keep {
		_ = os.RemoveAll(s.root)
	}
	return r
}

// waitCounter waits until the server's own count of spans stored reaches
// want (at most o.catchUp).
func waitCounter(o *options, s *server, want float64) bool {
	deadline := time.Now().Add(o.catchUp)
	t0 := time.Now()
	for {
		c := s.stored()
		if c >= want {
			if el := time.Since(t0); el > time.Second {
				logf("%s: its counter reached the %.0f accepted spans %.1f s after the last answer", s.name, want, el.Seconds())
			}
			return true
		}
		if time.Now().After(deadline) || s.proc.Exited() {
			logf("%s: its counter %s says %.0f of the %.0f accepted spans after %s", s.name, s.counter, c, want, o.catchUp)
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settle waits until the server is idle: under 10% of a core over two
// 1 s polls running, at most o.settleMax. It returns how long after the
// fixed wait that began (-1: not within settleMax).
func settle(o *options, s *server) time.Duration {
	if o.settleMax <= 0 {
		return 0
	}
	pid := s.proc.Pid()
	t0 := time.Now()
	prevT, prevCPU := t0, benchkit.ProcCPU(pid)
	quiet, quietT := 0, t0
	for time.Since(t0) < o.settleMax && !s.proc.Exited() {
		time.Sleep(time.Second)
		now, c := time.Now(), benchkit.ProcCPU(pid)
		if c-prevCPU < 0.10*now.Sub(prevT).Seconds() {
			if quiet++; quiet == 1 {
				quietT = prevT
			}
		} else {
			quiet = 0
		}
		prevT, prevCPU = now, c
		if quiet == 2 {
			d := quietT.Sub(t0)
			logf("%s: idle %.0f s after the fixed wait (its flushes and compactions done)", s.name, d.Seconds())
			return d
		}
	}
	logf("%s: still busy %s after the fixed wait; querying anyway", s.name, o.settleMax)
	return -1
}

// explainPass runs each distinct Starling search once with explain=true
// over the whole range, and over the short range with and without
// pushdown.
func explainPass(o *options, s *server, d *Dataset, qc *qctx) ([]explainRow, string) {
	short := window{d.End.Add(-o.short), d.End}
	logf("%s: explain=true once per search (whole range), and over the last %s with and without pushdown", s.name, o.short)
	keys := []struct{ key, label string }{
		{"svc-api", "service"},
		{"rare-api", "rare attribute (user.id)"},
		{"common-api", "service + GET + duration ≥ 500ms"},
		{"common-tql", "GET && duration > 500ms"},
		{"nomatch-api", "service + request.id no match"},
		{"nomatch-tql", "request.id no match"},
		{"agg-tql", "service | count() > 5"},
	}
	var rows []explainRow
	note := ""
	for _, k := range keys {
		tq := starlingTraceQL(k.key, qc, 0)
		row := explainRow{label: k.label + ": " + tq}
		row.whole = explainOnce(s, tq, qc.win, true)
		row.short = explainOnce(s, tq, short, true)
		if note == "" {
			row.shipped = explainOnce(s, tq, short, false)
			if strings.Contains(row.shipped.err, "400") && strings.Contains(row.shipped.err, "unknown parameter") {
				note = "pushdown=false not available (the server answers 400: " + row.shipped.err + ")"
				logf("%s: %s", s.name, note)
			}
		}
		if note != "" {
			row.shipped = explainResult{err: "not available"}
		}
		logf("  %s explain: %s: whole range %s; last %s: %s with pushdown, %s without",
			s.name, row.label, explainText(row.whole), o.short, explainText(row.short), explainText(row.shipped))
		rows = append(rows, row)
	}
	return rows, note
}

func explainText(e explainResult) string {
	if e.err != "" {
		return "error: " + e.err
	}
	return fmt.Sprintf("%d bytes moved, %d traces inspected, %d returned, %.1f ms", e.bytesMoved, e.inspectedTraces, e.traces, float64(e.took)/1e6)
}
