package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/starling-otel/starling/actors"
	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/query"
	"github.com/starling-otel/starling/storage"
)

// GET /api/v1/cluster/migrations: every partition copy being built (a
// replica of the table that is not in sync yet: a learner of a move, or a
// node back from the dead catching up), with the progress of its snapshot
// stream as the node streaming it (the partition's primary) reports it,
// and the handoffs finished lately. With scope=local a node answers with
// its own streams only; the cluster view asks every live member for
// theirs.

// transferJSON is one snapshot stream.
type transferJSON struct {
	ID            string  `json:"id"`
	Signal        string  `json:"signal"`
	Partition     uint32  `json:"partition"`
	Epoch         uint64  `json:"epoch"`
	Source        string  `json:"source"`
	Target        string  `json:"target"`
	Started       string  `json:"started"`
	Finished      string  `json:"finished,omitempty"`
	Bytes         int64   `json:"bytes"`
	EstimateBytes int64   `json:"estimateBytes"`
	Keys          int     `json:"keys"`
	Chunks        int     `json:"chunks"`
	BytesPerSec   float64 `json:"bytesPerSecond"`
	ETASeconds    float64 `json:"etaSeconds"`
	Error         string  `json:"error,omitempty"`
}

// localTransfersJSON is a node's own streams (scope=local).
type localTransfersJSON struct {
	Node   string         `json:"node"`
	Active []transferJSON `json:"active"`
	Recent []transferJSON `json:"recent"`
}

// migrationJSON is one learner of the partition table.
type migrationJSON struct {
	Signal    string        `json:"signal"`
	Partition uint32        `json:"partition"`
	Epoch     uint64        `json:"epoch"`
	Source    string        `json:"source"`
	Target    string        `json:"target"`
	Leaving   string        `json:"leaving,omitempty"` // a move for size: the copy that retires once target is in sync
	State     string        `json:"state"`
	Since     string        `json:"since"`
	Phase     string        `json:"phase"` // streaming, waiting (no stream running), target-down
	Transfer  *transferJSON `json:"transfer,omitempty"`
}

func transferOf(self string, t actors.Transfer) transferJSON {
	out := transferJSON{
		ID: t.ID, Signal: storage.SignalName(t.Signal), Partition: t.Partition, Epoch: t.Epoch, Source: self, Target: t.Target,
		Started: t.Started.UTC().Format(time.RFC3339Nano), Bytes: t.Progress.Bytes, EstimateBytes: t.Progress.Estimate,
		Keys: t.Progress.Keys, Chunks: t.Progress.Chunks, BytesPerSec: t.Progress.Rate(), ETASeconds: t.Progress.ETA().Seconds(), Error: t.Err,
	}
	if !t.Finished.IsZero() {
		out.Finished = t.Finished.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// localTransfers is this node's own streams.
func (n *Node) localTransfers() localTransfersJSON {
	out := localTransfersJSON{Node: n.settings.NodeID, Active: []transferJSON{}, Recent: []transferJSON{}}
	if n.transfers == nil {
		return out
	}
	active, recent := n.transfers.Snapshot()
	for _, t := range active {
		out.Active = append(out.Active, transferOf(out.Node, t))
	}
	for _, t := range recent {
		out.Recent = append(out.Recent, transferOf(out.Node, t))
	}
	return out
}

// memberTransfers asks every live member but this one for its streams,
// at once; members that do not answer within the timeout are listed.
func (n *Node) memberTransfers(ctx context.Context) (all []localTransfersJSON, unreachable []string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, m := range n.gossip.Members() {
		if m.Meta.Id == n.settings.NodeID || m.State != starlingpb.NodeState_NODE_STATE_ALIVE || m.Meta.HttpAddr == "" {
			continue
		}
		wg.Add(1)
		go func(id, addr string) {
			defer wg.Done()
			var lt localTransfersJSON
			err := fetchJSON(ctx, "http://"+addr+"/api/v1/cluster/migrations?scope=local", &lt)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				unreachable = append(unreachable, id)
				return
			}
			all = append(all, lt)
		}(m.Meta.Id, m.Meta.HttpAddr)
	}
	wg.Wait()
	slices.Sort(unreachable)
	return all, unreachable
}

func fetchJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (n *Node) clusterMigrations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	scope := q.Get("scope")
	q.Del("scope")
	if err := query.ParseNone(q); err != nil {
		writeQueryError(w, err)
		return
	}
	switch scope {
	case "local":
		writeJSON(w, http.StatusOK, n.localTransfers())
		return
	case "", "cluster":
	default:
		writeQueryError(w, &query.ParamError{Param: "scope", Reason: "must be cluster or local"})
		return
	}
	nodes, unreachable := n.memberTransfers(r.Context())
	nodes = append(nodes, n.localTransfers())
	out := struct {
		Migrations  []migrationJSON `json:"migrations"`
		Recent      []transferJSON  `json:"recent"`
		Unreachable []string        `json:"unreachable"`
	}{Migrations: []migrationJSON{}, Recent: []transferJSON{}, Unreachable: nonNil(unreachable)}
	type key struct {
		sig    string
		p      uint32
		target string
	}
	running := map[key]transferJSON{}
	for _, lt := range nodes {
		for _, t := range lt.Active {
			running[key{t.Signal, t.Partition, t.Target}] = t
		}
		out.Recent = append(out.Recent, lt.Recent...)
	}
	slices.SortFunc(out.Recent, func(a, b transferJSON) int { return strings.Compare(a.Finished, b.Finished) })
	alive := map[string]bool{}
	for _, m := range n.gossip.Members() {
		alive[m.Meta.Id] = m.State == starlingpb.NodeState_NODE_STATE_ALIVE
	}
	for _, p := range n.group.FSM().State().Partitions {
		for _, id := range p.Replicas {
			if slices.Contains(p.InSync, id) {
				continue
			}
			m := migrationJSON{
				Signal: storage.SignalName(p.Signal), Partition: p.Id, Epoch: p.Epoch, Source: p.Primary, Target: id, Leaving: p.Leaving,
				State: partitionStateName(p.State), Since: time.Unix(0, p.UpdatedAtUnixNano).UTC().Format(time.RFC3339Nano), Phase: "waiting",
			}
			if t, ok := running[key{m.Signal, p.Id, id}]; ok {
				m.Transfer, m.Phase = &t, "streaming"
			} else if !alive[id] {
				m.Phase = "target-down"
			}
			out.Migrations = append(out.Migrations, m)
		}
	}
	writeJSON(w, http.StatusOK, out)
}
