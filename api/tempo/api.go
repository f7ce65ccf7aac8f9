package tempo

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// API serves Tempo's query API. It holds no state beyond its
// configuration, so its handlers run concurrently.
type API struct {
	cfg    Config
	q      Querier
	logger *slog.Logger
	// now is the clock of default ranges and of the metrics end cutoff
	// (tests replace it).
	now func() time.Time
}

// New checks cfg and returns the API; Register puts it on a mux. A nil
// logger discards the API's logs (failed queries and writes).
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

// route is one GET endpoint, its path under the prefix (Tempo's
// pkg/api/http.go paths) and its name in logs.
type route struct {
	path string
	name string
	fn   http.HandlerFunc
}

func (a *API) routes() []route {
	return []route{
		{"/api/echo", "echo", echo},
		{"/api/status/buildinfo", "buildinfo", a.buildInfo},
		{"/api/search", "search", a.search},
		{"/api/search/tags", "search_tags", a.searchTags},
		{"/api/v2/search/tags", "search_tags_v2", a.searchTagsV2},
		// A tag name may hold slashes: Tempo's route is
		// /api/search/tag/{tagName:.*}/values.
		{"/api/search/tag/{rest...}", "search_tag_values", a.searchTagValues},
		{"/api/v2/search/tag/{rest...}", "search_tag_values_v2", a.searchTagValuesV2},
		{"/api/traces/{traceID}", "trace_by_id", a.traceV1},
		{"/api/v2/traces/{traceID}", "trace_by_id_v2", a.traceV2},
		{"/api/metrics/query_range", "metrics_query_range", a.metricsQueryRange},
		{"/api/metrics/query", "metrics_query", a.metricsQueryInstant},
	}
}

// Register puts every endpoint on mux under prefix ("/tempo" gives
// "/tempo/api/search"), for GET (and so HEAD) only: ServeMux answers
// other methods with 405 and an Allow header, and paths it does not know
// with 404. Register panics, as ServeMux does, if mux already has one of
// these patterns.
func (a *API) Register(mux *http.ServeMux, prefix string) {
	prefix = strings.TrimRight(prefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	for _, rt := range a.routes() {
		mux.Handle(http.MethodGet+" "+prefix+rt.path, a.guard(rt))
	}
}

// guard turns a panic of a handler (or of the Querier) into a 500 instead
// of a dropped connection, and logs it.
func (a *API) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				a.logger.LogAttrs(r.Context(), slog.LevelError, "tempo api: handler panicked",
					slog.String("op", rt.name), slog.String("panic", fmt.Sprint(p)),
					slog.String("stack", string(debug.Stack())))
				writeText(w, http.StatusInternalServerError, "internal error\n")
			}
		}()
		rt.fn(w, r)
	})
}

// echo answers "echo" as Tempo's echoHandler (http.Error with 200).
func echo(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "echo", http.StatusOK)
}

// buildInfo answers the configured build information as Tempo does
// (cmd/tempo/app buildinfoHandler: json.Encoder, so a trailing newline).
func (a *API) buildInfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", mediaJSON)
	if err := json.NewEncoder(w).Encode(a.cfg.BuildInfo); err != nil {
		a.logWrite(r, "buildinfo", err)
	}
}

// writeJSON answers 200 with v marshalled by encoding/json (the answer
// types of model.go reproduce jsonpb's encoding), without a trailing
// newline as jsonpb writes none.
func (a *API) writeJSON(w http.ResponseWriter, r *http.Request, op string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.logger.LogAttrs(r.Context(), slog.LevelError, "tempo api: marshal failed",
			slog.String("op", op), slog.String("err", err.Error()))
		writeText(w, http.StatusInternalServerError, "error marshalling response body: "+err.Error())
		return
	}
	a.writeBody(w, r, op, mediaJSON, b)
}

// writeBody answers 200 with body.
func (a *API) writeBody(w http.ResponseWriter, r *http.Request, op, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil {
		a.logWrite(r, op, err)
	}
}

func (a *API) logWrite(r *http.Request, op string, err error) {
	a.logger.LogAttrs(r.Context(), slog.LevelDebug, "tempo api: writing response failed",
		slog.String("op", op), slog.String("err", err.Error()))
}
