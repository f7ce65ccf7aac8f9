package node

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The Tempo and Jaeger query APIs against traces telemetrygen sent.

// tempoSearch is the part of Tempo's search answer the tests read.
type tempoSearch struct {
	Traces []struct {
		TraceID         string `json:"traceID"`
		RootServiceName string `json:"rootServiceName"`
		RootTraceName   string `json:"rootTraceName"`
		SpanSets        []struct {
			Matched int `json:"matched"`
			Spans   []struct {
				SpanID string `json:"spanID"`
				Name   string `json:"name"`
			} `json:"spans"`
		} `json:"spanSets"`
	} `json:"traces"`
	Metrics struct {
		InspectedTraces int `json:"inspectedTraces"`
		TotalJobs       int `json:"totalJobs"`
	} `json:"metrics"`
}

// jaegerTraces is the part of Jaeger's /api/traces answer the tests read.
type jaegerTraces struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			ProcessID     string `json:"processID"`
			Duration      int64  `json:"duration"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

func TestTempoAndJaegerAPIs(t *testing.T) {
	bin := findTelemetrygen(t)
	n := startNode(t, nil)
	const traces, spans = 50, 4 // a root and three children each
	runTelemetrygen(t, bin, "traces", "--traces", strconv.Itoa(traces), "--child-spans", strconv.Itoa(spans-1),
		"--rate", "1000", "--telemetry-attributes", `http.method="GET"`,
		"--otlp-insecure", "--otlp-endpoint", n.OTLPGRPCAddr())
	start, end := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10), strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)
	search := func(q string, limit int) tempoSearch {
		var got tempoSearch
		getJSON(t, n, withQuery("/tempo/api/search", "q", q, "limit", strconv.Itoa(limit), "spss", "10", "start", start, "end", end), &got)
		return got
	}
	eventually(t, 30*time.Second, func() string {
		if got := search("{}", 100); len(got.Traces) != traces {
			return strconv.Itoa(len(got.Traces)) + " traces found"
		}
		return ""
	})

	t.Run("tempo search", func(t *testing.T) {
		cases := []struct {
			q           string
			traces, set int // traces found; spans in each trace's spanset
		}{
			{`{ resource.service.name = "telemetrygen" }`, traces, spans},
			{`{ span.http.method = "GET" && kind = client }`, traces, 0},
			{`{ name = "lets-go" } > { }`, traces, spans - 1},
			{`{ } | count() = 4`, traces, spans},
			{`{ } | count() > 4`, 0, 0},
			{`{ span.http.method = "POST" }`, 0, 0},
			{`{ trace:rootName = "lets-go" && name =~ "okey-dokey-.*" }`, traces, spans - 1},
		}
		for _, c := range cases {
			got := search(c.q, 100)
			if len(got.Traces) != c.traces {
				t.Errorf("%s: %d traces, want %d", c.q, len(got.Traces), c.traces)
				continue
			}
			for _, tr := range got.Traces {
				if tr.RootServiceName != "telemetrygen" || tr.RootTraceName != "lets-go" || len(tr.SpanSets) != 1 {
					t.Errorf("%s: trace %s: %+v", c.q, tr.TraceID, tr)
					break
				}
				if c.set > 0 && tr.SpanSets[0].Matched != c.set {
					t.Errorf("%s: trace %s: %d spans matched, want %d", c.q, tr.TraceID, tr.SpanSets[0].Matched, c.set)
					break
				}
			}
		}
		if got := search("{}", 7); len(got.Traces) != 7 || got.Metrics.TotalJobs == 0 {
			t.Errorf("limit 7: %d traces, metrics %+v", len(got.Traces), got.Metrics)
		}
		status, body := httpGet(t, apiURL(n, withQuery("/tempo/api/search", "q", `{ .a = }`)))
		if status != http.StatusBadRequest || string(body) == "" {
			t.Errorf("a malformed query: %d %s, want 400 with the position", status, body)
		}
	})

	t.Run("native search with and without pushdown", func(t *testing.T) {
		type answer struct {
			Traces []struct {
				TraceID string `json:"traceID"`
			} `json:"traces"`
			Explain struct {
				Exact      bool `json:"exact"`
				BytesMoved int  `json:"bytesMoved"`
			} `json:"explain"`
		}
		for _, q := range []string{`{ name = "okey-dokey-1" }`, `{ span.http.method = "GET" && kind = client }`, `{ } | count() = 4`} {
			var with, without answer
			getJSON(t, n, withQuery("/api/v1/traces", "q", q, "limit", "20", "explain", "true", "start", start+"000000000", "end", end+"000000000"), &with)
			getJSON(t, n, withQuery("/api/v1/traces", "q", q, "limit", "20", "explain", "true", "pushdown", "false", "start", start+"000000000", "end", end+"000000000"), &without)
			if len(with.Traces) != 20 || len(without.Traces) != 20 {
				t.Errorf("%s: %d traces with pushdown, %d without, want 20", q, len(with.Traces), len(without.Traces))
				continue
			}
			for i := range with.Traces {
				if with.Traces[i].TraceID != without.Traces[i].TraceID {
					t.Errorf("%s: trace %d is %s with pushdown, %s without", q, i, with.Traces[i].TraceID, without.Traces[i].TraceID)
					break
				}
			}
			if with.Explain.BytesMoved == 0 || with.Explain.BytesMoved >= without.Explain.BytesMoved {
				t.Errorf("%s: %d bytes moved with pushdown, %d without", q, with.Explain.BytesMoved, without.Explain.BytesMoved)
			}
			t.Logf("%s: %d bytes moved with pushdown, %d without (exact plan: %v)", q, with.Explain.BytesMoved, without.Explain.BytesMoved, with.Explain.Exact)
		}
	})

	t.Run("tempo trace by id", func(t *testing.T) {
		got := search("{}", 1)
		if len(got.Traces) != 1 {
			t.Fatalf("no trace to read")
		}
		id := got.Traces[0].TraceID
		for len(id) < 32 {
			id = "0" + id // Tempo trims the leading zeros of a search's trace IDs
		}
		req, _ := http.NewRequest(http.MethodGet, apiURL(n, "/tempo/api/traces/"+id), nil)
		req.Header.Set("Accept", "application/protobuf")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET trace: %d %v", resp.StatusCode, err)
		}
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(buf)
		if err != nil {
			t.Fatalf("decode the OTLP protobuf: %v", err)
		}
		if td.SpanCount() != spans {
			t.Errorf("trace %s: %d spans, want %d", id, td.SpanCount(), spans)
		}
		raw, _ := hex.DecodeString(id)
		if got := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID(); string(got[:]) != string(raw) {
			t.Errorf("trace id %x, want %s", got, id)
		}
		if status, _ := httpGet(t, apiURL(n, "/tempo/api/traces/00000000000000000000000000000001")); status != http.StatusNotFound {
			t.Errorf("unknown trace: %d, want 404", status)
		}
	})

	t.Run("jaeger", func(t *testing.T) {
		var services struct {
			Data []string `json:"data"`
		}
		getJSON(t, n, "/jaeger/api/services", &services)
		if len(services.Data) != 1 || services.Data[0] != "telemetrygen" {
			t.Errorf("services %v", services.Data)
		}
		var ops struct {
			Data []string `json:"data"`
		}
		getJSON(t, n, "/jaeger/api/services/telemetrygen/operations", &ops)
		if len(ops.Data) != spans {
			t.Errorf("operations %v, want %d", ops.Data, spans)
		}
		// telemetrygen's root is a client span, its children server spans.
		for _, tc := range []struct {
			kind string
			want int
		}{{"", spans}, {"client", 1}, {"server", spans - 1}, {"consumer", 0}} {
			var kinds struct {
				Data []struct {
					Name     string `json:"name"`
					SpanKind string `json:"spanKind"`
				} `json:"data"`
			}
			getJSON(t, n, withQuery("/jaeger/api/operations", "service", "telemetrygen", "spanKind", tc.kind), &kinds)
			if len(kinds.Data) != tc.want {
				t.Errorf("operations of kind %q: %+v, want %d", tc.kind, kinds.Data, tc.want)
			}
			for _, op := range kinds.Data {
				want := map[bool]string{true: "client", false: "server"}[op.Name == "lets-go"]
				if op.SpanKind != want {
					t.Errorf("operation %s: span kind %q, want %q", op.Name, op.SpanKind, want)
				}
			}
		}
		var found jaegerTraces
		getJSON(t, n, withQuery("/jaeger/api/traces", "service", "telemetrygen", "operation", "lets-go",
			"tags", `{"http.method":"GET"}`, "lookback", "1h", "limit", "20"), &found)
		if len(found.Data) != 20 {
			t.Fatalf("search: %d traces, want 20", len(found.Data))
		}
		for _, tr := range found.Data {
			if len(tr.Spans) != spans {
				t.Errorf("trace %s: %d spans", tr.TraceID, len(tr.Spans))
			}
			for _, s := range tr.Spans {
				if tr.Processes[s.ProcessID].ServiceName != "telemetrygen" {
					t.Errorf("trace %s span %s: process %q of %v", tr.TraceID, s.SpanID, s.ProcessID, tr.Processes)
				}
			}
		}
		var one jaegerTraces
		getJSON(t, n, "/jaeger/api/traces/"+found.Data[0].TraceID, &one)
		if len(one.Data) != 1 || len(one.Data[0].Spans) != spans {
			t.Errorf("trace by id: %+v", one)
		}
		status, body := httpGet(t, apiURL(n, "/jaeger/api/traces?service=telemetrygen&minDuration=1x"))
		if status != http.StatusBadRequest {
			t.Errorf("bad minDuration: %d %s, want 400", status, body)
		}
	})
}

// TestPlanChosenByKeptCounts: of two same-span groups of equal static
// weight, the one the trace summaries' kept term counts find rarer is
// pushed, and the answer is the one without pushdown.
func TestPlanChosenByKeptCounts(t *testing.T) {
	bin := findTelemetrygen(t)
	n := startNode(t, nil)
	const common, rare = 40, 3
	for _, run := range []struct {
		service string
		traces  int
	}{{"telemetrygen", common}, {"rare-svc", rare}} {
		runTelemetrygen(t, bin, "traces", "--traces", strconv.Itoa(run.traces), "--child-spans", "3", "--service", run.service,
			"--rate", "1000", "--otlp-insecure", "--otlp-endpoint", n.OTLPGRPCAddr())
	}
	start, end := strconv.FormatInt(time.Now().Add(-10*time.Minute).UnixNano(), 10), strconv.FormatInt(time.Now().Add(time.Minute).UnixNano(), 10)
	// A span name of every trace first, the rare service second.
	q := `{ name = "okey-dokey-1" } && { resource.service.name = "rare-svc" }`
	type answer struct {
		Traces  []struct{} `json:"traces"`
		Explain struct {
			Pushed []string `json:"pushed"`
			Choice string   `json:"choice"`
		} `json:"explain"`
	}
	var got, without answer
	eventually(t, 30*time.Second, func() string {
		getJSON(t, n, withQuery("/api/v1/traces", "q", q, "limit", "100", "explain", "true", "start", start, "end", end), &got)
		if len(got.Traces) != rare {
			return fmt.Sprintf("%d traces, want %d", len(got.Traces), rare)
		}
		return ""
	})
	if len(got.Explain.Pushed) != 1 || got.Explain.Pushed[0] != `resource.service.name = "rare-svc"` || !strings.HasPrefix(got.Explain.Choice, "kept term counts") {
		t.Errorf("%s: pushed %q, choice %q; want the rare service, chosen by the kept term counts", q, got.Explain.Pushed, got.Explain.Choice)
	}
	getJSON(t, n, withQuery("/api/v1/traces", "q", q, "limit", "100", "pushdown", "false", "start", start, "end", end), &without)
	if len(without.Traces) != rare {
		t.Errorf("%s without pushdown: %d traces, want %d", q, len(without.Traces), rare)
	}
	t.Logf("choice: %s", got.Explain.Choice)
}
