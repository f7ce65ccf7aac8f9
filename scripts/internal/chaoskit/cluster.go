package chaoskit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/starling-otel/starling/scripts/internal/benchkit"
)

// Build compiles cmd/starling of the module containing the working
// directory into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("build starling: not inside the starling module")
	}
	bin := filepath.Join(dir, "starling")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/starling")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/starling: %w\n%s", err, out)
	}
	return bin, nil
}

// proc is one node slot: the same id, address, ports and data dir across
// its incarnations.
type proc struct {
	idx  int
	id   string
	spec benchkit.NodeSpec
	http string // API base URL
	grpc string // OTLP/gRPC host:port

	// Guarded by cluster.mu.
	node     *benchkit.Node // nil while killed
	killed   bool           // the tool killed it and has not restarted it yet
	restarts int
}

// cluster is the node processes and their HTTP API.
type cluster struct {
	cfg    Config
	dir    string
	procs  []*proc
	client *http.Client

	mu sync.Mutex
}

func newCluster(cfg Config, dir string) *cluster {
	c := &cluster{cfg: cfg, dir: dir, client: &http.Client{Timeout: 60 * time.Second}}
	ports := benchkit.DefaultPorts()
	for i := range cfg.Nodes {
		id := fmt.Sprintf("node-%d", i)
		spec := benchkit.NodeSpec{
			Binary: cfg.Binary, Host: cfg.host(i), Ports: ports,
			DataDir: filepath.Join(dir, id), NodeID: id, BootstrapExpect: 3,
			Log: filepath.Join(dir, id+".log"),
			Extra: append([]string{
				"--replication-factor", strconv.Itoa(cfg.ReplicationFactor),
				"--min-in-sync", strconv.Itoa(cfg.MinInSync),
				"--dead-node-timeout", cfg.DeadNodeTimeout.String(),
			}, cfg.NodeFlags...),
		}
		if cfg.Partitions > 0 {
			spec.Extra = append(spec.Extra, "--partitions", strconv.Itoa(cfg.Partitions))
		}
		// Every node joins every other one (node 0 first): any live one
		// lets a restarted node back in.
		for j := range cfg.Nodes {
			if j != i {
				spec.Join = append(spec.Join, net.JoinHostPort(cfg.host(j), strconv.Itoa(ports.Gossip)))
			}
		}
		c.procs = append(c.procs, &proc{
			idx: i, id: id, spec: spec,
			http: "http://" + net.JoinHostPort(spec.Host, strconv.Itoa(ports.HTTP)),
			grpc: net.JoinHostPort(spec.Host, strconv.Itoa(ports.OTLPGRPC)),
		})
	}
	return c
}

// start starts every node: the three that bootstrap the cluster first,
// then the others once those are ready.
func (c *cluster) start(ctx context.Context) error {
	for _, p := range c.procs {
		if err := benchkit.CheckFree(p.spec.Host, p.spec.Ports, 2*time.Second); err != nil {
			return fmt.Errorf("%s: %w", p.id, err)
		}
	}
	for _, group := range [][]*proc{c.procs[:3], c.procs[3:]} {
		for _, p := range group {
			if err := c.launch(p); err != nil {
				return err
			}
		}
		for _, p := range group {
			if _, err := c.waitReady(ctx, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// launch starts p's process (appending to its log after the first time).
func (c *cluster) launch(p *proc) error {
	spec := p.spec
	c.mu.Lock()
	spec.AppendLog = p.restarts > 0 || p.killed
	c.mu.Unlock()
	n, err := benchkit.StartNode(spec)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.id, err)
	}
	c.mu.Lock()
	p.node = n
	p.killed = false
	c.mu.Unlock()
	return nil
}

// waitReady waits until p answers /readyz and returns how long that took
// from its start.
func (c *cluster) waitReady(ctx context.Context, p *proc) (time.Duration, error) {
	c.mu.Lock()
	n := p.node
	c.mu.Unlock()
	if n == nil {
		return 0, fmt.Errorf("%s is not running", p.id)
	}
	deadline := n.Started.Add(c.cfg.ReadyTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if n.Ready() {
			return time.Since(n.Started), nil
		}
		if n.Exited() {
			return 0, fmt.Errorf("%s exited before it was ready (log %s): %s", p.id, p.spec.Log, logSummary(p.spec.Log))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready %s after its start (log %s): %s", p.id, c.cfg.ReadyTimeout, p.spec.Log, logSummary(p.spec.Log))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

// kill sends SIGKILL to p and waits until it is gone.
func (c *cluster) kill(p *proc) error {
	c.mu.Lock()
	n := p.node
	p.node, p.killed = nil, true
	c.mu.Unlock()
	if n == nil {
		return fmt.Errorf("%s is not running", p.id)
	}
	if n.Exited() {
		return fmt.Errorf("%s had exited on its own before the kill (log %s): %s", p.id, p.spec.Log, logSummary(p.spec.Log))
	}
	return n.Stop(0)
}

// restart starts a killed p again with the same flags.
func (c *cluster) restart(p *proc) error {
	c.mu.Lock()
	p.restarts++
	c.mu.Unlock()
	return c.launch(p)
}

// stopAll kills every node still running.
func (c *cluster) stopAll() {
	c.mu.Lock()
	var ns []*benchkit.Node
	for _, p := range c.procs {
		if p.node != nil {
			ns = append(ns, p.node)
		}
	}
	c.mu.Unlock()
	_ = benchkit.StopAll(ns, 10*time.Second)
}

// live lists the nodes running: neither killed by the tool nor crashed.
func (c *cluster) live() []*proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*proc
	for _, p := range c.procs {
		if p.node != nil && !p.node.Exited() {
			out = append(out, p)
		}
	}
	return out
}

// isLive tells whether p is running.
func (c *cluster) isLive(p *proc) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return p.node != nil && !p.node.Exited()
}

// exited lists nodes that ended on their own (a crash): the tool does not
// kill them again, nor waits for them to get ready.
func (c *cluster) exited() []*proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*proc
	for _, p := range c.procs {
		if p.node != nil && p.node.Exited() {
			out = append(out, p)
		}
	}
	return out
}

// byID finds a node by its id.
func (c *cluster) byID(id string) *proc {
	for _, p := range c.procs {
		if p.id == id {
			return p
		}
	}
	return nil
}

// logSummary is what a node's log says about its end: its last panic or
// fatal line with the line before, else its last line.
func logSummary(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "panic:") || strings.HasPrefix(lines[i], "fatal error:") {
			if i > 0 {
				return lines[i-1] + " / " + lines[i]
			}
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}

// errStatus is an HTTP answer other than 200.
type errStatus struct {
	code int
	body string
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.code, strings.TrimSpace(e.body))
}

// get GETs path from p's API and returns the body of a 200 answer.
func (c *cluster) get(ctx context.Context, p *proc, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.http+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s%s: %w", p.http, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &errStatus{code: resp.StatusCode, body: string(b)}
	}
	return b, nil
}

// getJSON GETs path from p's API and decodes the 200 answer into v.
func (c *cluster) getJSON(ctx context.Context, p *proc, path string, v any) error {
	b, err := c.get(ctx, p, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s%s: decode: %w", p.http, path, err)
	}
	return nil
}

// raftInfo is the part of GET /api/v1/cluster/raft the tool reads.
type raftInfo struct {
	Leader string `json:"leader"`
}

// leader asks live nodes who leads the Raft group.
func (c *cluster) leader(ctx context.Context) (string, error) {
	var last error = errors.New("no live node")
	for _, p := range c.live() {
		var info raftInfo
		if err := c.getJSON(ctx, p, "/api/v1/cluster/raft", &info); err != nil {
			last = err
			continue
		}
		if info.Leader != "" {
			return info.Leader, nil
		}
		last = fmt.Errorf("%s sees no leader", p.id)
	}
	return "", last
}

// partitionRow is a row of GET /api/v1/cluster/partitions.
type partitionRow = benchkit.PartitionRow

// table is GET /api/v1/cluster/partitions as one node sees it.
type table struct {
	benchkit.Table
	// From is the node that answered.
	From string `json:"-"`
}

// partitions reads the partition table from p.
func (c *cluster) partitions(ctx context.Context, p *proc) (*table, error) {
	var t table
	if err := c.getJSON(ctx, p, "/api/v1/cluster/partitions", &t); err != nil {
		return nil, err
	}
	t.From = p.id
	return &t, nil
}

// anyTable reads the partition table from the first live node that
// answers, starting at a random one.
func (c *cluster) anyTable(ctx context.Context, start int) (*table, error) {
	live := c.live()
	var last error = errors.New("no live node")
	for i := range live {
		p := live[(start+i)%len(live)]
		t, err := c.partitions(ctx, p)
		if err == nil && t.Settings != nil {
			return t, nil
		}
		if err == nil {
			err = fmt.Errorf("%s: the cluster is not created yet", p.id)
		}
		last = err
	}
	return nil, last
}

// down lists the nodes the tool has killed and not restarted.
func (c *cluster) down() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.procs {
		if p.node == nil {
			out = append(out, p.id)
		}
	}
	return out
}

// notReady lists the nodes that do not answer /readyz with 200, leaving
// out those that crashed (they never will).
func (c *cluster) notReady() []string {
	var out []string
	for _, p := range c.procs {
		c.mu.Lock()
		n := p.node
		c.mu.Unlock()
		if n == nil || (!n.Exited() && !n.Ready()) {
			out = append(out, p.id)
		}
	}
	return out
}
