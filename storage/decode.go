package storage

import (
	"bytes"
	"encoding/binary"
	"sort"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/starling-otel/starling/proto/starlingpb"
)

// Decoding of records returned by the read paths into pdata, for the API.
// Records may come from several partitions and windows of one query.

// refIndex maps resource refs to their decoded records.
type refIndex map[uint64]decodedResource

func indexRefs(refs []*starlingpb.Record) refIndex {
	idx := make(refIndex, len(refs))
	for _, r := range refs {
		if len(r.Key) != headerLen+8 || r.Key[partLen] != kindResource {
			continue
		}
		ref := binary.BigEndian.Uint64(r.Key[headerLen:])
		if _, ok := idx[ref]; ok {
			continue
		}
		if d, err := decodeResource(r.Value); err == nil {
			idx[ref] = d
		}
	}
	return idx
}

func (idx refIndex) get(ref uint64) decodedResource {
	if d, ok := idx[ref]; ok {
		return d
	}
	// A record whose resource record is missing keeps an empty resource.
	return decodedResource{resource: pcommon.NewResource(), scope: pcommon.NewInstrumentationScope()}
}

// groupSpan is one span of a span group record.
type groupSpan struct {
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
	value   []byte
	head    spanHead
}

// traceSpans returns the spans of span group records, each span id once
// (a span sent twice in differently batched requests is in two groups).
func traceSpans(records []*starlingpb.Record) ([]groupSpan, error) {
	var out []groupSpan
	seen := make(map[[24]byte]struct{})
	for _, r := range records {
		tid, ok := spanGroupTrace(r.Key)
		if !ok {
			return out, ErrCorrupt
		}
		err := forEachGroupSpan(r.Value, func(sid pcommon.SpanID, span []byte) error {
			var id [24]byte
			copy(id[:], tid[:])
			copy(id[16:], sid[:])
			if _, dup := seen[id]; dup {
				return nil
			}
			seen[id] = struct{}{}
			h, err := decodeSpanHead(span)
			if err != nil {
				return err
			}
			out = append(out, groupSpan{traceID: tid, spanID: sid, value: span, head: h})
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// DecodeTrace rebuilds span group records and their resources (refs) as
// OTLP traces, one ResourceSpans per resource and scope, spans by start
// time. Repeated span ids are returned once.
func DecodeTrace(records, refs []*starlingpb.Record) (ptrace.Traces, error) {
	td := ptrace.NewTraces()
	spans, err := traceSpans(records)
	if err != nil {
		return td, err
	}
	sort.SliceStable(spans, func(i, j int) bool {
		if spans[i].head.start != spans[j].head.start {
			return spans[i].head.start < spans[j].head.start
		}
		return bytes.Compare(spans[i].spanID[:], spans[j].spanID[:]) < 0
	})
	idx := indexRefs(refs)
	scopes := make(map[uint64]ptrace.SpanSlice)
	for _, sp := range spans {
		slice, ok := scopes[sp.head.ref]
		if !ok {
			res := idx.get(sp.head.ref)
			rs := td.ResourceSpans().AppendEmpty()
			res.resource.CopyTo(rs.Resource())
			rs.SetSchemaUrl(res.resSchema)
			ss := rs.ScopeSpans().AppendEmpty()
			res.scope.CopyTo(ss.Scope())
			ss.SetSchemaUrl(res.scopeSchema)
			slice = ss.Spans()
			scopes[sp.head.ref] = slice
		}
		if _, err := decodeSpan(sp.traceID, sp.spanID, sp.value, slice.AppendEmpty()); err != nil {
			return td, err
		}
	}
	return td, nil
}

// TraceSummary describes a trace in a search result.
type TraceSummary struct {
	TraceID     [16]byte
	RootService string
	RootName    string
	Start       uint64 // unix nanoseconds of the earliest span
	End         uint64 // unix nanoseconds of the latest span end
	SpanCount   int
}

// SummarizeTrace summarises the span group records of one trace: the root
// is the span without a parent (the earliest such), or the earliest span
// when the root has not arrived.
func SummarizeTrace(records, refs []*starlingpb.Record) (TraceSummary, error) {
	var sum TraceSummary
	spans, err := traceSpans(records)
	if err != nil {
		return sum, err
	}
	var root spanHead
	haveRoot, rootIsReal := false, false
	for _, sp := range spans {
		h := sp.head
		sum.TraceID = sp.traceID
		if sum.SpanCount == 0 || h.start < sum.Start {
			sum.Start = h.start
		}
		sum.End = max(sum.End, h.end)
		sum.SpanCount++
		isRoot := !h.hasParent
		switch {
		case !haveRoot,
			isRoot && !rootIsReal,
			isRoot == rootIsReal && h.start < root.start:
			root, haveRoot, rootIsReal = h, true, isRoot
		}
	}
	if haveRoot {
		sum.RootName = root.name
		sum.RootService = serviceName(indexRefs(refs).get(root.ref).resource)
	}
	return sum, nil
}

// LogEntry is a decoded log record with its resource and scope.
type LogEntry struct {
	Record   plog.LogRecord
	Resource pcommon.Resource
	Scope    pcommon.InstrumentationScope
	Service  string
	// ResourceSchemaURL and ScopeSchemaURL are the schema URLs of the
	// record's ResourceLogs and ScopeLogs.
	ResourceSchemaURL string
	ScopeSchemaURL    string
}

// DecodeLogs rebuilds log records in the order given.
func DecodeLogs(records, refs []*starlingpb.Record) ([]LogEntry, error) {
	idx := indexRefs(refs)
	out := make([]LogEntry, 0, len(records))
	for _, r := range records {
		lr := plog.NewLogRecord()
		ref, err := decodeLog(r.Key, r.Value, lr)
		if err != nil {
			return out, err
		}
		res := idx.get(ref)
		out = append(out, LogEntry{
			Record: lr, Resource: res.resource, Scope: res.scope, Service: serviceName(res.resource),
			ResourceSchemaURL: res.resSchema, ScopeSchemaURL: res.scopeSchema,
		})
	}
	return out, nil
}

// LogTime is the time of a stored log record (from its key), for merging.
func LogTime(key []byte) int64 {
	if len(key) < headerLen+8 {
		return 0
	}
	return int64(^binary.BigEndian.Uint64(key[headerLen:]))
}
