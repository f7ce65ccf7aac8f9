package node

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// settingsFile holds what a data directory was created with. Partitions and
// window length decide where every record lives, so a node refuses to open
// a data directory with other values rather than misplace data.
const settingsFile = "starling.json"

const settingsVersion = 1

type settings struct {
	Version       int    `json:"version"`
	NodeID        string `json:"nodeId"`
	Partitions    int    `json:"partitions"`
	WindowSeconds int64  `json:"windowSeconds"`
}

func storageDir(dataDir string) string { return dataDir }

// loadSettings reads the data directory's settings, creating them (and a
// node id) on first start, and checks them against cfg.
func loadSettings(cfg Config) (settings, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return settings{}, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, settingsFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s := settings{Version: settingsVersion, NodeID: cfg.NodeID, Partitions: cfg.Partitions, WindowSeconds: int64(cfg.Window / time.Second)}
		if s.NodeID == "" {
			var id [6]byte
			if _, err := rand.Read(id[:]); err != nil {
				return s, fmt.Errorf("make node id: %w", err)
			}
			s.NodeID = "node-" + hex.EncodeToString(id[:])
		}
		return s, writeSettings(path, s)
	case err != nil:
		return settings{}, fmt.Errorf("read %s: %w", path, err)
	}
	var s settings
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read %s: %w", path, err)
	}
	switch {
	case s.Version != settingsVersion:
		return s, fmt.Errorf("%s: version %d is not supported by this binary (knows %d)", path, s.Version, settingsVersion)
	case cfg.NodeID != "" && cfg.NodeID != s.NodeID:
		return s, fmt.Errorf("node-id: the data dir %s belongs to node %q, not %q", cfg.DataDir, s.NodeID, cfg.NodeID)
	case s.Partitions != cfg.Partitions:
		return s, fmt.Errorf("partitions: the data dir %s was created with %d partitions, not %d", cfg.DataDir, s.Partitions, cfg.Partitions)
	case s.WindowSeconds != int64(cfg.Window/time.Second):
		return s, fmt.Errorf("window: the data dir %s was created with %s windows, not %s", cfg.DataDir, time.Duration(s.WindowSeconds)*time.Second, cfg.Window)
	}
	return s, nil
}

func writeSettings(path string, s settings) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write settings: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write settings: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// raftDir holds the Raft log and snapshots, beside (never inside) Badger.
func raftDir(dataDir string) string { return filepath.Join(dataDir, "raft") }
