package raftmeta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/cluster"
	"github.com/starling-otel/starling/proto/starlingpb"
)

// leaderLoop does the leader's chores whenever this node leads: create the
// cluster (settings and first partition table), record the nodes gossip
// shows, and keep the Raft configuration in step with gossip — add live
// nodes as non-voters, promote them up to the voter target, remove nodes
// dead longer than DeadNodeTimeout.
func (g *Group) leaderLoop() {
	defer g.wg.Done()
	missing := map[string]time.Time{} // servers in the configuration gossip does not know
	leaderCh := g.raft.LeaderCh()
	for {
		changed, table := g.gossip.Changed(), g.fsm.Changed()
		if g.IsLeader() {
			if err := g.reconcile(missing); err != nil {
				g.log.Warn("leader reconcile", "err", err)
			}
		} else {
			clear(missing)
		}
		t := time.NewTimer(g.cfg.ReconcileInterval)
		select {
		case <-g.stop:
			t.Stop()
			return
		case <-changed:
		case <-leaderCh:
		case <-t.C:
		case <-table:
			// A migration step landed (a learner joined): take the next
			// one now, not at the next interval; changes come in bursts.
			if !g.sleep(tableDebounce, nil) {
				t.Stop()
				return
			}
		}
		t.Stop()
	}
}

// tableDebounce is how long the leader waits after a table change before
// reconciling, so that a burst of changes costs one round.
const tableDebounce = 20 * time.Millisecond

func (g *Group) reconcile(missing map[string]time.Time) error {
	timeout := 5 * time.Second
	if g.raft.AppliedIndex() < g.raft.LastIndex() {
		if err := g.raft.Barrier(timeout).Error(); err != nil {
			return fmt.Errorf("barrier: %w", err)
		}
	}
	members := g.gossip.Members()
	byID := make(map[string]cluster.MemberInfo, len(members))
	for _, m := range members {
		byID[m.Meta.Id] = m
	}
	if err := g.recordNodes(members); err != nil {
		return err
	}
	if !g.fsm.State().Initialised() {
		if err := g.createCluster(byID); err != nil {
			return err
		}
	}
	if err := g.failover(byID); err != nil {
		return err
	}
	if err := g.rebalance(byID); err != nil {
		return err
	}
	return g.reconcileServers(byID, missing, timeout)
}

// failover promotes, for every partition whose primary is dead (or gone)
// in gossip, the first live member of its in-sync set, raising the epoch
// and dropping the dead node from the in-sync set (it stays a replica, out
// of sync, until it catches up). Partitions with no live in-sync copy wait
// for their primary. A promotion that loses a race with another change of
// its row is retried at the next reconcile.
func (g *Group) failover(byID map[string]cluster.MemberInfo) error {
	st := g.fsm.State()
	if !st.Initialised() {
		return nil
	}
	alive := func(id string) bool {
		m, ok := byID[id]
		return ok && m.State == starlingpb.NodeState_NODE_STATE_ALIVE
	}
	var ups []*starlingpb.PartitionUpdate
	for _, p := range st.Partitions {
		m, known := byID[p.Primary]
		if !known || (m.State != starlingpb.NodeState_NODE_STATE_DEAD && m.State != starlingpb.NodeState_NODE_STATE_LEFT) {
			continue
		}
		i := slices.IndexFunc(p.InSync, func(id string) bool { return id != p.Primary && alive(id) })
		if i < 0 {
			continue
		}
		row := proto.CloneOf(p)
		row.Primary = p.InSync[i]
		row.InSync = slices.DeleteFunc(row.InSync, func(id string) bool { return id == p.Primary })
		row.Replicas = append([]string{row.Primary}, slices.DeleteFunc(row.Replicas, func(id string) bool { return id == row.Primary })...)
		row.Epoch++
		row.UpdatedAtUnixNano = time.Now().UnixNano()
		ups = append(ups, &starlingpb.PartitionUpdate{Partition: row, ExpectedEpoch: p.Epoch})
	}
	// One command per partition: a primary shrinking its in-sync set at the
	// same time makes only that partition's promotion wait for the next
	// round.
	done := 0
	var errs []error
	for _, u := range ups {
		cmd := &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_UpdatePartitions{UpdatePartitions: &starlingpb.UpdatePartitions{
			Updates: []*starlingpb.PartitionUpdate{u}}}}
		switch err := g.Propose(context.Background(), cmd); {
		case err == nil:
			done++
		case errors.Is(err, ErrEpochConflict):
		default:
			errs = append(errs, err)
		}
	}
	if done > 0 {
		g.log.Warn("failed over partitions of dead nodes to in-sync replicas", "partitions", done, "waiting", len(ups)-done)
	}
	if len(errs) > 0 {
		return fmt.Errorf("fail over %d partitions: %w", len(errs), errors.Join(errs...))
	}
	return nil
}

// recordNodes writes every node whose metadata or state changed into the
// FSM.
func (g *Group) recordNodes(members []cluster.MemberInfo) error {
	st := g.fsm.State()
	for _, m := range members {
		cur := st.Node(m.Meta.Id)
		if cur != nil && cur.State == m.State && cur.GossipAddr == m.GossipAddr && proto.Equal(cur.Meta, m.Meta) {
			continue
		}
		rec := &starlingpb.NodeRecord{Meta: m.Meta, State: m.State, GossipAddr: m.GossipAddr, UpdatedAtUnixNano: m.Since.UnixNano()}
		cmd := &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_PutNode{PutNode: &starlingpb.PutNode{Node: rec}}}
		if err := g.Propose(context.Background(), cmd); err != nil {
			return fmt.Errorf("record node %s: %w", m.Meta.Id, err)
		}
	}
	return nil
}

// createCluster fixes the settings and assigns every partition to its ring
// owners among the voters the group was bootstrapped with.
func (g *Group) createCluster(byID map[string]cluster.MemberInfo) error {
	var members []cluster.Member
	for _, s := range g.servers() {
		m, ok := byID[string(s.ID)]
		if s.Suffrage != raft.Voter || !ok || m.State != starlingpb.NodeState_NODE_STATE_ALIVE {
			continue
		}
		members = append(members, cluster.Member{ID: m.Meta.Id, Zone: m.Meta.Zone, Region: m.Meta.Region})
	}
	if len(members) == 0 {
		return fmt.Errorf("create cluster: no live voter in gossip yet")
	}
	settings := proto.CloneOf(g.cfg.Settings)
	var id [8]byte
	_, _ = rand.Read(id[:])
	settings.ClusterId = hex.EncodeToString(id[:])
	settings.CreatedAtUnixNano = time.Now().UnixNano()
	rows := Assign(members, settings, g.cfg.Placement)
	cmd := &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_Init{Init: &starlingpb.InitCluster{Settings: settings, Partitions: rows}}}
	if err := g.Propose(context.Background(), cmd); err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	g.log.Info("cluster created", "cluster_id", settings.ClusterId, "nodes", strings.Join(ids, ","),
		"partitions", settings.Partitions, "replication_factor", settings.ReplicationFactor)
	return nil
}

// Assign places every partition of every signal on the ring (Rebalance
// from an empty table: each partition on the first members of its ring
// walk that are below the mean, zones first): primary first, replicas up
// to the replication factor (fewer when there are fewer nodes: the
// partition is then under-replicated), all in sync, epoch 1. The
// rebalancer later moves partitions with Rebalance from the table.
func Assign(members []cluster.Member, settings *starlingpb.ClusterSettings, pc cluster.PlaceConfig) []*starlingpb.Partition {
	pc.ReplicationFactor = int(settings.ReplicationFactor)
	slots := cluster.AllSlots(int(settings.Partitions), signals[:])
	owners := cluster.Rebalance(make([][]string, len(slots)), members, slots, pc)
	now := time.Now().UnixNano()
	rows := make([]*starlingpb.Partition, len(slots))
	for i, s := range slots {
		rows[i] = &starlingpb.Partition{
			Signal: s.Signal, Id: s.ID, Epoch: 1,
			Primary: owners[i][0], Replicas: slices.Clone(owners[i]), InSync: slices.Clone(owners[i]),
			State: starlingpb.PartitionState_PARTITION_STATE_ACTIVE, UpdatedAtUnixNano: now,
		}
	}
	return rows
}

// voterTarget is how many voters the group should have with alive live
// nodes: 3, or 5 from 7 nodes on.
func voterTarget(alive int) int {
	if alive >= 7 {
		return 5
	}
	return 3
}

// reconcileServers adds live nodes as non-voters, promotes non-voters up
// to the voter target, and removes servers dead in gossip for longer than
// DeadNodeTimeout (a departed node at once).
func (g *Group) reconcileServers(byID map[string]cluster.MemberInfo, missing map[string]time.Time, timeout time.Duration) error {
	servers := g.servers()
	inConfig := map[string]raft.Server{}
	for _, s := range servers {
		inConfig[string(s.ID)] = s
	}
	alive := func(id string) bool {
		m, ok := byID[id]
		return ok && (m.State == starlingpb.NodeState_NODE_STATE_ALIVE || m.State == starlingpb.NodeState_NODE_STATE_SUSPECT)
	}
	nAlive := 0
	for _, m := range byID {
		if alive(m.Meta.Id) {
			nAlive++
		}
	}
	// Add every live node that is not yet a server, or whose address moved.
	for id, m := range byID {
		if m.State != starlingpb.NodeState_NODE_STATE_ALIVE || m.Meta.RaftAddr == "" {
			continue
		}
		s, ok := inConfig[id]
		switch {
		case !ok:
			g.log.Info("adding node to the raft group as non-voter", "node_id", id, "raft_addr", m.Meta.RaftAddr)
			if err := g.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(m.Meta.RaftAddr), 0, timeout).Error(); err != nil {
				return fmt.Errorf("add non-voter %s: %w", id, err)
			}
		case string(s.Address) != m.Meta.RaftAddr && id != g.cfg.NodeID:
			g.log.Info("raft address of node changed", "node_id", id, "from", s.Address, "to", m.Meta.RaftAddr)
			add := g.raft.AddNonvoter
			if s.Suffrage == raft.Voter {
				add = g.raft.AddVoter
			}
			if err := add(raft.ServerID(id), raft.ServerAddress(m.Meta.RaftAddr), 0, timeout).Error(); err != nil {
				return fmt.Errorf("update address of %s: %w", id, err)
			}
		}
	}
	// Remove servers dead for too long.
	now := time.Now()
	var dead []raft.Server
	for _, s := range servers {
		id := string(s.ID)
		if id == g.cfg.NodeID {
			continue
		}
		m, known := byID[id]
		if !known {
			// A server gossip never showed this node (it joined through a
			// seed that died, or this node restarted): contact it at the
			// gossip address the FSM recorded, and remove it only when it
			// stays unknown ten dead-node timeouts.
			if _, seen := missing[id]; !seen {
				missing[id] = now
			}
			if rec := g.fsm.State().Node(id); rec != nil && rec.GossipAddr != "" {
				if _, err := g.gossip.Join([]string{rec.GossipAddr}); err == nil {
					continue
				}
			}
			if now.Sub(missing[id]) > 10*g.cfg.DeadNodeTimeout {
				dead = append(dead, s)
			}
			continue
		}
		delete(missing, id)
		switch {
		case m.State == starlingpb.NodeState_NODE_STATE_LEFT,
			m.State == starlingpb.NodeState_NODE_STATE_DEAD && now.Sub(m.Since) > g.cfg.DeadNodeTimeout:
			dead = append(dead, s)
		}
	}
	// Promote live non-voters (lowest id first) up to the target, counting
	// only voters that will stay.
	voters := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter && alive(string(s.ID)) && !slices.ContainsFunc(dead, func(d raft.Server) bool { return d.ID == s.ID }) {
			voters++
		}
	}
	for _, s := range servers {
		if voters >= voterTarget(nAlive) {
			break
		}
		if s.Suffrage == raft.Voter || !alive(string(s.ID)) || slices.ContainsFunc(dead, func(d raft.Server) bool { return d.ID == s.ID }) {
			continue
		}
		g.log.Info("promoting non-voter to voter", "node_id", s.ID, "voters", voters, "target", voterTarget(nAlive))
		if err := g.raft.AddVoter(s.ID, s.Address, 0, timeout).Error(); err != nil {
			return fmt.Errorf("promote %s: %w", s.ID, err)
		}
		voters++
	}
	for _, s := range dead {
		g.log.Warn("removing node dead longer than dead-node-timeout from the raft group",
			"node_id", s.ID, "voter", s.Suffrage == raft.Voter, "timeout", g.cfg.DeadNodeTimeout)
		if err := g.raft.RemoveServer(s.ID, 0, timeout).Error(); err != nil {
			return fmt.Errorf("remove %s: %w", s.ID, err)
		}
		delete(missing, string(s.ID))
	}
	return nil
}
