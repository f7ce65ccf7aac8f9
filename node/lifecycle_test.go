package node

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Start, stop and restart of a node, and its configuration checks.

func TestConfigValidate(t *testing.T) {
	if err := LocalConfig(t.TempDir()).Validate(); err != nil {
		t.Fatalf("LocalConfig: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	for _, c := range []struct {
		name    string
		mutate  func(*Config)
		mention []string
	}{
		{"no data dir", func(c *Config) { c.DataDir = "" }, []string{"data-dir"}},
		{"negative port", func(c *Config) { c.OTLPGRPCPort = -1 }, []string{"otlp-grpc-port"}},
		{"port too large", func(c *Config) { c.HTTPPort = 65536 }, []string{"http-port"}},
		{"no partitions", func(c *Config) { c.Partitions = 0 }, []string{"partitions"}},
		{"too many partitions", func(c *Config) { c.Partitions = 4097 }, []string{"partitions"}},
		{"negative max future", func(c *Config) { c.MaxFuture = -time.Second }, []string{"max-future"}},
		{"tiny request limit", func(c *Config) { c.MaxRequestBytes = 1000 }, []string{"max-request-bytes"}},
		{"zero timeout", func(c *Config) { c.QueryTimeout = 0 }, []string{"timeouts"}},
		{"no frontends", func(c *Config) { c.Frontends = 0 }, []string{"frontends"}},
		{"negative rebalance threshold", func(c *Config) { c.RebalanceThreshold = -0.1 }, []string{"rebalance-threshold"}},
		{"rebalance threshold not a number", func(c *Config) { c.RebalanceThreshold = math.NaN() }, []string{"rebalance-threshold"}},
		{"no size reports", func(c *Config) { c.SizeReportInterval = 0 }, []string{"size-report-interval"}},
		{"every problem at once", func(c *Config) {
			c.DataDir, c.OTLPHTTPPort, c.Partitions, c.Frontends = "", 70000, -1, 0
		}, []string{"data-dir", "otlp-http-port", "partitions", "frontends"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := LocalConfig(t.TempDir())
			c.mutate(&cfg)
			_, err := New(cfg)
			if err == nil {
				t.Fatal("New accepted the config")
			}
			for _, m := range c.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
		})
	}
}

// newNode starts a node on dir with cfg changed by mutate, returning the
// start error instead of failing.
func newNode(t *testing.T, dir string, mutate func(*Config)) (*Node, error) {
	t.Helper()
	cfg := LocalConfig(dir)
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return n, n.Start(ctx)
}

func stopNode(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// sendAll posts test traces, logs and metrics of tag as OTLP/HTTP protobuf.
func sendAll(t *testing.T, n *Node, tag string, base time.Time) {
	t.Helper()
	for path, body := range map[string][]byte{
		"/v1/traces":  must(ptraceotlp.NewExportRequestFromTraces(testTraces(tag, base)).MarshalProto()),
		"/v1/logs":    must(plogotlp.NewExportRequestFromLogs(testLogs(tag, base)).MarshalProto()),
		"/v1/metrics": must(pmetricotlp.NewExportRequestFromMetrics(testMetrics(tag, base)).MarshalProto()),
	} {
		if status, resp := postOTLP(t, n.OTLPHTTPAddr(), path, "application/x-protobuf", "", body); status != http.StatusOK {
			t.Fatalf("POST %s: %d %q", path, status, resp)
		}
	}
}

func TestRestartKeepsDataAndSettings(t *testing.T) {
	dir := t.TempDir()
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	n, err := newNode(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := n.NodeID()
	if !strings.HasPrefix(id, "node-") {
		t.Errorf("node id %q", id)
	}
	sendAll(t, n, "restart", base)
	stopNode(t, n)

	// Same directory, same settings: same id, same data.
	n, err = newNode(t, dir, nil)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if n.NodeID() != id {
		t.Errorf("node id after restart %q, want %q", n.NodeID(), id)
	}
	t.Run("traces", func(t *testing.T) { checkTraces(t, n, testTraces("restart", base)) })
	t.Run("logs", func(t *testing.T) { checkLogs(t, n, testLogs("restart", base), "json-restart") })
	t.Run("metrics", func(t *testing.T) { checkMetrics(t, n, testMetrics("restart", base)) })
	stopNode(t, n)

	// Settings that decide where records live cannot change.
	for _, c := range []struct {
		name    string
		mutate  func(*Config)
		mention string
	}{
		{"partitions", func(c *Config) { c.Partitions = 32 }, "partitions"},
		{"window", func(c *Config) { c.Window = 12 * time.Hour }, "window"},
		{"node id", func(c *Config) { c.NodeID = "someone-else" }, "node-id"},
	} {
		t.Run("refuses other "+c.name, func(t *testing.T) {
			n, err := newNode(t, dir, c.mutate)
			if err == nil {
				stopNode(t, n)
				t.Fatal("started with changed settings")
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("error %q does not mention %s", err, c.mention)
			}
		})
	}
	// The explicit id it already has is fine.
	n, err = newNode(t, dir, func(c *Config) { c.NodeID = id })
	if err != nil {
		t.Fatalf("restart with its own id: %v", err)
	}
	stopNode(t, n)

	// A damaged settings file is an error, not a fresh start.
	if err := os.WriteFile(filepath.Join(dir, settingsFile), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := newNode(t, dir, nil); err == nil {
		stopNode(t, n)
		t.Error("started with a damaged settings file")
	} else if !strings.Contains(err.Error(), settingsFile) {
		t.Errorf("error %q does not name %s", err, settingsFile)
	}
}

func TestStartFailureReleasesEverything(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	for _, c := range []struct {
		name    string
		mutate  func(*Config)
		mention string
	}{
		{"otlp grpc port", func(c *Config) { c.OTLPGRPCPort = port }, "OTLP/gRPC"},
		{"otlp http port", func(c *Config) { c.OTLPHTTPPort = port }, "OTLP/HTTP"},
		{"api port", func(c *Config) { c.HTTPPort = port }, "HTTP API"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := newNode(t, dir, c.mutate)
			if err == nil || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("Start: %v, want an error naming %s", err, c.mention)
			}
		})
	}
	// The failed starts closed the store and their listeners: a node
	// opens the same directory at once.
	n, err := newNode(t, dir, nil)
	if err != nil {
		t.Fatalf("start after failed starts: %v", err)
	}
	stopNode(t, n)
}

func TestStopIsIdempotentAndClosesListeners(t *testing.T) {
	n, err := newNode(t, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []string{n.OTLPGRPCAddr(), n.OTLPHTTPAddr(), n.HTTPAddr()}
	if !n.Ready() {
		t.Error("not ready after Start")
	}
	stopNode(t, n)
	stopNode(t, n)
	if n.Ready() {
		t.Error("ready after Stop")
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Stop", a)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	n := startNode(t, nil)
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		status, body := httpGet(t, apiURL(n, path))
		if status != http.StatusOK || string(body) != want {
			t.Errorf("GET %s: %d %q, want 200 %q", path, status, body, want)
		}
	}
	sendAll(t, n, "health", time.Now().Add(-time.Minute))
	mfs := scrape(t, n)
	for _, name := range []string{"starling_ingested_records_total", "go_goroutines", "process_cpu_seconds_total"} {
		if mfs[name] == nil {
			t.Errorf("/metrics has no %s", name)
		}
	}
	// testTraces has 4 spans, testLogs 4 records, testMetrics 3 gauge,
	// 2 sum, 1 histogram, 1 exponential histogram and 1 summary point.
	for sig, want := range map[string]float64{"traces": 4, "logs": 4, "metrics": 8} {
		if got := counterSum(mfs, "starling_ingested_records_total", map[string]string{"signal": sig}); got != want {
			t.Errorf("starling_ingested_records_total{signal=%s} = %v, want %v", sig, got, want)
		}
	}
}

// Writes are idempotent: a request sent twice (a client retry) is stored
// once.
func TestRetriedRequestStoredOnce(t *testing.T) {
	n := startNode(t, nil)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	sendAll(t, n, "twice", base)
	sendAll(t, n, "twice", base)
	checkTraces(t, n, testTraces("twice", base))
	checkLogs(t, n, testLogs("twice", base), "json-twice")
	checkMetrics(t, n, testMetrics("twice", base))
}

// Records outside the accepted time range (older than retention, further
// ahead than MaxFuture) are rejected with the reason and the field.
func TestOutOfRangeTimesRejected(t *testing.T) {
	n := startNode(t, func(c *Config) { c.RetentionTraces, c.RetentionLogs = 24*time.Hour, 24*time.Hour })
	for _, c := range []struct {
		name, reason string
		at           time.Time
	}{
		{"too old", "too_old", time.Now().Add(-48 * time.Hour)},
		{"too new", "too_new", time.Now().Add(2 * time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			tag := strings.ReplaceAll(c.name, " ", "")
			before := scrape(t, n)
			status, resp := postOTLP(t, n.OTLPHTTPAddr(), "/v1/traces", "application/x-protobuf", "",
				must(ptraceotlp.NewExportRequestFromTraces(testTraces(tag, c.at)).MarshalProto()))
			r := ptraceotlp.NewExportResponse()
			if status != http.StatusOK || r.UnmarshalProto(resp) != nil {
				t.Fatalf("traces: %d %q", status, resp)
			}
			if ps := r.PartialSuccess(); ps.RejectedSpans() != 4 || !strings.Contains(ps.ErrorMessage(), "spans[0].startTimeUnixNano") {
				t.Errorf("traces: partial success %d %q, want 4 naming startTimeUnixNano", ps.RejectedSpans(), ps.ErrorMessage())
			}
			status, resp = postOTLP(t, n.OTLPHTTPAddr(), "/v1/logs", "application/x-protobuf", "",
				must(plogotlp.NewExportRequestFromLogs(testLogs(tag, c.at)).MarshalProto()))
			lr := plogotlp.NewExportResponse()
			if status != http.StatusOK || lr.UnmarshalProto(resp) != nil {
				t.Fatalf("logs: %d %q", status, resp)
			}
			if ps := lr.PartialSuccess(); ps.RejectedLogRecords() != 4 || !strings.Contains(ps.ErrorMessage(), "logRecords[0].timeUnixNano") {
				t.Errorf("logs: partial success %d %q, want 4 naming timeUnixNano", ps.RejectedLogRecords(), ps.ErrorMessage())
			}
			after := scrape(t, n)
			for _, sig := range []string{"traces", "logs"} {
				m := map[string]string{"signal": sig, "reason": c.reason}
				if d := counterSum(after, "starling_rejected_records_total", m) - counterSum(before, "starling_rejected_records_total", m); d != 4 {
					t.Errorf("starling_rejected_records_total%v moved by %v, want 4", m, d)
				}
			}
			id := testTraceID(tag, 0)
			if status, _ := httpGet(t, apiURL(n, fmt.Sprintf("/api/v1/traces/%x", id[:]))); status != http.StatusNotFound {
				t.Errorf("rejected trace: status %d, want 404", status)
			}
		})
	}
}

func TestMinLevelHandler(t *testing.T) {
	var buf strings.Builder
	h := minLevel{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), slog.LevelWarn}
	log := slog.New(h).With("a", 1).WithGroup("g")
	log.Info("dropped")
	log.Warn("kept", "b", 2)
	out := buf.String()
	if strings.Contains(out, "dropped") || !strings.Contains(out, "kept") || !strings.Contains(out, "a=1") || !strings.Contains(out, "g.b=2") {
		t.Errorf("output %q: want only the warning, with its attributes and group", out)
	}
}

// A log record without a timestamp is stored at its observed time (or the
// time of receipt); the API shows that time, not 1970.
func TestLogWithoutTimestamp(t *testing.T) {
	n := startNode(t, nil)
	observed := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	ld := testLogs("notime", observed)
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	lrs.At(0).SetTimestamp(0)
	lrs.At(0).SetObservedTimestamp(ts(observed))
	lrs.At(1).SetTimestamp(0)
	lrs.At(1).SetObservedTimestamp(0)
	lrs.RemoveIf(func(lr plog.LogRecord) bool { return lr.Timestamp() != 0 })
	before := time.Now()
	if status, resp := postOTLP(t, n.OTLPHTTPAddr(), "/v1/logs", "application/x-protobuf", "",
		must(plogotlp.NewExportRequestFromLogs(ld).MarshalProto())); status != http.StatusOK {
		t.Fatalf("POST: %d %q", status, resp)
	}
	after := time.Now()
	var got apiLogs
	getJSON(t, n, withQuery("/api/v1/logs", "service", "json-notime"), &got)
	if len(got.Logs) != 2 {
		t.Fatalf("got %d logs, want 2", len(got.Logs))
	}
	// Newest first: the one received now, then the observed one.
	if tm := nanos(t, got.Logs[0].Time); tm < before.UnixNano() || tm > after.UnixNano() {
		t.Errorf("log without any time: time %s, want the time of receipt", got.Logs[0].Time)
	}
	if tm := nanos(t, got.Logs[1].Time); tm != observed.UnixNano() {
		t.Errorf("log with only an observed time: time %s, want %s", got.Logs[1].Time, observed.Format(time.RFC3339Nano))
	}
}
