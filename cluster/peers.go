package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// peersFile is what PeersFile holds.
type peersFile struct {
	Version int      `json:"version"`
	Peers   []string `json:"peers"` // gossip host:port of live peers
}

// loadPeers reads the remembered peers; a missing file is no peers.
func loadPeers(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read remembered peers: %w", err)
	}
	var pf peersFile
	if err := json.Unmarshal(b, &pf); err != nil || pf.Version != 1 {
		return nil, fmt.Errorf("read remembered peers %s: not a version 1 peers file (%v); delete it", path, err)
	}
	return pf.Peers, nil
}

// savePeersLoop rewrites PeersFile whenever the set of live peers changes,
// until the membership stops.
func (m *Membership) savePeersLoop() {
	defer close(m.saveDone)
	if m.cfg.PeersFile == "" {
		return
	}
	var last []string
	for {
		changed := m.Changed()
		var peers []string
		self := m.Local().Id
		for _, mi := range m.Members() {
			if mi.Meta.Id != self && mi.State != starlingpb.NodeState_NODE_STATE_DEAD && mi.State != starlingpb.NodeState_NODE_STATE_LEFT {
				peers = append(peers, mi.GossipAddr)
			}
		}
		slices.Sort(peers)
		if len(peers) > 0 && !slices.Equal(peers, last) {
			if err := writeFileAtomic(m.cfg.PeersFile, peersFile{Version: 1, Peers: peers}); err != nil {
				m.log.Warn("remember peers", "err", err)
			} else {
				last = peers
			}
		}
		select {
		case <-m.stop:
			return
		case <-changed:
		}
	}
}

func writeFileAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
