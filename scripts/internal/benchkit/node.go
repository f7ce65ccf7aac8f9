// Package benchkit is what the load benchmarks under scripts/ share: starting
// and stopping starling processes and peer servers (Proc), reading their
// Prometheus counters and /proc figures, paced telemetrygen load, and
// cleanup of processes and temp dirs on exit, on error and on SIGINT/SIGTERM.
package benchkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Logf prints a timestamped progress line to stderr.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// cleanups run at Cleanup (or on SIGINT/SIGTERM), last registered first.
var cleanups struct {
	sync.Mutex
	next int
	fns  map[int]func()
}

// AtExit registers f to run at Cleanup; the returned func unregisters it.
func AtExit(f func()) (unregister func()) {
	cleanups.Lock()
	defer cleanups.Unlock()
	if cleanups.fns == nil {
		cleanups.fns = map[int]func(){}
	}
	id := cleanups.next
	cleanups.next++
	cleanups.fns[id] = f
	return func() {
		cleanups.Lock()
		delete(cleanups.fns, id)
		cleanups.Unlock()
	}
}

// cleaning is held while the cleanups run: a Cleanup called meanwhile (main
// returning because the signal handler killed its processes) waits, and
// never returns once the signal handler has cleaned up and exits.
var cleaning sync.Mutex

// Cleanup kills every process still running and removes every temp dir
// registered with AtExit. Call it before exiting, also on error.
func Cleanup() {
	cleaning.Lock()
	defer cleaning.Unlock()
	runCleanups()
}

func runCleanups() {
	cleanups.Lock()
	fns := cleanups.fns
	cleanups.fns = nil
	next := cleanups.next
	cleanups.Unlock()
	for id := next - 1; id >= 0; id-- {
		if f, ok := fns[id]; ok {
			f()
		}
	}
}

// CleanupOnSignal runs Cleanup and exits on SIGINT or SIGTERM.
func CleanupOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-ch
		cleaning.Lock() // kept: main must not exit before us
		Logf("%s: killing the processes started and removing temp dirs", s)
		runCleanups()
		os.Exit(130)
	}()
}

// TempDir makes a temp dir that Cleanup removes unless keep.
func TempDir(pattern string, keep bool) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	if !keep {
		AtExit(func() { os.RemoveAll(dir) })
	}
	return dir, nil
}

// startProc starts cmd so that it dies with this process (SIGKILL if the
// driver dies without cleaning up) and is killed by Cleanup. done is closed
// once cmd has been waited for.
func startProc(cmd *exec.Cmd) (done chan struct{}, err error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done = make(chan struct{})
	unregister := AtExit(func() {
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	go func() {
		_ = cmd.Wait()
		unregister()
		close(done)
	}()
	return done, nil
}

// Ports are a node's listeners.
type Ports struct {
	OTLPGRPC, OTLPHTTP, HTTP, Gossip, Raft, Actor int
}

// DefaultPorts are starling's defaults.
func DefaultPorts() Ports {
	return Ports{OTLPGRPC: 4317, OTLPHTTP: 4318, HTTP: 3300, Gossip: 7946, Raft: 7947, Actor: 7948}
}

func (p Ports) list() []int { return []int{p.OTLPGRPC, p.OTLPHTTP, p.HTTP, p.Gossip, p.Raft, p.Actor} }

// FreePort returns a TCP port free on host right now (for a peer's one
// listener).
func FreePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePorts picks six distinct ports free on host (the gossip port free for
// UDP too, memberlist uses both).
func FreePorts(host string) (Ports, error) {
	var ps []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for len(ps) < 6 {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return Ports{}, err
		}
		held = append(held, l)
		p := l.Addr().(*net.TCPAddr).Port
		if len(ps) == 3 { // the gossip port
			u, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p)))
			if err != nil {
				continue
			}
			u.Close()
		}
		ps = append(ps, p)
	}
	return Ports{OTLPGRPC: ps[0], OTLPHTTP: ps[1], HTTP: ps[2], Gossip: ps[3], Raft: ps[4], Actor: ps[5]}, nil
}

// CheckFree fails if any of the ports is taken on host, retrying for up to
// wait (a process that just exited may still hold them for a moment).
func CheckFree(host string, p Ports, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := checkFree(host, p)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkFree(host string, p Ports) error {
	for _, port := range p.list() {
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s is taken (pgrep -a starling): %w", addr, err)
		}
		l.Close()
	}
	addr := net.JoinHostPort(host, strconv.Itoa(p.Gossip))
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("udp %s is taken (pgrep -a starling): %w", addr, err)
	}
	u.Close()
	return nil
}

// NodeSpec is how to start one starling process.
type NodeSpec struct {
	Binary          string
	Host            string // --bind
	Ports           Ports
	DataDir         string
	NodeID          string   // "": starling makes one up
	Join            []string // gossip addresses of seeds
	BootstrapExpect int      // 0: starling's default (1)
	Log             string   // file for stdout and stderr
	AppendLog       bool     // append to Log (a restart) instead of truncating it
	Extra           []string // more flags, appended last (--replication-factor 3, …)
}

func (s NodeSpec) args() []string {
	a := []string{"--data-dir", s.DataDir, "--bind", s.Host,
		"--otlp-grpc-port", strconv.Itoa(s.Ports.OTLPGRPC), "--otlp-http-port", strconv.Itoa(s.Ports.OTLPHTTP),
		"--http-port", strconv.Itoa(s.Ports.HTTP), "--gossip-port", strconv.Itoa(s.Ports.Gossip),
		"--raft-port", strconv.Itoa(s.Ports.Raft), "--actor-port", strconv.Itoa(s.Ports.Actor)}
	if s.NodeID != "" {
		a = append(a, "--node-id", s.NodeID)
	}
	for _, j := range s.Join {
		a = append(a, "--join", j)
	}
	if s.BootstrapExpect > 0 {
		a = append(a, "--bootstrap-expect", strconv.Itoa(s.BootstrapExpect))
	}
	return append(a, s.Extra...)
}

// Node is a running starling process.
type Node struct {
	Spec    NodeSpec
	HTTP    string // base URL of the HTTP API
	GRPC    string // host:port of OTLP/gRPC
	Started time.Time
	proc    *Proc
	client  *http.Client
}

// StartNode starts a node; it does not wait until it is ready.
func StartNode(s NodeSpec) (*Node, error) {
	n := &Node{
		Spec:   s,
		HTTP:   "http://" + net.JoinHostPort(s.Host, strconv.Itoa(s.Ports.HTTP)),
		GRPC:   net.JoinHostPort(s.Host, strconv.Itoa(s.Ports.OTLPGRPC)),
		client: &http.Client{Timeout: 2 * time.Second},
	}
	p, err := StartProc(n.Name(), s.Log, s.AppendLog, append([]string{s.Binary}, s.args()...)...)
	if err != nil {
		return nil, err
	}
	n.proc, n.Started = p, p.Started
	return n, nil
}

// Pid is the node's process id.
func (n *Node) Pid() int { return n.proc.Pid() }

// Exited tells whether the process has ended.
func (n *Node) Exited() bool { return n.proc.Exited() }

// Ready asks /readyz once.
func (n *Node) Ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", n.HTTP+"/readyz", nil)
	resp, err := n.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// WaitReady polls /readyz every interval until it answers 200 and returns
// the time from process start. The error of a node that exits or is not
// ready within timeout carries the tail of its log.
func (n *Node) WaitReady(timeout, interval time.Duration) (time.Duration, error) {
	deadline := n.Started.Add(timeout)
	for {
		if n.Ready() {
			return time.Since(n.Started), nil
		}
		if n.Exited() {
			return 0, fmt.Errorf("%s exited (%s) before it was ready; log %s:\n%s", n.Name(), n.proc.State(), n.Spec.Log, n.LogTail(20))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready within %s; log %s:\n%s", n.Name(), timeout, n.Spec.Log, n.LogTail(20))
		}
		time.Sleep(interval)
	}
}

// Name is the node id, or the bind address when there is none.
func (n *Node) Name() string {
	if n.Spec.NodeID != "" {
		return n.Spec.NodeID
	}
	return "node " + n.Spec.Host
}

// LogTail returns the last lines of the node's log.
func (n *Node) LogTail(lines int) string { return n.proc.LogTail(lines) }

// StopAll stops nodes at once, each as Stop does, and joins their errors.
func StopAll(nodes []*Node, timeout time.Duration) error {
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.Stop(timeout) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stop sends SIGTERM and waits for a clean close, killing the process after
// timeout (0: kill at once). The error tells how it ended if not cleanly.
func (n *Node) Stop(timeout time.Duration) error { return n.proc.Stop(timeout) }

// Metric reads one sample of the node's /metrics (first series whose name
// and labels start with prefix; 0 if there is none).
func (n *Node) Metric(prefix string) (float64, error) {
	return ScrapeMetric(n.client, n.HTTP+"/metrics", prefix)
}

// Spans is the node's count of spans it received and saw stored.
func (n *Node) Spans() (float64, error) {
	return n.Metric(`starling_ingested_records_total{signal="traces"}`)
}

// CPU is the node's user+system CPU seconds so far.
func (n *Node) CPU() float64 { return ProcCPU(n.Pid()) }

// ProcCPU returns user+system CPU seconds of a process from /proc.
func ProcCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// PeakRSS returns VmHWM of a process in bytes.
func PeakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// DiskBytes is the allocated size of everything under dir.
func DiskBytes(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// KillLeftovers kills starling processes left behind by an earlier run of a
// benchmark that died without cleaning up: processes whose command line has
// marker (a data-dir prefix only that benchmark uses) and whose parent is
// not a running driver named driverComm. It returns their pids.
func KillLeftovers(marker, driverComm string) []int {
	entries, _ := os.ReadDir("/proc")
	var killed []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmdline), marker) {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if !strings.HasSuffix(args[0], "starling") {
			continue
		}
		if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid(pid))); strings.TrimSpace(string(comm)) == driverComm {
			continue // another run's node, alive: CheckFree reports the collision
		}
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.SIGKILL) == nil {
			killed = append(killed, pid)
		}
	}
	return killed
}

// RemoveStaleDirs removes the directories <tmp>/<marker>* that no running
// process names on its command line: data left by a run that was killed
// (SIGKILL) before it could clean up. Call it after KillLeftovers.
func RemoveStaleDirs(marker string) []string {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), marker+"*"))
	var cmdlines []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && strings.Contains(string(b), marker) {
				cmdlines = append(cmdlines, string(b))
			}
		}
	}
	var removed []string
next:
	for _, d := range dirs {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			continue
		}
		for _, c := range cmdlines {
			if strings.Contains(c, d) {
				continue next
			}
		}
		if os.RemoveAll(d) == nil {
			removed = append(removed, d)
		}
	}
	return removed
}

func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	p, _ := strconv.Atoi(f[1])
	return p
}

// ErrNoTelemetrygen says how to get telemetrygen.
var ErrNoTelemetrygen = errors.New("telemetrygen not found (scripts/lib.sh ensure_telemetrygen installs it)")

// Prepare checks that telemetrygen and the starling binary (built by
// script) are there, and clears what an earlier run of driver left: its
// nodes (KillLeftovers) and their data dirs (RemoveStaleDirs).
func Prepare(telemetrygen, starling, script, marker, driver string) error {
	if _, err := exec.LookPath(telemetrygen); err != nil {
		return fmt.Errorf("%w: %v", ErrNoTelemetrygen, err)
	}
	if _, err := os.Stat(starling); err != nil {
		return fmt.Errorf("starling binary: %w (%s builds it)", err, script)
	}
	Logf("machine: %d cores; every node and generator below shares them", runtime.NumCPU())
	if killed := KillLeftovers(marker, driver); len(killed) > 0 {
		Logf("killed leftover nodes of an earlier run: pids %v", killed)
		time.Sleep(200 * time.Millisecond) // let them die before their dirs go
	}
	if removed := RemoveStaleDirs(marker); len(removed) > 0 {
		Logf("removed data dirs of an earlier run: %s", strings.Join(removed, " "))
	}
	return nil
}
