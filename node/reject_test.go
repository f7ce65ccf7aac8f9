package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Input a node must refuse: each class answers the right status, names the
// field or parameter in its message, and writes nothing.

// nodeState is what the API shows plus the ingest counters; a refused
// request must leave it as it was.
type nodeState struct {
	traces, logs, series int
	names, services      string
	ingested             map[string]float64
}

func stateOf(t *testing.T, n *Node) nodeState {
	t.Helper()
	var s nodeState
	var tr apiTraces
	getJSON(t, n, "/api/v1/traces?limit=1000", &tr)
	s.traces = len(tr.Traces)
	var lg apiLogs
	getJSON(t, n, "/api/v1/logs?limit=1000", &lg)
	s.logs = len(lg.Logs)
	var names struct{ Names []string }
	getJSON(t, n, "/api/v1/metrics/names", &names)
	s.names = fmt.Sprint(names.Names)
	for _, name := range names.Names {
		var sl apiSeriesList
		getJSON(t, n, withQuery("/api/v1/metrics/series", "name", name, "limit", "1000"), &sl)
		for _, se := range sl.Series {
			s.series += len(se.Samples)
		}
	}
	var svcs struct{ Services []string }
	getJSON(t, n, "/api/v1/services", &svcs)
	s.services = fmt.Sprint(svcs.Services)
	mfs := scrape(t, n)
	s.ingested = map[string]float64{}
	for _, sig := range []string{"traces", "logs", "metrics"} {
		s.ingested[sig] = counterSum(mfs, "starling_ingested_records_total", map[string]string{"signal": sig})
	}
	return s
}

// writesNothing runs f and fails if the node's state changed.
func writesNothing(t *testing.T, n *Node, f func()) {
	t.Helper()
	before := stateOf(t, n)
	f()
	if after := stateOf(t, n); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("state changed by a refused request:\n before %+v\n after  %+v", before, after)
	}
}

// otlpError decodes the google.rpc.Status of an OTLP/HTTP error answer.
func otlpError(t *testing.T, contentType string, body []byte) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	var err error
	if strings.HasPrefix(contentType, "application/json") {
		err = protojson.Unmarshal(body, st)
	} else {
		err = proto.Unmarshal(body, st)
	}
	if err != nil {
		t.Fatalf("error body (%s) %q is not a google.rpc.Status: %v", contentType, body, err)
	}
	return st
}

func doRequest(t *testing.T, method, u, contentType, encoding string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, buf.Bytes()
}

// must returns b, panicking on err (marshalling test data cannot fail).
func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// bytesCodec lets a gRPC client send arbitrary bytes as a request.
type bytesCodec struct{}

func (bytesCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (bytesCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (bytesCodec) Name() string { return "proto" }

var _ encoding.Codec = bytesCodec{}

func TestRejectedInput(t *testing.T) {
	const maxBytes = 64 << 10
	n := startNode(t, func(c *Config) { c.MaxRequestBytes = maxBytes })

	// Some data first, so that "nothing new" compares with something.
	base := time.Now().Add(-time.Minute)
	for path, body := range map[string][]byte{
		"/v1/traces":  must(ptraceotlp.NewExportRequestFromTraces(testTraces("seed", base)).MarshalJSON()),
		"/v1/logs":    must(plogotlp.NewExportRequestFromLogs(testLogs("seed", base)).MarshalJSON()),
		"/v1/metrics": must(pmetricotlp.NewExportRequestFromMetrics(testMetrics("seed", base)).MarshalJSON()),
	} {
		if status, resp := postOTLP(t, n.OTLPHTTPAddr(), path, "application/json", "", body); status != 200 {
			t.Fatalf("seed %s: %d %s", path, status, resp)
		}
	}
	seedTrace := testTraceID("seed", 0)
	seedHex := fmt.Sprintf("%x", seedTrace[:])

	t.Run("api", func(t *testing.T) {
		cases := []struct {
			name, path string
			status     int
			param      string // the error must start with "<param>: "
		}{
			{"trace id not hex", "/api/v1/traces/" + strings.Repeat("zz", 16), 400, "traceID"},
			{"trace id too short", "/api/v1/traces/" + seedHex[:31], 400, "traceID"},
			{"trace id too long", "/api/v1/traces/" + seedHex + "0", 400, "traceID"},
			{"trace id 16 hex digits", "/api/v1/traces/" + seedHex[:16], 400, "traceID"},
			{"trace id all zeros", "/api/v1/traces/" + strings.Repeat("0", 32), 400, "traceID"},
			{"trace by id with a parameter", "/api/v1/traces/" + seedHex + "?start=1", 400, "start"},
			{"start not a time", "/api/v1/traces?start=yesterday", 400, "start"},
			{"end not a time", "/api/v1/logs?end=2026-13-01T00:00:00Z", 400, "end"},
			{"start negative", "/api/v1/metrics/series?name=x&start=-5", 400, "start"},
			{"start after end", "/api/v1/traces?start=2000&end=1000", 400, "start"},
			{"start after end rfc3339", "/api/v1/logs?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", 400, "start"},
			{"start given twice", "/api/v1/logs?start=1&start=2", 400, "start"},
			{"limit zero", "/api/v1/traces?limit=0", 400, "limit"},
			{"limit negative", "/api/v1/logs?limit=-1", 400, "limit"},
			{"limit not a number", "/api/v1/metrics/series?name=x&limit=ten", 400, "limit"},
			{"limit too large", "/api/v1/traces?limit=1001", 400, "limit"},
			{"unknown parameter traces", "/api/v1/traces?servce=x", 400, "servce"},
			{"unknown parameter logs", "/api/v1/logs?severity=warn", 400, "severity"},
			{"unknown parameter series", "/api/v1/metrics/series?name=x&labels.a=b", 400, "labels.a"},
			{"unknown parameter services", "/api/v1/services?x=1", 400, "x"},
			{"unknown parameter operations", "/api/v1/services/s/operations?x=1", 400, "x"},
			{"unknown parameter names", "/api/v1/metrics/names?name=x", 400, "name"},
			{"bad status", "/api/v1/traces?status=failed", 400, "status"},
			{"bad minDuration", "/api/v1/traces?minDuration=fast", 400, "minDuration"},
			{"negative maxDuration", "/api/v1/traces?maxDuration=-1s", 400, "maxDuration"},
			{"maxDuration below minDuration", "/api/v1/traces?minDuration=2s&maxDuration=1s", 400, "maxDuration"},
			{"bad minSeverity", "/api/v1/logs?minSeverity=loud", 400, "minSeverity"},
			{"minSeverity out of range", "/api/v1/logs?minSeverity=25", 400, "minSeverity"},
			{"q without words", "/api/v1/logs?q=%21%21", 400, "q"},
			{"attr without key", "/api/v1/traces?attr.=x", 400, "attr."},
			{"series without name or label", "/api/v1/metrics/series", 400, "name"},
			{"unknown trace", "/api/v1/traces/" + strings.Repeat("ab", 16), 404, ""},
		}
		writesNothing(t, n, func() {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					resp, body := doRequest(t, http.MethodGet, apiURL(n, c.path), "", "", nil)
					if resp.StatusCode != c.status {
						t.Fatalf("GET %s: status %d, want %d: %s", c.path, resp.StatusCode, c.status, body)
					}
					var e struct{ Error string }
					if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
						t.Fatalf("GET %s: body %q is not {\"error\": …}", c.path, body)
					}
					if c.param != "" && !strings.HasPrefix(e.Error, c.param+": ") {
						t.Errorf("GET %s: error %q does not name %q", c.path, e.Error, c.param)
					}
				})
			}
		})
		// Methods other than GET.
		resp, _ := doRequest(t, http.MethodPost, apiURL(n, "/api/v1/traces"), "application/json", "", []byte("{}"))
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /api/v1/traces: status %d, want 405", resp.StatusCode)
		}
	})

	validTraces := must(ptraceotlp.NewExportRequestFromTraces(testTraces("never", base)).MarshalProto())
	validJSON := must(ptraceotlp.NewExportRequestFromTraces(testTraces("never", base)).MarshalJSON())
	// A valid request over the limit: a span with a 100 KiB attribute.
	big := testTraces("toobig", base)
	big.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("blob", strings.Repeat("x", 100<<10))
	bigProto := must(ptraceotlp.NewExportRequestFromTraces(big).MarshalProto())
	// A gzip bomb: 16 MiB of zeros, well under the limit compressed.
	bomb := gzipBytes(t, make([]byte, 16<<20))
	if len(bomb) >= maxBytes {
		t.Fatalf("gzip bomb is %d bytes compressed", len(bomb))
	}

	t.Run("otlp-http", func(t *testing.T) {
		cases := []struct {
			name                  string
			method, path          string
			contentType, encoding string
			body                  []byte
			status                int
			code                  codes.Code
			mention               string // in the error message
			reason                string // starling_rejected_requests_total{reason}
		}{
			{"garbage protobuf", "POST", "/v1/traces", "application/x-protobuf", "", []byte("\xff\xff\xff\xff garbage"), 400, codes.InvalidArgument, "request body", "malformed"},
			{"truncated protobuf", "POST", "/v1/traces", "application/x-protobuf", "", validTraces[:len(validTraces)/2], 400, codes.InvalidArgument, "request body", "malformed"},
			{"garbage JSON", "POST", "/v1/logs", "application/json", "", []byte(`{"resourceLogs": [{"scopeLogs": 7`), 400, codes.InvalidArgument, "request body", "malformed"},
			{"JSON with a bad trace id", "POST", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz","spanId":"0102030405060708","name":"a"}]}]}]}`), 400, codes.InvalidArgument, "request body", "malformed"},
			{"protobuf sent as JSON", "POST", "/v1/traces", "application/json", "", validTraces, 400, codes.InvalidArgument, "request body", "malformed"},
			{"bad gzip", "POST", "/v1/metrics", "application/x-protobuf", "gzip", nil, 400, codes.InvalidArgument, "request body", "malformed"},
			{"no content type", "POST", "/v1/traces", "", "", validTraces, 415, codes.InvalidArgument, "Content-Type", "unsupported"},
			{"text/plain", "POST", "/v1/traces", "text/plain", "", validJSON, 415, codes.InvalidArgument, "Content-Type", "unsupported"},
			{"xml", "POST", "/v1/logs", "application/xml", "", []byte("<x/>"), 415, codes.InvalidArgument, "Content-Type", "unsupported"},
			{"unknown encoding", "POST", "/v1/traces", "application/json", "br", validJSON, 415, codes.InvalidArgument, "Content-Encoding", "unsupported"},
			{"GET", "GET", "/v1/traces", "", "", nil, 405, codes.Unimplemented, "method GET", "unsupported"},
			{"PUT", "PUT", "/v1/metrics", "application/x-protobuf", "", validTraces, 405, codes.Unimplemented, "method PUT", "unsupported"},
			{"oversized", "POST", "/v1/traces", "application/x-protobuf", "", bigProto, 413, codes.ResourceExhausted, "max-request-bytes", "too_large"},
			{"oversized after gzip", "POST", "/v1/traces", "application/x-protobuf", "gzip", gzipBytes(t, bigProto), 413, codes.ResourceExhausted, "max-request-bytes", "too_large"},
			{"gzip bomb", "POST", "/v1/logs", "application/json", "gzip", bomb, 413, codes.ResourceExhausted, "max-request-bytes", "too_large"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				signal := strings.TrimPrefix(c.path, "/v1/")
				match := map[string]string{"signal": signal, "transport": "http", "reason": c.reason}
				refusedBefore := counterSum(scrape(t, n), "starling_rejected_requests_total", match)
				writesNothing(t, n, func() {
					body := c.body
					if c.name == "bad gzip" {
						body = []byte("not gzip at all")
					}
					resp, rb := doRequest(t, c.method, "http://"+n.OTLPHTTPAddr()+c.path, c.contentType, c.encoding, body)
					if resp.StatusCode != c.status {
						t.Fatalf("status %d, want %d: %q", resp.StatusCode, c.status, rb)
					}
					st := otlpError(t, resp.Header.Get("Content-Type"), rb)
					if codes.Code(st.GetCode()) != c.code {
						t.Errorf("status code %v, want %v", codes.Code(st.GetCode()), c.code)
					}
					if !strings.Contains(st.GetMessage(), c.mention) {
						t.Errorf("message %q does not mention %q", st.GetMessage(), c.mention)
					}
					if c.status == 405 && resp.Header.Get("Allow") != "POST" {
						t.Errorf("Allow: %q, want POST", resp.Header.Get("Allow"))
					}
				})
				if got := counterSum(scrape(t, n), "starling_rejected_requests_total", match); got != refusedBefore+1 {
					t.Errorf("starling_rejected_requests_total%v went from %v to %v, want +1", match, refusedBefore, got)
				}
			})
		}
	})

	t.Run("otlp-grpc", func(t *testing.T) {
		conn, err := grpc.NewClient(n.OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, c := range []struct {
			name   string
			method string
			body   []byte
			codes  []codes.Code
		}{
			{"garbage traces", "/opentelemetry.proto.collector.trace.v1.TraceService/Export", []byte("\xff\xff\xff\xff garbage"), []codes.Code{codes.InvalidArgument}},
			{"garbage logs", "/opentelemetry.proto.collector.logs.v1.LogsService/Export", []byte("\x0a\x05ab"), []codes.Code{codes.InvalidArgument}},
			{"garbage metrics", "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", []byte("\x0a\xff\xff\xff\xff\x0f"), []codes.Code{codes.InvalidArgument}},
			{"oversized", "/opentelemetry.proto.collector.trace.v1.TraceService/Export", bigProto, []codes.Code{codes.ResourceExhausted}},
		} {
			t.Run(c.name, func(t *testing.T) {
				writesNothing(t, n, func() {
					var out []byte
					in := c.body
					reason := "malformed"
					if c.name == "oversized" {
						reason = "too_large"
					}
					match := map[string]string{"signal": signalOf(c.method), "transport": "grpc", "reason": reason}
					before := counterSum(scrape(t, n), "starling_rejected_requests_total", match)
					err := conn.Invoke(ctx, c.method, &in, &out, grpc.ForceCodec(bytesCodec{}))
					if after := counterSum(scrape(t, n), "starling_rejected_requests_total", match); after != before+1 {
						t.Errorf("starling_rejected_requests_total %s: %v -> %v, want +1", reason, before, after)
					}
					st, _ := status.FromError(err)
					ok := false
					for _, want := range c.codes {
						ok = ok || st.Code() == want
					}
					if !ok {
						t.Fatalf("got %v (%v), want one of %v", st.Code(), err, c.codes)
					}
					want := "not a valid OTLP protobuf export request"
					if c.name == "oversized" {
						want = "larger than max"
					}
					if !strings.Contains(st.Message(), want) {
						t.Errorf("message %q does not mention %q", st.Message(), want)
					}
				})
			})
		}
	})

	t.Run("invalid records", func(t *testing.T) {
		testInvalidRecords(t, n, base)
	})
}

// testInvalidRecords sends requests that mix valid and invalid records over
// OTLP/HTTP (protobuf and JSON) and gRPC: 200 with partial success naming
// each invalid record's field path; valid records stored, invalid not.
func testInvalidRecords(t *testing.T, n *Node, base time.Time) {
	conn, err := grpc.NewClient(n.OTLPGRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	for _, tr := range []string{"http-proto", "http-json", "grpc"} {
		t.Run(tr, func(t *testing.T) {
			tag := "invalid-" + tr
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			// Traces: span 0 valid, span 1 zero trace id, span 2 ends
			// before it starts, span 3 zero span id.
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", tag)
			spans := rs.ScopeSpans().AppendEmpty().Spans()
			for i := range 4 {
				s := spans.AppendEmpty()
				s.SetTraceID(testTraceID(tag, i))
				s.SetSpanID(testSpanID(tag, i))
				s.SetName(fmt.Sprintf("span %d", i))
				s.SetStartTimestamp(ts(base))
				s.SetEndTimestamp(ts(base.Add(time.Millisecond)))
			}
			spans.At(1).SetTraceID(pcommon.TraceID{})
			spans.At(2).SetEndTimestamp(ts(base.Add(-time.Millisecond)))
			spans.At(3).SetSpanID(pcommon.SpanID{})

			// Logs: record 0 valid, record 1 severity 99.
			ld := plog.NewLogs()
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", tag)
			lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
			for i, sev := range []plog.SeverityNumber{plog.SeverityNumberWarn, 99} {
				lr := lrs.AppendEmpty()
				lr.SetTimestamp(ts(base.Add(time.Duration(i) * time.Second)))
				lr.SetSeverityNumber(sev)
				lr.Body().SetStr(fmt.Sprintf("record %d of %s", i, tag))
			}

			// Metrics: metric 0 valid, metric 1 has no name, metric 2 a
			// histogram point with the wrong number of buckets and one
			// without a time.
			md := pmetric.NewMetrics()
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr("service.name", tag)
			ms := rm.ScopeMetrics().AppendEmpty().Metrics()
			g := ms.AppendEmpty()
			g.SetName(tag + ".ok")
			p := g.SetEmptyGauge().DataPoints().AppendEmpty()
			p.SetTimestamp(ts(base))
			p.SetIntValue(1)
			noName := ms.AppendEmpty()
			p = noName.SetEmptyGauge().DataPoints().AppendEmpty()
			p.SetTimestamp(ts(base))
			p.SetIntValue(2)
			h := ms.AppendEmpty()
			h.SetName(tag + ".hist")
			hp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
			hp.SetTimestamp(ts(base))
			hp.ExplicitBounds().FromRaw([]float64{1, 2})
			hp.BucketCounts().FromRaw([]uint64{1})
			hp2 := h.Histogram().DataPoints().AppendEmpty()
			hp2.ExplicitBounds().FromRaw([]float64{1})
			hp2.BucketCounts().FromRaw([]uint64{1, 1})

			before := scrape(t, n)
			type answer struct {
				rejected int64
				message  string
			}
			var at, al, am answer
			switch tr {
			case "grpc":
				r1, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
				if err != nil {
					t.Fatal(err)
				}
				at = answer{r1.PartialSuccess().RejectedSpans(), r1.PartialSuccess().ErrorMessage()}
				r2, err := plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
				if err != nil {
					t.Fatal(err)
				}
				al = answer{r2.PartialSuccess().RejectedLogRecords(), r2.PartialSuccess().ErrorMessage()}
				r3, err := pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md))
				if err != nil {
					t.Fatal(err)
				}
				am = answer{r3.PartialSuccess().RejectedDataPoints(), r3.PartialSuccess().ErrorMessage()}
			default:
				isJSON := tr == "http-json"
				ctype := "application/x-protobuf"
				if isJSON {
					ctype = "application/json"
				}
				post := func(path string, req interface {
					MarshalJSON() ([]byte, error)
					MarshalProto() ([]byte, error)
				}, resp interface {
					UnmarshalJSON([]byte) error
					UnmarshalProto([]byte) error
				}) {
					body, err := req.MarshalProto()
					if isJSON {
						body, err = req.MarshalJSON()
					}
					if err != nil {
						t.Fatal(err)
					}
					status, rb := postOTLP(t, n.OTLPHTTPAddr(), path, ctype, "", body)
					if status != http.StatusOK {
						t.Fatalf("POST %s: %d %q", path, status, rb)
					}
					if isJSON {
						err = resp.UnmarshalJSON(rb)
					} else {
						err = resp.UnmarshalProto(rb)
					}
					if err != nil {
						t.Fatalf("POST %s: response %q: %v", path, rb, err)
					}
				}
				r1 := ptraceotlp.NewExportResponse()
				post("/v1/traces", ptraceotlp.NewExportRequestFromTraces(td), &r1)
				at = answer{r1.PartialSuccess().RejectedSpans(), r1.PartialSuccess().ErrorMessage()}
				r2 := plogotlp.NewExportResponse()
				post("/v1/logs", plogotlp.NewExportRequestFromLogs(ld), &r2)
				al = answer{r2.PartialSuccess().RejectedLogRecords(), r2.PartialSuccess().ErrorMessage()}
				r3 := pmetricotlp.NewExportResponse()
				post("/v1/metrics", pmetricotlp.NewExportRequestFromMetrics(md), &r3)
				am = answer{r3.PartialSuccess().RejectedDataPoints(), r3.PartialSuccess().ErrorMessage()}
			}

			for _, c := range []struct {
				signal   string
				got      answer
				rejected int64
				paths    []string
			}{
				{"traces", at, 3, []string{
					"resourceSpans[0].scopeSpans[0].spans[1].traceId",
					"resourceSpans[0].scopeSpans[0].spans[2].endTimeUnixNano",
					"resourceSpans[0].scopeSpans[0].spans[3].spanId",
				}},
				{"logs", al, 1, []string{"resourceLogs[0].scopeLogs[0].logRecords[1].severityNumber"}},
				{"metrics", am, 3, []string{
					"resourceMetrics[0].scopeMetrics[0].metrics[1].name",
					"resourceMetrics[0].scopeMetrics[0].metrics[2].dataPoints[0].bucketCounts",
					"resourceMetrics[0].scopeMetrics[0].metrics[2].dataPoints[1].timeUnixNano",
				}},
			} {
				if c.got.rejected != c.rejected {
					t.Errorf("%s: %d rejected, want %d (message %q)", c.signal, c.got.rejected, c.rejected, c.got.message)
				}
				for _, p := range c.paths {
					if !strings.Contains(c.got.message, p+": ") {
						t.Errorf("%s: error message %q does not name %s", c.signal, c.got.message, p)
					}
				}
			}

			// Valid records are stored; invalid ones are not.
			after := scrape(t, n)
			for sig, want := range map[string]float64{"traces": 1, "logs": 1, "metrics": 1} {
				m := map[string]string{"signal": sig}
				if d := counterSum(after, "starling_ingested_records_total", m) - counterSum(before, "starling_ingested_records_total", m); d != want {
					t.Errorf("ingested %s moved by %v, want %v", sig, d, want)
				}
				m["reason"] = "invalid"
				wantRejected := map[string]float64{"traces": 3, "logs": 1, "metrics": 3}[sig]
				if d := counterSum(after, "starling_rejected_records_total", m) - counterSum(before, "starling_rejected_records_total", m); d != wantRejected {
					t.Errorf("rejected %s moved by %v, want %v", sig, d, wantRejected)
				}
			}
			var list apiTraces
			getJSON(t, n, withQuery("/api/v1/traces", "service", tag), &list)
			if len(list.Traces) != 1 || list.Traces[0].RootName != "span 0" || list.Traces[0].SpanCount != 1 {
				t.Errorf("traces of %s: %+v, want only span 0", tag, list.Traces)
			}
			for i, want := range map[int]int{0: 200, 2: 404, 3: 404} {
				id := testTraceID(tag, i)
				code, body := httpGet(t, apiURL(n, fmt.Sprintf("/api/v1/traces/%x", id[:])))
				if code != want {
					t.Errorf("trace of span %d: status %d, want %d: %s", i, code, want, body)
				}
			}
			var logs apiLogs
			getJSON(t, n, withQuery("/api/v1/logs", "service", tag), &logs)
			if len(logs.Logs) != 1 || logs.Logs[0].SeverityNumber != 13 {
				t.Errorf("logs of %s: %+v, want only the WARN record", tag, logs.Logs)
			}
			// Metric names as Prometheus translates them (invalid-grpc.ok:
			// invalid_grpc_ok).
			prom := strings.NewReplacer("-", "_", ".", "_").Replace(tag)
			var names struct{ Names []string }
			getJSON(t, n, withQuery("/api/v1/metrics/names", "prefix", prom), &names)
			if fmt.Sprint(names.Names) != fmt.Sprint([]string{prom + "_ok"}) {
				t.Errorf("metric names of %s: %q, want only %s_ok", tag, names.Names, prom)
			}
		})
	}
}

// signalOf is the signal of an OTLP gRPC method.
func signalOf(method string) string {
	switch {
	case strings.Contains(method, ".trace."):
		return "traces"
	case strings.Contains(method, ".logs."):
		return "logs"
	}
	return "metrics"
}
