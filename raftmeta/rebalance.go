package raftmeta

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/proto/starlingpb"
)

// The rebalancer runs on the leader. Each round it computes the placement
// the table should move to, cluster.Rebalance of the current owners over
// the members (live nodes, and dead ones not yet past DeadNodeTimeout),
// and takes one step toward it for the partitions that differ. A migration
// is a sequence of table changes, each a compare-and-set on the epoch, so
// the table itself records where every migration stands and any leader
// resumes it:
//
//  1. add: the new owners join the replicas as learners (not in sync);
//     the primary catches them up by snapshot handoff and proposes them
//     into the in-sync set (actors/catchup.go);
//  2. retire: once every new owner is in sync, the owners that are no
//     longer wanted leave the replicas (a retiring primary hands the role
//     to an in-sync new owner in the same change).
//
// When nothing is left to do, the size balancer (sizebalance.go) may start
// moves of its own, which take the same two steps.
//
// No step leaves a partition with fewer in-sync copies than before, and at
// most MaxConcurrentMigrations partitions have learners at a time. A
// learner on a node that died is dropped by the next round's placement.

// rebalance takes one step of every migration the placement asks for.
func (g *Group) rebalance(byID map[string]cluster.MemberInfo) error {
	st := g.fsm.State()
	if !st.Initialised() || g.cfg.MaxConcurrentMigrations < 1 {
		return nil
	}
	now := time.Now()
	var members []cluster.Member
	live := map[string]bool{}
	for id, m := range byID {
		switch {
		case m.State == starlingpb.NodeState_NODE_STATE_ALIVE:
			live[id] = true
		case m.State == starlingpb.NodeState_NODE_STATE_DEAD && now.Sub(m.Since) <= g.cfg.DeadNodeTimeout:
		default:
			continue
		}
		if m.Meta.Draining {
			continue // a source until it has handed everything over, never a target
		}
		members = append(members, cluster.Member{ID: id, Zone: m.Meta.Zone, Region: m.Meta.Region})
	}
	if len(live) == 0 || len(members) == 0 {
		return nil
	}
	slots := cluster.AllSlots(int(st.Settings.Partitions), signals[:])
	current := make([][]string, len(slots))
	rows := make([]*starlingpb.Partition, len(slots))
	for i, s := range slots {
		p := st.Partition(s.Signal, s.ID)
		if p == nil {
			return fmt.Errorf("BUG: rebalance: %v partition %d missing from the table", s.Signal, s.ID)
		}
		rows[i] = p
		current[i] = ownersOf(p, live)
	}
	pc := g.cfg.Placement
	pc.ReplicationFactor = int(st.Settings.ReplicationFactor)
	desired := cluster.Rebalance(current, members, slots, pc)

	migrating := 0
	for _, p := range rows {
		if len(learnersOf(p, live)) > 0 {
			migrating++
		}
	}
	var errs []error
	changed := 0
	for i, p := range rows {
		want := desired[i]
		row := proto.CloneOf(p)
		switch learners := learnersOf(p, live); {
		case len(learners) > 0:
			continue // a catch-up is under way
		case !sameSet(p.Replicas, want) && hasAll(p.InSync, want):
			// Retire: every wanted owner is in sync; drop the others.
			row.Replicas = slices.Clone(want)
			row.InSync = slices.DeleteFunc(slices.Clone(p.InSync), func(id string) bool { return !slices.Contains(want, id) })
			if !slices.Contains(want, p.Primary) || !live[p.Primary] {
				row.Primary = want[0]
			}
		case p.State == starlingpb.PartitionState_PARTITION_STATE_MIGRATING && len(p.InSync) >= len(p.Replicas):
			// Every copy is in sync (a join that did not say so): mark
			// the row active again.
		case !hasAll(p.Replicas, want):
			// Add the missing owners as learners. Restoring copies lost
			// with a dead node may take four times the moves at once:
			// durability first.
			limit := g.cfg.MaxConcurrentMigrations
			if len(p.InSync) < pc.ReplicationFactor {
				limit *= 4
			}
			if migrating >= limit {
				continue
			}
			for _, id := range want {
				if !slices.Contains(row.Replicas, id) && live[id] {
					row.Replicas = append(row.Replicas, id)
				}
			}
			if len(row.Replicas) == len(p.Replicas) {
				continue
			}
			// Dead replicas past the timeout go at once: they hold no
			// in-sync copy.
			row.Replicas = slices.DeleteFunc(row.Replicas, func(id string) bool {
				return !slices.Contains(p.InSync, id) && !slices.Contains(want, id)
			})
			migrating++
		default:
			continue
		}
		row.Epoch++
		row.Leaving = "" // a size move ends with its retire step, or gives way
		row.UpdatedAtUnixNano = now.UnixNano()
		row.State = starlingpb.PartitionState_PARTITION_STATE_ACTIVE
		if len(row.Replicas) > len(row.InSync) {
			row.State = starlingpb.PartitionState_PARTITION_STATE_MIGRATING
		}
		cmd := &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_UpdatePartitions{UpdatePartitions: &starlingpb.UpdatePartitions{
			Updates: []*starlingpb.PartitionUpdate{{Partition: row, ExpectedEpoch: p.Epoch}}}}}
		switch err := g.Propose(context.Background(), cmd); {
		case err == nil:
			changed++
		case errors.Is(err, ErrEpochConflict):
		default:
			errs = append(errs, err)
		}
	}
	if changed > 0 {
		g.log.Info("rebalancer moved partitions a step", "changes", changed, "migrating", migrating)
	}
	if changed == 0 && migrating == 0 && len(errs) == 0 {
		errs = append(errs, g.balanceSizes(rows, desired, members, live))
	}
	return errors.Join(errs...)
}

// ownersOf are the copies of p the placement counts, primary first: the
// in-sync ones (learners are not owners yet), except during a size move
// (Leaving set) that still has its learners alive or has caught them up:
// then the learners count and the leaving copy does not, so that the
// placement leads where the move goes. A size move whose learners died is
// over: its row is counted as it was and rewritten without them.
func ownersOf(p *starlingpb.Partition, live map[string]bool) []string {
	inSync := slices.DeleteFunc(slices.Clone(p.InSync), func(id string) bool { return id == p.Primary })
	out := append([]string{p.Primary}, inSync...)
	learners := learnersOf(p, live)
	if p.Leaving == "" || (len(learners) == 0 && len(p.InSync) < len(p.Replicas)) {
		return out
	}
	out = append(out, learners...)
	return slices.DeleteFunc(out, func(id string) bool { return id == p.Leaving })
}

// learnersOf are the live replicas of p that are not in sync.
func learnersOf(p *starlingpb.Partition, live map[string]bool) []string {
	var out []string
	for _, id := range p.Replicas {
		if !slices.Contains(p.InSync, id) && live[id] {
			out = append(out, id)
		}
	}
	return out
}

func hasAll(set, want []string) bool {
	for _, id := range want {
		if !slices.Contains(set, id) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool { return len(a) == len(b) && hasAll(a, b) }
