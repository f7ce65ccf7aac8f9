package raftmeta

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
)

const (
	// CommandFormat is the version of the RaftCommand encoding in the log.
	CommandFormat = 1
	// SnapshotFormat is the version of the MetaState encoding in snapshots.
	SnapshotFormat = 1
	// maxPartitions is the largest number of partitions per signal.
	maxPartitions = 4096
)

// signals are the signals the partition table covers, in table order.
var signals = [...]starlingpb.Signal{
	starlingpb.Signal_SIGNAL_TRACES,
	starlingpb.Signal_SIGNAL_LOGS,
	starlingpb.Signal_SIGNAL_METRICS,
}

var (
	// ErrUnknownFormat is returned for a command or snapshot written in a
	// format this version does not know.
	ErrUnknownFormat = errors.New("unknown format")
	// ErrInvalidCommand is returned for a command (or snapshot) that does
	// not decode or breaks a rule of the table: an invalid row, a missing
	// field, …
	ErrInvalidCommand = errors.New("invalid raft command")
	// ErrNotInitialised is returned for a partition update before
	// InitCluster.
	ErrNotInitialised = errors.New("cluster not initialised")
	// ErrAlreadyInitialised is returned for a second InitCluster.
	ErrAlreadyInitialised = errors.New("cluster already initialised")
	// ErrEpochConflict is returned when a partition's current epoch is not
	// the expected one: another decider changed it first.
	ErrEpochConflict = errors.New("partition epoch conflict")
	// ErrUnknownPartition is returned for an update of a row the table does
	// not have.
	ErrUnknownPartition = errors.New("unknown partition")
)

// EncodeCommand encodes c for the Raft log, setting c.Format to
// CommandFormat. The leader calls it before raft.Apply.
func EncodeCommand(c *starlingpb.RaftCommand) ([]byte, error) {
	if c == nil || c.Command == nil {
		return nil, fmt.Errorf("encode raft command: no command: %w", ErrInvalidCommand)
	}
	c.Format = CommandFormat
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode raft command: %w", err)
	}
	return b, nil
}

// DecodeCommand decodes a Raft log entry and checks its format. It does not
// validate the command: Apply does.
func DecodeCommand(b []byte) (*starlingpb.RaftCommand, error) {
	c := &starlingpb.RaftCommand{}
	if err := proto.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("decode raft command: %w: %w", ErrInvalidCommand, err)
	}
	if c.Format != CommandFormat {
		return nil, fmt.Errorf("raft command format %d (this node reads %d): %w", c.Format, CommandFormat, ErrUnknownFormat)
	}
	return c, nil
}

// State is one version of the cluster metadata. A published State is
// immutable: neither the FSM nor readers modify it or its rows.
type State struct {
	// Index is the Raft index of the last command applied successfully (0
	// after a Restore until the next one: snapshots do not carry it).
	Index uint64
	// Settings are nil until InitCluster.
	Settings *starlingpb.ClusterSettings
	// Nodes are sorted by id.
	Nodes []*starlingpb.NodeRecord
	// Partitions are sorted by (signal, id): Settings.Partitions rows per
	// signal once initialised, none before.
	Partitions []*starlingpb.Partition

	changed chan struct{} // closed when the next state is published
}

// Initialised reports whether InitCluster has been applied.
func (s *State) Initialised() bool { return s.Settings != nil }

// Partition returns the row of partition id of sig, or nil.
func (s *State) Partition(sig starlingpb.Signal, id uint32) *starlingpb.Partition {
	i, ok := slices.BinarySearchFunc(s.Partitions, rowKey{sig, id}, cmpRowKey)
	if !ok {
		return nil
	}
	return s.Partitions[i]
}

// Node returns the record of node id, or nil.
func (s *State) Node(id string) *starlingpb.NodeRecord {
	i, ok := slices.BinarySearchFunc(s.Nodes, id, cmpNodeID)
	if !ok {
		return nil
	}
	return s.Nodes[i]
}

// meta is the snapshot form of s; it shares s's messages.
func (s *State) meta() *starlingpb.MetaState {
	return &starlingpb.MetaState{Format: SnapshotFormat, Settings: s.Settings, Nodes: s.Nodes, Partitions: s.Partitions}
}

type rowKey struct {
	sig starlingpb.Signal
	id  uint32
}

func cmpRowKey(p *starlingpb.Partition, k rowKey) int {
	return cmp.Or(cmp.Compare(p.Signal, k.sig), cmp.Compare(p.Id, k.id))
}

func cmpRows(a, b *starlingpb.Partition) int { return cmpRowKey(a, rowKey{b.Signal, b.Id}) }

func cmpNodeID(n *starlingpb.NodeRecord, id string) int { return strings.Compare(n.Meta.Id, id) }

// ApplyResult is what Apply returns for every log entry; raft hands it to
// the proposer as ApplyFuture.Response. Err is nil when the command was
// applied; otherwise the entry was a no-op.
type ApplyResult struct {
	Err error
}

// FSM is the Raft state machine holding the cluster metadata. Raft calls
// Apply, Snapshot and Restore from its FSM goroutine, never concurrently;
// FSMSnapshot.Persist runs on another goroutine alongside Apply. State,
// Partitions and Changed are safe from any goroutine: every change builds a
// new State (copy on write) and publishes it atomically.
//
// FSM implements raft.FSM and, structurally, actors.PartitionTable.
type FSM struct {
	mu    sync.Mutex // serialises writers (Apply, Restore)
	state atomic.Pointer[State]
}

var _ raft.FSM = (*FSM)(nil)

// NewFSM returns an FSM with an empty, uninitialised state.
func NewFSM() *FSM {
	f := &FSM{}
	f.state.Store(&State{changed: make(chan struct{})})
	return f
}

// State returns the current state; never nil. Callers must not modify it.
func (f *FSM) State() *State { return f.state.Load() }

// Partitions returns every row of every signal, sorted by (signal, id). The
// rows are shared: callers must not modify them. Safe from any goroutine.
func (f *FSM) Partitions() []*starlingpb.Partition { return f.State().Partitions }

// Changed returns a channel that is closed at the first change after the
// call (every applied command and every Restore is a change). Safe from any
// goroutine.
func (f *FSM) Changed() <-chan struct{} { return f.State().changed }

// publish makes next the current state and wakes the watchers of the old
// one. f.mu must be held.
func (f *FSM) publish(next *State) {
	next.changed = make(chan struct{})
	old := f.state.Swap(next)
	close(old.changed)
}

// Apply applies one committed log entry. Called by raft from its FSM
// goroutine. It always returns a non-nil *ApplyResult; an entry that does
// not decode or breaks a rule leaves the state unchanged (committed entries
// cannot be rejected, so they become no-ops).
func (f *FSM) Apply(l *raft.Log) any {
	if l == nil {
		return &ApplyResult{Err: fmt.Errorf("nil log entry: %w", ErrInvalidCommand)}
	}
	c, err := DecodeCommand(l.Data)
	if err != nil {
		return &ApplyResult{Err: err}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.State()
	var next *State
	switch cmd := c.Command.(type) {
	case *starlingpb.RaftCommand_Init:
		next, err = applyInit(cur, cmd.Init)
	case *starlingpb.RaftCommand_PutNode:
		next, err = applyPutNode(cur, cmd.PutNode)
	case *starlingpb.RaftCommand_RemoveNode:
		next, err = applyRemoveNode(cur, cmd.RemoveNode)
	case *starlingpb.RaftCommand_UpdatePartitions:
		next, err = applyUpdate(cur, cmd.UpdatePartitions)
	case *starlingpb.RaftCommand_ReportSizes:
		next, err = applyReportSizes(cur, cmd.ReportSizes)
	default:
		err = fmt.Errorf("raft command without a known command: %w", ErrInvalidCommand)
	}
	if err != nil {
		return &ApplyResult{Err: err}
	}
	next.Index = l.Index
	f.publish(next)
	return &ApplyResult{}
}

// applyInit fixes the settings and the first partition table.
func applyInit(cur *State, c *starlingpb.InitCluster) (*State, error) {
	if cur.Initialised() {
		return nil, fmt.Errorf("init cluster: %w", ErrAlreadyInitialised)
	}
	if c == nil {
		return nil, fmt.Errorf("init cluster: empty: %w", ErrInvalidCommand)
	}
	if err := validSettings(c.Settings, false); err != nil {
		return nil, fmt.Errorf("init cluster: %w", err)
	}
	rows, err := validTable(c.Settings, c.Partitions)
	if err != nil {
		return nil, fmt.Errorf("init cluster: %w", err)
	}
	return &State{Settings: c.Settings, Nodes: cur.Nodes, Partitions: rows}, nil
}

// applyPutNode records or replaces a node.
func applyPutNode(cur *State, c *starlingpb.PutNode) (*State, error) {
	n := c.GetNode()
	if n.GetMeta().GetId() == "" {
		return nil, fmt.Errorf("put node: node id must be set: %w", ErrInvalidCommand)
	}
	i, found := slices.BinarySearchFunc(cur.Nodes, n.Meta.Id, cmpNodeID)
	var nodes []*starlingpb.NodeRecord
	if found {
		nodes = slices.Clone(cur.Nodes)
		nodes[i] = n
	} else {
		nodes = slices.Insert(slices.Clip(cur.Nodes), i, n) // Clip: Insert copies
	}
	return &State{Settings: cur.Settings, Nodes: nodes, Partitions: cur.Partitions}, nil
}

// applyRemoveNode forgets a node; an unknown id is a successful no-op.
func applyRemoveNode(cur *State, c *starlingpb.RemoveNode) (*State, error) {
	id := c.GetId()
	if id == "" {
		return nil, fmt.Errorf("remove node: node id must be set: %w", ErrInvalidCommand)
	}
	nodes := cur.Nodes
	if i, found := slices.BinarySearchFunc(nodes, id, cmpNodeID); found {
		nodes = slices.Delete(slices.Clone(nodes), i, i+1)
	}
	return &State{Settings: cur.Settings, Nodes: nodes, Partitions: cur.Partitions}, nil
}

// applyUpdate applies every update or none: each is a compare-and-set on
// the row's epoch.
func applyUpdate(cur *State, c *starlingpb.UpdatePartitions) (*State, error) {
	if !cur.Initialised() {
		return nil, fmt.Errorf("update partitions: %w", ErrNotInitialised)
	}
	if len(c.GetUpdates()) == 0 {
		return nil, fmt.Errorf("update partitions: no updates: %w", ErrInvalidCommand)
	}
	rows := slices.Clone(cur.Partitions)
	seen := make(map[rowKey]bool, len(c.Updates))
	for _, u := range c.Updates {
		p := u.GetPartition()
		if p == nil {
			return nil, fmt.Errorf("update partitions: update without a row: %w", ErrInvalidCommand)
		}
		k := rowKey{p.Signal, p.Id}
		name := fmt.Sprintf("%s partition %d", p.Signal, p.Id)
		i, ok := slices.BinarySearchFunc(rows, k, cmpRowKey)
		if !ok {
			return nil, fmt.Errorf("update partitions: %s: %w", name, ErrUnknownPartition)
		}
		if seen[k] {
			return nil, fmt.Errorf("update partitions: %s appears twice: %w", name, ErrInvalidCommand)
		}
		seen[k] = true
		if err := validRow(p); err != nil {
			return nil, fmt.Errorf("update partitions: %w", err)
		}
		old := rows[i]
		if old.Epoch != u.ExpectedEpoch {
			return nil, fmt.Errorf("update partitions: %s is at epoch %d, expected %d: %w", name, old.Epoch, u.ExpectedEpoch, ErrEpochConflict)
		}
		if p.Epoch < u.ExpectedEpoch {
			return nil, fmt.Errorf("update partitions: %s: new epoch %d is below %d: %w", name, p.Epoch, u.ExpectedEpoch, ErrInvalidCommand)
		}
		if p.Epoch == u.ExpectedEpoch && !samePlacement(old, p) {
			return nil, fmt.Errorf("update partitions: %s: placement changed without an epoch bump: %w", name, ErrInvalidCommand)
		}
		rows[i] = p
	}
	return &State{Settings: cur.Settings, Nodes: cur.Nodes, Partitions: rows}, nil
}

// applyReportSizes sets the measured size of every row named, or of none:
// statistics, not placement, so no epoch is compared.
func applyReportSizes(cur *State, c *starlingpb.ReportSizes) (*State, error) {
	if !cur.Initialised() {
		return nil, fmt.Errorf("report sizes: %w", ErrNotInitialised)
	}
	if len(c.GetStats()) == 0 {
		return nil, fmt.Errorf("report sizes: no stats: %w", ErrInvalidCommand)
	}
	rows := slices.Clone(cur.Partitions)
	seen := make(map[rowKey]bool, len(c.Stats))
	for _, st := range c.Stats {
		k := rowKey{st.Signal, st.Id}
		i, ok := slices.BinarySearchFunc(rows, k, cmpRowKey)
		if !ok {
			return nil, fmt.Errorf("report sizes: %s partition %d: %w", st.Signal, st.Id, ErrUnknownPartition)
		}
		if seen[k] {
			return nil, fmt.Errorf("report sizes: %s partition %d appears twice: %w", st.Signal, st.Id, ErrInvalidCommand)
		}
		seen[k] = true
		row := proto.CloneOf(rows[i])
		row.SizeBytes, row.Records = st.SizeBytes, st.Records
		rows[i] = row
	}
	return &State{Settings: cur.Settings, Nodes: cur.Nodes, Partitions: rows}, nil
}

// samePlacement reports whether a and b have the same primary, replicas
// (in order), in-sync set (in order), leaving replica and state.
func samePlacement(a, b *starlingpb.Partition) bool {
	return a.Primary == b.Primary && a.State == b.State && a.Leaving == b.Leaving &&
		slices.Equal(a.Replicas, b.Replicas) && slices.Equal(a.InSync, b.InSync)
}

// validSettings checks cluster settings. A draft (settings in a node's
// configuration, before the cluster exists) may lack the cluster id.
func validSettings(s *starlingpb.ClusterSettings, draft bool) error {
	switch {
	case s == nil:
		return fmt.Errorf("cluster settings missing: %w", ErrInvalidCommand)
	case s.ClusterId == "" && !draft:
		return fmt.Errorf("cluster id must be set: %w", ErrInvalidCommand)
	case s.Partitions < 1 || s.Partitions > maxPartitions:
		return fmt.Errorf("partitions: %d is not in 1..%d: %w", s.Partitions, maxPartitions, ErrInvalidCommand)
	case s.ReplicationFactor < 1:
		return fmt.Errorf("replication factor must be at least 1: %w", ErrInvalidCommand)
	case s.MinInSync < 1 || s.MinInSync > s.ReplicationFactor:
		return fmt.Errorf("min in-sync: %d is not in 1..%d (the replication factor): %w", s.MinInSync, s.ReplicationFactor, ErrInvalidCommand)
	case s.WindowSeconds <= 0:
		return fmt.Errorf("window seconds: %d must be positive: %w", s.WindowSeconds, ErrInvalidCommand)
	}
	return nil
}

// validTable checks that rows hold exactly settings.Partitions valid rows of
// every signal, each once, and returns them sorted by (signal, id).
func validTable(s *starlingpb.ClusterSettings, rows []*starlingpb.Partition) ([]*starlingpb.Partition, error) {
	want := len(signals) * int(s.Partitions)
	if len(rows) != want {
		return nil, fmt.Errorf("partition table has %d rows, want %d: %w", len(rows), want, ErrInvalidCommand)
	}
	for _, p := range rows {
		if p == nil {
			return nil, fmt.Errorf("nil partition row: %w", ErrInvalidCommand)
		}
		if !slices.Contains(signals[:], p.Signal) || p.Id >= s.Partitions {
			return nil, fmt.Errorf("%s partition %d is outside the table: %w", p.Signal, p.Id, ErrInvalidCommand)
		}
		if err := validRow(p); err != nil {
			return nil, err
		}
	}
	sorted := slices.SortedFunc(slices.Values(rows), cmpRows)
	// With the right count and every key in range, a duplicate implies a gap.
	for i := 1; i < len(sorted); i++ {
		if cmpRows(sorted[i-1], sorted[i]) == 0 {
			return nil, fmt.Errorf("%s partition %d appears twice: %w", sorted[i].Signal, sorted[i].Id, ErrInvalidCommand)
		}
	}
	return sorted, nil
}

// validRow checks one row: epoch ≥ 1, a known state, distinct non-empty
// replicas holding the primary, and an in-sync set within the replicas
// holding the primary. Fewer replicas than the replication factor is valid
// (under-replicated).
func validRow(p *starlingpb.Partition) error {
	name := fmt.Sprintf("%s partition %d", p.Signal, p.Id)
	bad := func(why string) error { return fmt.Errorf("%s: %s: %w", name, why, ErrInvalidCommand) }
	switch {
	case p.Epoch < 1:
		return bad("epoch must be at least 1")
	case p.State == starlingpb.PartitionState_PARTITION_STATE_UNSPECIFIED:
		return bad("state must be set")
	case starlingpb.PartitionState_name[int32(p.State)] == "":
		return bad(fmt.Sprintf("unknown state %d", p.State))
	case p.Primary == "":
		return bad("primary must be set")
	case !slices.Contains(p.Replicas, p.Primary):
		return bad("primary " + p.Primary + " is not a replica")
	case !slices.Contains(p.InSync, p.Primary):
		return bad("primary " + p.Primary + " is not in sync")
	case p.Leaving != "" && !slices.Contains(p.Replicas, p.Leaving):
		return bad("leaving node " + p.Leaving + " is not a replica")
	}
	if err := distinctIDs(p.Replicas); err != "" {
		return bad("replicas: " + err)
	}
	if err := distinctIDs(p.InSync); err != "" {
		return bad("in-sync: " + err)
	}
	for _, id := range p.InSync {
		if !slices.Contains(p.Replicas, id) {
			return bad("in-sync node " + id + " is not a replica")
		}
	}
	return nil
}

// distinctIDs returns why ids is not a list of distinct non-empty node ids,
// or "". The lists are a handful of entries: quadratic is fine.
func distinctIDs(ids []string) string {
	for i, id := range ids {
		if id == "" {
			return "empty node id"
		}
		if slices.Contains(ids[:i], id) {
			return "node " + id + " listed twice"
		}
	}
	return ""
}

// Snapshot captures the current state for raft; called from the FSM
// goroutine. It only keeps the pointer: the state is immutable.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{state: f.State()}, nil
}

// fsmSnapshot is one captured state, persisted by raft's snapshot goroutine
// while Apply goes on.
type fsmSnapshot struct {
	state *State
}

// Persist writes the state as a MetaState and closes sink, or cancels it on
// error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.state.meta())
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist raft snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("persist raft snapshot: %w", err)
	}
	return nil
}

// Release does nothing: the snapshot holds no resources.
func (s *fsmSnapshot) Release() {}

// Restore replaces the state with a snapshot's; called by raft from its FSM
// goroutine, never alongside Apply. The snapshot is checked like
// InitCluster (settings may be missing: an uninitialised FSM that knows
// nodes). On any error the state is unchanged.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read raft snapshot: %w", err)
	}
	next, err := decodeSnapshot(b)
	if err != nil {
		return fmt.Errorf("restore raft snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.publish(next)
	return nil
}

// decodeSnapshot decodes and validates a MetaState.
func decodeSnapshot(b []byte) (*State, error) {
	m := &starlingpb.MetaState{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	if m.Format != SnapshotFormat {
		return nil, fmt.Errorf("snapshot format %d (this node reads %d): %w", m.Format, SnapshotFormat, ErrUnknownFormat)
	}
	next := &State{Settings: m.Settings}
	if m.Settings == nil {
		if len(m.Partitions) > 0 {
			return nil, fmt.Errorf("partition rows without cluster settings: %w", ErrInvalidCommand)
		}
	} else {
		if err := validSettings(m.Settings, false); err != nil {
			return nil, err
		}
		rows, err := validTable(m.Settings, m.Partitions)
		if err != nil {
			return nil, err
		}
		next.Partitions = rows
	}
	for _, n := range m.Nodes {
		if n.GetMeta().GetId() == "" {
			return nil, fmt.Errorf("node record without an id: %w", ErrInvalidCommand)
		}
	}
	next.Nodes = slices.SortedFunc(slices.Values(m.Nodes), func(a, b *starlingpb.NodeRecord) int {
		return strings.Compare(a.Meta.Id, b.Meta.Id)
	})
	for i := 1; i < len(next.Nodes); i++ {
		if next.Nodes[i-1].Meta.Id == next.Nodes[i].Meta.Id {
			return nil, fmt.Errorf("node %s recorded twice: %w", next.Nodes[i].Meta.Id, ErrInvalidCommand)
		}
	}
	return next, nil
}
