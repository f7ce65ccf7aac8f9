package tempo

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// intrinsicTags are the intrinsics Tempo lists as tag names
// (pkg/search GetVirtualIntrinsicValues), sorted as it answers them.
var intrinsicTags = sortedCopy([]string{
	"duration", "name", "status", "statusMessage", "kind",
	"rootServiceName", "rootName", "traceDuration",
	"event:name", "event:timeSinceStart", "link:spanID", "link:traceID",
	"instrumentation:name", "instrumentation:version",
	"trace:id", "span:id", "span:parentID",
	"span:status", "span:statusMessage", "span:duration", "span:name", "span:kind",
	"trace:rootName", "trace:rootService", "trace:duration",
})

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// attributeScopes are the scopes the scope parameter accepts besides ""
// and "intrinsic" (traceql.AttributeScopeFromString; "none" is "").
var attributeScopes = map[string]bool{
	"none": true, "trace": true, "span": true, "resource": true,
	"event": true, "link": true, "instrumentation": true,
}

// tagParams are the parameters shared by the tag endpoints.
type tagParams struct {
	query      string
	start, end time.Time
	limit      int
}

// tagStartEnd reads start and end as ParseSearchTagsRequest and
// ParseSearchTagValuesRequest do: strconv.ParseInt with 32 bits, then kept
// as uint32.
func tagStartEnd(vals url.Values) (uint32, uint32, error) {
	var start, end uint32
	if s, ok := param(vals, paramStart); ok {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("invalid start: %w", err)
		}
		start = uint32(n)
	}
	if s, ok := param(vals, paramEnd); ok {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("invalid end: %w", err)
		}
		end = uint32(n)
	}
	return start, end, nil
}

// tagRange enforces the tag sharder's range bound and defaults to the
// recent range.
func tagRange(start, end uint32, cfg Config, now time.Time) (time.Time, time.Time, error) {
	if err := checkRange(start, end, cfg.MaxSearchDuration); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if start != 0 && end != 0 && end < start {
		// only reachable when the wrapped difference passes the bound
		return time.Time{}, time.Time{}, fmt.Errorf("http parameter start must be before end. received start=%d end=%d", start, end)
	}
	from, to := recentOr(start, end, now, cfg.RecentRange)
	return from, to, nil
}

// parseTagsParams reads the parameters of /api/search/tags and
// /api/v2/search/tags: scope (checked), q, start, end, and limit (read
// leniently: the frontend ignores a limit it cannot parse; maxStaleValues,
// Tempo's early stop, is ignored).
func parseTagsParams(vals url.Values, cfg Config, now time.Time) (string, tagParams, error) {
	scope, _ := param(vals, paramScope)
	if scope != "" && scope != scopeIntrinsic && !attributeScopes[scope] {
		return "", tagParams{}, fmt.Errorf("invalid scope: %s", scope)
	}
	if scope == "none" {
		scope = ""
	}
	startS, endS, err := tagStartEnd(vals)
	if err != nil {
		return "", tagParams{}, err
	}
	start, end, err := tagRange(startS, endS, cfg, now)
	if err != nil {
		return "", tagParams{}, err
	}
	limit, _ := strconv.ParseUint(vals.Get(paramLimit), 10, 32)
	query, _ := param(vals, paramQuery)
	return scope, tagParams{query: query, start: start, end: end, limit: int(limit)}, nil
}

// tagNames asks the Querier for the attribute names of scope, unless the
// scope is intrinsic (the intrinsics are the API's own list).
func (a *API) tagNames(w http.ResponseWriter, r *http.Request, op string, v2 bool) (string, []ScopeTags, bool) {
	vals := r.URL.Query()
	if err := checkQuerySize(vals, a.cfg.MaxQueryBytes); err != nil {
		badRequest(w, err)
		return "", nil, false
	}
	scope, p, err := parseTagsParams(vals, a.cfg, a.now())
	if err != nil {
		badRequest(w, err)
		return "", nil, false
	}
	if scope == scopeIntrinsic {
		return scope, nil, true
	}
	if !v2 {
		p.query = "" // Tempo's v1 lookup drops q
	}
	st, err := a.q.TagNames(r.Context(), TagsRequest{Scope: scope, Query: p.query, Start: p.start, End: p.end, Limit: p.limit})
	if err != nil {
		a.querierError(w, r, op, err)
		return "", nil, false
	}
	return scope, st, true
}

// searchTags answers /api/search/tags: the names of every attribute
// scope (intrinsics only with scope=intrinsic, as Tempo's v1), distinct and
// sorted, within the limits.
func (a *API) searchTags(w http.ResponseWriter, r *http.Request) {
	scope, st, ok := a.tagNames(w, r, "search_tags", false)
	if !ok {
		return
	}
	c := newCollector[string](parseLimit(r), a.cfg.MaxTagBytes)
	if scope == scopeIntrinsic {
		for _, t := range intrinsicTags {
			c.add(t, len(t))
		}
	}
	for _, s := range st {
		if s.Scope == scopeIntrinsic {
			continue // v1 lists intrinsics only when asked by scope
		}
		for _, t := range s.Tags {
			c.add(t, len(t))
		}
	}
	a.writeJSON(w, r, "search_tags", searchTagsResponse{TagNames: sortedStrings(c.vals), Metrics: metadataMetrics{}})
}

// searchTagsV2 answers /api/v2/search/tags: names by scope, the
// intrinsic scope added for an unscoped or intrinsic request, each scope's
// names distinct and sorted within the limits. Scopes keep the Querier's
// order with intrinsic last (Tempo's order is a map's).
func (a *API) searchTagsV2(w http.ResponseWriter, r *http.Request) {
	scope, st, ok := a.tagNames(w, r, "search_tags_v2", true)
	if !ok {
		return
	}
	c := &scopedCollector{limit: parseLimit(r), maxBytes: a.cfg.MaxTagBytes, scopes: map[string]*collector[string]{}}
	if scope == "" || scope == scopeIntrinsic {
		for _, t := range intrinsicTags { // first, as Tempo adds them
			c.add(scopeIntrinsic, t)
		}
	}
	for _, s := range st {
		if s.Scope == "" {
			continue
		}
		for _, t := range s.Tags {
			c.add(s.Scope, t)
		}
	}
	out := searchTagsV2Response{Scopes: []searchTagsV2Scope{}, Metrics: metadataMetrics{}}
	for _, name := range c.order {
		if name == scopeIntrinsic {
			continue
		}
		if tags := c.scopes[name].vals; len(tags) > 0 {
			out.Scopes = append(out.Scopes, searchTagsV2Scope{Name: name, Tags: sortedStrings(tags)})
		}
	}
	if in := c.scopes[scopeIntrinsic]; in != nil && len(in.vals) > 0 {
		out.Scopes = append(out.Scopes, searchTagsV2Scope{Name: scopeIntrinsic, Tags: sortedStrings(in.vals)})
	}
	a.writeJSON(w, r, "search_tags_v2", out)
}

func parseLimit(r *http.Request) int {
	n, _ := strconv.ParseUint(r.URL.Query().Get(paramLimit), 10, 32)
	return int(n)
}

// parseTagValuesParams reads the parameters of the tag values endpoints
// as ParseSearchTagValuesRequest does: the tag (non-empty; a TraceQL
// identifier for v2), q, start, end, limit and maxStaleValues (both
// checked; stale values are Tempo's early stop and have no use here).
func parseTagValuesParams(rest string, vals url.Values, v2 bool, cfg Config, now time.Time) (string, tagParams, error) {
	tag, _ := strings.CutSuffix(rest, "/values")
	if tag == "" {
		return "", tagParams{}, errors.New("please provide a non-empty tagName")
	}
	if v2 {
		if err := checkIdentifier(tag); err != nil {
			return "", tagParams{}, fmt.Errorf("please provide a valid tagName: %w", err)
		}
	}
	query, _ := param(vals, paramQuery)
	start, end, err := tagStartEnd(vals)
	if err != nil {
		return "", tagParams{}, err
	}
	var limit uint64
	if s, ok := param(vals, paramLimit); ok {
		if limit, err = strconv.ParseUint(s, 10, 32); err != nil {
			return "", tagParams{}, fmt.Errorf("invalid limit: %w", err)
		}
	}
	if s, ok := param(vals, paramMaxStaleValues); ok {
		if _, err := strconv.ParseUint(s, 10, 32); err != nil {
			return "", tagParams{}, fmt.Errorf("invalid maxStaleValues: %w", err)
		}
	}
	from, to, err := tagRange(start, end, cfg, now)
	if err != nil {
		return "", tagParams{}, err
	}
	return tag, tagParams{query: query, start: from, end: to, limit: int(limit)}, nil
}

// tagValues parses a tag values request (a path under /search/tag/ that
// is not .../values is not a route: 404); it has answered when ok is
// false.
func (a *API) tagValues(w http.ResponseWriter, r *http.Request, v2 bool) (string, tagParams, bool) {
	vals := r.URL.Query()
	rest := r.PathValue("rest")
	if !strings.HasSuffix(rest, "/values") {
		http.NotFound(w, r)
		return "", tagParams{}, false
	}
	if err := checkQuerySize(vals, a.cfg.MaxQueryBytes); err != nil {
		badRequest(w, err)
		return "", tagParams{}, false
	}
	tag, p, err := parseTagValuesParams(rest, vals, v2, a.cfg, a.now())
	if err != nil {
		badRequest(w, err)
		return "", tagParams{}, false
	}
	return tag, p, true
}

// searchTagValues answers /api/search/tag/{tag}/values: distinct values,
// sorted, Tempo's virtual values first (status.code: unset, ok, error;
// error: true), within the limits.
func (a *API) searchTagValues(w http.ResponseWriter, r *http.Request) {
	tag, p, ok := a.tagValues(w, r, false)
	if !ok {
		return
	}
	// Tempo's v1 lookup drops q
	vs, err := a.q.TagValues(r.Context(), TagValuesRequest{Tag: v1TagIdentifier(tag), Start: p.start, End: p.end, Limit: p.limit})
	if err != nil {
		a.querierError(w, r, "search_tag_values", err)
		return
	}
	c := newCollector[string](p.limit, a.cfg.MaxTagBytes)
	var virtual []string
	switch tag {
	case "status.code":
		virtual = []string{"unset", "ok", "error"}
	case "error":
		virtual = []string{"true"}
	}
	for _, v := range virtual {
		c.add(v, len(v))
	}
	for _, v := range vs {
		c.add(v.Value, len(v.Value))
	}
	a.writeJSON(w, r, "search_tag_values", searchTagValuesResponse{TagValues: sortedStrings(c.vals), Metrics: metadataMetrics{}})
}

// virtualValuesV2 are the values Tempo answers for some intrinsics without
// reading anything (pkg/search GetVirtualTagValuesV2); nil for others.
func virtualValuesV2(tag string) []TagValue {
	kw := func(vs ...string) []TagValue {
		out := make([]TagValue, 0, len(vs))
		for _, v := range vs {
			out = append(out, TagValue{Type: "keyword", Value: v})
		}
		return out
	}
	switch tag {
	case "status", "span:status":
		return kw("ok", "error", "unset")
	case "kind", "span:kind":
		return kw("client", "server", "producer", "consumer", "internal", "unspecified")
	case "duration", "span:duration", "traceDuration":
		return []TagValue{}
	}
	return nil
}

// searchTagValuesV2 answers /api/v2/search/tag/{tag}/values: typed
// values, distinct, in the Querier's order (Tempo's is a map's), within
// the limits; status, kind and duration intrinsics answer their fixed
// values without asking the Querier.
func (a *API) searchTagValuesV2(w http.ResponseWriter, r *http.Request) {
	tag, p, ok := a.tagValues(w, r, true)
	if !ok {
		return
	}
	vs := virtualValuesV2(tag)
	if vs == nil {
		var err error
		if vs, err = a.q.TagValues(r.Context(), TagValuesRequest{Tag: tag, Query: p.query, Start: p.start, End: p.end, Limit: p.limit}); err != nil {
			a.querierError(w, r, "search_tag_values_v2", err)
			return
		}
	}
	c := newCollector[TagValue](p.limit, a.cfg.MaxTagBytes)
	for _, v := range vs {
		c.add(v, len(v.Type)+len(v.Value))
	}
	out := searchTagValuesV2Response{TagValues: make([]tagValueJSON, 0, len(c.vals)), Metrics: metadataMetrics{}}
	for _, v := range c.vals {
		out.TagValues = append(out.TagValues, tagValueJSON(v))
	}
	a.writeJSON(w, r, "search_tag_values_v2", out)
}

// v1TagNames are the v1 tag names that do not mean "an attribute of that
// name in any scope" (vparquet5 translateTagToAttribute and
// nonTraceQLAttributes), with the TraceQL identifier of what they read.
var v1TagNames = map[string]string{
	"name":               "name",
	"status.code":        "status",
	"rootName":           "rootName",
	"rootServiceName":    "rootServiceName",
	"root.name":          "rootName",
	"root.service.name":  "rootServiceName",
	"trace:id":           "trace:id",
	"span:id":            "span:id",
	"service.name":       "resource.service.name",
	"cluster":            "resource.cluster",
	"namespace":          "resource.namespace",
	"pod":                "resource.pod",
	"container":          "resource.container",
	"k8s.namespace.name": "resource.k8s.namespace.name",
	"k8s.cluster.name":   "resource.k8s.cluster.name",
	"k8s.pod.name":       "resource.k8s.pod.name",
	"k8s.container.name": "resource.k8s.container.name",
	"http.method":        "span.http.method",
	"http.url":           "span.http.url",
	"http.status_code":   "span.http.status_code",
}

// v1TagIdentifier turns a v1 tag name into the TraceQL identifier of what
// Tempo's v1 lookup reads: v1TagNames, else an unscoped attribute.
func v1TagIdentifier(tag string) string {
	if id, ok := v1TagNames[tag]; ok {
		return id
	}
	return attributeRef(tag)
}

// knownIntrinsics are the intrinsic identifiers TraceQL parses
// (traceql.intrinsicFromString).
var knownIntrinsics = map[string]bool{}

func init() {
	for _, s := range []string{
		"duration", "name", "status", "statusMessage", "kind", "event:name",
		"event:timeSinceStart", "link:spanID", "link:traceID", "parent",
		"rootServiceName", "rootName", "traceDuration", "trace:id",
		"traceStartTime", "span:id", "span:parentID", "span:status",
		"span:statusMessage", "span:duration", "span:name", "span:kind",
		"span:childCount", "trace:rootName", "trace:rootService",
		"trace:duration", "instrumentation:name", "instrumentation:version",
		"spanStartTime", "nestedSetLeft", "nestedSetRight", "nestedSetParent",
	} {
		knownIntrinsics[s] = true
	}
}

// checkIdentifier accepts what Tempo's traceql.ParseIdentifier accepts: an
// intrinsic, or an attribute: an optional scope (span, resource, event,
// link, instrumentation, trace) and a dot, then a name of unquoted runs
// (anything but white space and { } ( ) = ~ ! < > & | ^ , ") and quoted
// segments.
func checkIdentifier(s string) error {
	if knownIntrinsics[s] {
		return nil
	}
	fail := func(why string) error { return fmt.Errorf("failed to parse identifier %s: %s", s, why) }
	name := s
	if i := strings.IndexByte(s, '.'); i > 0 {
		if !attributeScopes[s[:i]] || s[:i] == "none" {
			return fail("unknown attribute scope " + strconv.Quote(s[:i]))
		}
		name = s[i+1:]
	} else if i < 0 {
		return fail("not an intrinsic or an attribute")
	} else {
		name = s[1:]
	}
	if name == "" {
		return fail("empty attribute name")
	}
	for i := 0; i < len(name); {
		if name[i] == '"' {
			j := i + 1
			for j < len(name) && name[j] != '"' {
				if name[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(name) {
				return fail("unterminated quoted attribute name")
			}
			if _, err := strconv.Unquote(name[i : j+1]); err != nil {
				return fail("invalid quoted attribute name")
			}
			i = j + 1
			continue
		}
		r, n := utf8.DecodeRuneInString(name[i:])
		if unicode.IsSpace(r) || strings.ContainsRune("{}()=~!<>&|^,", r) {
			return fail("unexpected " + strconv.QuoteRune(r))
		}
		i += n
	}
	return nil
}

// collector gathers distinct strings as Tempo's DistinctString and
// DistinctValue collectors do: each value is refused, and collection
// stops for good, once the bytes collected plus its own would reach
// maxBytes or limit values are held (checked before duplicates, as Tempo
// does); 0 means no bound.
type collector[T comparable] struct {
	limit, maxBytes, used int
	seen                  map[T]bool
	vals                  []T
	exceeded              bool
}

func newCollector[T comparable](limit, maxBytes int) *collector[T] {
	return &collector[T]{limit: limit, maxBytes: maxBytes, seen: map[T]bool{}}
}

// add collects v of size bytes and reports whether it was new.
func (c *collector[T]) add(v T, size int) bool {
	if c.exceeded {
		return false
	}
	if (c.maxBytes > 0 && c.used+size >= c.maxBytes) || (c.limit > 0 && len(c.vals) >= c.limit) {
		c.exceeded = true
		return false
	}
	if c.seen[v] {
		return false
	}
	c.seen[v] = true
	c.vals = append(c.vals, v)
	c.used += size
	return true
}

// scopedCollector is Tempo's ScopedDistinctString: one collector per
// scope with the per-scope limit (none for intrinsic), a byte bound on the
// total (exceeded when it would be passed), and everything stops as soon
// as one scope is full.
type scopedCollector struct {
	limit, maxBytes, used int
	scopes                map[string]*collector[string]
	order                 []string
	exceeded              bool
}

func (c *scopedCollector) add(scope, v string) {
	if c.exceeded {
		return
	}
	if c.maxBytes > 0 && c.used+len(v) > c.maxBytes {
		c.exceeded = true
		return
	}
	col := c.scopes[scope]
	if col == nil {
		limit := c.limit
		if scope == scopeIntrinsic {
			limit = 0
		}
		col = newCollector[string](limit, 0)
		c.scopes[scope] = col
		c.order = append(c.order, scope)
	}
	if col.add(v, len(v)) {
		c.used += len(v)
	}
	if col.exceeded {
		c.exceeded = true
	}
}

// sortedStrings returns vals sorted; never nil.
func sortedStrings(vals []string) []string {
	out := slices.Clone(vals)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}
