package prometheus

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/timestamp"
)

// /series, /labels and /label/{name}/values against the TSDB's own
// answers.

func TestSeries(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	for _, c := range []struct {
		match []string
		want  []string
	}{
		{[]string{`up`}, []string{`up{instance="a", job="api"}`}},
		{[]string{`http_requests_total{method="POST"}`}, []string{`http_requests_total{instance="b", job="api", method="POST"}`}},
		// Two selectors: the union, without the duplicate.
		{[]string{`up`, `{job="api", instance="a"}`}, []string{
			`http_requests_total{instance="a", job="api", method="GET"}`,
			`up{instance="a", job="api"}`,
		}},
		{[]string{`{"http.status_code"="200"}`}, []string{`utf8.metric{http.status_code="200", job="api"}`}},
		{[]string{`nonexistent`}, nil},
	} {
		got, _, _, err := f.client.Series(ctx, c.match, t0, tEnd)
		if err != nil {
			t.Fatalf("Series(%q): %v", c.match, err)
		}
		var strs []string
		for _, ls := range got {
			strs = append(strs, model.Metric(ls).String())
		}
		sort.Strings(strs)
		if !slices.Equal(strs, c.want) {
			t.Errorf("Series(%q) = %q, want %q", c.match, strs, c.want)
		}
	}

	// The JSON of an empty answer is [], not null.
	_, body, _ := f.call(t, http.MethodGet, "/api/v1/series", url.Values{"match[]": {"nonexistent"}})
	if body != `{"status":"success","data":[]}` {
		t.Errorf("empty series answer %s", body)
	}
	// Label values are not HTML-escaped, as in Prometheus.
	_, body, _ = f.call(t, http.MethodGet, "/api/v1/series", url.Values{"match[]": {"room_temperature_celsius"}})
	if want := `{"status":"success","data":[{"__name__":"room_temperature_celsius","room":"<kitchen> & co"}]}`; body != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
}

func TestSeriesLimit(t *testing.T) {
	f := newFixture(t, nil)
	got, warnings, _, err := f.client.Series(ctxT(t), []string{`{job="api"}`}, t0, tEnd, v1.WithLimit(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Equal(warnings, []string{"results truncated due to limit"}) {
		t.Errorf("%d series, warnings %q", len(got), warnings)
	}
}

func TestLabelNames(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	q, err := f.db.Querier(timestamp.FromTime(MinTime), timestamp.FromTime(MaxTime))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	want, _, err := q.LabelNames(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}

	got, _, _, err := f.client.LabelNames(ctx, nil, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(labelNamesStrings(got), want) {
		t.Errorf("LabelNames = %q, want the TSDB's %q", got, want)
	}

	got, _, _, err = f.client.LabelNames(ctx, []string{`up`, `room_temperature_celsius`}, t0, tEnd)
	if err != nil {
		t.Fatal(err)
	}
	if w := []string{"__name__", "instance", "job", "room"}; !slices.Equal(labelNamesStrings(got), w) {
		t.Errorf("LabelNames(up, room_temperature_celsius) = %q, want %q", got, w)
	}

	got, warnings, _, err := f.client.LabelNames(ctx, nil, t0, tEnd, v1.WithLimit(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !slices.Equal(warnings, []string{"results truncated due to limit"}) {
		t.Errorf("limit 2: %q, warnings %q", got, warnings)
	}
}

func labelNamesStrings(ns model.LabelNames) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = string(n)
	}
	return out
}

func TestLabelValues(t *testing.T) {
	f := newFixture(t, nil)
	ctx := ctxT(t)
	for _, c := range []struct {
		name  string
		match []string
		want  []string
	}{
		{"__name__", nil, []string{"http_requests_total", "request_duration_seconds", "room_temperature_celsius", "up", "utf8.metric"}},
		{"instance", nil, []string{"a", "b"}},
		{"instance", []string{`up`}, []string{"a"}},
		{"method", []string{`{instance="a"}`, `{instance="b"}`}, []string{"GET", "POST"}},
		// A UTF-8 label name in the path, escaped as Prometheus 3 reads it
		// (model.EscapeName with ValueEncodingEscaping; the docs' example
		// U__http_2e_status_code forgets to double the underscore, and is
		// then taken literally, as in Prometheus).
		{"U__http_2e_status__code", nil, []string{"200"}},
		{"U__http_2e_status_code", nil, []string{}},
		{"nonexistent", nil, []string{}},
	} {
		got, _, _, err := f.client.LabelValues(ctx, c.name, c.match, time.Time{}, time.Time{})
		if err != nil {
			t.Fatalf("LabelValues(%s, %q): %v", c.name, c.match, err)
		}
		strs := []string{}
		for _, v := range got {
			strs = append(strs, string(v))
		}
		if !slices.Equal(strs, c.want) {
			t.Errorf("LabelValues(%s, %q) = %q, want %q", c.name, c.match, strs, c.want)
		}
	}

	// A path-escaped UTF-8 name also works (ServeMux unescapes it).
	_, body, _ := f.call(t, http.MethodGet, "/api/v1/label/"+url.PathEscape("http.status_code")+"/values", nil)
	if body != `{"status":"success","data":["200"]}` {
		t.Errorf("path-escaped name: %s", body)
	}

	got, warnings, _, err := f.client.LabelValues(ctx, "__name__", nil, time.Time{}, time.Time{}, v1.WithLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "http_requests_total" || !slices.Equal(warnings, []string{"results truncated due to limit"}) {
		t.Errorf("limit 1: %q, warnings %q", got, warnings)
	}
}

// Config.DefaultLimit applies when a request has no limit; limit=0 still
// means no limit.
func TestDefaultLimit(t *testing.T) {
	f := newFixture(t, func(c *Config, _ *Deps) { c.DefaultLimit = 2 })
	for _, path := range []string{"/api/v1/series", "/api/v1/labels", "/api/v1/label/__name__/values"} {
		params := url.Values{"match[]": {`{job="api"}`}}
		_, _, env := f.call(t, http.MethodGet, path, params)
		if n := dataLen(t, env); n != 2 || !slices.Equal(env.Warnings, []string{"results truncated due to limit"}) {
			t.Errorf("%s without limit: %s, warnings %q", path, env.Data, env.Warnings)
		}
		params.Set("limit", "0")
		_, _, env = f.call(t, http.MethodGet, path, params)
		if len(env.Warnings) != 0 || dataLen(t, env) <= 2 {
			t.Errorf("%s limit=0: %s, warnings %q", path, env.Data, env.Warnings)
		}
	}
}

// dataLen is the length of an envelope's data, a list.
func dataLen(t *testing.T, env envelope) int {
	t.Helper()
	var list []json.RawMessage
	if err := json.Unmarshal(env.Data, &list); err != nil {
		t.Fatalf("data %s: %v", env.Data, err)
	}
	return len(list)
}
