package node

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQueryMemoryCap: with a small --query-max-bytes, a search whose
// answers pass it gets 400 naming the cap on the native and the Tempo
// API, a narrower one is answered, and the node stays healthy.
func TestQueryMemoryCap(t *testing.T) {
	bin := findTelemetrygen(t)
	n := startNode(t, func(c *Config) { c.QueryMaxBytes = 4096 })
	const traces = 50
	runTelemetrygen(t, bin, "traces", "--traces", strconv.Itoa(traces), "--child-spans", "3",
		"--rate", "1000", "--otlp-insecure", "--otlp-endpoint", n.OTLPGRPCAddr())
	from, to := time.Now().Add(-10*time.Minute), time.Now().Add(time.Minute)
	eventually(t, 30*time.Second, func() string {
		if got := ingested(t, n, "traces"); got < traces*4 {
			return strconv.FormatFloat(got, 'f', 0, 64) + " spans stored"
		}
		return ""
	})
	for _, tc := range []struct {
		name, path string
		limit      int
		want       int
	}{
		{"native, all", "/api/v1/traces", traces, http.StatusBadRequest},
		{"tempo, all", "/tempo/api/search", traces, http.StatusBadRequest},
		{"native, two", "/api/v1/traces", 2, http.StatusOK},
		{"tempo, two", "/tempo/api/search", 2, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The native API reads unix nanoseconds, Tempo's unix seconds.
			start, end := strconv.FormatInt(from.UnixNano(), 10), strconv.FormatInt(to.UnixNano(), 10)
			if strings.HasPrefix(tc.path, "/tempo/") {
				start, end = strconv.FormatInt(from.Unix(), 10), strconv.FormatInt(to.Unix(), 10)
			}
			status, body := httpGet(t, apiURL(n, withQuery(tc.path, "q", "{ }", "spss", "10", "limit", strconv.Itoa(tc.limit), "start", start, "end", end)))
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
			if tc.want == http.StatusBadRequest && !strings.Contains(string(body), "memory cap") {
				t.Fatalf("400 without naming the cap: %s", body)
			}
			if tc.want == http.StatusOK && !strings.Contains(string(body), `"traceID"`) {
				t.Fatalf("no trace in the answer: %s", body)
			}
		})
	}
	if status, body := httpGet(t, apiURL(n, "/readyz")); status != http.StatusOK {
		t.Fatalf("readyz after the refused queries: %d %s", status, body)
	}
}
