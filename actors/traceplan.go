package actors

import (
	"fmt"
	"strings"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/plan"
	"github.com/starling-otel/starling/storage"
)

// ChoosePlan picks, of a plan's options (the same-span groups its query
// requires, plan.TracePlan.Options), the one whose pushed terms select the
// fewest span groups by the term counts the trace summaries keep for the
// partitions read on this node (a sample of the cluster where partitions
// are spread: the order of the options is what matters, not their size).
// It returns the plan to run and what the choice rested on, for explain;
// the plan unchanged (and "" when there was nothing to choose) where the
// counts are not in memory yet. A plan it returned is not chosen again
// (SearchTraceQL and the metrics query choose themselves; explain chooses
// first to show the plan that runs).
func (q *Querier) ChoosePlan(tp *plan.TracePlan, start, end int64) (*plan.TracePlan, string) {
	switch {
	case tp.Choice != "":
		return tp, tp.Choice
	case len(tp.Options) < 2 || q.local == nil:
		return tp, ""
	}
	ps := q.localPartitions(starlingpb.Signal_SIGNAL_TRACES)
	if len(ps) == 0 {
		return tp, "static weights: no partition is read on this node"
	}
	best, bestN := -1, int64(0)
	var parts []string
	for i, o := range tp.Options {
		est, ok := q.keptEstimate(o.Search, ps, start, end)
		if !ok {
			return tp, "static weights: the kept term counts are not in memory yet"
		}
		n := est.Candidates
		if n < 0 {
			n = est.Groups // every term common: the group records are scanned
		}
		parts = append(parts, fmt.Sprintf("%v ~%d", o.Pushed, n))
		if best < 0 || n < bestN {
			best, bestN = i, n
		}
	}
	why := fmt.Sprintf("kept term counts of %d partitions: %s span groups", len(ps), strings.Join(parts, ", "))
	return tp.WithOption(best, why), why
}

// keptEstimate estimates what search s selects in partitions ps over
// [start, end] from the kept term counts: false when they are not in
// memory.
func (q *Querier) keptEstimate(s *starlingpb.TraceSearch, ps []uint32, start, end int64) (TraceQLEstimate, bool) {
	counts, groups, ok := q.local.KeptTermGroups(s, ps, start, end)
	if !ok {
		return TraceQLEstimate{}, false
	}
	est := TraceQLEstimate{Partitions: len(ps), Kept: true, Groups: groups}
	for i, name := range storage.TraceTermNames(s) {
		est.Terms = append(est.Terms, TermEstimate{Term: name, Groups: counts[i]})
	}
	est.Candidates = rarest(est.Terms)
	return est, true
}

// rarest is the smallest count of terms that are not common (-1: every
// term is common, the group records are scanned).
func rarest(terms []TermEstimate) int64 {
	n := int64(-1)
	for _, t := range terms {
		if t.Groups >= 0 && (n < 0 || t.Groups < n) {
			n = t.Groups
		}
	}
	return n
}

// localPartitions returns the partitions of sig whose reads this node
// serves, in order.
func (q *Querier) localPartitions(sig starlingpb.Signal) []uint32 {
	self := q.system.Address()
	var out []uint32
	for p := range uint32(q.router.Partitions(sig)) {
		if pid, _, err := q.router.Reader(sig, p); err == nil && pid.GetAddress() == self {
			out = append(out, p)
		}
	}
	return out
}
