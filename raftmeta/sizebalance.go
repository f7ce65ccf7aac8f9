package raftmeta

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/proto/starlingpb"
)

// Placement by count (cluster.Rebalance) gives every node about the same
// number of copies, but partitions differ in size: a few busy services
// can make one node hold far more bytes than another. When the table has
// settled (every copy where the placement wants it, all in sync, nothing
// migrating) and the node holding the most bytes holds more than
// 1 + RebalanceThreshold times the mean, the size balancer moves copies
// from it to the node holding the fewest:
//
//   - a single move of a copy, when both nodes stay within the count
//     bounds Rebalance keeps (cluster.LoadBounds), so that the count
//     placement does not undo it;
//   - else a swap: a larger copy one way, a smaller one back, which keeps
//     the counts.
//
// It picks the move whose bytes come closest to half the gap between the
// two nodes (never the whole gap or more: each move strictly narrows it,
// so the balancer cannot oscillate), and never one that puts two copies
// of a partition in one zone where they were in two. Nodes holding less
// than RebalanceMinBytes on average are not balanced for size: there the
// memtables, which sizes leave out, are a good part of the data, and a
// move buys nothing. Sizes are the
// primaries' reports (ReportSizes), the same for every copy of a
// partition, so a node's bytes are the sum over the copies it holds.
//
// A move is an ordinary migration (a learner caught up by snapshot
// handoff) whose row names the copy that retires once the learner is in
// sync (Partition.leaving); rebalance counts the learner, not the leaving
// copy, as an owner while it runs.

// sizeMove is one copy of partition rows[row] moving from one node to
// another.
type sizeMove struct {
	row      int
	from, to string
}

// planSizeMoves returns up to limit copy moves that bring the byte load
// of members toward the mean, and the imbalance before them: the largest
// node's bytes over the mean, minus one. rows must be settled (every
// replica a member and in sync). Moves come one or two (a swap) at a time,
// each planned on the loads the previous ones leave; none is planned when
// the imbalance is at most threshold.
func planSizeMoves(rows []*starlingpb.Partition, members []cluster.Member, threshold, loadFactor float64, limit int, minMean uint64) ([]sizeMove, float64) {
	n := len(members)
	if n < 2 {
		return nil, 0
	}
	zone := make(map[string]string, n)
	bytes := make(map[string]uint64, n)
	count := make(map[string]int, n)
	total := 0
	for _, m := range members {
		zone[m.ID] = m.Region + "\x00" + m.Zone
		bytes[m.ID], count[m.ID] = 0, 0
	}
	var sum uint64
	for _, p := range rows {
		for _, id := range p.Replicas {
			bytes[id] += p.SizeBytes
			count[id]++
			sum += p.SizeBytes
			total++
		}
	}
	mean := float64(sum) / float64(n)
	if mean == 0 {
		return nil, 0
	}
	if mean < float64(minMean) {
		limit = 0 // measure, but do not move
	}
	imbalance := func() (float64, string, string) {
		heavy, light := members[0].ID, members[0].ID
		for _, m := range members[1:] {
			if bytes[m.ID] > bytes[heavy] {
				heavy = m.ID
			}
			if bytes[m.ID] < bytes[light] {
				light = m.ID
			}
		}
		return float64(bytes[heavy])/mean - 1, heavy, light
	}
	before, _, _ := imbalance()
	lo, hi := cluster.LoadBounds(total, n, loadFactor)
	// owners holds each row's copies as the planned moves leave them.
	owners := make([][]string, len(rows))
	for i, p := range rows {
		owners[i] = p.Replicas
	}
	moved := make([]bool, len(rows))
	movable := func(i int, from, to string) bool {
		return !moved[i] && slices.Contains(owners[i], from) && !slices.Contains(owners[i], to) &&
			zones(owners[i], zone, "", "") <= zones(owners[i], zone, from, to)
	}
	var out []sizeMove
	for len(out) < limit {
		imb, heavy, light := imbalance()
		if imb <= threshold {
			break
		}
		gap := bytes[heavy] - bytes[light]
		score := func(d uint64) uint64 { // distance of the new gap from 0; gap: no progress
			if d == 0 || d >= gap {
				return gap
			}
			return uint64(math.Abs(float64(gap) - 2*float64(d)))
		}
		best, bestA, bestB := gap, -1, -1
		var fromHeavy, fromLight []int
		for i := range rows {
			if movable(i, heavy, light) {
				fromHeavy = append(fromHeavy, i)
			}
			if movable(i, light, heavy) {
				fromLight = append(fromLight, i)
			}
		}
		if count[heavy]-1 >= lo && count[light]+1 <= hi {
			for _, a := range fromHeavy {
				if s := score(rows[a].SizeBytes); s < best {
					best, bestA, bestB = s, a, -1
				}
			}
		}
		if len(out)+2 <= limit {
			for _, a := range fromHeavy {
				for _, b := range fromLight {
					if rows[a].SizeBytes <= rows[b].SizeBytes {
						continue
					}
					if s := score(rows[a].SizeBytes - rows[b].SizeBytes); s < best {
						best, bestA, bestB = s, a, b
					}
				}
			}
		}
		if bestA < 0 {
			break
		}
		apply := func(i int, from, to string) {
			owners[i] = append(slices.DeleteFunc(slices.Clone(owners[i]), func(id string) bool { return id == from }), to)
			moved[i] = true
			bytes[from] -= rows[i].SizeBytes
			bytes[to] += rows[i].SizeBytes
			count[from]--
			count[to]++
			out = append(out, sizeMove{row: i, from: from, to: to})
		}
		apply(bestA, heavy, light)
		if bestB >= 0 {
			apply(bestB, light, heavy)
		}
	}
	return out, before
}

// zones counts the distinct zones of owners, with from replaced by to
// when from is set.
func zones(owners []string, zone map[string]string, from, to string) int {
	seen := map[string]bool{}
	for _, id := range owners {
		if id == from {
			id = to
		}
		seen[zone[id]] = true
	}
	return len(seen)
}

// balanceSizes plans and proposes size moves (see planSizeMoves) when the
// table has settled: desired is what rebalance computed for rows, and
// every row must already match it, fully in sync, with every replica live.
// All moves of a round go in one command: a swap lands whole or not at
// all.
func (g *Group) balanceSizes(rows []*starlingpb.Partition, desired [][]string, members []cluster.Member, live map[string]bool) error {
	if g.cfg.RebalanceThreshold <= 0 {
		return nil
	}
	for _, m := range members {
		if !live[m.ID] {
			return nil // a dead node's copies come first
		}
	}
	for i, p := range rows {
		if p.Leaving != "" || len(p.InSync) != len(p.Replicas) || !sameSet(p.Replicas, desired[i]) {
			return nil
		}
	}
	moves, imbalance := planSizeMoves(rows, members, g.cfg.RebalanceThreshold, g.cfg.Placement.LoadFactor, g.cfg.MaxConcurrentMigrations, g.cfg.RebalanceMinBytes)
	if len(moves) == 0 {
		return nil
	}
	now := time.Now().UnixNano()
	ups := make([]*starlingpb.PartitionUpdate, len(moves))
	var moving uint64
	for j, m := range moves {
		p := rows[m.row]
		row := proto.CloneOf(p)
		row.Replicas = append(row.Replicas, m.to)
		row.Leaving = m.from
		row.Epoch++
		row.State = starlingpb.PartitionState_PARTITION_STATE_MIGRATING
		row.UpdatedAtUnixNano = now
		ups[j] = &starlingpb.PartitionUpdate{Partition: row, ExpectedEpoch: p.Epoch}
		moving += p.SizeBytes
	}
	cmd := &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_UpdatePartitions{UpdatePartitions: &starlingpb.UpdatePartitions{Updates: ups}}}
	switch err := g.Propose(context.Background(), cmd); {
	case errors.Is(err, ErrEpochConflict):
		return nil // a row changed under us: plan again next round
	case err != nil:
		return fmt.Errorf("move partitions for size: %w", err)
	}
	g.log.Info("rebalancer moving partitions for size", "imbalance", fmt.Sprintf("%.3f", imbalance),
		"threshold", g.cfg.RebalanceThreshold, "moves", len(moves), "from", moves[0].from, "to", moves[0].to, "bytes", moving)
	return nil
}
