package raftmeta

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// bootstrapLoop runs until this node is part of the group. A fresh node
// bootstraps the group when gossip shows BootstrapExpect live members, none
// of them already in a group, and it has the lowest node id among them;
// otherwise it waits for the leader to add it.
func (g *Group) bootstrapLoop() {
	defer g.wg.Done()
	// Gossip shows only this node until the join succeeds: deciding to
	// bootstrap before that would start a second group.
	select {
	case <-g.gossip.Joined():
	case <-g.member:
		return
	case <-g.stop:
		return
	}
	lastLog := time.Time{}
	for {
		select {
		case <-g.member:
			return
		default:
		}
		changed := g.gossip.Changed()
		if g.inConfiguration() {
			g.log.Info("added to the raft group", "leader", g.Leader())
			g.markMember()
			return
		}
		voters, why := g.bootstrapVoters()
		if voters != nil {
			err := g.raft.BootstrapCluster(raft.Configuration{Servers: voters}).Error()
			switch {
			case err == nil:
				ids := make([]string, len(voters))
				for i, v := range voters {
					ids[i] = string(v.ID)
				}
				g.log.Info("bootstrapped the raft group", "voters", strings.Join(ids, ","))
				g.markMember()
				return
			case errors.Is(err, raft.ErrCantBootstrap):
				g.markMember()
				return
			default:
				g.log.Warn("bootstrap raft group", "err", err)
			}
		} else if time.Since(lastLog) > 10*time.Second {
			g.log.Info("waiting to join the raft group", "reason", why)
			lastLog = time.Now()
		}
		if !g.sleep(g.cfg.ReconcileInterval, changed) {
			return
		}
	}
}

// inConfiguration reports whether the Raft configuration this node holds
// lists it (the leader replicated it here).
func (g *Group) inConfiguration() bool {
	for _, s := range g.servers() {
		if string(s.ID) == g.cfg.NodeID {
			return true
		}
	}
	return false
}

// bootstrapVoters returns the voters this node should bootstrap the group
// with, or nil and the reason to wait.
func (g *Group) bootstrapVoters() ([]raft.Server, string) {
	var alive []*starlingpb.NodeMeta
	for _, m := range g.gossip.Members() {
		if m.State != starlingpb.NodeState_NODE_STATE_ALIVE || m.Meta.RaftAddr == "" {
			continue
		}
		if m.Meta.RaftMember && m.Meta.Id != g.cfg.NodeID {
			return nil, "a raft group exists; waiting for its leader to add this node"
		}
		alive = append(alive, m.Meta)
	}
	if len(alive) < g.cfg.BootstrapExpect {
		return nil, "waiting for bootstrap-expect members in gossip: have " + strconv.Itoa(len(alive)) + " of " + strconv.Itoa(g.cfg.BootstrapExpect)
	}
	slices.SortFunc(alive, func(a, b *starlingpb.NodeMeta) int { return strings.Compare(a.Id, b.Id) })
	if alive[0].Id != g.cfg.NodeID {
		return nil, "node " + alive[0].Id + " has the lowest id and bootstraps the group"
	}
	var voters []raft.Server
	for _, m := range alive[:g.cfg.BootstrapExpect] {
		addr := m.RaftAddr
		if m.Id == g.cfg.NodeID {
			addr = g.addr
		}
		voters = append(voters, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Id), Address: raft.ServerAddress(addr)})
	}
	return voters, ""
}
