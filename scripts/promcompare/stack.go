package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// exporters is how many node_exporters Prometheus scrapes.
const exporters = 3

// stack is every process of a run: one Starling node, the node_exporters
// and Prometheus, all on 127.0.0.1 with free ports.
type stack struct {
	root            string // temp dir: data dirs and the Prometheus config
	starling        *benchkit.Node
	starlingPort    int // HTTP API: /metrics, /api/v1/write, /prometheus/api/v1/…
	exporters       []*benchkit.Proc
	exporterPorts   []int
	prom            *benchkit.Proc
	promPort        int
	promVersion     string
	exporterVersion string
	firstScrape     time.Time // Prometheus ready: its scrapes begin
	client          *http.Client
	stopOnce        sync.Once
	stopErr         error
}

func logPath(name string) string { return filepath.Join(os.TempDir(), marker+name+".log") }

// startStack fetches the Debian binaries if needed, clears what an
// earlier run left and starts Starling, the exporters and Prometheus,
// each waited for until it answers.
func startStack(o *options) (*stack, error) {
	if _, err := os.Stat(o.starling); err != nil {
		return nil, fmt.Errorf("starling binary: %w (scripts/compare-prometheus.sh builds it)", err)
	}
	cache, err := filepath.Abs(o.cache)
	if err != nil {
		return nil, err
	}
	st := &stack{client: &http.Client{Timeout: 5 * time.Second}}
	promBin, promVersion, err := benchkit.DebianBinary(cache, "prometheus", "prometheus")
	if err != nil {
		return nil, err
	}
	neBin, neVersion, err := benchkit.DebianBinary(cache, "prometheus-node-exporter", "prometheus-node-exporter")
	if err != nil {
		return nil, err
	}
	st.promVersion, st.exporterVersion = promVersion, neVersion
	if killed := benchkit.KillLeftovers(marker, "promcompare"); len(killed) > 0 {
		logf("killed leftover nodes of an earlier run: pids %v", killed)
		time.Sleep(200 * time.Millisecond)
	}
	if removed := benchkit.RemoveStaleDirs(marker); len(removed) > 0 {
		logf("removed temp dirs of an earlier run: %s", strings.Join(removed, " "))
	}
	if st.root, err = benchkit.TempDir(marker, o.keep); err != nil {
		return nil, err
	}
	if o.keep {
		logf("keeping %s", st.root)
	}
	if err := st.startStarling(o.starling); err != nil {
		return nil, err
	}
	if err := st.startExporters(neBin); err != nil {
		st.stop()
		return nil, err
	}
	if err := st.startPrometheus(promBin, o.interval); err != nil {
		st.stop()
		return nil, err
	}
	return st, nil
}

func (st *stack) startStarling(bin string) error {
	ports, err := benchkit.FreePorts("127.0.0.1")
	if err != nil {
		return err
	}
	dir := filepath.Join(st.root, "starling")
	n, err := benchkit.StartNode(benchkit.NodeSpec{
		Binary: bin, Host: "127.0.0.1", Ports: ports, DataDir: dir, Log: logPath("starling"),
	})
	if err != nil {
		return err
	}
	if _, err := n.WaitReady(60*time.Second, 50*time.Millisecond); err != nil {
		_ = n.Stop(0)
		return err
	}
	st.starling, st.starlingPort = n, ports.HTTP
	logf("Starling ready on %s (pid %d, data %s, log %s)", n.HTTP, n.Pid(), dir, n.Spec.Log)
	return nil
}

// startExporters starts the node_exporters with their default collectors
// but systemd, which needs a systemd on D-Bus (not in a container), and
// textfile pointed at an empty dir of the run instead of
// /var/lib/prometheus/node-exporter, which may not exist.
func (st *stack) startExporters(bin string) error {
	textfiles := filepath.Join(st.root, "textfile")
	if err := os.MkdirAll(textfiles, 0o755); err != nil {
		return err
	}
	for i := range exporters {
		port, err := benchkit.FreePort("127.0.0.1")
		if err != nil {
			return err
		}
		name := fmt.Sprintf("node_exporter %d", i+1)
		p, err := benchkit.StartProc(name, logPath(fmt.Sprintf("node-exporter-%d", i+1)), false, bin,
			"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
			"--no-collector.systemd",
			"--collector.textfile.directory="+textfiles,
		)
		if err != nil {
			return err
		}
		st.exporters, st.exporterPorts = append(st.exporters, p), append(st.exporterPorts, port)
		if _, err := p.WaitHTTP(fmt.Sprintf("http://127.0.0.1:%d/metrics", port), 30*time.Second, 50*time.Millisecond); err != nil {
			return err
		}
	}
	logf("%d node_exporters %s ready on ports %v", exporters, st.exporterVersion, st.exporterPorts)
	return nil
}

func (st *stack) startPrometheus(bin string, interval time.Duration) error {
	port, err := benchkit.FreePort("127.0.0.1")
	if err != nil {
		return err
	}
	st.promPort = port
	cfg := filepath.Join(st.root, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(promConfig(st, interval)), 0o644); err != nil {
		return err
	}
	dir := filepath.Join(st.root, "prometheus")
	p, err := benchkit.StartProc("Prometheus", logPath("prometheus"), false, bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+dir,
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port),
	)
	if err != nil {
		return err
	}
	st.prom = p
	if _, err := p.WaitHTTP(st.promURL()+"/-/ready", 60*time.Second, 50*time.Millisecond); err != nil {
		return err
	}
	st.firstScrape = time.Now()
	logf("Prometheus %s ready on %s (pid %d, data %s, config %s, log %s)", st.promVersion, st.promURL(), p.Pid(), dir, cfg, p.Log)
	return nil
}

func (st *stack) promURL() string     { return "http://127.0.0.1:" + strconv.Itoa(st.promPort) }
func (st *stack) starlingURL() string { return st.starling.HTTP }

// alive fails when a process of the stack has exited.
func (st *stack) alive() error {
	if st.starling.Exited() {
		return fmt.Errorf("Starling exited; log %s:\n%s", st.starling.Spec.Log, st.starling.LogTail(20))
	}
	for _, p := range append([]*benchkit.Proc{st.prom}, st.exporters...) {
		if p.Exited() {
			return fmt.Errorf("%s exited (%s); log %s:\n%s", p.Name, p.State(), p.Log, p.LogTail(20))
		}
	}
	return nil
}

// stop stops Prometheus first (it writes to Starling), then the
// exporters and Starling, each with SIGTERM and a clean close; it
// returns how a process ended if not cleanly. Later calls return the
// first call's result.
func (st *stack) stop() error {
	st.stopOnce.Do(func() {
		var errs []error
		if st.prom != nil {
			errs = append(errs, st.prom.Stop(30*time.Second))
		}
		for _, p := range st.exporters {
			if err := p.Stop(10 * time.Second); err != nil && !terminated(p) {
				errs = append(errs, err)
			}
		}
		if st.starling != nil {
			errs = append(errs, st.starling.Stop(30*time.Second))
		}
		st.stopErr = errors.Join(errs...)
	})
	return st.stopErr
}

// terminated tells whether p ended by the SIGTERM of Stop: node_exporter
// has no handler for it, and that is its normal way to stop.
func terminated(p *benchkit.Proc) bool {
	st := p.State()
	if st == nil {
		return false
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM
}
