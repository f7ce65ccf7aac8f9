package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// marker begins every temp dir and log of this driver (and so the data
// dirs on the command lines of the servers it starts).
const marker = "starling-benchquery-"

// process is a running server.
type process interface {
	Pid() int
	Exited() bool
	Stop(timeout time.Duration) error
	LogTail(lines int) string
}

// server is one started server under test.
type server struct {
	key, name, version string
	proc               process
	otlp               string // host:port of OTLP/gRPC
	api                string // base URL of the query API
	metrics            string // URL of its own /metrics
	counter            string // prefix of its count of spans stored, in metrics
	dataDir            string // what is measured on disk
	root               string // temp dir removed at the end (unless -keep)
	log                string
	client             *http.Client
}

// stored is the server's own count of spans stored (0 if it cannot be
// read).
func (s *server) stored() float64 {
	v, _ := benchkit.ScrapeMetric(s.client, s.metrics, s.counter)
	return v
}

// target is a server kind the run can measure.
type target struct {
	key, name string
	start     func(o *options) (*server, error)
}

var targets = []target{
	{"starling", "Starling", startStarling},
	{"jaeger", "Jaeger", startJaeger},
}

func logPath(name string) string {
	return filepath.Join(os.TempDir(), marker+strings.ToLower(name)+".log")
}

// startStarling starts the starling binary with its default flags but for
// a fresh data dir, free loopback ports and --cache-freshness 1m (every
// span of the data set starts before the run does, so the whole range is
// closed a minute after the load, and the warm pass can use the results
// cache), and waits until it is ready.
func startStarling(o *options) (*server, error) {
	if _, err := os.Stat(o.starling); err != nil {
		return nil, fmt.Errorf("starling binary: %w (scripts/bench-query.sh builds it)", err)
	}
	dir, err := benchkit.TempDir(marker+"starling-", o.keep)
	if err != nil {
		return nil, fmt.Errorf("starling data dir: %w", err)
	}
	ports, err := benchkit.FreePorts("127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("starling ports: %w", err)
	}
	n, err := benchkit.StartNode(benchkit.NodeSpec{
		Binary: o.starling, Host: "127.0.0.1", Ports: ports, DataDir: dir, Log: logPath("starling"),
		Extra: []string{"--cache-freshness", "1m"},
	})
	if err != nil {
		return nil, fmt.Errorf("start starling: %w", err)
	}
	if _, err := n.WaitReady(60*time.Second, 50*time.Millisecond); err != nil {
		_ = n.Stop(0)
		return nil, err
	}
	logf("Starling ready (pid %d, data %s, log %s)", n.Pid(), dir, n.Spec.Log)
	return &server{
		key: "starling", name: "Starling", version: starlingVersion(o.starling), proc: n,
		otlp: n.GRPC, api: n.HTTP, metrics: n.HTTP + "/metrics",
		counter: `starling_ingested_records_total{signal="traces"}`,
		dataDir: dir, root: dir, log: n.Spec.Log, client: &http.Client{Timeout: 5 * time.Second},
	}, nil
}

// jaegerConfig is Jaeger v2's configuration (an OpenTelemetry Collector
// configuration with Jaeger's extensions): the OTLP/gRPC receiver, the
// batch processor and the storage exporter as in Jaeger's own
// cmd/jaeger/config-badger.yaml, Badger on disk (ephemeral false) with a
// TTL past the data set, the query extension (HTTP API), the health check
// and the collector's own metrics, every listener on loopback.
func jaegerConfig(dir string, p jaegerPorts) string {
	return fmt.Sprintf(`# written by scripts/benchquery (starling's bench-query)
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: detailed
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %d
    logs:
      level: info

extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
  jaeger_query:
    storage:
      traces: badger_store
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      badger_store:
        badger:
          directories:
            keys: %s
            values: %s
          ephemeral: false
          ttl:
            spans: 720h

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:%d
        max_recv_msg_size_mib: 64

processors:
  batch:

exporters:
  jaeger_storage_exporter:
    trace_storage: badger_store
`, p.metrics, p.health, p.queryHTTP, p.queryGRPC,
		strconv.Quote(filepath.Join(dir, "keys")), strconv.Quote(filepath.Join(dir, "values")), p.otlp)
}

type jaegerPorts struct{ otlp, queryHTTP, queryGRPC, health, metrics int }

// startJaeger writes the configuration and starts Jaeger v2 with it, and
// waits until its health check and its query API answer.
func startJaeger(o *options) (*server, error) {
	if o.jaeger == "" {
		return nil, fmt.Errorf("no Jaeger binary: pass -jaeger (scripts/bench-query.sh builds one into .cache/peers/jaeger)")
	}
	if _, err := os.Stat(o.jaeger); err != nil {
		return nil, fmt.Errorf("jaeger binary: %w", err)
	}
	root, err := benchkit.TempDir(marker+"jaeger-", o.keep)
	if err != nil {
		return nil, fmt.Errorf("jaeger dir: %w", err)
	}
	data := filepath.Join(root, "badger")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("jaeger data dir: %w", err)
	}
	var ps [5]int
	for i := range ps {
		// Distinct: a port is free when picked, and the next pick may
		// return it again once it is closed.
		for {
			p, err := benchkit.FreePort("127.0.0.1")
			if err != nil {
				return nil, fmt.Errorf("jaeger ports: %w", err)
			}
			dup := false
			for _, q := range ps[:i] {
				dup = dup || q == p
			}
			if !dup {
				ps[i] = p
				break
			}
		}
	}
	ports := jaegerPorts{otlp: ps[0], queryHTTP: ps[1], queryGRPC: ps[2], health: ps[3], metrics: ps[4]}
	cfg := filepath.Join(root, "jaeger.yaml")
	if err := os.WriteFile(cfg, []byte(jaegerConfig(data, ports)), 0o644); err != nil {
		return nil, fmt.Errorf("jaeger config: %w", err)
	}
	p, err := benchkit.StartProc("Jaeger", logPath("jaeger"), false, o.jaeger, "--config", cfg)
	if err != nil {
		return nil, fmt.Errorf("start jaeger: %w", err)
	}
	api := "http://127.0.0.1:" + strconv.Itoa(ports.queryHTTP)
	if _, err := p.WaitHTTP("http://127.0.0.1:"+strconv.Itoa(ports.health)+"/status", 120*time.Second, 100*time.Millisecond); err != nil {
		_ = p.Stop(0)
		return nil, err
	}
	if _, err := p.WaitHTTP(api+"/api/services", 60*time.Second, 100*time.Millisecond); err != nil {
		_ = p.Stop(0)
		return nil, err
	}
	logf("Jaeger %s ready (pid %d, config %s, data %s, log %s)", o.jaegerVersion, p.Pid(), cfg, data, p.Log)
	return &server{
		key: "jaeger", name: "Jaeger", version: o.jaegerVersion, proc: p,
		otlp: "127.0.0.1:" + strconv.Itoa(ports.otlp), api: api,
		metrics: "http://127.0.0.1:" + strconv.Itoa(ports.metrics) + "/metrics",
		// Spans the storage exporter wrote to Badger (the OTLP answer
		// comes when the batch processor has them, before they are
		// stored).
		counter: `otelcol_exporter_sent_spans_total{`,
		dataDir: data, root: root, log: p.Log, client: &http.Client{Timeout: 5 * time.Second},
	}, nil
}

// starlingVersion names the working tree bin/starling was built from.
func starlingVersion(bin string) string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return bin
	}
	v := "working tree of " + strings.TrimSpace(string(out))
	if st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(bytes.TrimSpace(st)) > 0 {
		v += " (modified)"
	}
	return v
}

// duBytes is du -sb: the apparent size of everything under dir.
func duBytes(dir string) int64 {
	out, err := exec.Command("du", "-sb", dir).Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	return n
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}
