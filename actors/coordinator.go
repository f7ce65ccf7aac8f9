package actors

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

var (
	// ErrQueryTimeout is returned when partitions did not all answer in time.
	ErrQueryTimeout = errors.New("query timed out waiting for partitions")
	// ErrQueryMemory is returned when the partitions' answers to one
	// fan-out outgrow the query memory cap (QuerierConfig.MaxBytes).
	ErrQueryMemory = errors.New("query exceeds its memory cap")
)

// readTarget is one read of one partition within a query.
type readTarget struct {
	partition uint32
	req       *starlingpb.ReadRequest
}

// queryOutcome is what a coordinator hands back: one merged chunk per
// target, in target order.
type queryOutcome struct {
	results []*starlingpb.ResultChunk
	err     error
}

// coordinator runs one query: it sends each target's read to the
// partition's primary, gathers the streamed chunks (a target is done at its
// chunk flagged last), and hands the merged answers back through done. It
// lives for one query and stops itself.
type coordinator struct {
	router  *Router
	signal  starlingpb.Signal
	targets []readTarget
	baseID  uint64
	timeout time.Duration
	// maxBytes caps the answers held (0: no cap); bytes counts them.
	maxBytes int64
	bytes    int64
	done     chan<- queryOutcome

	results   []*starlingpb.ResultChunk
	sentTo    []*actor.PID // where each target's read went last
	finished  []bool
	remaining int
	attempts  []int
	over      bool
}

// maxReadAttempts bounds the sends of one target's read: the nearest
// copy, the primary, and the primary again after waits (about 0.3 s in
// all) while the table and the actors disagree.
const maxReadAttempts = 6

// resendRead is a coordinator's reminder to send a target's read again.
type resendRead struct{ target int }

func (c *coordinator) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		c.results = make([]*starlingpb.ResultChunk, len(c.targets))
		c.sentTo = make([]*actor.PID, len(c.targets))
		c.finished = make([]bool, len(c.targets))
		c.attempts = make([]int, len(c.targets))
		c.remaining = len(c.targets)
		if c.remaining == 0 {
			c.finish(ctx, nil)
			return
		}
		for i := range c.targets {
			if err := c.send(ctx, i); err != nil {
				c.finish(ctx, err)
				return
			}
		}
		ctx.SetReceiveTimeout(c.timeout)
	case *starlingpb.ResultChunk:
		i, ok := c.index(msg.QueryId)
		if !ok || c.finished[i] {
			return
		}
		if msg.Error != "" {
			c.finish(ctx, fmt.Errorf("%s partition %d: %s", storage.SignalName(c.signal), c.targets[i].partition, msg.Error))
			return
		}
		if c.maxBytes > 0 {
			if c.bytes += int64(proto.Size(msg)); c.bytes > c.maxBytes {
				// finish stops the coordinator, which cancels the reads
				// still running.
				c.finish(ctx, fmt.Errorf("%w: the partitions' answers passed %d bytes after %d of %d partitions (--query-max-bytes); narrow the range or the query, or lower its limit",
					ErrQueryMemory, c.maxBytes, len(c.targets)-c.remaining, len(c.targets)))
				return
			}
		}
		if r := c.results[i]; r == nil {
			c.results[i] = msg
		} else {
			r.Records = append(r.Records, msg.Records...)
			r.Refs = append(r.Refs, msg.Refs...)
			r.TraceHits = append(r.TraceHits, msg.TraceHits...)
			r.Names = append(r.Names, msg.Names...)
			r.CatalogNames = append(r.CatalogNames, msg.CatalogNames...)
			r.Truncated = r.Truncated || msg.Truncated
			r.TraceMatches = append(r.TraceMatches, msg.TraceMatches...)
			r.TraceqlMetrics = append(r.TraceqlMetrics, msg.TraceqlMetrics...)
			r.InspectedTraces += msg.InspectedTraces
			r.InspectedBytes += msg.InspectedBytes
			r.More, r.ResumeUnixNano = r.More || msg.More, max(r.ResumeUnixNano, msg.ResumeUnixNano)
		}
		if msg.Last {
			c.finished[i] = true
			if c.remaining--; c.remaining == 0 {
				c.finish(ctx, nil)
			}
		}
	case *starlingpb.NotPrimary:
		i, ok := c.index(msg.RequestId)
		if !ok || c.finished[i] {
			return
		}
		if c.attempts[i] == 1 {
			// The nearest copy declined: ask the primary at once.
			if err := c.send(ctx, i); err != nil {
				c.finish(ctx, err)
			}
			return
		}
		// The primary declined or has no actor yet (the table moved
		// ahead of the actors): ask again a little later each time.
		delay := min(resendBase<<c.attempts[i], resendMax)
		self, system := ctx.Self(), ctx.ActorSystem()
		time.AfterFunc(delay, func() { system.Root.Send(self, &resendRead{target: i}) })
	case *resendRead:
		if c.over || c.finished[msg.target] {
			return
		}
		if err := c.send(ctx, msg.target); err != nil {
			c.finish(ctx, err)
		}
	case *actor.Stopping:
		// Stopped from outside (the query's context ended) or by finish:
		// the reads still running are of no use.
		c.cancelReads(ctx)
	case *actor.ReceiveTimeout:
		c.finish(ctx, fmt.Errorf("%w (%d of %d partitions answered within %s)", ErrQueryTimeout, len(c.targets)-c.remaining, len(c.targets), c.timeout))
	}
}

func (c *coordinator) index(queryID uint64) (int, bool) {
	i := int(queryID - c.baseID)
	return i, queryID >= c.baseID && i < len(c.targets)
}

func (c *coordinator) send(ctx actor.Context, i int) error {
	t := c.targets[i]
	if c.attempts[i]++; c.attempts[i] > maxReadAttempts {
		return fmt.Errorf("%s partition %d: primary moved %d times: %w", storage.SignalName(c.signal), t.partition, maxReadAttempts, ErrNoRoute)
	}
	// The nearest in-sync copy first; the primary after it declined.
	route := c.router.Reader
	if c.attempts[i] > 1 {
		route = c.router.Primary
	}
	pid, epoch, err := route(c.signal, t.partition)
	if err != nil {
		return err
	}
	// A sent message is shared with its receiver (locally it is not
	// copied), so every send gets its own; the query itself is read-only
	// and shared.
	c.sentTo[i] = pid
	ctx.Request(pid, &starlingpb.ReadRequest{
		Format:        storage.EntryFormat,
		QueryId:       c.baseID + uint64(i),
		Partition:     &starlingpb.PartitionRef{Signal: c.signal, Id: t.partition, Epoch: epoch},
		StartUnixNano: t.req.StartUnixNano,
		EndUnixNano:   t.req.EndUnixNano,
		Limit:         t.req.Limit,
		Query:         t.req.Query,
	})
	return nil
}

// cancelReads tells the partitions of the unfinished targets to stop.
func (c *coordinator) cancelReads(ctx actor.Context) {
	for i, pid := range c.sentTo {
		if pid != nil && !c.finished[i] {
			ctx.Request(pid, &starlingpb.CancelRead{QueryId: c.baseID + uint64(i)})
			c.sentTo[i] = nil
		}
	}
}

func (c *coordinator) finish(ctx actor.Context, err error) {
	if c.over {
		return
	}
	c.over = true
	ctx.CancelReceiveTimeout()
	c.done <- queryOutcome{results: c.results, err: err}
	ctx.Stop(ctx.Self())
}
