// Command benchmetrics sends one generated metrics data set to Starling (by
// Prometheus remote write and, separately, by OTLP/HTTP), to
// VictoriaMetrics and to Prometheus, one server after the other in one
// run, and prints their figures side by side with Starling/peer ratios:
// samples/s accepted, server CPU-µs per sample, peak RSS, disk bytes per
// sample after a clean stop, and the latency of
// sum by (instance)(rate(bench_requests_total[5m])) over the last hour,
// with a check that every server returns the same answer.
//
// The data set (generator.go) is deterministic for a seed: by default
// 10,000 series × 6 h at 15 s, ending at the run's start. It is encoded
// into requests before any timing (send.go), so the generator costs little
// while the server is measured; the driver's own CPU is reported too.
// VictoriaMetrics and Prometheus are Debian's binaries, fetched once into
// .cache/peers (benchkit.DebianBinary). Starling is skipped with a message
// while its remote write endpoint answers 404.
//
// Run it with `task bench-metrics` (scripts/bench-metrics.sh), e.g.
// `task bench-metrics -- -series 500 -duration 30m -targets victoriametrics,prometheus`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

type options struct {
	targets         []string
	starling        string
	starlingCounter string
	cfg             Config
	batch, senders  int
	wait            time.Duration
	queries         int
	otlp            bool
	keep            bool
	cache           string
	vmBin, promBin  string
	vmVersion       string
	promVersion     string
	data            *Dataset
	samples         int
}

var logf = benchkit.Logf

func main() {
	var o options
	var targetList string
	flag.StringVar(&targetList, "targets", "starling,victoriametrics,prometheus", "servers to measure, in this order (starling, victoriametrics, prometheus)")
	flag.StringVar(&o.starling, "starling", "bin/starling", "starling binary")
	flag.StringVar(&o.starlingCounter, "starling-counter", `starling_ingested_records_total{signal="metrics"}`, "Starling's own count of samples stored, in its /metrics (to see that it settled)")
	flag.IntVar(&o.cfg.Series, "series", 10000, "series (100 per metric name; at least 100)")
	flag.DurationVar(&o.cfg.Duration, "duration", 6*time.Hour, "time span of the data, ending at the run's start")
	flag.DurationVar(&o.cfg.Interval, "interval", 15*time.Second, "time between a series' samples")
	flag.DurationVar(&o.cfg.Jitter, "jitter", 0, "move each timestamp by up to ± this (e.g. 5ms; 0: exact spacing)")
	flag.Uint64Var(&o.cfg.Seed, "seed", 1, "generator seed (the same seed gives the same samples)")
	flag.IntVar(&o.batch, "batch", 10000, "samples per request")
	flag.IntVar(&o.senders, "senders", 4, "concurrent senders")
	flag.DurationVar(&o.wait, "wait", 30*time.Second, "fixed wait after each send, equal for every server, before queries and the stop (background merges and compactions)")
	flag.IntVar(&o.queries, "queries", 1000, "query requests per server (p99 of 1,000 is the 10th slowest answer; of 200 it was the 2nd)")
	flag.BoolVar(&o.otlp, "otlp", true, "also send the data set to a fresh Starling by OTLP/HTTP")
	flag.BoolVar(&o.keep, "keep", false, "keep the data directories")
	flag.StringVar(&o.cache, "cache", ".cache/peers", "where the Debian peer binaries are extracted (git-ignored)")
	flag.StringVar(&o.vmBin, "victoriametrics", "", "victoria-metrics binary (default: Debian's, in -cache)")
	flag.StringVar(&o.promBin, "prometheus", "", "prometheus binary (default: Debian's, in -cache)")
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
		fmt.Fprintln(os.Stderr, "benchmetrics:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	t0 := time.Now()
	for _, t := range o.targets {
		if !slices.ContainsFunc(targets, func(x target) bool { return x.key == t }) {
			return fmt.Errorf("-targets: unknown %q (starling, victoriametrics, prometheus)", t)
		}
	}
	if o.batch < 1 || o.senders < 1 || o.queries < 1 {
		return errors.New("-batch, -senders and -queries must be at least 1")
	}
	if err := peerBinaries(o); err != nil {
		return err
	}
	logf("machine: %d cores, load average %s; every server and this driver share them", runtime.NumCPU(), loadavg())
	if killed := benchkit.KillLeftovers(marker, "benchmetrics"); len(killed) > 0 {
		logf("killed leftover nodes of an earlier run: pids %v", killed)
		time.Sleep(200 * time.Millisecond)
	}
	if removed := benchkit.RemoveStaleDirs(marker); len(removed) > 0 {
		logf("removed data dirs of an earlier run: %s", strings.Join(removed, " "))
	}

	o.cfg.End = t0.Truncate(o.cfg.Interval)
	d, err := NewDataset(o.cfg)
	if err != nil {
		return err
	}
	o.data, o.samples = d, d.Samples()
	logf("data set: %s", d.Describe())
	logf("          %s", d.Mix())
	rw, err := remoteWritePayload(d, o.senders, o.batch)
	if err != nil {
		return err
	}
	logf("remote write: %d requests, %.1f MB, encoded in %.1f s", rw.Requests(), float64(rw.Bytes)/1e6, rw.Build.Seconds())
	debug.FreeOSMemory() // the encoding's garbage: keep the driver small next to the servers

	var otlp *Payload
	var results []*result
	for _, key := range o.targets {
		t := targets[slices.IndexFunc(targets, func(x target) bool { return x.key == key })]
		r := runTarget(o, t, "remote write", rw)
		results = append(results, r)
		if key != "starling" || !o.otlp {
			continue
		}
		if r.skipped != "" {
			results = append(results, &result{name: "Starling OTLP", skipped: "skipped with Starling"})
			continue
		}
		if otlp == nil {
			if otlp, err = otlpPayload(d, o.senders, o.batch); err != nil {
				return err
			}
			logf("OTLP: %d requests, %.1f MB, encoded in %.1f s", otlp.Requests(), float64(otlp.Bytes)/1e6, otlp.Build.Seconds())
			debug.FreeOSMemory()
		}
		results = append(results, runTarget(o, t, "OTLP", otlp))
	}
	report(o, rw, otlp, results)
	fmt.Printf("\nwhole run: %s\n", elapsed(t0))
	return nil
}

// runTarget starts a fresh server of t, measures it with p and stops it.
func runTarget(o *options, t target, proto string, p *Payload) *result {
	la := loadavg()
	logf("── %s (%s); load average %s", t.name, proto, la)
	s, err := t.start(o, proto)
	name := t.name
	if proto == "OTLP" {
		name += " OTLP"
	}
	if err != nil {
		if errors.Is(err, errSkip) {
			logf("%s: %v", name, err)
			return &result{name: name, proto: proto, skipped: err.Error()}
		}
		logf("%s: %v", name, err)
		return &result{name: name, proto: proto, skipped: "failed to start: " + err.Error()}
	}
	r := measure(o, s, p)
	r.loadavg = la
	if !o.keep {
		_ = os.RemoveAll(s.dataDir)
	}
	return &r
}

// peerBinaries finds the VictoriaMetrics and Prometheus binaries the
// targets need: the flags' paths, else Debian's, extracted into o.cache.
func peerBinaries(o *options) error {
	cache, err := filepath.Abs(o.cache)
	if err != nil {
		return err
	}
	for _, p := range []struct {
		key, pkg, bin string
		path, version *string
	}{
		{"victoriametrics", "victoria-metrics", "victoria-metrics", &o.vmBin, &o.vmVersion},
		{"prometheus", "prometheus", "prometheus", &o.promBin, &o.promVersion},
	} {
		if !slices.Contains(o.targets, p.key) {
			continue
		}
		if *p.path != "" {
			*p.version = "(" + *p.path + ")"
			continue
		}
		if *p.path, *p.version, err = benchkit.DebianBinary(cache, p.pkg, p.bin); err != nil {
			return err
		}
	}
	return nil
}
