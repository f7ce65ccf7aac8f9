package node

import (
	"strconv"
	"testing"
	"time"
)

// TestNoMatchSkipsPartitions: once the trace blooms are built, a search
// for a value no span has asks no partition (explain: partitions 0), and
// one for a value some span has still finds it.
func TestNoMatchSkipsPartitions(t *testing.T) {
	bin := findTelemetrygen(t)
	n := startNode(t, nil)
	runTelemetrygen(t, bin, "traces", "--traces", "40", "--child-spans", "2", "--rate", "1000",
		"--telemetry-attributes", `tenant="acme"`, "--otlp-insecure", "--otlp-endpoint", n.OTLPGRPCAddr())
	from, to := time.Now().Add(-10*time.Minute), time.Now().Add(time.Minute)
	type explained struct {
		Traces  []struct{} `json:"traces"`
		Explain struct {
			Partitions int `json:"partitions"`
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
	if got := search(`{ span.tenant = "acme" }`); len(got.Traces) != 40 || got.Explain.Partitions == 0 || got.Explain.Partitions == 256 {
		t.Fatalf("acme with the blooms built: %d traces from %d partitions; want 40 from some of the 256", len(got.Traces), got.Explain.Partitions)
	}
}
