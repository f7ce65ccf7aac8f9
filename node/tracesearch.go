package node

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/query/plan"
	"github.com/starling-otel/starling/query/traceql"
)

// GET /api/v1/traces: a TraceQL search (q, or the condition parameters as
// one filter) on the same engine as the Tempo API, with the plan and its
// stages on request (explain=true), and without pushdown on request
// (pushdown=false: what pushdown saves, for benchmarks).

type traceSummaryJSON struct {
	TraceID     string        `json:"traceID"`
	RootService string        `json:"rootService"`
	RootName    string        `json:"rootName"`
	StartTime   string        `json:"startTime"`
	DurationMs  float64       `json:"durationMs"`
	SpanCount   int           `json:"spanCount"`
	SpanSets    []spanSetJSON `json:"spanSets"`
}

type spanSetJSON struct {
	Matched    int            `json:"matched"`
	Spans      []spanJSON     `json:"spans"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

type spanJSON struct {
	SpanID     string         `json:"spanID"`
	Name       string         `json:"name"`
	StartTime  string         `json:"startTime"`
	DurationMs float64        `json:"durationMs"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// explainJSON is the plan of a search and what each of its steps did.
type explainJSON struct {
	Query      string   `json:"query"`
	Plan       string   `json:"plan"`
	Pushed     []string `json:"pushed"`
	Exact      bool     `json:"exact"`
	Candidates []string `json:"candidates"`
	Partitions int      `json:"partitions"`
	Estimate   string   `json:"estimate"`
	// EstimatedCandidates bounds the candidate span groups from the
	// measured terms (-1: none measured, or all common).
	EstimatedCandidates int64          `json:"estimatedCandidates"`
	Terms               []termEstimate `json:"terms"`
	// Choice says which same-span group of the query was pushed and by
	// what estimate, when it requires more than one ("": it does not).
	Choice     string      `json:"choice,omitempty"`
	Cache      string      `json:"cache"`
	Stages     []stageJSON `json:"stages"`
	BytesMoved int         `json:"bytesMoved"`
}

// termEstimate is one pushed term's measured span groups (-1: common).
type termEstimate struct {
	Term   string `json:"term"`
	Groups int64  `json:"groups"`
}

type stageJSON struct {
	Stage           string  `json:"stage"`
	Partitions      int     `json:"partitions"`
	Rows            int     `json:"rows"`
	InspectedTraces uint64  `json:"inspectedTraces"`
	InspectedBytes  uint64  `json:"inspectedBytes"`
	BytesMoved      int     `json:"bytesMoved"`
	TimeMs          float64 `json:"timeMs"`
}

func (n *Node) searchTraces(w http.ResponseWriter, r *http.Request) {
	q, err := query.ParseTraceSearch(r.URL.Query(), time.Now())
	if err != nil {
		writeQueryError(w, err)
		return
	}
	tp, err := plan.Trace(q.Query)
	if err != nil {
		var pe *traceql.ParseError
		if errors.As(err, &pe) {
			writeError(w, http.StatusBadRequest, fmt.Errorf("q: %w", err))
			return
		}
		writeQueryError(w, err)
		return
	}
	if tp.Query.IsMetrics() {
		writeError(w, http.StatusBadRequest, errors.New("q: a metrics query is answered by /tempo/api/metrics/query_range"))
		return
	}
	tp, _ = n.querier().ChoosePlan(tp, q.Range.Start, q.Range.End) // what runs, for explain
	var est actors.TraceQLEstimate
	var estTook time.Duration
	if q.Explain && !q.NoPushdown {
		began := time.Now()
		if est, err = n.querier().EstimateTraceQL(r.Context(), tp, q.Range.Start, q.Range.End); err != nil {
			writeQueryError(w, err)
			return
		}
		estTook = time.Since(began)
	}
	search := n.querier().SearchTraceQL
	if q.NoPushdown {
		search = n.querier().SearchTraceQLShipped
	}
	matches, st, err := search(r.Context(), tp, q.Range.Start, q.Range.End, q.Limit, q.SpansPerSpanset)
	if errors.Is(err, actors.ErrTooManyTraces) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("pushdown: %w", err))
		return
	}
	if err != nil {
		writeQueryError(w, err)
		return
	}
	out := make([]traceSummaryJSON, 0, len(matches))
	for _, m := range matches {
		out = append(out, summaryJSON(m))
	}
	body := map[string]any{"traces": out}
	if q.Explain {
		body["explain"] = explain(tp, st, est, estTook)
	}
	writeJSON(w, http.StatusOK, body)
}

func summaryJSON(m *starlingpb.TraceMatch) traceSummaryJSON {
	s := traceSummaryJSON{
		TraceID:     hex.EncodeToString(m.TraceId),
		RootService: m.RootServiceName,
		RootName:    m.RootSpanName,
		StartTime:   formatTime(uint64(m.StartUnixNano)),
		DurationMs:  float64(m.DurationNano) / 1e6,
		SpanSets:    []spanSetJSON{},
	}
	for _, st := range m.ServiceStats {
		s.SpanCount += int(st.SpanCount)
	}
	for _, set := range m.SpanSets {
		ss := spanSetJSON{Matched: int(set.Matched), Spans: []spanJSON{}, Attributes: attrsJSON(set.Attributes)}
		for _, sp := range set.Spans {
			ss.Spans = append(ss.Spans, spanJSON{
				SpanID:     hex.EncodeToString(sp.SpanId),
				Name:       sp.Name,
				StartTime:  formatTime(uint64(sp.StartUnixNano)),
				DurationMs: float64(sp.DurationNano) / 1e6,
				Attributes: attrsJSON(sp.Attributes),
			})
		}
		s.SpanSets = append(s.SpanSets, ss)
	}
	return s
}

func attrsJSON(as []*starlingpb.TypedAttribute) map[string]any {
	if len(as) == 0 {
		return nil
	}
	out := make(map[string]any, len(as))
	for _, a := range as {
		switch v := a.Value.(type) {
		case *starlingpb.TypedAttribute_StringValue:
			out[a.Key] = v.StringValue
		case *starlingpb.TypedAttribute_IntValue:
			out[a.Key] = v.IntValue
		case *starlingpb.TypedAttribute_DoubleValue:
			out[a.Key] = v.DoubleValue
		case *starlingpb.TypedAttribute_BoolValue:
			out[a.Key] = v.BoolValue
		default:
			out[a.Key] = nil
		}
	}
	return out
}

func explain(tp *plan.TracePlan, st actors.TraceQLStats, est actors.TraceQLEstimate, estTook time.Duration) explainJSON {
	e := explainJSON{
		Query: tp.Query.String(), Plan: tp.String(), Pushed: nonNil(tp.Pushed), Exact: tp.Exact,
		Candidates: []string{}, Partitions: st.Partitions,
		Estimate:            estimateText(est),
		Choice:              st.Choice,
		EstimatedCandidates: est.Candidates,
		Terms:               []termEstimate{},
		Cache:               st.Cache,
		Stages:              []stageJSON{},
	}
	for _, t := range est.Terms {
		e.Terms = append(e.Terms, termEstimate{Term: t.Term, Groups: t.Groups})
	}
	for _, c := range tp.Candidates {
		e.Candidates = append(e.Candidates, c.String())
	}
	if est.Partitions > 0 {
		e.Stages = append(e.Stages, stageJSON{Stage: "estimate", Partitions: est.Partitions, Rows: len(est.Terms), TimeMs: float64(estTook.Microseconds()) / 1e3})
	}
	for _, s := range st.Stages {
		e.Stages = append(e.Stages, stageJSON{
			Stage: s.Name, Partitions: s.Partitions, Rows: s.Rows,
			InspectedTraces: s.InspectedTraces, InspectedBytes: s.InspectedBytes,
			BytesMoved: s.BytesMoved, TimeMs: float64(s.Duration.Microseconds()) / 1e3,
		})
		e.BytesMoved += s.BytesMoved
	}
	return e
}

// estimateText says what the estimate of a plan rests on.
func estimateText(est actors.TraceQLEstimate) string {
	switch {
	case len(est.Terms) == 0:
		return "none: nothing pushed to postings (every group record of the range is a candidate)"
	case est.Kept && est.Candidates < 0:
		return fmt.Sprintf("kept term counts of %d partitions: every pushed term is common (a quarter of the span groups or more); the group records of the range (~%d) are scanned newest first", est.Partitions, est.Groups)
	case est.Kept:
		return fmt.Sprintf("kept term counts of %d partitions: at most ~%d candidate span groups of ~%d (the rarest pushed term's groups per partition and window, scaled to the share of their span groups' time the range covers)", est.Partitions, est.Candidates, est.Groups)
	case est.Candidates < 0:
		return fmt.Sprintf("measured on %d partitions: every pushed term is common (a quarter of the span groups or more); the group records are scanned newest first", est.Partitions)
	}
	return fmt.Sprintf("measured on %d partitions: at most %d candidate span groups (the rarest pushed term's postings in the range, counted up to 10,000 per partition and window; the postings are intersected whatever their order)", est.Partitions, est.Candidates)
}
