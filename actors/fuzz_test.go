package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/starling-otel/starling/proto/starlingpb"
	"github.com/starling-otel/starling/storage"
)

// FuzzPartitionMessages: a partition actor's messages arrive from other
// nodes, decoded by the actor remote. Whatever decodes, the actor answers
// (an ack, NotPrimary or a result chunk) and keeps running: it never
// crashes, never hangs the sender.
func FuzzPartitionMessages(f *testing.F) {
	wb, _ := proto.Marshal(&starlingpb.WriteBatch{Format: storage.EntryFormat, RequestId: 1, Records: 1,
		Partition: &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: 0, Epoch: 1}, Entries: []byte{1, 2, 3}})
	rr, _ := proto.Marshal(&starlingpb.ReadRequest{Format: storage.EntryFormat, QueryId: 1, Limit: 10,
		Partition: &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: 0, Epoch: 1},
		Query:     &starlingpb.ReadRequest_TraceSearch{TraceSearch: &starlingpb.TraceSearch{Service: "svc"}}})
	tb, _ := proto.Marshal(&starlingpb.ReadRequest{Format: storage.EntryFormat, QueryId: 2,
		Partition: &starlingpb.PartitionRef{Signal: starlingpb.Signal_SIGNAL_TRACES, Id: 0, Epoch: 1},
		Query:     &starlingpb.ReadRequest_TraceById{TraceById: &starlingpb.TraceByID{TraceId: make([]byte, 16)}}})
	f.Add(false, wb)
	f.Add(true, rr)
	f.Add(true, tb)
	e := newEnv(f)
	pid := actor.NewPID(e.system.Address(), PartitionName(starlingpb.Signal_SIGNAL_TRACES, 0))
	f.Fuzz(func(t *testing.T, read bool, b []byte) {
		var msg proto.Message = &starlingpb.WriteBatch{}
		if read {
			msg = &starlingpb.ReadRequest{}
		}
		if proto.Unmarshal(b, msg) != nil {
			return // the remote drops what does not decode
		}
		res, err := e.system.Root.RequestFuture(pid, msg, 5*time.Second).Result()
		if err != nil {
			t.Fatalf("no answer to %v: %v", msg, err)
		}
		switch res.(type) {
		case *starlingpb.WriteAck, *starlingpb.NotPrimary, *starlingpb.ResultChunk:
		default:
			t.Fatalf("answer %T to %v", res, msg)
		}
	})
}
