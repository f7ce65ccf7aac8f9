package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/starling-otel/starling/query/traceql"
	"github.com/starling-otel/starling/query/traceql/traceqltest"
)

// TestTraceQLConformance runs the TraceQL conformance table (the one the
// in-memory evaluator passes, traceqltest) through real nodes: its data
// set goes in through OTLP/gRPC, every query through /tempo/api/search of
// every node, and each answer must be the table's traces and, where the
// table says, its matched spans.
func TestTraceQLConformance(t *testing.T) {
	t.Run("one-node", func(t *testing.T) {
		conformanceThrough(t, []*Node{startNode(t, nil)})
	})
	t.Run("three-nodes-rf3", func(t *testing.T) {
		conformanceThrough(t, startCluster(t, 3, 65, func(_ int, c *Config) {
			c.ReplicationFactor, c.MinInSync, c.Partitions = 3, 2, 16
		}))
	})
}

// conformanceSearch is the part of a Tempo search answer the test reads.
type conformanceSearch struct {
	Traces []struct {
		TraceID  string `json:"traceID"`
		SpanSets []struct {
			Matched int `json:"matched"`
			Spans   []struct {
				SpanID string `json:"spanID"`
				Name   string `json:"name"`
			} `json:"spans"`
		} `json:"spanSets"`
	} `json:"traces"`
}

// conformanceAnswer is what one search answered: trace numbers and
// matched span labels, both sorted, or why it could not be read.
type conformanceAnswer struct {
	traces []int
	spans  []string
	err    string
}

func (a conformanceAnswer) String() string {
	if a.err != "" {
		return a.err
	}
	return fmt.Sprintf("traces %v spans [%s]", a.traces, strings.Join(a.spans, ", "))
}

func conformanceThrough(t *testing.T, nodes []*Node) {
	now := time.Now()
	t0 := now.Add(-30 * time.Minute).Truncate(time.Second).UnixNano()
	traces := traceqltest.Traces(t0)

	// The answers name traces by their ID (leading zeros trimmed) and
	// spans by theirs: map both back to the table's numbers and labels.
	traceNum := map[string]int{}
	spanLabel := map[string]string{}
	for i := range traces {
		tr := &traces[i]
		traceNum[hex.EncodeToString(tr.ID[:])] = int(tr.ID[15])
		for j := range tr.Spans {
			spanLabel[hex.EncodeToString(tr.Spans[j].ID[:])] = traceqltest.SpanLabel(&tr.Spans[j])
		}
	}

	conn, err := grpc.NewClient(nodes[0].OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(traceqltest.Pdata(traces)))
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if ps := resp.PartialSuccess(); ps.RejectedSpans() != 0 || ps.ErrorMessage() != "" {
		t.Fatalf("export: %d spans rejected: %s", ps.RejectedSpans(), ps.ErrorMessage())
	}

	start := strconv.FormatInt(t0/int64(time.Second)-60, 10)
	end := strconv.FormatInt(time.Now().Unix()+60, 10)
	search := func(n *Node, q string) conformanceAnswer {
		path := withQuery("/tempo/api/search", "q", q, "limit", "100", "spss", "100", "start", start, "end", end)
		status, body := httpGet(t, apiURL(n, path))
		if status != http.StatusOK {
			return conformanceAnswer{err: fmt.Sprintf("status %d: %s", status, body)}
		}
		var got conformanceSearch
		if err := decodeJSON(body, &got); err != nil {
			return conformanceAnswer{err: fmt.Sprintf("%v: %s", err, body)}
		}
		var a conformanceAnswer
		var problems []string
		for _, tr := range got.Traces {
			id := strings.Repeat("0", max(0, 32-len(tr.TraceID))) + tr.TraceID
			k, ok := traceNum[id]
			if !ok {
				problems = append(problems, "unknown trace "+tr.TraceID)
				continue
			}
			a.traces = append(a.traces, k)
			for _, set := range tr.SpanSets {
				if set.Matched != len(set.Spans) || len(set.Spans) == 0 {
					problems = append(problems, fmt.Sprintf("trace %d: a spanset of %d spans says matched %d", k, len(set.Spans), set.Matched))
				}
				for _, s := range set.Spans {
					l, ok := spanLabel[s.SpanID]
					if !ok {
						problems = append(problems, fmt.Sprintf("trace %d: unknown span %s %q", k, s.SpanID, s.Name))
						continue
					}
					a.spans = append(a.spans, l)
				}
			}
		}
		slices.Sort(a.traces)
		slices.Sort(a.spans)
		a.spans = slices.Compact(a.spans)
		if len(problems) > 0 {
			a.err = strings.Join(problems, "; ") + " in " + a.String()
		}
		return a
	}

	for _, n := range nodes {
		eventually(t, 30*time.Second, func() string {
			if a := search(n, "{}"); a.err != "" || len(a.traces) != len(traces) {
				return fmt.Sprintf("{} through %s: %s", n.NodeID(), a)
			}
			return ""
		})
	}

	cases := traceqltest.Cases()
	checked := 0
	for _, c := range cases {
		q, err := traceql.Parse(c.Query)
		if err != nil {
			t.Errorf("%s: %v", c.Query, err)
			continue
		}
		if q.IsMetrics() {
			t.Logf("skipped %s: a metrics query, which /api/search does not answer", c.Query)
			continue
		}
		checked++
		want := conformanceAnswer{traces: c.Traces}
		var first string
		for i, n := range nodes {
			got := search(n, c.Query)
			switch {
			case got.err != "":
				t.Errorf("%s via %s: %s", c.Query, n.NodeID(), got.err)
			case !slices.Equal(got.traces, want.traces):
				t.Errorf("%s via %s: traces %v, want %v", c.Query, n.NodeID(), got.traces, want.traces)
			case c.Spans != nil && !slices.Equal(got.spans, sortedCopy(c.Spans)):
				t.Errorf("%s via %s: spans\n got %s\nwant %s", c.Query, n.NodeID(),
					strings.Join(got.spans, ", "), strings.Join(sortedCopy(c.Spans), ", "))
			}
			if i == 0 {
				first = got.String()
			} else if got.String() != first {
				t.Errorf("%s: %s answers %s, %s answers %s", c.Query, nodes[0].NodeID(), first, n.NodeID(), got)
			}
		}
	}
	t.Logf("%d cases, %d checked through %d nodes", len(cases), checked, len(nodes))
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
