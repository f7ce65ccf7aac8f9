package main

import (
	"bytes"
	"context"
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
	"testing"
	"time"
)

// Helpers to run the starling binary as a subprocess: build it once per
// test binary, start it on free loopback ports, wait for /readyz, stop it.

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// starlingBinary builds ./cmd/starling from the module root (found with go
// env GOMOD) once, and returns its path.
func starlingBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the starling binary; skipped with -short")
	}
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			buildErr = fmt.Errorf("not inside a module (go env GOMOD = %q)", gomod)
			return
		}
		if buildDir, err = os.MkdirTemp("", "starling-bin-"); err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(buildDir, "starling")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/starling")
		cmd.Dir = filepath.Dir(gomod)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/starling: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// proc is a running starling process.
type proc struct {
	cmd           *exec.Cmd
	otlpHTTP, api string
	logs          *syncBuffer
	done          chan struct{}
	waitErr       error
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startStarling runs the binary on dataDir with fresh ports and waits for
// /readyz; the process is killed when the test ends if still running.
func startStarling(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	bin := starlingBinary(t)
	ports := freePorts(t, 3)
	args := append([]string{
		"--data-dir", dataDir, "--bind", "127.0.0.1",
		"--otlp-grpc-port", strconv.Itoa(ports[0]), "--otlp-http-port", strconv.Itoa(ports[1]), "--http-port", strconv.Itoa(ports[2]),
		"--partitions", "16", "--log-level", "info",
	}, extra...)
	p := spawn(t, bin, args, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2])), net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])), "starling")
	waitReady(t, p, "starling")
	return p
}

// spawn starts the binary with args (API and OTLP/HTTP at the addresses
// given); the process is killed when the test ends if still running, and
// its output logged, as name, if the test failed.
func spawn(t *testing.T, bin string, args []string, api, otlpHTTP, name string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), otlpHTTP: otlpHTTP, api: api, logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.Env = cleanEnv()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.logs.String())
		}
	})
	return p
}

// cleanEnv is the environment without STARLING_* variables, so that the
// test's flags are the whole configuration.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STARLING_") {
			out = append(out, kv)
		}
	}
	return out
}

var client = &http.Client{Timeout: 30 * time.Second}

// get returns the status and body of GET path on the process's API.
func (p *proc) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := client.Get("http://" + p.api + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// post sends an OTLP/HTTP protobuf request; it returns the status, or an
// error when no answer came.
func post(ctx context.Context, addr, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
