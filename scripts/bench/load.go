package main

import (
	"context"
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

// load is paced telemetrygen trace load from several processes: each has
// one batch span processor, so one export in flight; more processes keep
// more requests in flight.
type load struct {
	o        options
	endpoint string
}

// run starts the generators, calls sample every 2 s until they all exit,
// and returns their CPU seconds.
func (l load) run(sample func(elapsed time.Duration)) (cpuSeconds float64, err error) {
	var cmds []*exec.Cmd
	done := make(chan error, l.o.generators)
	for i := 0; i < l.o.generators; i++ {
		cmd := exec.Command(l.o.telemetrygen, "traces", "--otlp-insecure",
			"--otlp-endpoint", l.endpoint,
			"--rate", strconv.Itoa(l.o.rate), "--workers", strconv.Itoa(l.o.workers),
			"--duration", l.o.duration.String(), "--child-spans", "9", "--batch-size", strconv.Itoa(l.o.batch))
		log, err := os.Create(filepath.Join(os.TempDir(), fmt.Sprintf("starling-bench-telemetrygen-%d.log", i)))
		if err != nil {
			return 0, err
		}
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("start telemetrygen: %w", err)
		}
		cmds = append(cmds, cmd)
		go func() {
			err := cmd.Wait()
			if err != nil {
				err = fmt.Errorf("telemetrygen: %w (log %s)", err, log.Name())
			}
			done <- err
		}()
	}
	began := time.Now()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for running := len(cmds); running > 0; {
		select {
		case err := <-done:
			if err != nil {
				return 0, err
			}
			running--
		case <-tick.C:
			sample(time.Since(began))
		}
	}
	for _, c := range cmds {
		cpuSeconds += c.ProcessState.UserTime().Seconds() + c.ProcessState.SystemTime().Seconds()
	}
	return cpuSeconds, nil
}

// rates keeps spans/s per 2 s window of a counter.
type rates struct {
	prev    float64
	windows []float64
}

func (r *rates) add(cur float64) float64 {
	rate := (cur - r.prev) / 2
	r.prev = cur
	r.windows = append(r.windows, rate)
	return rate
}

// summary returns the mean and the worst window, leaving out the first and
// last (ramp-up and tail).
func (r *rates) summary() (mean, worst float64) {
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

// generatorCeiling runs the load against a sink for the given time and
// returns the mean spans/s delivered.
func generatorCeiling(o options, d time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(64 << 20))
	s := &sink{}
	ptraceotlp.RegisterGRPCServer(srv, s)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	o.duration = d
	var r rates
	_, err = load{o: o, endpoint: ln.Addr().String()}.run(func(time.Duration) { r.add(float64(s.spans.Load())) })
	mean, _ := r.summary()
	return mean, err
}
