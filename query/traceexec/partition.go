package traceexec

import (
	"context"
	"errors"
	"fmt"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/storage"
)

// ErrBadSearch is returned when a partition gets a search it cannot run:
// a query that does not parse (the coordinator parsed it, so the two
// disagree on the language) or a malformed trace ID.
var ErrBadSearch = errors.New("bad traceql search")

// DefaultSpansPerSpanset is how many spans of a spanset a match returns
// when the search does not say (Tempo's spss default).
const DefaultSpansPerSpanset = 3

// Store is one partition's traces as the executor reads them. It is called
// from the partition's read goroutine, one call at a time for one search.
type Store interface {
	// EachTrace calls fn with every trace that has a span group started
	// in [startNano, endNano] holding one span that matches every
	// condition of q (nil: every trace), newest first, until fn returns
	// false (storage.Store.EachTrace of one partition).
	EachTrace(ctx context.Context, q *starlingpb.TraceSearch, startNano, endNano int64, fn func(storage.TraceHit, storage.TraceReader) (bool, error)) error
	// ReadTrace appends every stored record of one trace to out.
	ReadTrace(ctx context.Context, traceID [16]byte, out *starlingpb.ResultChunk) error
	// TermGroups counts the span groups of [startNano, endNano] carrying
	// each term of q (storage.Store.TermGroups of one partition).
	TermGroups(ctx context.Context, q *starlingpb.TraceSearch, startNano, endNano int64) ([]int64, error)
}

// Run answers one partition's part of a TraceQL search in out: the
// selectivity of the pushed terms (an estimate), the hits
// of up to limit matching traces newest first (a search's first step; with
// a budget, at most that many candidates are evaluated and out says where
// to resume),
// the matches of req.TraceIds (its second step), or, for a metrics query,
// the partial of every matching trace.
func Run(ctx context.Context, st Store, req *starlingpb.TraceQLSearch, startNano, endNano int64, limit int, out *starlingpb.ResultChunk) error {
	q, err := traceql.Parse(req.GetQuery())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSearch, err)
	}
	e := evaluator{q: q}
	switch {
	case req.GetEstimate():
		c := candidates(req)
		if c == nil {
			return nil // nothing pushed: nothing to measure
		}
		out.TermGroups, err = st.TermGroups(ctx, c, startNano, endNano)
		return err
	case len(req.GetTraceIds()) > 0:
		return e.matches(ctx, st, req, out)
	case q.IsMetrics():
		return e.metrics(ctx, st, req, startNano, endNano, out)
	default:
		return e.hits(ctx, st, req, startNano, endNano, limit, out)
	}
}

// evaluator evaluates one query on the traces of one partition.
type evaluator struct {
	q     *traceql.Query
	model Model
	chunk starlingpb.ResultChunk
}

// candidates is the pushdown of a search: one alternative is a posting
// intersection; several would need a union newest first, so they scan.
func candidates(req *starlingpb.TraceQLSearch) *starlingpb.TraceSearch {
	if c := req.GetCandidates(); len(c) == 1 {
		return c[0]
	}
	return nil
}

// load reads one trace whole and converts it; ok is false when the trace
// has no stored span (dropped by retention since it was found).
func (e *evaluator) load(id [16]byte, read func([16]byte, *starlingpb.ResultChunk) error, out *starlingpb.ResultChunk) (*traceql.Trace, bool, error) {
	e.chunk.Records, e.chunk.Refs = e.chunk.Records[:0], e.chunk.Refs[:0]
	if err := read(id, &e.chunk); err != nil {
		return nil, false, err
	}
	out.InspectedTraces++
	for _, r := range e.chunk.Records {
		out.InspectedBytes += uint64(len(r.Key) + len(r.Value))
	}
	if len(e.chunk.Records) == 0 {
		return nil, false, nil
	}
	spans, err := storage.DecodeSpans(e.chunk.Records, e.chunk.Refs)
	if err != nil {
		return nil, false, fmt.Errorf("decode trace: %w", err)
	}
	return e.model.Trace(id, spans), true, nil
}

func (e *evaluator) hits(ctx context.Context, st Store, req *starlingpb.TraceQLSearch, startNano, endNano int64, limit int, out *starlingpb.ResultChunk) error {
	if limit <= 0 {
		return nil
	}
	budget, evaluated := int(req.GetBudget()), 0
	return st.EachTrace(ctx, candidates(req), startNano, endNano, func(hit storage.TraceHit, read storage.TraceReader) (bool, error) {
		if req.GetExact() {
			if len(out.TraceHits) == limit {
				// This hit and the older ones are left for the next round.
				out.More, out.ResumeUnixNano = true, hit.Time
				return false, nil
			}
			out.TraceHits = append(out.TraceHits, &starlingpb.TraceHit{TraceId: hit.TraceID[:], TimeUnixNano: hit.Time})
			return true, nil
		}
		if budget > 0 && evaluated == budget {
			// This candidate and the older ones are left for the next round.
			out.More, out.ResumeUnixNano = true, hit.Time
			return false, nil
		}
		evaluated++
		t, ok, err := e.load(hit.TraceID, read, out)
		if err != nil || !ok {
			return err == nil, err
		}
		sets, err := e.q.Eval(t)
		if err != nil {
			return false, err
		}
		if len(sets) > 0 {
			out.TraceHits = append(out.TraceHits, &starlingpb.TraceHit{TraceId: hit.TraceID[:], TimeUnixNano: hit.Time})
		}
		return len(out.TraceHits) < limit, nil
	})
}

func (e *evaluator) matches(ctx context.Context, st Store, req *starlingpb.TraceQLSearch, out *starlingpb.ResultChunk) error {
	spss := int(req.GetSpansPerSpanset())
	if spss == 0 {
		spss = DefaultSpansPerSpanset
	}
	read := func(id [16]byte, c *starlingpb.ResultChunk) error { return st.ReadTrace(ctx, id, c) }
	for _, raw := range req.GetTraceIds() {
		if len(raw) != 16 {
			return fmt.Errorf("%w: trace id of %d bytes", ErrBadSearch, len(raw))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		id := [16]byte(raw)
		t, ok, err := e.load(id, read, out)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		sets, err := e.q.Eval(t)
		if err != nil {
			return err
		}
		if len(sets) > 0 {
			out.TraceMatches = append(out.TraceMatches, traceMatch(t, sets, spss))
		}
	}
	return nil
}

func (e *evaluator) metrics(ctx context.Context, st Store, req *starlingpb.TraceQLSearch, startNano, endNano int64, out *starlingpb.ResultChunk) error {
	m, err := e.q.NewMetrics(startNano, endNano, req.GetStepNano())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSearch, err)
	}
	err = st.EachTrace(ctx, candidates(req), startNano, endNano, func(hit storage.TraceHit, read storage.TraceReader) (bool, error) {
		t, ok, err := e.load(hit.TraceID, read, out)
		if err != nil || !ok {
			return err == nil, err
		}
		m.Observe(t)
		return true, nil
	})
	if err != nil {
		return err
	}
	out.TraceqlMetrics, err = m.MarshalBinary()
	return err
}
