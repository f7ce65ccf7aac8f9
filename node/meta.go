package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/raftmeta"
)

// metaActorName is the actor on every node that commits Raft proposals
// when the node leads the group.
const metaActorName = "meta"

// metaActor commits MetaProposals sent by other nodes when this node is
// the Raft leader, and tells the sender the leader it knows otherwise.
// Proposals run on goroutines: the mailbox never waits for Raft.
type metaActor struct {
	group *raftmeta.Group
}

func (a *metaActor) Receive(ctx actor.Context) {
	p, ok := ctx.Message().(*starlingpb.MetaProposal)
	if !ok {
		return
	}
	sender := ctx.Sender()
	if sender == nil {
		return
	}
	system := ctx.ActorSystem()
	go func() {
		reply := &starlingpb.MetaProposalReply{RequestId: p.RequestId}
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		switch err := a.group.Propose(c, p.Command); {
		case errors.Is(err, raftmeta.ErrNotLeader):
			reply.NotLeader, reply.Leader = true, a.group.Leader()
		case err != nil:
			reply.Error, reply.Conflict = err.Error(), errors.Is(err, raftmeta.ErrEpochConflict)
		}
		system.Root.Send(sender, reply)
	}()
}

// proposer commits partition changes through the Raft leader, wherever it
// is: directly on the leader, through the leader's meta actor elsewhere
// (actors.Proposer). Safe for concurrent use.
type proposer struct {
	system *actor.ActorSystem
	group  *raftmeta.Group
	gossip *cluster.Membership
	self   string
}

// errNoLeader is returned when no Raft leader could be reached in time.
var errNoLeader = errors.New("no raft leader reachable")

func (p *proposer) UpdatePartition(ctx context.Context, row *starlingpb.Partition, expectedEpoch uint64) error {
	cmd := &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_UpdatePartitions{UpdatePartitions: &starlingpb.UpdatePartitions{
		Updates: []*starlingpb.PartitionUpdate{{Partition: row, ExpectedEpoch: expectedEpoch}},
	}}}
	return p.propose(ctx, cmd)
}

func (p *proposer) propose(ctx context.Context, cmd *starlingpb.RaftCommand) error {
	wait := 20 * time.Millisecond
	for {
		leader := p.group.Leader()
		var err error
		switch {
		case leader == "":
			err = errNoLeader
		case leader == p.self:
			err = p.group.Propose(ctx, cmd)
		default:
			err = p.remote(ctx, leader, cmd)
		}
		if !errors.Is(err, raftmeta.ErrNotLeader) && !errors.Is(err, errNoLeader) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// remote sends cmd to the leader's meta actor and waits for its verdict.
func (p *proposer) remote(ctx context.Context, leader string, cmd *starlingpb.RaftCommand) error {
	addr, ok := p.gossip.ActorAddress(leader)
	if !ok {
		return errNoLeader
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	res, err := p.system.Root.RequestFuture(actor.NewPID(addr, metaActorName), &starlingpb.MetaProposal{Command: cmd}, timeout).Result()
	if err != nil {
		return fmt.Errorf("propose through %s: %w", leader, err)
	}
	r, ok := res.(*starlingpb.MetaProposalReply)
	switch {
	case !ok:
		return fmt.Errorf("BUG: meta actor answered %T", res)
	case r.NotLeader:
		return raftmeta.ErrNotLeader
	case r.Conflict:
		return fmt.Errorf("%s: %w", r.Error, raftmeta.ErrEpochConflict)
	case r.Error != "":
		return errors.New(r.Error)
	}
	return nil
}
