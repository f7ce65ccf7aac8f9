package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
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

// labelsOf is the label set the API gives a point: resource attributes
// overridden by point attributes, values as strings.
func labelsOf(res, point pcommon.Map) map[string]string {
	out := map[string]string{}
	for _, m := range []pcommon.Map{res, point} {
		m.Range(func(k string, v pcommon.Value) bool {
			out[k] = v.AsString()
			return true
		})
	}
	return out
}

// checkMetrics finds every data point of md through the series API and
// compares it with the pdata point field by field.
func checkMetrics(t *testing.T, n *Node, md pmetric.Metrics) {
	t.Helper()
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		svc, _ := rm.Resource().Attributes().Get("service.name")
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			for k := 0; k < sm.Metrics().Len(); k++ {
				m := sm.Metrics().At(k)
				var got apiSeriesList
				getJSON(t, n, withQuery("/api/v1/metrics/series", "name", m.Name(), "label.service.name", svc.Str()), &got)
				checkMetric(t, m, rm.Resource(), sm.Scope(), got.Series)
			}
		}
	}
}

func checkMetric(t *testing.T, m pmetric.Metric, res pcommon.Resource, scope pcommon.InstrumentationScope, got []apiSeries) {
	t.Helper()
	find := func(attrs pcommon.Map, tm pcommon.Timestamp, start pcommon.Timestamp) (*apiSeries, *apiPoint) {
		want := labelsOf(res.Attributes(), attrs)
		for i := range got {
			s := &got[i]
			if fmt.Sprint(s.Labels) != fmt.Sprint(want) {
				continue
			}
			for j := range s.Points {
				p := &s.Points[j]
				if nanos(t, p.Time) == int64(tm) {
					if start != 0 && (p.StartTime == "" || nanos(t, p.StartTime) != int64(start)) {
						t.Errorf("%s %v: start time %q, want %d", m.Name(), want, p.StartTime, start)
					}
					return s, p
				}
			}
			t.Errorf("%s %v: no point at %d among %d points", m.Name(), want, tm, len(s.Points))
			return s, nil
		}
		t.Errorf("%s: no series with labels %v in %d series", m.Name(), want, len(got))
		return nil, nil
	}
	head := func(s *apiSeries, typ, temporality string, monotonic *bool) {
		if s.Name != m.Name() || s.Type != typ || s.Unit != m.Unit() || s.Temporality != temporality ||
			fmt.Sprint(deref(s.Monotonic)) != fmt.Sprint(deref(monotonic)) || s.Scope != scope.Name() {
			t.Errorf("%s: got series %q type %q unit %q temporality %q monotonic %v scope %q, want %q %q %q %v %q",
				m.Name(), s.Name, s.Type, s.Unit, s.Temporality, deref(s.Monotonic), s.Scope, typ, m.Unit(), temporality, deref(monotonic), scope.Name())
		}
	}
	errIf := func(ds ...string) {
		for _, d := range ds {
			if d != "" {
				t.Errorf("%s: %s", m.Name(), d)
			}
		}
	}
	temporality := func(a pmetric.AggregationTemporality) string {
		return map[pmetric.AggregationTemporality]string{pmetric.AggregationTemporalityDelta: "delta", pmetric.AggregationTemporalityCumulative: "cumulative"}[a]
	}
	counts := map[*apiSeries]int{}
	switch m.Type() {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSum:
		var dps pmetric.NumberDataPointSlice
		typ, temp := "gauge", ""
		var mono *bool
		if m.Type() == pmetric.MetricTypeGauge {
			dps = m.Gauge().DataPoints()
		} else {
			dps, typ, temp = m.Sum().DataPoints(), "sum", temporality(m.Sum().AggregationTemporality())
			b := m.Sum().IsMonotonic()
			mono = &b
		}
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			s, p := find(dp.Attributes(), dp.Timestamp(), dp.StartTimestamp())
			if p == nil {
				continue
			}
			counts[s]++
			head(s, typ, temp, mono)
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				errIf(jsonEqual("value", dp.IntValue(), p.Value))
			} else {
				errIf(jsonEqual("value", dp.DoubleValue(), p.Value))
			}
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			s, p := find(dp.Attributes(), dp.Timestamp(), dp.StartTimestamp())
			if p == nil {
				continue
			}
			counts[s]++
			head(s, "histogram", temporality(m.Histogram().AggregationTemporality()), nil)
			errIf(jsonEqual("count", dp.Count(), deref64(p.Count)), jsonEqual("sum", dp.Sum(), p.Sum),
				jsonEqual("min", dp.Min(), p.Min), jsonEqual("max", dp.Max(), p.Max),
				jsonEqual("explicitBounds", sliceAny(dp.ExplicitBounds().AsRaw()), numbers(p.ExplicitBounds)),
				jsonEqual("bucketCounts", fmt.Sprint(dp.BucketCounts().AsRaw()), fmt.Sprint(p.BucketCounts)))
		}
	case pmetric.MetricTypeExponentialHistogram:
		dps := m.ExponentialHistogram().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			s, p := find(dp.Attributes(), dp.Timestamp(), dp.StartTimestamp())
			if p == nil {
				continue
			}
			counts[s]++
			head(s, "exponentialHistogram", temporality(m.ExponentialHistogram().AggregationTemporality()), nil)
			if p.Positive == nil || p.Negative == nil || p.Scale == nil {
				t.Errorf("%s: positive, negative or scale missing: %+v", m.Name(), p)
				continue
			}
			errIf(jsonEqual("count", dp.Count(), deref64(p.Count)), jsonEqual("sum", dp.Sum(), p.Sum),
				jsonEqual("zeroCount", dp.ZeroCount(), deref64(p.ZeroCount)), jsonEqual("zeroThreshold", dp.ZeroThreshold(), p.ZeroThreshold),
				jsonEqual("scale", int64(dp.Scale()), jsonInt(int64(*p.Scale))),
				jsonEqual("positive", fmt.Sprint(dp.Positive().Offset(), dp.Positive().BucketCounts().AsRaw()), fmt.Sprint(p.Positive.Offset, p.Positive.BucketCounts)),
				jsonEqual("negative", fmt.Sprint(dp.Negative().Offset(), dp.Negative().BucketCounts().AsRaw()), fmt.Sprint(p.Negative.Offset, p.Negative.BucketCounts)))
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			s, p := find(dp.Attributes(), dp.Timestamp(), dp.StartTimestamp())
			if p == nil {
				continue
			}
			counts[s]++
			head(s, "summary", "", nil)
			errIf(jsonEqual("count", dp.Count(), deref64(p.Count)), jsonEqual("sum", dp.Sum(), p.Sum))
			if len(p.Quantiles) != dp.QuantileValues().Len() {
				t.Errorf("%s: got %d quantiles, want %d", m.Name(), len(p.Quantiles), dp.QuantileValues().Len())
				continue
			}
			for q := range p.Quantiles {
				w := dp.QuantileValues().At(q)
				errIf(jsonEqual(fmt.Sprintf("quantiles[%d].quantile", q), w.Quantile(), p.Quantiles[q].Quantile),
					jsonEqual(fmt.Sprintf("quantiles[%d].value", q), w.Value(), p.Quantiles[q].Value))
			}
		}
	}
	// No point came back that was not sent.
	for s, c := range counts {
		if len(s.Points) != c {
			t.Errorf("%s %v: %d points, %d sent", m.Name(), s.Labels, len(s.Points), c)
		}
	}
	if len(counts) != len(got) {
		t.Errorf("%s: %d series returned, %d expected", m.Name(), len(got), len(counts))
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
