package benchkit

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a server process started by StartProc: a starling node (a Node
// holds one) or a peer measured next to it (VictoriaMetrics, Prometheus, …).
// It dies with the driver (SIGKILL) and is killed by Cleanup.
type Proc struct {
	Name    string // for messages
	Log     string // file of its stdout and stderr
	Started time.Time
	cmd     *exec.Cmd
	done    chan struct{}
}

// StartProc starts argv[0] with the arguments argv[1:], its stdout and
// stderr going to logPath (appended to if appendLog, else truncated). It
// does not wait until the process is ready.
func StartProc(name, logPath string, appendLog bool, argv ...string) (*Proc, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendLog {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	logFile, err := os.OpenFile(logPath, flags, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	started := time.Now()
	done, err := startProc(cmd)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return &Proc{Name: name, Log: logPath, Started: started, cmd: cmd, done: done}, nil
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited tells whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// State is how the process ended (nil while it runs).
func (p *Proc) State() *os.ProcessState {
	if !p.Exited() {
		return nil
	}
	return p.cmd.ProcessState
}

// Stop sends SIGTERM and waits for a clean close, killing the process after
// timeout (0: kill at once). The error tells how it ended if not cleanly.
func (p *Proc) Stop(timeout time.Duration) error {
	if p.Exited() {
		return p.exitErr()
	}
	if timeout <= 0 {
		_ = p.cmd.Process.Kill()
		<-p.done
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM: killed (log %s)", p.Name, timeout, p.Log)
	}
}

func (p *Proc) exitErr() error {
	if st := p.cmd.ProcessState; st != nil && !st.Success() {
		return fmt.Errorf("%s: %s (log %s)", p.Name, st, p.Log)
	}
	return nil
}

// LogTail returns the last lines of the process's log.
func (p *Proc) LogTail(lines int) string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return "    " + strings.Join(ls, "\n    ")
}

// WaitHTTP polls url with GET every interval until it answers 200 and
// returns the time from process start. The error of a process that exits
// or does not answer within timeout carries the tail of its log.
func (p *Proc) WaitHTTP(url string, timeout, interval time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second}
	deadline := p.Started.Add(timeout)
	for {
		if httpOK(client, url) {
			return time.Since(p.Started), nil
		}
		if p.Exited() {
			return 0, fmt.Errorf("%s exited (%s) before it was ready; log %s:\n%s", p.Name, p.cmd.ProcessState, p.Log, p.LogTail(20))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready within %s; log %s:\n%s", p.Name, timeout, p.Log, p.LogTail(20))
		}
		time.Sleep(interval)
	}
}

func httpOK(client *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// ScrapeMetric reads one sample of the Prometheus text exposition at url
// (the first series whose name and labels start with prefix; 0 if there is
// none).
func ScrapeMetric(client *http.Client, url, prefix string) (float64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			return strconv.ParseFloat(f[len(f)-1], 64)
		}
	}
	return 0, sc.Err()
}
