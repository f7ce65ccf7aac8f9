package chaoskit

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// PerSignal holds one count per signal: traces (spans), logs (log
// records), metrics (data points).
type PerSignal [numSignals]int64

// Total is the sum over the signals.
func (p PerSignal) Total() int64 { return sum(p) }

func (p PerSignal) String() string {
	return fmt.Sprintf("%d (traces %d, logs %d, metrics %d)", p.Total(), p[sigTraces], p[sigLogs], p[sigMetrics])
}

// Report is the outcome of a chaos run.
type Report struct {
	Seed                                uint64
	Nodes, ReplicationFactor, MinInSync int
	Partitions                          int // per signal
	WorkDir                             string
	Kept                                bool
	// Load is how long the load ran; Requests/s is AckedRequests over it.
	Load     time.Duration
	Kills    []KillEvent
	Restarts int

	AckedRecords, AckedRequests PerSignal
	// Refused counts attempts refused as retryable (NodeLevelRefusals of
	// them named no partition); GaveUp requests refused on every attempt,
	// PartialRejects requests with rejected records, Errors requests with
	// a non-retryable error. Requests never acknowledged are not checked.
	Refused, GaveUp, PartialRejects, Errors PerSignal
	NodeLevelRefusals                       int64
	ErrorExamples                           []string

	Checked, Lost, Duplicated, Unverified PerSignal
	WrongValues                           int64
	// Problems are up to 20 records lost or duplicated.
	Problems    []RecordProblem
	QueryErrors []string
	VerifyTime  time.Duration

	// WorstOutages are the 5 partitions with the longest write
	// unavailability, out of PartitionsWithOutage.
	WorstOutages         []Outage
	PartitionsWithOutage int
	// Failovers are the times from the kill of a primary to a table
	// without primaries on it; NotFailedOver counts killed primaries back
	// before that.
	Failovers     []time.Duration
	NotFailedOver int
	Moves         [numMoveKinds]MoveStats

	Settled                     bool
	SettleTime                  time.Duration
	TablePolls, TablePollErrors int
	// Findings are failures other than data: a cluster that did not
	// settle, a node that crashed or did not come back.
	Findings []string
	// Warnings are oddities that are not failures.
	Warnings []string
}

// DataProblem tells whether an acknowledged record was lost, duplicated,
// changed or could not be checked.
func (r Report) DataProblem() bool {
	return r.Lost.Total() > 0 || r.Duplicated.Total() > 0 || r.Unverified.Total() > 0 || r.WrongValues > 0
}

// Failed tells whether the run found a problem: DataProblem, a cluster that
// did not settle, a node that crashed or did not come back.
func (r Report) Failed() bool {
	return r.DataProblem() || !r.Settled || len(r.Findings) > 0
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// FailoverPercentiles are p50, p99 and the max of the failover times.
func (r Report) FailoverPercentiles() (p50, p99, maxT time.Duration) {
	s := slices.Clone(r.Failovers)
	slices.Sort(s)
	if len(s) == 0 {
		return 0, 0, 0
	}
	return percentile(s, 0.5), percentile(s, 0.99), s[len(s)-1]
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func (r Report) String() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	verdict := "PASS"
	if r.Failed() {
		verdict = "FAIL"
	}
	p("chaos report: %s (seed %d)", verdict, r.Seed)
	p("  cluster        %d nodes, replication factor %d, min in sync %d, %d partitions per signal", r.Nodes, r.ReplicationFactor, r.MinInSync, r.Partitions)
	dir := r.WorkDir + " (removed)"
	if r.Kept {
		dir = r.WorkDir + " (kept: data dirs and node-*.log)"
	}
	p("  work dir       %s", dir)
	p("  load           %s", ms(r.Load))

	aims := map[string]int{}
	leaders, primaries := 0, 0
	var slowest time.Duration
	notReady := 0
	for _, k := range r.Kills {
		aims[strings.SplitN(k.Aim, " of ", 2)[0]]++
		if k.Leader {
			leaders++
		}
		if k.Primaries > 0 {
			primaries++
		}
		if k.ReadyAfter == 0 {
			notReady++
		}
		slowest = max(slowest, k.ReadyAfter)
	}
	var aimList []string
	for a, n := range aims {
		aimList = append(aimList, fmt.Sprintf("%s %d", a, n))
	}
	slices.Sort(aimList)
	p("  kills          %d (%s); of the Raft leader %d, of a primary %d", len(r.Kills), strings.Join(aimList, ", "), leaders, primaries)
	p("  restarts       %d; slowest to ready %s; not ready %d", r.Restarts, ms(slowest), notReady)
	for i, k := range r.Kills {
		p("    %2d. +%-9s %-7s %-34s leader %-5v primaries %-4d down %-6s ready after %s",
			i+1, ms(k.At), k.Node, k.Aim, k.Leader, k.Primaries, k.Down, ms(k.ReadyAfter))
	}

	rate := 0.0
	if r.Load > 0 {
		rate = float64(r.AckedRequests.Total()) / r.Load.Seconds()
	}
	p("  acknowledged   %s records in %s requests (%.1f requests/s)", r.AckedRecords, r.AckedRequests, rate)
	p("  refused        %s attempts (retryable; %d named no partition)", r.Refused, r.NodeLevelRefusals)
	p("  given up       %s requests (refused on every attempt; not checked)", r.GaveUp)
	if r.PartialRejects.Total() > 0 || r.Errors.Total() > 0 {
		p("  partial        %s requests with records rejected (not checked)", r.PartialRejects)
		p("  failed         %s requests with a non-retryable error (not checked)", r.Errors)
	}
	for _, e := range r.ErrorExamples {
		p("    e.g. %s", e)
	}

	p("  checked        %s records in %s", r.Checked, ms(r.VerifyTime))
	p("  lost           %s", r.Lost)
	p("  duplicated     %s", r.Duplicated)
	if r.Unverified.Total() > 0 || r.WrongValues > 0 {
		p("  unverified     %s (their queries failed)", r.Unverified)
		p("  wrong values   %d metric points", r.WrongValues)
	}
	for _, e := range r.QueryErrors {
		p("    query: %s", e)
	}
	for _, pr := range r.Problems {
		p("    %s", pr)
	}

	if len(r.WorstOutages) == 0 {
		p("  unavailability no partition refused writes")
	} else {
		p("  unavailability %d partitions refused writes for a while; longest %s", r.PartitionsWithOutage, ms(r.WorstOutages[0].Duration))
		for _, o := range r.WorstOutages {
			open := ""
			if o.GaveUp {
				open = " (a request was given up meanwhile: may have lasted longer)"
			}
			p("    %-12s %s from %s%s", o.Partition, ms(o.Duration), o.From.Format("15:04:05.000"), open)
		}
	}
	p50, p99, mx := r.FailoverPercentiles()
	p("  failover       %d measured: p50 %s, p99 %s, max %s; %d primaries restarted before failing over",
		len(r.Failovers), ms(p50), ms(p99), ms(mx), r.NotFailedOver)
	for k, m := range r.Moves {
		p("  %-14s started %d, completed %d (resumed after a kill %d), abandoned %d, running %d; longest %s",
			moveKindNames[k], m.Started, m.Completed, m.Resumed, m.Abandoned, m.Running, ms(m.Longest))
	}
	p("  table polls    %d (%d failed)", r.TablePolls, r.TablePollErrors)
	if r.Settled {
		p("  settled        in %s after the load", ms(r.SettleTime))
	} else {
		p("  settled        NO, not within %s", ms(r.SettleTime))
	}
	for _, f := range r.Findings {
		p("  FINDING        %s", f)
	}
	for _, w := range r.Warnings {
		p("  WARNING        %s", w)
	}
	return b.String()
}
