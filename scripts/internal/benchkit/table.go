package benchkit

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Table is the part of GET /api/v1/cluster/partitions the drivers read.
type Table struct {
	Settings *struct {
		Partitions        int `json:"partitions"`
		ReplicationFactor int `json:"replicationFactor"`
		MinInSync         int `json:"minInSync"`
	} `json:"settings"`
	Partitions       []PartitionRow        `json:"partitions"`
	PerNode          map[string]NodeCounts `json:"perNode"`
	UnderReplicated  int                   `json:"underReplicated"`
	AppliedRaftIndex uint64                `json:"appliedRaftIndex"`
}

// PartitionRow is one row of the partition table.
type PartitionRow struct {
	ID       uint32   `json:"id"`
	Signal   string   `json:"signal"`
	Epoch    uint64   `json:"epoch"`
	Primary  string   `json:"primary"`
	Replicas []string `json:"replicas"`
	InSync   []string `json:"inSync"`
	State    string   `json:"state"`
}

// NodeCounts are the copies a node holds, as primary and as replica.
type NodeCounts struct {
	Primary int `json:"primary"`
	Replica int `json:"replica"`
}

// GetTable reads the partition table from the node whose API is at base
// (http://host:port); a cluster not created yet is an error.
func GetTable(client *http.Client, base string) (*Table, error) {
	resp, err := client.Get(base + "/api/v1/cluster/partitions")
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("partitions: %s", resp.Status)
	}
	var t Table
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	if t.Settings == nil {
		return nil, fmt.Errorf("partitions: the cluster has no settings yet")
	}
	return &t, nil
}
