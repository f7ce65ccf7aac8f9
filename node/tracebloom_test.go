package node

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestNoMatchSkipsPartitions: once the trace summaries are ready, a search
// for a value no span has asks no partition (explain: partitions 0), and
// one for a value some span has still finds it, with the measured span
// groups of its term as the plan's estimate.
func TestNoMatchSkipsPartitions(t *testing.T) {
	bin := findTelemetrygen(t)
	n := startNode(t, nil)
	runTelemetrygen(t, bin, "traces", "--traces", "40", "--child-spans", "2", "--rate", "1000",
		"--telemetry-attributes", `tenant="acme"`, "--otlp-insecure", "--otlp-endpoint", n.OTLPGRPCAddr())
	from, to := time.Now().Add(-10*time.Minute), time.Now().Add(time.Minute)
	type explained struct {
		Traces  []struct{} `json:"traces"`
		Explain struct {
			Partitions          int    `json:"partitions"`
			Estimate            string `json:"estimate"`
			EstimatedCandidates int64  `json:"estimatedCandidates"`
			Terms               []struct {
				Term   string `json:"term"`
				Groups int64  `json:"groups"`
			} `json:"terms"`
		} `json:"explain"`
	}
	search := func(q string) explained {
		t.Helper()
		var got explained
		getJSON(t, n, withQuery("/api/v1/traces", "q", q, "limit", "100", "explain", "true",
			"start", strconv.FormatInt(from.UnixNano(), 10), "end", strconv.FormatInt(to.UnixNano(), 10)), &got)
		return got
	}
	eventually(t, 30*time.Second, func() string {
		if got := search(`{ span.tenant = "acme" }`); len(got.Traces) != 40 {
			return strconv.Itoa(len(got.Traces)) + " traces of acme"
		}
		return ""
	})
	eventually(t, 30*time.Second, func() string {
		if got := search(`{ span.tenant = "nobody" }`); got.Explain.Partitions != 0 || len(got.Traces) != 0 {
			return strconv.Itoa(got.Explain.Partitions) + " partitions asked for a value no span has"
		}
		return ""
	})
	got := search(`{ span.tenant = "acme" }`)
	if len(got.Traces) != 40 || got.Explain.Partitions == 0 || got.Explain.Partitions == 256 {
		t.Fatalf("acme with the blooms built: %d traces from %d partitions; want 40 from some of the 256", len(got.Traces), got.Explain.Partitions)
	}
	// The estimate: the kept span groups of the pushed term (one node
	// reads every partition; every span of the 40 traces carries it, in
	// one group or more each).
	if e := got.Explain; len(e.Terms) != 1 || e.Terms[0].Term != `.tenant = "acme"` || e.Terms[0].Groups < 40 || e.EstimatedCandidates != e.Terms[0].Groups || !strings.HasPrefix(e.Estimate, "kept term counts of ") {
		t.Fatalf("estimate: %+v", e)
	}
}
