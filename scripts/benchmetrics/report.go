package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one figure of the table: its value for a result (NaN: none) and
// how to print it.
type row struct {
	label string
	val   func(r *result) float64
	text  func(r *result, v float64) string // nil: %.2f
	ratio bool                              // print Starling/peer ratios
}

var na = math.NaN()

func num(format string) func(*result, float64) string {
	return func(_ *result, v float64) string { return fmt.Sprintf(format, v) }
}

func msText(_ *result, v float64) string { return fmt.Sprintf("%.2f ms", v) }

func rows(ref *result) []row {
	perSample := func(f func(r *result) float64) func(r *result) float64 {
		return func(r *result) float64 {
			if r.send.Accepted == 0 {
				return na
			}
			return f(r) / float64(r.send.Accepted)
		}
	}
	queried := func(f func(q *queryResult) float64) func(r *result) float64 {
		return func(r *result) float64 {
			if r.query == nil || r.query.ok == 0 {
				return na
			}
			return f(r.query)
		}
	}
	rs := []row{
		{label: "version", val: func(*result) float64 { return 0 }, text: func(r *result, _ float64) string { return r.version }},
		{label: "load average before the run", val: func(*result) float64 { return 0 }, text: func(r *result, _ float64) string { return r.loadavg }},
		{label: "samples accepted", val: func(r *result) float64 { return float64(r.send.Accepted) }, text: num("%.0f")},
		{label: "  refused / given up / retried requests", val: func(*result) float64 { return 0 }, text: func(r *result, _ float64) string {
			return fmt.Sprintf("%d / %d / %d", r.send.Refused, r.send.GaveUp, r.send.Retries)
		}},
		{label: "send phase (wall)", val: func(r *result) float64 { return r.send.Wall.Seconds() }, text: num("%.1f s"), ratio: true},
		{label: "samples/s accepted", val: func(r *result) float64 { return r.send.Mean }, text: num("%.0f"), ratio: true},
		{label: "  worst 2 s window", val: func(r *result) float64 {
			if r.send.Worst2s == 0 {
				return na
			}
			return r.send.Worst2s
		}, text: num("%.0f"), ratio: true},
		{label: "  slowest request", val: func(r *result) float64 { return float64(r.send.Slowest) / 1e6 }, text: msText, ratio: true},
		{label: "server CPU-µs/sample (send + settle)", val: perSample(func(r *result) float64 { return 1e6 * r.cpu }), ratio: true},
		{label: "  of which during the send", val: perSample(func(r *result) float64 { return 1e6 * r.cpuSend }), ratio: true},
		{label: "  server CPU during the send (cores)", val: func(r *result) float64 { return r.cpuSend / r.send.Wall.Seconds() }},
		{label: "server CPU-µs/sample (send + whole wait)", val: perSample(func(r *result) float64 { return 1e6 * r.cpuWait }), ratio: true},
		{label: "  settled after the send", val: func(r *result) float64 {
			if r.settled < 0 {
				return na
			}
			return r.settled.Seconds()
		}, text: num("%.0f s")},
		{label: "generator CPU-µs/sample (this driver)", val: perSample(func(r *result) float64 { return 1e6 * r.send.GenCPU })},
		{label: "server's own count of samples", val: func(r *result) float64 {
			if r.counted == 0 {
				return na
			}
			return r.counted
		}, text: num("%.0f")},
		{label: "peak RSS (VmHWM, ingest and queries)", val: func(r *result) float64 { return float64(r.peakRSS) / (1 << 20) }, text: num("%.0f MiB"), ratio: true},
		{label: "disk bytes/sample after stop (du -sb)", val: perSample(func(r *result) float64 { return float64(r.diskApparent) }), ratio: true},
		{label: "  allocated (du -s)", val: perSample(func(r *result) float64 { return float64(r.diskAlloc) }), ratio: true},
		{label: "query p50", val: queried(func(q *queryResult) float64 { return float64(q.p50) / 1e6 }), text: msText, ratio: true},
		{label: "query p99", val: queried(func(q *queryResult) float64 { return float64(q.p99) / 1e6 }), text: msText, ratio: true},
		{label: "  queries failed", val: func(r *result) float64 {
			if r.query == nil {
				return na
			}
			return float64(r.query.errs)
		}, text: num("%.0f")},
		{label: "query: series returned", val: queried(func(q *queryResult) float64 { return float64(q.series) }), text: num("%.0f")},
	}
	if ref != nil {
		rs = append(rs, row{label: "query: max rel. diff vs " + ref.name, val: func(r *result) float64 {
			if r.query == nil || r.query.values == nil {
				return na
			}
			c := compare(ref.query.values, r.query.values)
			if c.common == 0 {
				return na
			}
			return c.maxRel
		}, text: func(r *result, v float64) string {
			c := compare(ref.query.values, r.query.values)
			s := fmt.Sprintf("%.2g, median %.2g (%d pts)", v, c.medianRel, c.common)
			if c.alone > 0 {
				s += fmt.Sprintf(", %d unmatched", c.alone)
			}
			return s
		}})
	}
	return rs
}

// report prints the table of results, one column per server, and the
// Starling/peer ratio columns.
func report(o *options, rw, otlp *Payload, results []*result) {
	w := os.Stdout
	fmt.Fprintf(w, "\nMetrics ingest and query: one data set to each server in turn, one server running at a time\n")
	fmt.Fprintf(w, "data set: %s\n          %s\n", o.data.Describe(), o.data.Mix())
	for _, p := range []*Payload{rw, otlp} {
		if p != nil {
			fmt.Fprintf(w, "%-12s %d requests of ≤ %d samples, %.1f MB (%.2f bytes/sample on the wire), pre-encoded in %.1f s before any timing\n",
				p.Proto+":", p.Requests(), o.batch, float64(p.Bytes)/1e6, float64(p.Bytes)/float64(p.Samples), p.Build.Seconds())
		}
	}
	fmt.Fprintf(w, "sending: %d senders, series i to sender i mod %d, time-major; retries on 5xx/429\n", o.senders, o.senders)
	fmt.Fprintf(w, "machine: %d cores shared by the server and this driver (the generator); other load on the machine shows in the load average row\n", runtime.NumCPU())
	fmt.Fprintf(w, "after each send: a fixed %s wait for every server (VictoriaMetrics merges and Prometheus compacts in the background), then queries, then SIGTERM; disk measured after exit\n", o.wait)
	fmt.Fprintf(w, "server CPU is counted from the send's start until the server settled (its own sample counter unchanged and < 5%% of a core for 2 s), or the whole wait; the \"whole wait\" row counts to the end of the fixed wait, background work (flushes, merges, compactions) included\n")
	start, end := queryWindow(o)
	fmt.Fprintf(w, "query: %s, query_range %s … %s UTC step 15 s (half an interval off the sample times), %d requests one after another after ingest\n",
		queryExpr(), start.UTC().Format("15:04:05.0"), end.UTC().Format("15:04:05.0"), o.queries)
	fmt.Fprintf(w, "VictoriaMetrics runs with -search.disableCache (else the repeated query measures its response cache) and -search.latencyOffset=0s\n\n")

	var starling *result
	peers := map[string]*result{}
	var ref *result
	for _, r := range results {
		switch {
		case r.name == "Starling":
			starling = r
		case r.name == "VictoriaMetrics" || r.name == "Prometheus":
			peers[r.name] = r
		}
	}
	for _, r := range results {
		if r.skipped == "" && r.query != nil && r.query.series > 0 && (ref == nil || r.name == "Prometheus") {
			ref = r // Prometheus, the reference PromQL, if it answered
		}
	}
	var ratioCols []*result
	for _, n := range []string{"VictoriaMetrics", "Prometheus"} {
		if p := peers[n]; p != nil {
			ratioCols = append(ratioCols, p)
		}
	}
	hasStarling := false
	for _, t := range o.targets {
		hasStarling = hasStarling || t == "starling"
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"figure"}
	for _, r := range results {
		header = append(header, r.name)
	}
	if hasStarling {
		for _, p := range ratioCols {
			header = append(header, "Starling/"+short(p.name))
		}
	}
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, rw := range rows(ref) {
		cells := []string{rw.label}
		for _, r := range results {
			cells = append(cells, cell(rw, r))
		}
		if hasStarling {
			for _, p := range ratioCols {
				cells = append(cells, ratio(rw, starling, p))
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()

	for _, r := range results {
		if r.skipped != "" {
			fmt.Fprintf(w, "\n%s: %s\n", r.name, r.skipped)
		}
		if r.queryNote != "" {
			fmt.Fprintf(w, "\n%s: no query figures: %s\n", r.name, r.queryNote)
		}
		if r.stopErr != nil {
			fmt.Fprintf(w, "\n%s: did not stop cleanly: %v\n", r.name, r.stopErr)
		}
		if r.send.Failed > 0 {
			fmt.Fprintf(w, "\n%s: %d samples not accepted; first errors:\n    %s\n", r.name, r.send.Failed, strings.Join(r.send.Errors, "\n    "))
		}
		if r.counted > 0 && r.counted != float64(r.send.Accepted) && r.skipped == "" {
			fmt.Fprintf(w, "\n%s: its counter %s says %.0f samples, %.0f%% of the %d accepted\n", r.name, r.counter, r.counted, 100*r.counted/float64(r.send.Accepted), r.send.Accepted)
		}
		if b := r.blocks; b != nil && r.skipped == "" {
			fmt.Fprintf(w, "\nPrometheus after stop: %d blocks hold %d samples in %.1f MB (%.2f bytes/sample); WAL, head chunks and the rest %.1f MB hold the other %d samples\n",
				b.blocks, b.samples, float64(b.bytes)/1e6, float64(b.bytes)/math.Max(1, float64(b.samples)), float64(b.other)/1e6, int64(r.send.Accepted)-b.samples)
		}
	}
	if ref != nil {
		fmt.Fprintf(w, "\nThe value check compares each answer with %s's point by point (same instance and time); it is a sanity check, not pass/fail. VictoriaMetrics' rate() differs by design (it counts the increase since the last sample before the window and does not extrapolate), most for slow counters.\n", ref.name)
	}
	if starling != nil && starling.skipped == "" {
		fmt.Fprintf(w, "Disk: Badger (Starling) may pre-allocate sparse files, so its du -sb can overstate what it holds; compare the allocated (du -s) row too.\n")
	}
	fmt.Fprintf(w, "Ratios are Starling's figure over the peer's: above 1 is more samples/s but more CPU, memory, disk or latency.\n")
	if o.samples < 50e6 {
		fmt.Fprintf(w, "Note: %.1fM samples; the issue's anchor figures were measured with 115.2M (10,000 series × 48 h; -duration 48h): a short send flatters LSM stores and hides compaction.\n", float64(o.samples)/1e6)
	}
}

func short(name string) string {
	if name == "VictoriaMetrics" {
		return "VM"
	}
	if name == "Prometheus" {
		return "Prom"
	}
	return name
}

func cell(rw row, r *result) string {
	if r.skipped != "" {
		if rw.label == "version" {
			return "skipped"
		}
		return "–"
	}
	v := rw.val(r)
	if math.IsNaN(v) {
		return "–"
	}
	if rw.text != nil {
		return rw.text(r, v)
	}
	return fmt.Sprintf("%.2f", v)
}

func ratio(rw row, s, p *result) string {
	if !rw.ratio {
		return ""
	}
	if s == nil || s.skipped != "" || p.skipped != "" {
		return "–"
	}
	a, b := rw.val(s), rw.val(p)
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// elapsed is the whole run's wall time, printed at the end.
func elapsed(t0 time.Time) string { return time.Since(t0).Round(time.Second).String() }
