package node

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// TestQueryCacheAPI: a Tempo search over a closed range is a miss, then a
// hit (explain says so on the native API, /metrics counts it), and a late
// write of the same service through OTLP/HTTP shows up in the next answer.
func TestQueryCacheAPI(t *testing.T) {
	n := startNode(t, nil)
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	write := func(tag string) {
		t.Helper()
		body := must(ptraceotlp.NewExportRequestFromTraces(testTraces(tag, base)).MarshalProto())
		if status, msg := postOTLP(t, n.OTLPHTTPAddr(), "/v1/traces", "application/x-protobuf", "", body); status != http.StatusOK {
			t.Fatalf("write %s: %d %s", tag, status, msg)
		}
	}
	write("cache")
	from, to := base.Add(-time.Minute), base.Add(time.Hour) // closed: ends an hour ago
	tempo := func() int {
		t.Helper()
		var got tempoSearch
		getJSON(t, n, withQuery("/tempo/api/search", "q", `{ resource.k8s.pod.name =~ "pod-.*" }`, "limit", "50",
			"start", strconv.FormatInt(from.Unix(), 10), "end", strconv.FormatInt(to.Unix(), 10)), &got)
		return len(got.Traces)
	}
	native := func() string {
		t.Helper()
		var got struct {
			Explain struct {
				Cache string `json:"cache"`
			} `json:"explain"`
		}
		getJSON(t, n, withQuery("/api/v1/traces", "q", `{ resource.k8s.pod.name =~ "pod-.*" }`, "limit", "50", "explain", "true",
			"start", strconv.FormatInt(from.UnixNano(), 10), "end", strconv.FormatInt(to.UnixNano(), 10)), &got)
		return got.Explain.Cache
	}
	first := tempo()
	if first == 0 {
		t.Fatal("first search: no trace")
	}
	if got := tempo(); got != first {
		t.Fatalf("second search: %d traces, want %d", got, first)
	}
	if hits := counterSum(scrape(t, n), "starling_query_cache_requests_total", map[string]string{"level": "l1", "result": "hit"}); hits != 1 {
		t.Fatalf("L1 hits %v after the second search, want 1", hits)
	}
	// The same query, range, limit and spss: one entry serves both APIs.
	if got := native(); got != "hit" {
		t.Fatalf("native explain: cache %q, want hit", got)
	}
	req, err := http.NewRequest(http.MethodGet, apiURL(n, withQuery("/api/v1/traces", "q", `{ resource.k8s.pod.name =~ "pod-.*" }`, "limit", "50", "explain", "true",
		"start", strconv.FormatInt(from.UnixNano(), 10), "end", strconv.FormatInt(to.UnixNano(), 10))), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"cache":"refused by the request`) {
		t.Fatalf("Cache-Control: no-cache answered %s", body)
	}
	write("late") // two hours old: late
	if got := tempo(); got != 2*first {
		t.Fatalf("after a late write: %d traces, want %d", got, 2*first)
	}
	if ratio := counterSum(scrape(t, n), "starling_query_cache_hit_ratio", map[string]string{"level": "l1"}); ratio <= 0 || ratio >= 1 {
		t.Fatalf("hit ratio %v, want between 0 and 1", ratio)
	}
}
