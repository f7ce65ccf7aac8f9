package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// telemetrygen (the OpenTelemetry Collector's load generator) as a real,
// independent OTLP/gRPC client.

// findTelemetrygen returns the telemetrygen binary on PATH or in GOBIN /
// GOPATH/bin, or skips the test.
func findTelemetrygen(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("telemetrygen"); err == nil {
		return p
	}
	for _, v := range []string{"GOBIN", "GOPATH"} {
		out, err := exec.Command("go", "env", v).Output()
		dir := strings.TrimSpace(string(out))
		if err != nil || dir == "" {
			continue
		}
		if v == "GOPATH" {
			dir = filepath.Join(strings.Split(dir, string(os.PathListSeparator))[0], "bin")
		}
		p := filepath.Join(dir, "telemetrygen")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	t.Skip("telemetrygen is not on PATH nor in GOPATH/bin; CI installs it (.ci/run): " +
		"go install github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@v0.161.0")
	return ""
}

func runTelemetrygen(t *testing.T, bin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("telemetrygen %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestTelemetrygen(t *testing.T) {
	bin := findTelemetrygen(t)
	n := startNode(t, nil)
	common := []string{"--otlp-insecure", "--otlp-endpoint", n.OTLPGRPCAddr(), "--rate", "5000"}

	t.Run("traces", func(t *testing.T) {
		// --rate 0 would make telemetrygen drop data client-side: pace it.
		t0 := time.Now()
		runTelemetrygen(t, bin, append([]string{"traces", "--traces", "1000", "--child-spans", "9"}, common...)...)
		t.Logf("telemetrygen sent 1000 traces in %s", time.Since(t0))
		t0 = time.Now()
		var list apiTraces
		getJSON(t, n, withQuery("/api/v1/traces", "service", "telemetrygen", "limit", "1000"), &list)
		if len(list.Traces) != 1000 {
			t.Fatalf("search lists %d traces, want 1000", len(list.Traces))
		}
		t.Logf("search took %s", time.Since(t0))
		t0 = time.Now()
		seen := map[string]bool{}
		for _, s := range list.Traces {
			if seen[s.TraceID] {
				t.Errorf("trace %s listed twice", s.TraceID)
			}
			seen[s.TraceID] = true
			if s.SpanCount != 10 || s.RootService != "telemetrygen" {
				t.Errorf("trace %s: summary %+v, want 10 spans of telemetrygen", s.TraceID, s)
			}
		}
		// Every trace by id (all 1000, 8 at a time): exactly 10 spans, one
		// root, nine children of it.
		var mu sync.Mutex
		var failures []string
		ids := make(chan string)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for id := range ids {
					if why := checkGenTrace(n, id); why != "" {
						mu.Lock()
						failures = append(failures, id+": "+why)
						mu.Unlock()
					}
				}
			})
		}
		for id := range seen {
			ids <- id
		}
		close(ids)
		wg.Wait()
		t.Logf("1000 traces by id took %s", time.Since(t0))
		if len(failures) > 0 {
			t.Errorf("%d of 1000 traces are wrong, e.g. %s", len(failures), failures[0])
		}
	})

	t.Run("logs", func(t *testing.T) {
		runTelemetrygen(t, bin, append([]string{"logs", "--logs", "1000"}, common...)...)
		var got apiLogs
		getJSON(t, n, withQuery("/api/v1/logs", "service", "telemetrygen", "limit", "1000"), &got)
		if len(got.Logs) != 1000 {
			t.Fatalf("got %d logs, want 1000", len(got.Logs))
		}
		for i, l := range got.Logs {
			if l.Service != "telemetrygen" || l.Body == nil {
				t.Fatalf("log %d: %+v", i, l)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		// Samples are kept at millisecond precision, as Prometheus keeps
		// them, and a second sample of a series in the same millisecond
		// replaces the first. telemetrygen takes a point's time before
		// its rate limiter waits, so its first two points (values 0 and
		// 1) share a time, and at high rates later ones do too: at 100/s
		// the others are 10 ms apart, and what Starling holds is known.
		runTelemetrygen(t, bin, "metrics", "--metrics", "100", "--metric-type", "Sum", "--rate", "100",
			"--otlp-insecure", "--otlp-endpoint", n.OTLPGRPCAddr())
		// telemetrygen's "gen" sum is a monotonic counter: gen_total, as
		// Prometheus' OTLP receiver names it; job is its service.name.
		var got apiSeriesList
		getJSON(t, n, withQuery("/api/v1/metrics/series", "name", "gen_total", "limit", "1000"), &got)
		if len(got.Series) != 1 {
			t.Fatalf("gen_total: %d series, want 1", len(got.Series))
		}
		s := got.Series[0]
		if s.Labels["job"] != "telemetrygen" {
			t.Errorf("series %s %v: job %q", s.Name, s.Labels, s.Labels["job"])
		}
		// Values 0..99 in time order, each point that shared its
		// millisecond with the next replaced by it: the first two always
		// may, and on a loaded machine a burst after a stall of the rate
		// limiter may too. So the values rise strictly and end at 99, and
		// few are missing.
		if len(s.Samples) < 90 || len(s.Samples) > 100 {
			t.Fatalf("gen_total: %d samples, want 90 to 100 (100, less those that shared a millisecond with the next)", len(s.Samples))
		}
		prev, prevV := int64(0), -1
		for i, p := range s.Samples {
			tm := nanos(t, p.Time)
			if tm <= prev {
				t.Errorf("sample %d: not in time order", i)
			}
			prev = tm
			num, ok := p.Value.(json.Number)
			v, err := strconv.Atoi(num.String())
			if !ok || err != nil || v <= prevV || v > 99 {
				t.Errorf("sample %d: value %#v, want an integer above %d and at most 99", i, p.Value, prevV)
			}
			prevV = v
		}
		if prevV != 99 {
			t.Errorf("gen_total: last value %d, want 99", prevV)
		}
		// And through PromQL.
		checkInstant(t, promAPI(t, n), `count(count_over_time(gen_total{job="telemetrygen"}[1h]))`, map[string]float64{"{}": 1})
		checkInstant(t, promAPI(t, n), `sum(count_over_time(gen_total{job="telemetrygen"}[1h]))`, map[string]float64{"{}": float64(len(s.Samples))})
		checkInstant(t, promAPI(t, n), `max_over_time(gen_total{job="telemetrygen"}[1h])`, map[string]float64{`{job="telemetrygen"}`: 99})
	})
}

// checkGenTrace reads a telemetrygen trace by id: 10 spans, one root and
// nine children of it, all of service telemetrygen.
func checkGenTrace(n *Node, id string) string {
	resp, err := httpClient.Get(apiURL(n, "/api/v1/traces/"+id))
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return resp.Status + ": " + string(body)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
	if err != nil {
		return err.Error()
	}
	spans := pdataSpans(td)
	if len(spans) != 10 {
		return fmt.Sprintf("has %d spans, want 10", len(spans))
	}
	roots := 0
	var root string
	for _, s := range spans {
		if s.ParentSpanID == "" {
			roots++
			root = s.SpanID
		}
		if s.TraceID != id || s.Resource["service.name"] != "telemetrygen" {
			return fmt.Sprintf("span %s has trace %s and resource %v", s.SpanID, s.TraceID, s.Resource)
		}
	}
	if roots != 1 {
		return fmt.Sprintf("has %d roots", roots)
	}
	for _, s := range spans {
		if s.SpanID != root && s.ParentSpanID != root {
			return "span " + s.SpanID + " is not a child of the root"
		}
	}
	return ""
}
