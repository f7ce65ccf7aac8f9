package node

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// The real OpenTelemetry Go SDK sends traces, logs and metrics to a node,
// once over OTLP/gRPC and once over OTLP/HTTP (protobuf, gzip); every record
// is then read back through the HTTP API and compared field by field. The
// sdk* checks write through one node and read back through each node of a
// list (TestMultiProcessCluster reads through every node of a cluster).

// sdkTransport makes the three SDK exporters for one OTLP transport.
type sdkTransport struct {
	name    string
	traces  func(ctx context.Context, n endpoints) (sdktrace.SpanExporter, error)
	metrics func(ctx context.Context, n endpoints) (sdkmetric.Exporter, error)
	logs    func(ctx context.Context, n endpoints) (sdklog.Exporter, error)
}

var sdkTransports = []sdkTransport{
	{
		name: "grpc",
		traces: func(ctx context.Context, n endpoints) (sdktrace.SpanExporter, error) {
			return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(n.OTLPGRPCAddr()), otlptracegrpc.WithInsecure(),
				otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		},
		metrics: func(ctx context.Context, n endpoints) (sdkmetric.Exporter, error) {
			return otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpoint(n.OTLPGRPCAddr()), otlpmetricgrpc.WithInsecure(),
				otlpmetricgrpc.WithCompressor("gzip"), otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false}))
		},
		logs: func(ctx context.Context, n endpoints) (sdklog.Exporter, error) {
			return otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(n.OTLPGRPCAddr()), otlploggrpc.WithInsecure(),
				otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: false}))
		},
	},
	{
		name: "http",
		traces: func(ctx context.Context, n endpoints) (sdktrace.SpanExporter, error) {
			return otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(n.OTLPHTTPAddr()), otlptracehttp.WithInsecure(),
				otlptracehttp.WithCompression(otlptracehttp.GzipCompression), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
		},
		metrics: func(ctx context.Context, n endpoints) (sdkmetric.Exporter, error) {
			return otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(n.OTLPHTTPAddr()), otlpmetrichttp.WithInsecure(),
				otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
		},
		logs: func(ctx context.Context, n endpoints) (sdklog.Exporter, error) {
			return otlploghttp.New(ctx, otlploghttp.WithEndpoint(n.OTLPHTTPAddr()), otlploghttp.WithInsecure(),
				otlploghttp.WithCompression(otlploghttp.GzipCompression), otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
		},
	},
}

// eachReader runs the read-back check against every reader: directly when
// there is one, else as one subtest per reader, named after its node id when
// it has one.
func eachReader(t *testing.T, readers []endpoints, check func(t *testing.T, r endpoints)) {
	t.Helper()
	if len(readers) == 1 {
		check(t, readers[0])
		return
	}
	for _, r := range readers {
		name := r.HTTPAddr()
		if id, ok := r.(interface{ NodeID() string }); ok {
			name = id.NodeID()
		}
		t.Run("read via "+name, func(t *testing.T) { check(t, r) })
	}
}

// exportErrors collects the errors of wrapped exporters (the SDK's batch
// processors only hand them to the global error handler).
type exportErrors struct {
	mu    sync.Mutex
	errs  []error
	calls int
}

func (e *exportErrors) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls++
	if err != nil {
		e.errs = append(e.errs, err)
	}
}

func (e *exportErrors) check(t *testing.T, what string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.calls == 0 {
		t.Errorf("%s: the exporter was never called", what)
	}
	if err := errors.Join(e.errs...); err != nil {
		t.Errorf("%s: export failed: %v", what, err)
	}
}

type checkedSpanExporter struct {
	sdktrace.SpanExporter
	errs *exportErrors
}

func (c checkedSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.SpanExporter.ExportSpans(ctx, spans)
	c.errs.add(err)
	return err
}

type checkedLogExporter struct {
	sdklog.Exporter
	errs *exportErrors
}

func (c checkedLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	err := c.Exporter.Export(ctx, records)
	c.errs.add(err)
	return err
}

type checkedMetricExporter struct {
	sdkmetric.Exporter
	errs *exportErrors
}

func (c checkedMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := c.Exporter.Export(ctx, rm)
	c.errs.add(err)
	return err
}

func TestSDKEndToEnd(t *testing.T) {
	for _, tr := range sdkTransports {
		t.Run(tr.name, func(t *testing.T) {
			n := startNode(t, nil)
			service := "e2e-sdk-" + tr.name
			res := resource.NewSchemaless(
				attribute.String("service.name", service),
				attribute.String("service.version", "1.4.2"),
				attribute.String("deployment.environment", "test"),
				attribute.Int64("host.cpus", 8),
				attribute.Bool("e2e", true),
			)
			readers := []endpoints{n}
			t.Run("traces", func(t *testing.T) { sdkTraces(t, n, readers, tr, res, service) })
			t.Run("logs", func(t *testing.T) { sdkLogs(t, n, readers, tr, res, service) })
			t.Run("metrics", func(t *testing.T) { sdkMetrics(t, n, readers, tr, res, service) })
		})
	}
}

// sdkTraces sends three traces through writer, checks them through every
// reader, and returns them (span views by span id, by trace id).
func sdkTraces(t *testing.T, writer endpoints, readers []endpoints, tr sdkTransport, res *resource.Resource, service string) map[string]map[string]spanView {
	ctx := context.Background()
	exp, err := tr.traces(ctx, writer)
	if err != nil {
		t.Fatal(err)
	}
	errs := &exportErrors{}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSpanProcessor(rec),
		sdktrace.WithBatcher(checkedSpanExporter{exp, errs}),
	)
	tracer := tp.Tracer("e2e-tracer", trace.WithInstrumentationVersion("0.3.1"))

	// Times with nanosecond digits, in the last minute (the API's default
	// range is the last hour).
	base := time.Now().Add(-time.Minute).Truncate(time.Second).Add(123456789)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms)*time.Millisecond + 7) }

	// Trace 1: server → client (error, events) → internal (ok).
	ctx1, root := tracer.Start(ctx, "GET /checkout", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at(0)),
		trace.WithAttributes(
			attribute.String("http.request.method", "GET"),
			attribute.Int64("http.response.status_code", 500),
			attribute.Bool("retried", true),
			attribute.Float64("ratio", 0.125),
			attribute.StringSlice("tags", []string{"a", "b", ""}),
			attribute.Int64Slice("ports", []int64{80, -1, 1 << 40}),
			attribute.BoolSlice("flags", []bool{true, false}),
			attribute.Float64Slice("weights", []float64{1.5, -2.25}),
			attribute.String("unicode", "grüße, 世界"),
		))
	ctx2, db := tracer.Start(ctx1, "SELECT orders", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at(10)),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.Int64("db.rows", 0)))
	db.AddEvent("retry", trace.WithTimestamp(at(20)), trace.WithAttributes(attribute.Int64("attempt", 2), attribute.String("reason", "timeout")))
	db.AddEvent("no attributes", trace.WithTimestamp(at(25)))
	db.RecordError(errors.New("connection reset"), trace.WithTimestamp(at(30)))
	db.SetStatus(codes.Error, "db timeout")
	_, inner := tracer.Start(ctx2, "decode rows", trace.WithTimestamp(at(31)))
	inner.SetStatus(codes.Ok, "")
	inner.End(trace.WithTimestamp(at(32)))
	db.End(trace.WithTimestamp(at(40)))
	root.End(trace.WithTimestamp(at(50)))

	// Trace 2: producer → consumer, both linking to trace 1.
	link1 := trace.Link{SpanContext: root.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("link.kind", "caused-by"), attribute.Int64("n", 1)}}
	ctx3, prod := tracer.Start(ctx, "publish orders", trace.WithSpanKind(trace.SpanKindProducer), trace.WithTimestamp(at(100)),
		trace.WithLinks(link1), trace.WithAttributes(attribute.String("messaging.system", "kafka")))
	_, cons := tracer.Start(ctx3, "process orders", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(at(120)),
		trace.WithLinks(trace.Link{SpanContext: db.SpanContext()}))
	cons.SetStatus(codes.Ok, "")
	cons.End(trace.WithTimestamp(at(180)))
	prod.End(trace.WithTimestamp(at(110)))

	// Trace 3: one span, status unset, no attributes.
	_, lone := tracer.Start(ctx, "lonely", trace.WithTimestamp(at(200)))
	lone.End(trace.WithTimestamp(at(200)))

	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	errs.check(t, "trace exporter")

	// What the SDK produced, as views, grouped by trace.
	want := map[string]map[string]spanView{}
	for _, s := range rec.Ended() {
		v := sdkSpanView(s)
		if want[v.TraceID] == nil {
			want[v.TraceID] = map[string]spanView{}
		}
		want[v.TraceID][v.SpanID] = v
	}
	if len(want) != 3 || len(rec.Ended()) != 6 {
		t.Fatalf("recorded %d spans in %d traces, want 6 in 3", len(rec.Ended()), len(want))
	}

	eachReader(t, readers, func(t *testing.T, r endpoints) {
		for tid, spans := range want {
			checkTraceByID(t, r, tid, spans)
		}

		// Search: the three traces, newest first, with their summaries.
		var list apiTraces
		getJSON(t, r, withQuery("/api/v1/traces", "service", service, "limit", "100"), &list)
		wantList := []struct {
			root  string
			spans int
			start time.Time
			durMs string
		}{
			{"lonely", 1, at(200), "0"},
			{"publish orders", 2, at(100), "80"},
			{"GET /checkout", 3, at(0), "50"},
		}
		if len(list.Traces) != len(wantList) {
			t.Fatalf("search by service: got %d traces, want %d: %+v", len(list.Traces), len(wantList), list.Traces)
		}
		for i, w := range wantList {
			g := list.Traces[i]
			if g.RootName != w.root || g.SpanCount != w.spans || g.RootService != service ||
				nanos(t, g.StartTime) != w.start.UnixNano() || g.DurationMs.String() != w.durMs {
				t.Errorf("search result %d: got %+v, want root %q, %d spans, start %s, %sms", i, g, w.root, w.spans, w.start.Format(time.RFC3339Nano), w.durMs)
			}
			if _, ok := want[g.TraceID]; !ok {
				t.Errorf("search result %d: trace id %s was not sent", i, g.TraceID)
			}
		}

		// Search conditions select the right traces.
		for _, c := range []struct {
			name   string
			params []string
			want   []string // root names
		}{
			{"status error", []string{"status", "error"}, []string{"GET /checkout"}},
			{"status ok", []string{"status", "ok"}, []string{"publish orders", "GET /checkout"}},
			{"name", []string{"name", "process orders"}, []string{"publish orders"}},
			{"attribute", []string{"attr.db.system", "postgresql"}, []string{"GET /checkout"}},
			{"resource attribute", []string{"attr.deployment.environment", "test"}, []string{"lonely", "publish orders", "GET /checkout"}},
			{"min duration", []string{"minDuration", "45ms"}, []string{"publish orders", "GET /checkout"}},
			{"max duration", []string{"maxDuration", "1ms"}, []string{"lonely", "GET /checkout"}},
			{"no match", []string{"attr.db.system", "mysql"}, nil},
		} {
			var l apiTraces
			getJSON(t, r, withQuery("/api/v1/traces", append([]string{"service", service}, c.params...)...), &l)
			var names []string
			for _, s := range l.Traces {
				names = append(names, s.RootName)
			}
			if fmt.Sprint(names) != fmt.Sprint(c.want) {
				t.Errorf("search %s: got %q, want %q", c.name, names, c.want)
			}
		}

		// Services and operations.
		var svcs struct{ Services []string }
		getJSON(t, r, "/api/v1/services", &svcs)
		if fmt.Sprint(svcs.Services) != fmt.Sprint([]string{service}) {
			t.Errorf("services: got %q, want [%s]", svcs.Services, service)
		}
		var ops struct{ Operations []string }
		getJSON(t, r, "/api/v1/services/"+url.PathEscape(service)+"/operations", &ops)
		wantOps := []string{"GET /checkout", "SELECT orders", "decode rows", "lonely", "process orders", "publish orders"}
		sort.Strings(ops.Operations)
		if fmt.Sprint(ops.Operations) != fmt.Sprint(wantOps) {
			t.Errorf("operations: got %q, want %q", ops.Operations, wantOps)
		}
	})
	if got := ingested(t, writer, "traces"); got != 6 {
		t.Errorf("starling_ingested_records_total{signal=traces} = %v, want 6", got)
	}
	return want
}

// checkTraceByID reads one trace by id (also in upper case) through r and
// compares its spans with want field by field.
func checkTraceByID(t *testing.T, r endpoints, tid string, want map[string]spanView) {
	t.Helper()
	status, body := httpGet(t, apiURL(r, "/api/v1/traces/"+tid))
	if status != 200 {
		t.Errorf("trace %s: status %d: %s", tid, status, body)
		return
	}
	got, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(body)
	if err != nil {
		t.Fatalf("trace %s: %v", tid, err)
	}
	// Upper-case ids are the same trace.
	if st, _ := httpGet(t, apiURL(r, "/api/v1/traces/"+strings.ToUpper(tid))); st != 200 {
		t.Errorf("trace %s in upper case: status %d", tid, st)
	}
	compareSpans(t, want, pdataSpans(got))
}

// sdkSpanView is what the SDK recorded, as it should come back.
func sdkSpanView(s sdktrace.ReadOnlySpan) spanView {
	sc := s.SpanContext()
	tid, sid, pid := sc.TraceID(), sc.SpanID(), s.Parent().SpanID()
	v := spanView{
		TraceID: hexID(tid[:]), SpanID: hexID(sid[:]), ParentSpanID: hexID(pid[:]),
		TraceState: sc.TraceState().String(), Name: s.Name(), Kind: int(s.SpanKind()),
		Start: s.StartTime().UnixNano(), End: s.EndTime().UnixNano(),
		Attrs:         attrsRaw(s.Attributes()),
		StatusMessage: s.Status().Description,
		Resource:      attrsRaw(s.Resource().Attributes()),
		Scope:         s.InstrumentationScope().Name, ScopeVersion: s.InstrumentationScope().Version,
	}
	// The API and OTLP numbers of span kinds agree (internal 1 … consumer
	// 5); status codes do not (OTel Go: error 1, ok 2).
	switch s.Status().Code {
	case codes.Ok:
		v.Status = "ok"
	case codes.Error:
		v.Status = "error"
	default:
		v.Status = "unset"
	}
	for _, e := range s.Events() {
		v.Events = append(v.Events, eventView{Name: e.Name, Time: e.Time.UnixNano(), Attrs: attrsRaw(e.Attributes)})
	}
	for _, l := range s.Links() {
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		v.Links = append(v.Links, linkView{TraceID: hexID(ltid[:]), SpanID: hexID(lsid[:]), TraceState: l.SpanContext.TraceState().String(), Attrs: attrsRaw(l.Attributes)})
	}
	return v
}

// sentLog is a log record the test emits and expects back.
type sentLog struct {
	rec  otellog.Record
	ctx  context.Context
	want logView
}

func sdkLogs(t *testing.T, writer endpoints, readers []endpoints, tr sdkTransport, res *resource.Resource, service string) {
	ctx := context.Background()
	exp, err := tr.logs(ctx, writer)
	if err != nil {
		t.Fatal(err)
	}
	errs := &exportErrors{}
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(checkedLogExporter{exp, errs})))
	logger := lp.Logger("e2e-logger", otellog.WithInstrumentationVersion("2.0.0"))

	resRaw := jsonify(attrsRaw(res.Attributes())).(map[string]any)
	base := time.Now().Add(-2 * time.Minute).Truncate(time.Second).Add(987654321)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	traced := trace.ContextWithSpanContext(ctx, sc)

	var logs []sentLog
	add := func(c context.Context, body attribute.Value, sev otellog.Severity, text string, i int, attrs []attribute.KeyValue, w logView) {
		var r otellog.Record
		r.SetTimestamp(base.Add(time.Duration(i) * time.Second))
		r.SetObservedTimestamp(base.Add(time.Duration(i)*time.Second + 5))
		r.SetSeverity(sev)
		r.SetSeverityText(text)
		r.SetBody(body)
		r.AddAttributes(attrs...)
		w.Time = r.Timestamp().UnixNano()
		w.ObservedTime = r.ObservedTimestamp().UnixNano()
		w.SeverityNumber = int32(sev)
		w.Body = jsonify(attrRaw(body))
		w.Service = service
		w.Attrs = jsonify(attrsRaw(attrs)).(map[string]any)
		w.Resource = resRaw
		w.Scope = "e2e-logger"
		logs = append(logs, sentLog{rec: r, ctx: c, want: w})
	}
	add(ctx, attribute.StringValue("user alice logged in"), otellog.SeverityInfo, "INFO", 0,
		[]attribute.KeyValue{attribute.String("user", "alice"), attribute.Int64("attempt", 1), attribute.Bool("mfa", true), attribute.Float64("score", 0.75)},
		logView{Severity: "INFO"})
	add(traced, attribute.StringValue("payment failed for order 42"), otellog.SeverityError, "ERROR", 1,
		[]attribute.KeyValue{attribute.String("order", "42"), attribute.StringSlice("items", []string{"x", "y"}), attribute.ByteSlice("raw", []byte{0, 1, 254})},
		logView{Severity: "ERROR", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"})
	add(ctx, attribute.MapValue(attribute.String("event", "cache miss"), attribute.Int64("size", 1024), attribute.Slice("keys", attribute.StringValue("a"), attribute.Int64Value(2))),
		otellog.SeverityWarn2, "", 2, []attribute.KeyValue{attribute.Map("nested", attribute.String("k", "v"))},
		logView{Severity: "WARN2"}) // no text: the API names the number
	add(ctx, attribute.Int64Value(7), otellog.SeverityDebug, "debug", 3, nil, logView{Severity: "debug"})
	add(traced, attribute.StringValue("shutting down"), otellog.SeverityFatal, "FATAL", 4, nil,
		logView{Severity: "FATAL", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"})

	for _, l := range logs {
		logger.Emit(l.ctx, l.rec)
	}
	if err := lp.ForceFlush(ctx); err != nil {
		t.Fatalf("ForceFlush: %v", err)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	errs.check(t, "log exporter")

	eachReader(t, readers, func(t *testing.T, r endpoints) {
		var got apiLogs
		getJSON(t, r, withQuery("/api/v1/logs", "service", service, "limit", "100"), &got)
		if len(got.Logs) != len(logs) {
			t.Fatalf("got %d logs, want %d: %+v", len(got.Logs), len(logs), got.Logs)
		}
		// Newest first: the reverse of the sending order.
		for i := range logs {
			w := logs[len(logs)-1-i].want
			compareLog(t, fmt.Sprintf("log %d", i), w, got.Logs[i])
		}

		// Filters.
		for _, c := range []struct {
			name   string
			params []string
			want   int // number of logs
		}{
			{"minSeverity error", []string{"minSeverity", "error"}, 2},
			{"minSeverity 13", []string{"minSeverity", "13"}, 3},
			{"word", []string{"q", "payment"}, 1},
			{"words", []string{"q", "order 42"}, 1},
			{"attribute", []string{"attr.user", "alice"}, 1},
			{"resource attribute", []string{"attr.deployment.environment", "test"}, 5},
			{"time range", []string{"start", base.Add(time.Second).Format(time.RFC3339Nano), "end", fmt.Sprint(base.Add(3 * time.Second).UnixNano())}, 3}, // closed range
			{"limit", []string{"limit", "2"}, 2},
			{"no match", []string{"q", "nonexistentword"}, 0},
		} {
			var l apiLogs
			getJSON(t, r, withQuery("/api/v1/logs", append([]string{"service", service}, c.params...)...), &l)
			if len(l.Logs) != c.want {
				t.Errorf("logs %s: got %d, want %d", c.name, len(l.Logs), c.want)
			}
		}
	})
	if got := ingested(t, writer, "logs"); got != float64(len(logs)) {
		t.Errorf("starling_ingested_records_total{signal=logs} = %v, want %d", got, len(logs))
	}
}

func sdkMetrics(t *testing.T, writer endpoints, readers []endpoints, tr sdkTransport, res *resource.Resource, service string) {
	ctx := context.Background()
	exp, err := tr.metrics(ctx, writer)
	if err != nil {
		t.Fatal(err)
	}
	errs := &exportErrors{}
	// One export, at shutdown: every series gets exactly one point.
	reader := sdkmetric.NewPeriodicReader(checkedMetricExporter{exp, errs}, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader),
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "e2e.size"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})))
	meter := mp.Meter("e2e-meter", metric.WithInstrumentationVersion("3.0.0"))

	counter, _ := meter.Int64Counter("e2e.requests", metric.WithUnit("{request}"), metric.WithDescription("requests served"))
	updown, _ := meter.Int64UpDownCounter("e2e.queue.depth", metric.WithUnit("{item}"))
	gauge, _ := meter.Float64Gauge("e2e.temperature", metric.WithUnit("Cel"))
	hist, _ := meter.Float64Histogram("e2e.latency", metric.WithUnit("ms"), metric.WithExplicitBucketBoundaries(0, 10, 100))
	exph, _ := meter.Float64Histogram("e2e.size", metric.WithUnit("By"))
	fcounter, _ := meter.Float64Counter("e2e.bytes", metric.WithUnit("By"))

	a := metric.WithAttributes(attribute.String("route", "/a"), attribute.Int64("code", 200))
	b := metric.WithAttributes(attribute.String("route", "/b"), attribute.Int64("code", 500))
	counter.Add(ctx, 3, a)
	counter.Add(ctx, 5, a)
	counter.Add(ctx, 2, b)
	updown.Add(ctx, 10)
	updown.Add(ctx, -3)
	gauge.Record(ctx, 21.5, metric.WithAttributes(attribute.String("room", "lab")))
	gauge.Record(ctx, 22.25, metric.WithAttributes(attribute.String("room", "lab")))
	for _, v := range []float64{1, 5, 12, 50, 200} {
		hist.Record(ctx, v, a)
	}
	for _, v := range []float64{0, 1, 2, 4, 8} {
		exph.Record(ctx, v)
	}
	fcounter.Add(ctx, 0.5)
	fcounter.Add(ctx, 0.25)
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	errs.check(t, "metric exporter")

	// Read through PromQL, under the names Prometheus' OTLP receiver gives
	// them; decoded with the Prometheus API client's own types.
	eachReader(t, readers, func(t *testing.T, r endpoints) {
		api := promAPI(t, r)
		job := fmt.Sprintf("job=%q", service)
		for _, c := range []struct {
			query string
			want  map[string]float64 // labels (as the client prints them) → value
		}{
			{`e2e_requests_total{` + job + `}`, map[string]float64{
				`e2e_requests_total{code="200", job="` + service + `", route="/a"}`: 8,
				`e2e_requests_total{code="500", job="` + service + `", route="/b"}`: 2,
			}},
			{`sum(e2e_queue_depth{` + job + `})`, map[string]float64{`{}`: 7}},
			{`sum(e2e_temperature_celsius{` + job + `, room="lab"})`, map[string]float64{`{}`: 22.25}},
			{`sum(e2e_bytes_total{` + job + `})`, map[string]float64{`{}`: 0.75}},
			{`sum(e2e_latency_milliseconds_count{` + job + `})`, map[string]float64{`{}`: 5}},
			{`sum(e2e_latency_milliseconds_sum{` + job + `})`, map[string]float64{`{}`: 268}},
			{`sum by (le) (e2e_latency_milliseconds_bucket{` + job + `})`, map[string]float64{`{le="0"}`: 0, `{le="10"}`: 2, `{le="100"}`: 4, `{le="+Inf"}`: 5}},
			{`histogram_count(sum(e2e_size_bytes{` + job + `}))`, map[string]float64{`{}`: 5}},
			{`histogram_sum(sum(e2e_size_bytes{` + job + `}))`, map[string]float64{`{}`: 15}},
			{`count(target_info{` + job + `, service_version="1.4.2", deployment_environment="test", host_cpus="8", e2e="true"})`, map[string]float64{`{}`: 1}},
		} {
			checkInstant(t, api, c.query, c.want)
		}
		// The family is named as Prometheus' OTLP receiver names it.
		md, err := api.Metadata(context.Background(), "e2e_requests_total", "")
		if err != nil {
			t.Fatal(err)
		}
		if m := md["e2e_requests_total"]; len(m) != 1 || m[0].Type != "counter" || m[0].Help != "requests served" {
			t.Errorf("metadata of e2e_requests_total: %+v", md)
		}
	})
	if got := ingested(t, writer, "metrics"); got != 7 {
		t.Errorf("starling_ingested_records_total{signal=metrics} = %v, want 7 data points", got)
	}
}
