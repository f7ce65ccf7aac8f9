package jaeger

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The translation of OTLP spans into the Jaeger UI model, as Jaeger's query
// service does it: the collector-contrib translator
// pkg/translator/jaeger/traces_to_jaegerproto.go (OTLP to the proto model),
// then internal/uimodel/converter/v1/json/from_domain.go and
// process_hashtable.go (proto model to JSON), with the two adjusters of
// cmd/query/app/querysvc/adjuster (later
// cmd/jaeger/internal/extension/jaegerquery/internal/adjuster) that change
// what the UI shows of well-formed data: sort.go (SortCollections) and
// spanlinks.go (RemoveEmptySpanLinks). The raw parameter turns them off, as
// in Jaeger. Jaeger's other adjusters (span ID deduplication, clock skew,
// IP and library attributes) are not reproduced.
//
// Where this code differs from Jaeger: the spans of a trace are sorted by
// start time, then span ID (Jaeger keeps the storage's order, which here
// would depend on which partition answered first); a span that ends before
// it starts has duration 0 (Jaeger's unsigned microseconds wrap); a
// non-finite float64 tag has its value as the string "NaN", "Infinity" or
// "-Infinity" (Jaeger fails to encode the response).

// Tag keys the translator adds to a span (traces_to_jaegerproto.go, with the
// names of semconv and coreinternal/tracetranslator).
const (
	tagSpanKind          = "span.kind"
	tagStatusCode        = "otel.status_code"
	tagStatusDescription = "otel.status_description"
	tagError             = "error"
	tagScopeName         = "otel.scope.name"
	tagScopeVersion      = "otel.scope.version"
	tagTraceState        = "w3c.tracestate"
	// logEventName is the log field holding an event's name (the
	// translator's eventNameAttr).
	logEventName = "event"
	// linkRefTypeAttr and linkRefTypeChildOf mark a link that was a
	// CHILD_OF reference (semconv's opentracing.ref_type).
	linkRefTypeAttr    = "opentracing.ref_type"
	linkRefTypeChildOf = "child_of"
	// warningsAttr is the span attribute in which Jaeger keeps a span's
	// warnings (internal/jptrace/attributes.go); it becomes the span's
	// warnings instead of a tag (v1adapter/translator.go).
	warningsAttr = "@jaeger@warnings"
	// invalidLinkWarning is spanlinks.go's warning for a removed link.
	invalidLinkWarning = "Invalid span link removed"
	// noServiceName is the service of a resource without attributes
	// (tracetranslator.ResourceNoServiceName).
	noServiceName = "OTLP_EMPTY_SERVICE_NAME"
	// serviceNameAttr is semconv's service.name.
	serviceNameAttr = "service.name"
)

const (
	// jsMaxSafeInteger bounds the int64 tags written as JSON numbers;
	// larger magnitudes are written as decimal strings (from_domain.go).
	jsMaxSafeInteger = int64(1)<<53 - 1
	// sampledFlag is the sampled bit, the same in OTLP span flags (W3C
	// trace flags) and in Jaeger's model.Flags; it is the only flag the
	// translator carries over (collector-contrib sampled_flag_test.go).
	sampledFlag = 0x1
)

// spanKindTags are the translator's span.kind values (OpenTracing's).
var spanKindTags = map[ptrace.SpanKind]string{
	ptrace.SpanKindClient:   "client",
	ptrace.SpanKindServer:   "server",
	ptrace.SpanKindProducer: "producer",
	ptrace.SpanKindConsumer: "consumer",
	ptrace.SpanKindInternal: "internal",
}

// traceGroup is the spans of one trace ID, gathered from any number of
// ptrace.Traces.
type traceGroup struct {
	id    pcommon.TraceID
	spans []spanInfo
}

// spanInfo is a span with what it inherits from its resource and scope.
type spanInfo struct {
	span  ptrace.Span
	scope pcommon.InstrumentationScope
	proc  *procInfo
}

// procInfo is the Jaeger process of one ResourceSpans and its identity:
// two resources with the same service and tags are one process.
type procInfo struct {
	p   process
	key string
}

// groupTraces gathers the spans of tds by trace ID, the traces in the order
// their first spans come, the spans of each sorted by start time and span
// ID.
func groupTraces(tds []ptrace.Traces, raw bool) []traceGroup {
	var groups []traceGroup
	index := make(map[pcommon.TraceID]int)
	for _, td := range tds {
		for _, rs := range td.ResourceSpans().All() {
			var proc *procInfo
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					if proc == nil {
						proc = newProcInfo(rs.Resource(), raw)
					}
					i, ok := index[s.TraceID()]
					if !ok {
						i = len(groups)
						index[s.TraceID()] = i
						groups = append(groups, traceGroup{id: s.TraceID()})
					}
					groups[i].spans = append(groups[i].spans, spanInfo{span: s, scope: ss.Scope(), proc: proc})
				}
			}
		}
	}
	for _, g := range groups {
		slices.SortStableFunc(g.spans, func(a, b spanInfo) int {
			if c := cmp.Compare(a.span.StartTimestamp(), b.span.StartTimestamp()); c != 0 {
				return c
			}
			ai, bi := a.span.SpanID(), b.span.SpanID()
			return bytes.Compare(ai[:], bi[:])
		})
	}
	return groups
}

// convertTraces is groupTraces then convertTrace.
func convertTraces(tds []ptrace.Traces, raw bool) []trace {
	groups := groupTraces(tds, raw)
	out := make([]trace, len(groups))
	for i, g := range groups {
		out[i] = convertTrace(g, raw)
	}
	return out
}

// convertTrace turns one trace's spans into a Jaeger trace. Processes get
// the keys p1, p2, … in the order of the spans that first use them, as
// process_hashtable.go assigns them.
func convertTrace(g traceGroup, raw bool) trace {
	t := trace{
		TraceID:   traceIDString(g.id),
		Spans:     make([]span, len(g.spans)),
		Processes: make(map[string]process),
	}
	keys := make(map[string]string)
	for i, si := range g.spans {
		pid, ok := keys[si.proc.key]
		if !ok {
			pid = "p" + strconv.Itoa(len(keys)+1)
			keys[si.proc.key] = pid
			t.Processes[pid] = si.proc.p
		}
		t.Spans[i] = convertSpan(si, pid, raw)
	}
	return t
}

// serviceName is the translator's service of a resource: service.name
// (empty when it is not a string), or OTLP_EMPTY_SERVICE_NAME when the
// resource has no attributes at all.
func serviceName(res pcommon.Resource) string {
	attrs := res.Attributes()
	if attrs.Len() == 0 {
		return noServiceName
	}
	v, _ := attrs.Get(serviceNameAttr)
	return v.Str()
}

func newProcInfo(res pcommon.Resource, raw bool) *procInfo {
	p := process{ServiceName: serviceName(res), Tags: []keyValue{}}
	for _, a := range sortedAttrs(res.Attributes(), raw) {
		if a.key != serviceNameAttr {
			p.Tags = append(p.Tags, attrKeyValue(a.key, a.value))
		}
	}
	key, err := json.Marshal(p)
	if err != nil { // cannot happen: tags hold only encodable values
		key = []byte(strconv.Quote(p.ServiceName))
	}
	return &procInfo{p: p, key: string(key)}
}

func convertSpan(si spanInfo, pid string, raw bool) span {
	s := si.span
	out := span{
		TraceID:       traceIDString(s.TraceID()),
		SpanID:        spanIDString(s.SpanID()),
		OperationName: s.Name(),
		StartTime:     uint64(s.StartTimestamp()) / 1000,
		ProcessID:     pid,
		Warnings:      spanWarnings(s),
	}
	if start, end := s.StartTimestamp(), s.EndTimestamp(); end > start {
		out.Duration = uint64(end-start) / 1000
	}
	if s.Flags()&sampledFlag != 0 {
		out.Flags = sampledFlag
	}
	var dropped int
	out.References, dropped = references(s, raw)
	for range dropped {
		out.Warnings = append(out.Warnings, invalidLinkWarning)
	}
	out.Tags = spanTags(s, si.scope, raw)
	out.Logs = spanLogs(s.Events(), raw)
	return out
}

// spanWarnings reads the warnings attribute as jptrace.GetWarnings does.
func spanWarnings(s ptrace.Span) []string {
	v, ok := s.Attributes().Get(warningsAttr)
	if !ok {
		return nil
	}
	if v.Type() != pcommon.ValueTypeSlice {
		return []string{v.AsString()}
	}
	ws := make([]string, 0, v.Slice().Len())
	for _, w := range v.Slice().All() {
		ws = append(ws, w.Str())
	}
	return ws
}

// references is the translator's makeJaegerProtoReferences: the parent as
// CHILD_OF first, then each link as FOLLOWS_FROM unless its
// opentracing.ref_type is child_of; a link to the parent only changes the
// parent reference's type. Unless raw, a link with an empty trace ID is
// dropped (spanlinks.go) and counted.
func references(s ptrace.Span, raw bool) (refs []reference, dropped int) {
	refs = []reference{}
	traceID := traceIDString(s.TraceID())
	parent := s.ParentSpanID()
	hasParent := !parent.IsEmpty()
	if hasParent {
		refs = append(refs, reference{RefType: refChildOf, TraceID: traceID, SpanID: spanIDString(parent)})
	}
	for _, link := range s.Links().All() {
		if !raw && link.TraceID().IsEmpty() {
			dropped++
			continue
		}
		refType := refFollowsFrom
		if v, ok := link.Attributes().Get(linkRefTypeAttr); ok && v.Str() == linkRefTypeChildOf {
			refType = refChildOf
		}
		if hasParent && link.TraceID() == s.TraceID() && link.SpanID() == parent {
			refs[0].RefType = refType
			continue
		}
		refs = append(refs, reference{
			RefType: refType,
			TraceID: traceIDString(link.TraceID()),
			SpanID:  spanIDString(link.SpanID()),
		})
	}
	return refs, dropped
}

// spanTags is the translator's getJaegerProtoSpanTags: the scope's name and
// version, the attributes (sorted by key unless raw, as SortCollections
// does before translating), span.kind, otel.status_code, error=true for an
// error status, otel.status_description and w3c.tracestate.
func spanTags(s ptrace.Span, scope pcommon.InstrumentationScope, raw bool) []keyValue {
	tags := make([]keyValue, 0, s.Attributes().Len()+7)
	str := func(k, v string) { tags = append(tags, keyValue{Key: k, Type: typeString, Value: v}) }
	if scope.Name() != "" {
		str(tagScopeName, scope.Name())
	}
	if scope.Version() != "" {
		str(tagScopeVersion, scope.Version())
	}
	for _, a := range sortedAttrs(s.Attributes(), raw) {
		if a.key != warningsAttr {
			tags = append(tags, attrKeyValue(a.key, a.value))
		}
	}
	if kind, ok := spanKindTags[s.Kind()]; ok {
		str(tagSpanKind, kind)
	}
	switch s.Status().Code() {
	case ptrace.StatusCodeError:
		str(tagStatusCode, "ERROR")
		tags = append(tags, keyValue{Key: tagError, Type: typeBool, Value: true})
	case ptrace.StatusCodeOk:
		str(tagStatusCode, "OK")
	}
	if msg := s.Status().Message(); msg != "" {
		str(tagStatusDescription, msg)
	}
	if ts := s.TraceState().AsRaw(); ts != "" {
		str(tagTraceState, ts)
	}
	return tags
}

// spanLogs is the translator's spanEventsToJaegerProtoLogs: one log per
// event, its name as the field "event" first (unless an attribute has that
// key), then its attributes. Unless raw, events are stably sorted by name
// and their attributes by key, as SortCollections does.
func spanLogs(events ptrace.SpanEventSlice, raw bool) []spanLog {
	order := make([]ptrace.SpanEvent, 0, events.Len())
	for _, e := range events.All() {
		order = append(order, e)
	}
	if !raw {
		slices.SortStableFunc(order, func(a, b ptrace.SpanEvent) int { return cmp.Compare(a.Name(), b.Name()) })
	}
	logs := make([]spanLog, len(order))
	for i, e := range order {
		fields := make([]keyValue, 0, e.Attributes().Len()+1)
		if _, has := e.Attributes().Get(logEventName); e.Name() != "" && !has {
			fields = append(fields, keyValue{Key: logEventName, Type: typeString, Value: e.Name()})
		}
		for _, a := range sortedAttrs(e.Attributes(), raw) {
			fields = append(fields, attrKeyValue(a.key, a.value))
		}
		logs[i] = spanLog{Timestamp: uint64(e.Timestamp()) / 1000, Fields: fields}
	}
	return logs
}

type attr struct {
	key   string
	value pcommon.Value
}

// sortedAttrs lists m, sorted by key (stably) unless raw.
func sortedAttrs(m pcommon.Map, raw bool) []attr {
	out := make([]attr, 0, m.Len())
	for k, v := range m.All() {
		out = append(out, attr{k, v})
	}
	if !raw {
		slices.SortStableFunc(out, func(a, b attr) int { return cmp.Compare(a.key, b.key) })
	}
	return out
}

// attrKeyValue is the translator's attributeToJaegerProtoTag followed by
// from_domain.go's convertKeyValues: strings, bools, int64s and float64s
// keep their type (an int64 beyond ±(2^53-1) is written as a decimal
// string), bytes are binary (base64 in JSON), maps and slices are strings
// holding their JSON, and an empty value is the empty string.
func attrKeyValue(key string, v pcommon.Value) keyValue {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return keyValue{Key: key, Type: typeString, Value: v.Str()}
	case pcommon.ValueTypeBool:
		return keyValue{Key: key, Type: typeBool, Value: v.Bool()}
	case pcommon.ValueTypeInt:
		n := v.Int()
		if n > jsMaxSafeInteger || n < -jsMaxSafeInteger {
			return keyValue{Key: key, Type: typeInt64, Value: strconv.FormatInt(n, 10)}
		}
		return keyValue{Key: key, Type: typeInt64, Value: n}
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return keyValue{Key: key, Type: typeFloat64, Value: v.AsString()}
		}
		return keyValue{Key: key, Type: typeFloat64, Value: f}
	case pcommon.ValueTypeBytes:
		b := v.Bytes().AsRaw()
		if b == nil {
			b = []byte{}
		}
		return keyValue{Key: key, Type: typeBinary, Value: b}
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		return keyValue{Key: key, Type: typeString, Value: v.AsString()}
	default:
		return keyValue{Key: key, Type: typeString, Value: ""}
	}
}
