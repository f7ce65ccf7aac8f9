package node

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/storage"
)

// The cluster endpoints under /api/v1/cluster: members as gossip shows
// them, the Raft group, and the partition table as this node's FSM holds it.

type memberJSON struct {
	ID         string `json:"id"`
	GossipAddr string `json:"gossipAddr"`
	HTTPAddr   string `json:"httpAddr"`
	RaftAddr   string `json:"raftAddr"`
	ActorAddr  string `json:"actorAddr"`
	OTLPGRPC   string `json:"otlpGrpcAddr"`
	OTLPHTTP   string `json:"otlpHttpAddr"`
	Zone       string `json:"zone"`
	Region     string `json:"region"`
	State      string `json:"state"`
	Since      string `json:"since"`
	RaftRole   string `json:"raftRole"`
	Protocol   uint32 `json:"protocol"`
}

// nodeStateName is the API name of a gossip state.
func nodeStateName(s starlingpb.NodeState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "NODE_STATE_"))
}

func (n *Node) clusterMembers(w http.ResponseWriter, r *http.Request) {
	if err := query.ParseNone(r.URL.Query()); err != nil {
		writeQueryError(w, err)
		return
	}
	out := struct {
		Self    string       `json:"self"`
		Members []memberJSON `json:"members"`
	}{Self: n.settings.NodeID, Members: []memberJSON{}}
	for _, m := range n.gossip.Members() {
		out.Members = append(out.Members, memberJSON{
			ID: m.Meta.Id, GossipAddr: m.GossipAddr, HTTPAddr: m.Meta.HttpAddr, RaftAddr: m.Meta.RaftAddr,
			ActorAddr: m.Meta.ActorAddr, OTLPGRPC: m.Meta.OtlpGrpcAddr, OTLPHTTP: m.Meta.OtlpHttpAddr,
			Zone: m.Meta.Zone, Region: m.Meta.Region, State: nodeStateName(m.State),
			Since: m.Since.UTC().Format(time.RFC3339Nano), RaftRole: n.group.Role(m.Meta.Id), Protocol: m.Meta.Protocol,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (n *Node) clusterRaft(w http.ResponseWriter, r *http.Request) {
	if err := query.ParseNone(r.URL.Query()); err != nil {
		writeQueryError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, n.group.Info())
}

type partitionJSON struct {
	ID        uint32   `json:"id"`
	Signal    string   `json:"signal"`
	Epoch     uint64   `json:"epoch"`
	Primary   string   `json:"primary"`
	Replicas  []string `json:"replicas"`
	InSync    []string `json:"inSync"`
	Leaving   string   `json:"leaving,omitempty"`
	State     string   `json:"state"`
	SizeBytes uint64   `json:"sizeBytes"`
	Records   uint64   `json:"records"`
	UpdatedAt string   `json:"updatedAt"`
}

type nodeCounts struct {
	Primary int    `json:"primary"`
	Replica int    `json:"replica"`
	Bytes   uint64 `json:"bytes"` // the reported sizes of the copies it holds
}

// tableJSON answers GET /api/v1/cluster/partitions.
type tableJSON struct {
	Settings         *settingsJSON          `json:"settings"`
	Partitions       []partitionJSON        `json:"partitions"`
	PerNode          map[string]*nodeCounts `json:"perNode"`
	UnderReplicated  int                    `json:"underReplicated"`
	PrimarySkew      float64                `json:"primarySkew"`
	SizeImbalance    float64                `json:"sizeImbalance"` // bytes of the fullest node over the mean, minus one
	AppliedRaftIndex uint64                 `json:"appliedRaftIndex"`
}

type settingsJSON struct {
	ClusterID         string `json:"clusterId"`
	Partitions        uint32 `json:"partitions"`
	ReplicationFactor uint32 `json:"replicationFactor"`
	MinInSync         uint32 `json:"minInSync"`
	Window            string `json:"window"`
	CreatedAt         string `json:"createdAt"`
}

// clusterPartitions lists the partition table with per-node counts.
// Optional filters: signal=traces|logs|metrics, node=<id> (rows the node
// holds).
func (n *Node) clusterPartitions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var sig starlingpb.Signal
	if s := q.Get("signal"); s != "" {
		i := slices.IndexFunc(storage.Signals[:], func(x starlingpb.Signal) bool { return storage.SignalName(x) == s })
		if i < 0 {
			writeQueryError(w, &query.ParamError{Param: "signal", Reason: "must be traces, logs or metrics"})
			return
		}
		sig = storage.Signals[i]
	}
	nodeID := q.Get("node")
	q.Del("signal")
	q.Del("node")
	if err := query.ParseNone(q); err != nil {
		writeQueryError(w, err)
		return
	}
	st := n.group.FSM().State()
	out := tableJSON{Partitions: []partitionJSON{}, PerNode: map[string]*nodeCounts{}, AppliedRaftIndex: st.Index}
	if s := st.Settings; s != nil {
		out.Settings = &settingsJSON{
			ClusterID: s.ClusterId, Partitions: s.Partitions, ReplicationFactor: s.ReplicationFactor, MinInSync: s.MinInSync,
			Window:    (time.Duration(s.WindowSeconds) * time.Second).String(),
			CreatedAt: time.Unix(0, s.CreatedAtUnixNano).UTC().Format(time.RFC3339Nano),
		}
	}
	count := func(id string) *nodeCounts {
		c := out.PerNode[id]
		if c == nil {
			c = &nodeCounts{}
			out.PerNode[id] = c
		}
		return c
	}
	for _, p := range st.Partitions {
		if st.Settings != nil && len(p.InSync) < int(st.Settings.ReplicationFactor) {
			out.UnderReplicated++
		}
		for _, id := range p.Replicas {
			if id == p.Primary {
				count(id).Primary++
			} else {
				count(id).Replica++
			}
			count(id).Bytes += p.SizeBytes
		}
		if (sig != starlingpb.Signal_SIGNAL_UNSPECIFIED && p.Signal != sig) || (nodeID != "" && !slices.Contains(p.Replicas, nodeID)) {
			continue
		}
		out.Partitions = append(out.Partitions, partitionJSON{
			ID: p.Id, Signal: storage.SignalName(p.Signal), Epoch: p.Epoch, Primary: p.Primary,
			Replicas: nonNil(p.Replicas), InSync: nonNil(p.InSync), Leaving: p.Leaving, State: partitionStateName(p.State),
			SizeBytes: p.SizeBytes, Records: p.Records, UpdatedAt: time.Unix(0, p.UpdatedAtUnixNano).UTC().Format(time.RFC3339Nano),
		})
	}
	if len(out.PerNode) > 0 {
		maxP, sum := 0, 0
		var maxB, sumB uint64
		for _, c := range out.PerNode {
			maxP = max(maxP, c.Primary)
			sum += c.Primary
			maxB = max(maxB, c.Bytes)
			sumB += c.Bytes
		}
		out.PrimarySkew = float64(maxP) * float64(len(out.PerNode)) / float64(sum)
		if sumB > 0 {
			out.SizeImbalance = float64(maxB)*float64(len(out.PerNode))/float64(sumB) - 1
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func partitionStateName(s starlingpb.PartitionState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "PARTITION_STATE_"))
}
