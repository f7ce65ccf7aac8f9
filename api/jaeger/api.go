package jaeger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The routes and handlers of Jaeger's cmd/query/app/http_handler.go
// (RegisterRoutes, getServices, getOperationsLegacy, getOperations, search,
// tracesByIDs, getTrace, dependencies): 400 for a parameter that does not
// parse, 404 for a trace that is not stored, 500 for a Querier error (400
// when it wraps ErrInvalidQuery), each with Jaeger's error envelope.
//
// Where the answers differ from Jaeger's: every list is sorted and without
// repeats (services, operation names, operations by name then kind,
// dependency links by parent then child; Jaeger keeps the storage's or a
// map's order), the operation names of a service with none are [] (Jaeger
// answers null), and a search by trace IDs reads them at most
// traceFetchParallelism at a time and answers the traces and the missing
// IDs in the order the IDs were given (Jaeger: the storage's order, and a
// map's for the missing).

// traceFetchParallelism is how many traces of one search by trace IDs are
// read at once.
const traceFetchParallelism = 4

// API serves the Jaeger query API. It holds no state beyond its
// configuration, so its handlers run concurrently.
type API struct {
	cfg    Config
	q      Querier
	logger *slog.Logger
	// now is the time a request without start, end or endTs is answered
	// at (tests replace it).
	now func() time.Time
}

// New checks cfg and returns the API reading from q; Register puts it on
// a mux. A nil logger discards the log (500s, failed writes).
func New(cfg Config, q Querier, logger *slog.Logger) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if q == nil {
		return nil, ErrMissingQuerier
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, q: q, logger: logger, now: time.Now}, nil
}

// Register puts the API's routes on mux under prefix + "/api" (prefix
// "/jaeger" gives "GET /jaeger/api/services"), with method patterns, so
// that another method answers 405 and any other path the mux's 404. A
// prefix without a leading slash gets one and a trailing slash is dropped.
// Register panics, as ServeMux does, if mux already has one of the
// patterns.
func (a *API) Register(mux *http.ServeMux, prefix string) {
	prefix = strings.TrimRight(prefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	base := prefix + "/api"
	mux.HandleFunc("GET "+base+"/services", a.services)
	mux.HandleFunc("GET "+base+"/services/{service}/operations", a.serviceOperations)
	mux.HandleFunc("GET "+base+"/operations", a.operations)
	mux.HandleFunc("GET "+base+"/traces", a.search)
	mux.HandleFunc("GET "+base+"/traces/{traceID}", a.trace)
	mux.HandleFunc("GET "+base+"/dependencies", a.dependencies)
}

// querierError answers an error of the Querier.
func (a *API) querierError(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, ErrInvalidQuery) {
		code = http.StatusBadRequest
	}
	a.writeError(w, r, err, code)
}

// services is GET /api/services: data is the service names, total their
// number.
func (a *API) services(w http.ResponseWriter, r *http.Request) {
	names, err := a.q.Services(r.Context())
	if err != nil {
		a.querierError(w, r, err)
		return
	}
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if names == nil {
		names = []string{}
	}
	a.writeJSON(w, r, &response{Data: names, Total: len(names)})
}

// serviceOperations is GET /api/services/{service}/operations (Jaeger's
// getOperationsLegacy): data is the distinct span names of every kind.
// Jaeger decodes the path segment a second time with url.QueryUnescape;
// this takes it as ServeMux decodes it, once.
func (a *API) serviceOperations(w http.ResponseWriter, r *http.Request) {
	ops, err := a.q.Operations(r.Context(), r.PathValue("service"), "")
	if err != nil {
		a.querierError(w, r, err)
		return
	}
	names := make([]string, 0, len(ops))
	for _, op := range ops {
		names = append(names, op.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	a.writeJSON(w, r, &response{Data: names, Total: len(names)})
}

// operations is GET /api/operations?service=&spanKind=: data is
// [{name, spanKind}], total their number.
func (a *API) operations(w http.ResponseWriter, r *http.Request) {
	service, kind, err := parseOperations(r.URL.Query())
	if err != nil {
		a.writeError(w, r, err, http.StatusBadRequest)
		return
	}
	ops, err := a.q.Operations(r.Context(), service, kind)
	if err != nil {
		a.querierError(w, r, err)
		return
	}
	data := make([]operation, len(ops))
	for i, op := range ops {
		data[i] = operation{Name: op.Name, SpanKind: op.SpanKind}
	}
	slices.SortFunc(data, func(x, y operation) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return strings.Compare(x.SpanKind, y.SpanKind)
	})
	data = slices.Compact(data)
	a.writeJSON(w, r, &response{Data: data, Total: len(data)})
}

// search is GET /api/traces: the traces of the traceID parameters when
// there are any, else those FindTraces finds. data is the traces; total
// stays 0, as in Jaeger.
func (a *API) search(w http.ResponseWriter, r *http.Request) {
	p, err := a.cfg.parseSearch(r.URL.Query(), a.now())
	if err != nil {
		a.writeError(w, r, err, http.StatusBadRequest)
		return
	}
	if len(p.traceIDs) > 0 {
		a.tracesByIDs(w, r, p)
		return
	}
	found, err := a.q.FindTraces(r.Context(), p.query)
	if err != nil {
		a.querierError(w, r, err)
		return
	}
	traces, err := convertFound(found, p.raw)
	if err != nil {
		a.querierError(w, r, err)
		return
	}
	if len(traces) > p.query.Limit {
		traces = traces[:p.query.Limit]
	}
	if traces == nil {
		traces = []trace{}
	}
	a.writeJSON(w, r, &response{Data: traces})
}

// convertFound converts what FindTraces found. A zero ptrace.Traces (not
// made by ptrace.NewTraces) panics in pdata; that becomes an error.
func convertFound(found []ptrace.Traces, raw bool) (traces []trace, err error) {
	defer func() {
		if p := recover(); p != nil {
			traces, err = nil, fmt.Errorf("querier returned invalid traces: %v", p)
		}
	}()
	return convertTraces(found, raw), nil
}

// tracesByIDs answers a search by trace IDs: the traces found, and one
// error {msg: "trace not found", traceID} per ID that is not.
func (a *API) tracesByIDs(w http.ResponseWriter, r *http.Request, p searchParams) {
	type result struct {
		t     trace
		found bool
	}
	results := make([]result, len(p.traceIDs))
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error // the first error to happen, not a later cancellation
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, traceFetchParallelism)
	for i, id := range p.traceIDs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t, found, err := a.fetchTrace(ctx, id, p.idStart, p.idEnd, p.raw)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
				return
			}
			results[i] = result{t, found}
		})
	}
	wg.Wait()
	if firstErr != nil {
		a.querierError(w, r, firstErr)
		return
	}

	traces := make([]trace, 0, len(results))
	var missing []responseError
	for i, res := range results {
		if !res.found {
			missing = append(missing, responseError{Msg: errTraceNotFound.Error(), TraceID: traceIDString(p.traceIDs[i])})
			continue
		}
		traces = append(traces, res.t)
	}
	a.writeJSON(w, r, &response{Data: traces, Errors: missing})
}

// trace is GET /api/traces/{traceID}: data is a list of the one trace.
func (a *API) trace(w http.ResponseWriter, r *http.Request) {
	p, err := parseTrace(r.PathValue("traceID"), r.URL.Query())
	if err != nil {
		a.writeError(w, r, err, http.StatusBadRequest)
		return
	}
	t, found, err := a.fetchTrace(r.Context(), p.id, p.start, p.end, p.raw)
	switch {
	case err != nil:
		a.querierError(w, r, err)
	case !found:
		a.writeError(w, r, errTraceNotFound, http.StatusNotFound)
	default:
		a.writeJSON(w, r, &response{Data: []trace{t}})
	}
}

// fetchTrace reads one trace and converts its spans of that ID; found is
// false when the Querier has none. A panic of the Querier, or of pdata on
// a zero ptrace.Traces it returned (on a goroutine of tracesByIDs it would
// end the process), becomes an error.
func (a *API) fetchTrace(ctx context.Context, id pcommon.TraceID, start, end time.Time, raw bool) (t trace, found bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("trace lookup panicked: %v", p)
		}
	}()
	td, found, err := a.q.Trace(ctx, id, start, end)
	if err != nil || !found {
		return trace{}, false, err
	}
	for _, g := range groupTraces([]ptrace.Traces{td}, raw) {
		if g.id == id {
			return convertTrace(g, raw), true, nil
		}
	}
	return trace{}, false, nil
}

// dependencies is GET /api/dependencies?endTs=&lookback=&service=: data is
// [{parent, child, callCount}] of the spans started in
// [endTs-lookback, endTs], only the links of service when it is given.
func (a *API) dependencies(w http.ResponseWriter, r *http.Request) {
	start, end, err := a.cfg.parseDependencies(r.URL.Query(), a.now())
	if err != nil {
		a.writeError(w, r, err, http.StatusBadRequest)
		return
	}
	links, err := a.q.Dependencies(r.Context(), start, end)
	if err != nil {
		a.querierError(w, r, err)
		return
	}
	a.writeJSON(w, r, &response{Data: mergeLinks(links, r.URL.Query().Get(paramService))})
}
