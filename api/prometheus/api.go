package prometheus

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/grafana/regexp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/httputil"
)

// API serves the Prometheus query API. It holds no state of its own
// beyond its configuration, so its handlers run concurrently.
type API struct {
	cfg           Config
	engine        promql.QueryEngine
	queryable     storage.Queryable
	parts         QueryParts
	exemplars     storage.ExemplarQueryable
	metadata      MetadataSource
	runtimeInfoFn func() (RuntimeInfo, error)
	parser        parser.Parser
	logger        *slog.Logger
	cors          *regexp.Regexp
	codec         jsonCodec
	compress      compression

	// start is when New ran: the start time of the default runtime info.
	start time.Time
	// now is the evaluation time of a query without a time parameter
	// (tests replace it).
	now func() time.Time
}

// New checks cfg and deps and returns the API; Register puts it on a mux.
func New(cfg Config, deps Deps) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Engine == nil {
		return nil, fmt.Errorf("%w: Engine", ErrMissingDependency)
	}
	if deps.Queryable == nil {
		return nil, fmt.Errorf("%w: Queryable", ErrMissingDependency)
	}
	cors, err := compileCORS(cfg.CORSOrigin)
	if err != nil {
		return nil, fmt.Errorf("%w: cors origin: %w", ErrInvalidConfig, err)
	}
	a := &API{
		cfg:           cfg,
		engine:        deps.Engine,
		queryable:     deps.Queryable,
		parts:         deps.Parts,
		exemplars:     deps.Exemplars,
		metadata:      deps.Metadata,
		runtimeInfoFn: deps.RuntimeInfo,
		parser:        deps.Parser,
		logger:        deps.Logger,
		cors:          cors,
		codec:         newJSONCodec(),
		start:         time.Now(),
		now:           time.Now,
	}
	if a.parser == nil {
		a.parser = parser.NewParser(parser.Options{})
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// route is one endpoint under /api/v1 and the methods Prometheus accepts
// for it (POST takes the parameters as a form body).
type route struct {
	path    string
	methods []string
	fn      endpoint
}

func (a *API) routes() []route {
	get := []string{http.MethodGet}
	getPost := []string{http.MethodGet, http.MethodPost}
	return []route{
		{"/query", getPost, a.query},
		{"/query_range", getPost, a.queryRange},
		{"/query_exemplars", getPost, a.queryExemplars},
		{"/format_query", getPost, a.formatQuery},
		{"/parse_query", getPost, a.parseQuery},
		{"/labels", getPost, a.labelNames},
		{"/label/{name}/values", get, a.labelValues},
		{"/series", getPost, a.series},
		{"/metadata", get, a.metricMetadata},
		{"/status/config", get, a.config},
		{"/status/runtimeinfo", get, a.runtimeInfo},
		{"/status/buildinfo", get, a.buildInfo},
		{"/status/flags", get, a.flags},
		{"/targets", get, targets},
		{"/targets/metadata", get, targetsMetadata},
		{"/scrape_pools", get, scrapePools},
		{"/alertmanagers", get, alertmanagers},
		{"/alerts", get, alerts},
		{"/rules", get, rules},
	}
}

// Register puts every route on mux under prefix + "/api/v1" (prefix
// "/prometheus" gives "/prometheus/api/v1/query"). The patterns carry no
// method: each handler answers OPTIONS with 204 and a method it does not
// take with 405 and an Allow header, as Prometheus' router does, and any
// other path under prefix answers 404 ("404 page not found"). A route
// registered on mux by someone else under the prefix (remote write's
// /api/v1/write) is more specific than the catch-all and wins. Register
// panics, as ServeMux does, if mux already has one of these patterns.
func (a *API) Register(mux *http.ServeMux, prefix string) {
	prefix = strings.TrimRight(prefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		prefix = "/" + prefix
	}
	base := prefix + "/api/v1"
	for _, rt := range a.routes() {
		mux.Handle(base+rt.path, a.handler(rt))
	}
	mux.Handle(base+"/", http.HandlerFunc(a.unknownRoute))
	if prefix != "" {
		mux.Handle(prefix+"/", http.NotFoundHandler())
	}
}

// handler dispatches on the method, then serves rt with CORS headers and
// gzip or deflate compression when the client accepts it, as Prometheus'
// wrap does.
func (a *API) handler(rt route) http.Handler {
	allow := slices.Clone(rt.methods)
	allow = append(allow, http.MethodOptions)
	slices.Sort(allow)
	allowed := strings.Join(allow, ", ")
	serve := a.compress.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, rt.fn)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodOptions:
			a.options(w, r)
		case slices.Contains(rt.methods, r.Method):
			serve.ServeHTTP(w, r)
		default:
			w.Header().Set("Allow", allowed)
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		}
	})
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, fn endpoint) {
	httputil.SetCORS(w, a.cors, r)
	res := fn(r)
	if res.finalizer != nil {
		defer res.finalizer()
	}
	switch {
	case res.err != nil:
		a.respondError(w, res.err, res.data)
	case res.data != nil:
		a.respond(w, r, res.data, res.warnings, r.FormValue("query"))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// options answers a CORS preflight: Prometheus routes OPTIONS on every
// path to an empty 204.
func (a *API) options(w http.ResponseWriter, r *http.Request) {
	httputil.SetCORS(w, a.cors, r)
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) unknownRoute(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		a.options(w, r)
		return
	}
	http.NotFound(w, r)
}
