package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/starling-otel/starling/storage"
	"github.com/starling-otel/starling/storage/tsdb"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// OTLP/HTTP with JSON bodies, as curl would send them: the canonical OTLP
// JSON (hex ids, string int64s) made by pdata, plain and compressed (gzip,
// and the deflate and zstd the receiver also takes).
func TestOTLPHTTPJSON(t *testing.T) {
	n := startNode(t, nil)
	for _, enc := range []string{"", "gzip", "deflate", "zstd"} {
		name := "plain"
		if enc != "" {
			name = enc
		}
		t.Run(name, func(t *testing.T) {
			tag := name
			base := time.Now().Add(-3 * time.Minute).Truncate(time.Millisecond).Add(4321)
			td, ld, md := testTraces(tag, base), testLogs(tag, base), testMetrics(tag, base)

			// Traces.
			body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			status, resp := postOTLP(t, n.OTLPHTTPAddr(), "/v1/traces", "application/json", enc, body)
			if status != http.StatusOK {
				t.Fatalf("POST /v1/traces: %d %s", status, resp)
			}
			tr := ptraceotlp.NewExportResponse()
			if err := tr.UnmarshalJSON(resp); err != nil {
				t.Fatalf("traces response %q is not an OTLP JSON export response: %v", resp, err)
			}
			if ps := tr.PartialSuccess(); ps.RejectedSpans() != 0 || ps.ErrorMessage() != "" {
				t.Errorf("traces: partial success %d %q, want none", ps.RejectedSpans(), ps.ErrorMessage())
			}

			// Logs.
			body, err = plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			status, resp = postOTLP(t, n.OTLPHTTPAddr(), "/v1/logs", "application/json", enc, body)
			if status != http.StatusOK {
				t.Fatalf("POST /v1/logs: %d %s", status, resp)
			}
			lresp := plogotlp.NewExportResponse()
			if err := lresp.UnmarshalJSON(resp); err != nil || lresp.PartialSuccess().RejectedLogRecords() != 0 {
				t.Errorf("logs response %q: err %v", resp, err)
			}

			// Metrics.
			body, err = pmetricotlp.NewExportRequestFromMetrics(md).MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			status, resp = postOTLP(t, n.OTLPHTTPAddr(), "/v1/metrics", "application/json; charset=utf-8", enc, body)
			if status != http.StatusOK {
				t.Fatalf("POST /v1/metrics: %d %s", status, resp)
			}
			mresp := pmetricotlp.NewExportResponse()
			if err := mresp.UnmarshalJSON(resp); err != nil || mresp.PartialSuccess().RejectedDataPoints() != 0 {
				t.Errorf("metrics response %q: err %v", resp, err)
			}

			t.Run("traces", func(t *testing.T) { checkTraces(t, n, td) })
			t.Run("logs", func(t *testing.T) { checkLogs(t, n, ld, "json-"+tag) })
			t.Run("metrics", func(t *testing.T) { checkMetrics(t, n, md) })
		})
	}
}

// checkTraces reads every trace of td by id and compares its spans.
func checkTraces(t *testing.T, n *Node, td ptrace.Traces) {
	t.Helper()
	want := map[string]map[string]spanView{}
	for id, v := range pdataSpans(td) {
		if want[v.TraceID] == nil {
			want[v.TraceID] = map[string]spanView{}
		}
		want[v.TraceID][id] = v
	}
	for tid, spans := range want {
		status, body := httpGet(t, apiURL(n, "/api/v1/traces/"+tid))
		if status != http.StatusOK {
			t.Errorf("trace %s: status %d: %s", tid, status, body)
			continue
		}
		got, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
		if err != nil {
			t.Fatalf("trace %s: %v", tid, err)
		}
		compareSpans(t, spans, pdataSpans(got))
	}
}

// checkLogs reads the logs of service and compares them with ld.
func checkLogs(t *testing.T, n *Node, ld plog.Logs, service string) {
	t.Helper()
	want := pdataLogViews(ld)
	var got apiLogs
	getJSON(t, n, withQuery("/api/v1/logs", "service", service, "limit", "1000"), &got)
	if len(got.Logs) != len(want) {
		t.Fatalf("got %d logs, want %d", len(got.Logs), len(want))
	}
	// Severity without text is named from the number.
	names := map[int32]string{9: "INFO", 19: "ERROR3", 24: "FATAL4", 0: ""}
	prev := int64(1<<63 - 1)
	for i, g := range got.Logs {
		if tm := nanos(t, g.Time); tm > prev {
			t.Errorf("log %d is newer than log %d: not newest first", i, i-1)
		} else {
			prev = tm
		}
		key := ""
		for k, w := range want {
			if w.Time == nanos(t, g.Time) {
				key = k
			}
		}
		w, ok := want[key]
		if !ok {
			t.Errorf("log %d at %s was not sent", i, g.Time)
			continue
		}
		if w.Severity == "" {
			w.Severity = names[w.SeverityNumber]
		}
		compareLog(t, fmt.Sprintf("log %q", key), w, g)
	}
}

// checkMetrics reads every series Prometheus' translator makes of md
// through the series API and compares its samples.
func checkMetrics(t *testing.T, n *Node, md pmetric.Metrics) {
	t.Helper()
	req, err := storage.TranslateOTLP(md)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Series) == 0 {
		t.Fatal("the metrics translate to no series")
	}
	for _, want := range req.Series {
		var q []string
		for _, l := range want.Labels {
			if l.Name == tsdb.MetricNameLabel {
				q = append(q, "name", l.Value)
			} else {
				q = append(q, "label."+l.Name, l.Value)
			}
		}
		var got apiSeriesList
		getJSON(t, n, withQuery("/api/v1/metrics/series", q...), &got)
		name := tsdb.LabelsString(want.Labels)
		if len(got.Series) != 1 {
			t.Errorf("%s: %d series, want 1", name, len(got.Series))
			continue
		}
		g := got.Series[0]
		if len(g.Labels)+1 != len(want.Labels) {
			t.Errorf("%s: labels %v", name, g.Labels)
		}
		samples := tsdb.MergeSamples(want.Samples, nil)
		if len(g.Samples) != len(samples) || len(g.Histograms) != len(want.Histograms) {
			t.Errorf("%s: %d samples and %d histograms, want %d and %d", name, len(g.Samples), len(g.Histograms), len(samples), len(want.Histograms))
			continue
		}
		for i, smp := range samples {
			if tm := nanos(t, g.Samples[i].Time) / 1e6; tm != smp.T {
				t.Errorf("%s: sample %d at %d, want %d", name, i, tm, smp.T)
			}
			if d := jsonEqual("value", smp.V, g.Samples[i].Value); d != "" {
				t.Errorf("%s: sample %d: %s", name, i, d)
			}
		}
	}
}

func deref64(p *uint64) any {
	if p == nil {
		return nil
	}
	return jsonInt(int64(*p))
}

func jsonInt(v int64) any { return json.Number(fmt.Sprint(v)) }

func numbers[T fmt.Stringer](s []T) any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = json.Number(v.String())
	}
	return out
}
