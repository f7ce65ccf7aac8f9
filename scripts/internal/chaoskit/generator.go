package chaoskit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// generator sends OTLP/gRPC requests to random live nodes from Workers
// goroutines, at most Rate requests per second in all, and keeps in the
// ledger every record acknowledged.
type generator struct {
	cfg     Config
	cluster *cluster
	ledger  *ledger
	avail   *availability
	// partitions per signal, from the cluster's settings.
	partitions int
	clients    map[string]*otlpClient
}

// otlpClient is one node's OTLP/gRPC connection.
type otlpClient struct {
	conn    *grpc.ClientConn
	traces  ptraceotlp.GRPCClient
	logs    plogotlp.GRPCClient
	metrics pmetricotlp.GRPCClient
}

func newGenerator(cfg Config, c *cluster, partitions int) (*generator, error) {
	g := &generator{cfg: cfg, cluster: c, ledger: &ledger{}, avail: newAvailability(),
		partitions: partitions, clients: map[string]*otlpClient{}}
	for _, p := range c.procs {
		// Reconnect quickly to a node back from the dead.
		conn, err := grpc.NewClient(p.grpc,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
				MinConnectTimeout: 2 * time.Second,
			}))
		if err != nil {
			g.close()
			return nil, fmt.Errorf("OTLP client of %s: %w", p.id, err)
		}
		g.clients[p.id] = &otlpClient{conn: conn, traces: ptraceotlp.NewGRPCClient(conn),
			logs: plogotlp.NewGRPCClient(conn), metrics: pmetricotlp.NewGRPCClient(conn)}
	}
	return g, nil
}

func (g *generator) close() {
	for _, c := range g.clients {
		_ = c.conn.Close()
	}
}

// run sends until ctx ends; requests in flight then finish their attempts.
func (g *generator) run(ctx context.Context) {
	tokens := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / g.cfg.Rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				close(tokens)
				return
			case <-tick.C:
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range g.cfg.Workers {
		wg.Go(func() {
			b := newBuilder(w, g.cfg.RecordsPerRequest, g.partitions, g.cfg.Seed)
			rng := rand.New(rand.NewPCG(g.cfg.Seed, uint64(1000+w)))
			for range tokens {
				g.send(b.next(time.Now()), w, rng)
			}
		})
	}
	wg.Wait()
}

// retryable tells whether an export error asks for a retry.
func retryable(code codes.Code) bool {
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

// send exports pl until a node acknowledges it or MaxAttempts are used,
// the same request every time, each attempt to a node other than the last
// one when there is one.
func (g *generator) send(pl *payload, worker int, rng *rand.Rand) {
	first := time.Now()
	last := ""
	var lastErr string
	outages := requestOutages{}
	for attempt := 1; attempt <= g.cfg.MaxAttempts; attempt++ {
		if attempt > 1 {
			d := min(100*time.Millisecond<<(attempt-2), 2*time.Second)
			time.Sleep(d/2 + time.Duration(rng.Int64N(int64(d/2)+1)))
		}
		node := g.pick(last, rng)
		if node == nil {
			lastErr = "no live node"
			continue
		}
		last = node.id
		began := time.Now()
		rejected, msg, err := g.export(node, pl)
		if err == nil && rejected == 0 {
			now := time.Now()
			g.ledger.ack(pl, sentRequest{signal: pl.signal, worker: worker, node: node.id, attempts: attempt, first: first, acked: now})
			g.avail.done(outages, now, false)
			return
		}
		if err == nil {
			g.avail.done(outages, time.Now(), true)
			g.ledger.outcome(pl.signal, &g.ledger.partial, fmt.Sprintf("%s rejected %d of %d records: %s", node.id, rejected, pl.nrec, msg))
			return
		}
		st := status.Convert(err)
		if !retryable(st.Code()) {
			g.avail.done(outages, time.Now(), true)
			g.ledger.outcome(pl.signal, &g.ledger.failed, fmt.Sprintf("%s: %s: %s", node.id, st.Code(), st.Message()))
			return
		}
		g.ledger.refusal(pl.signal)
		g.avail.refused(outages, pl.signal, pl.parts, st.Message(), st.Code() == codes.DeadlineExceeded, began)
		lastErr = fmt.Sprintf("%s: %s", st.Code(), st.Message())
	}
	g.avail.done(outages, time.Now(), true)
	g.ledger.outcome(pl.signal, &g.ledger.gaveUp, fmt.Sprintf("refused %d times, last: %s", g.cfg.MaxAttempts, lastErr))
}

// pick chooses a random live node, not avoid unless it is the only one.
func (g *generator) pick(avoid string, rng *rand.Rand) *proc {
	live := g.cluster.live()
	if len(live) > 1 {
		for i, p := range live {
			if p.id == avoid {
				live = append(live[:i:i], live[i+1:]...)
				break
			}
		}
	}
	if len(live) == 0 {
		return nil
	}
	return live[rng.IntN(len(live))]
}

// export sends pl to node once; it returns the records rejected in a
// partial success and its message.
func (g *generator) export(node *proc, pl *payload) (rejected int64, msg string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.RequestTimeout)
	defer cancel()
	c := g.clients[node.id]
	switch pl.signal {
	case sigTraces:
		resp, err := c.traces.Export(ctx, ptraceotlp.NewExportRequestFromTraces(pl.traces))
		if err != nil {
			return 0, "", err
		}
		return resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage(), nil
	case sigLogs:
		resp, err := c.logs.Export(ctx, plogotlp.NewExportRequestFromLogs(pl.logs))
		if err != nil {
			return 0, "", err
		}
		return resp.PartialSuccess().RejectedLogRecords(), resp.PartialSuccess().ErrorMessage(), nil
	default:
		resp, err := c.metrics.Export(ctx, pmetricotlp.NewExportRequestFromMetrics(pl.metrics))
		if err != nil {
			return 0, "", err
		}
		return resp.PartialSuccess().RejectedDataPoints(), resp.PartialSuccess().ErrorMessage(), nil
	}
}
