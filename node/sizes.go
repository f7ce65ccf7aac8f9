package node

import (
	"context"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// A partition's size in the table is what its primary measures: the bytes
// of its keys and values in Badger's tables, over every open window
// (storage.PartitionSizes: exact for small partitions, estimated from the
// table index for large ones). The
// rebalancer's size balancer sums them per node (raftmeta/sizebalance.go),
// and /api/v1/cluster shows them. Every SizeReportInterval, the node
// measures the partitions it leads and reports those whose size moved by
// 5% or more, in one Raft command.

// runSizeReporter reports the sizes of the partitions this node leads,
// every SizeReportInterval, until the node stops.
func (n *Node) runSizeReporter(p *proposer) {
	n.every(n.cfg.SizeReportInterval, func() {
		stats := n.measureSizes()
		if len(stats) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.SizeReportInterval)
		defer cancel()
		err := p.propose(ctx, &starlingpb.RaftCommand{Command: &starlingpb.RaftCommand_ReportSizes{ReportSizes: &starlingpb.ReportSizes{Stats: stats}}})
		if err != nil {
			n.log.Warn("report partition sizes", "partitions", len(stats), "err", err)
		}
	})
}

// measureSizes measures the partitions this node leads and returns those
// whose size differs by 5% or more from the table's.
func (n *Node) measureSizes() []*starlingpb.PartitionStats {
	st := n.group.FSM().State()
	parts := int(st.Settings.GetPartitions())
	var out []*starlingpb.PartitionStats
	for _, sig := range storage.Signals {
		var rows []*starlingpb.Partition
		var ps []uint32
		for _, p := range st.Partitions {
			if p.Signal == sig && p.Primary == n.settings.NodeID {
				rows, ps = append(rows, p), append(ps, p.Id)
			}
		}
		if len(ps) == 0 {
			continue
		}
		sizes, err := n.store.PartitionSizes(sig, parts, ps)
		if err != nil {
			n.log.Warn("measure partition sizes", "signal", storage.SignalName(sig), "err", err)
			continue
		}
		for i, p := range rows {
			size := uint64(max(sizes[i], 0))
			diff := max(size, p.SizeBytes) - min(size, p.SizeBytes)
			if diff == 0 || diff*20 < p.SizeBytes {
				continue
			}
			out = append(out, &starlingpb.PartitionStats{Signal: p.Signal, Id: p.Id, SizeBytes: size, Records: p.Records})
		}
	}
	return out
}
