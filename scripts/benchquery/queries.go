package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// window is a query's time range.
type window struct{ start, end time.Time }

// starlingNs, tempoS and jaegerUs write a window as each API reads it:
// unix nanoseconds (/api/v1), unix seconds (Tempo, widened to whole
// seconds), unix microseconds (Jaeger, widened to whole µs).
func (w window) starlingNs() (string, string) {
	return strconv.FormatInt(w.start.UnixNano(), 10), strconv.FormatInt(w.end.UnixNano(), 10)
}

func (w window) tempoS() (string, string) {
	end := w.end.Unix()
	if w.end.After(time.Unix(end, 0)) {
		end++
	}
	return strconv.FormatInt(w.start.Unix(), 10), strconv.FormatInt(end, 10)
}

func (w window) jaegerUs() (string, string) {
	return strconv.FormatInt(w.start.UnixMicro(), 10), strconv.FormatInt(w.end.UnixMicro()+1, 10)
}

// qctx is what the requests of one pass draw on: the samples of the
// batches loaded so far and the range to search.
type qctx struct {
	samples []Sample
	win     window
	perm    []int // a fixed shuffle of samples, so request i reads sample perm[i % n]
}

func newQctx(samples []Sample, win window, seed uint64) *qctx {
	q := &qctx{samples: samples, win: win, perm: make([]int, len(samples))}
	for i := range q.perm {
		q.perm[i] = i
	}
	// A fixed shuffle (Fisher–Yates with a small LCG): the samples are in
	// batch order, and request i then reads a trace from anywhere.
	x := seed*6364136223846793005 + 1442695040888963407
	for i := len(q.perm) - 1; i > 0; i-- {
		x = x*6364136223846793005 + 1442695040888963407
		j := int((x >> 33) % uint64(i+1))
		q.perm[i], q.perm[j] = q.perm[j], q.perm[i]
	}
	return q
}

func (q *qctx) sample(i int) Sample { return q.samples[q.perm[i%len(q.perm)]] }

// service is the i-th service searched for: every one in turn.
func (q *qctx) service(i int) string { return serviceNames[i%services] }

// answer is what a response is checked for: traces returned (searches) or
// spans returned (trace by ID).
type answer int

const (
	answerTraces answer = iota
	answerTrace
)

// query is one request kind of one server.
type query struct {
	key    string // starling: "svc-api"; jaeger: "svc"
	server string
	label  string
	kind   answer
	search bool
	// url is the i-th request's path and query.
	url func(q *qctx, i int) string
	// want is the span count a trace-by-ID answer must have (0: any).
	want func(q *qctx, i int) int
	// peer is the Jaeger query this Starling query is compared with ("":
	// none); cannot says why.
	peer, cannot string
	// target is the p99 target for Starling (0: none).
	target time.Duration
}

const noMatch = "does-not-exist"

func tql(path string, q string, extra url.Values) string {
	v := url.Values{"q": {q}}
	for k, vs := range extra {
		v[k] = vs
	}
	return path + "?" + v.Encode()
}

func starlingQueries() []query {
	v1 := func(q *qctx, extra url.Values) url.Values {
		s, e := q.win.starlingNs()
		v := url.Values{"limit": {"20"}, "start": {s}, "end": {e}}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	tempo := func(q *qctx, traceql string) string {
		s, e := q.win.tempoS()
		return "/tempo/api/search?" + url.Values{"q": {traceql}, "limit": {"20"}, "start": {s}, "end": {e}}.Encode()
	}
	const (
		searchTarget  = 50 * time.Millisecond
		noMatchTarget = 20 * time.Millisecond
		byIDTarget    = 2 * time.Millisecond
	)
	return []query{
		{key: "id-api", label: "trace by ID, /api/v1/traces/{id}", kind: answerTrace, peer: "id", target: byIDTarget,
			url:  func(q *qctx, i int) string { return "/api/v1/traces/" + q.sample(i).TraceID },
			want: func(q *qctx, i int) int { return q.sample(i).Spans }},
		{key: "id-tempo", label: "trace by ID, Tempo /api/v2/traces/{id}", kind: answerTrace, peer: "id", target: byIDTarget,
			url:  func(q *qctx, i int) string { return "/tempo/api/v2/traces/" + q.sample(i).TraceID },
			want: func(q *qctx, i int) int { return q.sample(i).Spans }},
		{key: "svc-api", label: "service, /api/v1/traces?service=", search: true, peer: "svc", target: searchTarget,
			url: func(q *qctx, i int) string {
				return "/api/v1/traces?" + v1(q, url.Values{"service": {q.service(i)}}).Encode()
			}},
		{key: "svc-tql", label: `service, TraceQL {resource.service.name="…"}`, search: true, peer: "svc", target: searchTarget,
			url: func(q *qctx, i int) string {
				return tempo(q, fmt.Sprintf(`{resource.service.name=%q}`, q.service(i)))
			}},
		{key: "rare-api", label: "rare attribute, /api/v1/traces?attr.user.id=", search: true, peer: "rare", target: searchTarget,
			url: func(q *qctx, i int) string {
				return "/api/v1/traces?" + v1(q, url.Values{"attr.user.id": {q.sample(i).UserID}}).Encode()
			}},
		{key: "rare-tql", label: `rare attribute, TraceQL { span.user.id = "…" }`, search: true, peer: "rare", target: searchTarget,
			url: func(q *qctx, i int) string {
				return tempo(q, fmt.Sprintf(`{ span.user.id = %q }`, q.sample(i).UserID))
			}},
		{key: "common-api", label: "common attr + duration, /api/v1 service=&attr.http.method=GET&minDuration=500ms", search: true, peer: "common", target: searchTarget,
			url: func(q *qctx, i int) string {
				return "/api/v1/traces?" + v1(q, url.Values{"service": {q.service(i)}, "attr.http.method": {"GET"}, "minDuration": {"500ms"}}).Encode()
			}},
		{key: "common-tql", label: `common attr + duration, TraceQL { span.http.method = "GET" && duration > 500ms }`, search: true, peer: "common", target: searchTarget,
			url: func(q *qctx, _ int) string { return tempo(q, `{ span.http.method = "GET" && duration > 500ms }`) }},
		{key: "nomatch-api", label: "no match, /api/v1 service=&attr.request.id=" + noMatch, search: true, peer: "nomatch", target: noMatchTarget,
			url: func(q *qctx, i int) string {
				return "/api/v1/traces?" + v1(q, url.Values{"service": {q.service(i)}, "attr.request.id": {noMatch}}).Encode()
			}},
		{key: "nomatch-tql", label: `no match, TraceQL { span.request.id = "` + noMatch + `" }`, search: true, peer: "nomatch", target: noMatchTarget,
			url: func(q *qctx, _ int) string { return tempo(q, `{ span.request.id = "`+noMatch+`" }`) }},
		{key: "agg-tql", label: `aggregate, TraceQL { resource.service.name = "…" } | count() > 5`, search: true, target: searchTarget,
			cannot: "Jaeger's API has no aggregates",
			url: func(q *qctx, i int) string {
				return tempo(q, fmt.Sprintf(`{ resource.service.name = %q } | count() > 5`, q.service(i)))
			}},
	}
}

// starlingTraceQL is the TraceQL of each Starling search, for the explain
// and pushdown passes on /api/v1/traces?q=.
func starlingTraceQL(key string, q *qctx, i int) string {
	switch key {
	case "svc-api", "svc-tql":
		return fmt.Sprintf(`{ resource.service.name = %q }`, q.service(i))
	case "rare-api", "rare-tql":
		return fmt.Sprintf(`{ span.user.id = %q }`, q.sample(i).UserID)
	case "common-api":
		return fmt.Sprintf(`{ resource.service.name = %q && span.http.method = "GET" && duration >= 500ms }`, q.service(i))
	case "common-tql":
		return `{ span.http.method = "GET" && duration > 500ms }`
	case "nomatch-api":
		return fmt.Sprintf(`{ resource.service.name = %q && span.request.id = "%s" }`, q.service(i), noMatch)
	case "nomatch-tql":
		return `{ span.request.id = "` + noMatch + `" }`
	case "agg-tql":
		return fmt.Sprintf(`{ resource.service.name = %q } | count() > 5`, q.service(i))
	}
	return ""
}

func jaegerQueries() []query {
	search := func(q *qctx, service string, tags map[string]string, extra url.Values) string {
		s, e := q.win.jaegerUs()
		v := url.Values{"service": {service}, "limit": {"20"}, "start": {s}, "end": {e}}
		if len(tags) > 0 {
			b, _ := json.Marshal(tags)
			v.Set("tags", string(b))
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return "/api/traces?" + v.Encode()
	}
	return []query{
		{key: "id", label: "trace by ID, /api/traces/{id}", kind: answerTrace,
			url:  func(q *qctx, i int) string { return "/api/traces/" + q.sample(i).TraceID },
			want: func(q *qctx, i int) int { return q.sample(i).Spans }},
		{key: "svc", label: "service, /api/traces?service=", search: true,
			url: func(q *qctx, i int) string { return search(q, q.service(i), nil, nil) }},
		{key: "rare", label: `rare attribute, tags={"user.id":"…"}&service= (of that span)`, search: true,
			url: func(q *qctx, i int) string {
				s := q.sample(i)
				return search(q, s.RootService, map[string]string{"user.id": s.UserID}, nil)
			}},
		{key: "common", label: `tags={"http.method":"GET"}&minDuration=500ms&service=`, search: true,
			url: func(q *qctx, i int) string {
				return search(q, q.service(i), map[string]string{"http.method": "GET"}, url.Values{"minDuration": {"500ms"}})
			}},
		{key: "nomatch", label: `tags={"request.id":"` + noMatch + `"}&service=`, search: true,
			url: func(q *qctx, i int) string {
				return search(q, q.service(i), map[string]string{"request.id": noMatch}, nil)
			}},
	}
}

// stats is what one query kind measured in one pass.
type stats struct {
	n, errs        int
	firstErr       string
	p50, p99, mean time.Duration
	max            time.Duration
	hitsMin        int
	hitsMax        int
	hitsSum        int
	empty          int // searches that answered no trace though one exists (rare), or traces not found / short
	budgetCut      bool
}

func (s *stats) ok() bool { return s != nil && s.n > 0 }

// get sends one GET; without cached, it asks the server not to answer
// from a results cache (Cache-Control: no-cache; servers without one
// ignore it).
func get(client *http.Client, u string, cached bool) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if !cached {
		req.Header.Set("Cache-Control", "no-cache")
	}
	return client.Do(req)
}

// run sends q's requests one after another: o.queries of them, or fewer
// when o.budget is spent (at least 5); cached: see get.
func runQuery(o *options, s *server, q query, qc *qctx, cached bool) *stats {
	client := &http.Client{Timeout: 2 * time.Minute}
	st := &stats{hitsMin: math.MaxInt}
	var ds []time.Duration
	t0 := time.Now()
	for i := 0; i < o.queries; i++ {
		if i >= 5 && time.Since(t0) > o.budget {
			st.budgetCut = true
			break
		}
		if st.errs >= 10 && len(ds) == 0 {
			break
		}
		u := s.api + q.url(qc, i)
		t := time.Now()
		resp, err := get(client, u, cached)
		if err != nil {
			st.errs++
			st.firstErr = first(st.firstErr, err.Error())
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t)
		if err != nil || resp.StatusCode != http.StatusOK {
			st.errs++
			st.firstErr = first(st.firstErr, fmt.Sprintf("%s: %.300s", resp.Status, body))
			continue
		}
		ds = append(ds, d)
		n, err := count(s.key, q, body)
		if err != nil {
			st.errs++
			st.firstErr = first(st.firstErr, err.Error())
			continue
		}
		st.hitsMin, st.hitsMax, st.hitsSum = min(st.hitsMin, n), max(st.hitsMax, n), st.hitsSum+n
		switch {
		case q.kind == answerTrace && n != q.want(qc, i):
			st.empty++
			st.firstErr = first(st.firstErr, fmt.Sprintf("trace %s: %d spans, generated %d", qc.sample(i).TraceID, n, q.want(qc, i)))
		case q.kind == answerTraces && n == 0 && (q.key == "rare-api" || q.key == "rare-tql" || q.key == "rare"):
			st.empty++
		}
	}
	st.n = len(ds)
	if st.hitsMin == math.MaxInt {
		st.hitsMin = 0
	}
	if len(ds) > 0 {
		slices.Sort(ds)
		pct := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
		st.p50, st.p99, st.max = pct(0.50), pct(0.99), ds[len(ds)-1]
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		st.mean = sum / time.Duration(len(ds))
	}
	return st
}

func first(cur, msg string) string {
	if cur != "" {
		return cur
	}
	return msg
}

// count reads the number of traces a search answered, or the spans of a
// trace by ID.
func count(serverKey string, q query, body []byte) (int, error) {
	switch {
	case q.kind == answerTrace && serverKey == "jaeger":
		var a struct {
			Data []struct {
				Spans []json.RawMessage `json:"spans"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return 0, fmt.Errorf("trace answer: %w", err)
		}
		n := 0
		for _, t := range a.Data {
			n += len(t.Spans)
		}
		return n, nil
	case q.kind == answerTrace:
		// OTLP JSON: /api/v1 answers {"resourceSpans": …}, Tempo v2
		// {"trace": {"resourceSpans": …}}.
		type otlp struct {
			ResourceSpans []struct {
				ScopeSpans []struct {
					Spans []json.RawMessage `json:"spans"`
				} `json:"scopeSpans"`
			} `json:"resourceSpans"`
		}
		var a struct {
			otlp
			Trace *otlp `json:"trace"`
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return 0, fmt.Errorf("trace answer: %w", err)
		}
		t := a.otlp
		if a.Trace != nil {
			t = *a.Trace
		}
		n := 0
		for _, rs := range t.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				n += len(ss.Spans)
			}
		}
		return n, nil
	case serverKey == "jaeger":
		var a struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return 0, fmt.Errorf("search answer: %w", err)
		}
		return len(a.Data), nil
	default:
		var a struct {
			Traces []json.RawMessage `json:"traces"`
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return 0, fmt.Errorf("search answer: %w", err)
		}
		return len(a.Traces), nil
	}
}

// pass is one run of a set of queries against one server.
type pass map[string]*stats

// runPass runs every query of the server (searchOnly: the searches only)
// and logs each one's figures.
func runPass(o *options, s *server, qs []query, qc *qctx, name string, warm bool) pass {
	p := pass{}
	for _, q := range qs {
		if warm && !q.search {
			continue
		}
		st := runQuery(o, s, q, qc, warm)
		p[q.key] = st
		cut := ""
		if st.budgetCut {
			cut = fmt.Sprintf(" (stopped at the %s budget)", o.budget)
		}
		msg := ""
		if st.errs > 0 {
			msg = fmt.Sprintf(", %d failed: %s", st.errs, st.firstErr)
		}
		logf("  %s %s: %s: %d × p50 %s p99 %s mean %s, %s%s%s", s.name, name, q.label, st.n, ms(st.p50), ms(st.p99), ms(st.mean), hits(q, st), cut, msg)
	}
	return p
}

func hits(q query, st *stats) string {
	if st.n == 0 {
		return "no answer"
	}
	what := "traces"
	if q.kind == answerTrace {
		what = "spans"
	}
	s := fmt.Sprintf("%s %d–%d (mean %.1f)", what, st.hitsMin, st.hitsMax, float64(st.hitsSum)/float64(st.n))
	if st.empty > 0 {
		if q.kind == answerTrace {
			s += fmt.Sprintf(", %d with the wrong span count", st.empty)
		} else {
			s += fmt.Sprintf(", %d found none though the value is in the data", st.empty)
		}
	}
	return s
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// explainResult is one search's explain figures.
type explainResult struct {
	bytesMoved      int64
	inspectedTraces uint64
	took            time.Duration
	traces          int
	err             string
}

// explainOnce runs q (TraceQL) on /api/v1/traces?explain=true once over
// win, with pushdown or without (pushdown=false).
func explainOnce(s *server, traceql string, win window, pushdown bool) explainResult {
	st, en := win.starlingNs()
	v := url.Values{"q": {traceql}, "limit": {"20"}, "start": {st}, "end": {en}, "explain": {"true"}}
	if !pushdown {
		v.Set("pushdown", "false")
	}
	client := &http.Client{Timeout: 10 * time.Minute}
	t0 := time.Now()
	resp, err := get(client, s.api+"/api/v1/traces?"+v.Encode(), false)
	if err != nil {
		return explainResult{err: err.Error()}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(t0)
	if err != nil {
		return explainResult{err: err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		return explainResult{err: fmt.Sprintf("%s: %.300s", resp.Status, body)}
	}
	var a struct {
		Traces  []json.RawMessage `json:"traces"`
		Explain *struct {
			BytesMoved int64 `json:"bytesMoved"`
			Stages     []struct {
				InspectedTraces uint64 `json:"inspectedTraces"`
			} `json:"stages"`
		} `json:"explain"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return explainResult{err: "explain answer: " + err.Error()}
	}
	if a.Explain == nil {
		return explainResult{err: "the answer has no explain"}
	}
	r := explainResult{bytesMoved: a.Explain.BytesMoved, took: took, traces: len(a.Traces)}
	for _, s := range a.Explain.Stages {
		r.inspectedTraces += s.InspectedTraces
	}
	return r
}
