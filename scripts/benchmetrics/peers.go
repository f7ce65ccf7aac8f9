package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// marker begins every temp dir and log of this driver (and so the data
// dirs on the command lines of the servers it starts).
const marker = "starling-benchmetrics-"

// process is a running server: a starling node or a peer.
type process interface {
	Pid() int
	Exited() bool
	Stop(timeout time.Duration) error
	LogTail(lines int) string
}

// server is one started server under test.
type server struct {
	name      string // column name
	version   string
	proc      process
	base      string // http://host:port of the HTTP API (remote write, query, /metrics)
	ingest    string // base URL the payload goes to (Starling OTLP: its OTLP/HTTP port)
	queryPath string // the PromQL query_range path
	counter   string // prefix of its own count of samples stored, in /metrics ("": none)
	dataDir   string // what is measured on disk
	log       string
	queryOK   bool   // false: no query figures (queryNote says why)
	queryNote string //
}

// target is a server kind the run can measure.
type target struct {
	key   string // in -targets
	name  string
	start func(o *options, proto string) (*server, error)
}

var targets = []target{
	{"starling", "Starling", startStarling},
	{"victoriametrics", "VictoriaMetrics", startVictoriaMetrics},
	{"prometheus", "Prometheus", startPrometheus},
}

func logPath(name string) string {
	return filepath.Join(os.TempDir(), marker+strings.ToLower(strings.ReplaceAll(name, " ", "-"))+".log")
}

// errSkip marks a target the run skips (its endpoints are not there yet).
var errSkip = errors.New("skipped")

// startStarling starts bin/starling on 127.0.0.1 with free ports for every
// listener, waits until it is ready and checks that its remote write and
// PromQL endpoints exist: a 404 on remote write skips Starling (errSkip),
// a 404 on query_range only drops the query figures.
func startStarling(o *options, proto string) (*server, error) {
	if _, err := os.Stat(o.starling); err != nil {
		return nil, fmt.Errorf("starling binary: %w (scripts/bench-metrics.sh builds it)", err)
	}
	dir, err := benchkit.TempDir(marker+"starling-", o.keep)
	if err != nil {
		return nil, err
	}
	ports, err := benchkit.FreePorts("127.0.0.1")
	if err != nil {
		return nil, err
	}
	name := "Starling"
	if proto == "OTLP" {
		name = "Starling OTLP"
	}
	n, err := benchkit.StartNode(benchkit.NodeSpec{
		Binary: o.starling, Host: "127.0.0.1", Ports: ports, DataDir: dir, Log: logPath(name),
	})
	if err != nil {
		return nil, err
	}
	if _, err := n.WaitReady(60*time.Second, 50*time.Millisecond); err != nil {
		_ = n.Stop(0)
		return nil, err
	}
	s := &server{
		name: name, version: starlingVersion(o.starling), proc: n, base: n.HTTP, ingest: n.HTTP,
		queryPath: "/prometheus/api/v1/query_range", counter: o.starlingCounter, dataDir: dir, log: n.Spec.Log,
		queryOK: true,
	}
	if proto == "OTLP" {
		s.ingest = fmt.Sprintf("http://127.0.0.1:%d", ports.OTLPHTTP)
	}
	write, query, err := probeStarling(s)
	if err != nil {
		_ = n.Stop(0)
		return nil, err
	}
	if !write && proto != "OTLP" {
		_ = n.Stop(10 * time.Second)
		return nil, fmt.Errorf("%w: POST %s/api/v1/write answers 404 (remote write is not built yet)", errSkip, n.HTTP)
	}
	if !query {
		s.queryOK, s.queryNote = false, "GET /prometheus/api/v1/query_range answers 404"
	}
	logf("%s ready (pid %d, data %s, log %s)", name, n.Pid(), dir, n.Spec.Log)
	return s, nil
}

// probeStarling tells whether Starling's remote write and query_range
// endpoints exist (answer anything but 404), with an empty write request
// and a query over nothing.
func probeStarling(s *server) (write, query bool, err error) {
	client := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest("POST", s.base+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, nil)))
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := client.Do(req)
	if err != nil {
		return false, false, fmt.Errorf("probe remote write: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	write = resp.StatusCode != http.StatusNotFound
	now := time.Now().Unix()
	q := url.Values{"query": {"vector(1)"}, "start": {strconv.FormatInt(now-60, 10)}, "end": {strconv.FormatInt(now, 10)}, "step": {"15"}}
	resp, err = client.Get(s.base + s.queryPath + "?" + q.Encode())
	if err != nil {
		return write, false, fmt.Errorf("probe query_range: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return write, resp.StatusCode != http.StatusNotFound, nil
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

func startVictoriaMetrics(o *options, _ string) (*server, error) {
	bin, version := o.vmBin, o.vmVersion
	dir, err := benchkit.TempDir(marker+"victoriametrics-", o.keep)
	if err != nil {
		return nil, err
	}
	port, err := benchkit.FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	// Retention in days, well past the data set and over a month, so that
	// VictoriaMetrics neither drops old samples nor rotates its index
	// during the run.
	days := int(o.data.Duration/(24*time.Hour)) + 32
	args := []string{bin,
		"-storageDataPath=" + dir,
		"-httpListenAddr=127.0.0.1:" + strconv.Itoa(port),
		fmt.Sprintf("-retentionPeriod=%dd", days),
		"-search.latencyOffset=0s",
		"-search.disableCache", // the query figure measures queries, not the response cache
	}
	return startPeer(o, "VictoriaMetrics", version, args, port, "/health", dir, "/api/v1/query_range", "vm_rows_added_to_storage_total")
}

func startPrometheus(o *options, _ string) (*server, error) {
	bin, version := o.promBin, o.promVersion
	root, err := benchkit.TempDir(marker+"prometheus-", o.keep)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "data")
	cfg := filepath.Join(root, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte("# starling benchmetrics: no scrape jobs; samples come by remote write\nglobal:\n  scrape_interval: 15s\n"), 0o644); err != nil {
		return nil, err
	}
	port, err := benchkit.FreePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	args := []string{bin,
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + dir,
		"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
		"--web.enable-remote-write-receiver",
	}
	return startPeer(o, "Prometheus", version, args, port, "/-/ready", dir, "/api/v1/query_range", "prometheus_tsdb_head_samples_appended_total")
}

func startPeer(o *options, name, version string, args []string, port int, ready, dir, queryPath, counter string) (*server, error) {
	p, err := benchkit.StartProc(name, logPath(name), false, args...)
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if _, err := p.WaitHTTP(base+ready, 60*time.Second, 50*time.Millisecond); err != nil {
		_ = p.Stop(0)
		return nil, err
	}
	logf("%s %s ready (pid %d, data %s, log %s)", name, version, p.Pid(), dir, p.Log)
	return &server{
		name: name, version: version, proc: p, base: base, ingest: base, queryPath: queryPath,
		counter: counter, dataDir: dir, log: p.Log, queryOK: true,
	}, nil
}
