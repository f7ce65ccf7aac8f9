package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

var na = math.NaN()

// row is one figure of the load table.
type row struct {
	label string
	val   func(r *result) float64
	text  func(r *result, v float64) string // nil: %.2f
	ratio bool
}

func num(format string) func(*result, float64) string {
	return func(_ *result, v float64) string { return fmt.Sprintf(format, v) }
}

func loadRows() []row {
	perSpan := func(f func(r *result) float64) func(r *result) float64 {
		return func(r *result) float64 {
			if r.counted <= 0 && r.load.Accepted == 0 {
				return na
			}
			return f(r) / spansStored(r)
		}
	}
	txt := func(f func(r *result) string) func(*result, float64) string {
		return func(r *result, _ float64) string { return f(r) }
	}
	zero := func(*result) float64 { return 0 }
	return []row{
		{label: "version", val: zero, text: txt(func(r *result) string { return r.version })},
		{label: "load average before the run", val: zero, text: txt(func(r *result) string { return r.loadavg })},
		{label: "spans sent", val: func(r *result) float64 { return float64(r.load.Spans) }, text: num("%.0f")},
		{label: "spans accepted (OTLP answers)", val: func(r *result) float64 { return float64(r.load.Accepted) }, text: num("%.0f")},
		{label: "spans stored (server's own counter)", val: func(r *result) float64 { return r.counted }, text: num("%.0f")},
		{label: "  failed requests / retries", val: zero, text: txt(func(r *result) string { return fmt.Sprintf("%d / %d", r.load.Failed, r.load.Retries) })},
		{label: "load wall (sends + counter catch-up)", val: func(r *result) float64 { return r.loadWall.Seconds() }, text: num("%.1f s"), ratio: true},
		{label: "load spans/s (stored ÷ load wall)", val: func(r *result) float64 { return spansStored(r) / r.loadWall.Seconds() }, text: num("%.0f"), ratio: true},
		{label: "  worst 2 s window (accepted)", val: func(r *result) float64 {
			if r.load.Worst2s < 0 {
				return na
			}
			return r.load.Worst2s
		}, text: num("%.0f"), ratio: true},
		{label: "  slowest request", val: func(r *result) float64 { return float64(r.load.Slowest) / 1e6 }, text: num("%.0f ms"), ratio: true},
		{label: "server CPU-µs/span during the load", val: perSpan(func(r *result) float64 { return 1e6 * r.cpuLoad }), ratio: true},
		{label: "  server CPU during the load (cores)", val: func(r *result) float64 { return r.cpuLoad / r.loadWall.Seconds() }},
		{label: "  idle (settled) after the fixed wait", val: func(r *result) float64 {
			if r.settled < 0 {
				return na
			}
			return r.settled.Seconds()
		}, text: num("%.0f s")},
		{label: "server CPU-µs/span, load + until settled", val: perSpan(func(r *result) float64 { return 1e6 * (r.cpuLoad + r.cpuSettle) }), ratio: true},
		{label: "driver CPU-µs/span (sending)", val: perSpan(func(r *result) float64 { return 1e6 * r.load.GenCPU })},
		{label: "peak RSS (VmHWM, load and queries)", val: func(r *result) float64 { return float64(r.peakRSS) / (1 << 20) }, text: num("%.0f MiB"), ratio: true},
		{label: "disk bytes/span after stop (du -sb)", val: perSpan(func(r *result) float64 { return float64(r.diskApparent) }), ratio: true},
		{label: "  allocated (du -s)", val: perSpan(func(r *result) float64 { return float64(r.diskAlloc) }), ratio: true},
	}
}

// spansStored is what the per-span figures divide by: the server's own
// count, or the spans accepted if it has none.
func spansStored(r *result) float64 {
	if r.counted > 0 {
		return r.counted
	}
	return float64(r.load.Accepted)
}

func report(o *options, d *Dataset, payload *Payload, results []*result) {
	w := os.Stdout
	var st, jg *result
	for _, r := range results {
		switch r.key {
		case "starling":
			st = r
		case "jaeger":
			jg = r
		}
	}
	fmt.Fprintf(w, "\nTrace queries on a loaded store: one data set to each server in turn, one server running at a time\n")
	fmt.Fprintf(w, "data set: %s\n", d.Describe())
	fmt.Fprintf(w, "          attributes: http.method (5 values), http.status_code (int, 11), http.route (200) on server and client spans; user.id (100,000: rare) and request.id (one per trace) on server spans;\n")
	fmt.Fprintf(w, "          resource service.name (20), host.name (50), deployment.environment (3); ~1%% error spans; log-normal durations (roots: median 40 ms)\n")
	fmt.Fprintf(w, "requests: %d of ≤ %d spans, %.1f MB of protobuf (%.0f bytes/span), encoded in %.1f s before any timing\n", len(payload.Requests), d.Batch, float64(payload.Bytes)/1e6, float64(payload.Bytes)/float64(d.Spans), payload.Build.Seconds())
	fmt.Fprintf(w, "load: %d OTLP/gRPC clients, one request in flight each, as fast as the server answers (gzip %v); retries on Unavailable/ResourceExhausted\n", o.clients, o.gzip)
	fmt.Fprintf(w, "machine: %d cores shared by the server and this driver (the generator)\n", runtime.NumCPU())
	fmt.Fprintf(w, "queries: one client, one request after another, after the load, a fixed %s wait and until the server is idle (< 10%% of a core for 2 s, at most %s);\n", o.wait, o.settleMax)
	fmt.Fprintf(w, "         up to %d requests per query (or %s), range %s … %s UTC (the whole data set), limit 20\n\n",
		o.queries, o.budget, d.Start().UTC().Format("15:04:05"), d.End.UTC().Format("15:04:05"))

	both := st != nil && jg != nil && st.skipped == "" && jg.skipped == ""
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := []string{"figure"}
	for _, r := range results {
		header = append(header, r.name)
	}
	if both {
		header = append(header, "Starling/Jaeger")
	}
	fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
	for _, rw := range loadRows() {
		cells := []string{rw.label}
		for _, r := range results {
			cells = append(cells, cell(rw, r))
		}
		if both {
			cells = append(cells, ratio(rw, st, jg))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()

	fmt.Fprintf(w, "\nQueries after the whole load (cold: the first pass)\n")
	queryTable(w, o, st, jg, func(r *result) pass { return r.cold }, true)

	if st != nil && st.skipped == "" && len(st.explain) > 0 {
		fmt.Fprintf(w, "\nStarling explain=true, once per search (/api/v1/traces?q=…): bytes moved from the partitions to the coordinator\n")
		explainTable(w, o, st)
	}

	if o.warm {
		fmt.Fprintf(w, "\nWarm pass: the searches a second time, right after the first. The cold pass and explain asked for no results cache\n")
		fmt.Fprintf(w, "(Cache-Control: no-cache); the warm pass allows it. Starling keeps the answers of ranges that ended --cache-freshness before\n")
		fmt.Fprintf(w, "the query (this run starts it with 1m: the data set's range ends when the run starts, so it is closed after the load);\n")
		fmt.Fprintf(w, "Jaeger has no results cache: its difference is caches below (OS page cache, Badger block cache) and run-to-run noise.\n")
		warmTable(w, results)
	}

	if st != nil && st.grow != nil || jg != nil && jg.grow != nil {
		fmt.Fprintf(w, "\nFlat as data grows: the same queries, same range, at the -grow checkpoint and after the whole load\n")
		growTable(w, results)
	} else if o.grow {
		fmt.Fprintf(w, "\n(-grow: no checkpoint, -spans %d is not above -grow-at %d)\n", d.Spans, o.growAt)
	}

	for _, r := range results {
		if r.skipped != "" {
			fmt.Fprintf(w, "\n%s: %s\n", r.name, r.skipped)
		}
		if r.stopErr != nil {
			fmt.Fprintf(w, "\n%s: did not stop cleanly: %v\n", r.name, r.stopErr)
		}
		if r.load.Failed > 0 || r.load.Rejected > 0 {
			fmt.Fprintf(w, "\n%s: %d spans not accepted (%d requests failed); first errors:\n    %s\n", r.name, r.load.Rejected, r.load.Failed, strings.Join(r.load.Errors, "\n    "))
		}
		if r.skipped == "" && !r.caughtUp {
			fmt.Fprintf(w, "\n%s: its own counter (%.0f) did not reach the %d spans accepted within -catch-up %s\n", r.name, r.counted, r.load.Accepted, o.catchUp)
		}
	}
	if jg != nil && jg.skipped == "" {
		fmt.Fprintf(w, "\nJaeger: spans stored is otelcol_exporter_sent_spans_total (the storage exporter, after the batch processor); its OTLP answer comes before the spans are in Badger, so the load wall includes the wait until that counter reaches the spans accepted.\n")
		fmt.Fprintf(w, "Jaeger's search API needs a service, so its attribute searches name one (the service of the span with that user.id; the services in turn otherwise); Starling's TraceQL forms search every service.\n")
		fmt.Fprintf(w, "Jaeger (Badger) intersects its indexes by trace: minDuration reads a duration index of every service, so a trace of the service with a GET span matches if any of its spans lasts 500 ms; Starling's filters hold for one span, so it may return fewer traces (the hits column).\n")
	}
	if st != nil && st.skipped == "" {
		fmt.Fprintf(w, "Disk: Badger may pre-allocate sparse files, so du -sb can overstate what a store holds; compare the allocated (du -s) row too.\n")
	}
	fmt.Fprintf(w, "Ratios are Starling's figure over Jaeger's: above 1 is more spans/s but more CPU, memory, disk or latency.\n")
	if d.Spans < 10_000_000 {
		fmt.Fprintf(w, "Note: %s spans; the issue's acceptance is at 10M (the default): a small load flatters LSM stores and hides compaction.\n", spanCount(float64(d.Spans)))
	}
}

func cell(rw row, r *result) string {
	if r.skipped != "" {
		if rw.label == "version" {
			return "skipped"
		}
		return "–"
	}
	v := rw.val(r)
	if math.IsNaN(v) || math.IsInf(v, 0) {
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
	a, b := rw.val(s), rw.val(p)
	if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func msCell(st *stats, d func(*stats) time.Duration) string {
	if !st.ok() {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(d(st))/1e6)
}

func ratioCell(a, b *stats, d func(*stats) time.Duration) string {
	if !a.ok() || !b.ok() || d(b) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f×", float64(d(a))/float64(d(b)))
}

func p50(s *stats) time.Duration  { return s.p50 }
func p99(s *stats) time.Duration  { return s.p99 }
func mean(s *stats) time.Duration { return s.mean }

func nCell(st *stats) string {
	if st == nil {
		return "–"
	}
	s := fmt.Sprint(st.n)
	if st.budgetCut {
		s += "*"
	}
	if st.errs > 0 {
		s += fmt.Sprintf(" (%d failed)", st.errs)
	}
	return s
}

func hitsCell(q query, st *stats) string {
	if !st.ok() {
		return "–"
	}
	s := fmt.Sprintf("%.1f", float64(st.hitsSum)/float64(st.n))
	if st.empty > 0 {
		if q.kind == answerTrace {
			s += fmt.Sprintf(" (%d wrong)", st.empty)
		} else {
			s += fmt.Sprintf(" (%d none)", st.empty)
		}
	}
	return s
}

// queryTable prints every Starling query next to its Jaeger counterpart
// (then Jaeger's own rows if Starling was not measured).
func queryTable(w io.Writer, o *options, st, jg *result, get func(*result) pass, targets bool) {
	jq := map[string]query{}
	for _, q := range jaegerQueries() {
		jq[q.key] = q
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query (ms)\tStarling p50\tp99\tmean\tn\thits\tJaeger p50\tp99\tmean\tn\thits\tS/J p50\tS/J p99\tStarling target p99\t")
	var sp, jp pass
	if st != nil && st.skipped == "" {
		sp = get(st)
	}
	if jg != nil && jg.skipped == "" {
		jp = get(jg)
	}
	starred := false
	if sp != nil || jp == nil {
		for _, q := range starlingQueries() {
			s := sp[q.key]
			var j *stats
			jcells := []string{"–", "–", "–", "–", "–"}
			if q.peer != "" && jp != nil {
				j = jp[q.peer]
				jcells = []string{msCell(j, p50), msCell(j, p99), msCell(j, mean), nCell(j), hitsCell(jq[q.peer], j)}
			} else if q.cannot != "" {
				jcells = []string{"(cannot)", "", "", "", ""}
			}
			tgt := ""
			if targets && q.target > 0 {
				tgt = fmt.Sprintf("≤ %.0f", float64(q.target)/1e6)
				if s.ok() {
					if s.p99 <= q.target {
						tgt += " met"
					} else {
						tgt += " MISSED"
					}
				}
			}
			starred = starred || (s != nil && s.budgetCut) || (j != nil && j.budgetCut)
			cells := append([]string{q.label, msCell(s, p50), msCell(s, p99), msCell(s, mean), nCell(s), hitsCell(q, s)}, jcells...)
			cells = append(cells, ratioCell(s, j, p50), ratioCell(s, j, p99), tgt)
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
	} else {
		for _, q := range jaegerQueries() {
			j := jp[q.key]
			starred = starred || (j != nil && j.budgetCut)
			fmt.Fprintln(tw, strings.Join([]string{q.label, "–", "–", "–", "–", "–", msCell(j, p50), msCell(j, p99), msCell(j, mean), nCell(j), hitsCell(q, j), "–", "–", ""}, "\t")+"\t")
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "hits: mean traces returned per search (spans per trace by ID; \"wrong\": not the generated span count; \"none\": a rare value that is in the data found nothing)\n")
	if jp != nil {
		fmt.Fprintf(w, "Jaeger rows: ")
		var parts []string
		for _, q := range jaegerQueries() {
			parts = append(parts, q.key+" = "+q.label)
		}
		fmt.Fprintf(w, "%s\n", strings.Join(parts, "; "))
	}
	if starred {
		fmt.Fprintf(w, "* stopped at the -query-budget of %s before %d requests: p99 of fewer requests is nearer the maximum\n", o.budget, o.queries)
	}
	for _, r := range []*result{st, jg} {
		if r == nil || r.skipped != "" {
			continue
		}
		for k, s := range get(r) {
			if s.errs > 0 {
				fmt.Fprintf(w, "%s %s: %d requests failed, first: %s\n", r.name, k, s.errs, s.firstErr)
			}
		}
	}
}

func explainTable(w io.Writer, o *options, st *result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "search\twhole range: bytes moved\ttraces inspected\tms\tlast %s: with pushdown\twithout (pushdown=false)\tcut\tms with / without\t\n", o.short)
	bytesCell := func(e explainResult) string {
		if e.err != "" {
			return "error"
		}
		return fmt.Sprint(e.bytesMoved)
	}
	for _, e := range st.explain {
		cut := "–"
		if e.short.err == "" && e.shipped.err == "" && e.shipped.bytesMoved > 0 {
			cut = fmt.Sprintf("%.1f%%", 100*(1-float64(e.short.bytesMoved)/float64(e.shipped.bytesMoved)))
		}
		msw := "–"
		if e.short.err == "" && e.shipped.err == "" {
			msw = fmt.Sprintf("%.1f / %.1f", float64(e.short.took)/1e6, float64(e.shipped.took)/1e6)
		}
		insp := "–"
		wms := "–"
		if e.whole.err == "" {
			insp = fmt.Sprint(e.whole.inspectedTraces)
			wms = fmt.Sprintf("%.1f", float64(e.whole.took)/1e6)
		}
		fmt.Fprintln(tw, strings.Join([]string{e.label, bytesCell(e.whole), insp, wms, bytesCell(e.short), bytesCell(e.shipped), cut, msw}, "\t")+"\t")
	}
	tw.Flush()
	if st.pushdownNote != "" {
		fmt.Fprintf(w, "%s\n", st.pushdownNote)
	}
	for _, e := range st.explain {
		for _, x := range []struct {
			what string
			r    explainResult
		}{{"whole range", e.whole}, {"short range", e.short}, {"pushdown=false", e.shipped}} {
			if x.r.err != "" && x.r.err != "not available" {
				fmt.Fprintf(w, "%s, %s: %s\n", e.label, x.what, x.r.err)
			}
		}
	}
}

func warmTable(w io.Writer, results []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tsearch\tcold p50\tp99\twarm p50\tp99\twarm/cold p99\t")
	for _, r := range results {
		if r.skipped != "" || r.warm == nil {
			continue
		}
		qs := starlingQueries()
		if r.key == "jaeger" {
			qs = jaegerQueries()
		}
		for _, q := range qs {
			if !q.search {
				continue
			}
			c, h := r.cold[q.key], r.warm[q.key]
			fmt.Fprintln(tw, strings.Join([]string{r.name, q.label, msCell(c, p50), msCell(c, p99), msCell(h, p50), msCell(h, p99), ratioCell(h, c, p99)}, "\t")+"\t")
		}
	}
	tw.Flush()
}

func growTable(w io.Writer, results []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tquery\tspans loaded\tp50\tp99\thits\tspans loaded\tp50\tp99\thits\tp99 growth\t")
	for _, r := range results {
		if r.skipped != "" || r.grow == nil {
			continue
		}
		qs := starlingQueries()
		if r.key == "jaeger" {
			qs = jaegerQueries()
		}
		for _, q := range qs {
			g, c := r.grow[q.key], r.cold[q.key]
			fmt.Fprintln(tw, strings.Join([]string{r.name, q.label,
				spanCount(float64(r.growSpans)), msCell(g, p50), msCell(g, p99), hitsCell(q, g),
				spanCount(spansStored(r)), msCell(c, p50), msCell(c, p99), hitsCell(q, c),
				ratioCell(c, g, p99)}, "\t")+"\t")
		}
	}
	tw.Flush()
}

// spanCount writes a count of spans: 10M, 1.5M, 200K, 999.
func spanCount(n float64) string {
	switch {
	case n >= 1e6:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", n/1e6), ".0") + "M"
	case n >= 1e3:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", n/1e3), ".0") + "K"
	}
	return fmt.Sprintf("%.0f", n)
}
