package actors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/query/plan"
	"github.com/starling-otel/starling/query/traceexec"
	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/storage"
)

// partitionTraces is one partition's traces as the TraceQL executor reads
// them (traceexec.Store).
type partitionTraces struct {
	store *storage.Store
	p     uint32
}

func (t partitionTraces) EachTrace(ctx context.Context, q *starlingpb.TraceSearch, start, end int64, fn func(storage.TraceHit, storage.TraceReader) (bool, error)) error {
	return t.store.EachTrace(ctx, t.p, q, start, end, fn)
}

func (t partitionTraces) ReadTrace(ctx context.Context, id [16]byte, out *starlingpb.ResultChunk) error {
	return t.store.ReadTrace(ctx, t.p, id, out)
}

func (t partitionTraces) TermGroups(ctx context.Context, q *starlingpb.TraceSearch, start, end int64) ([]int64, error) {
	return t.store.TermGroups(ctx, t.p, q, start, end)
}

// TraceQLStats describes the work of one TraceQL query.
type TraceQLStats struct {
	// Cache says how the query cache served it: "hit", "miss" (answered
	// by the partitions, then kept) or "not cacheable: …" (why).
	Cache string
	// Choice says which of the plan's options ran and why ("": none;
	// ChoosePlan).
	Choice          string
	Partitions      int    // partitions asked in the first step
	InspectedTraces uint64 // traces read whole and evaluated
	InspectedBytes  uint64 // bytes of span groups read
	Stages          []StageStats
}

// StageStats is the actual work of one step of a query's execution.
type StageStats struct {
	Name            string        // hits, matches or partials
	Partitions      int           // partitions asked
	Rows            int           // hits, matches or series answered
	InspectedTraces uint64        // traces the partitions read whole
	InspectedBytes  uint64        // bytes of span groups they read
	BytesMoved      int           // bytes of the partitions' answers
	Duration        time.Duration // from the fan-out to the last answer
}

// SearchTraceQL runs a TraceQL search over [start, end] (searchTraceQL):
// the newest limit matching traces, each with its matched spansets (at
// most spss spans each), newest first; from the results cache when the
// range is closed and the answer is kept.
func (q *Querier) SearchTraceQL(ctx context.Context, tp *plan.TracePlan, start, end int64, limit, spss int) ([]*starlingpb.TraceMatch, TraceQLStats, error) {
	var st TraceQLStats
	tp, st.Choice = q.ChoosePlan(tp, start, end)
	sig := starlingpb.Signal_SIGNAL_TRACES
	key, cached, hit := q.cached(ctx, &st, sig, end, "traceql-search", tp.Query, start, end, limit, spss)
	if hit {
		var c starlingpb.ResultChunk
		if err := proto.Unmarshal(cached, &c); err == nil {
			return c.TraceMatches, st, nil
		}
		st.Cache = "miss" // not one of ours: answer and overwrite it
	}
	out, err := q.searchTraceQL(ctx, tp, start, end, limit, spss, &st)
	if err == nil && key != "" {
		if b, err := proto.Marshal(&starlingpb.ResultChunk{TraceMatches: out}); err == nil {
			q.cfg.Cache.cache.Set(ctx, key, b)
		}
	}
	return out, st, err
}

// cached looks a query up in the cache: the key to keep its answer under
// ("" when it is not cacheable) and, on a hit, the answer kept (an empty
// answer is a hit too); st says which.
func (q *Querier) cached(ctx context.Context, st *TraceQLStats, sig starlingpb.Signal, end int64, parts ...any) (key string, val []byte, hit bool) {
	key, ok := q.cfg.Cache.key(sig, end, parts...)
	switch {
	case q.cfg.Cache == nil:
		st.Cache = "not cacheable: no cache"
		return "", nil, false
	case !ok:
		st.Cache = "not cacheable: the range ends after " + time.Unix(0, q.cfg.Cache.horizon()).UTC().Format(time.RFC3339) + " (--cache-freshness)"
		return "", nil, false
	}
	if cacheRefused(ctx) {
		st.Cache = "refused by the request (Cache-Control: no-cache): computed and kept again"
		return key, nil, false
	}
	if val, hit = q.cfg.Cache.cache.Get(ctx, key); hit {
		st.Cache = "hit"
		return key, val, true
	}
	st.Cache = "miss"
	return key, nil, false
}

// searchTraceQL is SearchTraceQL without the cache. An exact plan's hits
// are its matches: the newest limit of them go to their partitions for
// the spansets. Otherwise the newest candidates of the whole range (found
// from postings, nothing evaluated) are evaluated by their partitions in
// batches, newest first, limit of them first and 4× more each time, until
// limit matches are certain: so a search evaluates about limit / (the
// share of candidates that match) traces, wherever they are.
func (q *Querier) searchTraceQL(ctx context.Context, tp *plan.TracePlan, start, end int64, limit, spss int, st *TraceQLStats) ([]*starlingpb.TraceMatch, error) {
	if limit <= 0 {
		return nil, nil
	}
	if tp.Exact {
		hits, err := q.newestHits(ctx, tp, start, end, limit, st, "hits")
		if err != nil || len(hits) == 0 {
			return nil, err
		}
		out, err := q.matchTraces(ctx, tp, hits, spss, st)
		sortMatches(out)
		return out, err
	}
	var out []*starlingpb.TraceMatch
	hitTime := map[string]int64{} // the candidate time of every trace evaluated
	for batch := limit; ; batch = nextBatch(batch, len(hitTime), len(out), limit) {
		cands, err := q.newestHits(ctx, tp, start, end, batch, st, "candidates")
		if err != nil {
			return nil, err
		}
		var fresh []*starlingpb.TraceHit
		for _, h := range cands {
			if _, done := hitTime[string(h.TraceId)]; !done {
				hitTime[string(h.TraceId)] = h.TimeUnixNano
				fresh = append(fresh, h)
			}
		}
		ms, err := q.matchTraces(ctx, tp, fresh, spss, st)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
		if len(cands) < batch {
			break // every candidate of the range is evaluated
		}
		// Candidates left are at most as new as the oldest one evaluated:
		// the answer is certain once limit matches are as new as it (one
		// left at the same time would tie).
		oldest := cands[len(cands)-1].TimeUnixNano
		if countNewer(out, hitTime, oldest) >= limit {
			break
		}
		end = oldest // inclusive: the evaluated ones are skipped above
	}
	sort.SliceStable(out, func(i, j int) bool {
		return hitTime[string(out[i].TraceId)] > hitTime[string(out[j].TraceId)]
	})
	if len(out) > limit {
		out = out[:limit]
	}
	sortMatches(out)
	return out, nil
}

// countNewer counts the matches whose candidate time is t or later.
func countNewer(ms []*starlingpb.TraceMatch, hitTime map[string]int64, t int64) int {
	n := 0
	for _, m := range ms {
		if hitTime[string(m.TraceId)] >= t {
			n++
		}
	}
	return n
}

// nextBatch sizes the next batch of candidates to evaluate (the newest
// batch of the range, those already evaluated included) from the share
// of the evaluated ones that matched: enough for the matches missing, with
// a quarter more, but between 2 and budgetGrowth times the candidates
// evaluated so far (the share of the newest few is a poor guide to the
// rest: measured, a batch sized by it alone evaluated 12× more than
// needed); budgetGrowth times the last batch while nothing matched.
func nextBatch(last, evaluated, matched, limit int) int {
	next := last * budgetGrowth
	if matched > 0 && matched < limit {
		need := (limit - matched) * evaluated / matched
		next = min(max(evaluated+need+need/4, 2*evaluated), budgetGrowth*evaluated)
	}
	return max(min(next, 1<<20), last+1)
}

// matchTraces asks the partitions of hits to evaluate those traces and
// answer the matches (spansets of at most spss spans): one read per
// partition.
func (q *Querier) matchTraces(ctx context.Context, tp *plan.TracePlan, hits []*starlingpb.TraceHit, spss int, st *TraceQLStats) ([]*starlingpb.TraceMatch, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	sig := starlingpb.Signal_SIGNAL_TRACES
	n := q.router.Partitions(sig)
	byPart := map[uint32]*starlingpb.TraceQLSearch{}
	var parts []uint32
	for _, h := range hits {
		p := storage.PartitionOf(storage.TraceHash([16]byte(h.TraceId)), n)
		s, ok := byPart[p]
		if !ok {
			s = tp.Search(spss)
			byPart[p] = s
			parts = append(parts, p)
		}
		s.TraceIds = append(s.TraceIds, h.TraceId)
	}
	targets := make([]readTarget, len(parts))
	for i, p := range parts {
		targets[i] = readTarget{partition: p, req: &starlingpb.ReadRequest{
			EndUnixNano: math.MaxInt64,
			Query:       &starlingpb.ReadRequest_TraceqlSearch{TraceqlSearch: byPart[p]},
		}}
	}
	began := time.Now()
	res, err := q.run(ctx, sig, targets)
	if err != nil {
		return nil, err
	}
	var out []*starlingpb.TraceMatch
	for _, c := range res {
		if c != nil {
			out = append(out, c.TraceMatches...)
		}
	}
	st.add(fmt.Sprintf("matches (%d traces)", len(hits)), len(targets), len(out), began, res)
	return out, nil
}

// budgetGrowth is how much more each round of a search asks for than the
// one before.
const budgetGrowth = 4

// newestHits returns the newest limit traces of [start, end] with a span
// the plan's pushdown admits (its candidates; an exact plan's are its
// matches), from postings and group records, nothing evaluated. It goes
// in rounds: every partition answers about its share of the limit
// (2·limit/partitions + 1 hits), then budgetGrowth times more, only the
// partitions that may still hold one of the newest limit, until the
// limit-th newest found is newer than every hit a partition has left
// (partitions scan newest first): limit hits cost about limit postings
// read, not limit per partition.
func (q *Querier) newestHits(ctx context.Context, tp *plan.TracePlan, start, end int64, limit int, st *TraceQLStats, stage string) ([]*starlingpb.TraceHit, error) {
	sig := starlingpb.Signal_SIGNAL_TRACES
	active := q.planned(tp, start, end, func(s *starlingpb.TraceQLSearch) {
		s.Exact = true // hits, not evaluated: the candidates
	})
	if st.Partitions == 0 {
		st.Partitions = len(active)
	}
	var found []*starlingpb.ResultChunk // every round's answers
	for budget := 2*limit/max(len(active), 1) + 1; len(active) > 0; budget *= budgetGrowth {
		for _, t := range active {
			t.req.Limit = uint32(min(budget, limit))
		}
		began := time.Now()
		res, err := q.run(ctx, sig, active)
		if err != nil {
			return nil, err
		}
		found = append(found, res...)
		hits := query.TopTraceHits(found, limit)
		st.add(fmt.Sprintf("%s (%d per partition)", stage, min(budget, limit)), len(active), len(hits), began, res)
		// The partitions with hits left, and the newest of those.
		var next []readTarget
		var left int64 = -1 << 63
		for i, c := range res {
			if c == nil || !c.More {
				continue
			}
			t := active[i]
			t.req = cloneRead(t.req)
			t.req.EndUnixNano = c.ResumeUnixNano
			next = append(next, t)
			left = max(left, c.ResumeUnixNano)
		}
		if len(hits) >= limit {
			floor := hits[limit-1].TimeUnixNano
			if floor > left {
				return hits, nil // nothing left is newer than the limit-th hit
			}
			// A partition whose hits left are all older than the limit-th
			// hit cannot change the answer.
			kept := next[:0]
			for _, t := range next {
				if t.req.EndUnixNano >= floor {
					kept = append(kept, t)
				}
			}
			next = kept
		}
		active = next
	}
	return query.TopTraceHits(found, limit), nil
}

// cloneRead copies a read with its TraceQL search, so that a round can
// change its range and budget.
func cloneRead(r *starlingpb.ReadRequest) *starlingpb.ReadRequest {
	return proto.Clone(r).(*starlingpb.ReadRequest)
}

// TraceQLMetrics runs a TraceQL metrics query over [start, end] at step:
// every partition answers its partial, merged here.
func (q *Querier) TraceQLMetrics(ctx context.Context, tp *plan.TracePlan, start, end, step int64) (*traceql.Metrics, TraceQLStats, error) {
	var st TraceQLStats
	tp, st.Choice = q.ChoosePlan(tp, start, end)
	m, err := tp.Query.NewMetrics(start, end, step)
	if err != nil {
		return nil, st, err
	}
	sig := starlingpb.Signal_SIGNAL_TRACES
	key, cached, hit := q.cached(ctx, &st, sig, end, "traceql-metrics", tp.Query, start, end, step)
	if hit {
		if err := m.UnmarshalBinary(cached); err == nil {
			return m, st, nil
		}
		st.Cache = "miss" // not one of ours: answer and overwrite it
		if m, err = tp.Query.NewMetrics(start, end, step); err != nil {
			return nil, st, err
		}
	}
	if err := q.traceQLMetrics(ctx, tp, m, start, end, step, &st); err != nil {
		return nil, st, err
	}
	if key != "" {
		if b, err := m.MarshalBinary(); err == nil {
			q.cfg.Cache.cache.Set(ctx, key, b)
		}
	}
	return m, st, nil
}

// traceQLMetrics is TraceQLMetrics without the cache: it merges every
// partition's partial into m.
func (q *Querier) traceQLMetrics(ctx context.Context, tp *plan.TracePlan, m *traceql.Metrics, start, end, step int64, st *TraceQLStats) error {
	sig := starlingpb.Signal_SIGNAL_TRACES
	targets := q.planned(tp, start, end, func(s *starlingpb.TraceQLSearch) {
		s.StepNano = step
	})
	st.Partitions = len(targets)
	began := time.Now()
	res, err := q.run(ctx, sig, targets)
	if err != nil {
		return err
	}
	st.add("partials", len(targets), 0, began, res)
	for _, c := range res {
		if c == nil || len(c.TraceqlMetrics) == 0 {
			continue
		}
		part, err := tp.Query.NewMetrics(start, end, step)
		if err != nil {
			return err
		}
		if err := part.UnmarshalBinary(c.TraceqlMetrics); err != nil {
			return fmt.Errorf("traces partition %d: metrics partial: %w", c.GetPartition().GetId(), err)
		}
		if err := m.Merge(part); err != nil {
			return fmt.Errorf("traces partition %d: merge metrics partial: %w", c.GetPartition().GetId(), err)
		}
	}
	return nil
}

// planned returns one read per trace partition that can answer tp over
// [start, end] (its search, spss 0, as set makes it): every partition, or
// those of the traces it names, less those read on this node whose bloom
// filters rule out a term of the pushdown.
func (q *Querier) planned(tp *plan.TracePlan, start, end int64, set func(*starlingpb.TraceQLSearch)) []readTarget {
	sig := starlingpb.Signal_SIGNAL_TRACES
	req := func() *starlingpb.ReadRequest {
		s := tp.Search(0)
		set(s)
		return &starlingpb.ReadRequest{
			StartUnixNano: start, EndUnixNano: end,
			Query: &starlingpb.ReadRequest_TraceqlSearch{TraceqlSearch: s},
		}
	}
	var ts []readTarget
	if ps := tp.Partitions(q.router.Partitions(sig)); ps == nil {
		ts = q.all(sig, req)
	} else {
		ts = make([]readTarget, len(ps))
		for i, p := range ps {
			ts[i] = readTarget{partition: p, req: req()}
		}
	}
	if len(tp.Candidates) != 1 || len(ts) == 0 {
		return ts
	}
	c := tp.Candidates[0]
	return q.pruneLocal(sig, ts, func(ps []uint32) []bool {
		return q.local.MayHoldTraces(c, ps, start, end)
	})
}

// add records one step.
func (st *TraceQLStats) add(name string, partitions, rows int, began time.Time, res []*starlingpb.ResultChunk) {
	s := StageStats{Name: name, Partitions: partitions, Rows: rows, Duration: time.Since(began)}
	for _, c := range res {
		if c != nil {
			s.InspectedTraces += c.InspectedTraces
			s.InspectedBytes += c.InspectedBytes
			s.BytesMoved += proto.Size(c)
		}
	}
	st.InspectedTraces += s.InspectedTraces
	st.InspectedBytes += s.InspectedBytes
	st.Stages = append(st.Stages, s)
}

// ErrTooManyTraces is returned by a search without pushdown whose range
// holds more traces than it may ship.
var ErrTooManyTraces = errors.New("too many traces to ship without pushdown")

// maxShippedTraces bounds the traces a search without pushdown ships.
const maxShippedTraces = 200_000

// SearchTraceQLShipped runs a TraceQL search without pushdown: every
// partition ships every trace of [start, end] whole and the coordinator
// evaluates them. It exists to measure what pushdown saves (the bytes
// moved are in the stats); a range of more than maxShippedTraces traces
// is refused.
func (q *Querier) SearchTraceQLShipped(ctx context.Context, tp *plan.TracePlan, start, end int64, limit, spss int) ([]*starlingpb.TraceMatch, TraceQLStats, error) {
	var st TraceQLStats
	sig := starlingpb.Signal_SIGNAL_TRACES
	targets := q.all(sig, func() *starlingpb.ReadRequest {
		return &starlingpb.ReadRequest{
			StartUnixNano: start, EndUnixNano: end, Limit: maxShippedTraces + 1,
			Query: &starlingpb.ReadRequest_TraceSearch{TraceSearch: &starlingpb.TraceSearch{}},
		}
	})
	st.Partitions = len(targets)
	began := time.Now()
	res, err := q.run(ctx, sig, targets)
	if err != nil {
		return nil, st, err
	}
	hits := query.TopTraceHits(res, maxShippedTraces+1)
	if len(hits) > maxShippedTraces {
		return nil, st, fmt.Errorf("%w: more than %d traces in the range; narrow it", ErrTooManyTraces, maxShippedTraces)
	}
	st.add("hits", len(targets), len(hits), began, res)
	began = time.Now()
	traces, err := q.readHits(ctx, hits)
	if err != nil {
		return nil, st, err
	}
	var out []*starlingpb.TraceMatch
	for i, t := range traces {
		if t == nil {
			continue
		}
		m, err := traceexec.MatchShipped(tp.Query, [16]byte(hits[i].TraceId), t.Records, t.Refs, spss)
		if err != nil {
			return nil, st, err
		}
		if m != nil {
			out = append(out, m)
		}
	}
	st.add("ship", len(traces), len(out), began, traces)
	sortMatches(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, st, nil
}

// sortMatches orders matches newest first, then by trace ID.
func sortMatches(ms []*starlingpb.TraceMatch) {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].StartUnixNano != ms[j].StartUnixNano {
			return ms[i].StartUnixNano > ms[j].StartUnixNano
		}
		return string(ms[i].TraceId) < string(ms[j].TraceId)
	})
}

// TermEstimate is the measured selectivity of one pushed term.
type TermEstimate struct {
	Term   string // as a TraceQL condition
	Groups int64  // span groups of the range carrying it; -1: common somewhere (a quarter of the groups or more)
}

// TraceQLEstimate is what a plan's pushdown is estimated to select.
type TraceQLEstimate struct {
	Terms      []TermEstimate
	Partitions int // partitions estimated
	// Candidates bounds the candidate span groups: the rarest term's
	// count (-1: every term is common, the group records are scanned).
	Candidates int64
	// Kept says the counts are the trace summaries' kept term counts
	// (scaled to the range), not measured from the postings; Groups is
	// then the span groups of the range.
	Kept   bool
	Groups int64
	// Choice says which of the plan's options ran and why ("": none).
	Choice string
}

// EstimateTraceQL estimates the pushed terms of the plan a search of tp
// over [start, end] runs (ChoosePlan): their span groups on the
// partitions the search would ask, from the kept term counts when this
// node reads all of them, else measured from the postings and summed
// (explain shows it; the postings are intersected whatever their order).
func (q *Querier) EstimateTraceQL(ctx context.Context, tp *plan.TracePlan, start, end int64) (TraceQLEstimate, error) {
	var est TraceQLEstimate
	tp, est.Choice = q.ChoosePlan(tp, start, end)
	if len(tp.Candidates) != 1 {
		return est, nil
	}
	c := tp.Candidates[0]
	names := storage.TraceTermNames(c)
	if len(names) == 0 {
		return est, nil
	}
	if ps := tp.Partitions(q.router.Partitions(starlingpb.Signal_SIGNAL_TRACES)); ps == nil && q.local != nil {
		local := q.localPartitions(starlingpb.Signal_SIGNAL_TRACES)
		if len(local) == q.router.Partitions(starlingpb.Signal_SIGNAL_TRACES) {
			if kept, ok := q.keptEstimate(c, local, start, end); ok {
				kept.Choice = est.Choice
				return kept, nil
			}
		}
	}
	targets := q.planned(tp, start, end, func(s *starlingpb.TraceQLSearch) {
		s.Estimate = true
	})
	res, err := q.run(ctx, starlingpb.Signal_SIGNAL_TRACES, targets)
	if err != nil {
		return est, err
	}
	est.Partitions = len(targets)
	est.Terms = make([]TermEstimate, len(names))
	for i, n := range names {
		est.Terms[i].Term = n
	}
	for _, r := range res {
		for i, g := range r.GetTermGroups() {
			if i >= len(est.Terms) || est.Terms[i].Groups < 0 {
				continue
			}
			if g < 0 {
				est.Terms[i].Groups = -1
			} else {
				est.Terms[i].Groups += g
			}
		}
	}
	est.Candidates = rarest(est.Terms)
	return est, nil
}
