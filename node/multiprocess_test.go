//go:build linux

// Linux only: the nodes bind 127.0.0.40–43, which other systems do not
// route to loopback by default, and Pdeathsig kills them with the test.

package node

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/starling-otel/starling/storage"
)

// A cluster of starling processes on loopback with the default ports: it
// forms, takes the OTel SDK's writes on one node and answers them on every
// node, spreads partitions evenly, adds a fourth node as non-voter, replaces
// a killed Raft leader with it, and takes the killed node back.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
	binTook time.Duration
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// starlingBinary builds ../cmd/starling once per test binary run and
// returns its path.
func starlingBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		began := time.Now()
		if binDir, binErr = os.MkdirTemp("", "starling-node-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "starling")
		if out, err := exec.Command("go", "build", "-o", binPath, "../cmd/starling").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ../cmd/starling: %v\n%s", err, out)
		}
		binTook = time.Since(began)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Default ports of the starling binary.
const (
	procOTLPGRPCPort = "4317"
	procOTLPHTTPPort = "4318"
	procHTTPPort     = "3300"
	procGossipPort   = "7946"
)

// starlingProc is node i of a process cluster: `starling` bound to
// 127.0.0.(40+i) with the default ports, its data dir kept across restarts
// and its output appended to a log file that the test prints when it fails.
type starlingProc struct {
	t       *testing.T
	bin     string
	id      string
	host    string
	args    []string
	logPath string

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// newStarlingProc prepares node i with the flags every node gets plus
// extra; it is killed when the test ends.
func newStarlingProc(t *testing.T, bin string, i int, extra ...string) *starlingProc {
	t.Helper()
	logDir := os.Getenv("STARLING_TEST_LOG_DIR") // kept after the test, for debugging
	if logDir == "" {
		logDir = t.TempDir()
	}
	p := &starlingProc{
		t: t, bin: bin, id: fmt.Sprintf("node-%d", i), host: fmt.Sprintf("127.0.0.%d", 40+i),
		logPath: filepath.Join(logDir, fmt.Sprintf("node-%d.log", i)),
	}
	p.args = append([]string{
		"--node-id", p.id, "--data-dir", t.TempDir(), "--bind", p.host,
		"--join", "127.0.0.40:" + procGossipPort, "--dead-node-timeout", "3s", "--partitions", "256",
		"--replication-factor", "1", // what happens to a partition with one copy
	}, extra...)
	// Registered after the temporary directories, so it runs before they
	// are removed.
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s (%s) log, last lines:\n%s", p.id, p.host, tailFile(p.logPath, 80))
		}
	})
	return p
}

func (p *starlingProc) NodeID() string       { return p.id }
func (p *starlingProc) OTLPGRPCAddr() string { return net.JoinHostPort(p.host, procOTLPGRPCPort) }
func (p *starlingProc) OTLPHTTPAddr() string { return net.JoinHostPort(p.host, procOTLPHTTPPort) }
func (p *starlingProc) HTTPAddr() string     { return net.JoinHostPort(p.host, procHTTPPort) }

// start runs the process; it does not wait for it to be ready.
func (p *starlingProc) start() {
	p.t.Helper()
	if p.cmd != nil && !p.exited() {
		p.t.Fatalf("%s: already running", p.id)
	}
	// A process left over from an earlier run would answer for this one.
	if ln, err := net.Listen("tcp", p.HTTPAddr()); err != nil {
		p.t.Fatalf("%s: %s is taken (a starling left running?): %v", p.id, p.HTTPAddr(), err)
	} else {
		ln.Close()
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== %s: starling %s\n", time.Now().Format(time.TimeOnly), strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with a test binary that panics
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Fatalf("%s: %v", p.id, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		err := cmd.Wait()
		fmt.Fprintf(logf, "=== %s: exited: %v\n", time.Now().Format(time.TimeOnly), err)
		logf.Close()
		close(done)
	}(p.done)
}

func (p *starlingProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits until the process is gone; a no-op when it
// is not running.
func (p *starlingProc) kill() {
	if p.cmd == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("%s: still running 10s after SIGKILL", p.id)
	}
}

// waitReady polls /readyz until it answers 200 "ready" and the node says
// it is p.id; it fails the test when the process exits or the deadline
// passes. It returns the time it waited.
func (p *starlingProc) waitReady(timeout time.Duration) time.Duration {
	p.t.Helper()
	began := time.Now()
	last := "no answer yet"
	for {
		if p.exited() {
			p.t.Fatalf("%s exited before it was ready:\n%s", p.id, tailFile(p.logPath, 40))
		}
		status, body, err := pollGet(apiURL(p, "/readyz"))
		switch {
		case err != nil:
			last = err.Error()
		case status != http.StatusOK || strings.TrimSpace(string(body)) != "ready":
			last = fmt.Sprintf("status %d: %s", status, bytes.TrimSpace(body))
		default:
			var m procMembers
			if err := pollJSON(p, "/api/v1/cluster/members", &m); err != nil {
				last = err.Error()
			} else if m.Self != p.id {
				p.t.Fatalf("%s answers as node %q", p.HTTPAddr(), m.Self)
			} else {
				return time.Since(began)
			}
		}
		if time.Since(began) > timeout {
			p.t.Fatalf("%s not ready after %s: %s", p.id, timeout, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pollClient gives up quickly: polls ask again.
var pollClient = &http.Client{Timeout: 3 * time.Second}

// pollGet is GET u that reports errors instead of failing the test.
func pollGet(u string) (int, []byte, error) {
	resp, err := pollClient.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// pollJSON decodes GET path on n's API into v, or says why it could not.
// clusterView is a node's answers on the Raft group and the members.
func clusterView(n endpoints) (procRaft, procMembers, error) {
	var r procRaft
	var m procMembers
	if err := pollJSON(n, "/api/v1/cluster/raft", &r); err != nil {
		return r, m, err
	}
	return r, m, pollJSON(n, "/api/v1/cluster/members", &m)
}

func pollJSON(n endpoints, path string, v any) error {
	status, body, err := pollGet(apiURL(n, path))
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET %s on %s: status %d: %s", path, n.HTTPAddr(), status, bytes.TrimSpace(body))
	}
	if err := decodeJSON(body, v); err != nil {
		return fmt.Errorf("GET %s on %s: %w", path, n.HTTPAddr(), err)
	}
	return nil
}

// grepFile returns the first line of the file at path that contains s, or
// "".
func grepFile(path, s string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, s) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// tailFile returns the last n lines of the file at path.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 4*n {
			lines = slices.Clone(lines[len(lines)-n:])
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The parts of the cluster API answers the test reads.

type procMembers struct {
	Self    string `json:"self"`
	Members []struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		RaftRole string `json:"raftRole"`
	} `json:"members"`
}

// state is the gossip state of node id, "" when gossip does not list it.
func (m procMembers) state(id string) string {
	for _, x := range m.Members {
		if x.ID == id {
			return x.State
		}
	}
	return ""
}

// summary lists the members and their states, for messages.
func (m procMembers) summary() string {
	var out []string
	for _, x := range m.Members {
		out = append(out, x.ID+" "+x.State)
	}
	return fmt.Sprintf("%d gossip members [%s]", len(m.Members), strings.Join(out, ", "))
}

type procRaft struct {
	NodeID    string                `json:"nodeId"`
	Leader    string                `json:"leader"`
	Voters    []struct{ ID string } `json:"voters"`
	NonVoters []struct{ ID string } `json:"nonVoters"`
}

func (r procRaft) voters() []string    { return serverIDs(r.Voters) }
func (r procRaft) nonVoters() []string { return serverIDs(r.NonVoters) }

func serverIDs(ss []struct{ ID string }) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	sort.Strings(ids)
	return ids
}

type procPartitions struct {
	Settings *struct {
		ClusterID  string `json:"clusterId"`
		Partitions int    `json:"partitions"`
	} `json:"settings"`
	Partitions []struct {
		ID      uint32 `json:"id"`
		Signal  string `json:"signal"`
		Primary string `json:"primary"`
	} `json:"partitions"`
	PerNode map[string]struct {
		Primary int `json:"primary"`
	} `json:"perNode"`
	PrimarySkew float64 `json:"primarySkew"`
}

// primaries lists "signal/id" of the partitions node id is primary of.
func (p procPartitions) primaries(id string) []string {
	var out []string
	for _, r := range p.Partitions {
		if r.Primary == id {
			out = append(out, fmt.Sprintf("%s/%d", r.Signal, r.ID))
		}
	}
	sort.Strings(out)
	return out
}

// tracePrimary is the node that is primary of the partition of trace id
// tid (hex).
func (p procPartitions) tracePrimary(t *testing.T, tid string) string {
	t.Helper()
	id, err := trace.TraceIDFromHex(tid)
	if err != nil {
		t.Fatal(err)
	}
	part := storage.PartitionOf(storage.TraceHash(id), p.Settings.Partitions)
	for _, r := range p.Partitions {
		if r.Signal == "traces" && r.ID == part {
			return r.Primary
		}
	}
	t.Fatalf("trace %s: partition %d not in the table", tid, part)
	return ""
}

// fixedTraceIDs gives the SDK the trace ids in ids, in order (random span
// ids).
type fixedTraceIDs struct {
	mu  sync.Mutex
	ids []trace.TraceID
}

func (g *fixedTraceIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	tid := g.ids[0]
	g.ids = g.ids[1:]
	return tid, g.NewSpanID(ctx, tid)
}

func (g *fixedTraceIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	var sid trace.SpanID
	_, _ = crand.Read(sid[:])
	return sid
}

func TestMultiProcessCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four starling processes; skipped with -short")
	}
	bin := starlingBinary(t)
	t.Logf("built the binary in %s (once per test binary)", binTook.Round(time.Millisecond))
	testBegan := time.Now()

	// a. Three nodes started together form the cluster.
	nodes := make([]*starlingProc, 3)
	for i := range nodes {
		nodes[i] = newStarlingProc(t, bin, i, "--bootstrap-expect", "3")
	}
	began := time.Now()
	for _, p := range nodes {
		p.start()
	}
	for _, p := range nodes {
		p.waitReady(30 * time.Second)
	}
	formed := time.Since(began)
	t.Logf("formation: 3 processes started together, all ready after %s", formed.Round(time.Millisecond))

	// b. The OTel SDK writes through node 0; every node answers.
	readers := []endpoints{nodes[1], nodes[2], nodes[0]}
	tr := sdkTransports[slices.IndexFunc(sdkTransports, func(s sdkTransport) bool { return s.name == "grpc" })]
	service := "e2e-multiprocess"
	res := resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.version", "1.4.2"),
		attribute.String("deployment.environment", "test"),
		attribute.Int64("host.cpus", 8),
		attribute.Bool("e2e", true),
	)
	var sdkSpans map[string]map[string]spanView
	t.Run("traces", func(t *testing.T) { sdkSpans = sdkTraces(t, nodes[0], readers, tr, res, service) })
	t.Run("logs", func(t *testing.T) { sdkLogs(t, nodes[0], readers, tr, res, service) })
	t.Run("metrics", func(t *testing.T) { sdkMetrics(t, nodes[0], readers, tr, res, service) })
	if len(sdkSpans) != 3 {
		t.Fatalf("the SDK traces were not all sent and read back")
	}

	// c. Partitions spread evenly over the three nodes.
	var parts procPartitions
	getJSON(t, nodes[0], "/api/v1/cluster/partitions", &parts)
	if parts.Settings == nil || parts.Settings.Partitions != 256 || len(parts.Partitions) != 3*256 {
		t.Fatalf("partition table: settings %+v, %d rows; want 256 per signal, 768 rows", parts.Settings, len(parts.Partitions))
	}
	counts := map[string]int{}
	most, sum := 0, 0
	for id, c := range parts.PerNode {
		counts[id] = c.Primary
		most, sum = max(most, c.Primary), sum+c.Primary
	}
	skew := float64(most) * float64(len(counts)) / float64(sum)
	t.Logf("primaries per node %v, max/mean %.3f (API primarySkew %.3f)", counts, skew, parts.PrimarySkew)
	if len(counts) != 3 || sum != 768 || skew > 1.10 {
		t.Errorf("primaries per node %v: want 3 nodes, 768 in all, max/mean ≤ 1.10 (got %.3f)", counts, skew)
	}

	// Probe traces, two on each node, so that the restart below always
	// brings back data of the node it restarts.
	probes := sendProbeTraces(t, nodes[0], tr, parts, 2)
	for _, r := range readers {
		for tid := range probes {
			checkProbeTrace(t, r, tid, probes[tid])
		}
	}

	// d. A fourth node joins by --join only (default bootstrap-expect 1):
	// it must not bootstrap a group of its own, and becomes a non-voter.
	fourth := newStarlingProc(t, bin, 3)
	fourth.start()
	t.Logf("node-3 (--join only) ready after %s", fourth.waitReady(30*time.Second).Round(time.Millisecond))
	// Once the leader has replicated its log to node-3, a group node-3
	// bootstrapped alone leaves no trace in the API: its log line is the
	// evidence.
	if line := grepFile(fourth.logPath, `msg="bootstrapped the raft group"`); line != "" {
		t.Errorf("node-3, started with --join and the default bootstrap-expect 1, bootstrapped a raft group of its own:\n%s", line)
	}
	var fourthParts procPartitions
	getJSON(t, fourth, "/api/v1/cluster/partitions", &fourthParts)
	if fourthParts.Settings == nil || fourthParts.Settings.ClusterID != parts.Settings.ClusterID || len(fourthParts.Partitions) != 3*256 {
		t.Fatalf("node-3 holds cluster %+v with %d partitions, want cluster %s with 768", fourthParts.Settings, len(fourthParts.Partitions), parts.Settings.ClusterID)
	}
	var status string
	eventually(t, 10*time.Second, func() string {
		out, err := exec.Command(bin, "status", "--addr", nodes[0].HTTPAddr()).CombinedOutput()
		status = string(out)
		if err != nil {
			return fmt.Sprintf("starling status: %v\n%s", err, out)
		}
		if f := statusRow(status, "node-3"); len(f) < 3 || f[1] != "alive" || f[2] != "nonvoter" {
			return "starling status does not show node-3 alive as nonvoter:\n" + status
		}
		return ""
	})
	t.Logf("starling status --addr %s:\n%s", nodes[0].HTTPAddr(), status)
	// Every node knows node-3 from gossip before the kill below. Killed
	// within a few hundred milliseconds of the join, the seed may take
	// node-3's alive message with it: the others then learn of node-3 only
	// at the next push-pull (up to 30 s) and the new leader removes it from
	// the Raft group as missing from gossip.
	eventually(t, 10*time.Second, func() string {
		for _, p := range append(slices.Clone(nodes), fourth) {
			var m procMembers
			if err := pollJSON(p, "/api/v1/cluster/members", &m); err != nil {
				return err.Error()
			}
			if m.state("node-3") != "alive" || len(m.Members) != 4 {
				return fmt.Sprintf("%s sees %s", p.id, m.summary())
			}
		}
		return ""
	})
	var rinfo procRaft
	eventually(t, 10*time.Second, func() string {
		if err := pollJSON(nodes[0], "/api/v1/cluster/raft", &rinfo); err != nil {
			return err.Error()
		}
		if v, nv := rinfo.voters(), rinfo.nonVoters(); !slices.Equal(v, []string{"node-0", "node-1", "node-2"}) || !slices.Equal(nv, []string{"node-3"}) {
			return fmt.Sprintf("voters %v non-voters %v, want node-0..2 and node-3", v, nv)
		}
		return ""
	})

	// e. SIGKILL the Raft leader.
	leader := rinfo.Leader
	li := slices.IndexFunc(nodes, func(p *starlingProc) bool { return p.id == leader })
	if li < 0 {
		t.Fatalf("raft leader %q is not one of node-0..2", leader)
	}
	killed := nodes[li]
	var survivors []*starlingProc
	for _, p := range append(slices.Clone(nodes), fourth) {
		if p != killed {
			survivors = append(survivors, p)
		}
	}
	killedPrimaries := parts.primaries(leader)
	onKilled := 0
	for tid := range sdkSpans {
		if parts.tracePrimary(t, tid) == leader {
			onKilled++
		}
	}
	t.Logf("killing the raft leader %s (primary of %d partitions, %d of the 3 SDK traces)", leader, len(killedPrimaries), onKilled)
	killedAt := time.Now()
	killed.kill()

	var newLeader string
	eventually(t, 5*time.Second, func() string {
		var why []string
		for _, p := range survivors {
			var r procRaft
			if err := pollJSON(p, "/api/v1/cluster/raft", &r); err != nil {
				why = append(why, err.Error())
				continue
			}
			if r.Leader != "" && r.Leader != leader {
				newLeader = r.Leader
				return ""
			}
			why = append(why, fmt.Sprintf("%s sees leader %q", p.id, r.Leader))
		}
		return strings.Join(why, "; ")
	})
	failover := time.Since(killedAt)
	t.Logf("failover: %s leads %s after the kill", newLeader, failover.Round(time.Millisecond))

	// With nothing typed, the dead voter leaves the configuration and
	// node-3 takes its place.
	eventually(t, 25*time.Second, func() string {
		for _, p := range survivors {
			r, m, err := clusterView(p)
			if err != nil {
				return err.Error()
			}
			v, nv := r.voters(), r.nonVoters()
			if len(v) != 3 || slices.Contains(v, leader) || slices.Contains(nv, leader) || !slices.Contains(v, "node-3") {
				return fmt.Sprintf("%s: voters %v non-voters %v; want node-3 promoted and %s removed; %s sees %s",
					p.id, v, nv, leader, p.id, m.summary())
			}
			for _, id := range v {
				if s := m.state(id); s != "alive" {
					return fmt.Sprintf("%s: voter %s is %q in gossip", p.id, id, s)
				}
			}
		}
		return ""
	})
	replaced := time.Since(killedAt)
	t.Logf("replacement: %s removed and node-3 promoted %s after the kill (dead-node-timeout 3s)", leader, replaced.Round(time.Millisecond))

	// f. The killed node restarts on its data dir and comes back as itself.
	killed.start()
	restartReady := killed.waitReady(30 * time.Second)
	t.Logf("restart: %s ready after %s", leader, restartReady.Round(time.Millisecond))
	restartedAt := time.Now()
	eventually(t, 15*time.Second, func() string {
		var self procMembers
		if err := pollJSON(killed, "/api/v1/cluster/members", &self); err != nil {
			return err.Error()
		}
		if self.Self != leader {
			return fmt.Sprintf("the restarted node says it is %q, want %s", self.Self, leader)
		}
		for _, p := range survivors {
			r, m, err := clusterView(p)
			if err != nil {
				return err.Error()
			}
			if s := m.state(leader); s != "alive" {
				return fmt.Sprintf("%s sees %s as %q in gossip; %s itself sees %s", p.id, leader, s, leader, self.summary())
			}
			if v, nv := r.voters(), r.nonVoters(); len(v) != 3 || slices.Contains(v, leader) || !slices.Equal(nv, []string{leader}) {
				return fmt.Sprintf("%s: voters %v non-voters %v; want 3 voters and %s back as non-voter", p.id, v, nv, leader)
			}
		}
		return ""
	})
	// With replication factor 1 nothing could take its partitions over
	// while it was dead: it is primary of them again, except those the
	// rebalancer has since moved to node-3 (it joined with none).
	var after procPartitions
	getJSON(t, survivors[0], "/api/v1/cluster/partitions", &after)
	got := after.primaries(leader)
	for _, id := range got {
		if !slices.Contains(killedPrimaries, id) {
			t.Errorf("%s became primary of %s, which it did not hold before", leader, id)
		}
	}
	if len(got) == 0 {
		t.Errorf("%s is primary of nothing after the restart, %d before", leader, len(killedPrimaries))
	}
	t.Logf("%s is primary of %d of its %d partitions after the restart (the rebalancer moves some to node-3)", leader, len(got), len(killedPrimaries))

	// Its data is served again, through another node.
	reader := survivors[0]
	eventually(t, 15*time.Second, func() string {
		for tid := range sdkSpans {
			if status, body, err := pollGet(apiURL(reader, "/api/v1/traces/"+tid)); err != nil || status != http.StatusOK {
				return fmt.Sprintf("trace %s via %s: status %d %s %v", tid, reader.id, status, bytes.TrimSpace(body), err)
			}
		}
		for tid := range probes {
			if status, body, err := pollGet(apiURL(reader, "/api/v1/traces/"+tid)); err != nil || status != http.StatusOK {
				return fmt.Sprintf("probe trace %s (on %s) via %s: status %d %s %v", tid, probes[tid], reader.id, status, bytes.TrimSpace(body), err)
			}
		}
		return ""
	})
	t.Logf("data of %s readable through %s %s after it was ready", leader, reader.id, time.Since(restartedAt).Round(time.Millisecond))
	for tid, spans := range sdkSpans {
		checkTraceByID(t, reader, tid, spans)
	}
	for tid := range probes {
		checkProbeTrace(t, reader, tid, probes[tid])
	}
	t.Logf("timings: formation %s, failover %s, replacement %s, restart to ready %s; whole test %s",
		formed.Round(time.Millisecond), failover.Round(time.Millisecond), replaced.Round(time.Millisecond),
		restartReady.Round(time.Millisecond), time.Since(testBegan).Round(time.Millisecond))
}

// statusRow returns the fields of the row of node id in `starling status`
// output (NODE STATE RAFT …), or nil.
func statusRow(out, id string) []string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == id {
			return f
		}
	}
	return nil
}

// sendProbeTraces sends, through writer, perNode one-span traces whose
// partitions each node of the table is primary of, and returns the node of
// each trace id.
func sendProbeTraces(t *testing.T, writer endpoints, tr sdkTransport, parts procPartitions, perNode int) map[string]string {
	t.Helper()
	want := map[string]int{}
	for id := range parts.PerNode {
		want[id] = perNode
	}
	gen := &fixedTraceIDs{}
	probes := map[string]string{}
	for i := 0; len(probes) < perNode*len(want); i++ {
		var tid trace.TraceID
		copy(tid[:], fmt.Sprintf("probe-%010d", i))
		node := parts.tracePrimary(t, tid.String())
		if want[node] > 0 {
			want[node]--
			gen.ids = append(gen.ids, tid)
			probes[tid.String()] = node
		}
	}
	ctx := context.Background()
	exp, err := tr.traces(ctx, writer)
	if err != nil {
		t.Fatal(err)
	}
	errs := &exportErrors{}
	tp := sdktrace.NewTracerProvider(sdktrace.WithIDGenerator(gen), sdktrace.WithBatcher(checkedSpanExporter{exp, errs}),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "e2e-probe"))))
	for range probes {
		_, s := tp.Tracer("probe").Start(ctx, "probe")
		s.End()
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("probe traces: %v", err)
	}
	errs.check(t, "probe trace exporter")
	return probes
}

// checkProbeTrace checks that r returns the one span of probe trace tid.
func checkProbeTrace(t *testing.T, r endpoints, tid, node string) {
	t.Helper()
	var got struct {
		ResourceSpans []struct {
			ScopeSpans []struct {
				Spans []struct {
					TraceID string `json:"traceId"`
					Name    string `json:"name"`
				} `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	}
	if err := pollJSON(r, "/api/v1/traces/"+tid, &got); err != nil {
		t.Errorf("probe trace on %s: %v", node, err)
		return
	}
	var names []string
	for _, rs := range got.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if !strings.EqualFold(s.TraceID, tid) {
					t.Errorf("probe trace %s: span of trace %s", tid, s.TraceID)
				}
				names = append(names, s.Name)
			}
		}
	}
	if !slices.Equal(names, []string{"probe"}) {
		t.Errorf("probe trace %s on %s via %s: spans %q, want one named probe", tid, node, r.HTTPAddr(), names)
	}
}
