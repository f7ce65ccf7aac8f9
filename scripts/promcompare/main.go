// Command promcompare compares Starling's PromQL answers with a real
// Prometheus over the same samples. It starts one Starling node, three
// node_exporters and Debian's Prometheus 2.42 on loopback (stack.go);
// Prometheus scrapes the exporters, itself and Starling every -interval
// and sends everything it scrapes to Starling by remote write
// (config.go). After -duration (progress every 30 s, progress.go) and
// once Prometheus has shipped every sample up to the chosen end
// (plan.go), it compares the raw samples held by both (rawdata.go), then
// runs the same PromQL queries (queries.go), instant at several times
// and range at several steps, against Prometheus' own API and Starling's
// /prometheus API with the Prometheus Go client, and compares the
// answers exactly, NaN equal to NaN (compare.go).
//
// Prometheus 2.42 and Starling's embedded Prometheus 3.x engine differ in
// a few documented ways. A difference is traced to the innermost
// sub-expression whose answers differ and classified (explain.go) only
// when checked: left-open windows by a sample or subquery step on a
// window's lower edge, and Prometheus answering Starling's value once
// its windows are 1 ms shorter (openwindow.go); Kahan summation by both
// values being the exact sum of the same inputs up to float64 rounding
// (rounding.go); the 2.50 change of rate() extrapolation by recomputing
// both releases' formulas from the window's samples (extrapolation.go).
// It prints a line per query, a table (report.go) and a summary line,
// and exits 1 when a difference is not explained by a documented
// 2.x→3.x engine change, 2 when the run could not be carried out.
//
// Prometheus and node_exporter are Debian's binaries, fetched once into
// .cache/peers (benchkit.DebianBinary). Run it with
// `task compare-prometheus` (scripts/compare-prometheus.sh, which builds
// bin/starling), e.g. `task compare-prometheus -- -duration 2m`.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// marker begins every temp dir and log of this driver (and so the data
// dir on the command line of the node it starts).
const marker = "starling-promcompare-"

type options struct {
	duration time.Duration
	interval time.Duration
	keep     bool
	starling string
	cache    string
}

var logf = benchkit.Logf

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 15*time.Minute, "how long Prometheus scrapes and writes to Starling before the comparison")
	flag.DurationVar(&o.interval, "interval", 5*time.Second, "Prometheus' scrape_interval and evaluation_interval")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dirs (Starling's and Prometheus' data, the Prometheus config)")
	flag.StringVar(&o.starling, "starling", "bin/starling", "starling binary (scripts/compare-prometheus.sh builds it)")
	flag.StringVar(&o.cache, "cache", ".cache/peers", "where the Debian binaries are extracted (git-ignored)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: scripts/compare-prometheus.sh [flags]   (task compare-prometheus -- [flags])

Runs Prometheus 2.42 (Debian) scraping three node_exporters, itself and a
Starling node, with remote write to Starling, for -duration; then runs the
same PromQL queries against both and compares the answers exactly. Exit
status 1 when an answer differs for a reason other than a documented
Prometheus 2.x -> 3.x engine change, 2 when the run fails.

Flags:
`)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "promcompare: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	benchkit.CleanupOnSignal()
	code, err := run(&o)
	benchkit.Cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "promcompare:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// run carries out the whole comparison and returns the exit code.
func run(o *options) (int, error) {
	if o.duration < 30*time.Second {
		return 0, fmt.Errorf("-duration %s: at least 30s (the queries need a few minutes of data to mean much)", o.duration)
	}
	if o.interval < time.Second || o.interval%time.Second != 0 {
		return 0, fmt.Errorf("-interval %s: whole seconds, at least 1s", o.interval)
	}
	t0 := time.Now()
	st, err := startStack(o)
	if err != nil {
		return 0, err
	}
	defer st.stop()
	if err := monitor(o, st); err != nil {
		return 0, err
	}
	p := newPlan(st.firstScrape, time.Now())
	logf("evaluation: %s", p.describe())
	if err := waitShipped(st, p.end, o.interval); err != nil {
		return 0, err
	}
	ends := st.counters()
	logf("shipped: Prometheus sent %s samples, Starling ingested %s metric records", count(ends.sent), count(ends.ingested))

	c, err := newClients(st)
	if err != nil {
		return 0, err
	}
	raw, err := compareRaw(c, p)
	if err != nil {
		return 0, err
	}
	printRaw(raw)
	x := newExplainer(c, raw.scrapes, o.interval)
	results := compareAll(c, x, p)
	if err := st.stop(); err != nil {
		logf("stop: %v", err)
	} else {
		logf("stopped Prometheus, the node_exporters and Starling cleanly")
	}
	unexplained := report(os.Stdout, p, raw, results, time.Since(t0))
	if unexplained {
		return 1, nil
	}
	return 0, nil
}
