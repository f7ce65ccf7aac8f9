package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// Load is paced telemetrygen trace load from several processes: each has
// one batch span processor, so one export in flight; more processes keep
// more requests in flight.
type Load struct {
	Telemetrygen string
	Duration     time.Duration
	Generators   int
	Workers      int
	Rate         int // spans/s per worker
	Batch        int
	// LogName names the generators' logs: <tmp>/<LogName>-<i>.log.
	LogName string
}

// RegisterFlags adds the load's flags to fs (-telemetrygen, -duration,
// -generators, -workers, -rate, -batch-size).
func (l *Load) RegisterFlags(fs *flag.FlagSet, duration time.Duration) {
	fs.StringVar(&l.Telemetrygen, "telemetrygen", "telemetrygen", "telemetrygen binary")
	fs.DurationVar(&l.Duration, "duration", duration, "load duration")
	fs.IntVar(&l.Generators, "generators", 2, "telemetrygen processes (each has one export in flight)")
	fs.IntVar(&l.Workers, "workers", 20, "telemetrygen workers per process (2 × 20 offer about 60K spans/s here; 2 × 32 saturate the node)")
	fs.IntVar(&l.Rate, "rate", 2000, "telemetrygen --rate per worker (spans/s)")
	fs.IntVar(&l.Batch, "batch-size", 2048, "telemetrygen --batch-size")
}

// Describe is a one-line description of the load.
func (l Load) Describe() string {
	return fmt.Sprintf("%d × telemetrygen (%d workers × %d spans/s each), %s, 10 spans/trace", l.Generators, l.Workers, l.Rate, l.Duration)
}

// Run starts the generators, generator i sending to endpoints[i mod
// len(endpoints)], calls sample every 2 s until they all exit, and returns
// their CPU seconds. On error the other generators are killed.
func (l Load) Run(endpoints []string, sample func(elapsed time.Duration)) (cpuSeconds float64, err error) {
	r, err := l.Start(endpoints)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			r.Stop()
		}
	}()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Done():
			if err := r.Err(); err != nil {
				return 0, err
			}
			return r.Stop()
		case <-tick.C:
			sample(time.Since(r.Started))
		}
	}
}

// Running is load started by Start: its generators run for the Load's
// Duration or until Stop.
type Running struct {
	Started time.Time
	gens    []generator
	done    chan struct{} // closed once every generator has exited or one failed
	err     error         // set before done is closed
}

type generator struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// Start starts the generators, generator i sending to endpoints[i mod
// len(endpoints)], and returns at once. Give the Load a Duration longer
// than the run needs and call Stop when done with it.
func (l Load) Start(endpoints []string) (*Running, error) {
	if _, err := exec.LookPath(l.Telemetrygen); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoTelemetrygen, err)
	}
	if len(endpoints) == 0 || l.Generators < 1 {
		return nil, errors.New("load: no endpoints or no generators")
	}
	name := l.LogName
	if name == "" {
		name = "starling-bench-telemetrygen"
	}
	r := &Running{done: make(chan struct{})}
	exited := make(chan int, l.Generators)
	for i := 0; i < l.Generators; i++ {
		cmd := exec.Command(l.Telemetrygen, "traces", "--otlp-insecure",
			"--otlp-endpoint", endpoints[i%len(endpoints)],
			"--rate", strconv.Itoa(l.Rate), "--workers", strconv.Itoa(l.Workers),
			"--duration", l.Duration.String(), "--child-spans", "9", "--batch-size", strconv.Itoa(l.Batch))
		logPath := filepath.Join(os.TempDir(), fmt.Sprintf("%s-%d.log", name, i))
		log, err := os.Create(logPath)
		if err != nil {
			r.kill()
			return nil, fmt.Errorf("generator log: %w", err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		done, err := startProc(cmd)
		log.Close()
		if err != nil {
			r.kill()
			return nil, fmt.Errorf("start telemetrygen: %w", err)
		}
		r.gens = append(r.gens, generator{cmd, done, logPath})
		go func() {
			<-done
			exited <- i
		}()
	}
	r.Started = time.Now()
	go func() {
		for running := len(r.gens); running > 0; running-- {
			i := <-exited
			if st := r.gens[i].cmd.ProcessState; !st.Success() {
				r.err = fmt.Errorf("telemetrygen: %s (log %s)", st, r.gens[i].log)
				break
			}
		}
		close(r.done)
	}()
	return r, nil
}

// Done is closed once every generator has exited, or one has failed.
func (r *Running) Done() <-chan struct{} { return r.done }

// Err is the failure of a generator that exited on its own with an error,
// once Done is closed (nil before).
func (r *Running) Err() error {
	select {
	case <-r.done:
		return r.err
	default:
		return nil
	}
}

// Pids are the generators' process ids.
func (r *Running) Pids() []int {
	var ps []int
	for _, g := range r.gens {
		ps = append(ps, g.cmd.Process.Pid)
	}
	return ps
}

// Stop kills the generators still running, waits for them and returns the
// CPU seconds they used, and the error of one that had failed on its own.
func (r *Running) Stop() (cpuSeconds float64, err error) {
	err = r.Err()
	r.kill()
	for _, g := range r.gens {
		if st := g.cmd.ProcessState; st != nil {
			cpuSeconds += st.UserTime().Seconds() + st.SystemTime().Seconds()
		}
	}
	return cpuSeconds, err
}

func (r *Running) kill() {
	for _, g := range r.gens {
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// Rates keeps spans/s per 2 s window of a counter.
type Rates struct {
	Prev    float64
	windows []float64
}

// Add records the counter's value at the end of a window and returns the
// window's rate.
func (r *Rates) Add(cur float64) float64 {
	rate := (cur - r.Prev) / 2
	r.Prev = cur
	r.windows = append(r.windows, rate)
	return rate
}

// Summary returns the mean and the worst window, leaving out the first and
// last (ramp-up and tail).
func (r *Rates) Summary() (mean, worst float64) {
	ws := r.windows
	if len(ws) > 3 {
		ws = ws[1 : len(ws)-1]
	}
	if len(ws) == 0 {
		return 0, 0
	}
	worst = ws[0]
	for _, w := range ws {
		mean += w
		worst = min(worst, w)
	}
	return mean / float64(len(ws)), worst
}

// sink is an OTLP/gRPC trace receiver that decodes requests, counts their
// spans and answers at once: what the generators deliver when the server
// costs nothing.
type sink struct {
	ptraceotlp.UnimplementedGRPCServer
	spans atomic.Int64
}

func (s *sink) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.spans.Add(int64(req.Traces().SpanCount()))
	return ptraceotlp.NewExportResponse(), nil
}

// Ceiling runs the load against a null sink for d and returns the mean
// spans/s delivered.
func (l Load) Ceiling(d time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	s := &sink{}
	ptraceotlp.RegisterGRPCServer(srv, s)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	l.Duration = d
	var r Rates
	_, err = l.Run([]string{ln.Addr().String()}, func(time.Duration) { r.Add(float64(s.spans.Load())) })
	mean, _ := r.Summary()
	return mean, err
}
