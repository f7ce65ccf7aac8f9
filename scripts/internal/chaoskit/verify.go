package chaoskit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Verification reads every acknowledged record back through the query API
// of a random live node and counts its copies:
//
//   - a span: in GET /api/v1/traces/{traceID} (404: no copy);
//   - a log record: in GET /api/v1/logs?q=<group word>, by its trace id;
//   - a metric point: through PromQL, GET /prometheus/api/v1/query of
//     chaos_points{worker="<w>"}[1m] at the end of each minute of the run,
//     by series and timestamp (and its value is compared).
//
// Exactly one copy is right; none is a loss, more a duplicate. A query
// that keeps failing leaves its records unverified.

const (
	verifyParallel = 8
	queryAttempts  = 8
	queryTimeout   = 30 * time.Second
	metricWindow   = time.Minute
	maxExamples    = 20
)

// RecordProblem is a record not found exactly once.
type RecordProblem struct {
	Signal    string
	Record    string
	Partition uint32
	// Copies found (0: lost).
	Copies int
	// Owners of the partition in the table after the run.
	Owners string
	// AckedBy is the node that acknowledged it, AckedAt when (from the
	// start of the load), Attempts how many it took.
	AckedBy  string
	AckedAt  time.Duration
	Attempts int
}

func (p RecordProblem) String() string {
	what := "lost"
	if p.Copies > 1 {
		what = strconv.Itoa(p.Copies) + " copies"
	}
	return fmt.Sprintf("%s %s: %s, partition %s/%d (%s), acked by %s at +%s (attempt %d)",
		p.Signal, p.Record, what, p.Signal, p.Partition, p.Owners, p.AckedBy, p.AckedAt.Round(time.Millisecond), p.Attempts)
}

// verifyResult is what verification found.
type verifyResult struct {
	Checked, Lost, Duplicated, Unverified [numSignals]int64
	// WrongValue counts metric points found once with another value.
	WrongValue int64
	Examples   []RecordProblem
	Queries    int64
	// QueryErrors are examples of queries that failed every attempt.
	QueryErrors []string
	Took        time.Duration
}

type verifier struct {
	cluster *cluster
	ledger  *ledger
	owners  map[partKey]string
	began   time.Time // start of the load
	from    int64     // query range, unix ns
	to      int64

	mu  sync.Mutex
	rng *rand.Rand
	res verifyResult
}

func newVerifier(c *cluster, l *ledger, t *table, began, ended time.Time, seed uint64) *verifier {
	v := &verifier{cluster: c, ledger: l, owners: map[partKey]string{}, began: began,
		from: began.Add(-time.Minute).UnixNano(), to: ended.Add(time.Minute).UnixNano(),
		rng: rand.New(rand.NewPCG(seed, 4))}
	if t != nil {
		for i := range t.Partitions {
			r := &t.Partitions[i]
			v.owners[rowKey(r)] = fmt.Sprintf("primary %s, replicas %v, in sync %v, epoch %d, %s",
				r.Primary, r.Replicas, r.InSync, r.Epoch, r.State)
		}
	}
	return v
}

// run checks every acknowledged record.
func (v *verifier) run(ctx context.Context) verifyResult {
	began := time.Now()
	v.ledger.mu.Lock()
	traces, logs, points := v.ledger.traces, v.ledger.logs, v.ledger.points
	v.ledger.mu.Unlock()

	var jobs []func(context.Context)
	for i := range traces {
		jobs = append(jobs, func(ctx context.Context) { v.checkTrace(ctx, &traces[i]) })
	}
	type groupKey struct {
		worker int16
		group  int32
	}
	groups := map[groupKey][]*logRec{}
	for i := range logs {
		k := groupKey{logs[i].worker, logs[i].group}
		groups[k] = append(groups[k], &logs[i])
	}
	for k, recs := range groups {
		jobs = append(jobs, func(ctx context.Context) { v.checkLogGroup(ctx, logGroupWord(int(k.worker), int(k.group)), recs) })
	}
	type windowKey struct {
		worker int16
		window int64
	}
	windows := map[windowKey][]*pointRec{}
	for i := range points {
		k := windowKey{points[i].worker, (points[i].ts - v.from) / int64(metricWindow)}
		windows[k] = append(windows[k], &points[i])
	}
	for k, recs := range windows {
		start := v.from + k.window*int64(metricWindow)
		jobs = append(jobs, func(ctx context.Context) {
			v.checkPoints(ctx, int(k.worker), start, start+int64(metricWindow)-1, recs)
		})
	}

	work := make(chan func(context.Context))
	var wg sync.WaitGroup
	for range verifyParallel {
		wg.Go(func() {
			for job := range work {
				job(ctx)
			}
		})
	}
	for _, job := range jobs {
		select {
		case work <- job:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.res.Took = time.Since(began)
	slices.SortFunc(v.res.Examples, func(a, b RecordProblem) int { return int(a.AckedAt - b.AckedAt) })
	return v.res
}

// query GETs path from random live nodes until one answers 200 (or 404
// when notFound is set, which returns nil, nil).
func (v *verifier) query(ctx context.Context, path string, notFound bool) ([]byte, error) {
	var last error
	for attempt := range queryAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(min(250*time.Millisecond<<attempt, 4*time.Second)):
			}
		}
		live := v.cluster.live()
		if len(live) == 0 {
			last = errors.New("no live node")
			continue
		}
		v.mu.Lock()
		p := live[v.rng.IntN(len(live))]
		v.res.Queries++
		v.mu.Unlock()
		qctx, cancel := context.WithTimeout(ctx, queryTimeout)
		b, err := v.cluster.get(qctx, p, path)
		cancel()
		if err == nil {
			return b, nil
		}
		var es *errStatus
		if errors.As(err, &es) && es.code == http.StatusNotFound && notFound {
			return nil, nil
		}
		if errors.As(err, &es) && es.code == http.StatusBadRequest {
			return nil, fmt.Errorf("%s: GET %s: %w", p.id, path, err)
		}
		last = fmt.Errorf("%s: GET %s: %w", p.id, path, err)
	}
	return nil, last
}

func (v *verifier) queryFailed(sig signal, records int, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.res.Unverified[sig] += int64(records)
	if len(v.res.QueryErrors) < maxErrorExamples {
		v.res.QueryErrors = append(v.res.QueryErrors, err.Error())
	}
}

// tally records the copies found of one record.
func (v *verifier) tally(sig signal, copies int, part uint32, req int32, record func() string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.res.Checked[sig]++
	if copies == 1 {
		return
	}
	if copies == 0 {
		v.res.Lost[sig]++
	} else {
		v.res.Duplicated[sig]++
	}
	if len(v.res.Examples) >= maxExamples {
		return
	}
	v.ledger.mu.Lock()
	r := v.ledger.reqs[req]
	v.ledger.mu.Unlock()
	v.res.Examples = append(v.res.Examples, RecordProblem{
		Signal: sig.String(), Record: record(), Partition: part, Copies: copies,
		Owners: v.owners[partKey{sig, part}], AckedBy: r.node, AckedAt: r.acked.Sub(v.began), Attempts: r.attempts,
	})
}

func (v *verifier) checkTrace(ctx context.Context, t *traceRec) {
	b, err := v.query(ctx, "/api/v1/traces/"+hex.EncodeToString(t.id[:]), true)
	if err != nil {
		v.queryFailed(sigTraces, len(t.spans), err)
		return
	}
	found := map[[8]byte]int{}
	if b != nil {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(b)
		if err != nil {
			v.queryFailed(sigTraces, len(t.spans), fmt.Errorf("trace %x: decode: %w", t.id, err))
			return
		}
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			sss := td.ResourceSpans().At(i).ScopeSpans()
			for j := 0; j < sss.Len(); j++ {
				spans := sss.At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					if sp := spans.At(k); [16]byte(sp.TraceID()) == t.id {
						found[[8]byte(sp.SpanID())]++
					}
				}
			}
		}
	}
	for _, sid := range t.spans {
		v.tally(sigTraces, found[sid], t.part, t.req, func() string { return fmt.Sprintf("trace %x span %x", t.id, sid) })
	}
}

// logsAnswer is the part of a log search the check reads.
type logsAnswer struct {
	Logs []struct {
		TraceID string `json:"traceID"`
		Body    any    `json:"body"`
	} `json:"logs"`
}

func (v *verifier) checkLogGroup(ctx context.Context, word string, recs []*logRec) {
	q := url.Values{"q": {word}, "start": {strconv.FormatInt(v.from, 10)}, "end": {strconv.FormatInt(v.to, 10)},
		"limit": {"1000"}}
	var ans logsAnswer
	b, err := v.query(ctx, "/api/v1/logs?"+q.Encode(), false)
	if err == nil {
		err = json.Unmarshal(b, &ans)
	}
	if err != nil {
		v.queryFailed(sigLogs, len(recs), fmt.Errorf("log group %s: %w", word, err))
		return
	}
	found := map[string]int{}
	for _, l := range ans.Logs {
		found[l.TraceID]++
	}
	for _, r := range recs {
		id := hex.EncodeToString(r.traceID[:])
		v.tally(sigLogs, found[id], r.part, r.req, func() string { return fmt.Sprintf("record with trace id %s (group %s)", id, word) })
	}
}

// matrixAnswer is the Prometheus API's answer to a range-vector query.
type matrixAnswer struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string       `json:"resultType"`
		Result     model.Matrix `json:"result"`
	} `json:"data"`
}

// checkPoints reads a worker's points of [start, end] (unix ns, a minute)
// through PromQL: the range vector chaos_points{worker="w"}[1m] evaluated
// at the end of the minute returns every raw sample in it.
func (v *verifier) checkPoints(ctx context.Context, worker int, start, end int64, recs []*pointRec) {
	at := time.Unix(0, end).Truncate(time.Millisecond)
	rng := at.Sub(time.Unix(0, start)).Truncate(time.Millisecond) + time.Millisecond // (start-1ms, at]
	q := url.Values{"query": {fmt.Sprintf(`%s{worker="%d"}[%dms]`, chaosMetric, worker, rng.Milliseconds())},
		"time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}
	var ans matrixAnswer
	b, err := v.query(ctx, "/prometheus/api/v1/query?"+q.Encode(), false)
	if err == nil {
		err = json.Unmarshal(b, &ans)
	}
	if err == nil && (ans.Status != "success" || ans.Data.ResultType != "matrix") {
		err = fmt.Errorf("answer %s of type %q", ans.Status, ans.Data.ResultType)
	}
	if err != nil {
		v.queryFailed(sigMetrics, len(recs), fmt.Errorf("metric points of worker %d: %w", worker, err))
		return
	}
	type point struct {
		series int
		ts     int64
	}
	found := map[point]int{}
	values := map[point]float64{}
	for _, s := range ans.Data.Result {
		sn, err := strconv.Atoi(string(s.Metric["s"]))
		if err != nil {
			continue
		}
		for _, p := range s.Values {
			k := point{sn, int64(p.Timestamp) * int64(time.Millisecond)}
			found[k]++
			values[k] = float64(p.Value)
		}
	}
	for _, r := range recs {
		k := point{int(r.series), r.ts}
		n := found[k]
		v.tally(sigMetrics, n, r.part, r.req, func() string {
			return fmt.Sprintf("point %s{worker=%d,s=%d} at %s", chaosMetric, worker, r.series, time.Unix(0, r.ts).UTC().Format(time.RFC3339Nano))
		})
		if n == 1 && values[k] != r.value {
			v.mu.Lock()
			v.res.WrongValue++
			if len(v.res.QueryErrors) < maxErrorExamples {
				v.res.QueryErrors = append(v.res.QueryErrors, fmt.Sprintf("point worker=%d s=%d t=%d: value %g, sent %g", worker, r.series, r.ts, values[k], r.value))
			}
			v.mu.Unlock()
		}
	}
}
