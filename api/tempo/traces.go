package tempo

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// traceParams are the parameters of trace by ID.
type traceParams struct {
	id         [16]byte
	start, end time.Time // zero: open
}

// parseTraceParams reads the trace ID of the path and the parameters
// Tempo's frontend validates (pkg/api ParseTraceID and
// ParseTraceByIDRequest): mode, blockStart and blockEnd are checked though
// Starling has no use for them, start and end are unix seconds.
func parseTraceParams(rawID string, vals url.Values) (traceParams, error) {
	var p traceParams
	id, err := parseTraceID(rawID)
	if err != nil {
		return p, err
	}
	p.id = id
	mode, _ := param(vals, paramMode)
	switch mode {
	case "", "all", "blocks", "external":
	case "ingesters":
		return p, nil // Tempo reads no other parameter then
	default:
		return p, fmt.Errorf("invalid value for mode %s", mode)
	}
	if s, ok := param(vals, paramBlockStart); ok {
		if err := validUUID(s); err != nil {
			return p, fmt.Errorf("invalid value for blockstart: %w", err)
		}
	}
	if s, ok := param(vals, paramBlockEnd); ok {
		if err := validUUID(s); err != nil {
			return p, fmt.Errorf("invalid value for blockEnd: %w", err)
		}
	}
	if s, ok := param(vals, paramStart); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return p, fmt.Errorf("invalid start: %w", err)
		}
		p.start = time.Unix(n, 0)
	}
	if s, ok := param(vals, paramEnd); ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return p, fmt.Errorf("invalid end: %w", err)
		}
		p.end = time.Unix(n, 0)
	}
	if !p.start.IsZero() && !p.end.IsZero() && !p.end.After(p.start) {
		return p, fmt.Errorf("http parameter start must be before end. received start=%d end=%d", p.start.Unix(), p.end.Unix())
	}
	return p, nil
}

// errTraceFilter answers a v2 request with q: Tempo 3.x filters the trace
// with a TraceQL spanset filter there, which needs the evaluator; rather
// than answer the whole trace as if filtered, the request is refused.
var errTraceFilter = errors.New("invalid value for q: filtering a trace by TraceQL is not supported")

// fetchTrace reads the trace of a request; an ErrNotFound error is the
// same as found=false.
func (a *API) fetchTrace(w http.ResponseWriter, r *http.Request, op string, v2 bool) (ptrace.Traces, bool, bool) {
	vals := r.URL.Query()
	if err := checkQuerySize(vals, a.cfg.MaxQueryBytes); err != nil {
		badRequest(w, err)
		return ptrace.Traces{}, false, false
	}
	p, err := parseTraceParams(r.PathValue("traceID"), vals)
	if err == nil && v2 && strings.TrimSpace(vals.Get(paramQuery)) != "" {
		err = errTraceFilter
	}
	if err != nil {
		badRequest(w, err)
		return ptrace.Traces{}, false, false
	}
	td, found, err := a.q.Trace(r.Context(), p.id, p.start, p.end)
	if errors.Is(err, ErrNotFound) {
		return ptrace.NewTraces(), false, true
	}
	if err != nil {
		a.querierError(w, r, op, err)
		return ptrace.Traces{}, false, false
	}
	if !found {
		td = ptrace.NewTraces()
	}
	return td, found, true
}

// traceV1 answers /api/traces/{traceID} as Tempo's TraceByIDCombiner: 404
// with an empty body when the trace has no resource spans; else the
// trace as protobuf (tempopb.Trace, whose one field has the number and
// layout of OTLP's TracesData) to Accept: application/protobuf, or as JSON
// with its list named "batches" (tempopb.MarshalToJSONV1).
func (a *API) traceV1(w http.ResponseWriter, r *http.Request) {
	td, found, ok := a.fetchTrace(w, r, "trace_by_id", false)
	if !ok {
		return
	}
	if !found || td.ResourceSpans().Len() == 0 {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if wantsProtobuf(r.Header) {
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			a.querierError(w, r, "trace_by_id", fmt.Errorf("error marshalling response: %w content type: %s", err, mediaProtobuf))
			return
		}
		a.writeBody(w, r, "trace_by_id", mediaProtobuf, b)
		return
	}
	a.writeBody(w, r, "trace_by_id", mediaJSON, appendTraceJSON(nil, td, "batches"))
}

// traceV2 answers /api/v2/traces/{traceID} with a TraceByIDResponse, as
// Tempo's v2 combiner: a missing trace is not an error there but an empty
// trace ({"trace":{},"metrics":{}}, 200), because its queriers answer 200
// with no trace. Protobuf to Accept: application/protobuf: field 1 the
// trace, field 2 the (empty) metrics, status COMPLETE left out.
func (a *API) traceV2(w http.ResponseWriter, r *http.Request) {
	td, _, ok := a.fetchTrace(w, r, "trace_by_id_v2", true)
	if !ok {
		return
	}
	if wantsProtobuf(r.Header) {
		tb, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if err != nil {
			a.querierError(w, r, "trace_by_id_v2", fmt.Errorf("error marshalling response body as %s: %w", mediaProtobuf, err))
			return
		}
		b := make([]byte, 0, len(tb)+16)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, tb)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, 0)
		a.writeBody(w, r, "trace_by_id_v2", mediaProtobuf, b)
		return
	}
	b := append([]byte(nil), `{"trace":`...)
	b = appendTraceJSON(b, td, "resourceSpans")
	b = append(b, `,"metrics":{}}`...)
	a.writeBody(w, r, "trace_by_id_v2", mediaJSON, b)
}
