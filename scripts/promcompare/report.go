package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// printRaw prints the comparison of the raw samples.
func printRaw(r rawResult) {
	fmt.Printf("raw samples over the run (%s window at the end):\n", r.span)
	for _, j := range r.jobs {
		if j.cmp.same() && j.cmp.errs == "" {
			fmt.Printf("  job %-10s same: %s series, %s samples\n", j.job, count(float64(j.cmp.series)), count(float64(j.cmp.points)))
			continue
		}
		fmt.Printf("  job %-10s DIFFERENT: %d of %s samples (%s series); first: %s\n", j.job, len(j.cmp.diffs),
			count(float64(j.cmp.points)), count(float64(j.cmp.series)), j.cmp.first())
	}
	fmt.Println()
}

// printQuery prints one query's line: same, or for each evaluation that
// is not, its first difference and how it is explained.
func printQuery(i int, r queryResult) {
	var series, points, differing int
	for _, e := range r.evals {
		series = max(series, e.cmp.series)
		points += e.cmp.points
		if !e.cmp.same() {
			differing++
		}
	}
	head := fmt.Sprintf("[%2d/%d] %s", i+1, len(queries), r.query)
	if differing == 0 {
		fmt.Printf("%s\n        same: %d evaluations, up to %d series, %s points\n", head, len(r.evals), series, count(float64(points)))
		return
	}
	fmt.Printf("%s\n        differs in %d of %d evaluations (%s points in all):\n", head, differing, len(r.evals), count(float64(points)))
	for _, e := range r.evals {
		if e.cmp.same() {
			continue
		}
		kind := "different"
		if e.cmp.within() {
			kind = "within 1e-9"
		}
		fmt.Printf("        %s: %s, %d of %s points differ (%d by more than 1e-9 relative); first: %s\n",
			e.eval, kind, len(e.cmp.diffs), count(float64(e.cmp.points)), e.cmp.beyond(), e.cmp.first())
		fmt.Printf("          %s\n", e.explain)
	}
}

// report prints the table and the summary line, and tells whether any
// difference is left unexplained.
func report(w io.Writer, p plan, raw rawResult, results []queryResult, took time.Duration) (unexplained bool) {
	var evals, identical, within, different, unexpl, beyondPoints, diffPoints int
	used := map[string]int{}
	for _, r := range results {
		for _, e := range r.evals {
			evals++
			switch {
			case e.cmp.same():
				identical++
				continue
			case e.cmp.within():
				within++
			default:
				different++
			}
			diffPoints += len(e.cmp.diffs)
			beyondPoints += e.cmp.beyond()
			if !e.explain.explained() {
				unexpl++
				continue
			}
			for k := range e.explain.byChange {
				used[k]++
			}
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Prometheus 2.42 (Debian) vs Starling (Prometheus 3.x engine): %s of scrapes, evaluated %s–%s; whole run %s\n",
		p.end.Sub(p.start).Round(time.Second), p.first.Format(time.TimeOnly), p.end.Format(time.TimeOnly), took.Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "queries\tevaluations compared\tidentical\twithin 1e-9\tdifferent\t")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t\n", len(results), evals, identical, within, different)
	tw.Flush()
	fmt.Fprintf(w, "points that differ: %d, of which %d by more than 1e-9 relative\n", diffPoints, beyondPoints)
	var explained []string
	for _, c := range changes {
		if n := used[c.key]; n > 0 {
			fmt.Fprintf(w, "  %s (%d evaluations): %s. %s\n", c.key, n, c.what, c.where)
			explained = append(explained, fmt.Sprintf("%s (%s: %d evaluations)", c.short, c.key, n))
		}
	}
	notSame := within + different
	if !raw.ok() {
		fmt.Fprintln(w, "RESULT: FAIL: the raw samples differ (see above); Starling does not hold what Prometheus sent")
		return true
	}
	switch {
	case unexpl > 0:
		fmt.Fprintf(w, "RESULT: FAIL: %d of %d evaluations differ for no documented engine change or undefined behaviour (NOT EXPLAINED above); %d differ only by documented changes: %s\n",
			unexpl, evals, notSame-unexpl, orNone(explained))
		return true
	case notSame == 0:
		fmt.Fprintf(w, "RESULT: PASS: every one of %d evaluations identical, bit for bit, on the same raw samples\n", evals)
	default:
		fmt.Fprintf(w, "RESULT: PASS: %d of %d evaluations identical bit for bit on the same raw samples; the other %d differ only by documented Prometheus 2.x→3.x engine changes or behaviour PromQL leaves undefined: %s\n",
			identical, evals, notSame, strings.Join(explained, "; "))
	}
	return false
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}
